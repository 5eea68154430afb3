package sqlcore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// Grid workers (store.GridStore, docs/grid.md).

func adVisitNote(id int64) string { return "veinkiosk/visit-note/v1|" + itoa(id) }

func splitList(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

// UpdateResident changes a resident of the grid worker's cell.
func (s *Store) UpdateResident(ctx context.Context, actor audit.Actor, u store.ResidentUpdate) (store.Resident, store.ResidentChange, error) {
	var out store.Resident
	var ch store.ResidentChange
	if err := checkActor(actor); err != nil {
		return out, ch, err
	}
	if u.GridCell == "" {
		return out, ch, invalid("the grid worker's grid cell is required")
	}
	if u.Household == nil && u.Categories == nil && u.Phone == nil {
		return out, ch, invalid("nothing to change")
	}
	at := s.at(u.At)
	err := s.tx(ctx, WriteTx, func(q Q) error {
		var cell string
		if err := q.QueryRow(ctx, `SELECT grid_cell FROM residents WHERE id = $1`+s.d.ForUpdate, u.ResidentID).Scan(&cell); err != nil {
			return notFound(err, "resident", u.ResidentID)
		}
		if cell != u.GridCell {
			// Not the grid worker's resident: told as not existing.
			return fmt.Errorf("%w: resident %d in grid cell %q", store.ErrNotFound, u.ResidentID, u.GridCell)
		}
		old, err := s.getResident(ctx, q, `r.id = $1`, u.ResidentID)
		if err != nil {
			return err
		}
		r := old
		ch = store.ResidentChange{ResidentID: r.ID, GridCell: cell, Actor: actor, At: at, Added: []string{}, Removed: []string{}}
		if u.Household != nil && strings.TrimSpace(*u.Household) != r.Household {
			r.Household = strings.TrimSpace(*u.Household)
			ch.Fields = append(ch.Fields, store.ChangeHousehold)
		}
		if u.Categories != nil {
			cs := normCategories(*u.Categories)
			if !slices.Equal(cs, r.Categories) {
				for _, c := range cs {
					if !slices.Contains(r.Categories, c) {
						ch.Added = append(ch.Added, c)
					}
				}
				for _, c := range r.Categories {
					if !slices.Contains(cs, c) {
						ch.Removed = append(ch.Removed, c)
					}
				}
				r.Categories = cs
				ch.Fields = append(ch.Fields, store.ChangeCategories)
			}
		}
		if u.Phone != nil && strings.TrimSpace(*u.Phone) != r.Phone {
			r.Phone = strings.TrimSpace(*u.Phone)
			ch.Fields = append(ch.Fields, store.ChangePhone)
		}
		if len(ch.Fields) == 0 {
			return invalid("the change changes nothing")
		}
		for _, c := range r.Categories {
			if len(c) > 32 || strings.ContainsAny(c, ", \t\r\n") {
				return invalid("category %q: at most 32 bytes, no commas or spaces", c)
			}
		}
		if err := validateResident(&r); err != nil {
			return err
		}
		_, sealed, err := s.sealResident(r)
		if err != nil {
			return err
		}
		if _, err := q.Exec(ctx, `UPDATE residents SET pii = $2, updated_at = $3 WHERE id = $1`, r.ID, sealed, s.t(at)); err != nil {
			return err
		}
		if slices.Contains(ch.Fields, store.ChangeCategories) {
			if err := s.setCategories(ctx, q, r.ID, r.Categories); err != nil {
				return err
			}
		}
		if err := q.QueryRow(ctx, `INSERT INTO resident_changes (resident_id, grid_cell, fields, added, removed, actor_type, actor_id, at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
			r.ID, cell, strings.Join(ch.Fields, ","), strings.Join(ch.Added, ","), strings.Join(ch.Removed, ","),
			string(actor.Type), actor.ID, s.t(at)).Scan(&ch.ID); err != nil {
			return err
		}
		if _, err := s.appendAudit(ctx, q, ev(actor, at, "resident.update", "resident:"+itoa(r.ID),
			"grid_cell", cell, "fields", strings.Join(ch.Fields, ","), "change", itoa(ch.ID))); err != nil {
			return err
		}
		r.UpdatedAt = at
		out = r
		return nil
	})
	if err != nil {
		return store.Resident{}, store.ResidentChange{}, err
	}
	return out, ch, nil
}

// ResidentChanges lists a cell's changes since a time, newest first.
func (s *Store) ResidentChanges(ctx context.Context, gridCell string, since time.Time) ([]store.ResidentChange, error) {
	q, err := s.q()
	if err != nil {
		return nil, err
	}
	return queryAll(ctx, q, func(rows Rows) (c store.ResidentChange, err error) {
		var fields, added, removed string
		err = rows.Scan(&c.ID, &c.ResidentID, &c.GridCell, &fields, &added, &removed, &c.Actor.Type, &c.Actor.ID, tm{&c.At})
		c.Fields, c.Added, c.Removed = splitList(fields), splitList(added), splitList(removed)
		return c, err
	}, `SELECT id, resident_id, grid_cell, fields, added, removed, actor_type, actor_id, at FROM resident_changes
		WHERE grid_cell = $1 AND at >= $2 ORDER BY at DESC, id DESC LIMIT 1000`, gridCell, s.t(since))
}

// RecordVisit records a visit to a resident of the grid worker's cell.
func (s *Store) RecordVisit(ctx context.Context, actor audit.Actor, nv store.NewVisit) (store.Visit, error) {
	var v store.Visit
	if err := checkActor(actor); err != nil {
		return v, err
	}
	if nv.GridCell == "" || nv.StaffID == 0 {
		return v, invalid("a visit needs the grid worker and their grid cell")
	}
	if len(nv.Note) > store.MaxVisitNote {
		return v, invalid("visit note longer than %d bytes", store.MaxVisitNote)
	}
	now := s.now()
	at := s.at(nv.At)
	if at.After(now.Add(time.Minute)) {
		return v, invalid("a visit cannot be in the future")
	}
	err := s.tx(ctx, WriteTx, func(q Q) error {
		var cell string
		if err := q.QueryRow(ctx, `SELECT grid_cell FROM residents WHERE id = $1`, nv.ResidentID).Scan(&cell); err != nil {
			return notFound(err, "resident", nv.ResidentID)
		}
		if cell != nv.GridCell {
			return fmt.Errorf("%w: resident %d in grid cell %q", store.ErrNotFound, nv.ResidentID, nv.GridCell)
		}
		v = store.Visit{ResidentID: nv.ResidentID, GridCell: cell, StaffID: nv.StaffID, Note: nv.Note, At: at, CreatedAt: now}
		if err := q.QueryRow(ctx, `INSERT INTO visits (resident_id, grid_cell, staff_id, note, visited_at, created_at)
			VALUES ($1, $2, $3, '', $4, $5) RETURNING id`, v.ResidentID, cell, v.StaffID, s.t(at), s.t(now)).Scan(&v.ID); err != nil {
			return err
		}
		if nv.Note != "" {
			sealed, err := s.sealText(nv.Note, adVisitNote(v.ID))
			if err != nil {
				return err
			}
			if _, err := q.Exec(ctx, `UPDATE visits SET note = $2 WHERE id = $1`, v.ID, sealed); err != nil {
				return err
			}
		}
		_, err := s.appendAudit(ctx, q, ev(actor, now, "visit.record", "resident:"+itoa(v.ResidentID),
			"grid_cell", cell, "visit", itoa(v.ID), "visited_at", at.Format(time.RFC3339), "staff", itoa(v.StaffID)))
		return err
	})
	if err != nil {
		return store.Visit{}, err
	}
	return v, nil
}

// LastVisits returns each visited resident's latest visit in a cell.
func (s *Store) LastVisits(ctx context.Context, gridCell string) (map[int64]time.Time, error) {
	q, err := s.q()
	if err != nil {
		return nil, err
	}
	type row struct {
		id int64
		at time.Time
	}
	rows, err := queryAll(ctx, q, func(rows Rows) (r row, err error) {
		return r, rows.Scan(&r.id, tm{&r.at})
	}, `SELECT v.resident_id, max(v.visited_at) FROM visits v JOIN residents r ON r.id = v.resident_id
		WHERE r.grid_cell = $1 GROUP BY v.resident_id`, gridCell)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]time.Time, len(rows))
	for _, r := range rows {
		out[r.id] = r.at
	}
	return out, nil
}

// ListVisits lists a resident's visits, newest first.
func (s *Store) ListVisits(ctx context.Context, residentID int64, limit int) ([]store.Visit, error) {
	q, err := s.q()
	if err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 200 {
		limit = 200
	}
	vs, err := queryAll(ctx, q, func(rows Rows) (v store.Visit, err error) {
		return v, rows.Scan(&v.ID, &v.ResidentID, &v.GridCell, &v.StaffID, &v.Note, tm{&v.At}, tm{&v.CreatedAt})
	}, `SELECT id, resident_id, grid_cell, staff_id, note, visited_at, created_at FROM visits
		WHERE resident_id = $1 ORDER BY visited_at DESC, id DESC LIMIT $2`, residentID, limit)
	if err != nil {
		return nil, err
	}
	for i := range vs {
		if vs[i].Note, err = s.openText(vs[i].Note, adVisitNote(vs[i].ID)); err != nil {
			return nil, err
		}
	}
	return vs, nil
}

// sealedVisits is where key rotation (reencryptPersonal) finds the sealed
// visit notes.
var sealedVisits = sealedRows[int64]{
	query:  `SELECT id, note FROM visits WHERE id > $1 ORDER BY id LIMIT $2`,
	update: `UPDATE visits SET note = $2 WHERE id = $1`,
	cols:   []sealedCol[int64]{{ad: adByID(adVisitNote)}},
}

// Certify records a pensioner's proof of life once a year.
func (s *Store) Certify(ctx context.Context, actor audit.Actor, nc store.NewCertification) (store.Certification, bool, error) {
	var c store.Certification
	var created bool
	if err := checkActor(actor); err != nil {
		return c, false, err
	}
	if nc.Token == "" || nc.KioskID == "" || nc.StationID == "" {
		return c, false, invalid("a certification needs the filing token, the kiosk and the station")
	}
	if nc.Year < 2000 || nc.Year > 2200 {
		return c, false, invalid("certification year %d", nc.Year)
	}
	at := s.at(nc.At)
	err := s.tx(ctx, WriteTx, func(q Q) error {
		created = false
		_, rid, err := s.filingToken(ctx, q, nc.Token, nc.KioskID, at, s.d.ForUpdate)
		if err != nil {
			return err
		}
		n, err := q.Exec(ctx, `INSERT INTO certifications (resident_id, year, kiosk_id, station_id, certified_at)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (resident_id, year) DO NOTHING`, rid, nc.Year, nc.KioskID, nc.StationID, s.t(at))
		if err != nil {
			return err
		}
		if err := q.QueryRow(ctx, `SELECT resident_id, year, kiosk_id, station_id, certified_at FROM certifications
			WHERE resident_id = $1 AND year = $2`, rid, nc.Year).Scan(&c.ResidentID, &c.Year, &c.KioskID, &c.StationID, tm{&c.CertifiedAt}); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		created = true
		_, err = s.appendAudit(ctx, q, ev(actor, at, "pension.certify", "resident:"+itoa(rid),
			"year", itoa(int64(nc.Year)), "kiosk", nc.KioskID, "station", nc.StationID))
		return err
	})
	if err != nil {
		return store.Certification{}, false, err
	}
	return c, created, nil
}

// Certifications returns a year's certifications of a cell's residents.
func (s *Store) Certifications(ctx context.Context, gridCell string, year int) (map[int64]store.Certification, error) {
	q, err := s.q()
	if err != nil {
		return nil, err
	}
	cs, err := queryAll(ctx, q, func(rows Rows) (c store.Certification, err error) {
		return c, rows.Scan(&c.ResidentID, &c.Year, &c.KioskID, &c.StationID, tm{&c.CertifiedAt})
	}, `SELECT c.resident_id, c.year, c.kiosk_id, c.station_id, c.certified_at FROM certifications c
		JOIN residents r ON r.id = c.resident_id WHERE r.grid_cell = $1 AND c.year = $2`, gridCell, year)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]store.Certification, len(cs))
	for _, c := range cs {
		out[c.ResidentID] = c
	}
	return out, nil
}
