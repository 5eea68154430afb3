package wire

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
)

// Deterministic test keys: never use these outside tests.
func testKey(b byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
}

// vectorImage is the image of the test vectors (docs/scanner-protocol.md,
// "Test vectors"): 500 x 200 pixels, pixel (x, y) = (x + y) mod 256.
func vectorImage() []byte {
	pix := make([]byte, 500*200)
	for y := 0; y < 200; y++ {
		for x := 0; x < 500; x++ {
			pix[y*500+x] = byte(x + y)
		}
	}
	return pix
}

func sampleAttestation() *Attestation {
	a := &Attestation{Serial: "VS1-000042", Counter: 7, TimestampMs: 1_790_000_000_123}
	for i := range a.Nonce {
		a.Nonce[i] = byte(i)
	}
	a.ImageSHA256 = sha256.Sum256(vectorImage())
	return a
}

func TestAttestationMessageLayout(t *testing.T) {
	a := sampleAttestation()
	m := a.Message()
	want := "29" + hex.EncodeToString([]byte(AttestationDomain)) +
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f" +
		"000a" + hex.EncodeToString([]byte("VS1-000042")) +
		"0000000000000007" + "000001a0c4506c7b" +
		hex.EncodeToString(a.ImageSHA256[:])
	if got := hex.EncodeToString(m); got != want {
		t.Fatalf("message\n got %s\nwant %s", got, want)
	}
}

func TestAttestationSignVerify(t *testing.T) {
	dev := testKey(1)
	a := sampleAttestation()
	if err := a.Sign(dev); err != nil {
		t.Fatal(err)
	}
	pub := dev.Public().(ed25519.PublicKey)
	if err := a.Verify(pub); err != nil {
		t.Fatalf("verify: %v", err)
	}
	if err := a.VerifyImage(vectorImage()); err != nil {
		t.Fatal(err)
	}
	other := vectorImage()
	other[12345] ^= 1
	if err := a.VerifyImage(other); !errors.Is(err, ErrImageDigest) {
		t.Fatalf("VerifyImage(other) = %v", err)
	}
	otherKey := testKey(2).Public().(ed25519.PublicKey)
	tamper := []struct {
		name string
		mut  func(a *Attestation)
		pub  ed25519.PublicKey
		want error
	}{
		{"other key", func(*Attestation) {}, otherKey, ErrBadSignature},
		{"nonce", func(a *Attestation) { a.Nonce[31] ^= 1 }, pub, ErrBadSignature},
		{"serial", func(a *Attestation) { a.Serial = "VS1-000043" }, pub, ErrBadSignature},
		{"counter", func(a *Attestation) { a.Counter-- }, pub, ErrBadSignature},
		{"time", func(a *Attestation) { a.TimestampMs++ }, pub, ErrBadSignature},
		{"digest", func(a *Attestation) { a.ImageSHA256[0] ^= 0x80 }, pub, ErrBadSignature},
		{"sig bit", func(a *Attestation) { a.Signature[5] ^= 1 }, pub, ErrBadSignature},
		{"short sig", func(a *Attestation) { a.Signature = a.Signature[:63] }, pub, ErrBadSignature},
		{"no sig", func(a *Attestation) { a.Signature = nil }, pub, ErrBadSignature},
		{"short key", func(*Attestation) {}, pub[:31], ErrBadPublicKey},
		{"empty serial", func(a *Attestation) { a.Serial = "" }, pub, ErrMalformed},
	}
	for _, tc := range tamper {
		t.Run(tc.name, func(t *testing.T) {
			b := *a
			b.Signature = bytes.Clone(a.Signature)
			tc.mut(&b)
			if err := b.Verify(tc.pub); !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestAttestationRoundTrip(t *testing.T) {
	a := sampleAttestation()
	if err := a.Sign(testKey(1)); err != nil {
		t.Fatal(err)
	}
	b, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "attestation.hex", b)
	var got Attestation
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Message(), a.Message()) || !bytes.Equal(got.Signature, a.Signature) {
		t.Fatalf("round trip: %+v != %+v", got, *a)
	}
	if err := got.Verify(testKey(1).Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(b); i++ {
		if err := new(Attestation).UnmarshalBinary(b[:i]); !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupportedVersion) {
			t.Fatalf("truncated at %d: %v", i, err)
		}
	}
	if err := new(Attestation).UnmarshalBinary(append(bytes.Clone(b), 0)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("trailing byte: %v", err)
	}
	bad := bytes.Clone(b)
	bad[0] = 9
	if err := new(Attestation).UnmarshalBinary(bad); !errors.Is(err, ErrUnsupportedVersion) {
		t.Fatalf("version 9: %v", err)
	}
}

func sampleCert(t *testing.T) (*DeviceCertificate, ed25519.PrivateKey) {
	t.Helper()
	dev := testKey(1)
	c := &DeviceCertificate{Serial: "VS1-000042", Model: "VS-1", PublicKey: dev.Public().(ed25519.PublicKey), MakerID: "pid.codes:1209:5ec1"}
	if err := c.Sign(testKey(9)); err != nil {
		t.Fatal(err)
	}
	return c, dev
}

func TestCertificate(t *testing.T) {
	c, dev := sampleCert(t)
	maker := testKey(9).Public().(ed25519.PublicKey)
	if err := c.Verify(maker); err != nil {
		t.Fatal(err)
	}
	b, err := c.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "certificate.hex", b)
	var got DeviceCertificate
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if err := got.Verify(maker); err != nil {
		t.Fatalf("decoded certificate: %v", err)
	}
	for i := 0; i < len(b); i++ {
		if err := new(DeviceCertificate).UnmarshalBinary(b[:i]); err == nil {
			t.Fatalf("truncated at %d decoded", i)
		}
	}
	if err := got.Verify(testKey(1).Public().(ed25519.PublicKey)); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("wrong maker: %v", err)
	}
	got.Model = "VS-2"
	if err := got.Verify(maker); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("changed model: %v", err)
	}

	a := sampleAttestation()
	if err := a.Sign(dev); err != nil {
		t.Fatal(err)
	}
	if err := VerifyChain(maker, c, a); err != nil {
		t.Fatal(err)
	}
	a2 := *a
	a2.Serial = "VS1-000099"
	if err := a2.Sign(dev); err != nil {
		t.Fatal(err)
	}
	if err := VerifyChain(maker, c, &a2); !errors.Is(err, ErrSerialMismatch) {
		t.Fatalf("serial mismatch: %v", err)
	}
	if err := a.Sign(testKey(3)); err != nil {
		t.Fatal(err)
	}
	if err := VerifyChain(maker, c, a); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("uncertified key: %v", err)
	}
}

func FuzzAttestationUnmarshal(f *testing.F) {
	a := sampleAttestation()
	_ = a.Sign(testKey(1))
	b, _ := a.MarshalBinary()
	f.Add(b)
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, data []byte) {
		var a Attestation
		if err := a.UnmarshalBinary(data); err != nil {
			return
		}
		out, err := a.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded attestation does not re-encode: %v", err)
		}
		if !bytes.Equal(out, data) {
			t.Fatalf("re-encoding differs:\n%x\n%x", out, data)
		}
	})
}

func FuzzCertificateUnmarshal(f *testing.F) {
	c := &DeviceCertificate{Serial: "S", Model: "M", PublicKey: make([]byte, 32), MakerID: "X", Signature: make([]byte, 64)}
	b, _ := c.MarshalBinary()
	f.Add(b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var c DeviceCertificate
		if err := c.UnmarshalBinary(data); err != nil {
			return
		}
		out, err := c.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded certificate does not re-encode: %v", err)
		}
		if !bytes.Equal(out, data) {
			t.Fatalf("re-encoding differs:\n%x\n%x", out, data)
		}
	})
}
