package api

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// raw sends a request through the app and decodes the error code.
func (e *env) raw(req *http.Request) (int, string, []byte) {
	e.t.Helper()
	resp, err := e.srv.App().Test(req, -1)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var eb apiv1.ErrorBody
	_ = json.Unmarshal(body, &eb)
	return resp.StatusCode, eb.Error.Code, body
}

// signed builds a signed kiosk request.
func (k *kiosk) signed(method, uri string, body []byte, now time.Time) *http.Request {
	h, err := apiv1.SignRequest(k.KioskKey, k.KioskID, method, uri, body, now)
	if err != nil {
		k.e.t.Fatal(err)
	}
	req, _ := http.NewRequest(method, "http://centrald.test"+uri, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	h.Apply(req.Header)
	return req
}

func TestKioskAuthentication(t *testing.T) {
	e := newEnv(t)
	k := e.newKiosk("kiosk-01")
	now := e.clock.Now()
	body := []byte(`{}`)

	good := k.signed("POST", apiv1.PathKioskNonce, body, now)
	if st, code, _ := e.raw(good); st != 200 {
		t.Fatalf("good request: %d %s", st, code)
	}
	replay := k.signed("POST", apiv1.PathKioskNonce, body, now)
	replay.Header = good.Header.Clone()
	tampered := k.signed("POST", apiv1.PathKioskNonce, body, now)
	tampered.Body = io.NopCloser(strings.NewReader(`{ }`))
	tampered.ContentLength = 3
	otherPath := k.signed("POST", apiv1.PathKioskServices, nil, now)
	otherPath.Method = "GET"
	unsigned, _ := http.NewRequest("POST", "http://centrald.test"+apiv1.PathKioskNonce, bytes.NewReader(body))
	badSig := k.signed("POST", apiv1.PathKioskNonce, body, now)
	badSig.Header.Set(apiv1.HeaderSignature, strings.Repeat("A", 86)+"==")
	stranger := &kiosk{Client: &apiv1.Client{KioskID: "kiosk-99", KioskKey: k.KioskKey}, e: e}

	tests := []struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{
		{"unsigned", unsigned, 401, apiv1.CodeSignatureMissing},
		{"replayed", replay, 401, apiv1.CodeReplay},
		{"body changed", tampered, 401, apiv1.CodeSignatureInvalid},
		{"signed for another method", otherPath, 401, apiv1.CodeSignatureInvalid},
		{"garbage signature", badSig, 401, apiv1.CodeSignatureInvalid},
		{"clock 61 s behind", k.signed("POST", apiv1.PathKioskNonce, body, now.Add(-61*time.Second)), 401, apiv1.CodeClockSkew},
		{"clock 61 s ahead", k.signed("POST", apiv1.PathKioskNonce, body, now.Add(61*time.Second)), 401, apiv1.CodeClockSkew},
		{"unknown kiosk", stranger.signed("POST", apiv1.PathKioskNonce, body, now), 401, apiv1.CodeKioskUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, code, b := e.raw(tt.req)
			if st != tt.status || code != tt.code {
				t.Fatalf("got %d %s (%s), want %d %s", st, code, b, tt.status, tt.code)
			}
		})
	}

	// Revocation takes effect at once.
	if err := e.admin.Do(context.Background(), "POST", apiv1.PathAdminKiosks+"/kiosk-01/status", apiv1.StatusChange{Status: "revoked"}, nil); err != nil {
		t.Fatal(err)
	}
	_, err := k.Nonce(context.Background())
	wantCode(t, err, apiv1.CodeKioskRevoked)
}

func TestCaptureChecks(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.mustStaff("zhang", "station_staff", "", "QS-S01")
	k := e.newKiosk("kiosk-01")
	p := e.newPerson("李明", time.Date(1960, 1, 2, 0, 0, 0, 0, time.UTC))
	e.enrol(e.atKiosk(k, "zhang"), p)
	tmpl := e.template(p.fingers[apiv1.RightIndex], apiv1.RightIndex, 80)

	// A capture nonce is single use.
	n := must[*apiv1.NonceResponse](t)(k.Nonce(ctx))
	capt := k.scanner.sign(t, n.Nonce, apiv1.RightIndex, tmpl)
	must[*apiv1.VerifyResponse](t)(k.Verify(ctx, &apiv1.VerifyRequest{Card: p.card, Capture: capt}))
	_, err := k.Verify(ctx, &apiv1.VerifyRequest{Card: p.card, Capture: capt})
	wantCode(t, err, apiv1.CodeNonceUnknown)

	// A fresh nonce but a stale counter (a replayed capture re-signed? no:
	// the scanner's counter went backwards).
	n = must[*apiv1.NonceResponse](t)(k.Nonce(ctx))
	k.scanner.counter -= 2
	_, err = k.Verify(ctx, &apiv1.VerifyRequest{Card: p.card, Capture: k.scanner.sign(t, n.Nonce, apiv1.RightIndex, tmpl)})
	wantCode(t, err, apiv1.CodeCounterReplay)
	k.scanner.counter += 10

	// A nonce issued to another kiosk.
	k2 := e.newKiosk("kiosk-02")
	n2 := must[*apiv1.NonceResponse](t)(k2.Nonce(ctx))
	_, err = k.Verify(ctx, &apiv1.VerifyRequest{Card: p.card, Capture: k.scanner.sign(t, n2.Nonce, apiv1.RightIndex, tmpl)})
	wantCode(t, err, apiv1.CodeNonceUnknown)

	// An expired nonce.
	n = must[*apiv1.NonceResponse](t)(k.Nonce(ctx))
	e.clock.Add(3 * time.Minute)
	_, err = k.Verify(ctx, &apiv1.VerifyRequest{Card: p.card, Capture: k.scanner.sign(t, n.Nonce, apiv1.RightIndex, tmpl)})
	wantCode(t, err, apiv1.CodeNonceExpired)

	// A scanner from an untrusted maker.
	_, rogue, _ := ed25519.GenerateKey(nil)
	fake := e.newScanner("SN-ROGUE", rogue)
	_, err = k.Verify(ctx, &apiv1.VerifyRequest{Card: p.card, Capture: fake.sign(t, must[*apiv1.NonceResponse](t)(k.Nonce(ctx)).Nonce, apiv1.RightIndex, tmpl)})
	wantCode(t, err, apiv1.CodeDeviceCertInvalid)

	// A tampered attestation.
	c := k.capture(apiv1.RightIndex, tmpl)
	c.Attestation[len(c.Attestation)-1] ^= 1
	_, err = k.Verify(ctx, &apiv1.VerifyRequest{Card: p.card, Capture: c})
	wantCode(t, err, apiv1.CodeAttestationInvalid)

	// A corrupt template and a low-quality one.
	junk := tmpl
	junk.Tmpl = []byte("QSVT junk")
	_, err = k.Verify(ctx, &apiv1.VerifyRequest{Card: p.card, Capture: k.capture(apiv1.RightIndex, junk)})
	wantCode(t, err, apiv1.CodeTemplateInvalid)
	_, err = k.Verify(ctx, &apiv1.VerifyRequest{Card: p.card, Capture: k.capture(apiv1.RightIndex, e.template(p.fingers[apiv1.RightIndex], apiv1.RightIndex, 10))})
	wantCode(t, err, apiv1.CodeQualityTooLow)

	// A revoked scanner.
	if err := e.admin.Do(ctx, "POST", apiv1.PathAdminScanners+"/"+k.scanner.cert.Serial+"/status", apiv1.StatusChange{Status: "revoked"}, nil); err != nil {
		t.Fatal(err)
	}
	_, err = k.Verify(ctx, e.verifyRequest(k, p, p.fingers[apiv1.RightIndex]))
	wantCode(t, err, apiv1.CodeScannerRevoked)
}

func TestCardChecks(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	k := e.newKiosk("kiosk-01")
	p := e.newPerson("赵红", time.Date(1970, 5, 6, 0, 0, 0, 0, time.UTC))
	tmpl := e.template(p.fingers[apiv1.RightIndex], apiv1.RightIndex, 80)
	mod := func(f func(*apiv1.Card)) apiv1.Card { c := p.card; f(&c); return c }
	tests := []struct {
		name string
		card apiv1.Card
		code string
	}{
		{"expired", mod(func(c *apiv1.Card) { c.From, c.Until = 20060101, 20261126 }), apiv1.CodeCardExpired},
		{"not yet valid", mod(func(c *apiv1.Card) { c.From = 20261201 }), apiv1.CodeCardNotYetValid},
		{"bad check digit", mod(func(c *apiv1.Card) {
			b := []byte(c.IDNumber)
			b[17] = map[byte]byte{'X': '0'}[b[17]] | ('0' + (b[17]-'0'+1)%10)
			c.IDNumber = string(b)
		}), apiv1.CodeCardInvalid},
		{"birth date disagrees", mod(func(c *apiv1.Card) { c.Birth = 19710506 }), apiv1.CodeCardInvalid},
		{"sex disagrees", mod(func(c *apiv1.Card) { c.Gender = identity.GenderFemale }), apiv1.CodeCardInvalid},
		{"ends before it starts", mod(func(c *apiv1.Card) { c.From, c.Until = 20200101, 20191231 }), apiv1.CodeCardInvalid},
		{"no validity", mod(func(c *apiv1.Card) { c.Validity = identity.Validity{} }), apiv1.CodeCardInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := k.Verify(ctx, &apiv1.VerifyRequest{Card: tt.card, Capture: k.capture(apiv1.RightIndex, tmpl)})
			wantCode(t, err, tt.code)
		})
	}
	// 长期 (valid for life) is accepted; this resident is not enrolled.
	_, err := k.Verify(ctx, &apiv1.VerifyRequest{Card: mod(func(c *apiv1.Card) { c.Until = identity.LongTerm }), Capture: k.capture(apiv1.RightIndex, tmpl)})
	wantCode(t, err, apiv1.CodeNotEnrolled)
	// Fields that are not dates, sexes or nations on the wire are an
	// invalid card (422), not a malformed body.
	for _, field := range []string{`"valid_until":"soon"`, `"valid_from":"2020-02-30"`, `"birth_date":"19700506"`, `"sex":"M"`, `"nation":"火星"`} {
		body, err := json.Marshal(&apiv1.VerifyRequest{Card: p.card, Capture: k.capture(apiv1.RightIndex, tmpl)})
		if err != nil {
			t.Fatal(err)
		}
		name, _, _ := strings.Cut(field, ":")
		re := regexp.MustCompile(name + `:"[^"]*"`)
		if !re.Match(body) {
			body = bytes.Replace(body, []byte(`{"id_number"`), []byte(`{`+field+`,"id_number"`), 1)
		} else {
			body = re.ReplaceAll(body, []byte(field))
		}
		st, code, raw := e.raw(k.signed("POST", apiv1.PathKioskVerify, body, e.clock.Now()))
		if st != http.StatusUnprocessableEntity || code != apiv1.CodeCardInvalid {
			t.Errorf("%s: %d %s %s", field, st, code, raw)
		}
	}
}

func TestLockoutAndThrottle(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.KioskFailures = 100 })
	ctx := context.Background()
	e.mustStaff("zhang", "station_staff", "", "QS-S01")
	k := e.newKiosk("kiosk-01")
	p := e.newPerson("钱多", time.Date(1955, 7, 8, 0, 0, 0, 0, time.UTC))
	e.enrol(e.atKiosk(k, "zhang"), p)
	impostor := e.newPerson("孙少", time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC))

	for i := 1; i <= 4; i++ {
		_, err := k.Verify(ctx, e.verifyRequest(k, p, impostor.fingers[apiv1.RightIndex]))
		wantCode(t, err, apiv1.CodeNoMatch)
	}
	_, err := k.Verify(ctx, e.verifyRequest(k, p, impostor.fingers[apiv1.RightIndex]))
	wantCode(t, err, apiv1.CodeLocked)
	// Even the genuine finger is refused while locked.
	_, err = k.Verify(ctx, e.verifyRequest(k, p, p.fingers[apiv1.RightIndex]))
	wantCode(t, err, apiv1.CodeLocked)
	if ae := err.(*apiv1.Error); ae.RetryAfterSeconds < 200 || ae.Status != 423 {
		t.Fatalf("lock: %+v", ae)
	}
	// After the lock, the next lock doubles.
	e.clock.Add(6 * time.Minute)
	must[*apiv1.VerifyResponse](t)(k.Verify(ctx, e.verifyRequest(k, p, p.fingers[apiv1.RightIndex])))
	for i := 0; i < 5; i++ {
		_, err = k.Verify(ctx, e.verifyRequest(k, p, impostor.fingers[apiv1.RightIndex]))
	}
	wantCode(t, err, apiv1.CodeLocked)
	if ae := err.(*apiv1.Error); ae.RetryAfterSeconds < 500 {
		t.Fatalf("second lock should last 10 min, got %d s", ae.RetryAfterSeconds)
	}
	// A supervisor clears it.
	e.mustStaff("boss", "supervisor", "", "")
	if err := e.login("boss").Do(ctx, "POST", apiv1.PathLockoutUnlock, apiv1.LockoutUnlock{IDNumber: p.card.IDNumber, Reason: "card checked in person"}, nil); err != nil {
		t.Fatal(err)
	}
	must[*apiv1.VerifyResponse](t)(k.Verify(ctx, e.verifyRequest(k, p, p.fingers[apiv1.RightIndex])))
}

func TestKioskThrottle(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.KioskFailures = 2
		c.Lockout = store.LockoutPolicy{MaxFailures: 100, LockFor: time.Minute}
	})
	ctx := context.Background()
	e.mustStaff("zhang", "station_staff", "", "QS-S01")
	k := e.newKiosk("kiosk-01")
	p := e.newPerson("周一", time.Date(1955, 7, 8, 0, 0, 0, 0, time.UTC))
	e.enrol(e.atKiosk(k, "zhang"), p)
	other := e.newPerson("吴二", time.Date(1956, 7, 8, 0, 0, 0, 0, time.UTC))
	for i := 0; i < 2; i++ {
		_, err := k.Verify(ctx, e.verifyRequest(k, p, other.fingers[apiv1.RightIndex]))
		wantCode(t, err, apiv1.CodeNoMatch)
	}
	_, err := k.Verify(ctx, e.verifyRequest(k, p, p.fingers[apiv1.RightIndex]))
	wantCode(t, err, apiv1.CodeRateLimited)
	e.clock.Add(2 * time.Second)
	must[*apiv1.VerifyResponse](t)(k.Verify(ctx, e.verifyRequest(k, p, p.fingers[apiv1.RightIndex])))
}

func TestSuspendedAndUnknownResident(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.mustStaff("zhang", "station_staff", "", "QS-S01")
	k := e.newKiosk("kiosk-01")
	p := e.newPerson("郑三", time.Date(1955, 7, 8, 0, 0, 0, 0, time.UTC))
	e.enrol(e.atKiosk(k, "zhang"), p)
	if err := e.admin.Do(ctx, "POST", apiv1.PathAdminResidents+"/status", apiv1.ResidentStatusChange{IDNumber: p.card.IDNumber, Status: "suspended", Reason: "review"}, nil); err != nil {
		t.Fatal(err)
	}
	_, err := k.Verify(ctx, e.verifyRequest(k, p, p.fingers[apiv1.RightIndex]))
	wantCode(t, err, apiv1.CodeResidentSuspended)

	ghost := *p
	ghost.card.IDNumber = "11010519491231002X"
	ghost.card.Birth = 0
	ghost.card.Gender = identity.GenderFemale // sequence 002 is even
	_, err = k.Verify(ctx, e.verifyRequest(k, &ghost, p.fingers[apiv1.RightIndex]))
	wantCode(t, err, apiv1.CodeResidentUnknown)
}

func TestHostileBodies(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.BodyLimit = BodyLimits{Default: 1 << 10, Kiosk: 4 << 10, Bulk: 64 << 10} })
	k := e.newKiosk("kiosk-01")
	now := e.clock.Now()
	big := append([]byte(`{"card":{"name":"`), bytes.Repeat([]byte("x"), 8<<10)...)
	big = append(big, `"}}`...)
	huge := bytes.Repeat([]byte("x"), 100<<10)
	login := func(body string, ct string) *http.Request {
		r, _ := http.NewRequest("POST", "http://centrald.test"+apiv1.PathSessions, strings.NewReader(body))
		r.Header.Set("Content-Type", ct)
		return r
	}
	notJSON := k.signed("POST", apiv1.PathKioskVerify, []byte(`{"card":`), now)
	trailing := k.signed("POST", apiv1.PathKioskVerify, []byte(`{} {}`), now)
	unknownField := k.signed("POST", apiv1.PathKioskVerify, []byte(`{"card":{},"evil":1}`), now)
	wrongType := k.signed("POST", apiv1.PathKioskVerify, []byte(`{"card":"x"}`), now)
	badB64 := k.signed("POST", apiv1.PathKioskVerify, []byte(`{"capture":{"template":"%%%"}}`), now)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(bytes.Repeat([]byte(" "), 64<<20)) // 64 MiB of spaces in ~64 KiB
	zw.Close()
	bomb := k.signed("POST", apiv1.PathKioskVerify, gz.Bytes()[:min(gz.Len(), 3<<10)], now)
	bomb.Header.Set("Content-Encoding", "gzip")
	textBody := k.signed("POST", apiv1.PathKioskVerify, []byte(`{}`), now)
	textBody.Header.Set("Content-Type", "text/plain")
	tests := []struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{
		{"truncated JSON", notJSON, 400, apiv1.CodeBadRequest},
		{"trailing data", trailing, 400, apiv1.CodeBadRequest},
		{"unknown field", unknownField, 400, apiv1.CodeBadRequest},
		{"wrong type", wrongType, 400, apiv1.CodeBadRequest},
		{"bad base64", badB64, 400, apiv1.CodeBadRequest},
		{"not JSON content type", textBody, 415, apiv1.CodeUnsupportedMedia},
		{"compressed body (decompression bomb)", bomb, 415, apiv1.CodeUnsupportedMedia},
		{"login malformed", login(`{"username":`, "application/json"), 400, apiv1.CodeBadRequest},
		{"no such endpoint", login(`{}`, "application/json"), 0, ""},
	}
	tests[len(tests)-1].req.URL.Path = "/api/v1/nothing"
	tests[len(tests)-1].status, tests[len(tests)-1].code = 404, apiv1.CodeNotFound
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, code, b := e.raw(tt.req)
			if st != tt.status || code != tt.code {
				t.Fatalf("got %d %s (%.200s), want %d %s", st, code, b, tt.status, tt.code)
			}
		})
	}

	// A body over the server-wide limit is refused by fasthttp before any
	// handler runs; app.Test cannot show that, a real listener can.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go e.srv.App().Listener(ln)
	defer e.srv.App().Shutdown()
	// Send the header only: the server answers from Content-Length and
	// closes the connection, so a client still writing the body could see
	// a reset instead of the answer.
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", apiv1.PathSessions, len(huge))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var eb apiv1.ErrorBody
	if json.Unmarshal(b, &eb); resp.StatusCode != 413 || eb.Error.Code != apiv1.CodeBodyTooLarge {
		t.Fatalf("oversized body: %d %s", resp.StatusCode, b)
	}

	// A registered kiosk may send up to the kiosk limit, not more; an
	// unregistered one only the default limit.
	for _, tt := range []struct {
		name   string
		k      *kiosk
		body   []byte
		status int
		code   string
	}{
		{"kiosk body over the kiosk limit", k, big, 413, apiv1.CodeBodyTooLarge},
		{"kiosk body under the kiosk limit", k, big[:3<<10], 400, apiv1.CodeBadRequest},
		{"unknown kiosk over the default limit", &kiosk{Client: &apiv1.Client{KioskID: "kiosk-99", KioskKey: k.KioskKey}, e: e}, big[:3<<10], 413, apiv1.CodeBodyTooLarge},
	} {
		req := tt.k.signed("POST", apiv1.PathKioskVerify, tt.body, now)
		req.URL.Host = ln.Addr().String()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		eb = apiv1.ErrorBody{}
		if json.Unmarshal(b, &eb); resp.StatusCode != tt.status || eb.Error.Code != tt.code {
			t.Errorf("%s: got %d %s, want %d %s", tt.name, resp.StatusCode, b, tt.status, tt.code)
		}
	}
}

func TestNotReadyWhileLoading(t *testing.T) {
	e := newEnv(t)
	k := e.newKiosk("kiosk-01")
	e.srv.ready.Store(false)
	_, err := k.Nonce(context.Background())
	wantCode(t, err, apiv1.CodeUnavailable)
	if st, code, _ := e.raw(httptestGet("/readyz")); st != 503 || code != apiv1.CodeUnavailable {
		t.Fatalf("readyz: %d %s", st, code)
	}
	if st, _, _ := e.raw(httptestGet("/healthz")); st != 200 {
		t.Fatalf("healthz: %d", st)
	}
	if err := e.srv.LoadGallery(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Nonce(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The metrics page serves the server's metrics.
	_, _, body := e.raw(httptestGet("/metrics"))
	for _, m := range []string{"veinkiosk_http_request_duration_seconds", "veinkiosk_gallery_templates", "veinkiosk_lockouts_total"} {
		if !strings.Contains(string(body), m) {
			t.Errorf("metrics lack %s", m)
		}
	}
}

// TestIdleConnectionClosedSilently: a connection that sends no request
// within the read timeout is closed without an answer, as net/http does; an
// unsolicited "503 timeout" on an idle keep-alive connection made Go
// clients log "Unsolicited response received on idle HTTP channel". A
// request that arrives in time is answered as usual.
func TestIdleConnectionClosedSilently(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.ReadTimeout = 300 * time.Millisecond })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go e.srv.App().Listener(ln)
	defer e.srv.App().Shutdown()

	idle, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	idle.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(idle)
	if err != nil {
		t.Fatalf("idle connection: %v after %q", err, got)
	}
	if len(got) != 0 {
		t.Fatalf("idle connection got an unsolicited answer: %q", got)
	}

	// A header that never completes is dropped the same way.
	partial, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer partial.Close()
	fmt.Fprintf(partial, "GET /healthz HTTP/1.1\r\nHost: x\r\n")
	partial.SetReadDeadline(time.Now().Add(10 * time.Second))
	if got, err := io.ReadAll(partial); err != nil || len(got) != 0 {
		t.Fatalf("incomplete header: %q, %v", got, err)
	}

	busy, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	fmt.Fprintf(busy, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(busy), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz on a fresh connection: %d", resp.StatusCode)
	}
}
