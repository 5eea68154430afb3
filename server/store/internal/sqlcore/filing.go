package sqlcore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// ---- nonces ----

// IssueNonce stores a nonce.
func (s *Store) IssueNonce(ctx context.Context, n store.Nonce) error {
	if n.Value == "" || len(n.Value) > 256 {
		return invalid("nonce value must have 1..256 bytes")
	}
	if n.ExpiresAt.IsZero() {
		return invalid("nonce without expiry")
	}
	q, err := s.q()
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, `INSERT INTO nonces (value, kiosk_id, purpose, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)`,
		n.Value, n.KioskID, n.Purpose, s.t(n.ExpiresAt), s.t(s.at(n.CreatedAt)))
	if err != nil {
		return fmt.Errorf("nonce: %w", err)
	}
	return nil
}

// ConsumeNonce consumes a nonce once.
func (s *Store) ConsumeNonce(ctx context.Context, value, kioskID, purpose string, now time.Time) error {
	return s.tx(ctx, WriteTx, func(q Q) error {
		return s.consumeNonce(ctx, q, value, kioskID, purpose, s.at(now))
	})
}

// consumeNonce consumes a nonce in transaction q.
func (s *Store) consumeNonce(ctx context.Context, q Q, value, kioskID, purpose string, now time.Time) error {
	n, err := q.Exec(ctx, `UPDATE nonces SET consumed_at = $4 WHERE value = $1 AND kiosk_id = $2 AND purpose = $3
		AND consumed_at IS NULL AND expires_at > $4`, value, kioskID, purpose, s.t(now))
	if err != nil {
		return err
	}
	if n == 1 {
		return nil
	}
	var exp time.Time
	var consumed *time.Time
	err = q.QueryRow(ctx, `SELECT expires_at, consumed_at FROM nonces WHERE value = $1 AND kiosk_id = $2 AND purpose = $3`,
		value, kioskID, purpose).Scan(tm{&exp}, ntm{&consumed})
	if err == nil && consumed == nil && !exp.After(now) {
		return fmt.Errorf("%w: nonce", store.ErrExpired)
	}
	if err != nil && !isNotFound(err) {
		return err
	}
	return fmt.Errorf("%w: nonce unknown or already used", store.ErrNotFound)
}

// ---- filing tokens ----

func tokenHash(tok string) []byte {
	h := sha256.Sum256([]byte("veinkiosk/filing-token/v1|" + tok))
	return h[:]
}

// IssueFilingToken stores a token's hash.
func (s *Store) IssueFilingToken(ctx context.Context, t store.FilingToken) error {
	if len(t.Token) < 16 {
		return invalid("filing token shorter than 16 bytes")
	}
	if t.ExpiresAt.IsZero() || t.KioskID == "" {
		return invalid("filing token needs an expiry and a kiosk")
	}
	return s.tx(ctx, WriteTx, func(q Q) error {
		var rid int64
		if err := q.QueryRow(ctx, `SELECT id FROM residents WHERE id_key = $1`, s.idKey(t.IDNumber)).Scan(&rid); err != nil {
			return notFound(err, "resident", "")
		}
		_, err := q.Exec(ctx, `INSERT INTO filing_tokens (token_hash, resident_id, kiosk_id, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)`,
			tokenHash(t.Token), rid, t.KioskID, s.t(t.ExpiresAt), s.t(s.at(t.CreatedAt)))
		return err
	})
}

func (s *Store) filingToken(ctx context.Context, q Q, tok, kioskID string, now time.Time, suffix string) (store.FilingToken, int64, error) {
	ft, err := s.filingTokenFull(ctx, q, tok, kioskID, now, suffix)
	return ft.FilingToken, ft.residentID, err
}

// filingTokenRow is a filing token with the internal ids of its resident
// and its principal (0: none).
type filingTokenRow struct {
	store.FilingToken
	residentID, principalID int64
}

func (s *Store) filingTokenFull(ctx context.Context, q Q, tok, kioskID string, now time.Time, suffix string) (filingTokenRow, error) {
	t := filingTokenRow{FilingToken: store.FilingToken{Token: tok}}
	var ref residentRef
	var pkey string
	var psealed []byte
	// FOR UPDATE (suffix) cannot lock the nullable side of an outer join
	// on PostgreSQL: the principal is read apart.
	err := q.QueryRow(ctx, `SELECT t.resident_id, r.id_key, r.pii, t.kiosk_id, t.expires_at, t.created_at, t.used_at, t.principal_id, t.principal_relation
		FROM filing_tokens t JOIN residents r ON r.id = t.resident_id WHERE t.token_hash = $1`+suffix, tokenHash(tok)).
		Scan(&t.residentID, &ref.key, &ref.sealed, &t.KioskID, tm{&t.ExpiresAt}, tm{&t.CreatedAt}, ntm{&t.UsedAt}, nint{&t.principalID}, &t.PrincipalRelation)
	if err == nil {
		t.IDNumber, err = s.residentIDNumber(t.residentID, ref.key, ref.sealed)
	}
	if err == nil && t.principalID != 0 {
		if err = q.QueryRow(ctx, `SELECT id_key, pii FROM residents WHERE id = $1`, t.principalID).Scan(&pkey, &psealed); err == nil {
			t.PrincipalIDNumber, err = s.residentIDNumber(t.principalID, pkey, psealed)
		}
	}
	switch {
	case isNotFound(err):
		return t, fmt.Errorf("%w: filing token", store.ErrNotFound)
	case err != nil:
		return t, err
	case t.KioskID != kioskID || t.UsedAt != nil:
		return t, fmt.Errorf("%w: filing token used or issued to another kiosk", store.ErrNotFound)
	case !t.ExpiresAt.After(now):
		return t, fmt.Errorf("%w: filing token", store.ErrExpired)
	}
	return t, nil
}

// BindFilingTokenPrincipal binds an unused token to the principal its
// resident files for (代办).
func (s *Store) BindFilingTokenPrincipal(ctx context.Context, actor audit.Actor, tok, kioskID, principalIDNumber, relation string, now time.Time) error {
	if err := checkActor(actor); err != nil {
		return err
	}
	if relation != store.AgentHousehold && relation != store.AgentGuardian {
		return invalid("agent relation %q: want %s or %s", relation, store.AgentHousehold, store.AgentGuardian)
	}
	at := s.at(now)
	return s.tx(ctx, WriteTx, func(q Q) error {
		t, err := s.filingTokenFull(ctx, q, tok, kioskID, at, s.d.ForUpdate)
		if err != nil {
			return err
		}
		var pid int64
		var status string
		if err := q.QueryRow(ctx, `SELECT id, status FROM residents WHERE id_key = $1`, s.idKey(principalIDNumber)).Scan(&pid, &status); err != nil {
			return notFound(err, "resident", "")
		}
		switch {
		case pid == t.residentID:
			return invalid("a resident cannot be their own agent")
		case status != string(store.ResidentActive):
			return fmt.Errorf("%w: resident %d is %s", store.ErrInactive, pid, status)
		case t.principalID == pid && t.PrincipalRelation == relation:
			return nil
		case t.principalID != 0:
			return fmt.Errorf("%w: the filing token is bound to another principal", store.ErrConflict)
		}
		n, err := q.Exec(ctx, `UPDATE filing_tokens SET principal_id = $2, principal_relation = $3 WHERE token_hash = $1 AND principal_id IS NULL`,
			tokenHash(tok), pid, relation)
		if err != nil {
			return err
		}
		if n != 1 {
			return fmt.Errorf("%w: the filing token is bound to another principal", store.ErrConflict)
		}
		_, err = s.appendAudit(ctx, q, ev(actor, at, "filing.agent_bound", "resident:"+itoa(pid),
			"agent", itoa(t.residentID), "relation", relation, "kiosk", kioskID))
		return err
	})
}

// CheckFilingToken checks a token without consuming it.
func (s *Store) CheckFilingToken(ctx context.Context, tok, kioskID string, now time.Time) (store.FilingToken, error) {
	q, err := s.q()
	if err != nil {
		return store.FilingToken{}, err
	}
	t, _, err := s.filingToken(ctx, q, tok, kioskID, s.at(now), "")
	return t, err
}

// PurgeExpired deletes expired nonces, tokens and coordination records.
func (s *Store) PurgeExpired(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	err := s.tx(ctx, WriteTx, func(q Q) error {
		total = 0
		for _, table := range []string{"nonces", "filing_tokens"} {
			n, err := q.Exec(ctx, `DELETE FROM `+table+` WHERE expires_at <= $1`, s.t(s.at(now)))
			if err != nil {
				return err
			}
			total += n
		}
		n, err := s.purgeCoordination(ctx, q, s.at(now))
		total += n
		if err != nil {
			return err
		}
		n, err = s.purgeChanges(ctx, q, s.at(now))
		total += n
		return err
	})
	return total, err
}

// ---- filings ----

// china is the time zone of reference-number years.
var china = time.FixedZone("CST", 8*3600)

const filingCols = `f.id, f.reference, f.service_code, f.resident_id, r.id_key, r.pii, f.kiosk_id, f.station_id, f.department, f.form,
	f.status, f.reply, f.due_at, f.idempotency_key, f.created_at, f.updated_at, f.closed_at, f.catalogue_version,
	f.agent_resident_id, f.agent_relation`
const filingFrom = ` FROM filings f JOIN residents r ON r.id = f.resident_id`

// scanFiling scans filingCols and opens the sealed ID number, form and
// reply.
func (s *Store) scanFiling(row interface{ Scan(...any) error }) (store.Filing, error) {
	var f store.Filing
	var form, reply, status string
	var cv int64
	var ref residentRef
	err := row.Scan(&f.ID, &f.Reference, &f.ServiceCode, &f.ResidentID, &ref.key, &ref.sealed, nstr{&f.KioskID}, nstr{&f.StationID}, &f.Department, &form,
		&status, &reply, tm{&f.DueAt}, &f.IdempotencyKey, tm{&f.CreatedAt}, tm{&f.UpdatedAt}, ntm{&f.ClosedAt}, &cv,
		nint{&f.AgentResidentID}, &f.AgentRelation)
	if err != nil {
		return f, err
	}
	f.CatalogueVersion = int(cv)
	f.Status = store.FilingStatus(status)
	if f.IDNumber, err = s.residentIDNumber(f.ResidentID, ref.key, ref.sealed); err != nil {
		return f, err
	}
	if form, err = s.openText(form, adFilingForm(f.Reference)); err != nil {
		return f, err
	}
	f.Form = json.RawMessage(form)
	f.Reply, err = s.openText(reply, adFilingReply(f.Reference))
	return f, err
}

func idemScope(actor audit.Actor, kioskID string) string {
	if kioskID != "" {
		return "kiosk:" + kioskID
	}
	return actor.String()
}

func (s *Store) filingByKey(ctx context.Context, q Q, scope, key string) (store.Filing, error) {
	return s.scanFiling(q.QueryRow(ctx, `SELECT `+filingCols+filingFrom+` WHERE f.idem_scope = $1 AND f.idempotency_key = $2`, scope, key))
}

// sameRequest reports whether an existing filing answers the retried request.
func sameRequest(f store.Filing, nf store.NewFiling) bool {
	return f.IDNumber == nf.IDNumber && f.ServiceCode == nf.ServiceCode
}

// CreateFiling creates a filing idempotently.
func (s *Store) CreateFiling(ctx context.Context, actor audit.Actor, nf store.NewFiling) (store.Filing, bool, error) {
	if err := checkActor(actor); err != nil {
		return store.Filing{}, false, err
	}
	nf.IDNumber = canonID(nf.IDNumber)
	switch {
	case nf.ServiceCode == "" || len(nf.ServiceCode) > 64:
		return store.Filing{}, false, invalid("filing service code must have 1..64 characters")
	case nf.Department == "":
		return store.Filing{}, false, invalid("filing without a department")
	case nf.IdempotencyKey == "" || len(nf.IdempotencyKey) > 128:
		return store.Filing{}, false, invalid("filing idempotency key must have 1..128 characters")
	case nf.DueAt.IsZero():
		return store.Filing{}, false, invalid("filing without a due date")
	case nf.CatalogueVersion < 0:
		return store.Filing{}, false, invalid("negative catalogue version")
	case nf.AgentIDNumber != "" && nf.AgentRelation != store.AgentHousehold && nf.AgentRelation != store.AgentGuardian:
		return store.Filing{}, false, invalid("agent relation %q: want %s or %s", nf.AgentRelation, store.AgentHousehold, store.AgentGuardian)
	case nf.AgentIDNumber == "" && nf.AgentRelation != "":
		return store.Filing{}, false, invalid("agent relation without an agent")
	}
	nf.AgentIDNumber = canonID(nf.AgentIDNumber)
	form := bytes.TrimSpace(nf.Form)
	if len(form) == 0 {
		form = []byte("{}")
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(form, &probe); err != nil {
		return store.Filing{}, false, invalid("filing form must be a JSON object: %v", err)
	}
	if len(form) > 1<<20 {
		return store.Filing{}, false, invalid("filing form larger than 1 MiB")
	}
	scope := idemScope(actor, nf.KioskID)
	at := s.at(nf.CreatedAt)
	var f store.Filing
	created := false
	err := s.tx(ctx, WriteTx, func(q Q) error {
		created = false
		// Fast path: a retry of a request that already committed.
		if old, err := s.filingByKey(ctx, q, scope, nf.IdempotencyKey); err == nil {
			f = old
			return nil
		} else if !isNotFound(err) {
			return err
		}
		var rid int64
		var status string
		if err := q.QueryRow(ctx, `SELECT id, status FROM residents WHERE id_key = $1`, s.idKey(nf.IDNumber)).Scan(&rid, &status); err != nil {
			return notFound(err, "resident", "")
		}
		if status != string(store.ResidentActive) {
			return fmt.Errorf("%w: resident %d is %s", store.ErrInactive, rid, status)
		}
		var agentID int64
		if nf.AgentIDNumber != "" {
			if err := q.QueryRow(ctx, `SELECT id FROM residents WHERE id_key = $1`, s.idKey(nf.AgentIDNumber)).Scan(&agentID); err != nil {
				return notFound(err, "agent resident", "")
			}
			if agentID == rid {
				return invalid("a resident cannot be their own agent")
			}
		}
		// Check the references here: SQLite reports a foreign-key violation
		// of an INSERT ... ON CONFLICT DO NOTHING as "no row".
		if nf.KioskID != "" {
			if err := q.QueryRow(ctx, `SELECT id FROM kiosks WHERE id = $1`, nf.KioskID).Scan(new(string)); err != nil {
				return notFound(err, "kiosk", fmt.Sprintf("%q", nf.KioskID))
			}
		}
		if nf.StationID != "" {
			if err := q.QueryRow(ctx, `SELECT id FROM stations WHERE id = $1`, nf.StationID).Scan(new(string)); err != nil {
				return notFound(err, "station", fmt.Sprintf("%q", nf.StationID))
			}
		}
		year := at.In(china).Year()
		var n int64
		if err := q.QueryRow(ctx, `INSERT INTO filing_counters (prefix, year, last) VALUES ($1, $2, 1)
			ON CONFLICT (prefix, year) DO UPDATE SET last = filing_counters.last + 1 RETURNING last`,
			s.opts.ReferencePrefix, year).Scan(&n); err != nil {
			return err
		}
		ref := fmt.Sprintf("%s-%d-%06d", s.opts.ReferencePrefix, year, n)
		sealedForm, err := s.sealText(string(form), adFilingForm(ref))
		if err != nil {
			return err
		}
		// A concurrent retry that got here first holds the unique key: on
		// PostgreSQL this insert waits for it and then does nothing.
		var id int64
		err = q.QueryRow(ctx, `INSERT INTO filings (reference, service_code, resident_id, kiosk_id, station_id, department, form, status, reply,
				due_at, idem_scope, idempotency_key, created_at, updated_at, catalogue_version, agent_resident_id, agent_relation)
			VALUES ($1, $2, $3, $4, $5, $6, $7, 'submitted', '', $8, $9, $10, $11, $11, $12, $13, $14)
			ON CONFLICT (idem_scope, idempotency_key) DO NOTHING RETURNING id`,
			ref, nf.ServiceCode, rid, nullIfEmpty(nf.KioskID), nullIfEmpty(nf.StationID), nf.Department, sealedForm,
			s.t(nf.DueAt), scope, nf.IdempotencyKey, s.t(at), int64(nf.CatalogueVersion), nullIfZero(agentID), nf.AgentRelation).Scan(&id)
		if isNotFound(err) {
			old, err := s.filingByKey(ctx, q, scope, nf.IdempotencyKey)
			if err != nil {
				return fmt.Errorf("filing insert did nothing and no filing holds its key: %w", err)
			}
			f = old
			return errRollback
		}
		if err != nil {
			return err
		}
		if nf.Token != "" {
			t, err := s.filingTokenFull(ctx, q, nf.Token, nf.KioskID, at, s.d.ForUpdate)
			if err != nil {
				return err
			}
			// A resident's own token files for them; an agent's token
			// files only for the principal it was bound to, and only
			// as the agent's filing.
			switch {
			case agentID == 0 && (t.residentID != rid || t.principalID != 0):
				return fmt.Errorf("%w: filing token issued for another resident", store.ErrNotFound)
			case agentID != 0 && (t.residentID != agentID || t.principalID != rid || t.PrincipalRelation != nf.AgentRelation):
				return fmt.Errorf("%w: filing token not bound to this agent and principal", store.ErrNotFound)
			}
			n, err := q.Exec(ctx, `UPDATE filing_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL`, tokenHash(t.Token), s.t(at))
			if err != nil {
				return err
			}
			if n != 1 {
				return fmt.Errorf("%w: filing token already used", store.ErrNotFound)
			}
		}
		if _, err := q.Exec(ctx, `INSERT INTO filing_events (filing_id, from_status, to_status, actor_type, actor_id, note, at)
			VALUES ($1, NULL, 'submitted', $2, $3, '', $4)`, id, string(actor.Type), actor.ID, s.t(at)); err != nil {
			return err
		}
		if _, err := s.appendAudit(ctx, q, ev(actor, at, "filing.create", "filing:"+itoa(id),
			"reference", ref, "service", nf.ServiceCode, "resident", itoa(rid), "department", nf.Department, "kiosk", nf.KioskID,
			"catalogue_version", itoa(int64(nf.CatalogueVersion)))); err != nil {
			return err
		}
		if agentID != 0 {
			if _, err := s.appendAudit(ctx, q, ev(actor, at, "filing.by_agent", "filing:"+itoa(id),
				"reference", ref, "resident", itoa(rid), "agent", itoa(agentID), "relation", nf.AgentRelation, "kiosk", nf.KioskID)); err != nil {
				return err
			}
		}
		f, err = s.scanFiling(q.QueryRow(ctx, `SELECT `+filingCols+filingFrom+` WHERE f.id = $1`, id))
		created = true
		return err
	})
	if errors.Is(err, errRollback) {
		err = nil
	}
	if err != nil {
		return store.Filing{}, false, err
	}
	if !created && !sameRequest(f, nf) {
		return store.Filing{}, false, fmt.Errorf("%w: idempotency key %q was used for another request (filing %s)", store.ErrConflict, nf.IdempotencyKey, f.Reference)
	}
	return f, created, nil
}

// errRollback ends a transaction without committing and without an error.
var errRollback = errors.New("sqlcore: rollback")

// GetFiling returns a filing by id.
func (s *Store) GetFiling(ctx context.Context, id int64) (store.Filing, error) {
	q, err := s.q()
	if err != nil {
		return store.Filing{}, err
	}
	f, err := s.scanFiling(q.QueryRow(ctx, `SELECT `+filingCols+filingFrom+` WHERE f.id = $1`, id))
	return f, notFound(err, "filing", id)
}

// GetFilingByReference returns a filing by reference number.
func (s *Store) GetFilingByReference(ctx context.Context, ref string) (store.Filing, error) {
	q, err := s.q()
	if err != nil {
		return store.Filing{}, err
	}
	f, err := s.scanFiling(q.QueryRow(ctx, `SELECT `+filingCols+filingFrom+` WHERE f.reference = $1`, strings.TrimSpace(ref)))
	return f, notFound(err, "filing", fmt.Sprintf("%q", ref))
}

// ListFilings pages through filings.
func (s *Store) ListFilings(ctx context.Context, ff store.FilingFilter) ([]store.Filing, error) {
	w := &where{}
	w.add(`f.id > `, ff.AfterID)
	if ff.Department != "" {
		w.add(`f.department = `, ff.Department)
	}
	if len(ff.Statuses) > 0 {
		vals := make([]any, len(ff.Statuses))
		for i, st := range ff.Statuses {
			if !st.Valid() {
				return nil, invalid("filing status %q", st)
			}
			vals[i] = string(st)
		}
		w.in(`f.status`, vals)
	}
	if ff.IDNumber != "" {
		w.add(`r.id_key = `, s.idKey(ff.IDNumber))
	}
	if ff.StationID != "" {
		w.add(`f.station_id = `, ff.StationID)
	}
	if ff.ServiceCode != "" {
		w.add(`f.service_code = `, ff.ServiceCode)
	}
	if ff.OverdueAt != nil {
		w.raw(`f.closed_at IS NULL`)
		w.add(`f.due_at < `, s.t(*ff.OverdueAt))
	}
	if ff.BeforeID > 0 {
		w.add(`f.id < `, ff.BeforeID)
	}
	if ff.Reference != "" {
		w.add(`f.reference = `, strings.TrimSpace(ff.Reference))
	}
	order := ` ORDER BY f.id`
	if ff.NewestFirst {
		order = ` ORDER BY f.id DESC`
	}
	q, err := s.q()
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, `SELECT `+filingCols+filingFrom+` WHERE `+w.String()+order+` LIMIT `+itoa(int64(limit(ff.Limit))), w.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Filing
	for rows.Next() {
		f, err := s.scanFiling(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// OverdueByDepartment counts overdue open filings per department.
func (s *Store) OverdueByDepartment(ctx context.Context, now time.Time) ([]store.DepartmentOverdue, error) {
	q, err := s.q()
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, `SELECT department, COUNT(*), MIN(due_at) FROM filings
		WHERE closed_at IS NULL AND due_at < $1 GROUP BY department ORDER BY department`, s.t(s.at(now)))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.DepartmentOverdue
	for rows.Next() {
		var d store.DepartmentOverdue
		var n int64
		if err := rows.Scan(&d.Department, &n, tm{&d.OldestDue}); err != nil {
			return nil, err
		}
		d.Overdue = int(n)
		out = append(out, d)
	}
	return out, rows.Err()
}

// TransitionFiling changes a filing's status.
func (s *Store) TransitionFiling(ctx context.Context, actor audit.Actor, t store.FilingTransition) (store.Filing, error) {
	if err := checkActor(actor); err != nil {
		return store.Filing{}, err
	}
	if !t.To.Valid() {
		return store.Filing{}, invalid("filing status %q", t.To)
	}
	at := s.at(t.At)
	var f store.Filing
	err := s.tx(ctx, WriteTx, func(q Q) error {
		var cur, ref string
		if err := q.QueryRow(ctx, `SELECT status, reference FROM filings WHERE id = $1`+s.d.ForUpdate, t.FilingID).Scan(&cur, &ref); err != nil {
			return notFound(err, "filing", t.FilingID)
		}
		from := store.FilingStatus(cur)
		if t.From != "" && t.From != from {
			return fmt.Errorf("%w: filing %d is %s, not %s", store.ErrConflict, t.FilingID, from, t.From)
		}
		if !store.CanTransition(from, t.To) {
			return fmt.Errorf("%w: filing %d cannot go from %s to %s", store.ErrConflict, t.FilingID, from, t.To)
		}
		var closed any
		if t.To.Closed() {
			closed = s.t(at)
		}
		if t.Reply != nil {
			reply, err := s.sealText(*t.Reply, adFilingReply(ref))
			if err != nil {
				return err
			}
			if _, err := q.Exec(ctx, `UPDATE filings SET reply = $2 WHERE id = $1`, t.FilingID, reply); err != nil {
				return err
			}
		}
		if _, err := q.Exec(ctx, `UPDATE filings SET status = $2, updated_at = $3, closed_at = $4 WHERE id = $1`,
			t.FilingID, string(t.To), s.t(at), closed); err != nil {
			return err
		}
		if _, err := q.Exec(ctx, `INSERT INTO filing_events (filing_id, from_status, to_status, actor_type, actor_id, note, at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, t.FilingID, string(from), string(t.To), string(actor.Type), actor.ID, t.Note, s.t(at)); err != nil {
			return err
		}
		var err error
		if f, err = s.scanFiling(q.QueryRow(ctx, `SELECT `+filingCols+filingFrom+` WHERE f.id = $1`, t.FilingID)); err != nil {
			return err
		}
		_, err = s.appendAudit(ctx, q, ev(actor, at, "filing.transition", "filing:"+itoa(t.FilingID),
			"from", string(from), "to", string(t.To), "reply_changed", fmt.Sprint(t.Reply != nil)))
		return err
	})
	return f, err
}

// FilingHistory returns a filing's status changes.
func (s *Store) FilingHistory(ctx context.Context, id int64) ([]store.FilingEvent, error) {
	q, err := s.q()
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, `SELECT id, filing_id, from_status, to_status, actor_type, actor_id, note, at FROM filing_events
		WHERE filing_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.FilingEvent
	for rows.Next() {
		var e store.FilingEvent
		var from, to string
		var actorType string
		if err := rows.Scan(&e.ID, &e.FilingID, nstr{&from}, &to, &actorType, &e.Actor.ID, &e.Note, tm{&e.At}); err != nil {
			return nil, err
		}
		e.FromStatus, e.ToStatus, e.Actor.Type = store.FilingStatus(from), store.FilingStatus(to), audit.ActorType(actorType)
		out = append(out, e)
	}
	return out, rows.Err()
}

var _ store.Store = (*Store)(nil)
