package apiv1

import "time"

// Back-office and administration paths (staff sessions, no kiosk signature).
const (
	PathAdminStations     = "/api/v1/admin/stations"
	PathAdminScanners     = "/api/v1/admin/scanners"
	PathAdminKiosks       = "/api/v1/admin/kiosks"
	PathAdminMakers       = "/api/v1/admin/makers"
	PathAdminStaff        = "/api/v1/admin/staff"
	PathAdminResidents    = "/api/v1/admin/residents"
	PathAdminBulkEnrol    = "/api/v1/admin/enrolments/bulk"
	PathCases             = "/api/v1/cases"
	PathReplacements      = "/api/v1/replacements"
	PathEnrolmentHistory  = "/api/v1/residents/enrolment-history"
	PathFilings           = "/api/v1/filings"
	PathFilingsOverdue    = "/api/v1/filings/overdue"
	PathServices          = "/api/v1/services"
	PathAdminAuditVerify  = "/api/v1/admin/audit/verify"
	PathLockoutUnlock     = "/api/v1/lockouts/unlock"
	PathAdminCalibrations = "/api/v1/admin/calibrations"
)

// Station is a community service station.
type Station struct {
	ID      string `json:"id"` // e.g. QS-S01
	Name    string `json:"name"`
	Address string `json:"address,omitempty"`
}

// StationList is the answer to GET /api/v1/admin/stations.
type StationList struct {
	Stations []Station `json:"stations"`
}

// Scanner is a finger-vein scanner the server has seen (registered on its
// first capture with a certificate from a configured maker).
type Scanner struct {
	Serial    string `json:"serial"`
	Model     string `json:"model,omitempty"`
	MakerID   string `json:"maker_id"`
	KioskID   string `json:"kiosk_id,omitempty"`
	Status    string `json:"status"` // active, revoked
	Counter   uint64 `json:"counter"`
	PublicKey []byte `json:"public_key"`
	// Calibration names the calibration in force for the scanner's model
	// (see CalibrationList), or says why there is none.
	Calibration string `json:"calibration,omitempty"`
}

// CalibrationThreshold is one use's threshold and the per-comparison false
// match rates asked for and in force (they differ when Mapped: the target
// lies below what the calibration resolves and was mapped to its lowest
// resolved point).
type CalibrationThreshold struct {
	TargetFMR  float64 `json:"target_fmr"`
	Threshold  float64 `json:"threshold"`
	InForceFMR float64 `json:"in_force_fmr"`
	Mapped     bool    `json:"mapped"`
}

// Calibration is the calibration in force for one scanner model ("*": the
// fallback for models without one).
type Calibration struct {
	ScannerModel string               `json:"scanner_model"`
	Calibration  string               `json:"calibration"` // model@date (digest)
	Source       string               `json:"source"`      // the model whose calibration it is
	Fallback     bool                 `json:"fallback"`
	Synthetic    bool                 `json:"synthetic"`
	ParamsHash   string               `json:"params_hash"`
	Verify       CalibrationThreshold `json:"verify"`
	Dedup        CalibrationThreshold `json:"dedup"`
	Identify     CalibrationThreshold `json:"identify"`
	// Level is the comparison level the calibration was measured at
	// ("best_of_enrolled/3": a probe against the best of a finger's 3
	// enrolled samples, as the server compares; "single"); LevelMismatch:
	// not the server's, used by operator choice with the targets divided
	// by LevelFactor.
	Level         string  `json:"level"`
	LevelMismatch bool    `json:"level_mismatch"`
	LevelFactor   float64 `json:"level_factor"`
	// The capture quality gates in force for the model, and where they
	// come from: calibration, default, override (--min-quality) or config.
	EnrolMinQuality  int    `json:"enrol_min_quality"`
	VerifyMinQuality int    `json:"verify_min_quality"`
	QualityGatesFrom string `json:"quality_gates_from"`
}

// CalibrationList is the answer to GET /api/v1/admin/calibrations.
type CalibrationList struct {
	Calibrations []Calibration `json:"calibrations"`
}

// ScannerList is the answer to GET /api/v1/admin/scanners.
type ScannerList struct {
	Scanners []Scanner `json:"scanners"`
}

// KioskRegistration is the body of POST /api/v1/admin/kiosks.
type KioskRegistration struct {
	ID        string `json:"id"`
	Station   string `json:"station"`
	Name      string `json:"name,omitempty"`
	PublicKey []byte `json:"public_key"` // Ed25519, 32 bytes
}

// Kiosk is a registered kiosk.
type Kiosk struct {
	ID           string    `json:"id"`
	Station      string    `json:"station"`
	Name         string    `json:"name,omitempty"`
	PublicKey    []byte    `json:"public_key"`
	Status       string    `json:"status"` // active, revoked
	RegisteredAt time.Time `json:"registered_at"`
}

// KioskList is the answer to GET /api/v1/admin/kiosks.
type KioskList struct {
	Kiosks []Kiosk `json:"kiosks"`
}

// StatusChange is the body of POST /api/v1/admin/kiosks/{id}/status and
// /api/v1/admin/scanners/{serial}/status.
type StatusChange struct {
	Status string `json:"status"` // active, revoked
}

// Maker is a scanner maker whose key signs device certificates.
type Maker struct {
	ID        string    `json:"id"` // the MakerID in device certificates
	Name      string    `json:"name,omitempty"`
	PublicKey []byte    `json:"public_key"` // Ed25519, 32 bytes
	AddedAt   time.Time `json:"added_at,omitzero"`
}

// MakerList is the answer to GET /api/v1/admin/makers.
type MakerList struct {
	Makers []Maker `json:"makers"`
}

// StaffCreate is the body of POST /api/v1/admin/staff.
type StaffCreate struct {
	Username    string `json:"username"`
	Password    string `json:"password"` // at least 12 characters
	DisplayName string `json:"display_name,omitempty"`
	Role        string `json:"role"`
	Department  string `json:"department,omitempty"` // required for department_officer
	Station     string `json:"station,omitempty"`
	GridCell    string `json:"grid_cell,omitempty"` // required for grid_worker (only)
}

// Staff is a staff account (never with its password).
type Staff struct {
	ID          int64  `json:"id"`
	Username    string `json:"username"`
	DisplayName string `json:"display_name,omitempty"`
	Role        string `json:"role"`
	Department  string `json:"department,omitempty"`
	Station     string `json:"station,omitempty"`
	GridCell    string `json:"grid_cell,omitempty"`
	Disabled    bool   `json:"disabled"`
}

// StaffList is the answer to GET /api/v1/admin/staff.
type StaffList struct {
	Staff []Staff `json:"staff"`
}

// Resident is a resident's record in the population database (the source of
// form prefill).
type Resident struct {
	ID         int64    `json:"id,omitempty"`
	IDNumber   string   `json:"id_number"`
	Name       string   `json:"name"`
	Gender     string   `json:"gender,omitempty"`     // M or F
	BirthDate  string   `json:"birth_date,omitempty"` // YYYY-MM-DD
	Address    string   `json:"address,omitempty"`
	GridCell   string   `json:"grid_cell,omitempty"`
	Household  string   `json:"household,omitempty"`
	Categories []string `json:"categories,omitempty"` // e.g. dibao, elderly, disabled
	Status     string   `json:"status,omitempty"`     // active, suspended
	// Relationship to the household head (户主, 配偶, 子女, 父母, ...) and
	// the recorded guardian's ID number: who may file for whom (代办).
	Relationship     string `json:"relationship,omitempty"`
	GuardianIDNumber string `json:"guardian_id_number,omitempty"`
}

// ResidentImport is the body of POST /api/v1/admin/residents (upsert by ID
// number).
type ResidentImport struct {
	Residents []Resident `json:"residents"`
}

// ImportResult counts what an import did.
type ImportResult struct {
	Inserted  int `json:"inserted"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
}

// ResidentStatusChange is the body of POST /api/v1/admin/residents/status
// (the ID number travels in the body, never in a URL that may be logged).
type ResidentStatusChange struct {
	IDNumber string `json:"id_number"`
	Status   string `json:"status"` // active, suspended
	Reason   string `json:"reason"`
}

// EnrolmentDeletion is the body of POST /api/v1/admin/residents/enrolment/delete
// (consent withdrawn).
type EnrolmentDeletion struct {
	IDNumber string `json:"id_number"`
	Reason   string `json:"reason"`
}

// BulkEnrolItem is one resident of a bulk enrolment: the record and, per
// finger, templates already extracted and checked by the caller.
type BulkEnrolItem struct {
	Resident Resident          `json:"resident"`
	Fingers  []FingerTemplates `json:"fingers"`
}

// FingerTemplates are the templates of one finger.
type FingerTemplates struct {
	Finger    Finger   `json:"finger"`
	Templates [][]byte `json:"templates"`
}

// BulkEnrolRequest is the body of POST /api/v1/admin/enrolments/bulk (admin
// only, audited): migration of enrolments made elsewhere and load tests,
// only on a server started with --bulk-enrolment=migrate or unchecked
// (bulk_enrolment_off otherwise). It enrols only residents never enrolled
// before, with exactly EnrolCapturesPerFinger consistent templates per
// finger and at least EnrolFingers fingers; other items are refused one by
// one (Refused). Deduplication runs as for a kiosk enrolment; SkipDedup is
// allowed only with --bulk-enrolment=unchecked (skip_dedup_refused).
type BulkEnrolRequest struct {
	Items     []BulkEnrolItem `json:"items"`
	SkipDedup bool            `json:"skip_dedup,omitempty"`
}

// Bulk enrolment modes (centrald --bulk-enrolment; BulkEnrolResult.Mode).
const (
	BulkOff       = "off"       // the route refuses (bulk_enrolment_off)
	BulkMigrate   = "migrate"   // deduplication always runs
	BulkUnchecked = "unchecked" // skip_dedup allowed: load-test seeding on throwaway data
)

// BulkEnrolResult reports a bulk enrolment: the items enrolled, those that
// matched another resident (a case was opened) and those refused. An item
// not enrolled left nothing stored.
type BulkEnrolResult struct {
	Mode       string          `json:"mode"` // the server's --bulk-enrolment
	Enrolled   int             `json:"enrolled"`
	Duplicates []BulkDuplicate `json:"duplicates,omitempty"`
	Refused    []BulkRefusal   `json:"refused,omitempty"`
}

// BulkRefusal is an item of a bulk enrolment that was refused: Code is an
// error code (already_enrolled, template_count, enrolment_incomplete,
// enrolment_inconsistent, resident_suspended, template_invalid), Fields
// name the offending finger or templates.
type BulkRefusal struct {
	Index   int               `json:"index"`
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// BulkDuplicate is an item of a bulk enrolment that matched another
// resident and was not stored.
type BulkDuplicate struct {
	Index  int   `json:"index"`
	CaseID int64 `json:"case_id"`
}

// Case statuses.
const (
	CaseOpen       = "open"
	CaseOverridden = "overridden" // the supervisor allows the enrolment
	CaseRejected   = "rejected"   // the supervisor confirms the duplicate
)

// Case is a suspected duplicate enrolment for a supervisor (who may see the
// ID numbers: judging the case needs them).
type Case struct {
	ID              int64      `json:"id"`
	Status          string     `json:"status"`
	IDNumber        string     `json:"id_number"`         // being enrolled
	MatchedIDNumber string     `json:"matched_id_number"` // whose veins matched
	Finger          Finger     `json:"finger"`
	Score           float64    `json:"score"`
	KioskID         string     `json:"kiosk_id,omitempty"`
	StaffID         int64      `json:"staff_id"` // who was enrolling
	CreatedAt       time.Time  `json:"created_at"`
	DecidedBy       int64      `json:"decided_by,omitempty"`
	DecidedAt       *time.Time `json:"decided_at,omitempty"`
	Reason          string     `json:"reason,omitempty"`
}

// CaseList is the answer to GET /api/v1/cases.
type CaseList struct {
	Cases []Case `json:"cases"`
}

// CaseDecision is the body of POST /api/v1/cases/{id}/override and
// /api/v1/cases/{id}/reject.
type CaseDecision struct {
	Reason string `json:"reason"`
}

// Replacement statuses.
const (
	ReplacementPending  = "pending"
	ReplacementApproved = "approved"
	ReplacementRejected = "rejected"
)

// Bases of a replacement's approval.
const (
	// BasisMatch: the new captures verified against the enrolment in
	// force at the verification threshold (PreviousMatch true).
	BasisMatch = "match"
	// BasisInPerson: the supervisor checked the card against the person in
	// person and attests it in the reason.
	BasisInPerson = "in_person"
)

// Replacement is a request to replace a resident's enrolment, made by
// station staff at a kiosk and decided by a supervisor of that station.
type Replacement struct {
	ID            int64      `json:"id"`
	Status        string     `json:"status"` // pending, approved, rejected
	ResidentID    int64      `json:"resident_id"`
	Fingers       []Finger   `json:"fingers"`
	RequestedBy   int64      `json:"requested_by"`
	KioskID       string     `json:"kiosk_id"`
	StationID     string     `json:"station_id"`
	PreviousScore float64    `json:"previous_score"` // best score of the new captures against the enrolment in force
	PreviousMatch bool       `json:"previous_match"` // PreviousScore reached the verification threshold
	CreatedAt     time.Time  `json:"created_at"`
	DecidedBy     int64      `json:"decided_by,omitempty"`
	DecidedAt     *time.Time `json:"decided_at,omitempty"`
	Basis         string     `json:"basis,omitempty"`
	Reason        string     `json:"reason,omitempty"`
	Enrolments    []int64    `json:"enrolments,omitempty"` // created by the approval
}

// ReplacementList is the answer to GET /api/v1/replacements.
type ReplacementList struct {
	Replacements []Replacement `json:"replacements"`
}

// ReplacementDecision is the body of POST /api/v1/replacements/{id}/approve
// (basis and reason required) and /api/v1/replacements/{id}/reject (reason
// required).
type ReplacementDecision struct {
	Basis  string `json:"basis,omitempty"` // match or in_person
	Reason string `json:"reason"`
}

// EnrolmentHistoryRequest is the body of POST
// /api/v1/residents/enrolment-history (POST: the ID number stays out of URLs
// and access logs).
type EnrolmentHistoryRequest struct {
	IDNumber string `json:"id_number"`
}

// EnrolmentRecord is one enrolment of a finger, in force or superseded.
type EnrolmentRecord struct {
	ID            int64      `json:"id"`
	Finger        Finger     `json:"finger"`
	EnrolledBy    int64      `json:"enrolled_by,omitempty"`
	KioskID       string     `json:"kiosk_id,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	SupersededAt  *time.Time `json:"superseded_at,omitempty"`
	ReplacementID int64      `json:"replacement_id,omitempty"`
}

// EnrolmentHistory is a resident's enrolments and replacement requests.
type EnrolmentHistory struct {
	ResidentID   int64             `json:"resident_id"`
	Enrolments   []EnrolmentRecord `json:"enrolments"`   // oldest first
	Replacements []Replacement     `json:"replacements"` // newest first
	Consents     []Consent         `json:"consents"`     // consents to enrolment, oldest first
}

// Consent is a resident's recorded consent to biometric enrolment.
type Consent struct {
	ID          int64     `json:"id"`
	TextVersion string    `json:"text_version"`
	ConsentedAt time.Time `json:"consented_at"`
	StaffID     int64     `json:"staff_id"`
	KioskID     string    `json:"kiosk_id"`
}

// Decision is the body of POST /api/v1/filings/{id}/decision.
type Decision struct {
	Action string `json:"action"` // review, accept, reject, request_info
	Reply  string `json:"reply"`  // shown to the resident at the kiosk
}

// OverdueReport is the answer to GET /api/v1/filings/overdue.
type OverdueReport struct {
	Departments []DepartmentOverdue `json:"departments"`
}

// DepartmentOverdue lists one department's overdue filings.
type DepartmentOverdue struct {
	Department string    `json:"department"`
	Count      int       `json:"count"`
	OldestDue  time.Time `json:"oldest_due"`
	Filings    []Filing  `json:"filings"`
}

// LockoutUnlock is the body of POST /api/v1/lockouts/unlock (supervisors
// and administrators) and POST /api/v1/kiosk/lockouts/unlock (station
// staff in staff mode at a kiosk of their station): clear an ID number's
// failures and lock after checking the resident in person. The reason
// (required, at most 500 bytes) is audited with who unlocked; it should
// say what was checked, not name the resident.
type LockoutUnlock struct {
	IDNumber string `json:"id_number"`
	Reason   string `json:"reason"`
}

// LockoutUnlocked is the answer to an unlock: what it cleared.
type LockoutUnlocked struct {
	IDNumberMasked string `json:"id_number_masked"`
	// WasLocked: the ID number was locked when unlocked (else only its
	// failure count was cleared).
	WasLocked bool `json:"was_locked"`
	// FailuresCleared is the failure count before the unlock.
	FailuresCleared int `json:"failures_cleared"`
	// LockedUntil is the end of the lock that was lifted, if any.
	LockedUntil *time.Time `json:"locked_until,omitempty"`
}

// AuditVerifyResult is the answer to GET /api/v1/admin/audit/verify.
type AuditVerifyResult struct {
	OK      bool   `json:"ok"`
	Records int64  `json:"records"`
	Error   string `json:"error,omitempty"`
	// Unexplained names each row of the business tables (filings,
	// enrolments, enrolment replacements, lockouts, staff and their PINs,
	// kiosks, scanners, duplicate cases, consents, 低保 meetings and their
	// filings, proofs of life, reports, ratings, escalations, grid visits,
	// catalogue and report-kinds versions) that the intact chain does not
	// explain (changed, inserted or deleted behind the server's
	// back); OK is false when there is any.
	Unexplained []string `json:"unexplained,omitempty"`
	// Anchors is how many signed anchors of the server's anchor file the
	// chain was checked against (0: anchoring off, or none written yet);
	// LastAnchor describes the newest (file:line, replica, time, record).
	Anchors    int    `json:"anchors,omitempty"`
	LastAnchor string `json:"last_anchor,omitempty"`
}
