package apiv1

import (
	"crypto/ed25519"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

func testKey(t testing.TB, b byte) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = b
	}
	priv := ed25519.NewKeyFromSeed(seed)
	return priv.Public().(ed25519.PublicKey), priv
}

func TestSignVerifyRoundTrip(t *testing.T) {
	pub, priv := testKey(t, 1)
	now := time.UnixMilli(1_800_000_000_123)
	body := []byte(`{"card":{}}`)
	h, err := SignRequest(priv, "kiosk-01", "post", "/api/v1/kiosk/verify?x=1", body, now)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseHeaders(h)
	if err != nil {
		t.Fatal(err)
	}
	if p.KioskID != "kiosk-01" || !p.Timestamp.Equal(now) {
		t.Fatalf("parsed %+v", p)
	}
	if err := VerifySignature(pub, p, "POST", "/api/v1/kiosk/verify?x=1", body, now.Add(59*time.Second), MaxClockSkew); err != nil {
		t.Fatalf("verify: %v", err)
	}
	otherPub, _ := testKey(t, 2)
	tests := []struct {
		name   string
		pub    ed25519.PublicKey
		method string
		uri    string
		body   string
		now    time.Time
		want   error
	}{
		{"other key", otherPub, "POST", "/api/v1/kiosk/verify?x=1", string(body), now, ErrBadSignature},
		{"other method", pub, "PUT", "/api/v1/kiosk/verify?x=1", string(body), now, ErrBadSignature},
		{"other path", pub, "POST", "/api/v1/kiosk/nonce?x=1", string(body), now, ErrBadSignature},
		{"other query", pub, "POST", "/api/v1/kiosk/verify?x=2", string(body), now, ErrBadSignature},
		{"other body", pub, "POST", "/api/v1/kiosk/verify?x=1", `{"card":{} }`, now, ErrBadSignature},
		{"too late", pub, "POST", "/api/v1/kiosk/verify?x=1", string(body), now.Add(61 * time.Second), ErrClockSkew},
		{"too early", pub, "POST", "/api/v1/kiosk/verify?x=1", string(body), now.Add(-61 * time.Second), ErrClockSkew},
		{"short key", pub[:31], "POST", "/api/v1/kiosk/verify?x=1", string(body), now, ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifySignature(tt.pub, p, tt.method, tt.uri, []byte(tt.body), tt.now, MaxClockSkew)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	// Signing twice never reuses a nonce.
	h2, _ := SignRequest(priv, "kiosk-01", "POST", "/", nil, now)
	if h2.Nonce == h.Nonce {
		t.Fatal("nonce reused")
	}
}

func TestRequestMessageGolden(t *testing.T) {
	got := string(RequestMessage("get", "/api/v1/kiosk/services", "k1", "1700000000000", "AAAAAAAAAAAAAAAAAAAAAAAA", nil))
	want := "veinkiosk/api/request/v1\nGET\n/api/v1/kiosk/services\nk1\n1700000000000\nAAAAAAAAAAAAAAAAAAAAAAAA\n" +
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	if got != want {
		t.Fatalf("message\n%q\nwant\n%q", got, want)
	}
}

func TestParseHeaders(t *testing.T) {
	_, priv := testKey(t, 3)
	good, err := SignRequest(priv, "k1", "GET", "/", nil, time.UnixMilli(1_700_000_000_000))
	if err != nil {
		t.Fatal(err)
	}
	mod := func(f func(*SignedHeaders)) SignedHeaders { h := good; f(&h); return h }
	tests := []struct {
		name string
		h    SignedHeaders
		want error
	}{
		{"good", good, nil},
		{"no kiosk", mod(func(h *SignedHeaders) { h.KioskID = "" }), ErrMissingSignature},
		{"no signature", mod(func(h *SignedHeaders) { h.Signature = "" }), ErrMissingSignature},
		{"bad kiosk id", mod(func(h *SignedHeaders) { h.KioskID = "k 1" }), ErrMalformedHeader},
		{"long kiosk id", mod(func(h *SignedHeaders) { h.KioskID = strings.Repeat("k", 65) }), ErrMalformedHeader},
		{"timestamp seconds with plus", mod(func(h *SignedHeaders) { h.Timestamp = "+1700000000000" }), ErrMalformedHeader},
		{"timestamp leading zero", mod(func(h *SignedHeaders) { h.Timestamp = "01700000000000" }), ErrMalformedHeader},
		{"timestamp negative", mod(func(h *SignedHeaders) { h.Timestamp = "-5" }), ErrMalformedHeader},
		{"timestamp huge", mod(func(h *SignedHeaders) { h.Timestamp = strconv.Itoa(1) + strings.Repeat("0", 19) }), ErrMalformedHeader},
		{"short nonce", mod(func(h *SignedHeaders) { h.Nonce = "abc" }), ErrMalformedHeader},
		{"nonce not base64url", mod(func(h *SignedHeaders) { h.Nonce = "abcdefghijklmnop+" }), ErrMalformedHeader},
		{"signature not base64", mod(func(h *SignedHeaders) { h.Signature = "!!!!" }), ErrMalformedHeader},
		{"signature short", mod(func(h *SignedHeaders) { h.Signature = "AAAA" }), ErrMalformedHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseHeaders(tt.h)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func FuzzParseHeaders(f *testing.F) {
	_, priv := testKey(f, 4)
	h, _ := SignRequest(priv, "kiosk-7", "POST", "/api/v1/kiosk/verify", []byte("{}"), time.UnixMilli(1_700_000_000_000))
	f.Add(h.KioskID, h.Timestamp, h.Nonce, h.Signature)
	f.Add("", "", "", "")
	f.Add("k", "0", "AAAAAAAAAAAAAAAA", "AAAA")
	f.Fuzz(func(t *testing.T, id, ts, nonce, sig string) {
		p, err := ParseHeaders(SignedHeaders{KioskID: id, Timestamp: ts, Nonce: nonce, Signature: sig})
		if err != nil {
			return
		}
		if len(p.Signature) != ed25519.SignatureSize || !ValidKioskID(p.KioskID) {
			t.Fatalf("accepted bad headers: %+v", p)
		}
		if strconv.FormatInt(p.Timestamp.UnixMilli(), 10) != ts {
			t.Fatalf("timestamp does not round-trip: %q", ts)
		}
	})
}
