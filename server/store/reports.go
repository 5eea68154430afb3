package store

import (
	"context"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/audit"
)

// ReportStore keeps residents' issue reports, the supervisor's escalations
// and the records of the efficiency review (docs/reports.md,
// docs/supervision.md). Store embeds it.
type ReportStore interface {
	// CreateReport creates a report idempotently, as CreateFiling does
	// (the same key scope, the token consumed in the same transaction),
	// with its first history row and its audit event (report.create). The
	// details, reply and photo are sealed at rest.
	CreateReport(ctx context.Context, actor audit.Actor, r NewReport) (report Report, created bool, err error)
	GetReport(ctx context.Context, id int64) (Report, error)
	// ReportPhoto returns a report's photo and its media type
	// (ErrNotFound: the report has none).
	ReportPhoto(ctx context.Context, id int64) (mediaType string, photo []byte, err error)
	// ListReports pages through reports matching f, ordered by id.
	ListReports(ctx context.Context, f ReportFilter) ([]Report, error)
	// TransitionReport changes a report's status as CanTransitionReport
	// allows, audited (report.transition); ErrConflict otherwise.
	TransitionReport(ctx context.Context, actor audit.Actor, t ReportTransition) (Report, error)

	// OpenItems lists open filings and reports (of one unit, or all), due
	// first, with their escalation; no personal data.
	OpenItems(ctx context.Context, f OpenItemFilter) ([]OpenItem, error)
	// EscalateOverdue marks, once, every open filing and report whose due
	// time is before now, each with an audit event (filing.escalate,
	// report.escalate), and returns the items it marked.
	EscalateOverdue(ctx context.Context, actor audit.Actor, now time.Time) ([]OpenItem, error)
	// ReviewRecords returns the timing of every filing and report created
	// before to and not done before from (open ones included).
	ReviewRecords(ctx context.Context, from, to time.Time) ([]ReviewRecord, error)

	// SaveReportKinds keeps a new version of the kinds document (as
	// SaveCatalogue: versions only grow, ErrConflict otherwise; audited
	// report_kinds.save); LatestReportKinds returns the latest (ErrNotFound:
	// none saved, the embedded document is in force).
	SaveReportKinds(ctx context.Context, actor audit.Actor, v CatalogueVersion) error
	LatestReportKinds(ctx context.Context) (CatalogueVersion, error)
}

// ReportStatus is the processing state of a report.
type ReportStatus string

// Report statuses: 待受理, 已受理, 已答复, 已办结.
const (
	ReportSubmitted ReportStatus = "submitted"
	ReportAccepted  ReportStatus = "accepted"
	ReportReplied   ReportStatus = "replied"
	ReportClosed    ReportStatus = "closed"
)

// Valid reports whether s is a known status.
func (s ReportStatus) Valid() bool {
	switch s {
	case ReportSubmitted, ReportAccepted, ReportReplied, ReportClosed:
		return true
	}
	return false
}

// Open reports whether the unit still owes the resident an answer.
func (s ReportStatus) Open() bool { return s == ReportSubmitted || s == ReportAccepted }

var reportTransitions = map[ReportStatus][]ReportStatus{
	ReportSubmitted: {ReportAccepted, ReportReplied, ReportClosed},
	ReportAccepted:  {ReportReplied, ReportClosed},
	ReportReplied:   {ReportClosed},
}

// CanTransitionReport reports whether a report may go from one status to
// another. Closed is final.
func CanTransitionReport(from, to ReportStatus) bool {
	for _, s := range reportTransitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// NewReport is the input of CreateReport.
type NewReport struct {
	Kind           string
	Unit           string
	IDNumber       string
	KioskID        string // "" for a report entered by staff at the desk
	StationID      string
	GridCell       string
	Description    string // the resident's words (sealed)
	Location       string // where (sealed)
	Photo          []byte // optional (sealed); PhotoType required with it
	PhotoType      string
	DueAt          time.Time
	IdempotencyKey string
	Token          string
	CreatedAt      time.Time // zero means now
}

// Report is a resident's issue report.
type Report struct {
	ID             int64
	Reference      string // "QS-R-2026-000123"
	Kind           string
	Unit           string
	ResidentID     int64
	IDNumber       string
	KioskID        string
	StationID      string
	GridCell       string
	Description    string
	Location       string
	PhotoType      string // "" without a photo
	Status         ReportStatus
	Reply          string
	DueAt          time.Time
	IdempotencyKey string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	RepliedAt      *time.Time
	ClosedAt       *time.Time
	EscalatedAt    *time.Time
}

// ReportFilter selects reports. Zero fields do not filter.
type ReportFilter struct {
	Unit      string
	Statuses  []ReportStatus
	IDNumber  string
	StationID string
	AfterID   int64
	Limit     int // 0 means 100; capped at 1000
}

// ReportTransition is the input of TransitionReport.
type ReportTransition struct {
	ReportID int64
	From     ReportStatus // expected current status; "" skips the check
	To       ReportStatus
	Note     string
	Reply    *string // when set, replaces the reply (and sets RepliedAt once)
	At       time.Time
}

// OpenItem is an open filing or report as the supervisor sees it.
type OpenItem struct {
	Item        string // "filing" or "report"
	ID          int64
	Reference   string
	Code        string // service or report kind
	Unit        string
	StationID   string
	Status      string
	CreatedAt   time.Time
	DueAt       time.Time
	EscalatedAt *time.Time
}

// OpenItemFilter selects open items.
type OpenItemFilter struct {
	Unit  string
	Limit int // 0 means 1000; capped at 5000
}

// ReviewRecord is the timing of one filing or report.
type ReviewRecord struct {
	Item      string // "filing" or "report"
	Unit      string
	CreatedAt time.Time
	DueAt     time.Time
	DoneAt    *time.Time // decision (filing) or reply (report)
}
