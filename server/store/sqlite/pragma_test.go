package sqlite

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/password"
	"github.com/qingshan-gov/veinkiosk/server/store"
	"github.com/qingshan-gov/veinkiosk/server/store/internal/sqlcore"
	"github.com/qingshan-gov/veinkiosk/server/store/storetest"
)

// TestPragmas checks the durability settings on both pools.
func TestPragmas(t *testing.T) {
	db, err := openDB(filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The writer connection belongs to the group committer: ask through it.
	writer := func(q string) (got string, err error) {
		err = db.Tx(context.Background(), sqlcore.WriteTx, func(tq sqlcore.Q) error { return tq.QueryRow(context.Background(), q).Scan(&got) })
		return got, err
	}
	reader := func(q string) (got string, err error) { return got, db.r.QueryRow(q).Scan(&got) }
	for name, query := range map[string]func(string) (string, error){"writer": writer, "reader": reader} {
		for pragma, want := range map[string]string{
			"journal_mode": "wal",
			"synchronous":  "2", // FULL
			"foreign_keys": "1",
			"busy_timeout": "10000",
			// Overwritten and deleted content is zeroed, so sealing a
			// legacy row leaves no plaintext in free pages.
			"secure_delete": "1",
		} {
			got, err := query("PRAGMA " + pragma)
			if err != nil {
				t.Fatalf("%s: PRAGMA %s: %v", name, pragma, err)
			}
			if got != want {
				t.Errorf("%s: PRAGMA %s = %s, want %s", name, pragma, got, want)
			}
		}
	}
	if _, err := db.r.Exec("CREATE TABLE x (a INTEGER)"); err == nil {
		t.Error("the reader pool can write")
	}
}

// TestNoPlaintextAtRest reads the database file's tables directly: no
// template or image byte string appears in clear.
func TestNoPlaintextAtRest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	ctx := context.Background()
	s, err := Open(ctx, path, storetest.Options())
	if err != nil {
		t.Fatal(err)
	}
	a := audit.System("t")
	if _, err := s.ImportResidents(ctx, a, []store.Resident{{IDNumber: "110105194901010215", Name: "张三"}}); err != nil {
		t.Fatal(err)
	}
	tpl, img := []byte("PLAINTEXT-TEMPLATE-MARKER"), []byte("PLAINTEXT-IMAGE-MARKER")
	if _, err := s.Enrol(ctx, a, store.NewEnrolment{IDNumber: "110105194901010215", Finger: 1,
		Samples: []store.Sample{{Template: tpl, Image: img, AlgorithmVersion: "v", Quality: 1}}}); err != nil {
		t.Fatal(err)
	}
	pw, err := password.HashWith("pw", password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	if err != nil {
		t.Fatal(err)
	}
	staff, err := s.CreateStaff(ctx, a, store.Staff{Username: "u", Role: store.RoleAdmin, PasswordHash: pw})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := s.CreateSession(ctx, store.Session{Token: "SESSION-TOKEN-MARKER", StaffID: staff.ID, Username: "u", Role: store.RoleAdmin, CreatedAt: now, ExpiresAt: now.Add(time.Hour), Idle: time.Hour, Method: store.SessionPassword}); err != nil {
		t.Fatal(err)
	}
	if err := s.RememberSpentToken(ctx, store.SpentToken{Token: "SPENT-TOKEN-MARKER", IDNumber: "110105194901010215", KioskID: "K", ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutPendingIdentification(ctx, store.PendingIdentification{ID: "CANDIDATE-ID-MARKER", IDNumber: "110105194901010215", KioskID: "K", StaffID: staff.ID, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var gotTpl, gotImg []byte
	var keyID string
	if err := db.QueryRow("SELECT template, image, key_id FROM samples").Scan(&gotTpl, &gotImg, &keyID); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(gotTpl, tpl) || bytes.Contains(gotImg, img) || keyID != "k1" || gotTpl[0] != 0x01 {
		t.Errorf("stored blobs are not sealed: %q %q key %q", gotTpl, gotImg, keyID)
	}
	// Session tokens, spent filing tokens and candidate ids are kept as
	// SHA-256 hashes only.
	for _, tc := range []struct{ query, secret string }{
		{"SELECT token_hash FROM staff_sessions", "SESSION-TOKEN-MARKER"},
		{"SELECT token_hash FROM spent_tokens", "SPENT-TOKEN-MARKER"},
		{"SELECT id_hash FROM pending_identifications", "CANDIDATE-ID-MARKER"},
	} {
		var got []byte
		if err := db.QueryRow(tc.query).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if want := sha256.Sum256([]byte(tc.secret)); !bytes.Equal(got, want[:]) {
			t.Errorf("%s: %x, want the SHA-256 of the secret", tc.query, got)
		}
	}
}

// TestMigrateIdempotent: Migrate applies everything once, then nothing, and a
// database from a newer program is refused.
func TestMigrateIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	ctx := context.Background()
	v, err := Migrate(ctx, path)
	if err != nil || len(v) == 0 || v[0] != 1 {
		t.Fatalf("first Migrate = %v, %v", v, err)
	}
	if v, err := Migrate(ctx, path); err != nil || len(v) != 0 {
		t.Errorf("second Migrate = %v, %v", v, err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)"); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, path, storetest.Options()); err == nil || !strings.Contains(err.Error(), "upgrade the program") {
		t.Errorf("opening a newer schema: %v", err)
	}
}
