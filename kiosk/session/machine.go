package session

import (
	"errors"
	"time"

	"github.com/qingshan-gov/veinkiosk/identity"
)

// Phase is where the journey stands; the UI shows one screen per phase.
type Phase string

// Resident phases.
const (
	Idle         Phase = "idle"         // place your ID card
	CardProblem  Phase = "card_problem" // expired card, not enrolled, unreadable: what to do
	PlaceFinger  Phase = "place_finger" // put the enrolled finger on the scanner
	Checking     Phase = "checking"     // the server says whether the card's holder is enrolled, and which fingers
	Verifying    Phase = "verifying"    // the server compares the finger
	Menu         Phase = "menu"         // the service catalogue
	Loading      Phase = "loading"      // waiting for the catalogue, a form or the filings
	FormPhase    Phase = "form"         // the pre-filled form: check and confirm
	Submitting   Phase = "submitting"   // the filing is being sent
	ReceiptPhase Phase = "receipt"      // the filing reference and due date
	Certified    Phase = "certified"    // the proof of life is recorded (or was, this year)
	Filings      Phase = "filings"      // my earlier filings, their status and reply
	Unavailable  Phase = "unavailable"  // the server cannot be reached: nothing lost, retry
	Failed       Phase = "failed"       // too many tries or a device fault: see the staff
	AgentCard    Phase = "agent_card"   // 代办: take your card out, put in the family member's
	AgentCheck   Phase = "agent_check"  // 代办: the server checks the family member's card and the household
)

// Staff phases.
const (
	StaffLogin      Phase = "staff_login"
	StaffMenu       Phase = "staff_menu"
	StaffBusy       Phase = "staff_busy"
	EnrolCard       Phase = "enrol_card"       // place the resident's card
	EnrolConsent    Phase = "enrol_consent"    // the staff explain, the resident confirms consent to biometric enrolment
	EnrolCapture    Phase = "enrol_capture"    // captures per finger with live quality
	EnrolSupervisor Phase = "enrol_supervisor" // a possible duplicate: a supervisor confirms
	EnrolDone       Phase = "enrol_done"
	Diagnostics     Phase = "diagnostics"
)

// Problem keys (the UI translates them; each tells the resident what to do).
const (
	ProblemCardExpired        = "card_expired"
	ProblemNotEnrolled        = "not_enrolled"
	ProblemNotRegistered      = "not_registered"
	ProblemCardUnreadable     = "card_unreadable"
	ProblemTooManyTries       = "too_many_tries"
	ProblemScannerFault       = "scanner_fault"
	ProblemServerDown         = "server_down"
	ProblemSubmitUnsure       = "submit_unsure"
	ProblemRejected           = "rejected"
	ProblemLoginFailed        = "login_failed"        // wrong username or PIN (State.AttemptsLeft: the PINs left before the lock, -1 unsaid)
	ProblemPINLocked          = "pin_locked"          // too many wrong PINs: set the PIN again in the office
	ProblemAlreadyEnrolled    = "already_enrolled"    // the new captures await a supervisor's approval to replace the enrolment
	ProblemReplacementWaiting = "replacement_waiting" // an earlier replacement still awaits approval; nothing was stored
	ProblemOtherStation       = "other_station"       // the staff member is not of this kiosk's station
	ProblemLocked             = "locked"              // too many failures at the server: come back later or see the desk
	ProblemSuspended          = "suspended"           // the resident's record is suspended: see the desk
	ProblemFormInvalid        = "form_invalid"        // a value is missing or wrong: the form again
	ProblemRecapture          = "recapture"           // the supervisor allowed it: capture again (nonces are single-use)
	ProblemThrottled          = "throttled"           // the server asks this kiosk to wait (State.RetryAt): continues by itself
	ProblemMissing            = "missing"             // required fields left empty (State.Missing): nothing sent
	ProblemAgentNotHousehold  = "agent_not_household" // 代办: the population data has the two in no one household
	ProblemAgentNotEligible   = "agent_not_eligible"  // 代办: the family member is neither old enough nor disabled
	ProblemAgentCard          = "agent_card"          // 代办: the family member's card cannot be used (expired, not the record's, not registered)
	ProblemAgentNotAllowed    = "agent_not_allowed"   // 代办: the agent may not (under age) or the card is the agent's own
	ProblemInconsistent       = "enrol_inconsistent"  // a finger's captures do not match each other: nothing stored; the disagreeing ones are taken again
	ProblemRateFailed         = "rate_failed"         // the rating was not recorded (the server refused or did not answer): try again
)

// Why a session ended (State.Ended), shown on the idle screen afterwards.
const (
	EndTimeout        = "timeout"         // no touch for the idle timeout
	EndReceiptTimeout = "receipt_timeout" // the receipt was up for its time
	EndCardRemoved    = "card_removed"    // the card left the reader
	EndFinished       = "finished"        // the resident pressed "finish"
	EndStaffTimeout   = "staff_timeout"   // staff logged out after inactivity
)

// Hint keys for capture guidance.
const (
	HintNoFinger = "no_finger" // 未检测到手指
	HintNotFlat  = "not_flat"  // 请将手指平放
	HintNoMatch  = "no_match"
	HintLift     = "lift"     // lift the finger, then place it again
	HintMoving   = "moving"   // the scanner sees the finger moving: hold it still
	HintExposure = "exposure" // the image could not be exposed: cover the window, shade it
	HintReverify = "reverify" // the finger again, for a new filing token
	HintOwnCard  = "own_card" // 代办: that is the agent's own card; put in the family member's
	HintRated    = "rated"    // my filings: the rating was recorded, thank you
	// HintNewReplies: the menu's notice that replies arrived since the last
	// visit (您有新的答复 N 件; Resident.NewReplies), said once on arrival.
	HintNewReplies = "new_replies"
)

// Errors that effects report; the daemon's clients wrap theirs with these.
var (
	ErrUnavailable = errors.New("server unavailable")
	ErrNotFound    = errors.New("not found")
	ErrDenied      = errors.New("denied")
	ErrRejected    = errors.New("rejected by the server")
	ErrNotEnrolled = errors.New("no finger-vein enrolment on record")
	ErrCardExpired = errors.New("card expired")
	ErrLocked      = errors.New("locked after too many failures")
	ErrSuspended   = errors.New("resident suspended")
	ErrNoMatch     = errors.New("finger does not match the card holder")
	ErrInvalid     = errors.New("the form has a missing or wrong value")
	ErrTokenSpent  = errors.New("the filing token expired or was used")
	// ErrReplacementWaiting: the resident's enrolment already has a
	// replacement awaiting a supervisor.
	ErrReplacementWaiting = errors.New("a replacement of the enrolment awaits approval")
	// ErrOtherStation: staff may enrol only at their own station's kiosks.
	ErrOtherStation = errors.New("the staff member is not of this kiosk's station")
	// ErrPINLocked: the staff member's PIN is locked after too many wrong
	// PINs; it must be set again in the office.
	ErrPINLocked = errors.New("the staff PIN is locked")
	// ErrThrottled: the server asks this kiosk to wait before the next
	// request (after failed finger checks at this kiosk); Details says how long.
	ErrThrottled = errors.New("the server asks the kiosk to wait")
	// 代办 refusals: the population data does not relate the two, the
	// family member is not old enough or disabled, the card is not the
	// record's, the agent may not, the token files for someone else.
	ErrNotHousehold         = errors.New("not in one household")
	ErrPrincipalNotEligible = errors.New("the family member cannot be filed for")
	ErrCardMismatch         = errors.New("the card is not the population record's")
	ErrAgentNotAllowed      = errors.New("filing for a family member is not allowed")
	ErrAgentTokenBound      = errors.New("the filing token files for someone else")
	// ErrInconsistent: the captures of an enrolled finger do not match
	// each other; Details.Recapture names those to take again.
	ErrInconsistent = errors.New("the captures of a finger do not match each other")
)

// Details is what the server said besides its code: how long to wait
// (throttling, a lock), the finger attempts it still allows, and which form
// fields it refused. Errors that carry it implement ServerDetails.
type Details struct {
	RetryAfter   time.Duration
	AttemptsLeft int // -1: the server did not say
	LockedUntil  time.Time
	Fields       []string // form fields missing or wrong, by key
	// Recapture (ErrInconsistent): per finger (apiv1 name), the captures
	// the server found disagreeing, by their index as sent.
	Recapture map[string][]int
}

// DetailsOf returns the Details in err's chain (AttemptsLeft -1 when none).
func DetailsOf(err error) Details {
	var d interface{ ServerDetails() Details }
	if errors.As(err, &d) {
		return d.ServerDetails()
	}
	return Details{AttemptsLeft: -1}
}

// Config holds the journey's limits.
type Config struct {
	MaxTries       int           // finger attempts before sending the resident to the desk
	IdleTimeout    time.Duration // walk-away timeout for residents
	ReceiptTimeout time.Duration // how long the receipt stays up
	StaffTimeout   time.Duration // staff inactivity logout
	// VerifyMinQuality and EnrolMinQuality are the quality gates when the
	// server has not said its own for the scanner's model (Gates): below
	// them a capture is "not flat" (verification) or rejected (enrolment).
	VerifyMinQuality int
	EnrolMinQuality  int
	// VerifyQualityFloor and EnrolQualityFloor make the kiosk stricter
	// than the server: the gate in force is never below them (0: the
	// server's gates alone). Above the server's gate they refuse captures
	// the server would accept.
	VerifyQualityFloor int
	EnrolQualityFloor  int
	EnrolCaptures      int      // captures per finger
	EnrolFingers       []string // fingers to enrol, in order
	AlternateFingers   []string // fingers offered when one cannot be captured
	// IdleWarning: this long before an idle timeout the screen counts down
	// with a "继续办理" button (0: no warning).
	IdleWarning time.Duration
	// RetryInterval: how often a pending step is retried by itself while
	// the server is unreachable (besides when the probe sees it back).
	RetryInterval time.Duration
	// EndedShow: how long the idle screen says why the last session ended.
	EndedShow time.Duration
	// ElderlyFactor multiplies the resident's time-outs (idle, its warning
	// countdown, the receipt) in elderly mode (适老化); 0 or 1: no change.
	ElderlyFactor int
}

// DefaultConfig is what the kiosk runs with unless configured otherwise.
func DefaultConfig() Config {
	return Config{
		MaxTries:         3,
		IdleTimeout:      90 * time.Second,
		ReceiptTimeout:   60 * time.Second,
		StaffTimeout:     5 * time.Minute,
		VerifyMinQuality: 40,
		EnrolMinQuality:  50,
		EnrolCaptures:    3,
		EnrolFingers:     []string{"right_index", "left_index"},
		AlternateFingers: []string{"right_middle", "left_middle", "right_ring", "left_ring", "right_thumb", "left_thumb"},
		IdleWarning:      20 * time.Second,
		RetryInterval:    5 * time.Second,
		EndedShow:        30 * time.Second,
		ElderlyFactor:    2,
	}
}

// Gates are capture quality gates, 0..100, on the kiosk's own extraction
// (the server gates on its own, of the same image and pipeline).
type Gates struct {
	Enrol, Verify int
	// From says where they come from: "server" (said with a capture
	// nonce for the scanner's model) or "config" (none said yet).
	From string
}

// Mode says who is using the kiosk.
type Mode string

const (
	ModeResident Mode = "resident"
	ModeStaff    Mode = "staff"
)

// EnrolFinger is the progress of one finger in an enrolment.
type EnrolFinger struct {
	Finger   string
	Accepted []Sample
	Rejected int // failed captures so far
}

// State is everything the kiosk knows about the current user, in memory only.
type State struct {
	Phase        Phase
	Mode         Mode
	Gen          uint64 // session generation; effects and their outcomes carry it
	Problem      string
	Hint         string
	Tries        int
	LastActivity time.Time

	Card     *identity.Card
	Resident *Resident
	Token    string // the server's verification token for this resident
	Services []Service
	Form     *Form
	IdemKey  string // idempotency key of the filing being submitted
	Receipt  *Receipt
	// Certificate: the certification just made (Certified).
	Certificate *Certificate
	Filings     []Filing
	Rating      string // the reference whose rating is being sent ("": none)

	Pending Effect    // what Retry re-runs after Unavailable
	RetryAt time.Time // when Pending is retried by itself
	// AttemptsLeft: the finger checks the server still allows for this
	// card before it locks (-1: not said); LockedUntil: when a lock ends.
	AttemptsLeft int
	LockedUntil  time.Time
	Missing      []string // keys of required fields left empty, or refused by the server
	Fingers      []string // the resident's enrolled fingers (from the check before the finger)
	// Warning: the idle timeout is near; the screen counts down to
	// Deadline. Ended/EndedAt: why the last session ended, shown at idle.
	Warning  bool
	Deadline time.Time
	Ended    string
	EndedAt  time.Time
	Resume   Effect // what runs after a new finger check (token spent)
	Back     Phase  // where Unavailable's retry returns to
	// Principal is the family member the verified resident files for
	// (代办), with the card read for them; nil for the resident's own.
	Principal     *Resident
	PrincipalCard *identity.Card
	Relation      string // the server's label: 同户家庭成员 / 监护人
	// Elderly: elderly mode (适老化) is on for this session: longer
	// time-outs (Config.ElderlyFactor). It ends with the session.
	Elderly bool

	Staff        *StaffSession
	EnrolIdx     int
	Enrol        []EnrolFinger
	LastQuality  int
	Outcome      *EnrolOutcome
	OverrideCase string // the duplicate case a supervisor overrode for this enrolment
	// ConsentAt: when the resident confirmed consent to biometric
	// enrolment on the screen (zero: not yet; no capture before it).
	ConsentAt time.Time
}

// Machine applies events to the state. It is not safe for concurrent use:
// the daemon feeds it from a single goroutine.
type Machine struct {
	cfg    Config
	st     State
	newKey func() string
	// agentReq is the DoAgent in flight (its card and next step), which
	// its AgentBound outcome completes.
	agentReq DoAgent
	// learnt: the quality gates the server said last (nil: none yet).
	// They are no one's personal data and outlive the session.
	learnt *Gates
}

// New returns a machine in the idle phase. newKey makes idempotency keys
// (random in the daemon, deterministic in tests).
func New(cfg Config, newKey func() string, now time.Time) *Machine {
	m := &Machine{cfg: cfg, newKey: newKey}
	m.st = State{Phase: Idle, Mode: ModeResident, Gen: 1, LastActivity: now, AttemptsLeft: -1}
	return m
}

// State returns a copy of the current state (slices are shared; treat them
// as read-only).
func (m *Machine) State() State { return m.st }

// Config returns the machine's configuration.
func (m *Machine) Config() Config { return m.cfg }

// Gates returns the quality gates in force: the server's for the
// scanner's model as it said them last with a capture nonce, else the
// configured ones; a configured floor only raises them.
func (m *Machine) Gates() Gates {
	g := Gates{Enrol: m.cfg.EnrolMinQuality, Verify: m.cfg.VerifyMinQuality, From: "config"}
	if m.learnt != nil {
		g = *m.learnt
		g.From = "server"
	}
	g.Enrol, g.Verify = max(g.Enrol, m.cfg.EnrolQualityFloor), max(g.Verify, m.cfg.VerifyQualityFloor)
	return g
}

// learn takes the gates a capture's nonce brought (none: the last said
// stay in force).
func (m *Machine) learn(g *Gates) {
	if g != nil {
		c := *g
		m.learnt = &c
	}
}
