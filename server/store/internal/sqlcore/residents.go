package sqlcore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// residentCols are the columns of a resident row; the ID number, name,
// address, birth date and household are in the sealed pii (seal.go).
const residentCols = `r.id, r.id_key, r.pii, r.gender, r.grid_cell, r.status, r.created_at, r.updated_at`

// scanResident scans residentCols; the caller opens the sealed part with
// openResident(r, ref.key, ref.sealed).
func scanResident(row interface{ Scan(...any) error }, r *store.Resident, ref *residentRef) error {
	var status string
	err := row.Scan(&r.ID, &ref.key, &ref.sealed, &r.Gender, &r.GridCell, &status, tm{&r.CreatedAt}, tm{&r.UpdatedAt})
	r.Status = store.ResidentStatus(status)
	return err
}

func normCategories(cs []string) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		c = strings.TrimSpace(c)
		if c != "" {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func validateResident(r *store.Resident) error {
	r.IDNumber = canonID(r.IDNumber)
	if r.IDNumber == "" || len(r.IDNumber) > 32 {
		return invalid("resident id_number must have 1..32 characters")
	}
	if strings.TrimSpace(r.Name) == "" {
		return invalid("resident name is empty")
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{{"name", r.Name, 128}, {"address", r.Address, 512}, {"grid_cell", r.GridCell, 64}, {"household", r.Household, 64}, {"phone", r.Phone, 32}} {
		if len(f.v) > f.max {
			return invalid("resident %s longer than %d bytes", f.name, f.max)
		}
	}
	switch r.Gender {
	case "M", "F", "":
	default:
		return invalid("resident gender %q: want M, F or empty", r.Gender)
	}
	switch r.Status {
	case "", store.ResidentActive, store.ResidentSuspended:
	default:
		return invalid("resident status %q", r.Status)
	}
	r.Categories = normCategories(r.Categories)
	return nil
}

func sameResident(a, b store.Resident) bool {
	return (b.Phone == "" || a.Phone == b.Phone) && a.Name == b.Name && a.Gender == b.Gender && a.BirthDate.Equal(b.BirthDate) && a.Address == b.Address &&
		a.GridCell == b.GridCell && a.Household == b.Household && slices.Equal(a.Categories, b.Categories) &&
		(b.Status == "" || a.Status == b.Status)
}

// ImportResidents upserts a batch.
func (s *Store) ImportResidents(ctx context.Context, actor audit.Actor, rs []store.Resident) (store.ImportStats, error) {
	var st store.ImportStats
	if err := checkActor(actor); err != nil {
		return st, err
	}
	batch := make([]store.Resident, len(rs))
	seen := make(map[string]bool, len(rs))
	for i, r := range rs {
		if err := validateResident(&r); err != nil {
			return st, fmt.Errorf("row %d: %w", i+1, err)
		}
		if seen[r.IDNumber] {
			return st, fmt.Errorf("row %d: %w: id_number repeated in the batch", i+1, store.ErrInvalid)
		}
		seen[r.IDNumber] = true
		batch[i] = r
	}
	now := s.now()
	err := s.tx(ctx, WriteTx, func(q Q) error {
		st = store.ImportStats{}
		for _, r := range batch {
			old, err := s.getResident(ctx, q, `r.id_key = $1`, s.idKey(r.IDNumber))
			switch {
			case err == nil:
				if sameResident(old, r) {
					st.Unchanged++
					continue
				}
				status := old.Status
				if r.Status != "" {
					status = r.Status
				}
				if r.Phone == "" {
					r.Phone = old.Phone // the population database has no phones: the grid worker's stays
				}
				_, sealed, err := s.sealResident(r)
				if err != nil {
					return err
				}
				if _, err := q.Exec(ctx, `UPDATE residents SET pii=$2, gender=$3, grid_cell=$4, status=$5, updated_at=$6 WHERE id=$1`,
					old.ID, sealed, r.Gender, r.GridCell, string(status), s.t(now)); err != nil {
					return err
				}
				if !slices.Equal(old.Categories, r.Categories) {
					if err := s.setCategories(ctx, q, old.ID, r.Categories); err != nil {
						return err
					}
				}
				st.Updated++
			case isNotFound(err):
				status := r.Status
				if status == "" {
					status = store.ResidentActive
				}
				key, sealed, err := s.sealResident(r)
				if err != nil {
					return err
				}
				var id int64
				if err := q.QueryRow(ctx, `INSERT INTO residents (id_key, pii, name, gender, address, grid_cell, household, status, created_at, updated_at)
					VALUES ($1, $2, '', $3, '', $4, '', $5, $6, $6) RETURNING id`,
					key, sealed, r.Gender, r.GridCell, string(status), s.t(now)).Scan(&id); err != nil {
					return err
				}
				if err := s.setCategories(ctx, q, id, r.Categories); err != nil {
					return err
				}
				st.Inserted++
			default:
				return err
			}
		}
		_, err := s.appendAudit(ctx, q, ev(actor, now, "resident.import", "",
			"inserted", itoa(int64(st.Inserted)), "updated", itoa(int64(st.Updated)), "unchanged", itoa(int64(st.Unchanged))))
		return err
	})
	return st, err
}

func (s *Store) setCategories(ctx context.Context, q Q, id int64, cs []string) error {
	if _, err := q.Exec(ctx, `DELETE FROM resident_categories WHERE resident_id = $1`, id); err != nil {
		return err
	}
	for _, c := range cs {
		if _, err := q.Exec(ctx, `INSERT INTO resident_categories (resident_id, category) VALUES ($1, $2)`, id, c); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) categories(ctx context.Context, q Q, id int64) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT category FROM resident_categories WHERE resident_id = $1 ORDER BY category`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cs := []string{}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	return cs, rows.Err()
}

func (s *Store) getResident(ctx context.Context, q Q, where string, arg any) (store.Resident, error) {
	var r store.Resident
	var ref residentRef
	if err := scanResident(q.QueryRow(ctx, `SELECT `+residentCols+` FROM residents r WHERE `+where, arg), &r, &ref); err != nil {
		return r, notFound(err, "resident", "")
	}
	if err := s.openResident(&r, ref.key, ref.sealed); err != nil {
		return r, err
	}
	var err error
	r.Categories, err = s.categories(ctx, q, r.ID)
	return r, err
}

// GetResident returns a resident by ID number.
func (s *Store) GetResident(ctx context.Context, idNumber string) (store.Resident, error) {
	var r store.Resident
	err := s.tx(ctx, ReadTx, func(q Q) error {
		var err error
		r, err = s.getResident(ctx, q, `r.id_key = $1`, s.idKey(idNumber))
		return err
	})
	return r, err
}

// GetResidentByID returns a resident by internal id.
func (s *Store) GetResidentByID(ctx context.Context, id int64) (store.Resident, error) {
	var r store.Resident
	err := s.tx(ctx, ReadTx, func(q Q) error {
		var err error
		r, err = s.getResident(ctx, q, `r.id = $1`, id)
		return err
	})
	return r, err
}

// ListResidents pages through residents.
func (s *Store) ListResidents(ctx context.Context, f store.ResidentFilter) ([]store.Resident, error) {
	w := &where{}
	w.add(`r.id > `, f.AfterID)
	if f.GridCell != "" {
		w.add(`r.grid_cell = `, f.GridCell)
	}
	if f.Status != "" {
		w.add(`r.status = `, string(f.Status))
	}
	if f.Category != "" {
		w.add(`EXISTS (SELECT 1 FROM resident_categories c WHERE c.resident_id = r.id AND c.category = `, f.Category, `)`)
	}
	query := `SELECT ` + residentCols + ` FROM residents r WHERE ` + w.String() + ` ORDER BY r.id LIMIT ` + itoa(int64(limit(f.Limit)))
	var out []store.Resident
	err := s.tx(ctx, ReadTx, func(q Q) error {
		out = nil
		rows, err := q.Query(ctx, query, w.args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var r store.Resident
			var ref residentRef
			if err := scanResident(rows, &r, &ref); err != nil {
				rows.Close()
				return err
			}
			if err := s.openResident(&r, ref.key, ref.sealed); err != nil {
				rows.Close()
				return err
			}
			out = append(out, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i := range out {
			if out[i].Categories, err = s.categories(ctx, q, out[i].ID); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// SetResidentStatus suspends or reactivates a resident.
func (s *Store) SetResidentStatus(ctx context.Context, actor audit.Actor, idNumber string, status store.ResidentStatus, reason string) error {
	if err := checkActor(actor); err != nil {
		return err
	}
	if status != store.ResidentActive && status != store.ResidentSuspended {
		return invalid("resident status %q", status)
	}
	now := s.now()
	return s.tx(ctx, WriteTx, func(q Q) error {
		var id int64
		if err := q.QueryRow(ctx, `UPDATE residents SET status = $2, updated_at = $3 WHERE id_key = $1 RETURNING id`,
			s.idKey(idNumber), string(status), s.t(now)).Scan(&id); err != nil {
			return notFound(err, "resident", "")
		}
		_, err := s.appendAudit(ctx, q, ev(actor, now, "resident.status", "resident:"+itoa(id), "status", string(status), "reason", reason))
		return err
	})
}

// where builds a conjunction with numbered placeholders.
type where struct {
	parts []string
	args  []any
}

// add appends prefix + placeholder + suffix.
func (w *where) add(prefix string, arg any, suffix ...string) {
	w.args = append(w.args, arg)
	w.parts = append(w.parts, prefix+"$"+itoa(int64(len(w.args)))+strings.Join(suffix, ""))
}

// in appends "col IN ($n, ...)".
func (w *where) in(col string, vals []any) {
	ph := make([]string, len(vals))
	for i, v := range vals {
		w.args = append(w.args, v)
		ph[i] = "$" + itoa(int64(len(w.args)))
	}
	w.parts = append(w.parts, col+` IN (`+strings.Join(ph, ", ")+`)`)
}

func (w *where) raw(cond string) { w.parts = append(w.parts, cond) }

func (w *where) String() string {
	if len(w.parts) == 0 {
		return "TRUE"
	}
	return strings.Join(w.parts, " AND ")
}
