package sqlcore

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// ---- dedup cases ----

const dedupCols = `d.id, d.resident_id, r.id_key, r.pii, d.matched_resident_id, m.id_key, m.pii, d.finger, d.score, d.kiosk_id, d.station_id, d.staff_id, d.status, d.decided_by, d.reason, d.created_at, d.decided_at`
const dedupFrom = ` FROM dedup_cases d JOIN residents r ON r.id = d.resident_id JOIN residents m ON m.id = d.matched_resident_id`

func (s *Store) scanDedup(row interface{ Scan(...any) error }) (store.DedupCase, error) {
	var c store.DedupCase
	var status string
	var rid, mid int64
	var r, m residentRef
	err := row.Scan(&c.ID, &rid, &r.key, &r.sealed, &mid, &m.key, &m.sealed, &c.Finger, &c.Score, nstr{&c.KioskID}, nstr{&c.StationID}, nint{&c.StaffID}, &status,
		nint{&c.DecidedBy}, &c.Reason, tm{&c.CreatedAt}, ntm{&c.DecidedAt})
	if err != nil {
		return c, err
	}
	c.Status = store.DedupStatus(status)
	if c.IDNumber, err = s.residentIDNumber(rid, r.key, r.sealed); err != nil {
		return c, err
	}
	c.MatchedIDNumber, err = s.residentIDNumber(mid, m.key, m.sealed)
	return c, err
}

// CreateDedupCase opens a case.
func (s *Store) CreateDedupCase(ctx context.Context, actor audit.Actor, c store.DedupCase) (store.DedupCase, error) {
	if err := checkActor(actor); err != nil {
		return c, err
	}
	c.IDNumber = canonID(c.IDNumber)
	c.MatchedIDNumber = canonID(c.MatchedIDNumber)
	if c.IDNumber == c.MatchedIDNumber {
		return c, invalid("a dedup case needs two different ID numbers")
	}
	if c.Finger < 1 || c.Finger > 10 {
		return c, invalid("finger position %d: want 1..10", c.Finger)
	}
	c.Status, c.DecidedBy, c.DecidedAt, c.Reason = store.DedupOpen, 0, nil, ""
	c.CreatedAt = s.at(c.CreatedAt)
	err := s.tx(ctx, WriteTx, func(q Q) error {
		var rid, mid int64
		if err := q.QueryRow(ctx, `SELECT id FROM residents WHERE id_key = $1`, s.idKey(c.IDNumber)).Scan(&rid); err != nil {
			return notFound(err, "resident", "(enrolling)")
		}
		if err := q.QueryRow(ctx, `SELECT id FROM residents WHERE id_key = $1`, s.idKey(c.MatchedIDNumber)).Scan(&mid); err != nil {
			return notFound(err, "resident", "(matched)")
		}
		// The case belongs to the station of the kiosk where it was
		// opened, read here rather than taken from the caller.
		c.StationID = ""
		if c.KioskID != "" {
			if err := q.QueryRow(ctx, `SELECT station_id FROM kiosks WHERE id = $1`, c.KioskID).Scan(&c.StationID); err != nil {
				return notFound(err, "kiosk", c.KioskID)
			}
		}
		if err := q.QueryRow(ctx, `INSERT INTO dedup_cases (resident_id, matched_resident_id, finger, score, kiosk_id, station_id, staff_id, status, reason, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', '', $8) RETURNING id`,
			rid, mid, c.Finger, c.Score, nullIfEmpty(c.KioskID), nullIfEmpty(c.StationID), nullIfZero(c.StaffID), s.t(c.CreatedAt)).Scan(&c.ID); err != nil {
			return err
		}
		_, err := s.appendAudit(ctx, q, ev(actor, c.CreatedAt, "dedup.open", "dedup:"+itoa(c.ID),
			"resident", itoa(rid), "matched_resident", itoa(mid), "finger", itoa(int64(c.Finger)),
			"score", strconv.FormatFloat(c.Score, 'g', 6, 64), "kiosk", c.KioskID))
		return err
	})
	return c, err
}

// GetDedupCase returns a case.
func (s *Store) GetDedupCase(ctx context.Context, id int64) (store.DedupCase, error) {
	q, err := s.q()
	if err != nil {
		return store.DedupCase{}, err
	}
	c, err := s.scanDedup(q.QueryRow(ctx, `SELECT `+dedupCols+dedupFrom+` WHERE d.id = $1`, id))
	return c, notFound(err, "dedup case", id)
}

// ListDedupCases lists cases, newest first.
func (s *Store) ListDedupCases(ctx context.Context, f store.DedupFilter) ([]store.DedupCase, error) {
	q, err := s.q()
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, `SELECT `+dedupCols+dedupFrom+` WHERE ($1 = '' OR d.status = $1) AND ($2 = '' OR d.station_id = $2) ORDER BY d.id DESC LIMIT $3`,
		string(f.Status), f.StationID, limit(f.Limit))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.DedupCase
	for rows.Next() {
		c, err := s.scanDedup(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// DecideDedupCase records a supervisor's decision.
func (s *Store) DecideDedupCase(ctx context.Context, actor audit.Actor, id int64, d store.DedupDecision) (store.DedupCase, error) {
	if err := checkActor(actor); err != nil {
		return store.DedupCase{}, err
	}
	if d.Status != store.DedupOverridden && d.Status != store.DedupRejected {
		return store.DedupCase{}, invalid("dedup decision %q: want overridden or rejected", d.Status)
	}
	if strings.TrimSpace(d.Reason) == "" {
		return store.DedupCase{}, invalid("a dedup decision needs a reason")
	}
	if d.Supervisor == 0 {
		return store.DedupCase{}, invalid("a dedup decision needs the supervisor")
	}
	at := s.at(d.At)
	var c store.DedupCase
	err := s.tx(ctx, WriteTx, func(q Q) error {
		var role, station string
		var disabled bool
		if err := q.QueryRow(ctx, `SELECT role, COALESCE(station_id, ''), disabled FROM staff WHERE id = $1`, d.Supervisor).Scan(&role, &station, &disabled); err != nil {
			return notFound(err, "staff", d.Supervisor)
		}
		if disabled {
			return fmt.Errorf("%w: staff %d is disabled", store.ErrInactive, d.Supervisor)
		}
		// The case's station and opener never change: no lock needed; the
		// UPDATE below decides an open case once.
		cur, err := s.scanDedup(q.QueryRow(ctx, `SELECT `+dedupCols+dedupFrom+` WHERE d.id = $1`, id))
		if err != nil {
			return notFound(err, "dedup case", id)
		}
		if err := store.MayDecideDedupCase(store.Role(role), station, d.Supervisor, cur); err != nil {
			return err
		}
		n, err := q.Exec(ctx, `UPDATE dedup_cases SET status = $2, decided_by = $3, reason = $4, decided_at = $5 WHERE id = $1 AND status = 'open'`,
			id, string(d.Status), d.Supervisor, d.Reason, s.t(at))
		if err != nil {
			return err
		}
		c, err = s.scanDedup(q.QueryRow(ctx, `SELECT `+dedupCols+dedupFrom+` WHERE d.id = $1`, id))
		if err != nil {
			return notFound(err, "dedup case", id)
		}
		if n == 0 {
			return fmt.Errorf("%w: dedup case %d is already %s", store.ErrConflict, id, c.Status)
		}
		_, err = s.appendAudit(ctx, q, ev(actor, at, "dedup.decide", "dedup:"+itoa(id), "status", string(d.Status), "supervisor", itoa(d.Supervisor)))
		return err
	})
	return c, err
}

// ---- verification and lockout ----

func validResult(r store.VerificationResult) bool {
	switch r {
	case store.VerifyMatch, store.VerifyNoMatch, store.VerifyError, store.VerifyLockedOut:
		return true
	}
	return false
}

func (s *Store) lockout(ctx context.Context, q Q, idNumber, suffix string) (store.Lockout, error) {
	l := store.Lockout{IDNumber: idNumber}
	err := q.QueryRow(ctx, `SELECT failures, locked_until, updated_at FROM lockouts WHERE id_key = $1`+suffix, s.idKey(idNumber)).
		Scan(&l.Failures, ntm{&l.LockedUntil}, tm{&l.UpdatedAt})
	if isNotFound(err) {
		return l, nil
	}
	return l, err
}

func checkAttempt(a *store.VerificationAttempt) error {
	a.IDNumber = canonID(a.IDNumber)
	if a.IDNumber == "" {
		return invalid("verification without an ID number")
	}
	if !validResult(a.Result) {
		return invalid("verification result %q", a.Result)
	}
	if a.KioskID == "" {
		return invalid("verification without a kiosk")
	}
	return nil
}

// recordAttempt decides the attempt's result and lockout under a lock on
// the ID number's lockout row, inserts the attempt, updates the lockout
// (remembering a new lock for escalation) and appends the attempt's audit
// event in transaction q. It returns the attempt as recorded (Result is
// VerifyLockedOut when the ID number was locked at a.At), the lockout
// after it and the resident's internal id (0 if unknown).
//
// The lockout row is created if missing and then locked (FOR UPDATE on
// PostgreSQL; SQLite's write transactions are serialised) BEFORE it is
// read, so concurrent attempts of one ID number decide one after another
// on the state the previous one committed.
func (s *Store) recordAttempt(ctx context.Context, q Q, a store.VerificationAttempt, p store.LockoutPolicy) (store.VerificationAttempt, store.Lockout, int64, error) {
	var l store.Lockout
	var rid int64
	if err := q.QueryRow(ctx, `SELECT id FROM residents WHERE id_key = $1`, s.idKey(a.IDNumber)).Scan(&rid); err != nil && !isNotFound(err) {
		return a, l, 0, err
	}
	key := s.idKey(a.IDNumber)
	// Create the row first so FOR UPDATE has something to lock.
	if _, err := q.Exec(ctx, `INSERT INTO lockouts (id_key, failures, updated_at) VALUES ($1, 0, $2) ON CONFLICT (id_key) DO NOTHING`,
		key, s.t(a.At)); err != nil {
		return a, l, 0, err
	}
	var err error
	if l, err = s.lockout(ctx, q, a.IDNumber, s.d.ForUpdate); err != nil {
		return a, l, 0, err
	}
	if (a.Result == store.VerifyMatch || a.Result == store.VerifyNoMatch) && l.Locked(a.At) {
		a.Result = store.VerifyLockedOut // decided here, whatever the score
	}
	switch a.Result {
	case store.VerifyMatch:
		l.Failures, l.LockedUntil = 0, nil
	case store.VerifyNoMatch:
		if l.LockedUntil != nil && !a.At.Before(*l.LockedUntil) {
			l.Failures, l.LockedUntil = 0, nil // the lock has run out: start again
		}
		l.Failures++
		if p.MaxFailures > 0 && l.Failures >= p.MaxFailures {
			lockFor, err := s.escalate(ctx, q, key, a.At, p)
			if err != nil {
				return a, l, 0, err
			}
			until := a.At.Add(lockFor).UTC().Truncate(time.Microsecond)
			l.LockedUntil = &until
		}
	}
	if _, err := q.Exec(ctx, `INSERT INTO verification_attempts (id_key, resident_id, kiosk_id, result, score, reason, at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, key, nullIfZero(rid), a.KioskID, string(a.Result), a.Score, a.Reason, s.t(a.At)); err != nil {
		return a, l, 0, err
	}
	if a.Result == store.VerifyMatch || a.Result == store.VerifyNoMatch {
		l.UpdatedAt = a.At
		if _, err := q.Exec(ctx, `UPDATE lockouts SET failures = $2, locked_until = $3, updated_at = $4 WHERE id_key = $1`,
			key, l.Failures, s.nt(l.LockedUntil), s.t(a.At)); err != nil {
			return a, l, 0, err
		}
	}
	target := "verification:unknown-resident"
	if rid != 0 {
		target = "resident:" + itoa(rid)
	}
	// id_key names the lockout row so audit.Reconcile can replay it.
	kv := []string{"result", string(a.Result), "score", strconv.FormatFloat(a.Score, 'g', 6, 64), "reason", a.Reason,
		"failures", itoa(int64(l.Failures)), "id_key", key}
	if l.LockedUntil != nil {
		kv = append(kv, "locked_until", l.LockedUntil.Format(time.RFC3339))
	}
	_, err = s.appendAudit(ctx, q, ev(audit.Kiosk(a.KioskID), a.At, "verification.attempt", target, kv...))
	return a, l, rid, err
}

// escalate returns how long a lock set at `at` lasts (p.LockFor doubled
// for every lock of the ID number remembered at `at`) and remembers this
// one for p.Escalation, in the caller's transaction (which holds the
// lockout row, so concurrent locks of one ID number count each other).
func (s *Store) escalate(ctx context.Context, q Q, key string, at time.Time, p store.LockoutPolicy) (time.Duration, error) {
	if p.Escalation <= 0 {
		return p.LockFor, nil
	}
	var n int
	if err := q.QueryRow(ctx, `SELECT count(*) FROM id_locks WHERE id_key = $1 AND expires_at > $2`, key, s.t(at)).Scan(&n); err != nil {
		return 0, err
	}
	if _, err := q.Exec(ctx, `INSERT INTO id_locks (id_key, locked_at, expires_at) VALUES ($1, $2, $3)`,
		key, s.t(at), s.t(at.Add(p.Escalation))); err != nil {
		return 0, err
	}
	return p.LockFor << min(n, store.MaxEscalation), nil
}

// RecordVerificationOutcome stores a verification's outcome in one
// transaction.
func (s *Store) RecordVerificationOutcome(ctx context.Context, o store.VerificationOutcome) (store.VerificationResultState, error) {
	var st store.VerificationResultState
	a := o.Attempt
	if err := checkAttempt(&a); err != nil {
		return st, err
	}
	if o.NonceValue == "" {
		return st, invalid("verification outcome without a nonce")
	}
	if o.ScannerSerial == "" {
		return st, invalid("verification outcome without a scanner")
	}
	if o.Counter > math.MaxInt64 {
		return st, &store.OutcomeError{Step: "scanner", Err: fmt.Errorf("%w: counter %d beyond the stored range", store.ErrStaleCounter, o.Counter)}
	}
	if o.Token != nil {
		if len(o.Token.Token) < 16 || o.Token.ExpiresAt.IsZero() {
			return st, invalid("filing token shorter than 16 bytes or without expiry")
		}
		if canonID(o.Token.IDNumber) != a.IDNumber || o.Token.KioskID != a.KioskID {
			return st, invalid("the filing token must be bound to the attempt's ID number and kiosk")
		}
	}
	a.At = s.at(a.At)
	err := s.tx(ctx, WriteTx, func(q Q) error {
		st = store.VerificationResultState{}
		if err := s.consumeNonce(ctx, q, o.NonceValue, a.KioskID, o.NoncePurpose, a.At); err != nil {
			return &store.OutcomeError{Step: "nonce", Err: err}
		}
		if err := s.advanceCounter(ctx, q, o.ScannerSerial, o.Counter); err != nil {
			return &store.OutcomeError{Step: "scanner", Err: err}
		}
		rec, l, rid, err := s.recordAttempt(ctx, q, a, o.Policy)
		if err != nil {
			return &store.OutcomeError{Step: "attempt", Err: err}
		}
		st.Result, st.Lockout = rec.Result, l
		if rec.Result == store.VerifyMatch && o.Token != nil {
			if rid == 0 {
				return &store.OutcomeError{Step: "token", Err: fmt.Errorf("%w: resident", store.ErrNotFound)}
			}
			if _, err := q.Exec(ctx, `INSERT INTO filing_tokens (token_hash, resident_id, kiosk_id, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)`,
				tokenHash(o.Token.Token), rid, a.KioskID, s.t(o.Token.ExpiresAt), s.t(s.at(o.Token.CreatedAt))); err != nil {
				return &store.OutcomeError{Step: "token", Err: err}
			}
			st.TokenIssued = true
			if o.MatchEvent != nil {
				if _, err := s.appendAudit(ctx, q, *o.MatchEvent); err != nil {
					return &store.OutcomeError{Step: "audit", Err: err}
				}
			}
		}
		if o.LockEvent != nil && rec.Result == store.VerifyNoMatch && l.Locked(a.At) {
			e := *o.LockEvent
			d := make(map[string]string, len(e.Details)+2)
			for k, v := range e.Details {
				d[k] = v
			}
			d["failures"] = itoa(int64(l.Failures))
			d["locked_until"] = l.LockedUntil.UTC().Format(time.RFC3339)
			e.Details = d
			if _, err := s.appendAudit(ctx, q, e); err != nil {
				return &store.OutcomeError{Step: "audit", Err: err}
			}
		}
		return nil
	})
	return st, err
}

// GetLockout returns the lockout state.
func (s *Store) GetLockout(ctx context.Context, idNumber string) (store.Lockout, error) {
	q, err := s.q()
	if err != nil {
		return store.Lockout{}, err
	}
	return s.lockout(ctx, q, canonID(idNumber), "")
}

// ResetLockout clears a lockout with its audited reason.
func (s *Store) ResetLockout(ctx context.Context, actor audit.Actor, u store.LockoutUnlock) (store.Lockout, error) {
	if err := checkActor(actor); err != nil {
		return store.Lockout{}, err
	}
	idNumber := canonID(u.IDNumber)
	reason := strings.TrimSpace(u.Reason)
	if idNumber == "" {
		return store.Lockout{}, invalid("an unlock needs the ID number")
	}
	if reason == "" {
		return store.Lockout{}, invalid("an unlock needs a reason")
	}
	if len(reason) > store.MaxUnlockReason {
		return store.Lockout{}, invalid("unlock reason longer than %d bytes", store.MaxUnlockReason)
	}
	now := s.now()
	var before store.Lockout
	err := s.tx(ctx, WriteTx, func(q Q) error {
		key := s.idKey(idNumber)
		var err error
		if before, err = s.lockout(ctx, q, idNumber, s.d.ForUpdate); err != nil {
			return err
		}
		n, err := q.Exec(ctx, `UPDATE lockouts SET failures = 0, locked_until = NULL, updated_at = $2 WHERE id_key = $1`, key, s.t(now))
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: no failed verification recorded for this ID number", store.ErrNotFound)
		}
		var rid int64
		if err := q.QueryRow(ctx, `SELECT id FROM residents WHERE id_key = $1`, key).Scan(&rid); err != nil && !isNotFound(err) {
			return err
		}
		target := "lockout:unknown-resident"
		if rid != 0 {
			target = "resident:" + itoa(rid)
		}
		kv := []string{"id_key", key, "reason", reason, "failures_before", itoa(int64(before.Failures))}
		if before.LockedUntil != nil {
			kv = append(kv, "locked_until_before", before.LockedUntil.UTC().Format(time.RFC3339))
		}
		if u.KioskID != "" {
			kv = append(kv, "kiosk", u.KioskID)
		}
		_, err = s.appendAudit(ctx, q, ev(actor, now, "lockout.unlock", target, kv...))
		return err
	})
	return before, err
}

// ListVerifications returns the latest attempts of an ID number.
func (s *Store) ListVerifications(ctx context.Context, idNumber string, n int) ([]store.VerificationAttempt, error) {
	q, err := s.q()
	if err != nil {
		return nil, err
	}
	idNumber = canonID(idNumber)
	rows, err := q.Query(ctx, `SELECT id, resident_id, kiosk_id, result, score, reason, at FROM verification_attempts
		WHERE id_key = $1 ORDER BY id DESC LIMIT $2`, s.idKey(idNumber), limit(n))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.VerificationAttempt
	for rows.Next() {
		var a store.VerificationAttempt
		var result string
		a.IDNumber = idNumber
		if err := rows.Scan(&a.ID, nint{&a.ResidentID}, &a.KioskID, &result, &a.Score, &a.Reason, tm{&a.At}); err != nil {
			return nil, err
		}
		a.Result = store.VerificationResult(result)
		out = append(out, a)
	}
	return out, rows.Err()
}
