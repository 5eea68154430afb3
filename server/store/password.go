package store

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

// PasswordParams are the argon2id cost parameters.
type PasswordParams struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
	SaltLen int
	KeyLen  uint32
}

// DefaultPasswordParams follow RFC 9106's second recommended option
// (64 MiB, 3 passes), with 2 lanes for the server's small machines.
var DefaultPasswordParams = PasswordParams{Memory: 64 * 1024, Time: 3, Threads: 2, SaltLen: 16, KeyLen: 32}

// ErrPasswordHash: a stored password hash is not a PHC argon2id string.
var ErrPasswordHash = errors.New("store: malformed password hash")

// Bounds that stop a hostile hash string from costing unbounded work.
const (
	maxPasswordMemory = 1 << 20 // 1 GiB
	maxPasswordTime   = 64
	maxPasswordLen    = 1024
)

// HashPassword hashes a password with argon2id and returns the PHC string
// "$argon2id$v=19$m=65536,t=3,p=2$<salt>$<hash>" (unpadded base64).
func HashPassword(password string) (string, error) {
	return HashPasswordWith(password, DefaultPasswordParams)
}

// HashPasswordWith is HashPassword with explicit parameters (tests use
// cheap ones).
func HashPasswordWith(password string, p PasswordParams) (string, error) {
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

// VerifyPassword reports whether password matches a hash from HashPassword,
// comparing in constant time. It returns an error only for a malformed hash.
func VerifyPassword(hash, password string) (bool, error) {
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

// PasswordNeedsRehash reports whether hash was made with parameters other
// than DefaultPasswordParams (so the caller can rehash at the next login).
func PasswordNeedsRehash(hash string) bool {
	p, salt, key, err := parsePHC(hash)
	d := DefaultPasswordParams
	return err != nil || p.Memory != d.Memory || p.Time != d.Time || p.Threads != d.Threads ||
		len(salt) != d.SaltLen || uint32(len(key)) != d.KeyLen
}

func parsePHC(s string) (p PasswordParams, salt, key []byte, err error) {
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, ErrPasswordHash
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, fmt.Errorf("%w: unsupported version %q", ErrPasswordHash, parts[2])
	}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return p, nil, nil, ErrPasswordHash
		}
		n, perr := strconv.ParseUint(v, 10, 32)
		if perr != nil {
			return p, nil, nil, ErrPasswordHash
		}
		switch k {
		case "m":
			p.Memory = uint32(n)
		case "t":
			p.Time = uint32(n)
		case "p":
			if n > 255 {
				return p, nil, nil, ErrPasswordHash
			}
			p.Threads = uint8(n)
		default:
			return p, nil, nil, ErrPasswordHash
		}
	}
	if p.Memory == 0 || p.Memory > maxPasswordMemory || p.Time == 0 || p.Time > maxPasswordTime || p.Threads == 0 {
		return p, nil, nil, fmt.Errorf("%w: parameters out of range", ErrPasswordHash)
	}
	enc := base64.RawStdEncoding
	if salt, err = enc.DecodeString(parts[4]); err != nil || len(salt) < 8 {
		return p, nil, nil, ErrPasswordHash
	}
	if key, err = enc.DecodeString(parts[5]); err != nil || len(key) < 16 || len(key) > 128 {
		return p, nil, nil, ErrPasswordHash
	}
	p.SaltLen, p.KeyLen = len(salt), uint32(len(key))
	return p, salt, key, nil
}
