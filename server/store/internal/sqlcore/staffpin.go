package sqlcore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// ---- staff PINs ----

const pinCols = `staff_id, pin_hash, failures, locked_at, set_at, updated_at`

func scanPIN(row interface{ Scan(...any) error }) (store.StaffPIN, error) {
	var p store.StaffPIN
	err := row.Scan(&p.StaffID, &p.Hash, &p.Failures, ntm{&p.LockedAt}, tm{&p.SetAt}, tm{&p.UpdatedAt})
	p.Locked = p.LockedAt != nil
	return p, err
}

// SetStaffPIN implements store.Store.
func (s *Store) SetStaffPIN(ctx context.Context, actor audit.Actor, staffID int64, pinHash string) error {
	if err := checkActor(actor); err != nil {
		return err
	}
	if err := checkHash(pinHash); err != nil {
		return err
	}
	now := s.now()
	return s.tx(ctx, WriteTx, func(q Q) error {
		var n int
		if err := q.QueryRow(ctx, `SELECT count(*) FROM staff WHERE id = $1`, staffID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: staff %d", store.ErrNotFound, staffID)
		}
		if _, err := q.Exec(ctx, `INSERT INTO staff_pins (staff_id, pin_hash, failures, locked_at, set_at, updated_at) VALUES ($1, $2, 0, NULL, $3, $3)
			ON CONFLICT (staff_id) DO UPDATE SET pin_hash = excluded.pin_hash, failures = 0, locked_at = NULL, set_at = excluded.set_at, updated_at = excluded.updated_at`,
			staffID, pinHash, s.t(now)); err != nil {
			return err
		}
		_, err := s.appendAudit(ctx, q, ev(actor, now, "staff.pin_set", "staff:"+itoa(staffID), "pin", audit.PINDigest(pinHash)))
		return err
	})
}

// GetStaffPIN implements store.Store.
func (s *Store) GetStaffPIN(ctx context.Context, staffID int64) (store.StaffPIN, error) {
	q, err := s.q()
	if err != nil {
		return store.StaffPIN{}, err
	}
	p, err := scanPIN(q.QueryRow(ctx, `SELECT `+pinCols+` FROM staff_pins WHERE staff_id = $1`, staffID))
	return p, notFound(err, "staff PIN", staffID)
}

// RecordPINAttempt implements store.Store.
func (s *Store) RecordPINAttempt(ctx context.Context, actor audit.Actor, staffID int64, ok bool, maxFailures int, kioskID string) (store.StaffPIN, error) {
	if err := checkActor(actor); err != nil {
		return store.StaffPIN{}, err
	}
	if maxFailures < 1 {
		return store.StaffPIN{}, invalid("PIN attempt limit %d", maxFailures)
	}
	now := s.now()
	var p store.StaffPIN
	err := s.tx(ctx, WriteTx, func(q Q) error {
		var err error
		p, err = scanPIN(q.QueryRow(ctx, `SELECT `+pinCols+` FROM staff_pins WHERE staff_id = $1`+s.d.ForUpdate, staffID))
		if err != nil {
			return notFound(err, "staff PIN", staffID)
		}
		action := "staff.pin_ok"
		switch {
		case p.Locked:
			action = "staff.pin_refused_locked"
		case ok:
			p.Failures = 0
		default:
			p.Failures++
			action = "staff.pin_failed"
			if p.Failures >= maxFailures {
				at := now.UTC().Truncate(time.Microsecond)
				p.Locked, p.LockedAt, action = true, &at, "staff.pin_locked"
			}
		}
		p.UpdatedAt = now
		if _, err := q.Exec(ctx, `UPDATE staff_pins SET failures = $2, locked_at = $3, updated_at = $4 WHERE staff_id = $1`,
			staffID, p.Failures, s.nt(p.LockedAt), s.t(now)); err != nil {
			return err
		}
		_, err = s.appendAudit(ctx, q, ev(actor, now, action, "staff:"+itoa(staffID), "kiosk", kioskID, "failures", strconv.Itoa(p.Failures)))
		return err
	})
	return p, err
}

// ---- consent to enrolment ----

// RecordConsent implements store.Store.
func (s *Store) RecordConsent(ctx context.Context, actor audit.Actor, c store.EnrolmentConsent) (store.EnrolmentConsent, error) {
	if err := checkActor(actor); err != nil {
		return c, err
	}
	switch {
	case c.ResidentID <= 0:
		return c, invalid("consent without a resident")
	case c.TextVersion == "" || len(c.TextVersion) > 64:
		return c, invalid("consent text version must have 1..64 characters")
	case c.StaffID <= 0:
		return c, invalid("consent without a staff member")
	case c.KioskID == "":
		return c, invalid("consent without a kiosk")
	}
	now := s.now()
	if c.ConsentedAt.IsZero() {
		c.ConsentedAt = now
	}
	c.ConsentedAt = c.ConsentedAt.UTC().Truncate(time.Microsecond)
	c.CreatedAt = now.UTC().Truncate(time.Microsecond)
	err := s.tx(ctx, WriteTx, func(q Q) error {
		if err := q.QueryRow(ctx, `INSERT INTO enrolment_consents (resident_id, text_version, consented_at, staff_id, kiosk_id, created_at)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
			c.ResidentID, c.TextVersion, s.t(c.ConsentedAt), c.StaffID, c.KioskID, s.t(c.CreatedAt)).Scan(&c.ID); err != nil {
			return fmt.Errorf("consent: %w", err)
		}
		_, err := s.appendAudit(ctx, q, ev(actor, now, "enrolment.consent", "resident:"+itoa(c.ResidentID),
			"consent", itoa(c.ID), "text_version", c.TextVersion, "kiosk", c.KioskID, "staff", itoa(c.StaffID)))
		return err
	})
	return c, err
}

// ListConsents implements store.Store.
func (s *Store) ListConsents(ctx context.Context, residentID int64) ([]store.EnrolmentConsent, error) {
	q, err := s.q()
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, `SELECT id, resident_id, text_version, consented_at, staff_id, kiosk_id, created_at
		FROM enrolment_consents WHERE resident_id = $1 ORDER BY id`, residentID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.EnrolmentConsent
	for rows.Next() {
		var c store.EnrolmentConsent
		if err := rows.Scan(&c.ID, &c.ResidentID, &c.TextVersion, tm{&c.ConsentedAt}, &c.StaffID, &c.KioskID, tm{&c.CreatedAt}); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
