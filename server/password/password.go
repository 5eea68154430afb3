// Package password hashes staff passwords with argon2id (PHC strings) and
// verifies them in constant time. It is the only place that knows the
// format; the store keeps the string.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are the argon2id cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
	SaltLen int
	KeyLen  uint32
}

// DefaultParams follow RFC 9106's second recommended option
// (64 MiB, 3 passes), with 2 lanes for the server's small machines.
var DefaultParams = Params{Memory: 64 * 1024, Time: 3, Threads: 2, SaltLen: 16, KeyLen: 32}

var (
	// ErrMalformedHash: a stored password hash is not a PHC argon2id string.
	ErrMalformedHash = errors.New("password: malformed hash")
	// ErrInvalid: the password (empty, too long) or the parameters (too
	// weak) cannot be hashed.
	ErrInvalid = errors.New("password: invalid")
)

// Bounds that stop a hostile hash string from costing unbounded work.
const (
	maxPasswordMemory = 1 << 20 // 1 GiB
	maxPasswordTime   = 64
	maxPasswordLen    = 1024
)

// Hash hashes a password with argon2id and returns the PHC string
// "$argon2id$v=19$m=65536,t=3,p=2$<salt>$<hash>" (unpadded base64).
func Hash(password string) (string, error) {
	return HashWith(password, DefaultParams)
}

// HashWith is Hash with explicit parameters (tests use
// cheap ones).
func HashWith(password string, p Params) (string, error) {
	if password == "" {
		return "", fmt.Errorf("%w: empty password", ErrInvalid)
	}
	if len(password) > maxPasswordLen {
		return "", fmt.Errorf("%w: password longer than %d bytes", ErrInvalid, maxPasswordLen)
	}
	if p.Memory == 0 || p.Time == 0 || p.Threads == 0 || p.SaltLen < 8 || p.KeyLen < 16 {
		return "", fmt.Errorf("%w: weak argon2id parameters", ErrInvalid)
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// Verify reports whether password matches a hash from Hash,
// comparing in constant time. It returns an error only for a malformed hash.
func Verify(hash, password string) (bool, error) {
	p, salt, key, err := parsePHC(hash)
	if err != nil {
		return false, err
	}
	if len(password) > maxPasswordLen {
		return false, nil
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// NeedsRehash reports whether hash was made with parameters other
// than DefaultParams (so the caller can rehash at the next login).
func NeedsRehash(hash string) bool {
	p, salt, key, err := parsePHC(hash)
	d := DefaultParams
	return err != nil || p.Memory != d.Memory || p.Time != d.Time || p.Threads != d.Threads ||
		len(salt) != d.SaltLen || uint32(len(key)) != d.KeyLen
}

func parsePHC(s string) (p Params, salt, key []byte, err error) {
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, ErrMalformedHash
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, fmt.Errorf("%w: unsupported version %q", ErrMalformedHash, parts[2])
	}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return p, nil, nil, ErrMalformedHash
		}
		n, perr := strconv.ParseUint(v, 10, 32)
		if perr != nil {
			return p, nil, nil, ErrMalformedHash
		}
		switch k {
		case "m":
			p.Memory = uint32(n)
		case "t":
			p.Time = uint32(n)
		case "p":
			if n > 255 {
				return p, nil, nil, ErrMalformedHash
			}
			p.Threads = uint8(n)
		default:
			return p, nil, nil, ErrMalformedHash
		}
	}
	if p.Memory == 0 || p.Memory > maxPasswordMemory || p.Time == 0 || p.Time > maxPasswordTime || p.Threads == 0 {
		return p, nil, nil, fmt.Errorf("%w: parameters out of range", ErrMalformedHash)
	}
	enc := base64.RawStdEncoding
	if salt, err = enc.DecodeString(parts[4]); err != nil || len(salt) < 8 {
		return p, nil, nil, ErrMalformedHash
	}
	if key, err = enc.DecodeString(parts[5]); err != nil || len(key) < 16 || len(key) > 128 {
		return p, nil, nil, ErrMalformedHash
	}
	p.SaltLen, p.KeyLen = len(salt), uint32(len(key))
	return p, salt, key, nil
}
