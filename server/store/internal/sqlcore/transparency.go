package sqlcore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// ---- 低保 deliberation meetings (docs/transparency.md) ----

func adMeetingRecord(id int64) string { return "veinkiosk/dibao-meeting/v1|" + itoa(id) }

// meetingRecord is the sealed record column: who was there and what was
// said (names of residents' representatives, discussion of households).
type meetingRecord struct {
	Members []string `json:"members"`
	Minutes string   `json:"minutes"`
}

var quarterRE = regexp.MustCompile(`^(\d{4})Q([1-4])$`)

// checkMeeting validates a new meeting's fields.
func checkMeeting(m store.NewMeeting) error {
	q := quarterRE.FindStringSubmatch(m.Quarter)
	if q == nil {
		return invalid("meeting quarter %q: want YYYYQn", m.Quarter)
	}
	held, err := time.Parse(time.DateOnly, m.HeldOn)
	if err != nil {
		return invalid("meeting date %q: want YYYY-MM-DD", m.HeldOn)
	}
	if fmt.Sprintf("%dQ%d", held.Year(), (int(held.Month())+2)/3) != m.Quarter {
		return invalid("meeting date %s is not in quarter %s", m.HeldOn, m.Quarter)
	}
	if m.StationID == "" {
		return invalid("meeting without a station")
	}
	if len(m.Members) < 3 || len(m.Members) > 30 {
		return invalid("a meeting record names 3..30 members present, not %d", len(m.Members))
	}
	seen := map[string]bool{}
	for _, name := range m.Members {
		n := strings.TrimSpace(name)
		if n == "" || n != name || !utf8.ValidString(n) || utf8.RuneCountInString(n) > 50 || strings.ContainsAny(n, "\r\n\t") {
			return invalid("member name %q: 1..50 characters, no surrounding space", name)
		}
		if seen[n] {
			return invalid("member %q named twice", n)
		}
		seen[n] = true
	}
	if strings.TrimSpace(m.Minutes) == "" || !utf8.ValidString(m.Minutes) || utf8.RuneCountInString(m.Minutes) > 5000 {
		return invalid("meeting minutes: 1..5000 characters")
	}
	return nil
}

// CreateMeeting records a deliberation meeting.
func (s *Store) CreateMeeting(ctx context.Context, actor audit.Actor, m store.NewMeeting) (store.Meeting, error) {
	if err := checkActor(actor); err != nil {
		return store.Meeting{}, err
	}
	if err := checkMeeting(m); err != nil {
		return store.Meeting{}, err
	}
	rec, err := json.Marshal(meetingRecord{Members: m.Members, Minutes: m.Minutes})
	if err != nil {
		return store.Meeting{}, err
	}
	at := s.at(m.CreatedAt)
	// A record is of a meeting held: one dated later than the day it is
	// recorded would let an approval rest on a meeting not yet held.
	if today := at.In(identity.ChinaTime).Format(time.DateOnly); m.HeldOn > today {
		return store.Meeting{}, invalid("meeting date %s is after today (%s): record a meeting once it was held", m.HeldOn, today)
	}
	var out store.Meeting
	err = s.tx(ctx, WriteTx, func(q Q) error {
		if err := q.QueryRow(ctx, `SELECT id FROM stations WHERE id = $1`, m.StationID).Scan(new(string)); err != nil {
			return notFound(err, "station", fmt.Sprintf("%q", m.StationID))
		}
		var id int64
		if err := q.QueryRow(ctx, `INSERT INTO dibao_meetings (station_id, quarter, held_on, record, actor_type, actor_id, created_at)
			VALUES ($1, $2, $3, '', $4, $5, $6) RETURNING id`, m.StationID, m.Quarter, m.HeldOn, string(actor.Type), actor.ID, s.t(at)).Scan(&id); err != nil {
			return err
		}
		sealed, err := s.sealText(string(rec), adMeetingRecord(id))
		if err != nil {
			return err
		}
		if _, err := q.Exec(ctx, `UPDATE dibao_meetings SET record = $2 WHERE id = $1`, id, sealed); err != nil {
			return err
		}
		if _, err := s.appendAudit(ctx, q, ev(actor, at, "dibao.meeting.create", "dibao_meeting:"+itoa(id),
			"station", m.StationID, "quarter", m.Quarter, "held_on", m.HeldOn, "members", fmt.Sprint(len(m.Members)))); err != nil {
			return err
		}
		out, err = s.meeting(ctx, q, id)
		return err
	})
	return out, err
}

const meetingCols = `id, station_id, quarter, held_on, record, actor_type, actor_id, created_at`

func (s *Store) scanMeeting(row interface{ Scan(...any) error }) (store.Meeting, error) {
	var m store.Meeting
	var rec, atype string
	if err := row.Scan(&m.ID, &m.StationID, &m.Quarter, &m.HeldOn, &rec, &atype, &m.CreatedBy.ID, tm{&m.CreatedAt}); err != nil {
		return m, err
	}
	m.CreatedBy.Type = audit.ActorType(atype)
	plain, err := s.openText(rec, adMeetingRecord(m.ID))
	if err != nil {
		return m, err
	}
	var r meetingRecord
	if err := json.Unmarshal([]byte(plain), &r); err != nil {
		return m, fmt.Errorf("meeting %d record: %w", m.ID, err)
	}
	m.Members, m.Minutes = r.Members, r.Minutes
	return m, nil
}

func (s *Store) meetingFilings(ctx context.Context, q Q, id int64) ([]int64, error) {
	return queryAll(ctx, q, func(rows Rows) (n int64, err error) { return n, rows.Scan(&n) },
		`SELECT filing_id FROM dibao_meeting_filings WHERE meeting_id = $1 ORDER BY filing_id`, id)
}

func (s *Store) meeting(ctx context.Context, q Q, id int64) (store.Meeting, error) {
	m, err := s.scanMeeting(q.QueryRow(ctx, `SELECT `+meetingCols+` FROM dibao_meetings WHERE id = $1`, id))
	if err != nil {
		return m, notFound(err, "meeting", id)
	}
	m.FilingIDs, err = s.meetingFilings(ctx, q, id)
	return m, err
}

// GetMeeting returns a meeting.
func (s *Store) GetMeeting(ctx context.Context, id int64) (store.Meeting, error) {
	q, err := s.q()
	if err != nil {
		return store.Meeting{}, err
	}
	return s.meeting(ctx, q, id)
}

// ListMeetings lists meetings, newest meeting date first.
func (s *Store) ListMeetings(ctx context.Context, f store.MeetingFilter) ([]store.Meeting, error) {
	q, err := s.q()
	if err != nil {
		return nil, err
	}
	ms, err := queryAll(ctx, q, func(rows Rows) (store.Meeting, error) { return s.scanMeeting(rows) },
		`SELECT `+meetingCols+` FROM dibao_meetings WHERE ($1 = '' OR station_id = $1) AND ($2 = '' OR quarter = $2)
		ORDER BY held_on DESC, id DESC LIMIT $3`, f.StationID, f.Quarter, limit(f.Limit))
	if err != nil {
		return nil, err
	}
	for i := range ms {
		if ms[i].FilingIDs, err = s.meetingFilings(ctx, q, ms[i].ID); err != nil {
			return nil, err
		}
	}
	return ms, nil
}

// AttachFilings attaches filings to the meeting that decided them.
func (s *Store) AttachFilings(ctx context.Context, actor audit.Actor, meetingID int64, filingIDs []int64) (store.Meeting, error) {
	if err := checkActor(actor); err != nil {
		return store.Meeting{}, err
	}
	if len(filingIDs) == 0 || len(filingIDs) > 500 {
		return store.Meeting{}, invalid("attach 1..500 filings, not %d", len(filingIDs))
	}
	ids := slices.Clone(filingIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	at := s.now()
	var out store.Meeting
	err := s.tx(ctx, WriteTx, func(q Q) error {
		var station string
		if err := q.QueryRow(ctx, `SELECT station_id FROM dibao_meetings WHERE id = $1`+s.d.ForUpdate, meetingID).Scan(&station); err != nil {
			return notFound(err, "meeting", meetingID)
		}
		var added []string
		for _, fid := range ids {
			var fst string
			if err := q.QueryRow(ctx, `SELECT station_id FROM filings WHERE id = $1`, fid).Scan(nstr{&fst}); err != nil {
				return notFound(err, "filing", fid)
			}
			if fst != station {
				return invalid("filing %d is not of the meeting's station", fid)
			}
			var cur int64
			err := q.QueryRow(ctx, `SELECT meeting_id FROM dibao_meeting_filings WHERE filing_id = $1`, fid).Scan(&cur)
			switch {
			case err == nil && cur == meetingID:
				continue
			case err == nil:
				return fmt.Errorf("%w: filing %d is attached to meeting %d", store.ErrConflict, fid, cur)
			case !errors.Is(err, ErrNoRows):
				return err
			}
			if _, err := q.Exec(ctx, `INSERT INTO dibao_meeting_filings (filing_id, meeting_id, attached_at) VALUES ($1, $2, $3)`,
				fid, meetingID, s.t(at)); err != nil {
				return err
			}
			added = append(added, itoa(fid))
		}
		if len(added) > 0 {
			if _, err := s.appendAudit(ctx, q, ev(actor, at, "dibao.meeting.attach", "dibao_meeting:"+itoa(meetingID),
				"filings", strings.Join(added, ","))); err != nil {
				return err
			}
		}
		var err error
		out, err = s.meeting(ctx, q, meetingID)
		return err
	})
	return out, err
}

// FilingMeeting returns the meeting a filing is attached to.
func (s *Store) FilingMeeting(ctx context.Context, filingID int64) (store.Meeting, error) {
	q, err := s.q()
	if err != nil {
		return store.Meeting{}, err
	}
	var id int64
	if err := q.QueryRow(ctx, `SELECT meeting_id FROM dibao_meeting_filings WHERE filing_id = $1`, filingID).Scan(&id); err != nil {
		return store.Meeting{}, notFound(err, "meeting of filing", filingID)
	}
	return s.meeting(ctx, q, id)
}

// sealedMeetings is where key rotation (reencryptPersonal) finds the
// sealed meeting records.
var sealedMeetings = sealedRows[int64]{
	query:  `SELECT id, record FROM dibao_meetings WHERE id > $1 ORDER BY id LIMIT $2`,
	update: `UPDATE dibao_meetings SET record = $2 WHERE id = $1`,
	cols:   []sealedCol[int64]{{ad: adByID(adMeetingRecord)}},
}

// ---- residents' ratings (好差评) ----

var reasonRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// Rate records a resident's rating of an answered filing or report.
func (s *Store) Rate(ctx context.Context, actor audit.Actor, nr store.NewRating) (store.Rating, error) {
	if err := checkActor(actor); err != nil {
		return store.Rating{}, err
	}
	if nr.Score < store.RatingVeryDissatisfied || nr.Score > store.RatingVerySatisfied {
		return store.Rating{}, invalid("rating score %d: want 1..5", nr.Score)
	}
	if len(nr.Reasons) > 8 {
		return store.Rating{}, invalid("at most 8 rating reasons")
	}
	reasons := slices.Clone(nr.Reasons)
	slices.Sort(reasons)
	reasons = slices.Compact(reasons)
	for _, r := range reasons {
		if !reasonRE.MatchString(r) {
			return store.Rating{}, invalid("rating reason %q: want a code [a-z][a-z0-9_]*", r)
		}
	}
	if nr.Reference == "" || len(nr.Reference) > 64 {
		return store.Rating{}, invalid("rating without a reference")
	}
	id := canonID(nr.IDNumber)
	at := s.at(nr.CreatedAt)
	out := store.Rating{Reference: nr.Reference, Score: nr.Score, Reasons: reasons, KioskID: nr.KioskID, CreatedAt: at}
	err := s.tx(ctx, WriteTx, func(q Q) error {
		var rid int64
		if err := q.QueryRow(ctx, `SELECT id FROM residents WHERE id_key = $1`, s.idKey(id)).Scan(&rid); err != nil {
			return notFound(err, "resident", "")
		}
		var owner int64
		var status string
		var answered bool
		err := q.QueryRow(ctx, `SELECT id, department, resident_id, status FROM filings WHERE reference = $1`, nr.Reference).
			Scan(&out.ItemID, &out.Unit, &owner, &status)
		if err == nil {
			out.Item = "filing"
			answered = store.FilingStatus(status).Closed()
		} else if errors.Is(err, ErrNoRows) {
			err = q.QueryRow(ctx, `SELECT id, unit, resident_id, status FROM reports WHERE reference = $1`, nr.Reference).
				Scan(&out.ItemID, &out.Unit, &owner, &status)
			out.Item = "report"
			answered = status == string(store.ReportReplied) || status == string(store.ReportClosed)
		}
		if err != nil || owner != rid {
			// Someone else's item is as unknown as an item that does not exist.
			return notFound(orNoRows(err), "filing or report", fmt.Sprintf("%q", nr.Reference))
		}
		if !answered {
			return fmt.Errorf("%w: %s %s has not been answered yet", store.ErrConflict, out.Item, nr.Reference)
		}
		out.ResidentID = rid
		n, err := q.Exec(ctx, `INSERT INTO ratings (item, item_id, unit, resident_id, score, reasons, kiosk_id, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (item, item_id) DO NOTHING`,
			out.Item, out.ItemID, out.Unit, rid, nr.Score, strings.Join(reasons, ","), nullIfEmpty(nr.KioskID), s.t(at))
		if err != nil {
			return err
		}
		if n != 1 {
			return fmt.Errorf("%w: %s %s was rated already", store.ErrAlreadyExists, out.Item, nr.Reference)
		}
		_, err = s.appendAudit(ctx, q, ev(actor, at, "rating.create", out.Item+":"+itoa(out.ItemID),
			"reference", nr.Reference, "unit", out.Unit, "resident", itoa(rid), "score", fmt.Sprint(nr.Score),
			"reasons", strings.Join(reasons, ","), "kiosk", nr.KioskID))
		return err
	})
	if err != nil {
		return store.Rating{}, err
	}
	return out, nil
}

// orNoRows is err, or ErrNoRows when err is nil (the item was found but is
// not the resident's).
func orNoRows(err error) error {
	if err == nil {
		return ErrNoRows
	}
	return err
}

const ratingCols = `g.item, g.item_id, COALESCE(f.reference, p.reference, ''), g.unit, g.resident_id, g.score, g.reasons, g.kiosk_id, g.created_at`
const ratingFrom = ` FROM ratings g
	LEFT JOIN filings f ON g.item = 'filing' AND f.id = g.item_id
	LEFT JOIN reports p ON g.item = 'report' AND p.id = g.item_id`

func scanRating(rows Rows) (store.Rating, error) {
	var r store.Rating
	var reasons string
	if err := rows.Scan(&r.Item, &r.ItemID, &r.Reference, &r.Unit, &r.ResidentID, &r.Score, &reasons, nstr{&r.KioskID}, tm{&r.CreatedAt}); err != nil {
		return r, err
	}
	if reasons != "" {
		r.Reasons = strings.Split(reasons, ",")
	}
	return r, nil
}

// ResidentRatings returns one resident's ratings.
func (s *Store) ResidentRatings(ctx context.Context, idNumber string) ([]store.Rating, error) {
	q, err := s.q()
	if err != nil {
		return nil, err
	}
	var rid int64
	if err := q.QueryRow(ctx, `SELECT id FROM residents WHERE id_key = $1`, s.idKey(canonID(idNumber))).Scan(&rid); err != nil {
		return nil, notFound(err, "resident", "")
	}
	return queryAll(ctx, q, scanRating, `SELECT `+ratingCols+ratingFrom+` WHERE g.resident_id = $1 ORDER BY g.created_at, g.item, g.item_id`, rid)
}

// RatingRecords returns the ratings given in [from, to).
func (s *Store) RatingRecords(ctx context.Context, from, to time.Time) ([]store.Rating, error) {
	q, err := s.q()
	if err != nil {
		return nil, err
	}
	return queryAll(ctx, q, scanRating, `SELECT `+ratingCols+ratingFrom+` WHERE g.created_at >= $1 AND g.created_at < $2
		ORDER BY g.created_at, g.item, g.item_id`, s.t(from), s.t(to))
}

// RepliesSeen returns when the kiosk last showed the resident their filings.
func (s *Store) RepliesSeen(ctx context.Context, residentID int64) (time.Time, bool, error) {
	q, err := s.q()
	if err != nil {
		return time.Time{}, false, err
	}
	var at time.Time
	err = q.QueryRow(ctx, `SELECT seen_at FROM replies_seen WHERE resident_id = $1`, residentID).Scan(tm{&at})
	if errors.Is(err, ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("replies seen: %w", err)
	}
	return at, true, nil
}

// MarkRepliesSeen records that the kiosk showed the resident their filings
// at at, never moving the time back.
func (s *Store) MarkRepliesSeen(ctx context.Context, residentID int64, at time.Time) error {
	q, err := s.q()
	if err != nil {
		return err
	}
	var id int64
	if err := q.QueryRow(ctx, `SELECT id FROM residents WHERE id = $1`, residentID).Scan(&id); err != nil {
		return notFound(err, "resident", residentID)
	}
	if _, err := q.Exec(ctx, `INSERT INTO replies_seen (resident_id, seen_at) VALUES ($1, $2)
		ON CONFLICT (resident_id) DO UPDATE SET seen_at = excluded.seen_at WHERE excluded.seen_at > replies_seen.seen_at`,
		residentID, s.t(at)); err != nil {
		return fmt.Errorf("mark replies seen: %w", err)
	}
	return nil
}
