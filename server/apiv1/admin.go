package apiv1

import "time"

// Back-office and administration paths (staff sessions, no kiosk signature).
const (
	PathAdminKiosks       = "/api/v1/admin/kiosks"
	PathAdminMakers       = "/api/v1/admin/makers"
	PathAdminStaff        = "/api/v1/admin/staff"
	PathAdminResidents    = "/api/v1/admin/residents"
	PathAdminBulkEnrol    = "/api/v1/admin/enrolments/bulk"
	PathCases             = "/api/v1/cases"
	PathFilings           = "/api/v1/filings"
	PathFilingsOverdue    = "/api/v1/filings/overdue"
	PathServices          = "/api/v1/services"
	PathAdminAuditVerify  = "/api/v1/admin/audit/verify"
	PathAdminLockoutClear = "/api/v1/admin/lockouts/clear"
)

// KioskRegistration is the body of POST /api/v1/admin/kiosks.
type KioskRegistration struct {
	ID        string `json:"id"`
	Station   string `json:"station"`
	Name      string `json:"name,omitempty"`
	PublicKey []byte `json:"public_key"` // Ed25519, 32 bytes
}

// Kiosk is a registered kiosk.
type Kiosk struct {
	ID           string     `json:"id"`
	Station      string     `json:"station"`
	Name         string     `json:"name,omitempty"`
	PublicKey    []byte     `json:"public_key"`
	RegisteredAt time.Time  `json:"registered_at"`
	RevokedAt    *time.Time `json:"revoked_at,omitempty"`
}

// KioskList is the answer to GET /api/v1/admin/kiosks.
type KioskList struct {
	Kiosks []Kiosk `json:"kiosks"`
}

// RevokeRequest is the body of POST /api/v1/admin/kiosks/{id}/revoke.
type RevokeRequest struct {
	Reason string `json:"reason"`
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
}

// Staff is a staff account (never with its password).
type Staff struct {
	ID          int64  `json:"id"`
	Username    string `json:"username"`
	DisplayName string `json:"display_name,omitempty"`
	Role        string `json:"role"`
	Department  string `json:"department,omitempty"`
	Station     string `json:"station,omitempty"`
	Disabled    bool   `json:"disabled"`
}

// StaffList is the answer to GET /api/v1/admin/staff.
type StaffList struct {
	Staff []Staff `json:"staff"`
}

// Resident is a resident's record in the population database (the source of
// form prefill).
type Resident struct {
	ID        int64  `json:"id,omitempty"`
	IDNumber  string `json:"id_number"`
	Name      string `json:"name"`
	Sex       string `json:"sex,omitempty"`
	Nation    string `json:"nation,omitempty"`
	BirthDate string `json:"birth_date,omitempty"`
	Address   string `json:"address,omitempty"`
	Phone     string `json:"phone,omitempty"`
	Grid      string `json:"grid,omitempty"` // grid cell
	Household int    `json:"household_size,omitempty"`
	Suspended bool   `json:"suspended,omitempty"`
	Enrolled  bool   `json:"enrolled,omitempty"`
}

// ResidentImport is the body of POST /api/v1/admin/residents (upsert by ID
// number).
type ResidentImport struct {
	Residents []Resident `json:"residents"`
}

// ImportResult counts what an import did.
type ImportResult struct {
	Created int `json:"created"`
	Updated int `json:"updated"`
}

// SuspendRequest is the body of POST /api/v1/admin/residents/{id}/suspend.
type SuspendRequest struct {
	Suspended bool   `json:"suspended"`
	Reason    string `json:"reason"`
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
// only, audited): migration of enrolments made elsewhere and load tests.
// Deduplication runs as for a kiosk enrolment unless SkipDedup is set.
type BulkEnrolRequest struct {
	Items     []BulkEnrolItem `json:"items"`
	SkipDedup bool            `json:"skip_dedup,omitempty"`
}

// BulkEnrolResult reports a bulk enrolment.
type BulkEnrolResult struct {
	Enrolled   int             `json:"enrolled"`
	Duplicates []BulkDuplicate `json:"duplicates,omitempty"`
}

// BulkDuplicate is an item of a bulk enrolment that matched another
// resident and was not stored.
type BulkDuplicate struct {
	Index  int    `json:"index"`
	CaseID string `json:"case_id"`
}

// Case statuses.
const (
	CaseOpen       = "open"
	CaseOverridden = "overridden" // the supervisor allows the enrolment
	CaseRejected   = "rejected"   // the supervisor confirms the duplicate
	CaseUsed       = "used"       // the overridden enrolment went through
)

// Case is a suspected duplicate enrolment waiting for a supervisor.
type Case struct {
	ID                string     `json:"id"`
	Status            string     `json:"status"`
	OpenedAt          time.Time  `json:"opened_at"`
	OpenedBy          int64      `json:"opened_by"` // staff id
	KioskID           string     `json:"kiosk_id,omitempty"`
	ResidentID        int64      `json:"resident_id"`         // the resident being enrolled
	MatchedResidentID int64      `json:"matched_resident_id"` // whose veins matched
	Score             float64    `json:"score"`
	DecidedAt         *time.Time `json:"decided_at,omitempty"`
	DecidedBy         int64      `json:"decided_by,omitempty"`
	Reason            string     `json:"reason,omitempty"`
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

// Decision is the body of POST /api/v1/filings/{id}/decision.
type Decision struct {
	Action string `json:"action"` // accept, reject, request_info
	Reply  string `json:"reply"`  // shown to the resident at the kiosk
}

// OverdueReport is the answer to GET /api/v1/filings/overdue.
type OverdueReport struct {
	Departments []DepartmentOverdue `json:"departments"`
}

// DepartmentOverdue lists one department's overdue filings.
type DepartmentOverdue struct {
	Department string   `json:"department"`
	Count      int      `json:"count"`
	Filings    []Filing `json:"filings"`
}

// LockoutClear is the body of POST /api/v1/admin/lockouts/clear.
type LockoutClear struct {
	IDNumber string `json:"id_number"`
}

// AuditVerifyResult is the answer to GET /api/v1/admin/audit/verify.
type AuditVerifyResult struct {
	OK      bool   `json:"ok"`
	Records int64  `json:"records"`
	Error   string `json:"error,omitempty"`
}
