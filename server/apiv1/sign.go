package apiv1

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Request-signing headers. Every request under /api/v1/kiosk/ carries all
// four.
const (
	HeaderKioskID   = "X-Veinkiosk-Kiosk"     // the kiosk's registered id
	HeaderTimestamp = "X-Veinkiosk-Timestamp" // Unix time in milliseconds, decimal
	HeaderNonce     = "X-Veinkiosk-Nonce"     // 16..64 characters of base64url, fresh per request
	HeaderSignature = "X-Veinkiosk-Signature" // base64 (standard, padded) of the 64-byte Ed25519 signature
)

// SignatureDomain is the first line of every signed request message, so a
// kiosk signature can never be replayed as anything else.
const SignatureDomain = "veinkiosk/api/request/v1"

// MaxClockSkew is how far a request's timestamp may be from the server's
// clock, either way.
const MaxClockSkew = 60 * time.Second

// Request-signing errors. ParseHeaders and VerifySignature wrap them with %w.
var (
	ErrMissingSignature = errors.New("apiv1: request signature headers missing")
	ErrMalformedHeader  = errors.New("apiv1: malformed signature header")
	ErrClockSkew        = errors.New("apiv1: request timestamp outside the allowed clock skew")
	ErrBadSignature     = errors.New("apiv1: request signature does not verify")
)

// SignedHeaders are the values of the four signing headers.
type SignedHeaders struct {
	KioskID   string
	Timestamp string
	Nonce     string
	Signature string
}

// HeadersFrom reads the signing headers from h.
func HeadersFrom(h http.Header) SignedHeaders {
	return SignedHeaders{
		KioskID:   h.Get(HeaderKioskID),
		Timestamp: h.Get(HeaderTimestamp),
		Nonce:     h.Get(HeaderNonce),
		Signature: h.Get(HeaderSignature),
	}
}

// Apply sets the signing headers on h.
func (s SignedHeaders) Apply(h http.Header) {
	h.Set(HeaderKioskID, s.KioskID)
	h.Set(HeaderTimestamp, s.Timestamp)
	h.Set(HeaderNonce, s.Nonce)
	h.Set(HeaderSignature, s.Signature)
}

// RequestMessage returns the exact bytes a kiosk signs for one request:
// seven lines joined by "\n" (no trailing newline):
//
//	veinkiosk/api/request/v1
//	METHOD                      (upper case, e.g. POST)
//	/path?query                 (the request URI as sent, query included)
//	kiosk id
//	timestamp                   (the X-Veinkiosk-Timestamp value)
//	nonce                       (the X-Veinkiosk-Nonce value)
//	hex(SHA-256(body))          (lower case; the digest of an empty body for GET)
func RequestMessage(method, uri, kioskID, timestamp, nonce string, body []byte) []byte {
	sum := sha256.Sum256(body)
	var b bytes.Buffer
	b.Grow(len(SignatureDomain) + len(method) + len(uri) + len(kioskID) + len(timestamp) + len(nonce) + 64 + 6)
	for i, s := range []string{SignatureDomain, strings.ToUpper(method), uri, kioskID, timestamp, nonce, hex.EncodeToString(sum[:])} {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(s)
	}
	return b.Bytes()
}

// SignRequest returns the signing headers for one request. uri is the
// request URI exactly as it will be sent (path and query).
func SignRequest(priv ed25519.PrivateKey, kioskID, method, uri string, body []byte, now time.Time) (SignedHeaders, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return SignedHeaders{}, fmt.Errorf("apiv1: kiosk private key of %d bytes", len(priv))
	}
	if err := checkKioskID(kioskID); err != nil {
		return SignedHeaders{}, err
	}
	var n [18]byte
	if _, err := rand.Read(n[:]); err != nil {
		return SignedHeaders{}, fmt.Errorf("apiv1: nonce: %w", err)
	}
	h := SignedHeaders{
		KioskID:   kioskID,
		Timestamp: strconv.FormatInt(now.UnixMilli(), 10),
		Nonce:     base64.RawURLEncoding.EncodeToString(n[:]),
	}
	sig := ed25519.Sign(priv, RequestMessage(method, uri, h.KioskID, h.Timestamp, h.Nonce, body))
	h.Signature = base64.StdEncoding.EncodeToString(sig)
	return h, nil
}

// ParsedSignature is the checked content of the signing headers.
type ParsedSignature struct {
	KioskID   string
	Timestamp time.Time
	Nonce     string
	Signature []byte
}

// ParseHeaders checks the form of the signing headers (not the signature).
func ParseHeaders(h SignedHeaders) (ParsedSignature, error) {
	if h.KioskID == "" || h.Timestamp == "" || h.Nonce == "" || h.Signature == "" {
		return ParsedSignature{}, ErrMissingSignature
	}
	if err := checkKioskID(h.KioskID); err != nil {
		return ParsedSignature{}, fmt.Errorf("%w: %v", ErrMalformedHeader, err)
	}
	if len(h.Timestamp) > 19 {
		return ParsedSignature{}, fmt.Errorf("%w: timestamp too long", ErrMalformedHeader)
	}
	ms, err := strconv.ParseInt(h.Timestamp, 10, 64)
	if err != nil || ms < 0 || strconv.FormatInt(ms, 10) != h.Timestamp {
		return ParsedSignature{}, fmt.Errorf("%w: timestamp must be Unix milliseconds in canonical decimal", ErrMalformedHeader)
	}
	if len(h.Nonce) < 16 || len(h.Nonce) > 64 {
		return ParsedSignature{}, fmt.Errorf("%w: nonce must be 16..64 characters", ErrMalformedHeader)
	}
	for i := 0; i < len(h.Nonce); i++ {
		c := h.Nonce[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return ParsedSignature{}, fmt.Errorf("%w: nonce must be base64url", ErrMalformedHeader)
		}
	}
	if len(h.Signature) > 100 {
		return ParsedSignature{}, fmt.Errorf("%w: signature too long", ErrMalformedHeader)
	}
	sig, err := base64.StdEncoding.DecodeString(h.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return ParsedSignature{}, fmt.Errorf("%w: signature must be base64 of 64 bytes", ErrMalformedHeader)
	}
	return ParsedSignature{KioskID: h.KioskID, Timestamp: time.UnixMilli(ms), Nonce: h.Nonce, Signature: sig}, nil
}

// CheckSkew reports ErrClockSkew when ts is more than maxSkew from now.
func CheckSkew(ts, now time.Time, maxSkew time.Duration) error {
	if d := now.Sub(ts); d > maxSkew || d < -maxSkew {
		return fmt.Errorf("%w: %v off", ErrClockSkew, d.Round(time.Millisecond))
	}
	return nil
}

// VerifySignature checks one signed request: the form of the headers, the
// clock skew and the signature under the kiosk's public key pub. Replay
// (a nonce seen before within the skew window) is the caller's check, since
// it needs state: remember p.KioskID+p.Nonce for 2*maxSkew.
func VerifySignature(pub ed25519.PublicKey, p ParsedSignature, method, uri string, body []byte, now time.Time, maxSkew time.Duration) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: kiosk key of %d bytes", ErrBadSignature, len(pub))
	}
	if err := CheckSkew(p.Timestamp, now, maxSkew); err != nil {
		return err
	}
	msg := RequestMessage(method, uri, p.KioskID, strconv.FormatInt(p.Timestamp.UnixMilli(), 10), p.Nonce, body)
	if !ed25519.Verify(pub, msg, p.Signature) {
		return ErrBadSignature
	}
	return nil
}

// MaxKioskIDLen bounds a kiosk id.
const MaxKioskIDLen = 64

// checkKioskID accepts 1..64 characters of [A-Za-z0-9._-].
func checkKioskID(id string) error {
	if len(id) == 0 || len(id) > MaxKioskIDLen {
		return fmt.Errorf("apiv1: kiosk id must be 1..%d characters", MaxKioskIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("apiv1: kiosk id may hold only letters, digits, '.', '-' and '_'")
		}
	}
	return nil
}

// ValidKioskID reports whether id is an acceptable kiosk id.
func ValidKioskID(id string) bool { return checkKioskID(id) == nil }
