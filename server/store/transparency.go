package store

import (
	"context"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/audit"
)

// TransparencyStore keeps the records of 低保 transparency (the quarterly
// deliberation meetings and the filings they decided) and the residents'
// ratings of answered filings and reports (docs/transparency.md). Store
// embeds it.
type TransparencyStore interface {
	// CreateMeeting records a deliberation meeting of a station, audited
	// (dibao.meeting.create). Members and minutes are sealed at rest.
	CreateMeeting(ctx context.Context, actor audit.Actor, m NewMeeting) (Meeting, error)
	// GetMeeting returns a meeting with the ids of the filings it decided.
	GetMeeting(ctx context.Context, id int64) (Meeting, error)
	// ListMeetings lists meetings (with their filings) matching f, newest
	// meeting date first.
	ListMeetings(ctx context.Context, f MeetingFilter) ([]Meeting, error)
	// AttachFilings attaches filings to the meeting that decided them,
	// audited (dibao.meeting.attach), all or none: ErrNotFound for an
	// unknown meeting or filing, ErrInvalid for a filing of another
	// station, ErrConflict for a filing already attached to another
	// meeting (attaching it to the same meeting again is a no-op).
	AttachFilings(ctx context.Context, actor audit.Actor, meetingID int64, filingIDs []int64) (Meeting, error)
	// FilingMeeting returns the meeting a filing is attached to
	// (ErrNotFound: none).
	FilingMeeting(ctx context.Context, filingID int64) (Meeting, error)

	// Rate records a resident's rating of one of their own answered
	// filings or reports, by reference, audited (rating.create):
	// ErrNotFound when the reference is not the resident's, ErrConflict
	// when it has not been answered yet, ErrAlreadyExists when it was
	// rated before (one rating per transaction).
	Rate(ctx context.Context, actor audit.Actor, r NewRating) (Rating, error)
	// ResidentRatings returns the ratings of one resident's items, by item
	// ("filing" or "report") and id.
	ResidentRatings(ctx context.Context, idNumber string) ([]Rating, error)
	// RatingRecords returns the ratings given in [from, to), oldest first,
	// for the efficiency review; no personal data.
	RatingRecords(ctx context.Context, from, to time.Time) ([]Rating, error)

	// RepliesSeen returns when the kiosk last showed the resident their
	// filings and reports ("my filings"); ok is false when it never did
	// (docs/kiosk.md "New replies").
	RepliesSeen(ctx context.Context, residentID int64) (at time.Time, ok bool, err error)
	// MarkRepliesSeen records that the kiosk showed the resident their
	// filings and reports at at. It never moves the time back (an earlier
	// at is a no-op); ErrNotFound for an unknown resident.
	MarkRepliesSeen(ctx context.Context, residentID int64, at time.Time) error
}

// NewMeeting is the input of CreateMeeting.
type NewMeeting struct {
	StationID string
	Quarter   string // "2026Q3"
	HeldOn    string // "YYYY-MM-DD", within the quarter
	Members   []string
	Minutes   string
	CreatedAt time.Time // zero means now
}

// Meeting is the record of a quarterly 低保 deliberation meeting.
type Meeting struct {
	ID        int64
	StationID string
	Quarter   string
	HeldOn    string
	Members   []string
	Minutes   string
	FilingIDs []int64 // the filings it decided, ascending
	CreatedBy audit.Actor
	CreatedAt time.Time
}

// MeetingFilter selects meetings. Zero fields do not filter.
type MeetingFilter struct {
	StationID string
	Quarter   string
	Limit     int // 0 means 100; capped at 1000
}

// Rating scores: 非常满意 … 非常不满意.
const (
	RatingVeryDissatisfied = 1
	RatingVerySatisfied    = 5
)

// NewRating is the input of Rate.
type NewRating struct {
	IDNumber  string // the resident rating: the item must be theirs
	Reference string // the filing's or report's reference
	Score     int    // 1..5
	Reasons   []string
	KioskID   string
	CreatedAt time.Time // zero means now
}

// Rating is one resident's rating of one filing or report.
type Rating struct {
	Item       string // "filing" or "report"
	ItemID     int64
	Reference  string
	Unit       string
	ResidentID int64
	Score      int
	Reasons    []string
	KioskID    string
	CreatedAt  time.Time
}
