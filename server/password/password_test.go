package password

import (
	"errors"
	"strings"
	"testing"
)

var cheap = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestPassword(t *testing.T) {
	h, err := HashWith("correct horse 电池", cheap)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("hash %q is not a PHC argon2id string", h)
	}
	if ok, err := Verify(h, "correct horse 电池"); !ok || err != nil {
		t.Errorf("right password: %v %v", ok, err)
	}
	for _, pw := range []string{"", "correct horse", "correct horse 电池 ", strings.Repeat("x", 2000)} {
		if ok, err := Verify(h, pw); ok || err != nil {
			t.Errorf("wrong password %q: %v %v", pw, ok, err)
		}
	}
	h2, _ := HashWith("correct horse 电池", cheap)
	if h == h2 {
		t.Error("same hash twice: salt not random")
	}
	if !NeedsRehash(h) {
		t.Error("cheap hash does not need rehash")
	}
	if _, err := HashWith("", cheap); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty password: %v", err)
	}
	if _, err := HashWith("x", Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 4, KeyLen: 32}); !errors.Is(err, ErrInvalid) {
		t.Errorf("short salt: %v", err)
	}
}

func TestPasswordDefault(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MiB hash")
	}
	h, err := Hash("pw")
	if err != nil {
		t.Fatal(err)
	}
	if NeedsRehash(h) {
		t.Error("default hash needs rehash")
	}
	if ok, _ := Verify(h, "pw"); !ok {
		t.Error("default hash does not verify")
	}
}

func TestMalformedHash(t *testing.T) {
	good, _ := HashWith("pw", cheap)
	parts := strings.Split(good, "$")
	bad := []string{
		"",
		"plaintext",
		"$2a$10$abcdefghijklmnopqrstuu", // bcrypt
		strings.Replace(good, "argon2id", "argon2i", 1),
		strings.Replace(good, "v=19", "v=16", 1),
		strings.Replace(good, "m=64", "m=0", 1),
		strings.Replace(good, "m=64", "m=99999999", 1), // cost bomb
		strings.Replace(good, "t=1", "t=1000", 1),
		strings.Replace(good, "p=1", "p=300", 1),
		strings.Replace(good, "m=64,", "m=64,x=1,", 1),
		"$argon2id$v=19$m=64,t=1,p=1$" + parts[4] + "$!!",
		"$argon2id$v=19$m=64,t=1,p=1$$" + parts[5],
	}
	for _, h := range bad {
		if ok, err := Verify(h, "pw"); ok || !errors.Is(err, ErrMalformedHash) {
			t.Errorf("Verify(%q) = %v, %v; want ErrMalformedHash", h, ok, err)
		}
	}
}

func FuzzVerify(f *testing.F) {
	good, _ := HashWith("pw", cheap)
	f.Add(good, "pw")
	f.Add("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "x")
	f.Add("$argon2id$v=19$m=1048576,t=64,p=255$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "x")
	f.Fuzz(func(t *testing.T, hash, pw string) {
		p, _, _, err := parsePHC(hash)
		if err != nil {
			return
		}
		// Only hashes cheap enough to verify quickly are exercised fully.
		if p.Memory <= 1024 && p.Time <= 2 && p.Threads <= 4 {
			Verify(hash, pw)
		}
	})
}
