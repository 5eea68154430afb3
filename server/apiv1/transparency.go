package apiv1

import "time"

// 低保 transparency and residents' ratings (docs/transparency.md).
const (
	PathMeetings     = "/api/v1/dibao/meetings"
	PathDibaoNotice  = "/api/v1/dibao/notice"
	PathKioskRatings = "/api/v1/kiosk/ratings"
)

// Meeting is the record of a quarterly 低保 deliberation meeting of a
// station: when, who was present, the minutes and the filings it decided.
type Meeting struct {
	ID        int64     `json:"id"`
	StationID string    `json:"station_id"`
	Quarter   string    `json:"quarter"` // "2026Q3"
	HeldOn    string    `json:"held_on"` // "YYYY-MM-DD", within the quarter
	Members   []string  `json:"members"` // members present (3..30)
	Minutes   string    `json:"minutes"` // 1..5000 characters
	Filings   []string  `json:"filings"` // references of the filings it decided
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

// MeetingCreate is the body of POST /api/v1/dibao/meetings; Filings
// (references) may be attached at once or later.
type MeetingCreate struct {
	StationID string   `json:"station_id"`
	Quarter   string   `json:"quarter"`
	HeldOn    string   `json:"held_on"`
	Members   []string `json:"members"`
	Minutes   string   `json:"minutes"`
	Filings   []string `json:"filings,omitempty"`
}

// MeetingAttach is the body of POST /api/v1/dibao/meetings/{id}/filings.
type MeetingAttach struct {
	Filings []string `json:"filings"` // references, 1..500
}

// MeetingList is the answer to GET /api/v1/dibao/meetings.
type MeetingList struct {
	Meetings []Meeting `json:"meetings"`
}

// NoticeEntry is one approved household of the public notice (公示): the
// applicant's ID number masked by identity.MaskIDNumber, nothing else that
// names them.
type NoticeEntry struct {
	Reference     string `json:"reference"`
	Service       string `json:"service"`
	ServiceName   string `json:"service_name"`
	MaskedID      string `json:"masked_id"`
	HouseholdSize string `json:"household_size,omitempty"`
	GridCell      string `json:"grid_cell,omitempty"`
	ApprovedOn    string `json:"approved_on"` // YYYY-MM-DD, China time
	MeetingOn     string `json:"meeting_on"`
}

// DibaoNotice is the public notice of one station's approvals of one
// quarter (GET /api/v1/dibao/notice?station=&quarter=).
type DibaoNotice struct {
	StationID   string        `json:"station_id"`
	StationName string        `json:"station_name"`
	Quarter     string        `json:"quarter"`
	Meetings    []string      `json:"meetings"` // the meeting dates
	Entries     []NoticeEntry `json:"entries"`
}

// Rating scores (好差评).
const (
	RatingVeryDissatisfied = 1
	RatingVerySatisfied    = 5
)

// RatingChoice is one score or reason with its words.
type RatingChoice struct {
	Code string `json:"code"`
	ZH   string `json:"zh"`
	EN   string `json:"en"`
}

// RatingScores are the five scores, best first (value = 5 - index).
var RatingScores = []RatingChoice{
	{"5", "非常满意", "Very satisfied"},
	{"4", "满意", "Satisfied"},
	{"3", "基本满意", "Acceptable"},
	{"2", "不满意", "Dissatisfied"},
	{"1", "非常不满意", "Very dissatisfied"},
}

// RatingReasons are the optional reasons a resident may tick.
var RatingReasons = []RatingChoice{
	{"fast", "办得快", "Quick"},
	{"clear", "答复清楚", "Clear answer"},
	{"friendly", "服务热情", "Friendly service"},
	{"slow", "办理太慢", "Too slow"},
	{"unclear", "答复不清楚", "Unclear answer"},
	{"unsolved", "问题没解决", "Problem not solved"},
	{"many_trips", "多次跑腿", "Had to come many times"},
}

// ValidRatingReason reports whether code is one of RatingReasons.
func ValidRatingReason(code string) bool {
	for _, r := range RatingReasons {
		if r.Code == code {
			return true
		}
	}
	return false
}

// RatingRequest is the body of POST /api/v1/kiosk/ratings: after card and
// vein (the filing token, not consumed), the resident rates one of their
// own answered filings or reports, once.
type RatingRequest struct {
	Token     string   `json:"token"`
	Reference string   `json:"reference"`
	Score     int      `json:"score"` // 1..5
	Reasons   []string `json:"reasons,omitempty"`
}

// Rating is a recorded rating.
type Rating struct {
	Reference string    `json:"reference"`
	Item      string    `json:"item"` // "filing" or "report"
	Score     int       `json:"score"`
	Reasons   []string  `json:"reasons,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}
