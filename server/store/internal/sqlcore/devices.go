package sqlcore

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"math"
	"strings"
	"unicode"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// ---- staff ----

const staffCols = `id, username, display_name, role, department, station_id, password_hash, disabled, created_at, updated_at, grid_cell`

func scanStaff(row interface{ Scan(...any) error }) (store.Staff, error) {
	var st store.Staff
	var role string
	err := row.Scan(&st.ID, &st.Username, &st.DisplayName, &role, &st.Department, nstr{&st.StationID}, &st.PasswordHash, &st.Disabled, tm{&st.CreatedAt}, tm{&st.UpdatedAt}, &st.GridCell)
	st.Role = store.Role(role)
	return st, err
}

func validateStaff(st *store.Staff) error {
	st.Username = identity.CanonicalUsername(st.Username)
	if st.Username == "" || len(st.Username) > 64 {
		return invalid("staff username must have 1..64 characters")
	}
	if strings.IndexFunc(st.Username, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return invalid("staff username must not contain white space or control characters")
	}
	if !st.Role.Valid() {
		return invalid("staff role %q", st.Role)
	}
	if st.Role == store.RoleDepartmentOfficer && st.Department == "" {
		return invalid("a department officer needs a department")
	}
	if st.Role == store.RoleStationStaff && st.StationID == "" {
		return invalid("station staff need a station")
	}
	st.GridCell = strings.TrimSpace(st.GridCell)
	switch {
	case st.Role == store.RoleGridWorker && st.GridCell == "":
		return invalid("a grid worker needs a grid cell")
	case st.Role != store.RoleGridWorker && st.GridCell != "":
		return invalid("only a grid worker has a grid cell")
	case len(st.GridCell) > 64:
		return invalid("staff grid_cell longer than 64 bytes")
	}
	return nil
}

func checkHash(h string) error {
	if !strings.HasPrefix(h, "$argon2id$") {
		return invalid("password hash must be an argon2id PHC string from password.Hash")
	}
	return nil
}

// CreateStaff adds a staff member.
func (s *Store) CreateStaff(ctx context.Context, actor audit.Actor, st store.Staff) (store.Staff, error) {
	if err := checkActor(actor); err != nil {
		return st, err
	}
	if err := validateStaff(&st); err != nil {
		return st, err
	}
	if err := checkHash(st.PasswordHash); err != nil {
		return st, err
	}
	now := s.now()
	st.CreatedAt, st.UpdatedAt = now, now
	err := s.tx(ctx, WriteTx, func(q Q) error {
		// Usernames are stored canonical; lower() also finds a row stored
		// before they were, so "Clerk" cannot be created beside "clerk".
		var n int
		if err := q.QueryRow(ctx, `SELECT count(*) FROM staff WHERE lower(username) = $1`, st.Username).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("staff %q: %w", st.Username, store.ErrAlreadyExists)
		}
		if err := q.QueryRow(ctx, `INSERT INTO staff (username, display_name, role, department, station_id, password_hash, disabled, created_at, updated_at, grid_cell)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9) RETURNING id`,
			st.Username, st.DisplayName, string(st.Role), st.Department, nullIfEmpty(st.StationID), st.PasswordHash, st.Disabled, s.t(now), st.GridCell).Scan(&st.ID); err != nil {
			return fmt.Errorf("staff %q: %w", st.Username, err)
		}
		_, err := s.appendAudit(ctx, q, ev(actor, now, "staff.create", "staff:"+itoa(st.ID), "role", string(st.Role), "station", st.StationID, "department", st.Department,
			"grid_cell", st.GridCell, "disabled", fmt.Sprint(st.Disabled), "password", audit.PasswordDigest(st.PasswordHash)))
		return err
	})
	return st, err
}

// GetStaff returns a staff member by id.
func (s *Store) GetStaff(ctx context.Context, id int64) (store.Staff, error) {
	q, err := s.q()
	if err != nil {
		return store.Staff{}, err
	}
	st, err := scanStaff(q.QueryRow(ctx, `SELECT `+staffCols+` FROM staff WHERE id = $1`, id))
	return st, notFound(err, "staff", id)
}

// GetStaffByUsername returns a staff member by username, in any form that
// canonicalises (identity.CanonicalUsername) to the stored one. lower()
// also matches a username stored before usernames were canonical (they
// are ASCII: the admin API allows letters, digits, '.', '-' and '_').
func (s *Store) GetStaffByUsername(ctx context.Context, username string) (store.Staff, error) {
	q, err := s.q()
	if err != nil {
		return store.Staff{}, err
	}
	username = identity.CanonicalUsername(username)
	st, err := scanStaff(q.QueryRow(ctx, `SELECT `+staffCols+` FROM staff WHERE lower(username) = $1 ORDER BY id LIMIT 1`, username))
	return st, notFound(err, "staff", fmt.Sprintf("%q", username))
}

// ListStaff lists all staff by id.
func (s *Store) ListStaff(ctx context.Context) ([]store.Staff, error) {
	q, err := s.q()
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, `SELECT `+staffCols+` FROM staff ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Staff
	for rows.Next() {
		st, err := scanStaff(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

// UpdateStaff changes a staff member's profile.
func (s *Store) UpdateStaff(ctx context.Context, actor audit.Actor, st store.Staff) (store.Staff, error) {
	if err := checkActor(actor); err != nil {
		return st, err
	}
	now := s.now()
	var out store.Staff
	err := s.tx(ctx, WriteTx, func(q Q) error {
		old, err := scanStaff(q.QueryRow(ctx, `SELECT `+staffCols+` FROM staff WHERE id = $1`+s.d.ForUpdate, st.ID))
		if err != nil {
			return notFound(err, "staff", st.ID)
		}
		st.Username = old.Username
		if err := validateStaff(&st); err != nil {
			return err
		}
		if _, err := q.Exec(ctx, `UPDATE staff SET display_name=$2, role=$3, department=$4, station_id=$5, disabled=$6, updated_at=$7, grid_cell=$8 WHERE id=$1`,
			st.ID, st.DisplayName, string(st.Role), st.Department, nullIfEmpty(st.StationID), st.Disabled, s.t(now), st.GridCell); err != nil {
			return err
		}
		out = old
		out.DisplayName, out.Role, out.Department, out.StationID, out.Disabled, out.UpdatedAt = st.DisplayName, st.Role, st.Department, st.StationID, st.Disabled, now
		out.GridCell = st.GridCell
		_, err = s.appendAudit(ctx, q, ev(actor, now, "staff.update", "staff:"+itoa(st.ID),
			"role", string(st.Role), "station", st.StationID, "department", st.Department, "grid_cell", st.GridCell, "disabled", fmt.Sprint(st.Disabled)))
		return err
	})
	return out, err
}

// ---- stations ----

// CreateStation adds a station.
func (s *Store) CreateStation(ctx context.Context, actor audit.Actor, st store.Station) (store.Station, error) {
	if err := checkActor(actor); err != nil {
		return st, err
	}
	if st.ID = strings.TrimSpace(st.ID); st.ID == "" || len(st.ID) > 64 {
		return st, invalid("station id must have 1..64 characters")
	}
	if strings.TrimSpace(st.Name) == "" {
		return st, invalid("station name is empty")
	}
	now := s.now()
	st.CreatedAt = now
	err := s.tx(ctx, WriteTx, func(q Q) error {
		if _, err := q.Exec(ctx, `INSERT INTO stations (id, name, address, created_at) VALUES ($1, $2, $3, $4)`, st.ID, st.Name, st.Address, s.t(now)); err != nil {
			return fmt.Errorf("station %q: %w", st.ID, err)
		}
		_, err := s.appendAudit(ctx, q, ev(actor, now, "station.create", "station:"+st.ID))
		return err
	})
	return st, err
}

// GetStation returns a station.
func (s *Store) GetStation(ctx context.Context, id string) (store.Station, error) {
	q, err := s.q()
	if err != nil {
		return store.Station{}, err
	}
	var st store.Station
	err = q.QueryRow(ctx, `SELECT id, name, address, created_at FROM stations WHERE id = $1`, id).Scan(&st.ID, &st.Name, &st.Address, tm{&st.CreatedAt})
	return st, notFound(err, "station", fmt.Sprintf("%q", id))
}

// ListStations lists stations by id.
func (s *Store) ListStations(ctx context.Context) ([]store.Station, error) {
	q, err := s.q()
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, `SELECT id, name, address, created_at FROM stations ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Station
	for rows.Next() {
		var st store.Station
		if err := rows.Scan(&st.ID, &st.Name, &st.Address, tm{&st.CreatedAt}); err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

// ---- kiosks ----

const kioskCols = `id, station_id, name, public_key, status, created_at`

func scanKiosk(row interface{ Scan(...any) error }) (store.Kiosk, error) {
	var k store.Kiosk
	var pub []byte
	var status string
	err := row.Scan(&k.ID, &k.StationID, &k.Name, &pub, &status, tm{&k.CreatedAt})
	k.PublicKey, k.Status = ed25519.PublicKey(pub), store.DeviceStatus(status)
	return k, err
}

func validStatus(st store.DeviceStatus) bool {
	return st == store.DeviceActive || st == store.DeviceRevoked
}

// CreateKiosk registers a kiosk.
func (s *Store) CreateKiosk(ctx context.Context, actor audit.Actor, k store.Kiosk) (store.Kiosk, error) {
	if err := checkActor(actor); err != nil {
		return k, err
	}
	if k.ID = strings.TrimSpace(k.ID); k.ID == "" || len(k.ID) > 64 {
		return k, invalid("kiosk id must have 1..64 characters")
	}
	if len(k.PublicKey) != ed25519.PublicKeySize {
		return k, invalid("kiosk public key has %d bytes, want %d", len(k.PublicKey), ed25519.PublicKeySize)
	}
	if k.Status == "" {
		k.Status = store.DeviceActive
	}
	if !validStatus(k.Status) {
		return k, invalid("kiosk status %q", k.Status)
	}
	now := s.now()
	k.CreatedAt = now
	err := s.tx(ctx, WriteTx, func(q Q) error {
		if _, err := q.Exec(ctx, `INSERT INTO kiosks (id, station_id, name, public_key, status, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			k.ID, k.StationID, k.Name, []byte(k.PublicKey), string(k.Status), s.t(now)); err != nil {
			return fmt.Errorf("kiosk %q: %w", k.ID, err)
		}
		_, err := s.appendAudit(ctx, q, ev(actor, now, "kiosk.create", "kiosk:"+k.ID, "station", k.StationID, "status", string(k.Status)))
		return err
	})
	return k, err
}

// GetKiosk returns a kiosk.
func (s *Store) GetKiosk(ctx context.Context, id string) (store.Kiosk, error) {
	q, err := s.q()
	if err != nil {
		return store.Kiosk{}, err
	}
	k, err := scanKiosk(q.QueryRow(ctx, `SELECT `+kioskCols+` FROM kiosks WHERE id = $1`, id))
	return k, notFound(err, "kiosk", fmt.Sprintf("%q", id))
}

// ListKiosks lists kiosks, of one station or all.
func (s *Store) ListKiosks(ctx context.Context, stationID string) ([]store.Kiosk, error) {
	q, err := s.q()
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, `SELECT `+kioskCols+` FROM kiosks WHERE ($1 = '' OR station_id = $1) ORDER BY id`, stationID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Kiosk
	for rows.Next() {
		k, err := scanKiosk(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// SetKioskStatus activates or revokes a kiosk.
func (s *Store) SetKioskStatus(ctx context.Context, actor audit.Actor, id string, status store.DeviceStatus) error {
	return s.setStatus(ctx, actor, "kiosks", "id", "kiosk", id, status)
}

func (s *Store) setStatus(ctx context.Context, actor audit.Actor, table, key, kind, id string, status store.DeviceStatus) error {
	if err := checkActor(actor); err != nil {
		return err
	}
	if !validStatus(status) {
		return invalid("%s status %q", kind, status)
	}
	now := s.now()
	return s.tx(ctx, WriteTx, func(q Q) error {
		n, err := q.Exec(ctx, `UPDATE `+table+` SET status = $2 WHERE `+key+` = $1`, id, string(status))
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: %s %q", store.ErrNotFound, kind, id)
		}
		if kind == "kiosk" {
			if err := s.logChange(ctx, q, store.ChangeKiosk, id, now); err != nil {
				return err
			}
		}
		_, err = s.appendAudit(ctx, q, ev(actor, now, kind+".status", kind+":"+id, "status", string(status)))
		return err
	})
}

// ---- scanners ----

const scannerCols = `serial, model, maker_id, public_key, certificate, kiosk_id, status, counter, created_at`

func scanScanner(row interface{ Scan(...any) error }) (store.Scanner, error) {
	var sc store.Scanner
	var pub []byte
	var status string
	var counter int64
	err := row.Scan(&sc.Serial, &sc.Model, &sc.MakerID, &pub, &sc.Certificate, nstr{&sc.KioskID}, &status, &counter, tm{&sc.CreatedAt})
	sc.PublicKey, sc.Status, sc.Counter = ed25519.PublicKey(pub), store.DeviceStatus(status), uint64(counter)
	return sc, err
}

// CreateScanner registers a scanner.
func (s *Store) CreateScanner(ctx context.Context, actor audit.Actor, sc store.Scanner) (store.Scanner, error) {
	if err := checkActor(actor); err != nil {
		return sc, err
	}
	if sc.Serial = strings.TrimSpace(sc.Serial); sc.Serial == "" || len(sc.Serial) > 64 {
		return sc, invalid("scanner serial must have 1..64 characters")
	}
	if len(sc.PublicKey) != ed25519.PublicKeySize {
		return sc, invalid("scanner public key has %d bytes, want %d", len(sc.PublicKey), ed25519.PublicKeySize)
	}
	if sc.Counter > math.MaxInt64 {
		return sc, invalid("scanner counter out of range")
	}
	if sc.Status == "" {
		sc.Status = store.DeviceActive
	}
	if !validStatus(sc.Status) {
		return sc, invalid("scanner status %q", sc.Status)
	}
	if sc.Certificate == nil {
		sc.Certificate = []byte{}
	}
	now := s.now()
	sc.CreatedAt = now
	err := s.tx(ctx, WriteTx, func(q Q) error {
		if _, err := q.Exec(ctx, `INSERT INTO scanners (serial, model, maker_id, public_key, certificate, kiosk_id, status, counter, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			sc.Serial, sc.Model, sc.MakerID, []byte(sc.PublicKey), sc.Certificate, nullIfEmpty(sc.KioskID), string(sc.Status), int64(sc.Counter), s.t(now)); err != nil {
			return fmt.Errorf("scanner %q: %w", sc.Serial, err)
		}
		_, err := s.appendAudit(ctx, q, ev(actor, now, "scanner.create", "scanner:"+sc.Serial, "model", sc.Model, "maker", sc.MakerID, "kiosk", sc.KioskID,
			"status", string(sc.Status)))
		return err
	})
	return sc, err
}

// GetScanner returns a scanner.
func (s *Store) GetScanner(ctx context.Context, serial string) (store.Scanner, error) {
	q, err := s.q()
	if err != nil {
		return store.Scanner{}, err
	}
	sc, err := scanScanner(q.QueryRow(ctx, `SELECT `+scannerCols+` FROM scanners WHERE serial = $1`, serial))
	return sc, notFound(err, "scanner", fmt.Sprintf("%q", serial))
}

// ListScanners lists scanners by serial.
func (s *Store) ListScanners(ctx context.Context) ([]store.Scanner, error) {
	q, err := s.q()
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, `SELECT `+scannerCols+` FROM scanners ORDER BY serial`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Scanner
	for rows.Next() {
		sc, err := scanScanner(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	return out, rows.Err()
}

// SetScannerStatus activates or revokes a scanner.
func (s *Store) SetScannerStatus(ctx context.Context, actor audit.Actor, serial string, status store.DeviceStatus) error {
	return s.setStatus(ctx, actor, "scanners", "serial", "scanner", serial, status)
}

// AdvanceScannerCounter raises the counter if greater.
func (s *Store) AdvanceScannerCounter(ctx context.Context, serial string, counter uint64) error {
	if counter > math.MaxInt64 {
		return fmt.Errorf("%w: counter %d beyond the stored range", store.ErrStaleCounter, counter)
	}
	return s.tx(ctx, WriteTx, func(q Q) error { return s.advanceCounter(ctx, q, serial, counter) })
}

// advanceCounter raises a scanner's counter in transaction q.
func (s *Store) advanceCounter(ctx context.Context, q Q, serial string, counter uint64) error {
	n, err := q.Exec(ctx, `UPDATE scanners SET counter = $2 WHERE serial = $1 AND counter < $2 AND status = 'active'`, serial, int64(counter))
	if err != nil {
		return err
	}
	if n == 1 {
		return nil
	}
	var status string
	var cur int64
	if err := q.QueryRow(ctx, `SELECT status, counter FROM scanners WHERE serial = $1`, serial).Scan(&status, &cur); err != nil {
		return notFound(err, "scanner", serial)
	}
	if status != string(store.DeviceActive) {
		return fmt.Errorf("%w: scanner %q is %s", store.ErrInactive, serial, status)
	}
	return fmt.Errorf("%w: scanner %q at %d, got %d", store.ErrStaleCounter, serial, cur, counter)
}
