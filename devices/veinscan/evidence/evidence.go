// Package evidence writes and re-verifies a capture's evidence bundle
// (docs/scanner-protocol.md, "Evidence bundle"): beside the PNG of a
// capture, a JSON file with the device certificate, the attestation, the
// nonce the host sent and the verification result, so that anyone holding
// the maker's public key can check offline that the image is the one the
// certified device signed for that nonce.
//
// The bundle is canonical: Parse accepts only the exact bytes Marshal
// writes, and every field is either signed (certificate, attestation),
// derived from signed data or from the image, or the result of a check
// that Verify repeats. So changing any byte of the bundle or of the PNG
// makes Verify fail.
package evidence

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan/wire"
)

// Format names version 1 of the bundle.
const Format = "veinkiosk/scanner-evidence/v1"

// Errors of Parse and Verify; wrapped with %w.
var (
	ErrMalformed    = errors.New("evidence: malformed bundle")
	ErrNotCanonical = errors.New("evidence: bundle is not in canonical form (changed after it was written?)")
	ErrUntrusted    = errors.New("evidence: the certificate's maker key is not among the trusted keys")
	ErrMismatch     = errors.New("evidence: bundle does not verify")
)

// MaxSize is the largest bundle Parse reads.
const MaxSize = 16 << 10

// Result is what the checks found; Verify requires all of it.
type Result struct {
	CertificateTrusted bool `json:"certificate_trusted"` // the certificate verifies under the maker key
	SignatureValid     bool `json:"signature_valid"`     // the attestation verifies under the certified device key
	NonceMatches       bool `json:"nonce_matches"`       // the attestation carries the nonce the host sent
	ImageMatches       bool `json:"image_matches"`       // the image's SHA-256 is the attested digest
}

func (r Result) ok() bool {
	return r.CertificateTrusted && r.SignatureValid && r.NonceMatches && r.ImageMatches
}

// Bundle is the evidence of one capture. Binary fields are lower-case hex.
type Bundle struct {
	Format         string `json:"format"`
	Image          string `json:"image"` // the PNG's file name, in the bundle's directory
	Width          int    `json:"width"`
	Height         int    `json:"height"`
	ImageSHA256    string `json:"image_sha256"` // of the raw pixels, row-major, no padding
	Nonce          string `json:"nonce"`
	Certificate    string `json:"certificate"` // GET_CERTIFICATE payload
	Attestation    string `json:"attestation"` // the CAPTURE header's attestation
	Serial         string `json:"serial"`
	Model          string `json:"model"`
	Counter        uint64 `json:"counter"`
	TimestampMs    int64  `json:"timestamp_ms"`
	MakerID        string `json:"maker_id"`
	MakerPublicKey string `json:"maker_public_key"` // the key the certificate verified under
	Result         Result `json:"result"`
}

// New builds the bundle of a capture: the image (8-bit grey), the file
// name its PNG has (in the bundle's directory), the nonce sent, the
// device certificate, the attestation bytes, and the maker keys the host
// trusts. It fails unless the capture verifies completely: evidence is
// for captures that did.
func New(img *image.Gray, imageName string, nonce [32]byte, cert *wire.DeviceCertificate, attestation []byte, makerKeys []ed25519.PublicKey) (*Bundle, error) {
	if img == nil || cert == nil {
		return nil, fmt.Errorf("%w: no image or no certificate", ErrMismatch)
	}
	if imageName != filepath.Base(imageName) || imageName == "" || imageName == "." {
		return nil, fmt.Errorf("%w: image name %q must be a bare file name", ErrMalformed, imageName)
	}
	certBytes, err := cert.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("%w: certificate: %w", ErrMalformed, err)
	}
	var maker ed25519.PublicKey
	for _, k := range makerKeys {
		if cert.Verify(k) == nil {
			maker = k
			break
		}
	}
	if maker == nil {
		return nil, ErrUntrusted
	}
	var a wire.Attestation
	if err := a.UnmarshalBinary(attestation); err != nil {
		return nil, fmt.Errorf("%w: attestation: %w", ErrMalformed, err)
	}
	pix := pixels(img)
	sum := sha256.Sum256(pix)
	b := &Bundle{Format: Format, Image: imageName, Width: img.Rect.Dx(), Height: img.Rect.Dy(),
		ImageSHA256: hex.EncodeToString(sum[:]), Nonce: hex.EncodeToString(nonce[:]),
		Certificate: hex.EncodeToString(certBytes), Attestation: hex.EncodeToString(attestation),
		Serial: cert.Serial, Model: cert.Model, Counter: a.Counter, TimestampMs: a.TimestampMs,
		MakerID: cert.MakerID, MakerPublicKey: hex.EncodeToString(maker)}
	b.Result = Result{CertificateTrusted: true}
	b.Result.SignatureValid = wire.VerifyChain(maker, cert, &a) == nil
	b.Result.NonceMatches = a.Nonce == nonce
	b.Result.ImageMatches = a.VerifyImage(pix) == nil
	if !b.Result.ok() {
		return nil, fmt.Errorf("%w: %+v", ErrMismatch, b.Result)
	}
	return b, nil
}

// Marshal returns the canonical encoding: indented JSON and a newline.
func (b *Bundle) Marshal() ([]byte, error) {
	out, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// Parse decodes a bundle. Only the canonical encoding is accepted (a
// reformatted or edited bundle is ErrNotCanonical); the contents are not
// verified (see Verify).
func Parse(data []byte) (*Bundle, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(data))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var b Bundle
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if b.Format != Format {
		return nil, fmt.Errorf("%w: format %q, want %q", ErrMalformed, b.Format, Format)
	}
	again, err := b.Marshal()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if !bytes.Equal(again, data) {
		return nil, ErrNotCanonical
	}
	for _, h := range []string{b.ImageSHA256, b.Nonce, b.Certificate, b.Attestation, b.MakerPublicKey} {
		// lower-case hex only: "AB" would decode to the same bytes
		if v, err := hex.DecodeString(h); err != nil || hex.EncodeToString(v) != h {
			return nil, fmt.Errorf("%w: a binary field is not lower-case hex", ErrNotCanonical)
		}
	}
	return &b, nil
}

// Verify checks the bundle against the image's pixels (width x height,
// row-major) and the maker keys the verifier trusts: the certificate
// verifies under one of them, which is the key the bundle names; the
// attestation verifies under the certified device key and names the
// bundle's nonce, serial, counter and time; the pixels hash to the
// attested digest; and every recorded field and result is what these
// checks give. Any difference is an error wrapping ErrMismatch (or
// ErrUntrusted).
func (b *Bundle) Verify(pix []byte, width, height int, makerKeys []ed25519.PublicKey) error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	certBytes, err1 := hex.DecodeString(b.Certificate)
	attBytes, err2 := hex.DecodeString(b.Attestation)
	nonce, err3 := hex.DecodeString(b.Nonce)
	makerKey, err4 := hex.DecodeString(b.MakerPublicKey)
	if err := errors.Join(err1, err2, err3, err4); err != nil || len(nonce) != 32 || len(makerKey) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: bad hex field or length", ErrMalformed)
	}
	var cert wire.DeviceCertificate
	if err := cert.UnmarshalBinary(certBytes); err != nil {
		return fmt.Errorf("%w: certificate: %w", ErrMismatch, err)
	}
	var a wire.Attestation
	if err := a.UnmarshalBinary(attBytes); err != nil {
		return fmt.Errorf("%w: attestation: %w", ErrMismatch, err)
	}
	trusted := false
	for _, k := range makerKeys {
		trusted = trusted || bytes.Equal(k, makerKey)
	}
	if !trusted {
		return fmt.Errorf("%w: the bundle was checked under maker key %s", ErrUntrusted, b.MakerPublicKey)
	}
	var got Result
	got.CertificateTrusted = cert.Verify(makerKey) == nil
	got.SignatureValid = got.CertificateTrusted && wire.VerifyChain(makerKey, &cert, &a) == nil
	got.NonceMatches = bytes.Equal(a.Nonce[:], nonce)
	got.ImageMatches = width == b.Width && height == b.Height && len(pix) == width*height && a.VerifyImage(pix) == nil
	if !got.ok() {
		bad("checks give %+v", got)
	}
	if got != b.Result {
		bad("recorded result %+v, the checks give %+v", b.Result, got)
	}
	sum := sha256.Sum256(pix)
	switch {
	case b.ImageSHA256 != hex.EncodeToString(sum[:]) || b.ImageSHA256 != hex.EncodeToString(a.ImageSHA256[:]):
		bad("image_sha256 is not the image's and the attested digest")
	case b.Serial != cert.Serial || b.Serial != a.Serial:
		bad("serial %q: certificate %q, attestation %q", b.Serial, cert.Serial, a.Serial)
	case b.Model != cert.Model:
		bad("model %q, certificate %q", b.Model, cert.Model)
	case b.Counter != a.Counter || b.TimestampMs != a.TimestampMs:
		bad("counter or time differ from the attestation's")
	case b.MakerID != cert.MakerID:
		bad("maker id %q, certificate %q", b.MakerID, cert.MakerID)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrMismatch, errors.Join(errs...))
	}
	return nil
}

// Name returns the bundle's file name for an image file: "f.png" gives
// "f.evidence.json", beside it.
func Name(imagePath string) string {
	return strings.TrimSuffix(imagePath, filepath.Ext(imagePath)) + ".evidence.json"
}

// ReadPNG reads an 8-bit grey PNG and returns its pixels row-major.
func ReadPNG(path string) (pix []byte, width, height int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, 0, err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%w: %s: %w", ErrMismatch, path, err)
	}
	g, ok := img.(*image.Gray)
	if !ok {
		return nil, 0, 0, fmt.Errorf("%w: %s is not an 8-bit grey image", ErrMismatch, path)
	}
	return pixels(g), g.Rect.Dx(), g.Rect.Dy(), nil
}

// VerifyFile reads the bundle at path and the PNG it names beside it and
// verifies them (Verify).
func VerifyFile(path string, makerKeys []ed25519.PublicKey) (*Bundle, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b, err := Parse(data)
	if err != nil {
		return nil, err
	}
	if b.Image != filepath.Base(b.Image) {
		return b, fmt.Errorf("%w: image %q is not a bare file name", ErrMalformed, b.Image)
	}
	pix, w, h, err := ReadPNG(filepath.Join(filepath.Dir(path), b.Image))
	if err != nil {
		return b, err
	}
	return b, b.Verify(pix, w, h, makerKeys)
}

// pixels returns img's pixels row-major without padding.
func pixels(img *image.Gray) []byte {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	out := make([]byte, 0, w*h)
	for y := 0; y < h; y++ {
		off := y * img.Stride
		out = append(out, img.Pix[off:off+w]...)
	}
	return out
}
