package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/keyring"
	"github.com/qingshan-gov/veinkiosk/server/store"
	"github.com/qingshan-gov/veinkiosk/server/store/sqlite"
	"github.com/qingshan-gov/veinkiosk/server/store/storetest"
)

// TestKeysRotation walks the documented rotation with the CLI: generate a
// key file, enrol, add a key, re-encrypt, drop the old key, read back.
func TestKeysRotation(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	data := filepath.Join(dir, "data")
	if code, out, errOut := auditRun(t, "keys", "generate", "--id", "2026a", "--append", keys); code != 0 || !strings.Contains(out, `primary is now "2026a"`) {
		t.Fatalf("generate: %d %s%s", code, out, errOut)
	}
	if fi, _ := os.Stat(keys); fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v", fi.Mode().Perm())
	}
	ctx := context.Background()
	ring, err := keyring.LoadFile(keys)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.OpenDir(ctx, data, store.Options{Keyring: ring})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateStation(ctx, audit.System("t"), store.Station{ID: "S1", Name: "站"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ImportResidents(ctx, audit.System("t"), []store.Resident{{IDNumber: "110105194901010215", Name: "张三", Gender: "M"}}); err != nil {
		t.Fatal(err)
	}
	tpl := []byte("template-bytes-for-rotation")
	e, err := s.Enrol(ctx, audit.System("t"), store.NewEnrolment{IDNumber: "110105194901010215", Finger: 2,
		Samples: []store.Sample{{Template: tpl, Image: []byte("img"), AlgorithmVersion: "v1", Quality: 80}}})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	if code, out, _ := auditRun(t, "keys", "generate", "--id", "2026a", "--append", keys); code == 0 {
		t.Errorf("duplicate id accepted: %s", out)
	}
	if code, out, errOut := auditRun(t, "keys", "generate", "--id", "2026b", "--append", keys); code != 0 || !strings.Contains(out, `primary is now "2026b"`) {
		t.Fatalf("second generate: %d %s%s", code, out, errOut)
	}
	if code, out, _ := auditRun(t, "keys", "show", "--keys", keys); code != 0 || !strings.Contains(out, "keys: 2026a 2026b\nprimary: 2026b") {
		t.Errorf("show: %d %s", code, out)
	}
	code, out, errOut := auditRun(t, "keys", "reencrypt", "--data", data, "--keys", keys)
	if code != 0 || !strings.Contains(out, "re-encrypted 2 blobs of 1 samples and 2 sealed personal values under key \"2026b\"") {
		t.Fatalf("reencrypt: %d %s%s", code, out, errOut)
	}
	// Drop the old key: keep only the last line.
	content, _ := os.ReadFile(keys)
	lines := strings.Split(strings.TrimSpace(string(content)), "\n")
	if err := os.WriteFile(keys, []byte(lines[len(lines)-1]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ring, err = keyring.LoadFile(keys)
	if err != nil {
		t.Fatal(err)
	}
	s, err = sqlite.OpenDir(ctx, data, store.Options{Keyring: ring})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := storetest.Inspect(s).GetEnrolment(ctx, e.ID)
	if err != nil || !bytes.Equal(got.Samples[0].Template, tpl) {
		t.Fatalf("after rotation: %v", err)
	}
	// The resident's sealed record and the blind-index key were re-sealed
	// too: the old key is gone and the lookup by ID number still works.
	if r, err := s.GetResident(ctx, "110105194901010215"); err != nil || r.Name != "张三" {
		t.Fatalf("resident after rotation: %+v, %v", r, err)
	}
	if code, out, _ := auditRun(t, "audit", "verify", "--data", data); code != 0 || !strings.Contains(out, "intact") {
		t.Errorf("audit after rotation: %d %s", code, out)
	}
	if code, _, errOut := auditRun(t, "keys", "reencrypt", "--data", data, "--keys", filepath.Join(dir, "missing")); code != 1 || !strings.Contains(errOut, "missing") {
		t.Errorf("missing key file: %d %s", code, errOut)
	}
	if code, out, _ := auditRun(t, "keys", "generate", "--id", "bad id"); code != 2 {
		t.Errorf("bad id: %d %s", code, out)
	}
	if code, out, _ := auditRun(t, "keys", "generate", "--id", "k9"); code != 0 || !strings.HasPrefix(out, "k9:") {
		t.Errorf("generate to stdout: %d %s", code, out)
	}
}
