package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/qingshan-gov/veinkiosk/server/store"
	"github.com/qingshan-gov/veinkiosk/server/store/internal/sqlcore"
	"github.com/qingshan-gov/veinkiosk/server/store/storetest"
)

// rawFiles returns the bytes of the database file and its WAL (and shm).
func rawFiles(t *testing.T, path string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = b
	}
	return out
}

func scanNoSecrets(t *testing.T, when string, files map[string][]byte, secrets []string) {
	t.Helper()
	for name, b := range files {
		for _, sec := range secrets {
			if bytes.Contains(b, []byte(sec)) {
				t.Errorf("%s: %s holds %q in plaintext", when, name, sec)
			}
		}
	}
}

// TestNoPersonalPlaintextAtRest fills a database with every kind of record
// and scans the raw bytes of the database file and its WAL, while the store
// is open and after it is closed, for every personal value written.
func TestNoPersonalPlaintextAtRest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	ctx := context.Background()
	s, err := Open(ctx, path, storetest.Options())
	if err != nil {
		t.Fatal(err)
	}
	busy := storetest.PopulateBusy(t, s)
	// The store reads them back.
	r, err := s.GetResident(ctx, busy.IDNumbers[len(busy.IDNumbers)-1])
	if err != nil || r.Name != storetest.BusyName || r.Address != storetest.BusyAddress || r.Household != storetest.BusyHousehold {
		t.Fatalf("GetResident = %+v, %v", r, err)
	}
	f, err := s.GetFiling(ctx, busy.FilingIDs[0])
	if err != nil || !bytes.Contains(f.Form, []byte(storetest.BusyBank)) || f.Reply != storetest.BusyReply {
		t.Fatalf("GetFiling = %+v, %v", f, err)
	}
	files := rawFiles(t, path)
	if len(files[filepath.Base(path)+"-wal"]) == 0 {
		t.Fatal("no WAL while the store is open: the scan would not cover it")
	}
	scanNoSecrets(t, "open", files, busy.Secrets)
	s.Close()
	scanNoSecrets(t, "closed", rawFiles(t, path), busy.Secrets)
}

// TestNoPlaintextScanBites: the raw scan finds a secret written behind the
// store's back, so TestNoPersonalPlaintextAtRest can fail.
func TestNoPlaintextScanBites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	ctx := context.Background()
	s, err := Open(ctx, path, storetest.Options())
	if err != nil {
		t.Fatal(err)
	}
	storetest.PopulateBusy(t, s)
	s.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE staff SET display_name = $1`, storetest.BusyBank); err != nil {
		t.Fatal(err)
	}
	db.Close()
	found := false
	for _, b := range rawFiles(t, path) {
		found = found || bytes.Contains(b, []byte(storetest.BusyBank))
	}
	if !found {
		t.Error("a plaintext value written with SQL is not found by the raw scan")
	}
}

// TestSealLegacyDatabase: a database written before migration 0004 (plain
// ID numbers, names, forms, replacement reasons) is sealed at the next open, reads back the
// same, and keeps no plaintext in the file (secure_delete zeroes the old
// cells).
func TestSealLegacyDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	ctx := context.Background()
	db, err := openDB(path)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := sqlcore.LoadMigrations(migrationFS, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sqlcore.Migrate(ctx, db, ms[:3], migrateConfig); err != nil {
		t.Fatal(err)
	}
	const id, name, addr, bank = "11010519491231002X", "司马旧数据", "旧城区明文路9号", "6222999988887777666"
	err = db.Tx(ctx, sqlcore.WriteTx, func(q sqlcore.Q) error {
		for _, stmt := range []struct {
			sql  string
			args []any
		}{
			{`INSERT INTO residents (id_number, name, gender, birth_date, address, grid_cell, household, status, created_at, updated_at)
				VALUES ($1, $2, 'F', '1949-12-31', $3, 'G1', 'H-OLD-1', 'active', 1, 1)`, []any{id, name, addr}},
			{`INSERT INTO stations (id, name, created_at) VALUES ('S', 's', 1)`, nil},
			{`INSERT INTO filings (reference, service_code, resident_id, station_id, department, form, status, reply, due_at, idem_scope, idempotency_key, created_at, updated_at)
				VALUES ('QS-2025-000001', 'dibao_new', 1, 'S', 'civil', $1, 'submitted', $2, 1, 'staff:1', 'k', 1, 1)`, []any{`{"bank_account":"` + bank + `"}`, "回复" + name}},
			{`INSERT INTO verification_attempts (id_number, resident_id, kiosk_id, result, score, at) VALUES ($1, 1, 'K', 'no_match', 0, 1)`, []any{id}},
			{`INSERT INTO lockouts (id_number, failures, updated_at) VALUES ($1, 1, 1)`, []any{id}},
			{`INSERT INTO id_locks (id_number, locked_at, expires_at) VALUES ($1, 1, 9223372036854775807)`, []any{id}},
			{`INSERT INTO spent_tokens (token_hash, id_number, kiosk_id, expires_at) VALUES (zeroblob(32), $1, 'K', 9223372036854775807)`, []any{id}},
			{`INSERT INTO kiosks (id, station_id, public_key, status, created_at) VALUES ('K', 'S', zeroblob(32), 'active', 1)`, nil},
			{`INSERT INTO staff (username, role, station_id, password_hash, created_at, updated_at) VALUES ('a', 'station_staff', 'S', 'x', 1, 1), ('b', 'supervisor', 'S', 'x', 1, 1)`, nil},
			{`INSERT INTO enrolment_replacements (resident_id, status, requested_by, kiosk_id, station_id, previous_score, previous_match, fingers, created_at, decided_by, decided_at, reason)
				VALUES (1, 'rejected', 1, 'K', 'S', 0.1, 0, '1', 1, 2, 1, $1)`, []any{"拒绝" + name}},
		} {
			if _, err := q.Exec(ctx, stmt.sql, stmt.args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err := Open(ctx, path, storetest.Options())
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.GetResident(ctx, " "+id[:17]+"x ")
	if err != nil || r.Name != name || r.Address != addr || r.Household != "H-OLD-1" || r.BirthDate.Format("2006-01-02") != "1949-12-31" {
		t.Fatalf("legacy resident after sealing = %+v, %v", r, err)
	}
	f, err := storetest.Inspect(s).GetFilingByReference(ctx, "QS-2025-000001")
	if err != nil || !bytes.Contains(f.Form, []byte(bank)) || f.Reply != "回复"+name || f.IDNumber != id {
		t.Fatalf("legacy filing after sealing = %+v, %v", f, err)
	}
	if l, err := s.GetLockout(ctx, id); err != nil || l.Failures != 1 {
		t.Errorf("legacy lockout = %+v, %v", l, err)
	}
	if vs, err := storetest.Inspect(s).ListVerifications(ctx, id, 10); err != nil || len(vs) != 1 {
		t.Errorf("legacy attempts = %+v, %v", vs, err)
	}
	if rp, err := storetest.Inspect(s).GetReplacement(ctx, 1, false); err != nil || rp.Reason != "拒绝"+name {
		t.Errorf("legacy replacement reason = %q, %v", rp.Reason, err)
	}
	if n, err := storetest.Inspect(s).CountIDLocks(ctx, id, f.CreatedAt); err != nil || n != 1 {
		t.Errorf("legacy id locks = %d, %v", n, err)
	}
	s.Close()
	// Opening again does nothing more and still reads.
	s, err = Open(ctx, path, storetest.Options())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetResident(ctx, id); err != nil {
		t.Fatal(err)
	}
	s.Close()
	scanNoSecrets(t, "after sealing", rawFiles(t, path), []string{id, name, addr, bank})
	// A foreign key ring cannot open it.
	if _, err := Open(ctx, path, storetest.Options("other")); !errors.Is(err, store.ErrDecrypt) {
		t.Errorf("Open with another ring = %v, want ErrDecrypt", err)
	}
}

// TestReconcileTamper: changes made in SQL behind the store's back are
// named by audit.Reconcile.
func TestReconcileTamper(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	s, err := Open(context.Background(), path, storetest.Options())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	busy := storetest.PopulateBusy(t, s)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	storetest.ReconcileTamperTest(t, s, busy, func(t *testing.T, query string, args ...any) {
		t.Helper()
		if _, err := db.Exec(query, args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	})
}
