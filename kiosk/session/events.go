package session

import (
	"time"

	"github.com/qingshan-gov/veinkiosk/identity"
)

// Event is an input to the machine: a device report, an effect's outcome, a
// touch on the screen or the clock.
type Event interface{ event() }

// Device events (no generation: they are about the physical world now).
type (
	// CardRead: a card was placed and read.
	CardRead struct{ Card identity.Card }
	// CardFailed: a card is on the reader but could not be read.
	CardFailed struct{ Err error }
	// CardRemoved: the card left the reader.
	CardRemoved struct{}
	// ServerStatus: the daemon's health probe of the server changed.
	ServerStatus struct{ Up bool }
	// Tick: time passes (timeouts).
	Tick struct{}
)

// Touch is an action on the screen.
type Touch struct {
	Action string // see the Action constants
	Arg    string
	Values map[string]string
}

// Touch actions.
const (
	ActStaff       = "staff" // open staff login
	ActLogin       = "login" // Values: user, pin
	ActLogout      = "logout"
	ActEnrol       = "enrol"
	ActDiagnostics = "diagnostics"
	ActChoose      = "choose"  // Arg: service code
	ActFilings     = "filings" // my filings
	ActEdit        = "edit"    // Arg: field key, Values["value"]
	ActConfirm     = "confirm"
	ActBack        = "back"
	ActRetry       = "retry"
	ActFinish      = "finish"
	ActRetake      = "retake"      // staff: capture again
	ActSkipFinger  = "skip_finger" // staff: this finger cannot be captured, use another
	ActSupervisor  = "supervisor"  // Values: user, pin
	ActConsent     = "consent"     // the resident confirms consent to biometric enrolment
	ActElderly     = "elderly"     // Arg: "on" or "off": elderly mode (longer time-outs)
	ActReject      = "reject"      // staff: do not enrol (duplicate)
	ActActivity    = "activity"    // any touch that only keeps the session alive
	ActAgent       = "agent"       // 为家人代办: file for a family member (the menu, after the agent's own check)
	ActRate        = "rate"        // my filings: Arg: reference, Values["score"] 1..5, Values["reasons"] comma-separated codes
)

// Outcomes of effects; Gen identifies the session that asked.
type (
	Captured struct {
		Gen    uint64
		Sample Sample
		Fault  CaptureFault
		Err    error
		// Gates: the quality gates the server said with this capture's
		// nonce for the scanner's model (nil: it said none).
		Gates *Gates
	}
	// Checked is the outcome of DoCheck (the enrolment, before the finger).
	Checked struct {
		Gen  uint64
		Info EnrolmentInfo
		Err  error
	}
	Verified struct {
		Gen      uint64
		Match    bool
		Token    string
		Resident Resident
		Err      error
	}
	CatalogueLoaded struct {
		Gen      uint64
		Services []Service
		Err      error
	}
	FormLoaded struct {
		Gen  uint64
		Form Form
		Err  error
	}
	Submitted struct {
		Gen     uint64
		Receipt Receipt
		Err     error
	}
	FilingsLoaded struct {
		Gen     uint64
		Filings []Filing
		Err     error
	}
	// CertifyDone is the outcome of DoCertify.
	CertifyDone struct {
		Gen         uint64
		Certificate Certificate
		Err         error
	}
	StaffLoggedIn struct {
		Gen     uint64
		Session StaffSession
		Err     error
	}
	Enrolled struct {
		Gen     uint64
		Outcome EnrolOutcome
		Err     error
	}
	SupervisorConfirmed struct {
		Gen uint64
		Err error
	}
	// AgentBound is the outcome of DoAgent: the token now files for the
	// principal.
	AgentBound struct {
		Gen  uint64
		Info AgentInfo
		Err  error
	}
	// Rated is the outcome of DoRate.
	Rated struct {
		Gen       uint64
		Reference string
		Score     int
		Reasons   []string
		Err       error
	}
)

func (CardRead) event()            {}
func (CardFailed) event()          {}
func (CardRemoved) event()         {}
func (ServerStatus) event()        {}
func (Tick) event()                {}
func (Touch) event()               {}
func (Captured) event()            {}
func (Verified) event()            {}
func (Checked) event()             {}
func (CatalogueLoaded) event()     {}
func (FormLoaded) event()          {}
func (Submitted) event()           {}
func (FilingsLoaded) event()       {}
func (CertifyDone) event()         {}
func (StaffLoggedIn) event()       {}
func (Enrolled) event()            {}
func (SupervisorConfirmed) event() {}
func (AgentBound) event()          {}
func (Rated) event()               {}

// Effect is work the daemon must do; its outcome comes back as an event.
type Effect interface{ effect() }

type (
	// DoCheck asks the server whether the card's holder is enrolled, and
	// with which fingers, before asking for a finger.
	DoCheck struct {
		Gen  uint64
		Card identity.Card
	}
	DoCapture struct {
		Gen    uint64
		Finger string
		Enrol  bool
		// NewPlacement: the finger must leave the scanner first (enrolment
		// wants separate placements, not one placement counted twice).
		NewPlacement bool
	}
	DoVerify struct {
		Gen    uint64
		Card   identity.Card
		Sample Sample
	}
	DoCatalogue struct {
		Gen   uint64
		Token string
	}
	DoForm struct {
		Gen     uint64
		Token   string
		Service Service
	}
	DoSubmit struct {
		Gen     uint64
		Token   string
		IdemKey string
		Form    Form
	}
	DoFilings struct {
		Gen   uint64
		Token string
	}
	// DoRate sends the resident's rating (好差评) of one of their answered
	// filings or reports.
	DoRate struct {
		Gen       uint64
		Token     string
		Reference string
		Score     int
		Reasons   []string
	}
	// DoCertify records the token's resident's proof of life for a
	// certification service (the token is checked, not spent).
	DoCertify struct {
		Gen     uint64
		Token   string
		Service Service
	}
	DoStaffLogin struct {
		Gen       uint64
		User, PIN string
	}
	DoEnrol struct {
		Gen          uint64
		StaffToken   string
		Card         identity.Card
		Fingers      []EnrolFinger
		OverrideCase string    // a case a supervisor overrode, or ""
		ConsentAt    time.Time // when the resident confirmed consent
	}
	// DoConfirmDuplicate: a supervisor logs in and overrides the duplicate
	// case; the enrolment is then captured and sent again under it.
	DoConfirmDuplicate struct {
		Gen       uint64
		CaseID    string
		User, PIN string
	}
	// DoAgent sends the family member's card with the agent's token (代办);
	// Then runs next with the same token (nil: the principal's services).
	DoAgent struct {
		Gen   uint64
		Token string
		Card  identity.Card
		Then  Effect
	}
	// CancelCapture stops a capture in progress (the resident left).
	CancelCapture struct{}
	// Wipe: the session ended; the daemon drops everything it holds for
	// it. StaffToken is the staff session that ended with it (staff mode
	// left), for the daemon to end at the server.
	Wipe struct{ StaffToken string }
)

func (DoCapture) effect()          {}
func (DoCheck) effect()            {}
func (DoVerify) effect()           {}
func (DoCatalogue) effect()        {}
func (DoForm) effect()             {}
func (DoSubmit) effect()           {}
func (DoFilings) effect()          {}
func (DoCertify) effect()          {}
func (DoStaffLogin) effect()       {}
func (DoRate) effect()             {}
func (DoEnrol) effect()            {}
func (DoConfirmDuplicate) effect() {}
func (DoAgent) effect()            {}
func (CancelCapture) effect()      {}
func (Wipe) effect()               {}
