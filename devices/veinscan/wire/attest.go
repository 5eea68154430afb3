package wire

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Attestation and certificate errors. Decoders and verifiers wrap them with
// %w, so callers test with errors.Is.
var (
	// ErrBadSignature: the signature does not verify under the given key
	// (or has the wrong length).
	ErrBadSignature = errors.New("veinscan: bad signature")
	// ErrBadPublicKey: a public key is not 32 bytes.
	ErrBadPublicKey = errors.New("veinscan: bad Ed25519 public key")
	// ErrMalformed: a binary encoding is truncated, too long, has bad
	// lengths, bad UTF-8 or trailing bytes.
	ErrMalformed = errors.New("veinscan: malformed encoding")
	// ErrUnsupportedVersion: an encoding's version byte is unknown.
	ErrUnsupportedVersion = errors.New("veinscan: unsupported encoding version")
	// ErrSerialMismatch: the attestation's serial is not the certificate's.
	ErrSerialMismatch = errors.New("veinscan: attestation serial does not match the device certificate")
)

// Domain-separation tags: the first bytes of every signed message, so that a
// signature made for one purpose can never be replayed as another.
const (
	AttestationDomain = "veinkiosk/veinscan/capture-attestation/v1"
	CertificateDomain = "veinkiosk/veinscan/device-certificate/v1"
)

// Encoding versions (first byte of MarshalBinary output).
const (
	AttestationEncodingV1 = 1
	CertificateEncodingV1 = 1
)

// Field limits, enforced by encoders and decoders.
const (
	MaxSerialLen  = 64  // bytes of UTF-8
	MaxModelLen   = 64  // bytes of UTF-8
	MaxMakerIDLen = 64  // bytes of UTF-8
	MaxSigLen     = 255 // bytes; an Ed25519 signature is 64
)

// Attestation is the device's signed statement about one capture: it binds
// the host's fresh nonce, the device serial, the device's capture counter
// (strictly increasing over the device's life), the device clock and the
// SHA-256 of the exact image bytes sent (width*height bytes, row-major).
//
// The signed message is Message(); docs/scanner-protocol.md ("Attestation")
// gives the byte layout.
type Attestation struct {
	Nonce       [32]byte
	Serial      string
	Counter     uint64
	TimestampMs int64 // device clock, milliseconds since the Unix epoch (UTC)
	ImageSHA256 [32]byte
	Signature   []byte // Ed25519, 64 bytes
}

// Message returns the exact bytes the device signs:
//
//	u8   len(AttestationDomain) = 41
//	     AttestationDomain (ASCII)
//	[32] Nonce
//	u16  len(Serial) big-endian, then Serial (UTF-8)
//	u64  Counter, big-endian
//	i64  TimestampMs, big-endian two's complement
//	[32] ImageSHA256
func (a *Attestation) Message() []byte {
	m := make([]byte, 0, 1+len(AttestationDomain)+32+2+len(a.Serial)+8+8+32)
	m = append(m, byte(len(AttestationDomain)))
	m = append(m, AttestationDomain...)
	m = append(m, a.Nonce[:]...)
	m = binary.BigEndian.AppendUint16(m, uint16(len(a.Serial)))
	m = append(m, a.Serial...)
	m = binary.BigEndian.AppendUint64(m, a.Counter)
	m = binary.BigEndian.AppendUint64(m, uint64(a.TimestampMs))
	m = append(m, a.ImageSHA256[:]...)
	return m
}

// Sign sets a.Signature with the device's private key.
func (a *Attestation) Sign(priv ed25519.PrivateKey) error {
	if err := a.check(); err != nil {
		return err
	}
	if len(priv) != ed25519.PrivateKeySize {
		return fmt.Errorf("%w: private key of %d bytes", ErrBadPublicKey, len(priv))
	}
	a.Signature = ed25519.Sign(priv, a.Message())
	return nil
}

// Verify checks the signature under the device public key pub. It does not
// check the nonce, the counter's monotonicity or the image digest against an
// image: those need state the caller holds (see VerifyImage).
func (a *Attestation) Verify(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: %d bytes", ErrBadPublicKey, len(pub))
	}
	if err := a.check(); err != nil {
		return err
	}
	if len(a.Signature) != ed25519.SignatureSize {
		return fmt.Errorf("%w: signature of %d bytes", ErrBadSignature, len(a.Signature))
	}
	if !ed25519.Verify(pub, a.Message(), a.Signature) {
		return ErrBadSignature
	}
	return nil
}

// ErrImageDigest: the image does not hash to the attested digest.
var ErrImageDigest = errors.New("veinscan: image does not match the attested SHA-256")

// VerifyImage checks that pix (the raw 8-bit pixels, row-major, no padding)
// is the image the attestation covers.
func (a *Attestation) VerifyImage(pix []byte) error {
	if sha256.Sum256(pix) != a.ImageSHA256 {
		return ErrImageDigest
	}
	return nil
}

func (a *Attestation) check() error {
	if len(a.Serial) == 0 || len(a.Serial) > MaxSerialLen || !utf8.ValidString(a.Serial) {
		return fmt.Errorf("%w: serial must be 1..%d bytes of UTF-8", ErrMalformed, MaxSerialLen)
	}
	return nil
}

// MarshalBinary encodes the attestation (used inside the CAPTURE_END
// response and by the server's API):
//
//	u8   version = 1
//	[32] Nonce
//	u8   len(Serial), Serial
//	u64  Counter (BE)
//	i64  TimestampMs (BE)
//	[32] ImageSHA256
//	u8   len(Signature), Signature
func (a *Attestation) MarshalBinary() ([]byte, error) {
	if err := a.check(); err != nil {
		return nil, err
	}
	if len(a.Signature) > MaxSigLen {
		return nil, fmt.Errorf("%w: signature of %d bytes", ErrMalformed, len(a.Signature))
	}
	b := make([]byte, 0, 1+32+1+len(a.Serial)+16+32+1+len(a.Signature))
	b = append(b, AttestationEncodingV1)
	b = append(b, a.Nonce[:]...)
	b = appendStr8(b, a.Serial)
	b = binary.BigEndian.AppendUint64(b, a.Counter)
	b = binary.BigEndian.AppendUint64(b, uint64(a.TimestampMs))
	b = append(b, a.ImageSHA256[:]...)
	b = appendStr8(b, string(a.Signature))
	return b, nil
}

// UnmarshalBinary decodes MarshalBinary's output. It rejects trailing bytes.
func (a *Attestation) UnmarshalBinary(data []byte) error {
	r := reader{b: data}
	v := r.u8()
	if r.err == nil && v != AttestationEncodingV1 {
		return fmt.Errorf("%w: attestation encoding %d", ErrUnsupportedVersion, v)
	}
	var out Attestation
	copy(out.Nonce[:], r.n(32))
	out.Serial = r.str8()
	out.Counter = r.u64()
	out.TimestampMs = int64(r.u64())
	copy(out.ImageSHA256[:], r.n(32))
	if sig := r.bytes8(); sig != nil {
		out.Signature = sig
	}
	if err := r.done("attestation"); err != nil {
		return err
	}
	if err := out.check(); err != nil {
		return err
	}
	*a = out
	return nil
}

// DeviceCertificate is the maker's statement that PublicKey belongs to the
// device with this Serial and Model, signed by the maker key identified by
// MakerID. The host (and the server) trust a set of maker public keys.
type DeviceCertificate struct {
	Serial    string
	Model     string
	PublicKey ed25519.PublicKey // the device key, 32 bytes
	MakerID   string            // e.g. "pid.codes:1209:5ec1" or a maker's registered name
	Signature []byte            // Ed25519 by the maker key, 64 bytes
}

// Message returns the exact bytes the maker signs:
//
//	u8   len(CertificateDomain) = 40
//	     CertificateDomain (ASCII)
//	u16  len(Serial) BE, Serial
//	u16  len(Model) BE, Model
//	[32] PublicKey
//	u16  len(MakerID) BE, MakerID
func (c *DeviceCertificate) Message() []byte {
	m := make([]byte, 0, 1+len(CertificateDomain)+2+len(c.Serial)+2+len(c.Model)+32+2+len(c.MakerID))
	m = append(m, byte(len(CertificateDomain)))
	m = append(m, CertificateDomain...)
	m = binary.BigEndian.AppendUint16(m, uint16(len(c.Serial)))
	m = append(m, c.Serial...)
	m = binary.BigEndian.AppendUint16(m, uint16(len(c.Model)))
	m = append(m, c.Model...)
	var pk [32]byte
	copy(pk[:], c.PublicKey)
	m = append(m, pk[:]...)
	m = binary.BigEndian.AppendUint16(m, uint16(len(c.MakerID)))
	m = append(m, c.MakerID...)
	return m
}

func (c *DeviceCertificate) check() error {
	switch {
	case len(c.Serial) == 0 || len(c.Serial) > MaxSerialLen || !utf8.ValidString(c.Serial):
		return fmt.Errorf("%w: serial must be 1..%d bytes of UTF-8", ErrMalformed, MaxSerialLen)
	case len(c.Model) > MaxModelLen || !utf8.ValidString(c.Model):
		return fmt.Errorf("%w: model must be 0..%d bytes of UTF-8", ErrMalformed, MaxModelLen)
	case CheckMakerID(c.MakerID) != nil:
		return fmt.Errorf("%w: %w", ErrMalformed, CheckMakerID(c.MakerID))
	case len(c.PublicKey) != ed25519.PublicKeySize:
		return fmt.Errorf("%w: device key of %d bytes", ErrBadPublicKey, len(c.PublicKey))
	}
	return nil
}

// CheckMakerID checks a maker ID: 1..64 bytes of printable ASCII without
// spaces (0x21..0x7E), compared byte for byte with the ID under which a
// server trusts the maker's key (docs/scanner-protocol.md, "Maker keys").
func CheckMakerID(id string) error {
	if id == "" || len(id) > MaxMakerIDLen {
		return fmt.Errorf("maker id must have 1..%d characters", MaxMakerIDLen)
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7E {
			return errors.New("maker id must be printable ASCII without spaces")
		}
	}
	return nil
}

// Sign sets c.Signature with the maker's private key.
func (c *DeviceCertificate) Sign(makerPriv ed25519.PrivateKey) error {
	if err := c.check(); err != nil {
		return err
	}
	if len(makerPriv) != ed25519.PrivateKeySize {
		return fmt.Errorf("%w: maker private key of %d bytes", ErrBadPublicKey, len(makerPriv))
	}
	c.Signature = ed25519.Sign(makerPriv, c.Message())
	return nil
}

// Verify checks the maker's signature over the certificate.
func (c *DeviceCertificate) Verify(makerPub ed25519.PublicKey) error {
	if len(makerPub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: maker key of %d bytes", ErrBadPublicKey, len(makerPub))
	}
	if err := c.check(); err != nil {
		return err
	}
	if len(c.Signature) != ed25519.SignatureSize {
		return fmt.Errorf("%w: signature of %d bytes", ErrBadSignature, len(c.Signature))
	}
	if !ed25519.Verify(makerPub, c.Message(), c.Signature) {
		return ErrBadSignature
	}
	return nil
}

// MarshalBinary encodes the certificate (DEVICE_CERT response payload):
//
//	u8   version = 1
//	u8   len(Serial), Serial
//	u8   len(Model), Model
//	[32] PublicKey
//	u8   len(MakerID), MakerID
//	u8   len(Signature), Signature
func (c *DeviceCertificate) MarshalBinary() ([]byte, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	if len(c.Signature) > MaxSigLen {
		return nil, fmt.Errorf("%w: signature of %d bytes", ErrMalformed, len(c.Signature))
	}
	b := []byte{CertificateEncodingV1}
	b = appendStr8(b, c.Serial)
	b = appendStr8(b, c.Model)
	b = append(b, c.PublicKey...)
	b = appendStr8(b, c.MakerID)
	b = appendStr8(b, string(c.Signature))
	return b, nil
}

// UnmarshalBinary decodes MarshalBinary's output. It rejects trailing bytes.
func (c *DeviceCertificate) UnmarshalBinary(data []byte) error {
	r := reader{b: data}
	v := r.u8()
	if r.err == nil && v != CertificateEncodingV1 {
		return fmt.Errorf("%w: certificate encoding %d", ErrUnsupportedVersion, v)
	}
	var out DeviceCertificate
	out.Serial = r.str8()
	out.Model = r.str8()
	if pk := r.n(32); pk != nil {
		out.PublicKey = ed25519.PublicKey(bytes.Clone(pk))
	}
	out.MakerID = r.str8()
	out.Signature = r.bytes8()
	if err := r.done("certificate"); err != nil {
		return err
	}
	if err := out.check(); err != nil {
		return err
	}
	*c = out
	return nil
}

// VerifyChain checks a capture's attestation end to end: the certificate
// verifies under the maker key, the attestation verifies under the
// certified device key, and both name the same serial. Nonce freshness,
// counter monotonicity and the image digest remain the caller's checks.
func VerifyChain(makerPub ed25519.PublicKey, cert *DeviceCertificate, att *Attestation) error {
	if err := cert.Verify(makerPub); err != nil {
		return fmt.Errorf("device certificate: %w", err)
	}
	if cert.Serial != att.Serial {
		return fmt.Errorf("%w: certificate %q, attestation %q", ErrSerialMismatch, cert.Serial, att.Serial)
	}
	if err := att.Verify(cert.PublicKey); err != nil {
		return fmt.Errorf("attestation: %w", err)
	}
	return nil
}

func appendStr8(b []byte, s string) []byte {
	b = append(b, byte(len(s)))
	return append(b, s...)
}

// reader is a sticky-error cursor over a byte slice.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) n(k int) []byte {
	if r.err != nil {
		return nil
	}
	if k < 0 || len(r.b)-r.off < k {
		r.err = fmt.Errorf("%w: truncated at byte %d (need %d more)", ErrMalformed, r.off, k)
		return nil
	}
	s := r.b[r.off : r.off+k]
	r.off += k
	return s
}

func (r *reader) u8() byte {
	if s := r.n(1); s != nil {
		return s[0]
	}
	return 0
}

func (r *reader) u64() uint64 {
	if s := r.n(8); s != nil {
		return binary.BigEndian.Uint64(s)
	}
	return 0
}

func (r *reader) str8() string {
	n := int(r.u8())
	s := r.n(n)
	if s != nil && !utf8.Valid(s) {
		r.err = fmt.Errorf("%w: invalid UTF-8 at byte %d", ErrMalformed, r.off-n)
		return ""
	}
	return string(s)
}

func (r *reader) bytes8() []byte {
	n := int(r.u8())
	s := r.n(n)
	if s == nil {
		return nil
	}
	return bytes.Clone(s)
}

func (r *reader) done(what string) error {
	if r.err != nil {
		return fmt.Errorf("%s: %w", what, r.err)
	}
	if r.off != len(r.b) {
		return fmt.Errorf("%s: %w: %d trailing bytes", what, ErrMalformed, len(r.b)-r.off)
	}
	return nil
}

func (r *reader) u16() uint16 {
	if s := r.n(2); s != nil {
		return binary.BigEndian.Uint16(s)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if s := r.n(4); s != nil {
		return binary.BigEndian.Uint32(s)
	}
	return 0
}
