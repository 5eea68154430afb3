package storetest

import (
	"bytes"
	"errors"
	"testing"

	"github.com/qingshan-gov/veinkiosk/server/store"
	"github.com/qingshan-gov/veinkiosk/server/store/internal/sqlcore"
)

// The personal data of a database written before migration 0004, in
// plaintext.
const (
	legacyID      = "11010519491231002X"
	legacyName    = "司马旧数据"
	legacyAddress = "旧城区明文路9号"
	legacyBank    = "6222999988887777666"
)

// Legacy is a backend's database for SealLegacy.
type Legacy struct {
	// DB holds the schema of migrations 1-3 (before personal data was
	// sealed); SealLegacy writes its rows and closes it.
	DB sqlcore.DB
	// Now is the dialect's SQL for the current time, Later for a time an
	// hour or more ahead.
	Now, Later string
	// Open opens the store over the database (the first open seals it).
	Open Opener
	// AtRest returns what the database keeps, by place (a file, a table),
	// for a byte scan.
	AtRest func(t *testing.T) map[string][]byte
}

// SealLegacy is each backend's TestSealLegacyDatabase: a database written
// before migration 0004 (plain ID numbers, names, addresses, forms,
// replies, replacement reasons) is sealed at the next open, reads back the
// same, is left alone by the open after, keeps none of the plaintext at
// rest, and cannot be opened with another key ring.
func SealLegacy(t *testing.T, l Legacy) {
	t.Helper()
	c := ctx(t)
	now, later := l.Now, l.Later
	err := l.DB.Tx(c, sqlcore.WriteTx, func(q sqlcore.Q) error {
		for _, stmt := range []struct {
			sql  string
			args []any
		}{
			{`INSERT INTO residents (id_number, name, gender, birth_date, address, grid_cell, household, status, created_at, updated_at)
				VALUES ($1, $2, 'F', '1949-12-31', $3, 'G1', 'H-OLD-1', 'active', ` + now + `, ` + now + `)`, []any{legacyID, legacyName, legacyAddress}},
			{`INSERT INTO stations (id, name, created_at) VALUES ('S', 's', ` + now + `)`, nil},
			{`INSERT INTO filings (reference, service_code, resident_id, station_id, department, form, status, reply, due_at, idem_scope, idempotency_key, created_at, updated_at)
				SELECT 'QS-2025-000001', 'dibao_new', id, 'S', 'civil', $1, 'submitted', $2, ` + now + `, 'staff:1', 'k', ` + now + `, ` + now + ` FROM residents`,
				[]any{`{"bank_account":"` + legacyBank + `"}`, "回复" + legacyName}},
			{`INSERT INTO verification_attempts (id_number, resident_id, kiosk_id, result, score, at)
				SELECT $1, id, 'K', 'no_match', 0, ` + now + ` FROM residents`, []any{legacyID}},
			{`INSERT INTO lockouts (id_number, failures, updated_at) VALUES ($1, 1, ` + now + `)`, []any{legacyID}},
			{`INSERT INTO id_locks (id_number, locked_at, expires_at) VALUES ($1, ` + now + `, ` + later + `)`, []any{legacyID}},
			{`INSERT INTO spent_tokens (token_hash, id_number, kiosk_id, expires_at) VALUES ($2, $1, 'K', ` + later + `)`, []any{legacyID, make([]byte, 32)}},
			{`INSERT INTO kiosks (id, station_id, public_key, status, created_at) VALUES ('K', 'S', $1, 'active', ` + now + `)`, []any{make([]byte, 32)}},
			{`INSERT INTO staff (username, role, station_id, password_hash, created_at, updated_at)
				VALUES ('a', 'station_staff', 'S', 'x', ` + now + `, ` + now + `), ('b', 'supervisor', 'S', 'x', ` + now + `, ` + now + `)`, nil},
			{`INSERT INTO enrolment_replacements (resident_id, status, requested_by, kiosk_id, station_id, previous_score, previous_match, fingers, created_at, decided_by, decided_at, reason)
				SELECT r.id, 'rejected', a.id, 'K', 'S', 0.1, false, '1', ` + now + `, b.id, ` + now + `, $1 FROM residents r, staff a, staff b
				WHERE a.username = 'a' AND b.username = 'b'`, []any{"拒绝" + legacyName}},
		} {
			if _, err := q.Exec(c, stmt.sql, stmt.args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	l.DB.Close()

	s, err := l.Open(Options())
	if err != nil {
		t.Fatal(err)
	}
	// Looked up by another spelling of the ID number: the blind index is
	// of the canonical form.
	r, err := s.GetResident(c, " "+legacyID[:17]+"x ")
	if err != nil || r.Name != legacyName || r.Address != legacyAddress || r.Household != "H-OLD-1" || r.BirthDate.Format("2006-01-02") != "1949-12-31" {
		t.Fatalf("legacy resident after sealing = %+v, %v", r, err)
	}
	f, err := Inspect(s).GetFilingByReference(c, "QS-2025-000001")
	if err != nil || !bytes.Contains(f.Form, []byte(legacyBank)) || f.Reply != "回复"+legacyName || f.IDNumber != legacyID {
		t.Fatalf("legacy filing after sealing = %+v, %v", f, err)
	}
	if lo, err := s.GetLockout(c, legacyID); err != nil || lo.Failures != 1 {
		t.Errorf("legacy lockout = %+v, %v", lo, err)
	}
	if vs, err := Inspect(s).ListVerifications(c, legacyID, 10); err != nil || len(vs) != 1 {
		t.Errorf("legacy attempts = %+v, %v", vs, err)
	}
	if rps, err := s.ListReplacements(c, store.ReplacementFilter{ResidentID: r.ID}); err != nil || len(rps) != 1 || rps[0].Reason != "拒绝"+legacyName {
		t.Errorf("legacy replacements = %+v, %v", rps, err)
	}
	if n, err := Inspect(s).CountIDLocks(c, legacyID, f.CreatedAt); err != nil || n != 1 {
		t.Errorf("legacy id locks = %d, %v", n, err)
	}
	s.Close()
	// Opening again does nothing more and still reads.
	if s, err = l.Open(Options()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetResident(c, legacyID); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for place, b := range l.AtRest(t) {
		for _, sec := range []string{legacyID, legacyName, legacyAddress, legacyBank} {
			if bytes.Contains(b, []byte(sec)) {
				t.Errorf("after sealing, %s holds %q in plaintext", place, sec)
			}
		}
	}
	// A foreign key ring cannot open it.
	if _, err := l.Open(Options("other")); !errors.Is(err, store.ErrDecrypt) {
		t.Errorf("Open with another ring = %v, want ErrDecrypt", err)
	}
}
