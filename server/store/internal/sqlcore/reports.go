package sqlcore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// ---- residents' issue reports (docs/reports.md) ----

func adReportDetails(ref string) string { return "veinkiosk/report-details/v1|" + ref }
func adReportReply(ref string) string   { return "veinkiosk/report-reply/v1|" + ref }
func adReportPhoto(ref string) string   { return "veinkiosk/report-photo/v1|" + ref }

// reportDetails is the sealed details column.
type reportDetails struct {
	Description string `json:"description"`
	Location    string `json:"location,omitempty"`
}

const reportCols = `p.id, p.reference, p.kind, p.unit, p.resident_id, r.id_key, r.pii, p.kiosk_id, p.station_id, p.grid_cell, p.details,
	p.photo_type, p.status, p.reply, p.due_at, p.idempotency_key, p.created_at, p.updated_at, p.replied_at, p.closed_at, e.escalated_at`
const reportFrom = ` FROM reports p JOIN residents r ON r.id = p.resident_id
	LEFT JOIN escalations e ON e.item = 'report' AND e.item_id = p.id`

func (s *Store) scanReport(row interface{ Scan(...any) error }) (store.Report, error) {
	var p store.Report
	var details, reply, status string
	var ref residentRef
	err := row.Scan(&p.ID, &p.Reference, &p.Kind, &p.Unit, &p.ResidentID, &ref.key, &ref.sealed, nstr{&p.KioskID}, nstr{&p.StationID}, &p.GridCell, &details,
		&p.PhotoType, &status, &reply, tm{&p.DueAt}, &p.IdempotencyKey, tm{&p.CreatedAt}, tm{&p.UpdatedAt}, ntm{&p.RepliedAt}, ntm{&p.ClosedAt}, ntm{&p.EscalatedAt})
	if err != nil {
		return p, err
	}
	p.Status = store.ReportStatus(status)
	if p.IDNumber, err = s.residentIDNumber(p.ResidentID, ref.key, ref.sealed); err != nil {
		return p, err
	}
	if details, err = s.openText(details, adReportDetails(p.Reference)); err != nil {
		return p, err
	}
	var d reportDetails
	if err := json.Unmarshal([]byte(details), &d); err != nil {
		return p, fmt.Errorf("report %s details: %w", p.Reference, err)
	}
	p.Description, p.Location = d.Description, d.Location
	p.Reply, err = s.openText(reply, adReportReply(p.Reference))
	return p, err
}

func (s *Store) reportByKey(ctx context.Context, q Q, scope, key string) (store.Report, error) {
	return s.scanReport(q.QueryRow(ctx, `SELECT `+reportCols+reportFrom+` WHERE p.idem_scope = $1 AND p.idempotency_key = $2`, scope, key))
}

func checkText(what, v string, maxRunes int, required bool) error {
	switch {
	case required && strings.TrimSpace(v) == "":
		return invalid("report %s is required", what)
	case !utf8.ValidString(v) || utf8.RuneCountInString(v) > maxRunes:
		return invalid("report %s must be valid UTF-8 of at most %d characters", what, maxRunes)
	}
	return nil
}

// CreateReport creates a report idempotently.
func (s *Store) CreateReport(ctx context.Context, actor audit.Actor, nr store.NewReport) (store.Report, bool, error) {
	if err := checkActor(actor); err != nil {
		return store.Report{}, false, err
	}
	nr.IDNumber = canonID(nr.IDNumber)
	switch {
	case nr.Kind == "" || len(nr.Kind) > 64 || nr.Unit == "" || len(nr.Unit) > 64:
		return store.Report{}, false, invalid("report kind and unit must have 1..64 characters")
	case nr.GridCell == "" || len(nr.GridCell) > 64:
		return store.Report{}, false, invalid("report grid cell must have 1..64 characters")
	case nr.IdempotencyKey == "" || len(nr.IdempotencyKey) > 128:
		return store.Report{}, false, invalid("report idempotency key must have 1..128 characters")
	case nr.DueAt.IsZero():
		return store.Report{}, false, invalid("report without a due date")
	case len(nr.Photo) > 0 && nr.PhotoType == "", len(nr.Photo) == 0 && nr.PhotoType != "":
		return store.Report{}, false, invalid("report photo and photo type go together")
	case len(nr.Photo) > 4<<20:
		return store.Report{}, false, invalid("report photo larger than 4 MiB")
	}
	if err := checkText("description", nr.Description, 2000, true); err != nil {
		return store.Report{}, false, err
	}
	if err := checkText("location", nr.Location, 200, false); err != nil {
		return store.Report{}, false, err
	}
	details, err := json.Marshal(reportDetails{Description: nr.Description, Location: nr.Location})
	if err != nil {
		return store.Report{}, false, err
	}
	scope := idemScope(actor, nr.KioskID)
	at := s.at(nr.CreatedAt)
	var p store.Report
	created := false
	err = s.tx(ctx, WriteTx, func(q Q) error {
		created = false
		if old, err := s.reportByKey(ctx, q, scope, nr.IdempotencyKey); err == nil {
			p = old
			return nil
		} else if !isNotFound(err) {
			return err
		}
		var rid int64
		var status string
		if err := q.QueryRow(ctx, `SELECT id, status FROM residents WHERE id_key = $1`, s.idKey(nr.IDNumber)).Scan(&rid, &status); err != nil {
			return notFound(err, "resident", "")
		}
		if status != string(store.ResidentActive) {
			return fmt.Errorf("%w: resident %d is %s", store.ErrInactive, rid, status)
		}
		if nr.KioskID != "" {
			if err := q.QueryRow(ctx, `SELECT id FROM kiosks WHERE id = $1`, nr.KioskID).Scan(new(string)); err != nil {
				return notFound(err, "kiosk", fmt.Sprintf("%q", nr.KioskID))
			}
		}
		if nr.StationID != "" {
			if err := q.QueryRow(ctx, `SELECT id FROM stations WHERE id = $1`, nr.StationID).Scan(new(string)); err != nil {
				return notFound(err, "station", fmt.Sprintf("%q", nr.StationID))
			}
		}
		prefix := s.opts.ReferencePrefix + "-R"
		year := at.In(china).Year()
		var n int64
		if err := q.QueryRow(ctx, `INSERT INTO filing_counters (prefix, year, last) VALUES ($1, $2, 1)
			ON CONFLICT (prefix, year) DO UPDATE SET last = filing_counters.last + 1 RETURNING last`, prefix, year).Scan(&n); err != nil {
			return err
		}
		ref := fmt.Sprintf("%s-%d-%06d", prefix, year, n)
		sealed, err := s.sealText(string(details), adReportDetails(ref))
		if err != nil {
			return err
		}
		var id int64
		err = q.QueryRow(ctx, `INSERT INTO reports (reference, kind, unit, resident_id, kiosk_id, station_id, grid_cell, details, photo_type,
				status, reply, due_at, idem_scope, idempotency_key, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'submitted', '', $10, $11, $12, $13, $13)
			ON CONFLICT (idem_scope, idempotency_key) DO NOTHING RETURNING id`,
			ref, nr.Kind, nr.Unit, rid, nullIfEmpty(nr.KioskID), nullIfEmpty(nr.StationID), nr.GridCell, sealed, nr.PhotoType,
			s.t(nr.DueAt), scope, nr.IdempotencyKey, s.t(at)).Scan(&id)
		if isNotFound(err) {
			old, err := s.reportByKey(ctx, q, scope, nr.IdempotencyKey)
			if err != nil {
				return fmt.Errorf("report insert did nothing and no report holds its key: %w", err)
			}
			p = old
			return errRollback
		}
		if err != nil {
			return err
		}
		if len(nr.Photo) > 0 {
			ph, err := s.ring.Seal(nr.Photo, []byte(adReportPhoto(ref)))
			if err != nil {
				return err
			}
			if _, err := q.Exec(ctx, `INSERT INTO report_photos (report_id, photo) VALUES ($1, $2)`, id, ph); err != nil {
				return err
			}
		}
		if nr.Token != "" {
			t, trid, err := s.filingToken(ctx, q, nr.Token, nr.KioskID, at, s.d.ForUpdate)
			if err != nil {
				return err
			}
			if trid != rid {
				return fmt.Errorf("%w: filing token issued for another resident", store.ErrNotFound)
			}
			n, err := q.Exec(ctx, `UPDATE filing_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL`, tokenHash(t.Token), s.t(at))
			if err != nil {
				return err
			}
			if n != 1 {
				return fmt.Errorf("%w: filing token already used", store.ErrNotFound)
			}
		}
		if _, err := s.appendAudit(ctx, q, ev(actor, at, "report.create", "report:"+itoa(id),
			"reference", ref, "kind", nr.Kind, "resident", itoa(rid), "unit", nr.Unit, "kiosk", nr.KioskID, "station", nr.StationID,
			"photo", fmt.Sprint(len(nr.Photo) > 0))); err != nil {
			return err
		}
		p, err = s.scanReport(q.QueryRow(ctx, `SELECT `+reportCols+reportFrom+` WHERE p.id = $1`, id))
		created = true
		return err
	})
	if errors.Is(err, errRollback) {
		err = nil
	}
	if err != nil {
		return store.Report{}, false, err
	}
	if !created && (p.IDNumber != nr.IDNumber || p.Kind != nr.Kind) {
		return store.Report{}, false, fmt.Errorf("%w: idempotency key %q was used for another request (report %s)", store.ErrConflict, nr.IdempotencyKey, p.Reference)
	}
	return p, created, nil
}

// GetReport returns a report by id.
func (s *Store) GetReport(ctx context.Context, id int64) (store.Report, error) {
	q, err := s.q()
	if err != nil {
		return store.Report{}, err
	}
	p, err := s.scanReport(q.QueryRow(ctx, `SELECT `+reportCols+reportFrom+` WHERE p.id = $1`, id))
	return p, notFound(err, "report", id)
}

// ReportPhoto returns a report's photo.
func (s *Store) ReportPhoto(ctx context.Context, id int64) (string, []byte, error) {
	q, err := s.q()
	if err != nil {
		return "", nil, err
	}
	var ref, typ string
	var sealed []byte
	err = q.QueryRow(ctx, `SELECT p.reference, p.photo_type, ph.photo FROM reports p JOIN report_photos ph ON ph.report_id = p.id WHERE p.id = $1`, id).
		Scan(&ref, &typ, &sealed)
	if err != nil {
		return "", nil, notFound(err, "report photo", id)
	}
	b, err := s.ring.Open(sealed, []byte(adReportPhoto(ref)))
	if err != nil {
		return "", nil, fmt.Errorf("%w: report photo %s: %w", store.ErrDecrypt, ref, err)
	}
	return typ, b, nil
}

// ListReports pages through reports.
func (s *Store) ListReports(ctx context.Context, f store.ReportFilter) ([]store.Report, error) {
	w := &where{}
	w.add(`p.id > `, f.AfterID)
	if f.Unit != "" {
		w.add(`p.unit = `, f.Unit)
	}
	if len(f.Statuses) > 0 {
		vals := make([]any, len(f.Statuses))
		for i, st := range f.Statuses {
			if !st.Valid() {
				return nil, invalid("report status %q", st)
			}
			vals[i] = string(st)
		}
		w.in(`p.status`, vals)
	}
	if f.IDNumber != "" {
		w.add(`r.id_key = `, s.idKey(f.IDNumber))
	}
	if f.StationID != "" {
		w.add(`p.station_id = `, f.StationID)
	}
	q, err := s.q()
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, `SELECT `+reportCols+reportFrom+` WHERE `+w.String()+` ORDER BY p.id LIMIT `+itoa(int64(limit(f.Limit))), w.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Report
	for rows.Next() {
		p, err := s.scanReport(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// TransitionReport changes a report's status.
func (s *Store) TransitionReport(ctx context.Context, actor audit.Actor, t store.ReportTransition) (store.Report, error) {
	if err := checkActor(actor); err != nil {
		return store.Report{}, err
	}
	if !t.To.Valid() {
		return store.Report{}, invalid("report status %q", t.To)
	}
	if t.Reply != nil {
		if err := checkText("reply", *t.Reply, 1000, false); err != nil {
			return store.Report{}, err
		}
	}
	at := s.at(t.At)
	var p store.Report
	err := s.tx(ctx, WriteTx, func(q Q) error {
		var cur, ref string
		var replied bool // the reply the event reports: the sealed text is not empty
		if err := q.QueryRow(ctx, `SELECT status, reference, reply <> '' FROM reports WHERE id = $1`+s.d.ForUpdate, t.ReportID).Scan(&cur, &ref, &replied); err != nil {
			return notFound(err, "report", t.ReportID)
		}
		from := store.ReportStatus(cur)
		if t.From != "" && t.From != from {
			return fmt.Errorf("%w: report %d is %s, not %s", store.ErrConflict, t.ReportID, from, t.From)
		}
		if !store.CanTransitionReport(from, t.To) {
			return fmt.Errorf("%w: report %d cannot go from %s to %s", store.ErrConflict, t.ReportID, from, t.To)
		}
		if t.Reply != nil {
			replied = *t.Reply != ""
			reply, err := s.sealText(*t.Reply, adReportReply(ref))
			if err != nil {
				return err
			}
			if _, err := q.Exec(ctx, `UPDATE reports SET reply = $2, replied_at = COALESCE(replied_at, $3) WHERE id = $1`, t.ReportID, reply, s.t(at)); err != nil {
				return err
			}
		}
		var closed any
		if t.To == store.ReportClosed {
			closed = s.t(at)
		}
		if _, err := q.Exec(ctx, `UPDATE reports SET status = $2, updated_at = $3, closed_at = $4 WHERE id = $1`,
			t.ReportID, string(t.To), s.t(at), closed); err != nil {
			return err
		}
		if _, err := s.appendAudit(ctx, q, ev(actor, at, "report.transition", "report:"+itoa(t.ReportID),
			"from", string(from), "to", string(t.To), "reply_changed", fmt.Sprint(t.Reply != nil), "replied", fmt.Sprint(replied), "note", t.Note)); err != nil {
			return err
		}
		var err error
		p, err = s.scanReport(q.QueryRow(ctx, `SELECT `+reportCols+reportFrom+` WHERE p.id = $1`, t.ReportID))
		return err
	})
	return p, err
}

// ---- supervision ----

// openItemsSQL lists open filings and reports with their escalation. $1 is
// the unit (” for all).
const openItemsSQL = `SELECT 'filing', f.id, f.reference, f.service_code, f.department, f.station_id, f.status, f.created_at, f.due_at, e.escalated_at
	FROM filings f LEFT JOIN escalations e ON e.item = 'filing' AND e.item_id = f.id
	WHERE f.closed_at IS NULL AND ($1 = '' OR f.department = $1)
	UNION ALL
	SELECT 'report', p.id, p.reference, p.kind, p.unit, p.station_id, p.status, p.created_at, p.due_at, e.escalated_at
	FROM reports p LEFT JOIN escalations e ON e.item = 'report' AND e.item_id = p.id
	WHERE p.status IN ('submitted', 'accepted') AND ($1 = '' OR p.unit = $1)`

func scanOpenItems(rows Rows) ([]store.OpenItem, error) {
	defer rows.Close()
	var out []store.OpenItem
	for rows.Next() {
		var it store.OpenItem
		if err := rows.Scan(&it.Item, &it.ID, &it.Reference, &it.Code, &it.Unit, nstr{&it.StationID}, &it.Status, tm{&it.CreatedAt}, tm{&it.DueAt}, ntm{&it.EscalatedAt}); err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

// OpenItems lists open filings and reports, due first.
func (s *Store) OpenItems(ctx context.Context, f store.OpenItemFilter) ([]store.OpenItem, error) {
	n := f.Limit
	if n <= 0 {
		n = 1000
	}
	n = min(n, 5000)
	q, err := s.q()
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, `SELECT * FROM (`+openItemsSQL+`) o ORDER BY 9, 1, 2 LIMIT `+itoa(int64(n)), f.Unit)
	if err != nil {
		return nil, err
	}
	return scanOpenItems(rows)
}

// EscalateOverdue marks overdue open items once, each audited.
func (s *Store) EscalateOverdue(ctx context.Context, actor audit.Actor, now time.Time) ([]store.OpenItem, error) {
	if err := checkActor(actor); err != nil {
		return nil, err
	}
	at := s.at(now)
	var out []store.OpenItem
	err := s.tx(ctx, WriteTx, func(q Q) error {
		out = nil
		rows, err := q.Query(ctx, `SELECT * FROM (`+openItemsSQL+`) o WHERE o.escalated_at IS NULL AND o.due_at < $2 ORDER BY 9, 1, 2 LIMIT 1000`, "", s.t(at))
		if err != nil {
			return err
		}
		items, err := scanOpenItems(rows)
		if err != nil {
			return err
		}
		for _, it := range items {
			// Another replica may have escalated it meanwhile: then this
			// insert does nothing, and neither does the audit.
			n, err := q.Exec(ctx, `INSERT INTO escalations (item, item_id, unit, due_at, escalated_at) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (item, item_id) DO NOTHING`, it.Item, it.ID, it.Unit, s.t(it.DueAt), s.t(at))
			if err != nil {
				return err
			}
			if n == 0 {
				continue
			}
			if _, err := s.appendAudit(ctx, q, ev(actor, at, it.Item+".escalate", it.Item+":"+itoa(it.ID),
				"reference", it.Reference, "unit", it.Unit, "due", it.DueAt.UTC().Format(time.RFC3339))); err != nil {
				return err
			}
			e := at
			it.EscalatedAt = &e
			out = append(out, it)
		}
		return nil
	})
	return out, err
}

// ReviewRecords returns the timings the efficiency review is computed from.
func (s *Store) ReviewRecords(ctx context.Context, from, to time.Time) ([]store.ReviewRecord, error) {
	q, err := s.q()
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, `SELECT 'filing', department, created_at, due_at, closed_at FROM filings
			WHERE created_at < $2 AND (closed_at IS NULL OR closed_at >= $1)
		UNION ALL
		SELECT 'report', unit, created_at, due_at, replied_at FROM reports
			WHERE created_at < $2 AND (replied_at IS NULL OR replied_at >= $1)
		ORDER BY 3`, s.t(from), s.t(to))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.ReviewRecord
	for rows.Next() {
		var r store.ReviewRecord
		if err := rows.Scan(&r.Item, &r.Unit, tm{&r.CreatedAt}, tm{&r.DueAt}, ntm{&r.DoneAt}); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Where key rotation (reencryptPersonal) finds the sealed details, replies
// and photos of reports.
var (
	sealedReports = sealedRows[int64]{
		query:  `SELECT id, reference, details, reply FROM reports WHERE id > $1 ORDER BY id LIMIT $2`,
		bound:  true,
		update: `UPDATE reports SET details = $2, reply = $3 WHERE id = $1`,
		cols:   []sealedCol[int64]{{ad: adByBind(adReportDetails)}, {ad: adByBind(adReportReply)}},
	}
	sealedReportPhotos = sealedRows[int64]{
		query: `SELECT ph.report_id, p.reference, ph.photo FROM report_photos ph JOIN reports p ON p.id = ph.report_id
		WHERE ph.report_id > $1 ORDER BY ph.report_id LIMIT $2`,
		bound:  true,
		update: `UPDATE report_photos SET photo = $2 WHERE report_id = $1`,
		cols: []sealedCol[int64]{{
			blob: true,
			ad:   adByBind(adReportPhoto),
			what: func(_ int64, ref string) string { return "report photo " + ref },
		}},
	}
)
