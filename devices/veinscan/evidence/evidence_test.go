package evidence

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan/wire"
)

func key(b byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
}

// capture makes a signed capture of a small image, as a device would.
func capture(t testing.TB) (*image.Gray, [32]byte, *wire.DeviceCertificate, []byte) {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 64, 48))
	for i := range img.Pix {
		img.Pix[i] = byte(i*7 + i/64)
	}
	var nonce [32]byte
	for i := range nonce {
		nonce[i] = byte(0xA0 + i)
	}
	dev := key(1)
	cert := &wire.DeviceCertificate{Serial: "VS1-000042", Model: "VS-1", PublicKey: dev.Public().(ed25519.PublicKey), MakerID: "pid.codes:1209:5ec1"}
	if err := cert.Sign(key(9)); err != nil {
		t.Fatal(err)
	}
	a := wire.Attestation{Nonce: nonce, Serial: cert.Serial, Counter: 7, TimestampMs: 1_790_000_000_123, ImageSHA256: sha256.Sum256(img.Pix)}
	if err := a.Sign(dev); err != nil {
		t.Fatal(err)
	}
	ab, _ := a.MarshalBinary()
	return img, nonce, cert, ab
}

func maker() []ed25519.PublicKey { return []ed25519.PublicKey{key(9).Public().(ed25519.PublicKey)} }

// write stores the capture's PNG and bundle in dir and returns the
// bundle's path.
func write(t testing.TB, dir string) string {
	t.Helper()
	img, nonce, cert, att := capture(t)
	b, err := New(img, "f.png", nonce, cert, att, append([]ed25519.PublicKey{key(3).Public().(ed25519.PublicKey)}, maker()...))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "f.png"), buf.Bytes(), 0o600)
	data, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, Name("f.png"))
	os.WriteFile(p, data, 0o600)
	return p
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir)
	if filepath.Base(p) != "f.evidence.json" {
		t.Fatal(p)
	}
	b, err := VerifyFile(p, maker())
	if err != nil {
		t.Fatal(err)
	}
	if b.Counter != 7 || b.Serial != "VS1-000042" || !b.Result.ok() {
		t.Fatalf("%+v", b)
	}
	if _, err := VerifyFile(p, []ed25519.PublicKey{key(3).Public().(ed25519.PublicKey)}); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("under another maker key: %v", err)
	}
	if _, err := VerifyFile(p, nil); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("without maker keys: %v", err)
	}
}

func TestNewRefuses(t *testing.T) {
	img, nonce, cert, att := capture(t)
	if _, err := New(img, "f.png", nonce, cert, att, []ed25519.PublicKey{key(3).Public().(ed25519.PublicKey)}); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("untrusted maker: %v", err)
	}
	other := nonce
	other[0] ^= 1
	if _, err := New(img, "f.png", other, cert, att, maker()); !errors.Is(err, ErrMismatch) {
		t.Fatalf("other nonce: %v", err)
	}
	changed := image.NewGray(img.Rect)
	copy(changed.Pix, img.Pix)
	changed.Pix[100] ^= 1
	if _, err := New(changed, "f.png", nonce, cert, att, maker()); !errors.Is(err, ErrMismatch) {
		t.Fatalf("other image: %v", err)
	}
	if _, err := New(img, "../f.png", nonce, cert, att, maker()); !errors.Is(err, ErrMalformed) {
		t.Fatalf("path as image name: %v", err)
	}
}

// TestEveryByteMatters flips every byte of the bundle, and every byte of
// the PNG, in turn: verification must fail each time.
func TestEveryByteMatters(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir)
	orig, _ := os.ReadFile(p)
	for i := range orig {
		for _, mask := range []byte{0x01, 0x20} {
			b := bytes.Clone(orig)
			b[i] ^= mask
			os.WriteFile(p, b, 0o600)
			if _, err := VerifyFile(p, maker()); err == nil {
				t.Fatalf("bundle byte %d (%q) ^ %#x: verifies", i, orig[i], mask)
			}
		}
	}
	os.WriteFile(p, orig, 0o600)
	pngPath := filepath.Join(dir, "f.png")
	pngOrig, _ := os.ReadFile(pngPath)
	for i := range pngOrig {
		b := bytes.Clone(pngOrig)
		b[i] ^= 0x01
		os.WriteFile(pngPath, b, 0o600)
		if _, err := VerifyFile(p, maker()); err == nil {
			t.Fatalf("PNG byte %d flipped: verifies", i)
		}
	}
	os.WriteFile(pngPath, pngOrig, 0o600)
	if _, err := VerifyFile(p, maker()); err != nil {
		t.Fatalf("restored: %v", err)
	}
}

func TestParseRejects(t *testing.T) {
	dir := t.TempDir()
	orig, _ := os.ReadFile(write(t, dir))
	for name, data := range map[string][]byte{
		"empty":          nil,
		"reindented":     bytes.ReplaceAll(orig, []byte("\n  "), []byte("\n    ")),
		"no newline":     bytes.TrimSuffix(orig, []byte("\n")),
		"upper-case key": bytes.Replace(orig, []byte(`"nonce"`), []byte(`"Nonce"`), 1),
		"unknown field":  bytes.Replace(orig, []byte(`{`), []byte(`{"x":1,`), 1),
		"other format":   bytes.Replace(orig, []byte("/v1"), []byte("/v2"), 1),
		"trailing":       append(bytes.Clone(orig), '{', '}'),
		"huge":           bytes.Repeat([]byte(" "), MaxSize+1),
	} {
		if _, err := Parse(data); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func FuzzParse(f *testing.F) {
	dir := f.TempDir()
	data, _ := os.ReadFile(write(f, dir))
	f.Add(data)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"format":"veinkiosk/scanner-evidence/v1"}`))
	pix := make([]byte, 64*48)
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Parse(data)
		if err != nil {
			return
		}
		out, err := b.Marshal()
		if err != nil || !bytes.Equal(out, data) {
			t.Fatalf("parsed bundle does not re-encode to its bytes: %v", err)
		}
		_ = b.Verify(pix, 64, 48, maker()) // must not panic
	})
}
