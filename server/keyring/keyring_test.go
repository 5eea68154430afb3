package keyring

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func mustRing(t testing.TB, primary string, keys map[string][]byte) *Ring {
	t.Helper()
	r, err := New(primary, keys)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSealOpen(t *testing.T) {
	r := mustRing(t, "k1", map[string][]byte{"k1": key(1)})
	pt := []byte("vein template bytes")
	ad := []byte("template|sample:1")
	ct, err := r.Seal(pt, ad)
	if err != nil {
		t.Fatal(err)
	}
	if ct[0] != Version || ct[1] != 2 || string(ct[2:4]) != "k1" || len(ct) != 2+2+12+len(pt)+16 {
		t.Errorf("sealed layout: % x", ct[:8])
	}
	if bytes.Contains(ct, pt) {
		t.Error("plaintext visible in the sealed blob")
	}
	got, err := r.Open(ct, ad)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	ct2, _ := r.Seal(pt, ad)
	if bytes.Equal(ct, ct2) {
		t.Error("two seals of the same plaintext are equal: nonce reused")
	}
	if id, err := KeyID(ct); err != nil || id != "k1" {
		t.Errorf("KeyID = %q, %v", id, err)
	}
	empty, err := r.Seal(nil, ad)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r.Open(empty, ad); err != nil || len(got) != 0 {
		t.Errorf("empty plaintext: %q, %v", got, err)
	}
}

func TestOpenFailures(t *testing.T) {
	r := mustRing(t, "k1", map[string][]byte{"k1": key(1)})
	ad := []byte("template|sample:1")
	ct, _ := r.Seal([]byte("secret"), ad)
	flip := func(i int) []byte {
		c := bytes.Clone(ct)
		c[i] ^= 1
		return c
	}
	other := mustRing(t, "k2", map[string][]byte{"k2": key(2)})
	sameIDOtherKey := mustRing(t, "k1", map[string][]byte{"k1": key(3)})
	cases := []struct {
		name string
		r    *Ring
		ct   []byte
		ad   []byte
		want error
	}{
		{"other record", r, ct, []byte("template|sample:2"), ErrAuth},
		{"no ad", r, ct, nil, ErrAuth},
		{"flipped nonce", r, flip(5), ad, ErrAuth},
		{"flipped body", r, flip(len(ct) - 20), ad, ErrAuth},
		{"flipped tag", r, flip(len(ct) - 1), ad, ErrAuth},
		{"truncated", r, ct[:len(ct)-1], ad, ErrAuth},
		{"too short", r, ct[:10], ad, ErrMalformed},
		{"empty", r, nil, ad, ErrMalformed},
		{"bad version", r, flip(0), ad, ErrMalformed},
		{"zero key id length", r, append([]byte{Version, 0}, make([]byte, 40)...), ad, ErrMalformed},
		{"unknown key", other, ct, ad, ErrUnknownKey},
		{"same id, other key", sameIDOtherKey, ct, ad, ErrAuth},
	}
	for _, tc := range cases {
		if _, err := tc.r.Open(tc.ct, tc.ad); !errors.Is(err, tc.want) {
			t.Errorf("%s: Open = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestRotation(t *testing.T) {
	old := mustRing(t, "2026a", map[string][]byte{"2026a": key(1)})
	ad := []byte("image|sample:9")
	ct, _ := old.Seal([]byte("capture image"), ad)
	rotated := mustRing(t, "2026b", map[string][]byte{"2026a": key(1), "2026b": key(2)})
	if !rotated.NeedsRotation(ct) {
		t.Error("blob under the old key does not need rotation")
	}
	if got, err := rotated.Open(ct, ad); err != nil || string(got) != "capture image" {
		t.Fatalf("rotated ring cannot open old blob: %v", err)
	}
	re, err := rotated.Reseal(ct, ad)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.NeedsRotation(re) {
		t.Error("resealed blob still needs rotation")
	}
	newOnly := mustRing(t, "2026b", map[string][]byte{"2026b": key(2)})
	if got, err := newOnly.Open(re, ad); err != nil || string(got) != "capture image" {
		t.Errorf("new key alone cannot open the resealed blob: %v", err)
	}
	if _, err := newOnly.Open(ct, ad); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("retired key still opens: %v", err)
	}
	if _, err := rotated.Reseal(ct, []byte("other")); !errors.Is(err, ErrAuth) {
		t.Errorf("Reseal with wrong ad: %v", err)
	}
	if !rotated.NeedsRotation([]byte("junk")) {
		t.Error("junk does not need rotation")
	}
	if ids := rotated.IDs(); strings.Join(ids, ",") != "2026a,2026b" || rotated.Primary() != "2026b" {
		t.Errorf("IDs = %v, primary %s", ids, rotated.Primary())
	}
}

func TestNew(t *testing.T) {
	bad := []struct {
		name    string
		primary string
		keys    map[string][]byte
	}{
		{"no keys", "", nil},
		{"short key", "a", map[string][]byte{"a": key(1)[:16]}},
		{"bad id", "a b", map[string][]byte{"a b": key(1)}},
		{"long id", strings.Repeat("a", 65), map[string][]byte{strings.Repeat("a", 65): key(1)}},
		{"primary missing", "b", map[string][]byte{"a": key(1)}},
	}
	for _, tc := range bad {
		if _, err := New(tc.primary, tc.keys); err == nil {
			t.Errorf("%s: New succeeded", tc.name)
		}
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func TestParse(t *testing.T) {
	good := []struct {
		name, in, primary string
		ids               int
	}{
		{"one line", "k1:" + b64(key(1)), "k1", 1},
		{"last line is primary", "# keys\nk1:" + b64(key(1)) + "\n\nk2:" + b64(key(2)) + "\n", "k2", 2},
		{"crlf", "k1:" + b64(key(1)) + "\r\nk2:" + b64(key(2)) + "\r\n", "k2", 2},
		{"semicolons", "k1:" + b64(key(1)) + ";k2:" + b64(key(2)), "k2", 2},
		{"spaces", "  k1 : " + b64(key(1)) + "  ", "k1", 1},
		{"json", `{"primary":"k1","keys":{"k1":"` + b64(key(1)) + `","k2":"` + b64(key(2)) + `"}}`, "k1", 2},
	}
	for _, tc := range good {
		r, err := Parse([]byte(tc.in))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if r.Primary() != tc.primary || len(r.IDs()) != tc.ids {
			t.Errorf("%s: primary %s ids %v", tc.name, r.Primary(), r.IDs())
		}
	}
	bad := []struct{ name, in string }{
		{"empty", ""},
		{"comments only", "# nothing\n"},
		{"no colon", "k1" + b64(key(1))},
		{"not base64", "k1:!!!"},
		{"short key", "k1:" + b64(key(1)[:31])},
		{"duplicate id", "k1:" + b64(key(1)) + "\nk1:" + b64(key(2))},
		{"json unknown field", `{"primary":"k1","keys":{"k1":"` + b64(key(1)) + `"},"x":1}`},
		{"json primary missing", `{"primary":"k9","keys":{"k1":"` + b64(key(1)) + `"}}`},
		{"json bad base64", `{"primary":"k1","keys":{"k1":"%%"}}`},
		{"json malformed", `{"primary":`},
	}
	for _, tc := range bad {
		if _, err := Parse([]byte(tc.in)); err == nil {
			t.Errorf("%s: Parse succeeded", tc.name)
		}
	}
}

func TestGenerateLine(t *testing.T) {
	l1, err := GenerateLine("2026a")
	if err != nil {
		t.Fatal(err)
	}
	l2, _ := GenerateLine("2026b")
	if l1[6:] == l2[6:] {
		t.Error("two generated keys are equal")
	}
	r, err := Parse([]byte(l1 + "\n" + l2 + "\n"))
	if err != nil || r.Primary() != "2026b" {
		t.Fatalf("generated lines do not parse: %v", err)
	}
	if _, err := GenerateLine("bad id"); err == nil {
		t.Error("GenerateLine accepted a bad id")
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys")
	line, _ := GenerateLine("k1")
	if err := os.WriteFile(path, []byte(line+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFile(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable key file accepted: %v", err)
	}
	os.Chmod(path, 0o600)
	if r, err := Load(path); err != nil || r.Primary() != "k1" {
		t.Errorf("Load(file) = %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file accepted")
	}
	t.Setenv(EnvVar, "")
	if _, err := Load(""); !errors.Is(err, ErrNoKeys) {
		t.Errorf("Load with nothing = %v, want ErrNoKeys", err)
	}
	t.Setenv(EnvVar, line)
	if r, err := Load(""); err != nil || r.Primary() != "k1" {
		t.Errorf("Load(env) = %v", err)
	}
}

func FuzzOpen(f *testing.F) {
	r := mustRing(f, "k1", map[string][]byte{"k1": key(1)})
	ct, _ := r.Seal([]byte("seed plaintext"), []byte("ad"))
	f.Add(ct, []byte("ad"))
	f.Add([]byte{Version, 2, 'k', '1'}, []byte{})
	f.Add([]byte{}, []byte("ad"))
	f.Fuzz(func(t *testing.T, blob, ad []byte) {
		pt, err := r.Open(blob, ad)
		if err == nil {
			// Anything that opens must have been sealed by us: re-sealing and
			// opening gives the same plaintext.
			again, err := r.Seal(pt, ad)
			if err != nil {
				t.Fatal(err)
			}
			if back, err := r.Open(again, ad); err != nil || !bytes.Equal(back, pt) {
				t.Fatalf("round trip failed: %v", err)
			}
		}
	})
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("k1:" + b64(key(1))))
	f.Add([]byte(`{"primary":"k1","keys":{"k1":"` + b64(key(1)) + `"}}`))
	f.Add([]byte("# c\nk1:" + b64(key(1)) + ";k2:" + b64(key(2))))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data)
		if err != nil {
			return
		}
		if _, ok := r.aeads[r.Primary()]; !ok {
			t.Fatal("parsed ring without its primary key")
		}
	})
}
