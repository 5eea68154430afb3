// Package session is the resident's (and the staff member's) journey at the
// kiosk as a pure state machine: Step(state, event) returns the next state
// and the effects to run. It does no I/O, keeps no clock of its own and
// starts no goroutines, so every transition is table-tested.
//
// The daemon (package kiosk) owns the only Machine, runs each effect in its
// own goroutine with a deadline and feeds the outcome back as an event.
// Every effect carries the session generation (Gen); an outcome that comes
// back after the resident has left (card removed, timeout) belongs to an
// older generation and is dropped, so nothing of one resident can leak into
// the next resident's screen.
package session

import (
	"time"
)

// Resident is the server's record of the cardholder.
type Resident struct {
	ID       string
	Name     string
	MaskedID string
	// NewReplies: the resident's filings and reports answered since the
	// kiosk last showed them "my filings" (the server's count at the card
	// + vein check; the menu's notice 您有新的答复). 0 once shown.
	NewReplies int
}

// Service is one entry of the service catalogue.
type Service struct {
	Code    string
	NameZH  string
	NameEN  string
	DueDays int // processing deadline in days
	// Certification: the whole transaction is the card and vein check
	// (the pensioner's yearly proof of life): no form, no filing.
	Certification bool
}

// Certificate is the server's record of a certification (养老金领取资格认证).
type Certificate struct {
	Service Service
	Year    int
	At      time.Time // the first certification of the year
	Already bool      // the year was certified before this visit
}

// Field is one line of a filing form.
type Field struct {
	Key      string   `json:"key"`
	LabelZH  string   `json:"labelZh"`
	LabelEN  string   `json:"labelEn"`
	Value    string   `json:"value"`
	Editable bool     `json:"editable"`
	Choices  []string `json:"choices,omitempty"`
	// SuggestionsEN are the common answers in English from the catalogue
	// (same order). Shown only: the Chinese is filed.
	SuggestionsEN []string `json:"suggestionsEn,omitempty"`
	Kind          string   `json:"kind,omitempty"` // text, number, digits, date, phone, choice, bool
	Required      bool     `json:"required,omitempty"`
	// Suggestions: common answers offered as one-touch choices (text).
	Suggestions []string `json:"suggestions,omitempty"`
	MaxLen      int      `json:"maxLen,omitempty"`
	// ChoicesEN: the English of Choices, when the server gave it (the
	// kinds of issue report); otherwise the kiosk's dictionary.
	ChoicesEN []string `json:"-"`
}

// Form is a filing form pre-filled from the resident's record.
type Form struct {
	Service Service
	Fields  []Field
	// Principal is the server's id of the family member the form is filed
	// for (代办), "" for the resident's own filing.
	Principal string
}

// AgentInfo is the server's answer when a verified resident files for a
// family member (代办): who the principal is and why the agent may.
type AgentInfo struct {
	Principal     Resident
	Relation      string // household or guardian
	RelationLabel string // 同户家庭成员 / 监护人
}

// Receipt is the server's acknowledgement of a filing.
type Receipt struct {
	Reference string
	Service   Service
	FiledAt   time.Time
	Due       time.Time
}

// Filing is one of the resident's earlier filings or issue reports, with
// its status.
type Filing struct {
	// Item is "filing" (a service) or "report" (an issue report; Service
	// then names its kind).
	Item      string
	Reference string
	Service   Service
	FiledAt   time.Time
	Due       time.Time
	Decided   time.Time // the decision or the answer; zero while open
	Status    string    // apiv1's filing status (submitted, in_review, need_info, accepted, rejected) or report status (submitted, accepted, replied, closed)
	// StatusZH and StatusEN: the status in the office's words (reports;
	// filings' words come from apiv1.FilingStatusLabel).
	StatusZH, StatusEN string
	Reply              string
	Rating             int  // the resident's rating 1..5, 0 when not rated
	Rateable           bool // answered and not rated yet
	// New: answered since the resident was last shown "my filings" (新).
	New bool
}

// CaptureFault classifies a failed capture for the guidance shown.
type CaptureFault int

const (
	CaptureOK   CaptureFault = iota
	NoFinger                 // 未检测到手指
	NotFlat                  // 请将手指平放 (poor quality / badly placed)
	DeviceFault              // the scanner failed
	NotLifted                // a new placement was needed and the finger stayed on
	Moving                   // a finger is there but keeps moving (scanner status)
	Exposure                 // the scanner could not expose the image (light, coverage)
)

// Sample is one capture, ready to send: the kiosk extracted the template and
// measured quality; the attestation binds the image to the device.
type Sample struct {
	Finger      string
	Quality     int
	Template    []byte
	Image       []byte // the attested raw pixels the server extracts from; held for the session only, never logged or stored
	Width       int
	Height      int
	Attestation []byte
	Certificate []byte
	Nonce       [32]byte
}

// EnrolmentInfo is the server's answer before the finger: whether the card's
// holder is enrolled, with which fingers (apiv1 finger names), how many
// failed finger checks the lock still allows and when a lock ends. Checked
// is false when the server could not say (an older server): the kiosk then
// asks for "the enrolled finger" without naming it.
type EnrolmentInfo struct {
	Checked      bool
	Enrolled     bool
	Fingers      []string
	AttemptsLeft int // -1: not said
	LockedUntil  time.Time
}

// StaffSession is a logged-in staff member.
type StaffSession struct {
	Token      string
	Name       string // the display name, shown on the staff menu
	Supervisor bool
}

// EnrolOutcome is the server's answer to an enrolment.
type EnrolOutcome struct {
	ResidentID string
	// PendingApproval: the resident was already enrolled, so nothing was
	// replaced: the new captures wait as replacement ReplacementID for a
	// supervisor of the station, and the enrolment in force stays until then.
	PendingApproval bool
	ReplacementID   string
	NeedsSupervisor bool   // a possible duplicate: a supervisor must confirm
	CaseID          string // the duplicate case the supervisor decides
}
