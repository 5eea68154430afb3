package wire

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// The test vectors of docs/scanner-protocol.md ("Test vectors"): the
// signed messages, the certificate, the attestation and the capture
// response, with the results a verifier must reach.

func TestVectorMessages(t *testing.T) {
	c, _ := sampleCert(t)
	golden(t, "certificate_message.hex", c.Message())
	golden(t, "attestation_message.hex", sampleAttestation().Message())
}

// TestVectorResults checks the expected verification results the document
// states for the vectors, reading them from the golden files as a host
// written from the document would.
func TestVectorResults(t *testing.T) {
	maker := testKey(9).Public().(ed25519.PublicKey)
	device := testKey(1).Public().(ed25519.PublicKey)
	var cert DeviceCertificate
	if err := cert.UnmarshalBinary(readGolden(t, "certificate.hex")); err != nil {
		t.Fatal(err)
	}
	if err := cert.Verify(maker); err != nil {
		t.Fatalf("certificate under the maker key: %v", err)
	}
	if !cert.PublicKey.Equal(device) || cert.Model != sampleInfo().Model || cert.Serial != sampleInfo().Serial {
		t.Fatalf("certificate %+v does not name the vector device", cert)
	}
	if !bytes.Equal(cert.Message(), readGolden(t, "certificate_message.hex")) {
		t.Fatal("certificate message differs from certificate_message.hex")
	}
	if err := cert.Verify(device); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("certificate under the device key: %v", err)
	}
	var att Attestation
	if err := att.UnmarshalBinary(readGolden(t, "attestation.hex")); err != nil {
		t.Fatal(err)
	}
	if err := VerifyChain(maker, &cert, &att); err != nil {
		t.Fatalf("attestation chain: %v", err)
	}
	if !bytes.Equal(att.Message(), readGolden(t, "attestation_message.hex")) {
		t.Fatal("attestation message differs from attestation_message.hex")
	}
	if err := att.VerifyImage(vectorImage()); err != nil {
		t.Fatal(err)
	}

	f, err := DecodeFrame(readGolden(t, "frames/capture_resp.hex"))
	if err != nil {
		t.Fatal(err)
	}
	var h CaptureHeader
	if err := h.UnmarshalBinary(f.Payload); err != nil {
		t.Fatal(err)
	}
	var ca Attestation
	if err := ca.UnmarshalBinary(h.Attestation); err != nil {
		t.Fatal(err)
	}
	var nonce [32]byte
	copy(nonce[:], readGolden(t, "frames/capture_req.hex")[HeaderSize:])
	switch {
	case ca.Nonce != nonce || ca.Counter != h.Counter || ca.Serial != cert.Serial:
		t.Fatalf("capture attestation %+v does not bind the request", ca)
	case VerifyChain(maker, &cert, &ca) != nil:
		t.Fatalf("capture attestation: %v", VerifyChain(maker, &cert, &ca))
	case ca.VerifyImage(vectorImage()) != nil:
		t.Fatal("capture attestation does not cover the vector image")
	}

	// every byte matters: flip each one of the certificate and the
	// attestation and the chain no longer verifies
	cb, ab := readGolden(t, "certificate.hex"), readGolden(t, "attestation.hex")
	for i := range cb {
		b := bytes.Clone(cb)
		b[i] ^= 0x01
		var c DeviceCertificate
		if c.UnmarshalBinary(b) == nil && VerifyChain(maker, &c, &att) == nil {
			t.Fatalf("certificate with byte %d flipped verifies", i)
		}
	}
	for i := range ab {
		b := bytes.Clone(ab)
		b[i] ^= 0x01
		var a Attestation
		if a.UnmarshalBinary(b) == nil && VerifyChain(maker, &cert, &a) == nil && a.VerifyImage(vectorImage()) == nil {
			t.Fatalf("attestation with byte %d flipped verifies", i)
		}
	}
}

var vectorMarker = regexp.MustCompile("<!-- vector: ([a-z_/]+\\.hex) -->\n```text\n((?s:.*?))```")

// TestDocVectors: every hex block of docs/scanner-protocol.md marked as a
// vector has exactly the bytes of its golden file (which the tests above
// tie to the codec), every golden file is in the document, and the
// document states the keys and digest the vectors are checked with.
func TestDocVectors(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "scanner-protocol.md"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, m := range vectorMarker.FindAllSubmatch(doc, -1) {
		name := string(m[1])
		seen[name] = true
		var sb strings.Builder
		for _, line := range strings.Split(string(m[2]), "\n") {
			if i := strings.IndexByte(line, '#'); i >= 0 {
				line = line[:i]
			}
			sb.WriteString(strings.Join(strings.Fields(line), ""))
		}
		got, err := hex.DecodeString(sb.String())
		if err != nil {
			t.Errorf("%s in the document: %v", name, err)
			continue
		}
		if want := readGolden(t, name); !bytes.Equal(got, want) {
			t.Errorf("%s in the document:\n%x\nthe golden file:\n%x", name, got, want)
		}
	}
	var files []string
	for _, pat := range []string{"testdata/*.hex", "testdata/frames/*.hex"} {
		m, _ := filepath.Glob(pat)
		files = append(files, m...)
	}
	sort.Strings(files)
	for _, f := range files {
		if name := strings.TrimPrefix(filepath.ToSlash(f), "testdata/"); !seen[name] {
			t.Errorf("%s is not in the document", name)
		}
	}
	img := sha256.Sum256(vectorImage())
	for what, v := range map[string][]byte{
		"maker public key":  testKey(9).Public().(ed25519.PublicKey),
		"device public key": testKey(1).Public().(ed25519.PublicKey),
		"image SHA-256":     img[:],
	} {
		if !bytes.Contains(doc, []byte(hex.EncodeToString(v))) {
			t.Errorf("the document does not state the vectors' %s %x", what, v)
		}
	}
}
