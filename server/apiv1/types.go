package apiv1

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/qingshan-gov/veinkiosk/identity"
)

// Paths of the API, relative to the server's base URL.
const (
	PathOpenAPI = "/api/v1/openapi.json"

	// Kiosk endpoints: every request is signed (see SignRequest).
	PathKioskNonce           = "/api/v1/kiosk/nonce"
	PathKioskVerify          = "/api/v1/kiosk/verify"
	PathKioskEnrolmentCheck  = "/api/v1/kiosk/enrolment-check" // before the finger: enrolled? which fingers?
	PathKioskServices        = "/api/v1/kiosk/services"
	PathKioskForm            = "/api/v1/kiosk/form"
	PathKioskFilings         = "/api/v1/kiosk/filings"
	PathKioskAgent           = "/api/v1/kiosk/agent"
	PathKioskStatus          = "/api/v1/kiosk/status"
	PathKioskEnrolments      = "/api/v1/kiosk/enrolments"             // + staff session (station_staff)
	PathKioskIdentify        = "/api/v1/kiosk/identify"               // + staff session (station_staff)
	PathKioskIdentifyConfirm = "/api/v1/kiosk/identify/confirm"       // + staff session (station_staff)
	PathKioskLockoutUnlock   = "/api/v1/kiosk/lockouts/unlock"        // + staff session (station_staff of the kiosk's station)
	PathKioskStaffLogin      = "/api/v1/kiosk/staff-sessions"         // staff log in at the kiosk: username and PIN
	PathKioskStaffLogout     = "/api/v1/kiosk/staff-sessions/current" // + the kiosk's staff session: log out at the kiosk
	PathKioskCases           = "/api/v1/kiosk/cases"                  // + /{id}/override: a supervisor's session of this kiosk

	// Staff sessions.
	PathSessions       = "/api/v1/sessions"
	PathSessionCurrent = "/api/v1/sessions/current"
	PathSessionPIN     = "/api/v1/sessions/current/pin" // a staff member sets their own kiosk PIN (with their password)
)

// Finger names a finger. The enrolment needs two distinct fingers.
type Finger string

// Fingers accepted by the server.
const (
	LeftThumb   Finger = "left_thumb"
	LeftIndex   Finger = "left_index"
	LeftMiddle  Finger = "left_middle"
	LeftRing    Finger = "left_ring"
	LeftLittle  Finger = "left_little"
	RightThumb  Finger = "right_thumb"
	RightIndex  Finger = "right_index"
	RightMiddle Finger = "right_middle"
	RightRing   Finger = "right_ring"
	RightLittle Finger = "right_little"
)

// fingerPositions maps fingers to ISO/IEC 19794 finger positions.
var fingerPositions = map[Finger]int{
	RightThumb: 1, RightIndex: 2, RightMiddle: 3, RightRing: 4, RightLittle: 5,
	LeftThumb: 6, LeftIndex: 7, LeftMiddle: 8, LeftRing: 9, LeftLittle: 10,
}

// Position returns the ISO/IEC 19794 finger position (1..5 right thumb to
// little, 6..10 left thumb to little), or 0 for an unknown finger.
func (f Finger) Position() int { return fingerPositions[f] }

// FingerAt returns the finger at an ISO/IEC 19794 position, or "".
func FingerAt(pos int) Finger {
	for f, p := range fingerPositions {
		if p == pos {
			return f
		}
	}
	return ""
}

// Valid reports whether f is one of the ten fingers.
func (f Finger) Valid() bool {
	switch f {
	case LeftThumb, LeftIndex, LeftMiddle, LeftRing, LeftLittle,
		RightThumb, RightIndex, RightMiddle, RightRing, RightLittle:
		return true
	}
	return false
}

// Card is what the kiosk read from the resident's ID card: the one card
// model, identity.Card, whose JSON encoding is this wire format:
//
//	id_number          18 characters, GB 11643 check character (required)
//	name               (required)
//	sex                男 / 女 (/ 未知 / 未说明), optional
//	nation             民族 as printed, e.g. 汉, optional
//	birth_date         YYYY-MM-DD, optional; must match the ID number
//	address, issuing_authority  optional
//	valid_from         YYYY-MM-DD (required)
//	valid_until        YYYY-MM-DD, or 长期 for a card valid for life (required)
type Card = identity.Card

// Capture is one finger-vein capture as the kiosk sends it: the raw image
// its scanner captured and the scanner's signed statement about it (the
// attestation, whose image digest covers Image, and the device
// certificate). The server extracts the template from Image itself, with
// the extraction pipeline of the calibration in force for the scanner's
// model: no template reaches a comparison unless it came from an image the
// device signed (docs/scanner-protocol.md, "Who extracts the template").
type Capture struct {
	Finger Finger `json:"finger"`
	// Template is optional: the template the kiosk extracted locally (for
	// its quality feedback). When present it must be, byte for byte, the
	// template the server extracts from Image (with the template's finger
	// position, 0 or Finger's); otherwise the capture is refused with
	// template_mismatch.
	Template []byte `json:"template,omitempty"`
	// Quality is the kiosk's quality score, 0..100 (informational: the
	// server gates on the quality of its own extraction).
	Quality int `json:"quality"`
	// Attestation is the scanner's signed capture record
	// (wire.Attestation.MarshalBinary), signed over the nonce from
	// POST /api/v1/kiosk/nonce.
	Attestation []byte `json:"attestation"`
	// Certificate is the scanner's device certificate
	// (wire.DeviceCertificate.MarshalBinary), signed by its maker.
	Certificate []byte `json:"certificate"`
	// Image is the raw capture exactly as the scanner sent it (required):
	// its SHA-256 must be the attested digest (image_mismatch), its size
	// within MaxImagePixels and the scanner protocol's side limits
	// (image_invalid), and it must yield a template (image_unusable).
	Image *Image `json:"image"`
}

// MaxImagePixels bounds a capture image (width x height): 1 MiP, ten times
// the simulator's 500 x 200 sensor; with the kiosk body limit it bounds an
// enrolment's images too.
const MaxImagePixels = 1 << 20

// Image is a raw 8-bit grey image, row-major, no padding.
type Image struct {
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Pixels []byte `json:"pixels"`
}

// NonceRequest is the body of POST /api/v1/kiosk/nonce. Both fields are
// optional (an empty object asks for a nonce alone).
type NonceRequest struct {
	// ScannerCertificate is the device certificate of the scanner that
	// will sign the capture (wire.DeviceCertificate.MarshalBinary, base64
	// in JSON): when it verifies under a trusted maker key, the answer
	// carries the quality gates of its scanner model.
	ScannerCertificate []byte `json:"scanner_certificate,omitempty"`
}

// NonceResponse is the answer to POST /api/v1/kiosk/nonce: a fresh 32-byte
// nonce for the scanner to sign into its next capture's attestation. It is
// bound to the kiosk that asked, valid until ExpiresAt and usable once.
type NonceResponse struct {
	Nonce     []byte    `json:"nonce"` // 32 bytes (base64 in JSON)
	ExpiresAt time.Time `json:"expires_at"`
	// QualityGates are the gates the server applies to captures of the
	// scanner named by NonceRequest.ScannerCertificate; absent when the
	// request named none, its certificate does not verify under a trusted
	// maker key, or its model has no calibration (its captures are
	// refused then, with the capture step's error).
	QualityGates *QualityGates `json:"quality_gates,omitempty"`
}

// QualityGates are the capture quality gates (0..100, on the quality of
// the server's own extraction) in force for one scanner model: a capture
// below the gate of its use is refused with quality_too_low. The kiosk
// retakes such a capture before sending it.
type QualityGates struct {
	ScannerModel string `json:"scanner_model"`
	// EnrolMinQuality gates enrolment captures, VerifyMinQuality
	// verification and identification captures.
	EnrolMinQuality  int `json:"enrol_min_quality"`
	VerifyMinQuality int `json:"verify_min_quality"`
	// From is where the gates come from: calibration (the model's
	// calibration file), default (a calibration without gates), override
	// (centrald --min-quality) or config (a server on fixed thresholds).
	From string `json:"from"`
}

// VerifyRequest is the body of POST /api/v1/kiosk/verify (card + vein).
type VerifyRequest struct {
	Card    Card    `json:"card"`
	Capture Capture `json:"capture"`
}

// EnrolmentCheckRequest asks, before any finger, what the card's holder
// must do: the card as read (it must pass the card rules).
type EnrolmentCheckRequest struct {
	Card Card `json:"card"`
}

// EnrolmentCheck is the answer: whether the card's holder has a finger-vein
// enrolment and which fingers were enrolled (so the kiosk can name the
// finger to place), and the lock state of the ID number (AttemptsLeft: the
// failed finger checks allowed before it locks; LockedUntil: set while
// locked). Unknown and suspended residents get resident_unknown and
// resident_suspended, as at the verification.
type EnrolmentCheck struct {
	Enrolled     bool       `json:"enrolled"`
	Fingers      []Finger   `json:"fingers,omitempty"`
	AttemptsLeft int        `json:"attempts_left"`
	LockedUntil  *time.Time `json:"locked_until,omitempty"`
}

// ResidentSummary is what the kiosk may show about a verified resident.
type ResidentSummary struct {
	ResidentID     int64  `json:"resident_id"`
	Name           string `json:"name"`
	IDNumberMasked string `json:"id_number_masked"` // e.g. 110101********123X
}

// VerifyResponse is the answer to a successful verification (or a confirmed
// card-less identification): a short-lived filing token, usable by this
// kiosk only, for this resident only, to submit one filing.
type VerifyResponse struct {
	Token     string          `json:"token"`
	ExpiresAt time.Time       `json:"expires_at"`
	Resident  ResidentSummary `json:"resident"`
	// NewReplies counts the resident's filings and reports answered since
	// the kiosk last showed them "my filings" (docs/kiosk.md "New
	// replies"): the menu's notice 您有新的答复 N 件.
	NewReplies int `json:"new_replies,omitempty"`
}

// FieldType is the type of a form field.
type FieldType string

// Field types.
const (
	FieldText     FieldType = "text"      // free text; Answers are one-touch common answers
	FieldDigits   FieldType = "digits"    // digits only: bank account, certificate number (MinLen..MaxLen)
	FieldInteger  FieldType = "integer"   // a whole count (Min..Max)
	FieldNumber   FieldType = "number"    // an amount: decimal, at most two decimals (Min..Max)
	FieldDate     FieldType = "date"      // YYYY-MM-DD
	FieldPhone    FieldType = "phone"     // 11-digit mobile or landline
	FieldIDNumber FieldType = "id_number" // a GB 11643 citizen ID number
	FieldChoice   FieldType = "choice"    // one of Choices
	FieldBool     FieldType = "bool"      // "true" / "false"
)

// FormField describes one field of a service's form.
type FormField struct {
	Name     string    `json:"name"`  // machine name, e.g. "monthly_income"
	Label    string    `json:"label"` // Chinese label shown on the kiosk
	LabelEN  string    `json:"label_en,omitempty"`
	Type     FieldType `json:"type"` // the field's kind (docs/catalogue.md)
	Required bool      `json:"required"`
	Hint     string    `json:"hint,omitempty"` // one line shown under the label
	// Prefill names the resident-record attribute that fills the field
	// (e.g. "resident.name", "resident.address"); empty when the resident
	// types it.
	Prefill string   `json:"prefill,omitempty"`
	Choices []string `json:"choices,omitempty"`
	// ChoicesEN are the choices in English, in the same order (shown on
	// an English screen; the value filed is still the Chinese choice).
	ChoicesEN []string `json:"choices_en,omitempty"`
	// Answers are common answers of a text field, offered as one-touch
	// choices; the resident may still type something else. AnswersEN are
	// their English, in the same order (shown only: the Chinese is filed).
	Answers   []string `json:"answers,omitempty"`
	AnswersEN []string `json:"answers_en,omitempty"`
	MinLen    int      `json:"min_len,omitempty"` // text, digits
	MaxLen    int      `json:"max_len,omitempty"` // text, digits
	Min       *float64 `json:"min,omitempty"`     // integer, number
	Max       *float64 `json:"max,omitempty"`     // integer, number
	// Sensitive marks personal data (names, ID, phone, bank account and
	// certificate numbers, addresses): the server keeps filing forms sealed
	// at rest (docs/storage.md) and never logs them, and clients must not
	// show or keep such a value beyond the filing (no caching, no receipts
	// in clear).
	Sensitive bool `json:"sensitive,omitempty"`
}

// Service is one entry of the catalogue of services a resident can file for.
type Service struct {
	Code           string `json:"code"` // e.g. "dibao_new"
	Name           string `json:"name"` // e.g. 低保新申请
	NameEN         string `json:"name_en,omitempty"`
	Department     string `json:"department"`      // the unit's code, e.g. "civil_affairs"
	DepartmentName string `json:"department_name"` // e.g. 民政科
	DeadlineDays   int    `json:"deadline_days"`   // processing deadline, calendar days
	Description    string `json:"description,omitempty"`
	// Deliberation: approving a filing needs the record of the deliberation
	// meeting that decided it (docs/transparency.md).
	Deliberation bool `json:"deliberation,omitempty"`
	// Eligibility says in words who may file (empty: every resident).
	Eligibility string `json:"eligibility,omitempty"`
	// Kind is empty for a service filed with a form; "certification" for
	// one whose whole transaction is the card and vein check (POST
	// /api/v1/kiosk/certify; no form, no filing).
	Kind string `json:"kind,omitempty"`
	// AgentAllowed: a household member or guardian may file it for an
	// elderly or disabled resident (代办, POST /api/v1/kiosk/agent).
	AgentAllowed bool        `json:"agent_allowed,omitempty"`
	Fields       []FormField `json:"fields"`
}

// ServiceList is the answer to GET /api/v1/kiosk/services.
type ServiceList struct {
	CatalogueVersion int       `json:"catalogue_version"`
	Services         []Service `json:"services"`
	// Hidden are the services the resident may not file, with the reasons
	// (POST /api/v1/kiosk/services/eligible with a staff session only).
	Hidden []HiddenService `json:"hidden,omitempty"`
}

// HiddenService is a service a resident may not file, and why.
type HiddenService struct {
	Code    string   `json:"code"`
	Name    string   `json:"name"`
	Reasons []string `json:"reasons"`
}

// EligibleRequest is the body of POST /api/v1/kiosk/services/eligible.
type EligibleRequest struct {
	Token string `json:"token"`
}

// FormRequest is the body of POST /api/v1/kiosk/form.
type FormRequest struct {
	Token   string `json:"token"`
	Service string `json:"service"`
}

// Form is a service's form pre-filled from the resident's record.
type Form struct {
	Service Service           `json:"service"`
	Values  map[string]string `json:"values"` // prefilled values by field name
}

// SubmitFilingRequest is the body of POST /api/v1/kiosk/filings. A retry with
// the same IdempotencyKey from the same kiosk returns the filing created the
// first time and never creates a second one.
type SubmitFilingRequest struct {
	Token          string            `json:"token"`
	Service        string            `json:"service"`
	IdempotencyKey string            `json:"idempotency_key"` // 16..64 characters, e.g. a UUID
	Values         map[string]string `json:"values"`
	// PrincipalID: the resident the kiosk files for when the token's
	// resident files for a family member (代办): the AgentResponse's
	// principal. It must equal the token's binding (0: the token's
	// resident files for themselves), else agent_token_bound.
	PrincipalID int64 `json:"principal_id,omitempty"`
}

// Filing statuses.
const (
	FilingSubmitted = "submitted" // waiting for the department
	FilingInReview  = "in_review" // an officer is working on it
	FilingNeedInfo  = "need_info" // the department asked for more information (see reply)
	FilingAccepted  = "accepted"
	FilingRejected  = "rejected"
)

// StatusLabel is what a filing status is called, in the same words at the
// kiosk, in the back office and on the wire.
type StatusLabel struct {
	ZH, EN string
}

// filingStatusLabels is the one table of filing status names.
var filingStatusLabels = map[string]StatusLabel{
	FilingSubmitted: {"待受理", "Waiting to be taken up"},
	FilingInReview:  {"审核中", "Under review"},
	FilingNeedInfo:  {"待补充材料", "More information needed"},
	FilingAccepted:  {"已通过", "Approved"},
	FilingRejected:  {"未通过", "Not approved"},
}

// FilingStatuses lists the filing statuses in the order a filing goes
// through them.
var FilingStatuses = []string{FilingSubmitted, FilingInReview, FilingNeedInfo, FilingAccepted, FilingRejected}

// FilingStatusLabel returns the names of a filing status; an unknown code
// is its own name.
func FilingStatusLabel(code string) StatusLabel {
	if l, ok := filingStatusLabels[code]; ok {
		return l
	}
	return StatusLabel{code, code}
}

// Decision actions of a department officer.
const (
	DecisionReview      = "review" // take the filing into review
	DecisionAccept      = "accept"
	DecisionReject      = "reject"
	DecisionRequestInfo = "request_info"
)

// Filing is one filing as the kiosk (and the back office) see it.
type Filing struct {
	ID            int64  `json:"id"`
	Reference     string `json:"reference"` // e.g. QS-2026-000123, printed on the receipt
	Service       string `json:"service"`
	ServiceName   string `json:"service_name"`
	Department    string `json:"department"`
	Status        string `json:"status"`
	StatusLabel   string `json:"status_label"`    // FilingStatusLabel(Status).ZH
	StatusLabelEN string `json:"status_label_en"` // FilingStatusLabel(Status).EN
	// CatalogueVersion is the catalogue version the filing was filed under.
	CatalogueVersion int               `json:"catalogue_version"`
	SubmittedAt      time.Time         `json:"submitted_at"`
	DueAt            time.Time         `json:"due_at"`
	DecidedAt        *time.Time        `json:"decided_at,omitempty"`
	Reply            string            `json:"reply,omitempty"`
	KioskID          string            `json:"kiosk_id,omitempty"`
	ResidentID       int64             `json:"resident_id,omitempty"`
	Values           map[string]string `json:"values,omitempty"` // back office only
	Overdue          bool              `json:"overdue"`
	ResidentName     string            `json:"resident_name,omitempty"` // back office only
	// Rating is the resident's rating of the decided filing (1..5), 0 when
	// not rated (the kiosk's "my filings" only); Rateable says it may be
	// rated now (decided, not rated yet).
	Rating   int  `json:"rating,omitempty"`
	Rateable bool `json:"rateable,omitempty"`
	// Agent is who filed it for the resident (代办); nil when the resident
	// filed themselves. The kiosk sees only that it was filed by an agent.
	Agent *AgentSummary `json:"agent,omitempty"`
	// New says the filing was decided since the kiosk last showed the
	// resident "my filings" (the kiosk's "my filings" only; marked 新).
	New bool `json:"new,omitempty"`
}

// AgentSummary names the agent of a filing made for a family member (代办)
// and why the population data allowed it. Name and IDNumberMasked are for
// the back office only.
type AgentSummary struct {
	ResidentID     int64  `json:"resident_id,omitempty"`
	Name           string `json:"name,omitempty"`
	IDNumberMasked string `json:"id_number_masked,omitempty"`
	Relation       string `json:"relation"`               // household or guardian
	RelationLabel  string `json:"relation_label"`         // 同户家庭成员 / 监护人
	Relationship   string `json:"relationship,omitempty"` // the principal's relation to the household head, as recorded
}

// Relations that allow filing for a family member (代办).
const (
	AgentHousehold = "household" // the population data puts both in one household
	AgentGuardian  = "guardian"  // the agent is the principal's recorded guardian
)

// AgentRelationLabel names an agent relation in Chinese.
func AgentRelationLabel(rel string) string {
	switch rel {
	case AgentHousehold:
		return "同户家庭成员"
	case AgentGuardian:
		return "监护人"
	}
	return rel
}

// AgentRequest is the body of POST /api/v1/kiosk/agent: the agent's filing
// token (the agent verified with card and finger) and the card of the
// family member they file for, as the kiosk's reader read it.
type AgentRequest struct {
	Token string `json:"token"`
	Card  Card   `json:"card"`
}

// AgentResponse is the answer: who the token now files for, and why.
// From here on the token's eligible services, forms, filing and "my
// filings" are the principal's, and only the services with agent_allowed.
type AgentResponse struct {
	Principal     ResidentSummary `json:"principal"`
	Relation      string          `json:"relation"`
	RelationLabel string          `json:"relation_label"`
}

// StatusRequest is the body of POST /api/v1/kiosk/status.
type StatusRequest struct {
	Token string `json:"token"`
}

// FilingList is a list of filings.
type FilingList struct {
	Filings []Filing `json:"filings"`
	// Reports are the resident's issue reports, newest first (the kiosk's
	// "my filings" only; omitted elsewhere).
	Reports []Report `json:"reports,omitempty"`
}

// FingerCaptures are the captures of one finger at enrolment.
type FingerCaptures struct {
	Finger   Finger    `json:"finger"`
	Captures []Capture `json:"captures"`
}

// Enrolment requirements.
const (
	EnrolFingers           = 2 // distinct fingers
	EnrolCapturesPerFinger = 3 // good captures per finger, at least
	MaxCapturesPerFinger   = 10
)

// CaptureField names capture i (0-based, in the order the request sent the
// finger's captures) of finger f in an error's fields: "right_index[2]"
// (enrolment_incomplete, enrolment_inconsistent).
func CaptureField(f Finger, i int) string { return fmt.Sprintf("%s[%d]", f, i) }

// ParseCaptureField is the inverse of CaptureField; ok is false for a key
// that is not one (an unknown finger, a bad or negative index).
func ParseCaptureField(key string) (f Finger, i int, ok bool) {
	name, rest, found := strings.Cut(key, "[")
	idx, closed := strings.CutSuffix(rest, "]")
	if !found || !closed || !Finger(name).Valid() {
		return "", 0, false
	}
	i, err := strconv.Atoi(idx)
	if err != nil || i < 0 || strconv.Itoa(i) != idx {
		return "", 0, false
	}
	return Finger(name), i, true
}

// EnrolRequest is the body of POST /api/v1/kiosk/enrolments (station staff
// in staff mode). The resident is identified by the card.
type EnrolRequest struct {
	Card    Card             `json:"card"`
	Fingers []FingerCaptures `json:"fingers"`
	// OverrideCaseID resubmits an enrolment that stopped on a suspected
	// duplicate after a supervisor overrode the case.
	OverrideCaseID int64 `json:"override_case_id,omitempty"`
	// Consent is the resident's consent to biometric enrolment, confirmed
	// on the kiosk's screen; an enrolment without it is refused
	// (consent_required).
	Consent *EnrolConsent `json:"consent,omitempty"`
}

// ConsentTextVersion names the consent text the kiosk shows before an
// enrolment (kiosk/ui/static/kiosk.js, consentText; a change of the text
// needs a new version). The server accepts the versions in
// ConsentTextVersions.
const ConsentTextVersion = "biometric-consent-2026-12"

// ConsentTextVersions are the consent texts the server accepts.
var ConsentTextVersions = []string{ConsentTextVersion}

// EnrolConsent is the resident's consent to biometric enrolment: which
// text they confirmed, and when.
type EnrolConsent struct {
	TextVersion string    `json:"text_version"`
	ConfirmedAt time.Time `json:"confirmed_at"`
}

// EnrolResponse is the answer to a successful enrolment.
//
// A first enrolment takes effect at once (201, Pending false). For a
// resident already enrolled the answer is 202 with Pending true: the new
// fingers wait, sealed, as replacement ReplacementID until a supervisor of
// the station approves it; the enrolment in force stays until then.
type EnrolResponse struct {
	ResidentID    int64 `json:"resident_id"`
	Replaced      bool  `json:"replaced"` // always false: a replacement takes effect only when approved
	Templates     int   `json:"templates"`
	Pending       bool  `json:"pending,omitempty"`        // a replacement awaits a supervisor's approval
	ReplacementID int64 `json:"replacement_id,omitempty"` // with Pending
}

// IdentifyRequest is the body of POST /api/v1/kiosk/identify: card-less 1:N
// identification (station policy; off by default).
type IdentifyRequest struct {
	Capture Capture `json:"capture"`
}

// IdentifyCandidate is the best candidate of a card-less identification.
// Staff compare it with the person in front of them and confirm.
type IdentifyCandidate struct {
	CandidateID    string    `json:"candidate_id"`
	Name           string    `json:"name"`
	IDNumberMasked string    `json:"id_number_masked"`
	BirthDate      string    `json:"birth_date,omitempty"`
	ExpiresAt      time.Time `json:"expires_at"`
}

// IdentifyConfirmRequest is the body of POST /api/v1/kiosk/identify/confirm.
type IdentifyConfirmRequest struct {
	CandidateID string `json:"candidate_id"`
}

// Staff roles.
const (
	RoleStationStaff = "station_staff"
	RoleSupervisor   = "supervisor"
	RoleOfficer      = "department_officer"
	RoleAdmin        = "admin"
	RoleGridWorker   = "grid_worker" // 网格员: the residents of one grid cell (StaffCreate.GridCell)
)

// LoginRequest is the body of POST /api/v1/sessions.
type LoginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// Session is a staff session. Token goes in "Authorization: Bearer TOKEN"
// (API) or the session cookie (back office).
type Session struct {
	Token      string    `json:"token,omitempty"`
	ExpiresAt  time.Time `json:"expires_at"`
	StaffID    int64     `json:"staff_id"`
	Username   string    `json:"username"`
	Role       string    `json:"role"`
	Department string    `json:"department,omitempty"`
	Name       string    `json:"name,omitempty"`    // the display name (kiosk login)
	Station    string    `json:"station,omitempty"` // the staff member's station (kiosk login)
}

// KioskStaffLogin is the body of POST PathKioskStaffLogin: a station's
// staff member logs in at one of its kiosks with their username and PIN.
type KioskStaffLogin struct {
	Username string `json:"username"`
	PIN      string `json:"pin"`
}

// PINLength is the length of a staff member's kiosk PIN (digits).
const PINLength = 6

// PINChange sets a kiosk PIN: a staff member's own (with their password)
// or, by an administrator, anyone's (without).
type PINChange struct {
	Password string `json:"password,omitempty"`
	PIN      string `json:"pin"`
}
