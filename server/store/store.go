// Package store defines the storage interface of the central server and the
// entities it keeps: residents, staff, stations, kiosks, scanner devices,
// enrolments (encrypted vein templates and capture images), deduplication
// cases, verification attempts and lockouts, nonces, filing tokens, filings
// with their history, and the audit chain.
//
// Two backends implement Store and pass the same conformance suite
// (server/store/storetest):
//
//   - server/store/postgres: PostgreSQL through pgx/pgxpool, for production;
//   - server/store/sqlite: an embedded database file (modernc.org/sqlite,
//     pure Go), the default, so the service runs with no database server.
//
// Conventions, as in dex's storage package:
//   - every method takes a context first;
//   - failures that callers act on are reported with the sentinel errors
//     below, wrapped with %w (test them with errors.Is);
//   - every mutating method that changes something a person did or decided
//     takes the acting audit.Actor and appends an audit event in the SAME
//     transaction as the change, so an action and its audit record commit or
//     vanish together;
//   - biometric blobs (templates and capture images) are passed to and
//     returned from the store in plaintext; the store seals them with the key
//     ring given at Open (AES-256-GCM, bound to the record) before they reach
//     the database, and never logs them;
//   - times are stored in UTC with microsecond precision.
//
// See docs/storage.md for the schema, durability and key rotation.
package store

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/audit"
)

// Sentinel errors. Backends wrap them with context; test with errors.Is.
var (
	// ErrNotFound: the record does not exist (or, for nonces and filing
	// tokens, was already consumed or belongs to someone else).
	ErrNotFound = errors.New("store: not found")
	// ErrAlreadyExists: a record with the same unique key exists.
	ErrAlreadyExists = errors.New("store: already exists")
	// ErrConflict: the change does not apply to the record's current state
	// (a filing transition not allowed from its status, a dedup case already
	// decided, an idempotency key reused for a different request).
	ErrConflict = errors.New("store: conflict")
	// ErrExpired: a nonce or filing token exists but has expired.
	ErrExpired = errors.New("store: expired")
	// ErrStaleCounter: a scanner capture counter that is not greater than
	// the last one accepted (a replayed or reordered capture).
	ErrStaleCounter = errors.New("store: stale capture counter")
	// ErrInactive: the resident, staff member, kiosk or scanner is suspended,
	// disabled or revoked.
	ErrInactive = errors.New("store: inactive")
	// ErrInvalid: the argument is malformed (empty required field, unknown
	// enum value, ...). The message says which field.
	ErrInvalid = errors.New("store: invalid argument")
	// ErrDecrypt: a biometric blob could not be decrypted (unknown key id,
	// tampering, or a blob moved to another record).
	ErrDecrypt = errors.New("store: cannot decrypt biometric data")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store: closed")
	// ErrSelfApproval: a staff member tried to approve or reject their own
	// request (an enrolment replacement needs a second person).
	ErrSelfApproval = errors.New("store: a request cannot be decided by its requester")
	// ErrNotApprover: the staff member is not a supervisor of the station
	// the request belongs to.
	ErrNotApprover = errors.New("store: not a supervisor of the request's station")
	// ErrAlreadyEnrolled: a first enrolment of a resident who has been
	// enrolled before (an enrolment in force, deleted or superseded, or a
	// replacement pending): replacing an enrolment goes through
	// RequestReplacement and a supervisor's decision.
	ErrAlreadyEnrolled = errors.New("store: the resident has been enrolled before")
	// ErrNoPreviousMatch: an approval on the basis of a match, of a request
	// whose captures did not verify against the enrolment in force.
	ErrNoPreviousMatch = errors.New("store: the new captures did not verify against the enrolment in force")
)

// Store is the storage of the central server: the methods the server calls,
// no more (read-back queries that only the conformance suite needs are in
// storetest.Inspector). Implementations are safe for concurrent use.
type Store interface {
	// Residents' issue reports, escalations, the efficiency review.
	ReportStore
	// 低保 deliberation records and residents' ratings.
	TransparencyStore
	// Grid workers: residents' changes, visits, proof of life (grid.go).
	GridStore

	// Close releases the database. Methods called afterwards fail.
	Close() error

	// Residents (imported from the population database).

	// ImportResidents inserts or updates residents by ID number in one
	// transaction (callers import a large CSV in batches of about 1000).
	// The status of an existing resident is kept unless the batch sets
	// one. One audit event "resident.import" records the counts.
	ImportResidents(ctx context.Context, actor audit.Actor, rs []Resident) (ImportStats, error)
	// GetResident returns the resident with this ID number.
	GetResident(ctx context.Context, idNumber string) (Resident, error)
	// GetResidentByID returns the resident by internal id.
	GetResidentByID(ctx context.Context, id int64) (Resident, error)
	// ListResidents pages through residents matching f, ordered by id
	// (the grid worker's lists: eligibility.upcoming).
	ListResidents(ctx context.Context, f ResidentFilter) ([]Resident, error)
	// SetResidentStatus suspends or reactivates a resident; reason is a
	// short code or note without personal data.
	SetResidentStatus(ctx context.Context, actor audit.Actor, idNumber string, status ResidentStatus, reason string) error

	// Staff.

	// CreateStaff adds a staff member; s.PasswordHash must come from
	// password.Hash (server/password). ErrAlreadyExists for a taken username.
	CreateStaff(ctx context.Context, actor audit.Actor, s Staff) (Staff, error)
	GetStaff(ctx context.Context, id int64) (Staff, error)
	GetStaffByUsername(ctx context.Context, username string) (Staff, error)
	ListStaff(ctx context.Context) ([]Staff, error)
	// UpdateStaff changes display name, role, department, station, grid
	// cell and the disabled flag (not the username or password).
	UpdateStaff(ctx context.Context, actor audit.Actor, s Staff) (Staff, error)

	// Staff PINs (the staff login at a kiosk; docs/security.md).

	// SetStaffPIN sets a staff member's kiosk PIN (pinHash from
	// password.Hash) and clears its failures and lock; audited
	// "staff.pin_set". ErrNotFound for an unknown staff member.
	SetStaffPIN(ctx context.Context, actor audit.Actor, staffID int64, pinHash string) error
	// GetStaffPIN returns a staff member's PIN; ErrNotFound when none is set.
	GetStaffPIN(ctx context.Context, staffID int64) (StaffPIN, error)
	// RecordPINAttempt records the outcome of a PIN check under a lock on
	// the PIN's row, with its audit event in the same transaction: a right
	// PIN clears the failures ("staff.pin_ok"), a wrong one counts
	// ("staff.pin_failed") and the maxFailures-th in a row locks the PIN
	// ("staff.pin_locked") until SetStaffPIN. A PIN already locked stays
	// locked whatever ok says (the returned StaffPIN has Locked set), so
	// concurrent guesses cannot pass the limit. ErrNotFound when no PIN
	// is set.
	RecordPINAttempt(ctx context.Context, actor audit.Actor, staffID int64, ok bool, maxFailures int, kioskID string) (StaffPIN, error)

	// Consent to biometric enrolment.

	// RecordConsent stores a resident's consent to enrolment; audited
	// "enrolment.consent" in the same transaction.
	RecordConsent(ctx context.Context, actor audit.Actor, c EnrolmentConsent) (EnrolmentConsent, error)
	// ListConsents returns a resident's consents, oldest first.
	ListConsents(ctx context.Context, residentID int64) ([]EnrolmentConsent, error)

	// Stations and kiosks.

	CreateStation(ctx context.Context, actor audit.Actor, s Station) (Station, error)
	ListStations(ctx context.Context) ([]Station, error)

	// CreateKiosk registers a kiosk with its Ed25519 public key.
	CreateKiosk(ctx context.Context, actor audit.Actor, k Kiosk) (Kiosk, error)
	GetKiosk(ctx context.Context, id string) (Kiosk, error)
	// ListKiosks lists the kiosks of a station, or all when stationID is "".
	ListKiosks(ctx context.Context, stationID string) ([]Kiosk, error)
	SetKioskStatus(ctx context.Context, actor audit.Actor, id string, status DeviceStatus) error

	// Scanner devices.

	// CreateScanner registers a scanner (its serial is the key).
	CreateScanner(ctx context.Context, actor audit.Actor, s Scanner) (Scanner, error)
	GetScanner(ctx context.Context, serial string) (Scanner, error)
	ListScanners(ctx context.Context) ([]Scanner, error)
	SetScannerStatus(ctx context.Context, actor audit.Actor, serial string, status DeviceStatus) error
	// AdvanceScannerCounter atomically raises the scanner's last capture
	// counter to counter if, and only if, counter is greater than the stored
	// value; otherwise it returns ErrStaleCounter and changes nothing. A
	// revoked scanner gives ErrInactive.
	AdvanceScannerCounter(ctx context.Context, serial string, counter uint64) error

	// Enrolments.

	// Enrol stores the samples of one finger of a resident. If the finger
	// is already enrolled, its previous enrolment is superseded and its
	// samples deleted in the same transaction (re-enrolment replaces a
	// finger's templates atomically). Template and image bytes are
	// encrypted before they are written. Returns the stored enrolment
	// (with ids, without re-reading the blobs).
	//
	// Enrol is the per-finger primitive of tools and tests: no API route
	// stores an enrolment through it. The server's enrolments (a kiosk's
	// first enrolment, an administrator's bulk enrolment) go through
	// EnrolFirst, and every replacement through RequestReplacement.
	Enrol(ctx context.Context, actor audit.Actor, e NewEnrolment) (Enrolment, error)
	// EnrolFirst stores a resident's first enrolment, every finger in one
	// transaction, under a lock on the resident: ErrAlreadyEnrolled if the
	// resident has any enrolment, in force or not (deleted on withdrawn
	// consent, superseded), or a pending replacement, so of two first
	// enrolments racing for one resident exactly one is stored. Each finger
	// is audited as Enrol audits a new one ("enrolment.create").
	EnrolFirst(ctx context.Context, actor audit.Actor, e NewFirstEnrolment) ([]Enrolment, error)
	// ResidentEnrolments returns the active enrolments of a resident, with
	// decrypted templates but without images.
	ResidentEnrolments(ctx context.Context, idNumber string) ([]Enrolment, error)
	// DeleteEnrolments removes every active enrolment of a resident (consent
	// withdrawn); the samples are deleted, the rows kept as superseded.
	DeleteEnrolments(ctx context.Context, actor audit.Actor, idNumber string, reason string) (int, error)
	// ScanTemplates calls fn for every active template sample, ordered by
	// sample id, starting after afterSampleID (0 for all), reading the
	// database in pages so the gallery of 100,000+ residents loads with
	// bounded memory. It stops at the first error fn returns and returns
	// it. Templates of suspended residents are included; the matcher
	// decides what to do with them (the Resident status is in the record).
	ScanTemplates(ctx context.Context, afterSampleID int64, fn func(TemplateRecord) error) error
	// Reencrypt re-seals every biometric blob and every sealed personal
	// value (residents' records, filing forms and replies, coordination
	// rows, the blind-index key) that is not under the key ring's primary
	// key, in batches, and returns the counts; values already under the
	// primary key are left alone, so it can be resumed. The blind indexes
	// do not change: the index key is re-sealed, not replaced.
	Reencrypt(ctx context.Context, actor audit.Actor) (ReencryptStats, error)

	// Enrolment replacements (re-enrolment under four eyes).

	// RequestReplacement stores a pending replacement of a resident's whole
	// enrolment: the new samples are sealed (bound to the replacement, the
	// finger and the resident) and the enrolment in force is untouched.
	// ErrConflict if a replacement of the resident is already pending;
	// ErrInactive if the resident is not active.
	RequestReplacement(ctx context.Context, actor audit.Actor, r NewReplacement) (Replacement, error)
	// ListReplacements lists replacements, newest first, without samples.
	ListReplacements(ctx context.Context, f ReplacementFilter) ([]Replacement, error)
	// DecideReplacement approves or rejects a pending replacement in one
	// transaction. The decider must be an active supervisor of the
	// replacement's station (ErrNotApprover) other than the requester
	// (ErrSelfApproval); only then, an approval on the basis of a match
	// needs the request's captures to have matched the enrolment in force
	// (ErrNoPreviousMatch), so that no one else learns how they scored.
	// Approval supersedes every active enrolment of the
	// resident and makes the pending fingers the enrolment in force;
	// rejection discards the pending samples. ErrConflict if the
	// replacement is not pending.
	DecideReplacement(ctx context.Context, actor audit.Actor, id int64, d ReplacementDecision) (Replacement, error)
	// EnrolmentHistory returns every enrolment of a resident, active and
	// superseded, oldest first, without samples.
	EnrolmentHistory(ctx context.Context, residentID int64) ([]Enrolment, error)

	// Deduplication cases.

	// CreateDedupCase opens a case when an enrolment was stopped because the
	// veins matched a different ID number.
	CreateDedupCase(ctx context.Context, actor audit.Actor, c DedupCase) (DedupCase, error)
	GetDedupCase(ctx context.Context, id int64) (DedupCase, error)
	// ListDedupCases lists cases by status ("" for all), newest first.
	ListDedupCases(ctx context.Context, status DedupStatus, limit int) ([]DedupCase, error)
	// DecideDedupCase records a supervisor's decision (DedupOverridden or
	// DedupRejected) with a reason. ErrConflict if the case is not open.
	DecideDedupCase(ctx context.Context, actor audit.Actor, id int64, d DedupDecision) (DedupCase, error)

	// Verification attempts and lockout.

	// RecordVerificationOutcome stores the whole outcome of one kiosk
	// verification in ONE transaction: it consumes the capture nonce,
	// advances the scanner's capture counter, records the attempt and
	// decides and updates the lockout of the ID number with the attempt's
	// audit event. The lockout is decided HERE, under a lock on the ID
	// number's lockout row (PostgreSQL: the row, inserted if missing, FOR
	// UPDATE; SQLite: the single writer), not from a state read earlier:
	// a match or no-match that arrives while the ID number is locked at
	// Attempt.At is recorded as VerifyLockedOut, changes nothing and gets
	// no token, whatever its score. Otherwise a success resets the failure
	// count; a failure increments it and, when it reaches
	// Policy.MaxFailures, locks the ID number until At+LockFor (LockFor
	// doubled for every lock remembered for Policy.Escalation, which this
	// lock joins in the same transaction); a failure after a lock has
	// expired starts counting from zero again; VerifyError and
	// VerifyLockedOut change nothing; the attempt's resident may be
	// unknown. So however many failures of one ID number race, exactly
	// MaxFailures are counted and the rest are locked out.
	// When the recorded result is a match it stores o.Token and appends
	// o.MatchEvent; when this attempt locks the ID number it appends
	// o.LockEvent (with "failures" and "locked_until" added to its
	// details). Either all of it commits or nothing does: a nonce or
	// counter check that fails leaves no attempt, no lockout change and
	// no token. Such failures are *OutcomeError values naming the step
	// ("nonce", "scanner", "attempt", "token", "audit") and wrapping the
	// sentinel (ErrNotFound/ErrExpired for the nonce,
	// ErrStaleCounter/ErrInactive/ErrNotFound for the scanner). Returns the
	// result recorded, the lockout state after the attempt and whether the
	// token was stored: a caller hands out o.Token only when TokenIssued.
	RecordVerificationOutcome(ctx context.Context, o VerificationOutcome) (VerificationResultState, error)
	// GetLockout returns the lockout state of an ID number (zero Lockout
	// with the ID number set when there is none).
	GetLockout(ctx context.Context, idNumber string) (Lockout, error)
	// ResetLockout clears the failures and lock of an ID number (staff
	// unlocking after checking the resident in person) and appends a
	// "lockout.unlock" event naming the actor, the reason, the kiosk (if
	// any) and the lock lifted, in one transaction. It returns the lockout
	// as it was. ErrInvalid without an ID number or a reason; ErrNotFound
	// when no attempt of the ID number was ever recorded.
	ResetLockout(ctx context.Context, actor audit.Actor, u LockoutUnlock) (Lockout, error)

	// Nonces (challenges for kiosks and scanners).

	// IssueNonce stores a fresh nonce. ErrAlreadyExists if the value exists.
	IssueNonce(ctx context.Context, n Nonce) error
	// ConsumeNonce consumes the nonce atomically: exactly one of any number
	// of concurrent calls succeeds. ErrNotFound if it does not exist, was
	// consumed, or was issued to another kiosk or purpose; ErrExpired if it
	// expired before now.
	ConsumeNonce(ctx context.Context, value, kioskID, purpose string, now time.Time) error

	// Filing tokens: single-use authorisations, bound to a resident and a
	// kiosk, issued after the ID card and vein checks passed.

	// IssueFilingToken stores a token. Only a SHA-256 of the token is kept.
	IssueFilingToken(ctx context.Context, t FilingToken) error
	// CheckFilingToken reports whether the token is usable by this kiosk
	// without consuming it, returning the bound resident.
	CheckFilingToken(ctx context.Context, token, kioskID string, now time.Time) (FilingToken, error)
	// BindFilingTokenPrincipal makes an unused token of this kiosk the
	// agent's right to file for principal (代办; relation AgentHousehold or
	// AgentGuardian), audited (filing.agent_bound). Binding the same
	// principal again is a no-op; a token bound to another principal gives
	// ErrConflict; an unknown, used, expired or other kiosk's token
	// ErrNotFound / ErrExpired. The caller checked the relation.
	BindFilingTokenPrincipal(ctx context.Context, actor audit.Actor, token, kioskID, principalIDNumber, relation string, now time.Time) error

	// Filings.

	// CreateFiling creates a filing, its first history row and its audit
	// event in one transaction, consuming f.Token if set. If a filing with
	// the same (KioskID, IdempotencyKey) exists, it is returned with
	// created=false and nothing changes (the retry of an acknowledged
	// request); if that filing is for another resident or service,
	// ErrConflict. A token that is unknown, used, expired, or bound to
	// another resident or kiosk gives ErrNotFound / ErrExpired.
	CreateFiling(ctx context.Context, actor audit.Actor, f NewFiling) (filing Filing, created bool, err error)
	GetFiling(ctx context.Context, id int64) (Filing, error)
	// ListFilings pages through filings matching f, ordered by id.
	ListFilings(ctx context.Context, f FilingFilter) ([]Filing, error)
	// OverdueByDepartment counts open filings past their due date at now,
	// per department.
	OverdueByDepartment(ctx context.Context, now time.Time) ([]DepartmentOverdue, error)
	// TransitionFiling changes a filing's status, appending a history row
	// and an audit event in one transaction. t.From, when set, must equal
	// the current status (optimistic concurrency); the transition must be
	// allowed by CanTransition. Otherwise ErrConflict.
	TransitionFiling(ctx context.Context, actor audit.Actor, t FilingTransition) (Filing, error)

	// The service catalogue (docs/catalogue.md).

	// SaveCatalogue keeps a new catalogue version and audits it
	// (catalogue.save). Versions only grow: a version that exists, or is not
	// greater than the latest, gives ErrConflict.
	SaveCatalogue(ctx context.Context, actor audit.Actor, v CatalogueVersion) error
	// LatestCatalogue returns the latest saved version (ErrNotFound: none).
	LatestCatalogue(ctx context.Context) (CatalogueVersion, error)
	// GetCatalogue returns one saved version (ErrNotFound).
	GetCatalogue(ctx context.Context, version int) (CatalogueVersion, error)
	// ListCatalogues returns the saved versions without their documents,
	// newest first.
	ListCatalogues(ctx context.Context) ([]CatalogueVersion, error)

	// Audit.

	// AppendAudit appends a stand-alone event (logins, exports, ...).
	// Events of store mutations are appended by those methods.
	AppendAudit(ctx context.Context, e audit.Event) (audit.Record, error)
	// ListAudit returns up to limit records with Seq > afterSeq, in order.
	ListAudit(ctx context.Context, afterSeq int64, limit int) ([]audit.Record, error)
	// AuditHead returns the sequence number and hash of the last record
	// (0 and the zero hash for an empty chain), as kept in a separate row
	// updated with every append, so truncation of the log is detected.
	AuditHead(ctx context.Context) (seq int64, hash audit.Hash, err error)
	// BusinessState reads the tables audit.Reconcile checks against the
	// chain (the kinds are listed in server/audit/reconcile.go), in one
	// read transaction.
	BusinessState(ctx context.Context, fn func(audit.StateRow) error) error

	// Housekeeping.

	// PurgeExpired deletes nonces, filing tokens and coordination records
	// (sessions, request nonces, remembered locks, spent tokens, pending
	// identifications, kiosk backoffs, rate buckets) that expired before
	// now, and change-log rows older than ChangeRetention, and returns how
	// many rows were removed.
	PurgeExpired(ctx context.Context, now time.Time) (int64, error)

	// Coordination state shared by the server replicas (coord.go).
	Coordination

	// The change log the replicas' memory follows (changes.go).
	ChangeLog
}

// ---- residents ----

// ResidentStatus is active or suspended.
type ResidentStatus string

// Resident statuses.
const (
	ResidentActive    ResidentStatus = "active"
	ResidentSuspended ResidentStatus = "suspended"
)

// Resident categories used by the services (free-form codes are accepted,
// these are the ones the population database exports).
const (
	CategoryDibao    = "dibao"    // 低保 minimum living allowance recipient
	CategoryElderly  = "elderly"  // 高龄 / 老年人
	CategoryDisabled = "disabled" // 残疾人
)

// Resident is a person from the population database.
type Resident struct {
	ID        int64  // internal, used in audit targets instead of IDNumber
	IDNumber  string // canonical (identity.CanonicalIDNumber); the store canonicalises
	Name      string
	Gender    string // "M" or "F" (identity.Gender.Letter)
	BirthDate time.Time
	Address   string
	GridCell  string
	Household string
	// Relationship is the resident's relation to the household head as the
	// population database records it (户主, 配偶, 子女, 父母, ...; free
	// text, at most 32 bytes); sealed with the other personal fields.
	Relationship string
	// GuardianIDNumber is the ID number of the resident's recorded guardian
	// (监护人), canonical, or ""; sealed.
	GuardianIDNumber string
	Categories       []string // sorted, unique
	Phone            string   // kept by the grid worker; sealed like the rest
	Status           ResidentStatus
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// ImportStats counts what ImportResidents did.
type ImportStats struct {
	Inserted, Updated, Unchanged int
}

// ResidentFilter selects residents for ListResidents.
type ResidentFilter struct {
	GridCell string
	Category string
	Status   ResidentStatus
	AfterID  int64 // keyset pagination: ids greater than this
	Limit    int   // 0 means 100; capped at 1000
}

// ---- staff ----

// Role of a staff member.
type Role string

// Roles.
const (
	RoleStationStaff      Role = "station_staff"
	RoleSupervisor        Role = "supervisor"
	RoleDepartmentOfficer Role = "department_officer"
	RoleAdmin             Role = "admin"
)

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool {
	switch r {
	case RoleStationStaff, RoleSupervisor, RoleDepartmentOfficer, RoleAdmin, RoleGridWorker:
		return true
	}
	return false
}

// Staff is a person who logs in to the back office or assists at a station.
type Staff struct {
	ID           int64
	Username     string
	DisplayName  string
	Role         Role
	Department   string // department officers
	StationID    string // station staff (and supervisors of a station)
	GridCell     string // grid workers: the one cell whose residents they keep
	PasswordHash string // PHC string from password.Hash (server/password)
	Disabled     bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// StaffPIN is a staff member's kiosk PIN.
type StaffPIN struct {
	StaffID   int64
	Hash      string // PHC string from password.Hash
	Failures  int    // wrong PINs in a row
	Locked    bool   // locked after too many wrong PINs, until set again
	LockedAt  *time.Time
	SetAt     time.Time
	UpdatedAt time.Time
}

// EnrolmentConsent is a resident's consent to biometric enrolment, given on
// the kiosk's screen after a staff member explained it.
type EnrolmentConsent struct {
	ID          int64
	ResidentID  int64
	TextVersion string    // which consent text the resident read
	ConsentedAt time.Time // when the resident confirmed (zero: now)
	StaffID     int64     // who explained it
	KioskID     string    // where
	CreatedAt   time.Time
}

// ---- stations, kiosks, scanners ----

// Station is a community service station.
type Station struct {
	ID        string // e.g. "QS-S01"
	Name      string
	Address   string
	CreatedAt time.Time
}

// DeviceStatus is the status of a kiosk or scanner.
type DeviceStatus string

// Device statuses.
const (
	DeviceActive  DeviceStatus = "active"
	DeviceRevoked DeviceStatus = "revoked"
)

// Kiosk is a registered kiosk; it signs its requests with the Ed25519 key.
type Kiosk struct {
	ID        string
	StationID string
	Name      string
	PublicKey ed25519.PublicKey
	Status    DeviceStatus
	CreatedAt time.Time
}

// Scanner is a registered finger-vein scanner. It signs every capture with
// its Ed25519 key; Certificate is the maker-signed device certificate
// (devices/veinscan/wire.DeviceCertificate in binary form).
type Scanner struct {
	Serial      string
	Model       string
	MakerID     string
	PublicKey   ed25519.PublicKey
	Certificate []byte
	KioskID     string // the kiosk it is attached to, "" if none
	Status      DeviceStatus
	Counter     uint64 // last accepted capture counter
	CreatedAt   time.Time
}

// ---- enrolments ----

// Sample is one capture of a finger.
type Sample struct {
	ID               int64
	Template         []byte // plaintext here; sealed in the database
	Image            []byte // plaintext capture image; may be nil
	AlgorithmVersion string
	Quality          int // 0..100
}

// NewEnrolment is the input of Enrol.
type NewEnrolment struct {
	IDNumber      string
	Finger        int // ISO/IEC 19794 finger position, 1..10
	Samples       []Sample
	EnrolledBy    int64  // staff id
	KioskID       string // where it was captured
	ScannerSerial string
	CreatedAt     time.Time // zero means now
}

// NewFirstEnrolment is the input of EnrolFirst: a resident's fingers.
type NewFirstEnrolment struct {
	IDNumber      string
	Fingers       []ReplacementFinger // distinct positions, each with its samples
	EnrolledBy    int64               // staff id
	KioskID       string              // where it was captured; "" for a bulk enrolment
	ScannerSerial string
	CreatedAt     time.Time // zero means now
}

// Enrolment is the stored enrolment of one finger.
type Enrolment struct {
	ID            int64
	ResidentID    int64
	IDNumber      string
	Finger        int
	Samples       []Sample
	EnrolledBy    int64
	KioskID       string
	ScannerSerial string
	CreatedAt     time.Time
	SupersededAt  *time.Time // set when replaced or deleted
}

// ReplacementStatus is the state of an enrolment replacement.
type ReplacementStatus string

// Replacement states.
const (
	ReplacementPending  ReplacementStatus = "pending"
	ReplacementApproved ReplacementStatus = "approved"
	ReplacementRejected ReplacementStatus = "rejected"
)

// ReplacementBasis is what, besides the supervisor's approval, ties the new
// fingers to the holder of the enrolment they replace.
type ReplacementBasis string

// Bases of an approval.
const (
	// BasisMatch: the new captures verified against the enrolment in force
	// at the verification threshold.
	BasisMatch ReplacementBasis = "match"
	// BasisInPerson: the supervisor checked the card and the person in
	// person and attests it, with a reason.
	BasisInPerson ReplacementBasis = "in_person"
)

// ReplacementFinger is the samples of one finger of a replacement.
type ReplacementFinger struct {
	Finger  int // 1..10
	Samples []Sample
}

// NewReplacement is the input of RequestReplacement.
type NewReplacement struct {
	ResidentID    int64
	RequestedBy   int64  // staff id
	KioskID       string // where the fingers were captured
	StationID     string // the kiosk's (and the requester's) station
	ScannerSerial string
	// PreviousScore is the best verification score of the new captures
	// against the enrolment in force when the request was made;
	// PreviousMatch says whether a capture reached the verification
	// threshold (its scanner's calibration) doing so.
	PreviousScore float64
	PreviousMatch bool
	Fingers       []ReplacementFinger
	CreatedAt     time.Time // zero means now
}

// Replacement is a request to replace a resident's enrolment.
type Replacement struct {
	ID            int64
	ResidentID    int64
	Status        ReplacementStatus
	RequestedBy   int64
	KioskID       string
	StationID     string
	ScannerSerial string
	PreviousScore float64
	PreviousMatch bool
	Fingers       []ReplacementFinger // positions always; samples only from storetest.Inspector's GetReplacement while pending
	CreatedAt     time.Time
	DecidedBy     int64 // 0 while pending
	DecidedAt     *time.Time
	Basis         ReplacementBasis // approvals only
	Reason        string
	Enrolments    []int64 // the enrolments an approval created
}

// ReplacementFilter selects replacements; zero fields match all.
type ReplacementFilter struct {
	Status     ReplacementStatus
	StationID  string
	ResidentID int64
	Limit      int // 0: 200
}

// ReplacementDecision is a supervisor's decision on a replacement.
type ReplacementDecision struct {
	Approve    bool
	Supervisor int64
	Basis      ReplacementBasis // required to approve
	Reason     string           // required
	At         time.Time        // zero means now
}

// TemplateRecord is one active template, as loaded into the matcher gallery.
type TemplateRecord struct {
	SampleID         int64
	EnrolmentID      int64
	ResidentID       int64
	IDNumber         string
	ResidentStatus   ResidentStatus
	Finger           int
	AlgorithmVersion string
	Quality          int
	Template         []byte // decrypted
}

// ReencryptStats counts what Reencrypt rewrote.
type ReencryptStats struct {
	Samples     int // samples that were under another key and were re-sealed
	Reencrypted int // blobs (templates + images) re-sealed
	// Personal counts the sealed personal-data values re-sealed: residents'
	// sealed records, filing forms and replies, the ID numbers of spent
	// tokens and pending identifications, and the store's blind-index key.
	Personal int
}

// ---- dedup cases ----

// DedupStatus is the state of a deduplication case.
type DedupStatus string

// Dedup statuses.
const (
	DedupOpen       DedupStatus = "open"
	DedupOverridden DedupStatus = "overridden" // supervisor allows enrolment
	DedupRejected   DedupStatus = "rejected"   // enrolment refused
)

// DedupCase records an enrolment stopped because the presented veins matched
// an enrolment of a different ID number.
type DedupCase struct {
	ID              int64
	IDNumber        string // the ID number being enrolled
	MatchedIDNumber string // whose enrolment matched
	Finger          int
	Score           float64
	KioskID         string
	StaffID         int64 // who was enrolling
	Status          DedupStatus
	DecidedBy       int64 // supervisor staff id, 0 while open
	Reason          string
	CreatedAt       time.Time
	DecidedAt       *time.Time
}

// DedupDecision is a supervisor's decision on a case.
type DedupDecision struct {
	Status     DedupStatus // DedupOverridden or DedupRejected
	Supervisor int64
	Reason     string
	At         time.Time // zero means now
}

// ---- verification and lockout ----

// VerificationResult is the outcome of a 1:1 vein verification.
type VerificationResult string

// Results.
const (
	VerifyMatch     VerificationResult = "match"
	VerifyNoMatch   VerificationResult = "no_match"
	VerifyError     VerificationResult = "error"      // capture or device problem: not a failure
	VerifyLockedOut VerificationResult = "locked_out" // refused because locked: not counted
)

// VerificationAttempt is one verification at a kiosk.
type VerificationAttempt struct {
	ID         int64
	IDNumber   string
	ResidentID int64 // 0 when the ID number is not in the population database
	KioskID    string
	Result     VerificationResult
	Score      float64
	Reason     string // short code, e.g. "low_quality"
	At         time.Time
}

// LockoutPolicy says when repeated failures lock an ID number.
type LockoutPolicy struct {
	MaxFailures int           // failures before locking; 0 disables locking
	LockFor     time.Duration // how long the lock lasts
	// Escalation is how long a lock is remembered: LockFor is doubled for
	// every remembered lock of the ID number (at most 64 times). 0: no
	// escalation, and locks are not remembered.
	Escalation time.Duration
}

// MaxEscalation caps the doubling of LockoutPolicy.LockFor (2^6 = 64 times).
const MaxEscalation = 6

// Lockout is the lockout state of an ID number.
type Lockout struct {
	IDNumber    string
	Failures    int
	LockedUntil *time.Time
	UpdatedAt   time.Time
}

// Locked reports whether the ID number is locked at now.
func (l Lockout) Locked(now time.Time) bool {
	return l.LockedUntil != nil && now.Before(*l.LockedUntil)
}

// LockoutUnlock is a staff member's unlock of an ID number.
type LockoutUnlock struct {
	IDNumber string
	Reason   string // required: why (what was checked)
	KioskID  string // the kiosk in staff mode, "" from the office
}

// MaxUnlockReason is the longest unlock reason, in bytes.
const MaxUnlockReason = 500

// VerificationOutcome is everything one verification stores (see
// Store.RecordVerificationOutcome).
type VerificationOutcome struct {
	// The capture nonce to consume: issued to Attempt.KioskID for
	// NoncePurpose, not consumed, not expired at Attempt.At.
	NonceValue   string
	NoncePurpose string
	// The scanner whose counter must rise strictly to Counter.
	ScannerSerial string
	Counter       uint64
	// The attempt and the lockout policy.
	Attempt VerificationAttempt
	Policy  LockoutPolicy
	// Token is stored when the result recorded is VerifyMatch (nil: no
	// token); it is valid only when the state says TokenIssued.
	Token *FilingToken
	// MatchEvent is appended after the attempt's event when a token is
	// stored; LockEvent when this attempt locks the ID number. Nil: none.
	MatchEvent *audit.Event
	LockEvent  *audit.Event
}

// VerificationResultState is what RecordVerificationOutcome did.
type VerificationResultState struct {
	// Result is the result recorded: the attempt's, or VerifyLockedOut
	// when the ID number was locked at the attempt's time.
	Result      VerificationResult
	Lockout     Lockout // after the attempt
	TokenIssued bool
}

// OutcomeError says which step of RecordVerificationOutcome failed; it
// wraps the step's error (test the sentinels with errors.Is).
type OutcomeError struct {
	Step string // "nonce", "scanner", "attempt", "token" or "audit"
	Err  error
}

func (e *OutcomeError) Error() string { return "store: verification " + e.Step + ": " + e.Err.Error() }

// Unwrap returns the step's error.
func (e *OutcomeError) Unwrap() error { return e.Err }

// ---- nonces and tokens ----

// Nonce is a single-use challenge.
type Nonce struct {
	Value     string
	KioskID   string
	Purpose   string // e.g. "capture", "verify"
	ExpiresAt time.Time
	CreatedAt time.Time // zero means now
}

// FilingToken authorises one filing by one resident at one kiosk.
type FilingToken struct {
	Token     string // the secret; only its SHA-256 is stored
	IDNumber  string
	KioskID   string
	ExpiresAt time.Time
	CreatedAt time.Time // zero means now
	UsedAt    *time.Time
	// PrincipalIDNumber: the token's resident (the agent) files for this
	// resident (代办), bound once by BindFilingTokenPrincipal; "" when the
	// token is the resident's own. PrincipalRelation says why the agent may
	// (AgentHousehold or AgentGuardian).
	PrincipalIDNumber string
	PrincipalRelation string
}

// Relations that allow a resident to file for another (代办): the
// population data puts both in one household, or records the agent as the
// principal's guardian.
const (
	AgentHousehold = "household"
	AgentGuardian  = "guardian"
)

// ---- filings ----

// FilingStatus is the processing state of a filing.
type FilingStatus string

// Filing statuses.
const (
	FilingSubmitted FilingStatus = "submitted"
	FilingInReview  FilingStatus = "in_review"
	FilingNeedInfo  FilingStatus = "need_info"
	FilingAccepted  FilingStatus = "accepted"
	FilingRejected  FilingStatus = "rejected"
)

// Valid reports whether s is a known status.
func (s FilingStatus) Valid() bool {
	switch s {
	case FilingSubmitted, FilingInReview, FilingNeedInfo, FilingAccepted, FilingRejected:
		return true
	}
	return false
}

// Closed reports whether the status is final.
func (s FilingStatus) Closed() bool { return s == FilingAccepted || s == FilingRejected }

// transitions lists the allowed status changes.
var transitions = map[FilingStatus][]FilingStatus{
	FilingSubmitted: {FilingInReview, FilingNeedInfo, FilingAccepted, FilingRejected},
	FilingInReview:  {FilingNeedInfo, FilingAccepted, FilingRejected},
	FilingNeedInfo:  {FilingInReview, FilingAccepted, FilingRejected},
}

// CanTransition reports whether a filing may go from one status to another.
// Accepted and rejected are final.
func CanTransition(from, to FilingStatus) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// NewFiling is the input of CreateFiling.
type NewFiling struct {
	ServiceCode    string
	IDNumber       string
	KioskID        string // "" for a filing entered by staff at the desk
	StationID      string
	Department     string
	Form           json.RawMessage // a JSON object
	DueAt          time.Time
	IdempotencyKey string    // unique per kiosk (or per staff actor when KioskID is "")
	Token          string    // filing token to consume, if any
	CreatedAt      time.Time // zero means now
	// CatalogueVersion is the catalogue version the form was filed under.
	CatalogueVersion int
	// AgentIDNumber: the filing is made by this resident for IDNumber (代办);
	// Token must then be the agent's, bound to IDNumber. AgentRelation is
	// AgentHousehold or AgentGuardian.
	AgentIDNumber string
	AgentRelation string
}

// CatalogueVersion is one saved version of the service catalogue.
type CatalogueVersion struct {
	Version   int
	Document  []byte // the JSON document as saved (nil in ListCatalogues)
	Actor     audit.Actor
	Note      string
	CreatedAt time.Time
}

// Filing is a resident's request for a service.
type Filing struct {
	ID             int64
	Reference      string // "QS-2026-000123"
	ServiceCode    string
	ResidentID     int64
	IDNumber       string
	KioskID        string
	StationID      string
	Department     string
	Form           json.RawMessage
	Status         FilingStatus
	Reply          string // text shown to the resident
	DueAt          time.Time
	IdempotencyKey string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	ClosedAt       *time.Time
	// CatalogueVersion is the catalogue version the filing was filed under
	// (0: before the catalogue was versioned).
	CatalogueVersion int
	// AgentResidentID is the resident who filed for ResidentID (代办), 0
	// when the resident filed themselves; AgentRelation why they could.
	AgentResidentID int64
	AgentRelation   string
}

// FilingFilter selects filings for ListFilings. Zero fields do not filter.
type FilingFilter struct {
	Department  string
	Statuses    []FilingStatus
	IDNumber    string
	StationID   string
	ServiceCode string
	// OverdueAt, when set, keeps only open filings with DueAt before it.
	OverdueAt *time.Time
	AfterID   int64 // keyset pagination
	Limit     int   // 0 means 100; capped at 1000
	// NewestFirst orders by id descending; BeforeID then pages (ids less
	// than it) and AfterID still bounds from below.
	NewestFirst bool
	BeforeID    int64
	// Reference, when set, keeps only the filing with that reference.
	Reference string
}

// DepartmentOverdue is a department's count of overdue open filings.
type DepartmentOverdue struct {
	Department string
	Overdue    int
	OldestDue  time.Time
}

// FilingTransition is the input of TransitionFiling.
type FilingTransition struct {
	FilingID int64
	From     FilingStatus // expected current status; "" skips the check
	To       FilingStatus
	Note     string    // internal note for the history
	Reply    *string   // when set, replaces the reply shown to the resident
	At       time.Time // zero means now
}

// FilingEvent is one row of a filing's history.
type FilingEvent struct {
	ID         int64
	FilingID   int64
	FromStatus FilingStatus // "" for the creation
	ToStatus   FilingStatus
	Actor      audit.Actor
	Note       string
	At         time.Time
}
