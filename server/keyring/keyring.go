// Package keyring seals biometric blobs at rest with AES-256-GCM under a ring
// of named keys.
//
// A sealed blob is
//
//	version (1 byte, 0x01) || len(keyID) (1 byte) || keyID || nonce (12 bytes) || GCM(ciphertext || tag)
//
// and is bound by the GCM associated data to the record it belongs to (for
// example "template|sample:17|resident:42|finger:2"), so a blob copied to
// another row or field does not decrypt. The ring has one primary key, used
// to seal; every key in the ring can open. Rotation adds a new key and makes
// it primary; old keys stay in the ring until the store has re-encrypted
// every blob under the new primary (store.Store.Reencrypt), then they can be
// removed.
//
// Keys are loaded from a file or an environment variable, never from the
// database. Two formats are accepted:
//
//	# lines: "id:base64(32 bytes)"; the LAST key listed is the primary
//	2026a:9Vx...=
//	2026b:Qm1...=
//
//	{"primary": "2026b", "keys": {"2026a": "9Vx...=", "2026b": "Qm1...="}}
package keyring

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
)

// KeySize is the size of an AES-256 key.
const KeySize = 32

// Version is the format byte of sealed blobs.
const Version = 0x01

const nonceSize = 12

// Errors.
var (
	// ErrUnknownKey: the blob was sealed under a key not in the ring.
	ErrUnknownKey = errors.New("keyring: unknown key id")
	// ErrMalformed: the blob is not in the sealed format.
	ErrMalformed = errors.New("keyring: malformed sealed blob")
	// ErrAuth: the blob fails authentication (tampered, or bound to other
	// associated data).
	ErrAuth = errors.New("keyring: message authentication failed")
	// ErrNoKeys: the key source holds no key.
	ErrNoKeys = errors.New("keyring: no keys")
)

var keyIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Ring is a set of AES-256-GCM keys with one primary. It is immutable and
// safe for concurrent use.
type Ring struct {
	primary string
	aeads   map[string]cipher.AEAD
}

// New builds a ring from raw 32-byte keys; primary must be one of them.
func New(primary string, keys map[string][]byte) (*Ring, error) {
	if len(keys) == 0 {
		return nil, ErrNoKeys
	}
	r := &Ring{primary: primary, aeads: make(map[string]cipher.AEAD, len(keys))}
	for id, k := range keys {
		if !keyIDRE.MatchString(id) {
			return nil, fmt.Errorf("keyring: key id %q: use 1-64 of A-Z a-z 0-9 . _ -", id)
		}
		if len(k) != KeySize {
			return nil, fmt.Errorf("keyring: key %q has %d bytes, want %d", id, len(k), KeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("keyring: key %q: %w", id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("keyring: key %q: %w", id, err)
		}
		r.aeads[id] = aead
	}
	if _, ok := r.aeads[primary]; !ok {
		return nil, fmt.Errorf("keyring: primary key %q is not in the ring", primary)
	}
	return r, nil
}

// Primary returns the id of the key used to seal.
func (r *Ring) Primary() string { return r.primary }

// IDs returns the key ids in the ring, sorted.
func (r *Ring) IDs() []string {
	ids := make([]string, 0, len(r.aeads))
	for id := range r.aeads {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Seal encrypts plaintext under the primary key, bound to ad.
func (r *Ring) Seal(plaintext, ad []byte) ([]byte, error) {
	aead := r.aeads[r.primary]
	out := make([]byte, 0, 2+len(r.primary)+nonceSize+len(plaintext)+aead.Overhead())
	out = append(out, Version, byte(len(r.primary)))
	out = append(out, r.primary...)
	nonce := out[len(out) : len(out)+nonceSize]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("keyring: nonce: %w", err)
	}
	out = out[:len(out)+nonceSize]
	return aead.Seal(out, nonce, plaintext, ad), nil
}

// KeyID returns the id of the key a blob was sealed under.
func KeyID(sealed []byte) (string, error) {
	if len(sealed) < 2 || sealed[0] != Version {
		return "", ErrMalformed
	}
	n := int(sealed[1])
	if n == 0 || len(sealed) < 2+n+nonceSize {
		return "", ErrMalformed
	}
	return string(sealed[2 : 2+n]), nil
}

// Open decrypts a blob sealed by Seal with the same associated data.
func (r *Ring) Open(sealed, ad []byte) ([]byte, error) {
	id, err := KeyID(sealed)
	if err != nil {
		return nil, err
	}
	aead, ok := r.aeads[id]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownKey, id)
	}
	rest := sealed[2+len(id):]
	if len(rest) < nonceSize+aead.Overhead() {
		return nil, ErrMalformed
	}
	pt, err := aead.Open(nil, rest[:nonceSize], rest[nonceSize:], ad)
	if err != nil {
		return nil, ErrAuth
	}
	return pt, nil
}

// NeedsRotation reports whether a sealed blob is under a key other than the
// primary (or is not a sealed blob at all).
func (r *Ring) NeedsRotation(sealed []byte) bool {
	id, err := KeyID(sealed)
	return err != nil || id != r.primary
}

// Reseal opens a blob and seals it again under the primary key.
func (r *Ring) Reseal(sealed, ad []byte) ([]byte, error) {
	pt, err := r.Open(sealed, ad)
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	return r.Seal(pt, ad)
}

// GenerateKey returns a fresh random 32-byte key.
func GenerateKey() ([]byte, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	return k, nil
}

// GenerateLine returns a new key in the line format "id:base64", ready to be
// appended to a key file (which makes it the primary).
func GenerateLine(id string) (string, error) {
	if !keyIDRE.MatchString(id) {
		return "", fmt.Errorf("keyring: key id %q: use 1-64 of A-Z a-z 0-9 . _ -", id)
	}
	k, err := GenerateKey()
	if err != nil {
		return "", err
	}
	return id + ":" + base64.StdEncoding.EncodeToString(k), nil
}

// Parse reads a key ring in either format (see the package documentation).
// In the line format, lines may also be separated by ';' (handy in an
// environment variable), blank lines and lines starting with '#' are
// ignored.
func Parse(data []byte) (*Ring, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		return parseJSON(trimmed)
	}
	keys := map[string][]byte{}
	var primary string
	sc := bufio.NewScanner(bytes.NewReader(trimmed))
	sc.Split(splitLines)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, b64, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("keyring: entry %d: want id:base64", lineNo)
		}
		id = strings.TrimSpace(id)
		k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
		if err != nil {
			return nil, fmt.Errorf("keyring: entry %d (%q): key is not base64", lineNo, id)
		}
		if _, dup := keys[id]; dup {
			return nil, fmt.Errorf("keyring: key id %q listed twice", id)
		}
		keys[id] = k
		primary = id
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	return New(primary, keys)
}

func splitLines(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexAny(data, "\n;"); i >= 0 {
		return i + 1, bytes.TrimRight(data[:i], "\r"), nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

func parseJSON(data []byte) (*Ring, error) {
	var f struct {
		Primary string            `json:"primary"`
		Keys    map[string]string `json:"keys"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("keyring: JSON key file: %w", err)
	}
	keys := make(map[string][]byte, len(f.Keys))
	for id, b64 := range f.Keys {
		k, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("keyring: key %q is not base64", id)
		}
		keys[id] = k
	}
	return New(f.Primary, keys)
}

// LoadFile reads a key ring from a file. The file must not be readable by
// group or others.
func LoadFile(path string) (*Ring, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("keyring: %s is accessible by group or others (mode %v); chmod 600 it", path, fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	defer clear(data)
	return Parse(data)
}

// EnvVar is the environment variable Load reads when no file is given.
const EnvVar = "VEINKIOSK_KEYS"

// Load reads the ring from path when it is not empty, else from the
// environment variable EnvVar. It fails when neither holds keys.
func Load(path string) (*Ring, error) {
	if path != "" {
		return LoadFile(path)
	}
	v := os.Getenv(EnvVar)
	if v == "" {
		return nil, fmt.Errorf("%w: give a key file or set %s", ErrNoKeys, EnvVar)
	}
	return Parse([]byte(v))
}
