package api

import (
	"crypto/ed25519"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMakersPersist(t *testing.T) {
	path := filepath.Join(t.TempDir(), "makers")
	m, err := LoadMakers(path)
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _ := ed25519.GenerateKey(nil)
	if created, err := m.Add("acme", "Acme Vein Co", pub, time.Now()); err != nil || !created {
		t.Fatalf("add: %v %v", created, err)
	}
	if created, err := m.Add("acme", "", pub, time.Now()); err != nil || created {
		t.Fatalf("re-add: %v %v", created, err)
	}
	other, _, _ := ed25519.GenerateKey(nil)
	if _, err := m.Add("acme", "", other, time.Now()); err != errMakerKeyChange {
		t.Fatalf("key change: %v", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file mode: %v %v", fi, err)
	}
	m2, err := LoadMakers(path)
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := m2.Key("acme"); !ok || !k.Equal(pub) {
		t.Fatal("key not persisted")
	}
	if l := m2.list(); len(l) != 1 || l[0].name != "Acme Vein Co" {
		t.Fatalf("list: %+v", l)
	}
}

func FuzzParseMakers(f *testing.F) {
	key := base64.StdEncoding.EncodeToString(make([]byte, 32))
	f.Add([]byte("# comment\nacme " + key + " Acme Vein Co\n"))
	f.Add([]byte("acme " + key[:10] + "\n"))
	f.Add([]byte("a\n"))
	f.Add([]byte("acme\x00 " + key + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseMakers("", data)
		if err != nil {
			return
		}
		for _, mk := range m.list() {
			if len(mk.pub) != ed25519.PublicKeySize || validMakerID(mk.id) != nil || strings.ContainsAny(mk.id, " \t\n") {
				t.Fatalf("accepted bad maker %+v", mk)
			}
		}
	})
}

// TestMakersReload: two replicas sharing the registry file follow each
// other's additions, and a key removed from the file is no longer trusted;
// a half-written file changes nothing.
func TestMakersReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "makers")
	a, err := LoadMakers(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadMakers(path)
	if err != nil {
		t.Fatal(err)
	}
	if changed, err := b.Reload(); changed || err != nil {
		t.Fatalf("reload without a file: %v, %v", changed, err)
	}
	pub, _, _ := ed25519.GenerateKey(nil)
	if _, err := a.Add("acme", "Acme Vein Co", pub, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Key("acme"); ok {
		t.Fatal("B trusts the key before reloading")
	}
	if changed, err := b.Reload(); !changed || err != nil {
		t.Fatalf("reload after A's addition: %v, %v", changed, err)
	}
	if k, ok := b.Key("acme"); !ok || !k.Equal(pub) {
		t.Fatal("B does not trust the key A added")
	}
	if changed, err := b.Reload(); changed || err != nil {
		t.Fatalf("reload of an unchanged file: %v, %v", changed, err)
	}
	// A half-written line: the set stays.
	if err := os.WriteFile(path, []byte("acme "+base64.StdEncoding.EncodeToString(pub)+" Acme\nhalf"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Reload(); err == nil {
		t.Error("a half-written file reloaded without error")
	}
	if _, ok := b.Key("acme"); !ok {
		t.Fatal("a bad file dropped the trusted keys")
	}
	// The key removed from the file.
	if err := os.WriteFile(path, []byte("# no makers\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if changed, err := b.Reload(); !changed || err != nil {
		t.Fatalf("reload after the removal: %v, %v", changed, err)
	}
	if _, ok := b.Key("acme"); ok {
		t.Error("a key removed from the file is still trusted")
	}
}
