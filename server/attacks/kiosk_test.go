package attacks

import (
	"context"
	"crypto/ed25519"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/api"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/store"
	"github.com/qingshan-gov/veinkiosk/server/store/postgres"
)

// Attacks on kiosk authentication: a network attacker or a hostile client
// without the kiosk's key, and a stolen kiosk that was revoked.

func TestAttackUnsignedKioskRequest(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		tg.newKiosk("kiosk-01")
		req := tg.request("POST", apiv1.PathKioskNonce, []byte(`{}`))
		req.Header.Set(apiv1.HeaderKioskID, "kiosk-01")
		tg.do(req).want(t, http.StatusUnauthorized, apiv1.CodeSignatureMissing)
	})
}

func TestAttackForgedKioskSignature(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		k := tg.newKiosk("kiosk-01")
		now := tg.clock.Now()
		t.Run("signed with another key", func(t *testing.T) {
			_, other, _ := ed25519.GenerateKey(nil)
			forger := &kiosk{Client: &apiv1.Client{KioskID: "kiosk-01", KioskKey: other}, tg: tg}
			tg.do(forger.signed("POST", apiv1.PathKioskNonce, []byte(`{}`), now)).want(t, http.StatusUnauthorized, apiv1.CodeSignatureInvalid)
		})
		t.Run("body changed after signing", func(t *testing.T) {
			req := k.signed("POST", apiv1.PathKioskVerify, []byte(`{"card":{}}`), now)
			req.Body, req.ContentLength = http.NoBody, 0
			req2 := tg.request("POST", apiv1.PathKioskVerify, []byte(`{"card":{"id_number":"x"}}`))
			req2.Header = req.Header.Clone()
			tg.do(req2).want(t, http.StatusUnauthorized, apiv1.CodeSignatureInvalid)
		})
		t.Run("signed for another path", func(t *testing.T) {
			req := k.signed("POST", apiv1.PathKioskNonce, []byte(`{}`), now)
			req2 := tg.request("POST", apiv1.PathKioskStatus, []byte(`{}`))
			req2.Header = req.Header.Clone()
			tg.do(req2).want(t, http.StatusUnauthorized, apiv1.CodeSignatureInvalid)
		})
		t.Run("garbage signature", func(t *testing.T) {
			req := k.signed("POST", apiv1.PathKioskNonce, []byte(`{}`), now)
			req.Header.Set(apiv1.HeaderSignature, strings.Repeat("A", 86)+"==")
			tg.do(req).want(t, http.StatusUnauthorized, apiv1.CodeSignatureInvalid)
		})
		t.Run("unknown kiosk", func(t *testing.T) {
			stranger := &kiosk{Client: &apiv1.Client{KioskID: "kiosk-99", KioskKey: k.KioskKey}, tg: tg}
			tg.do(stranger.signed("POST", apiv1.PathKioskNonce, []byte(`{}`), now)).want(t, http.StatusUnauthorized, apiv1.CodeKioskUnknown)
		})
	})
}

func TestAttackReplayedKioskRequest(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		k := tg.newKiosk("kiosk-01")
		req := k.signed("POST", apiv1.PathKioskNonce, []byte(`{}`), tg.clock.Now())
		tg.do(req.Clone(tg.ctx())).want(t, http.StatusOK, "")
		replay := tg.request("POST", apiv1.PathKioskNonce, []byte(`{}`))
		replay.Header = req.Header.Clone()
		tg.do(replay).want(t, http.StatusUnauthorized, apiv1.CodeReplay)
	})
}

func TestAttackStaleTimestamp(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		k := tg.newKiosk("kiosk-01")
		for _, d := range []time.Duration{-61 * time.Second, 61 * time.Second, -24 * time.Hour} {
			tg.do(k.signed("POST", apiv1.PathKioskNonce, []byte(`{}`), tg.clock.Now().Add(d))).want(t, http.StatusUnauthorized, apiv1.CodeClockSkew)
		}
		// A request captured on the wire and replayed two minutes later:
		// past the skew window the replay cache need not remember it.
		req := k.signed("POST", apiv1.PathKioskNonce, []byte(`{}`), tg.clock.Now())
		tg.do(req.Clone(tg.ctx())).want(t, http.StatusOK, "")
		tg.clock.Add(2 * time.Minute)
		replay := tg.request("POST", apiv1.PathKioskNonce, []byte(`{}`))
		replay.Header = req.Header.Clone()
		tg.do(replay).want(t, http.StatusUnauthorized, apiv1.CodeClockSkew)
	})
}

func TestAttackRevokedKiosk(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		s := tg.enrolledStation("kiosk-01")
		// The thief holds the kiosk and its key; the station reports it.
		must(t, tg.admin.Do(tg.ctx(), "POST", apiv1.PathAdminKiosks+"/kiosk-01/status", apiv1.StatusChange{Status: "revoked"}, nil))
		_, err := s.k.Nonce(tg.ctx())
		refused(t, err, http.StatusForbidden, apiv1.CodeKioskRevoked)
		_, err = s.k.Services(tg.ctx())
		refused(t, err, http.StatusForbidden, apiv1.CodeKioskRevoked)
	})
}

// ---- captures ----

func TestAttackForgedAttestation(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		s := tg.enrolledStation("kiosk-01")
		tmpl := tg.template(s.p.fingers[apiv1.RightIndex], apiv1.RightIndex)
		t.Run("tampered", func(t *testing.T) {
			c := s.k.capture(apiv1.RightIndex, tmpl)
			c.Attestation[len(c.Attestation)-1] ^= 1
			_, err := s.k.Verify(tg.ctx(), &apiv1.VerifyRequest{Card: s.p.card, Capture: c})
			refused(t, err, http.StatusUnauthorized, apiv1.CodeAttestationInvalid)
		})
		t.Run("signed by another device key under the registered certificate", func(t *testing.T) {
			n := mustV[*apiv1.NonceResponse](t)(s.k.Nonce(tg.ctx()))
			_, key, _ := ed25519.GenerateKey(nil)
			impostor := &scanner{cert: s.k.scanner.cert, key: key, counter: s.k.scanner.counter + 100}
			c := impostor.sign(t, n.Nonce, apiv1.RightIndex, tmpl)
			_, err := s.k.Verify(tg.ctx(), &apiv1.VerifyRequest{Card: s.p.card, Capture: c})
			refused(t, err, http.StatusUnauthorized, apiv1.CodeAttestationInvalid)
		})
		t.Run("garbage", func(t *testing.T) {
			c := s.k.capture(apiv1.RightIndex, tmpl)
			c.Attestation = []byte("not an attestation")
			_, err := s.k.Verify(tg.ctx(), &apiv1.VerifyRequest{Card: s.p.card, Capture: c})
			refused(t, err, http.StatusUnauthorized, apiv1.CodeAttestationInvalid)
		})
	})
}

func TestAttackUntrustedMaker(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		s := tg.enrolledStation("kiosk-01")
		tmpl := tg.template(s.p.fingers[apiv1.RightIndex], apiv1.RightIndex)
		_, rogue, _ := ed25519.GenerateKey(nil)
		t.Run("certificate under a key claiming the trusted maker", func(t *testing.T) {
			fake := tg.newScanner("SN-ROGUE", "test-maker", rogue)
			n := mustV[*apiv1.NonceResponse](t)(s.k.Nonce(tg.ctx()))
			_, err := s.k.Verify(tg.ctx(), &apiv1.VerifyRequest{Card: s.p.card, Capture: fake.sign(t, n.Nonce, apiv1.RightIndex, tmpl)})
			refused(t, err, http.StatusUnauthorized, apiv1.CodeDeviceCertInvalid)
		})
		t.Run("maker nobody configured", func(t *testing.T) {
			fake := tg.newScanner("SN-ROGUE2", "rogue-maker", rogue)
			n := mustV[*apiv1.NonceResponse](t)(s.k.Nonce(tg.ctx()))
			_, err := s.k.Verify(tg.ctx(), &apiv1.VerifyRequest{Card: s.p.card, Capture: fake.sign(t, n.Nonce, apiv1.RightIndex, tmpl)})
			refused(t, err, http.StatusUnauthorized, apiv1.CodeMakerUnknown)
		})
		t.Run("a registered serial with a new key", func(t *testing.T) {
			clone := tg.newScanner(s.k.scanner.cert.Serial, "test-maker", tg.maker) // same serial, different device key: a clone
			clone.counter = 1000
			n := mustV[*apiv1.NonceResponse](t)(s.k.Nonce(tg.ctx()))
			_, err := s.k.Verify(tg.ctx(), &apiv1.VerifyRequest{Card: s.p.card, Capture: clone.sign(t, n.Nonce, apiv1.RightIndex, tmpl)})
			refused(t, err, http.StatusUnauthorized, apiv1.CodeDeviceCertInvalid)
		})
	})
}

func TestAttackCounterRollback(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		s := tg.enrolledStation("kiosk-01")
		tmpl := tg.template(s.p.fingers[apiv1.RightIndex], apiv1.RightIndex)
		n := mustV[*apiv1.NonceResponse](t)(s.k.Nonce(tg.ctx()))
		s.k.scanner.counter -= 3 // a capture recorded earlier, re-signed? no: an old counter
		_, err := s.k.Verify(tg.ctx(), &apiv1.VerifyRequest{Card: s.p.card, Capture: s.k.scanner.sign(t, n.Nonce, apiv1.RightIndex, tmpl)})
		refused(t, err, http.StatusUnauthorized, apiv1.CodeCounterReplay)
	})
}

func TestAttackCaptureNonceReuse(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		s := tg.enrolledStation("kiosk-01")
		req := tg.verifyRequest(s.k, s.p, s.p.fingers[apiv1.RightIndex])
		mustV[*apiv1.VerifyResponse](t)(s.k.Verify(tg.ctx(), req))
		t.Run("the same capture again", func(t *testing.T) {
			_, err := s.k.Verify(tg.ctx(), req)
			refused(t, err, http.StatusUnauthorized, apiv1.CodeNonceUnknown)
		})
		t.Run("the nonce re-signed with a fresh counter", func(t *testing.T) {
			n := mustV[*apiv1.NonceResponse](t)(s.k.Nonce(tg.ctx()))
			c := s.k.scanner.sign(t, n.Nonce, apiv1.RightIndex, tg.template(s.p.fingers[apiv1.RightIndex], apiv1.RightIndex))
			mustV[*apiv1.VerifyResponse](t)(s.k.Verify(tg.ctx(), &apiv1.VerifyRequest{Card: s.p.card, Capture: c}))
			c = s.k.scanner.sign(t, n.Nonce, apiv1.RightIndex, tg.template(s.p.fingers[apiv1.RightIndex], apiv1.RightIndex))
			_, err := s.k.Verify(tg.ctx(), &apiv1.VerifyRequest{Card: s.p.card, Capture: c})
			refused(t, err, http.StatusUnauthorized, apiv1.CodeNonceUnknown)
		})
		t.Run("a nonce issued to another kiosk", func(t *testing.T) {
			k2 := tg.newKiosk("kiosk-02")
			n := mustV[*apiv1.NonceResponse](t)(k2.Nonce(tg.ctx()))
			c := s.k.scanner.sign(t, n.Nonce, apiv1.RightIndex, tg.template(s.p.fingers[apiv1.RightIndex], apiv1.RightIndex))
			_, err := s.k.Verify(tg.ctx(), &apiv1.VerifyRequest{Card: s.p.card, Capture: c})
			refused(t, err, http.StatusUnauthorized, apiv1.CodeNonceUnknown)
		})
		t.Run("an expired nonce", func(t *testing.T) {
			n := mustV[*apiv1.NonceResponse](t)(s.k.Nonce(tg.ctx()))
			tg.clock.Add(3 * time.Minute)
			c := s.k.scanner.sign(t, n.Nonce, apiv1.RightIndex, tg.template(s.p.fingers[apiv1.RightIndex], apiv1.RightIndex))
			_, err := s.k.Verify(tg.ctx(), &apiv1.VerifyRequest{Card: s.p.card, Capture: c})
			refused(t, err, http.StatusUnauthorized, apiv1.CodeNonceExpired)
		})
		t.Run("a nonce never issued", func(t *testing.T) {
			c := s.k.scanner.sign(t, make([]byte, 32), apiv1.RightIndex, tg.template(s.p.fingers[apiv1.RightIndex], apiv1.RightIndex))
			_, err := s.k.Verify(tg.ctx(), &apiv1.VerifyRequest{Card: s.p.card, Capture: c})
			refused(t, err, http.StatusUnauthorized, apiv1.CodeNonceUnknown)
		})
	})
}

func TestAttackScannerMovedToAnotherKiosk(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		s := tg.enrolledStation("kiosk-01")
		k2 := tg.newKiosk("kiosk-02")
		k2.scanner = s.k.scanner // unplugged from kiosk-01, plugged into kiosk-02
		_, err := k2.Verify(tg.ctx(), tg.verifyRequest(k2, s.p, s.p.fingers[apiv1.RightIndex]))
		refused(t, err, http.StatusForbidden, apiv1.CodeScannerElsewhere)
	})
}

func TestAttackRevokedScanner(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		s := tg.enrolledStation("kiosk-01")
		must(t, tg.admin.Do(tg.ctx(), "POST", apiv1.PathAdminScanners+"/"+s.k.scanner.cert.Serial+"/status", apiv1.StatusChange{Status: "revoked"}, nil))
		_, err := s.k.Verify(tg.ctx(), tg.verifyRequest(s.k, s.p, s.p.fingers[apiv1.RightIndex]))
		refused(t, err, http.StatusForbidden, apiv1.CodeScannerRevoked)
	})
}

// ---- filing tokens ----

func TestAttackTokenReuse(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		s := tg.enrolledStation("kiosk-01")
		other := tg.newPerson("王芳", false)
		tg.enrol(s.staff, other)
		vr := mustV[*apiv1.VerifyResponse](t)(s.k.Verify(tg.ctx(), tg.verifyRequest(s.k, s.p, s.p.fingers[apiv1.RightIndex])))
		values := map[string]string{"years": "5", "purpose": "子女入学", "copies": "1"}
		t.Run("at another kiosk", func(t *testing.T) {
			k2 := tg.newKiosk("kiosk-02")
			_, err := k2.Form(tg.ctx(), vr.Token, "residence_certificate")
			refused(t, err, http.StatusUnauthorized, apiv1.CodeTokenInvalid)
			_, err = k2.SubmitFiling(tg.ctx(), &apiv1.SubmitFilingRequest{Token: vr.Token, Service: "residence_certificate", IdempotencyKey: "attack-key-0000000001", Values: values})
			refused(t, err, http.StatusUnauthorized, apiv1.CodeTokenInvalid)
		})
		t.Run("for another resident", func(t *testing.T) {
			// The token names its resident: a form pre-filled with another
			// resident's name does not pass.
			v := map[string]string{"name": other.card.Name, "years": "5", "purpose": "子女入学", "copies": "1"}
			_, err := s.k.SubmitFiling(tg.ctx(), &apiv1.SubmitFilingRequest{Token: vr.Token, Service: "residence_certificate", IdempotencyKey: "attack-key-0000000002", Values: v})
			refused(t, err, http.StatusUnprocessableEntity, apiv1.CodeFormInvalid)
		})
		t.Run("after it was used", func(t *testing.T) {
			mustV[*apiv1.Filing](t)(s.k.SubmitFiling(tg.ctx(), &apiv1.SubmitFilingRequest{Token: vr.Token, Service: "residence_certificate", IdempotencyKey: "attack-key-0000000003", Values: values}))
			_, err := s.k.SubmitFiling(tg.ctx(), &apiv1.SubmitFilingRequest{Token: vr.Token, Service: "residence_certificate", IdempotencyKey: "attack-key-0000000004", Values: values})
			refused(t, err, http.StatusUnauthorized, apiv1.CodeTokenInvalid)
		})
		t.Run("after it expired", func(t *testing.T) {
			vr := mustV[*apiv1.VerifyResponse](t)(s.k.Verify(tg.ctx(), tg.verifyRequest(s.k, s.p, s.p.fingers[apiv1.RightIndex])))
			tg.clock.Add(11 * time.Minute)
			_, err := s.k.SubmitFiling(tg.ctx(), &apiv1.SubmitFilingRequest{Token: vr.Token, Service: "residence_certificate", IdempotencyKey: "attack-key-0000000005", Values: values})
			refused(t, err, http.StatusUnauthorized, apiv1.CodeTokenInvalid)
		})
		t.Run("a guessed token", func(t *testing.T) {
			_, err := s.k.Status(tg.ctx(), strings.Repeat("A", len(vr.Token)))
			refused(t, err, http.StatusUnauthorized, apiv1.CodeTokenInvalid)
		})
	})
}

// TestAttackConcurrentDoubleSubmit: one token, many concurrent submissions
// with different idempotency keys: one filing, the rest refused.
func TestAttackConcurrentDoubleSubmit(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		s := tg.enrolledStation("kiosk-01")
		vr := mustV[*apiv1.VerifyResponse](t)(s.k.Verify(tg.ctx(), tg.verifyRequest(s.k, s.p, s.p.fingers[apiv1.RightIndex])))
		const n = 12
		errs := make(chan error, n)
		for i := 0; i < n; i++ {
			go func() {
				_, err := s.k.SubmitFiling(tg.ctx(), &apiv1.SubmitFilingRequest{Token: vr.Token, Service: "residence_certificate",
					IdempotencyKey: "double-submit-" + strings.Repeat("0", 6) + string(rune('a'+i)), Values: map[string]string{"years": "5", "purpose": "入学", "copies": "1"}})
				errs <- err
			}()
		}
		ok := 0
		for i := 0; i < n; i++ {
			if err := <-errs; err == nil {
				ok++
			} else {
				refused(t, err, http.StatusUnauthorized, apiv1.CodeTokenInvalid)
			}
		}
		if ok != 1 {
			t.Fatalf("ATTACK SUCCEEDED: %d filings from one token", ok)
		}
		var fl apiv1.FilingList
		must(t, tg.admin.Do(tg.ctx(), "GET", apiv1.PathFilings, nil, &fl))
		if len(fl.Filings) != 1 {
			t.Fatalf("ATTACK SUCCEEDED: %d filings stored", len(fl.Filings))
		}
	})
}

// TestAttackRevokedKioskOtherReplica: the thief of a revoked kiosk turns to
// another replica of the service, one that had the kiosk's record cached
// (PostgreSQL only: the embedded store serves one process). The other
// replica must refuse it once the revocation reaches it through the change
// log, long before its cache would expire (the cache is set to an hour
// here, so only the change log can make the refusal happen within the
// test's 30 s).
func TestAttackRevokedKioskOtherReplica(t *testing.T) {
	t.Parallel()
	tg := start(t, "postgres")
	ctx, cancel := context.WithCancel(tg.ctx())
	defer cancel()
	st, err := postgres.Open(ctx, tg.dbURL, store.Options{Keyring: storeKeys(t), Now: tg.clock.Now, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	other, err := api.New(api.Config{Store: st, Logger: quiet(), Now: tg.clock.Now, KioskCacheTTL: time.Hour,
		VerifyThreshold: 0.2, DedupThreshold: 0.2, IdentifyThreshold: 0.25, KioskRate: 1000, KioskBurst: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.LoadGallery(ctx); err != nil {
		t.Fatal(err)
	}
	followed := make(chan error, 1)
	go func() { followed <- other.FollowChanges(ctx) }()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- other.Serve(ctx, ln, time.Second) }()
	defer func() {
		cancel()
		<-served
		<-followed
	}()

	s := tg.enrolledStation("kiosk-01")
	thief := *s.k.Client
	thief.BaseURL = "http://" + ln.Addr().String()
	if _, err := thief.Services(tg.ctx()); err != nil { // the other replica caches the kiosk
		t.Fatalf("the kiosk on the other replica before its revocation: %v", err)
	}
	must(t, tg.admin.Do(tg.ctx(), "POST", apiv1.PathAdminKiosks+"/kiosk-01/status", apiv1.StatusChange{Status: "revoked"}, nil))
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := thief.Services(tg.ctx())
		if apiv1.ErrorCode(err) == apiv1.CodeKioskRevoked {
			break
		}
		if err != nil && apiv1.ErrorCode(err) != "" {
			t.Fatalf("the revoked kiosk on the other replica: %v; want %s", err, apiv1.CodeKioskRevoked)
		}
		if time.Now().After(deadline) {
			t.Fatal("a kiosk revoked through one replica is still accepted by another 30 s later")
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, err = thief.Nonce(tg.ctx())
	refused(t, err, http.StatusForbidden, apiv1.CodeKioskRevoked)
}

// TestAttackNonceGatesNeedATrustedCertificate: the quality gates a nonce
// carries name a scanner model only for a certificate signed by a trusted
// maker key: a kiosk that forges one (the maker's id, another key) or
// sends junk learns no model's gates, and gets its nonce all the same
// (the capture step refuses such a scanner). The gates are advice: the
// capture step applies the gate of the capture's own certificate.
func TestAttackNonceGatesNeedATrustedCertificate(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		ctx := context.Background()
		k := tg.newKiosk("kiosk-01")
		raw := func(s *scanner) []byte {
			b, err := s.cert.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		r, err := k.NonceFor(ctx, raw(k.scanner))
		if err != nil {
			t.Fatal(err)
		}
		if g := r.QualityGates; g == nil || g.ScannerModel != "VS-1" || g.EnrolMinQuality != 40 || g.VerifyMinQuality != 40 {
			t.Errorf("the kiosk's own certified scanner: gates %+v", g)
		}
		_, forgerKey, _ := ed25519.GenerateKey(nil)
		for name, cert := range map[string][]byte{
			"forged certificate": raw(tg.newScanner("SN-FORGED", "test-maker", forgerKey)),
			"unknown maker":      raw(tg.newScanner("SN-OTHER", "other-maker", forgerKey)),
			"junk":               []byte(strings.Repeat("\xff", 300)),
		} {
			r, err := k.NonceFor(ctx, cert)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if len(r.Nonce) != 32 || r.QualityGates != nil {
				t.Errorf("%s: nonce of %d bytes, gates %+v; want a nonce and no gates", name, len(r.Nonce), r.QualityGates)
			}
		}
	})
}
