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

// TestSealLegacyDatabase: storetest.SealLegacy on SQLite; at rest, the
// bytes of the database file, its WAL and shm (secure_delete zeroes the old
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
	storetest.SealLegacy(t, storetest.Legacy{
		DB: db, Now: "1", Later: "9223372036854775807",
		Open:   func(o store.Options) (store.Store, error) { return Open(ctx, path, o) },
		AtRest: func(t *testing.T) map[string][]byte { return rawFiles(t, path) },
	})
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
