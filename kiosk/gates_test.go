package kiosk_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/kiosk"
	"github.com/qingshan-gov/veinkiosk/kiosk/kiosktest"
	"github.com/qingshan-gov/veinkiosk/kiosk/session"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
)

// nonceServer is a fake central server's nonce endpoint on the real API
// types: it decodes apiv1.NonceRequest strictly, records the certificates
// and answers apiv1.NonceResponse with gates.
type nonceServer struct {
	mu    sync.Mutex
	gates *apiv1.QualityGates
	certs [][]byte
}

func (n *nonceServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != apiv1.PathKioskNonce || r.Header.Get(apiv1.HeaderSignature) == "" {
		http.Error(w, "unexpected request", http.StatusBadRequest)
		return
	}
	var req apiv1.NonceRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	n.mu.Lock()
	n.certs = append(n.certs, req.ScannerCertificate)
	g := n.gates
	n.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(apiv1.NonceResponse{Nonce: bytes.Repeat([]byte{7}, 32), QualityGates: g})
}

// TestServerClientNonceGates: the client names the scanner by its
// certificate and takes the gates the server says; an older server's
// answer (no gates) and gates outside 0..100 give none.
func TestServerClientNonceGates(t *testing.T) {
	fake := &nonceServer{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	_, key, _ := ed25519.GenerateKey(nil)
	c := kiosk.NewServerClient(srv.URL, "kiosk-qs-01", key, srv.Client())
	for _, tc := range []struct {
		name  string
		cert  []byte
		gates *apiv1.QualityGates
		want  *session.Gates
	}{
		{"the model's gates", []byte("cert-1"), &apiv1.QualityGates{ScannerModel: "FV-USM", EnrolMinQuality: 40, VerifyMinQuality: 40, From: "calibration"}, &session.Gates{Enrol: 40, Verify: 40, From: "server"}},
		{"an older server", []byte("cert-1"), nil, nil},
		{"no certificate known yet", nil, nil, nil},
		{"gates out of range", []byte("cert-1"), &apiv1.QualityGates{ScannerModel: "X", EnrolMinQuality: 101, VerifyMinQuality: 40}, nil},
		{"negative gate", []byte("cert-1"), &apiv1.QualityGates{ScannerModel: "X", EnrolMinQuality: 40, VerifyMinQuality: -1}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake.mu.Lock()
			fake.gates, fake.certs = tc.gates, nil
			fake.mu.Unlock()
			n, err := c.Nonce(context.Background(), tc.cert)
			if err != nil {
				t.Fatal(err)
			}
			if n.Value != [32]byte(bytes.Repeat([]byte{7}, 32)) {
				t.Errorf("nonce %x", n.Value)
			}
			if (n.Gates == nil) != (tc.want == nil) || (tc.want != nil && *n.Gates != *tc.want) {
				t.Errorf("gates %+v, want %+v", n.Gates, tc.want)
			}
			fake.mu.Lock()
			defer fake.mu.Unlock()
			if len(fake.certs) != 1 || !bytes.Equal(fake.certs[0], tc.cert) {
				t.Errorf("the server saw certificates %q, want %q", fake.certs, tc.cert)
			}
		})
	}
}

// TestDaemonUsesServerGates: the daemon names its scanner in every nonce
// request (the certificate the scanner knows, else the last capture's) and
// judges captures by the gates the server says: a finger between the
// model's verification gate (30) and the configured one (40) is verified;
// one below both is retaken with the usual "not flat" prompt.
func TestDaemonUsesServerGates(t *testing.T) {
	logs := &syncBuffer{}
	r := newRigLog(t, logs)
	r.server.SetGates(&session.Gates{Enrol: 40, Verify: 30, From: "server"})
	waitPhase(t, r.url, "idle")
	r.reader.Insert(zhang)
	waitPhase(t, r.url, "place_finger")
	r.scanner.Place(kiosktest.Finger{Person: "zhang", Quality: 25})
	v := waitHint(t, r.url, session.HintNotFlat)
	if v.Tries != 1 {
		t.Errorf("tries %d after a capture below both gates, want 1", v.Tries)
	}
	r.scanner.Place(kiosktest.Finger{Person: "zhang", Quality: 35})
	waitPhase(t, r.url, "menu")
	certs := r.server.NonceCertsSeen()
	if len(certs) < 2 || certs[0] != nil || string(certs[1]) != "fake-cert" {
		t.Errorf("nonce certificates %q: want none first (the fake scanner does not know it before a capture), then the capture's", certs)
	}
	if n := strings.Count(logs.String(), "quality gates of the scanner's model from the server"); n != 1 {
		t.Errorf("the gates were logged %d times, want once (when they change)", n)
	}
	r.reader.Remove()
	waitPhase(t, r.url, "idle")
}

// TestDaemonFloorStricterThanServer: a configured floor above the server's
// gate makes the kiosk retake what the server would accept.
func TestDaemonFloorStricterThanServer(t *testing.T) {
	r := newRigWith(t, io.Discard, func(c *kiosk.Config) { c.VerifyQualityFloor = 50 })
	r.scanner.SetCert([]byte("cert-before-capture"))
	r.server.SetGates(&session.Gates{Enrol: 40, Verify: 30, From: "server"})
	waitPhase(t, r.url, "idle")
	r.reader.Insert(zhang)
	waitPhase(t, r.url, "place_finger")
	r.scanner.Place(kiosktest.Finger{Person: "zhang", Quality: 45})
	waitHint(t, r.url, session.HintNotFlat)
	r.scanner.Place(kiosktest.Finger{Person: "zhang", Quality: 55})
	waitPhase(t, r.url, "menu")
	if certs := r.server.NonceCertsSeen(); len(certs) == 0 || string(certs[0]) != "cert-before-capture" {
		t.Errorf("nonce certificates %q: want the scanner's from the first", certs)
	}
}

func waitHint(t *testing.T, base, hint string) kiosk.View {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v := getView(t, base)
		if v.Hint == hint {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("phase %s (problem %q hint %q), want hint %s", v.Phase, v.Problem, v.Hint, hint)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
