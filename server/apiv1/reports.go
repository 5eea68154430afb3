package apiv1

import "time"

// Residents' issue reports and supervision (docs/reports.md,
// docs/supervision.md).
const (
	PathKioskReportKinds = "/api/v1/kiosk/report-kinds"
	PathKioskReports     = "/api/v1/kiosk/reports"
	PathReportKinds      = "/api/v1/reports/kinds"
	PathReports          = "/api/v1/reports"
	PathSupervisionOpen  = "/api/v1/supervision/open"
	PathReview           = "/api/v1/supervision/review"
	PathReviewChart      = "/api/v1/supervision/review/chart"
	PathAdminReportKinds = "/api/v1/admin/report-kinds"
)

// ReportUnit is a unit that processes reports.
type ReportUnit struct {
	Code   string `json:"code"`
	Name   string `json:"name"`
	NameEn string `json:"name_en"`
}

// ReportKind is a kind of problem a resident may report.
type ReportKind struct {
	Code         string `json:"code"`
	Name         string `json:"name"`
	NameEn       string `json:"name_en"`
	Unit         string `json:"unit"`
	DeadlineDays int    `json:"deadline_days"`
}

// ReportKindList is the body of GET report-kinds.
type ReportKindList struct {
	Version int          `json:"version"`
	Units   []ReportUnit `json:"units"`
	Kinds   []ReportKind `json:"kinds"`
}

// SubmitReportRequest is the body of POST /api/v1/kiosk/reports (after card
// and vein: the filing token) and, with IDNumber instead of Token, of POST
// /api/v1/reports at the desk.
type SubmitReportRequest struct {
	Token    string `json:"token,omitempty"`     // kiosk
	IDNumber string `json:"id_number,omitempty"` // desk: the resident's ID number, from the card
	Kind     string `json:"kind"`
	// GridCell defaults to the resident's grid cell in the population
	// database.
	GridCell    string `json:"grid_cell,omitempty"`
	Description string `json:"description"`        // 1..2000 characters
	Location    string `json:"location,omitempty"` // at most 200 characters
	// Photo is a JPEG or PNG (base64 in JSON), at most 2 MiB and 4096
	// pixels a side; checked by content.
	Photo          []byte `json:"photo,omitempty"`
	IdempotencyKey string `json:"idempotency_key"`
}

// Report is one issue report.
type Report struct {
	ID           int64      `json:"id"`
	Reference    string     `json:"reference"` // e.g. QS-R-2026-000123
	Kind         string     `json:"kind"`
	KindName     string     `json:"kind_name"`
	Unit         string     `json:"unit"`
	UnitName     string     `json:"unit_name"`
	Status       string     `json:"status"`
	StatusLabel  string     `json:"status_label"` // the office's and the kiosk's word: 待受理, 已受理, 已答复, 已办结
	GridCell     string     `json:"grid_cell"`
	StationID    string     `json:"station_id,omitempty"`
	KioskID      string     `json:"kiosk_id,omitempty"`
	SubmittedAt  time.Time  `json:"submitted_at"`
	DueAt        time.Time  `json:"due_at"`
	RepliedAt    *time.Time `json:"replied_at,omitempty"`
	ClosedAt     *time.Time `json:"closed_at,omitempty"`
	Reply        string     `json:"reply,omitempty"`
	Overdue      bool       `json:"overdue"`
	EscalatedAt  *time.Time `json:"escalated_at,omitempty"`
	HasPhoto     bool       `json:"has_photo"`
	Description  string     `json:"description,omitempty"`   // staff views only
	Location     string     `json:"location,omitempty"`      // staff views only
	ResidentID   int64      `json:"resident_id,omitempty"`   // staff views only
	ResidentName string     `json:"resident_name,omitempty"` // one report's staff view only
	// Rating and Rateable: as in Filing (the kiosk's "my filings" only).
	Rating   int  `json:"rating,omitempty"`
	Rateable bool `json:"rateable,omitempty"`
	// New: as in Filing (the kiosk's "my filings" only).
	New bool `json:"new,omitempty"`
}

// ReportList is a list of reports.
type ReportList struct {
	Reports []Report `json:"reports"`
}

// Report actions of a unit's officer.
const (
	ReportAccept = "accept" // 受理
	ReportReply  = "reply"  // 答复: reply required
	ReportClose  = "close"  // 办结: reply required unless already replied
)

// ReportAction is the body of POST /api/v1/reports/{id}/action.
type ReportAction struct {
	Action string `json:"action"`
	Reply  string `json:"reply,omitempty"` // at most 1000 characters
}

// ReportStatusLabel is the one word for a report status, in the office and
// at the kiosk.
func ReportStatusLabel(status string) string {
	switch status {
	case "submitted":
		return "待受理"
	case "accepted":
		return "已受理"
	case "replied":
		return "已答复"
	case "closed":
		return "已办结"
	}
	return status
}

// OpenItem is an open filing or report on the supervisor's list.
type OpenItem struct {
	Item        string     `json:"item"` // filing or report
	ID          int64      `json:"id"`
	Reference   string     `json:"reference"`
	Code        string     `json:"code"` // service or report kind
	Name        string     `json:"name"`
	Unit        string     `json:"unit"`
	UnitName    string     `json:"unit_name"`
	StationID   string     `json:"station_id,omitempty"`
	Status      string     `json:"status"`
	SubmittedAt time.Time  `json:"submitted_at"`
	DueAt       time.Time  `json:"due_at"`
	TimeLeftS   int64      `json:"time_left_s"` // negative: overdue by that much
	Overdue     bool       `json:"overdue"`
	EscalatedAt *time.Time `json:"escalated_at,omitempty"`
}

// OpenItemList is the body of GET /api/v1/supervision/open.
type OpenItemList struct {
	At        time.Time  `json:"at"`
	Escalated int        `json:"escalated"` // items escalated by this request
	Items     []OpenItem `json:"items"`
}

// ReviewStats are one unit's figures for a month or the year.
type ReviewStats struct {
	Done          int      `json:"done"`
	OnTime        int      `json:"on_time"`
	Late          int      `json:"late"`
	OpenOverdue   int      `json:"open_overdue"`
	Overdue       int      `json:"overdue"`
	OnTimeRate    *float64 `json:"on_time_rate"` // null: nothing done or due
	MedianSeconds int64    `json:"median_s"`
	P90Seconds    int64    `json:"p90_s"`
	// Residents' ratings (好差评) given in the period: how many, satisfied
	// (4-5 of 5), dissatisfied (1-2); the share satisfied and the mean
	// score, null without ratings.
	Rated            int      `json:"rated"`
	Satisfied        int      `json:"satisfied"`
	Dissatisfied     int      `json:"dissatisfied"`
	SatisfactionRate *float64 `json:"satisfaction_rate"`
	MeanScore        *float64 `json:"mean_score"`
}

// ReviewUnit is one unit's year.
type ReviewUnit struct {
	Unit     string        `json:"unit"`
	UnitName string        `json:"unit_name"`
	Months   []ReviewStats `json:"months"` // 12, January first
	Year     ReviewStats   `json:"year"`
}

// Review is the body of GET /api/v1/supervision/review.
type Review struct {
	Year  int          `json:"year"`
	AsOf  time.Time    `json:"as_of"`
	Units []ReviewUnit `json:"units"`
}
