package sqlite

import (
	"context"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
	"github.com/qingshan-gov/veinkiosk/server/store/internal/sqlcore"
	"github.com/qingshan-gov/veinkiosk/server/store/storetest"
)

// TestMigration0010RebuildsStaff: SQLite cannot widen the staff role's
// CHECK in place, so 0010 rebuilds staff. A database with staff, a live
// session and rows referring to staff migrates with every account, the
// session (not logged out) and the references intact, foreign keys still
// enforced, and the new role accepted.
func TestMigration0010RebuildsStaff(t *testing.T) {
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
	var before []sqlcore.Migration
	for _, m := range ms {
		if m.Version < 10 {
			before = append(before, m)
		}
	}
	if _, err := sqlcore.Migrate(ctx, db, before, migrateConfig); err != nil {
		t.Fatal(err)
	}
	const tok = "session-token-from-before-0010"
	h := sha256.Sum256([]byte(tok))
	now := time.Now().UTC()
	us := func(t time.Time) int64 { return t.UnixMicro() }
	err = db.Tx(ctx, sqlcore.WriteTx, func(q sqlcore.Q) error {
		for _, stmt := range []struct {
			sql  string
			args []any
		}{
			{`INSERT INTO stations (id, name, created_at) VALUES ('S', 's', 1)`, nil},
			{`INSERT INTO kiosks (id, station_id, public_key, status, created_at) VALUES ('K', 'S', zeroblob(32), 'active', 1)`, nil},
			{`INSERT INTO staff (username, display_name, role, station_id, password_hash, created_at, updated_at) VALUES ('a', '甲', 'station_staff', 'S', '$argon2id$x', 1, 2), ('b', '', 'supervisor', 'S', '$argon2id$y', 1, 1)`, nil},
			{`INSERT INTO staff_sessions (token_hash, staff_id, username, role, station_id, created_at, last_seen, idle_us, expires_at, idle_until)
				VALUES ($1, 1, 'a', 'station_staff', 'S', $2, $2, $3, $4, $4)`, []any{h[:], us(now), time.Hour.Microseconds(), us(now.Add(time.Hour))}},
			{`INSERT INTO residents (id_key, pii, name, gender, address, grid_cell, household, status, created_at, updated_at)
				VALUES ('k', x'00', '', 'F', '', 'G1', '', 'active', 1, 1)`, nil},
			{`INSERT INTO enrolment_replacements (resident_id, status, requested_by, kiosk_id, station_id, previous_score, previous_match, fingers, created_at, decided_by, decided_at, reason)
				VALUES (1, 'rejected', 1, 'K', 'S', 0.1, 0, '1', 1, 2, 1, '')`, nil},
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
		t.Fatalf("open (migrating to 0010): %v", err)
	}
	a, err := s.GetStaff(ctx, 1)
	if err != nil || a.Username != "a" || a.DisplayName != "甲" || a.Role != store.RoleStationStaff || a.StationID != "S" || a.GridCell != "" || a.UpdatedAt.UnixMicro() != 2 {
		t.Fatalf("staff after 0010: %+v, %v", a, err)
	}
	if ss, err := s.TouchSession(ctx, tok, now.Add(time.Minute)); err != nil || ss.StaffID != 1 {
		t.Fatalf("the session from before 0010: %+v, %v", ss, err)
	}
	gw, err := s.CreateStaff(ctx, audit.System("test"), store.Staff{Username: "grid", Role: store.RoleGridWorker, GridCell: "G1", PasswordHash: "$argon2id$z"})
	if err != nil || gw.ID != 3 {
		t.Fatalf("grid worker after 0010: %+v, %v", gw, err)
	}
	s.Close()

	db, err = openDB(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Tx(ctx, sqlcore.WriteTx, func(q sqlcore.Q) error {
		rows, err := q.Query(ctx, `PRAGMA foreign_key_check`)
		if err != nil {
			return err
		}
		n := 0
		for rows.Next() {
			n++
		}
		rows.Close()
		if n != 0 {
			t.Errorf("%d foreign key violations after 0010", n)
		}
		_, err = q.Exec(ctx, `INSERT INTO visits (resident_id, grid_cell, staff_id, visited_at, created_at) VALUES (1, 'G1', 999, 1, 1)`)
		if err == nil {
			t.Error("a visit by staff 999 was accepted: foreign keys are not enforced")
		}
		return errors.New("rollback")
	})
	if err == nil {
		t.Fatal("rollback expected")
	}
}
