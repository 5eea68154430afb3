package sqlcore

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/store"
)

// Coordination state (store.Coordination): every method is one statement
// or one write transaction, so that any number of server processes on the
// database agree. Single use is an INSERT ... ON CONFLICT DO NOTHING whose
// affected rows are checked, or a DELETE ... RETURNING; read-modify-write
// rows are locked with SELECT ... FOR UPDATE on PostgreSQL (SQLite's write
// transactions are serialised by BEGIN IMMEDIATE).

// sessionTouchEvery bounds how often a session's last use is written: a
// staff member's requests within this time of the last recorded one do not
// write (the idle timeout is minutes).
const sessionTouchEvery = time.Second

func hash32(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// CreateSession implements store.Coordination.
func (s *Store) CreateSession(ctx context.Context, ss store.Session) error {
	switch {
	case ss.Token == "":
		return invalid("session token is required")
	case ss.StaffID == 0:
		return invalid("session staff id is required")
	case ss.Idle <= 0:
		return invalid("session idle timeout must be positive")
	case !ss.Role.Valid():
		return invalid("session role %q", ss.Role)
	case !ss.Method.Valid():
		return invalid("session method %q", ss.Method)
	case (ss.Method == store.SessionKioskPIN) != (ss.KioskID != ""):
		return invalid("a kiosk PIN session names its kiosk, and only it does")
	}
	created := s.at(ss.CreatedAt)
	last := created
	if !ss.LastSeen.IsZero() {
		last = s.at(ss.LastSeen)
	}
	exp := s.at(ss.ExpiresAt)
	if !exp.After(created) {
		return invalid("session expires_at must be after created_at")
	}
	q, err := s.q()
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, `INSERT INTO staff_sessions (token_hash, staff_id, username, role, department, station_id, created_at, last_seen, idle_us, expires_at, idle_until, method, kiosk_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		hash32(ss.Token), ss.StaffID, ss.Username, string(ss.Role), ss.Department, ss.StationID,
		s.t(created), s.t(last), ss.Idle.Microseconds(), s.t(exp), s.t(idleUntil(last, ss.Idle, exp)), string(ss.Method), ss.KioskID)
	if err != nil {
		return fmt.Errorf("creating session: %w", err)
	}
	return nil
}

func idleUntil(last time.Time, idle time.Duration, exp time.Time) time.Time {
	if u := last.Add(idle); u.Before(exp) {
		return u
	}
	return exp
}

// TouchSession implements store.Coordination.
func (s *Store) TouchSession(ctx context.Context, token string, now time.Time) (store.Session, error) {
	var ss store.Session
	if token == "" {
		return ss, fmt.Errorf("%w: session", store.ErrNotFound)
	}
	q, err := s.q()
	if err != nil {
		return ss, err
	}
	now = s.at(now)
	h := hash32(token)
	var role, method string
	var idleUS int64
	var until time.Time
	err = q.QueryRow(ctx, `SELECT staff_id, username, role, department, station_id, created_at, last_seen, idle_us, expires_at, idle_until, method, kiosk_id
		FROM staff_sessions WHERE token_hash = $1`, h).
		Scan(&ss.StaffID, &ss.Username, &role, &ss.Department, &ss.StationID, tm{&ss.CreatedAt}, tm{&ss.LastSeen}, &idleUS, tm{&ss.ExpiresAt}, tm{&until}, &method, &ss.KioskID)
	if err != nil {
		return store.Session{}, notFound(err, "session", "")
	}
	ss.Role, ss.Idle, ss.Method = store.Role(role), time.Duration(idleUS)*time.Microsecond, store.SessionMethod(method)
	if now.After(until) {
		if _, err := q.Exec(ctx, `DELETE FROM staff_sessions WHERE token_hash = $1 AND idle_until < $2`, h, s.t(now)); err != nil {
			return store.Session{}, err
		}
		return store.Session{}, fmt.Errorf("%w: session", store.ErrExpired)
	}
	if now.Sub(ss.LastSeen) < sessionTouchEvery {
		return ss, nil
	}
	// Only moves forward: replicas whose clocks differ slightly never
	// shorten each other's sessions. A session deleted meanwhile (logout,
	// disabled) is not brought back.
	n, err := q.Exec(ctx, `UPDATE staff_sessions SET last_seen = $2, idle_until = $3 WHERE token_hash = $1 AND last_seen < $2`,
		h, s.t(now), s.t(idleUntil(now, ss.Idle, ss.ExpiresAt)))
	if err != nil {
		return store.Session{}, fmt.Errorf("touching session: %w", err)
	}
	if n == 0 {
		// Deleted, or touched by a later request meanwhile.
		var one int
		if err := q.QueryRow(ctx, `SELECT 1 FROM staff_sessions WHERE token_hash = $1`, h).Scan(&one); err != nil {
			return store.Session{}, notFound(err, "session", "")
		}
	}
	ss.LastSeen = now
	return ss, nil
}

// DeleteSession implements store.Coordination.
func (s *Store) DeleteSession(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	q, err := s.q()
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, `DELETE FROM staff_sessions WHERE token_hash = $1`, hash32(token))
	return err
}

// DeleteStaffSessions implements store.Coordination.
func (s *Store) DeleteStaffSessions(ctx context.Context, staffID int64) (int, error) {
	q, err := s.q()
	if err != nil {
		return 0, err
	}
	n, err := q.Exec(ctx, `DELETE FROM staff_sessions WHERE staff_id = $1`, staffID)
	return int(n), err
}

// UseRequestNonce implements store.Coordination.
func (s *Store) UseRequestNonce(ctx context.Context, kioskID, nonce string, expiresAt time.Time) error {
	if kioskID == "" || nonce == "" {
		return invalid("request nonce: kiosk id and nonce are required")
	}
	q, err := s.q()
	if err != nil {
		return err
	}
	n, err := q.Exec(ctx, `INSERT INTO request_nonces (kiosk_id, nonce, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (kiosk_id, nonce) DO NOTHING`, kioskID, nonce, s.t(expiresAt))
	if err != nil {
		return fmt.Errorf("recording request nonce: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("%w: request nonce already used by kiosk %s", store.ErrAlreadyExists, kioskID)
	}
	return nil
}

// RecordIDLock implements storetest.Inspector (the server's locks are
// remembered by RecordVerificationOutcome).
func (s *Store) RecordIDLock(ctx context.Context, idNumber string, at, expiresAt time.Time) error {
	idNumber = canonID(idNumber)
	if idNumber == "" {
		return invalid("id number is required")
	}
	q, err := s.q()
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, `INSERT INTO id_locks (id_key, locked_at, expires_at) VALUES ($1, $2, $3)`,
		s.idKey(idNumber), s.t(s.at(at)), s.t(expiresAt))
	return err
}

// CountIDLocks implements storetest.Inspector.
func (s *Store) CountIDLocks(ctx context.Context, idNumber string, now time.Time) (int, error) {
	q, err := s.q()
	if err != nil {
		return 0, err
	}
	var n int
	err = q.QueryRow(ctx, `SELECT count(*) FROM id_locks WHERE id_key = $1 AND expires_at > $2`, s.idKey(idNumber), s.t(s.at(now))).Scan(&n)
	return n, err
}

// RememberSpentToken implements store.Coordination.
func (s *Store) RememberSpentToken(ctx context.Context, t store.SpentToken) error {
	if t.Token == "" || t.IDNumber == "" || t.KioskID == "" {
		return invalid("spent token: token, id number and kiosk are required")
	}
	q, err := s.q()
	if err != nil {
		return err
	}
	h := hash32(t.Token)
	sealed, err := s.sealTokenID("spent_tokens", h, canonID(t.IDNumber))
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, `INSERT INTO spent_tokens (token_hash, id_sealed, kiosk_id, expires_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (token_hash) DO NOTHING`, h, sealed, t.KioskID, s.t(t.ExpiresAt))
	return err
}

// GetSpentToken implements store.Coordination.
func (s *Store) GetSpentToken(ctx context.Context, token string, now time.Time) (store.SpentToken, error) {
	var t store.SpentToken
	q, err := s.q()
	if err != nil {
		return t, err
	}
	h := hash32(token)
	var sealed string
	err = q.QueryRow(ctx, `SELECT id_sealed, kiosk_id, expires_at FROM spent_tokens WHERE token_hash = $1 AND expires_at > $2`,
		h, s.t(s.at(now))).Scan(&sealed, &t.KioskID, tm{&t.ExpiresAt})
	if err != nil {
		return store.SpentToken{}, notFound(err, "spent token", "")
	}
	if t.IDNumber, err = s.openText(sealed, adTokenHash("spent_tokens", h)); err != nil {
		return store.SpentToken{}, err
	}
	return t, nil
}

// PutPendingIdentification implements store.Coordination.
func (s *Store) PutPendingIdentification(ctx context.Context, p store.PendingIdentification) error {
	if p.ID == "" || p.IDNumber == "" || p.KioskID == "" {
		return invalid("pending identification: id, id number and kiosk are required")
	}
	if math.IsNaN(p.Score) || math.IsInf(p.Score, 0) {
		return invalid("pending identification: score %v", p.Score)
	}
	q, err := s.q()
	if err != nil {
		return err
	}
	h := hash32(p.ID)
	sealed, err := s.sealTokenID("pending_identifications", h, canonID(p.IDNumber))
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, `INSERT INTO pending_identifications (id_hash, id_sealed, kiosk_id, staff_id, score, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		h, sealed, p.KioskID, p.StaffID, p.Score, s.t(p.ExpiresAt))
	if err != nil {
		return fmt.Errorf("storing pending identification: %w", err)
	}
	return nil
}

// TakePendingIdentification implements store.Coordination.
func (s *Store) TakePendingIdentification(ctx context.Context, id string, now time.Time) (store.PendingIdentification, error) {
	var p store.PendingIdentification
	// One DELETE: the row goes to the one statement that deletes it.
	h := hash32(id)
	var sealed string
	err := s.tx(ctx, WriteTx, func(q Q) error {
		return q.QueryRow(ctx, `DELETE FROM pending_identifications WHERE id_hash = $1
			RETURNING id_sealed, kiosk_id, staff_id, score, expires_at`, h).
			Scan(&sealed, &p.KioskID, &p.StaffID, &p.Score, tm{&p.ExpiresAt})
	})
	if err != nil {
		return store.PendingIdentification{}, notFound(err, "pending identification", "")
	}
	if p.IDNumber, err = s.openText(sealed, adTokenHash("pending_identifications", h)); err != nil {
		return store.PendingIdentification{}, err
	}
	if s.at(now).After(p.ExpiresAt) {
		return store.PendingIdentification{}, fmt.Errorf("%w: pending identification", store.ErrExpired)
	}
	return p, nil
}

// KioskBackoff implements store.Coordination.
func (s *Store) KioskBackoff(ctx context.Context, kioskID string, now time.Time) (time.Time, error) {
	q, err := s.q()
	if err != nil {
		return time.Time{}, err
	}
	var until *time.Time
	err = q.QueryRow(ctx, `SELECT blocked_until FROM kiosk_backoff WHERE kiosk_id = $1 AND expires_at > $2`, kioskID, s.t(s.at(now))).Scan(ntm{&until})
	if errors.Is(err, ErrNoRows) || (err == nil && until == nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	return *until, nil
}

// RecordKioskVerification implements store.Coordination.
func (s *Store) RecordKioskVerification(ctx context.Context, kioskID string, ok bool, now time.Time, p store.BackoffPolicy) (time.Time, error) {
	if kioskID == "" {
		return time.Time{}, invalid("kiosk id is required")
	}
	if p.Forget <= 0 {
		return time.Time{}, invalid("backoff policy: Forget must be positive")
	}
	now = s.at(now)
	if ok {
		q, err := s.q()
		if err != nil {
			return time.Time{}, err
		}
		// Most verifications succeed at a kiosk without failures: look
		// before writing (a failure recorded meanwhile by another request
		// was concurrent with this success; either order is right).
		var one int
		err = q.QueryRow(ctx, `SELECT 1 FROM kiosk_backoff WHERE kiosk_id = $1`, kioskID).Scan(&one)
		if errors.Is(err, ErrNoRows) {
			return time.Time{}, nil
		} else if err != nil {
			return time.Time{}, err
		}
		_, err = q.Exec(ctx, `DELETE FROM kiosk_backoff WHERE kiosk_id = $1`, kioskID)
		return time.Time{}, err
	}
	var blocked time.Time
	err := s.tx(ctx, WriteTx, func(q Q) error {
		blocked = time.Time{}
		if _, err := q.Exec(ctx, `INSERT INTO kiosk_backoff (kiosk_id, failures, expires_at) VALUES ($1, 0, $2) ON CONFLICT (kiosk_id) DO NOTHING`,
			kioskID, s.t(now.Add(p.Forget))); err != nil {
			return err
		}
		var failures int
		var until *time.Time
		var exp time.Time
		if err := q.QueryRow(ctx, `SELECT failures, blocked_until, expires_at FROM kiosk_backoff WHERE kiosk_id = $1`+s.d.ForUpdate, kioskID).
			Scan(&failures, ntm{&until}, tm{&exp}); err != nil {
			return err
		}
		if !exp.After(now) { // forgotten: start again
			failures, until = 0, nil
		}
		failures++
		if d := p.Delay(failures); d > 0 {
			blocked = now.Add(d)
		}
		if until != nil && until.After(blocked) {
			blocked = *until
		}
		last := now
		if blocked.After(last) {
			last = blocked
		}
		var bu any
		if !blocked.IsZero() {
			bu = s.t(blocked)
		}
		_, err := q.Exec(ctx, `UPDATE kiosk_backoff SET failures = $2, blocked_until = $3, expires_at = $4 WHERE kiosk_id = $1`,
			kioskID, failures, bu, s.t(last.Add(p.Forget)))
		return err
	})
	return blocked, err
}

// TakeRateToken implements store.Coordination.
func (s *Store) TakeRateToken(ctx context.Context, key string, l store.RateLimit, now time.Time) (time.Duration, error) {
	if l.Rate <= 0 || l.Burst < 1 || math.IsInf(l.Rate, 0) || math.IsNaN(l.Rate) {
		return 0, invalid("rate limit %v/s burst %d", l.Rate, l.Burst)
	}
	now = s.at(now)
	h := hash32(key)
	burst := float64(l.Burst)
	var wait time.Duration
	err := s.tx(ctx, WriteTx, func(q Q) error {
		wait = 0
		if _, err := q.Exec(ctx, `INSERT INTO rate_buckets (key_hash, tokens, updated_at, expires_at) VALUES ($1, $2, $3, $3)
			ON CONFLICT (key_hash) DO NOTHING`, h, burst, s.t(now)); err != nil {
			return err
		}
		var tokens float64
		var last time.Time
		if err := q.QueryRow(ctx, `SELECT tokens, updated_at FROM rate_buckets WHERE key_hash = $1`+s.d.ForUpdate, h).
			Scan(&tokens, tm{&last}); err != nil {
			return err
		}
		if el := now.Sub(last).Seconds(); el > 0 {
			tokens = math.Min(burst, tokens+el*l.Rate)
			last = now
		}
		if tokens >= 1 {
			tokens--
		} else {
			wait = time.Duration((1 - tokens) / l.Rate * float64(time.Second))
		}
		full := last.Add(time.Duration((burst - tokens) / l.Rate * float64(time.Second)))
		_, err := q.Exec(ctx, `UPDATE rate_buckets SET tokens = $2, updated_at = $3, expires_at = $4 WHERE key_hash = $1`,
			h, tokens, s.t(last), s.t(full))
		return err
	})
	return wait, err
}

// TakeEnrolmentCheck implements store.Coordination. The kiosk's row is
// locked for the count and the insert (PostgreSQL: FOR UPDATE; SQLite:
// the single writer), so concurrent checks of one kiosk are counted one
// after the other.
func (s *Store) TakeEnrolmentCheck(ctx context.Context, kioskID string, residentID int64, now time.Time, b store.CheckBudget) (bool, time.Time, error) {
	switch {
	case kioskID == "":
		return false, time.Time{}, invalid("kiosk id is required")
	case b.Max <= 0 || b.Window <= 0:
		return false, time.Time{}, invalid("enrolment-check budget: Max and Window must be positive")
	}
	now = s.at(now)
	var ok bool
	var retry time.Time
	err := s.tx(ctx, WriteTx, func(q Q) error {
		ok, retry = false, time.Time{}
		var one int
		if err := q.QueryRow(ctx, `SELECT 1 FROM kiosks WHERE id = $1`+s.d.ForUpdate, kioskID).Scan(&one); err != nil {
			return notFound(err, "kiosk", kioskID)
		}
		var n int
		var oldest *time.Time
		if err := q.QueryRow(ctx, `SELECT count(*), min(checked_at) FROM enrolment_checks WHERE kiosk_id = $1 AND checked_at > $2`,
			kioskID, s.t(now.Add(-b.Window))).Scan(&n, ntm{&oldest}); err != nil {
			return err
		}
		if n >= b.Max {
			if oldest != nil {
				retry = oldest.Add(b.Window)
			}
			return nil
		}
		ok = true
		_, err := q.Exec(ctx, `INSERT INTO enrolment_checks (kiosk_id, resident_id, checked_at, expires_at) VALUES ($1, $2, $3, $4)`,
			kioskID, residentID, s.t(now), s.t(now.Add(b.Window)))
		return err
	})
	if err != nil {
		return false, time.Time{}, fmt.Errorf("enrolment-check budget: %w", err)
	}
	return ok, retry, nil
}

// AnswerEnrolmentChecks implements store.Coordination.
func (s *Store) AnswerEnrolmentChecks(ctx context.Context, kioskID string, residentID int64) error {
	q, err := s.q()
	if err != nil {
		return err
	}
	if _, err := q.Exec(ctx, `DELETE FROM enrolment_checks WHERE kiosk_id = $1 AND resident_id = $2`, kioskID, residentID); err != nil {
		return fmt.Errorf("answering enrolment checks: %w", err)
	}
	return nil
}

// purgeCoordination deletes expired coordination records in the caller's
// transaction.
func (s *Store) purgeCoordination(ctx context.Context, q Q, now time.Time) (int64, error) {
	var total int64
	for _, stmt := range []string{
		`DELETE FROM staff_sessions WHERE idle_until < $1`,
		`DELETE FROM request_nonces WHERE expires_at <= $1`,
		`DELETE FROM id_locks WHERE expires_at <= $1`,
		`DELETE FROM spent_tokens WHERE expires_at <= $1`,
		`DELETE FROM pending_identifications WHERE expires_at < $1`,
		`DELETE FROM kiosk_backoff WHERE expires_at <= $1`,
		`DELETE FROM rate_buckets WHERE expires_at <= $1`,
		`DELETE FROM enrolment_checks WHERE expires_at <= $1`,
	} {
		n, err := q.Exec(ctx, stmt, s.t(now))
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}
