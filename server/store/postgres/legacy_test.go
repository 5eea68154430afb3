package postgres

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/qingshan-gov/veinkiosk/server/store"
	"github.com/qingshan-gov/veinkiosk/server/store/internal/sqlcore"
	"github.com/qingshan-gov/veinkiosk/server/store/storetest"
)

// TestSealLegacyDatabase: a database written before migration 0004 (plain
// ID numbers, names, forms, replacement reasons) is sealed at the next open and reads back the
// same; no live row keeps the plaintext.
func TestSealLegacyDatabase(t *testing.T) {
	url := storetest.PostgresURL(t)
	ctx := context.Background()
	db, err := connect(ctx, url)
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
				VALUES ($1, $2, 'F', '1949-12-31', $3, 'G1', 'H-OLD-1', 'active', now(), now())`, []any{id, name, addr}},
			{`INSERT INTO stations (id, name, created_at) VALUES ('S', 's', now())`, nil},
			{`INSERT INTO filings (reference, service_code, resident_id, station_id, department, form, status, reply, due_at, idem_scope, idempotency_key, created_at, updated_at)
				SELECT 'QS-2025-000001', 'dibao_new', id, 'S', 'civil', $1, 'submitted', $2, now(), 'staff:1', 'k', now(), now() FROM residents`, []any{`{"bank_account":"` + bank + `"}`, "回复" + name}},
			{`INSERT INTO verification_attempts (id_number, kiosk_id, result, score, at) VALUES ($1, 'K', 'no_match', 0, now())`, []any{id}},
			{`INSERT INTO lockouts (id_number, failures, updated_at) VALUES ($1, 1, now())`, []any{id}},
			{`INSERT INTO spent_tokens (token_hash, id_number, kiosk_id, expires_at) VALUES ($2, $1, 'K', now() + interval '1 hour')`, []any{id, make([]byte, 32)}},
			{`INSERT INTO kiosks (id, station_id, public_key, status, created_at) VALUES ('K', 'S', $1, 'active', now())`, []any{make([]byte, 32)}},
			{`INSERT INTO staff (username, role, station_id, password_hash, created_at, updated_at) VALUES ('a', 'station_staff', 'S', 'x', now(), now()), ('b', 'supervisor', 'S', 'x', now(), now())`, nil},
			{`INSERT INTO enrolment_replacements (resident_id, status, requested_by, kiosk_id, station_id, previous_score, previous_match, fingers, created_at, decided_by, decided_at, reason)
				SELECT r.id, 'rejected', a.id, 'K', 'S', 0.1, false, '1', now(), b.id, now(), $1 FROM residents r, staff a, staff b WHERE a.username = 'a' AND b.username = 'b'`, []any{"拒绝" + name}},
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

	s, err := Open(ctx, url, storetest.Options())
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.GetResident(ctx, id)
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
	if rps, err := s.ListReplacements(ctx, store.ReplacementFilter{ResidentID: r.ID}); err != nil || len(rps) != 1 || rps[0].Reason != "拒绝"+name {
		t.Errorf("legacy replacements = %+v, %v", rps, err)
	}
	s.Close()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, tb := range []string{"residents", "filings", "verification_attempts", "lockouts", "spent_tokens", "enrolment_replacements"} {
		var txt string
		if err := conn.QueryRow(ctx, `SELECT string_agg(t::text, ' ') FROM `+tb+` t`).Scan(&txt); err != nil {
			t.Fatal(err)
		}
		for _, sec := range []string{id, name, addr, bank} {
			if strings.Contains(txt, sec) {
				t.Errorf("%s still holds %q", tb, sec)
			}
		}
	}
	if _, err := Open(ctx, url, storetest.Options("other")); !errors.Is(err, store.ErrDecrypt) {
		t.Errorf("Open with another ring = %v, want ErrDecrypt", err)
	}
}
