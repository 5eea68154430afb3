package apiv1

import (
	"errors"
	"fmt"
	"maps"
	"time"
)

// Error codes: the stable "code" of an error response. Clients branch on the
// code, never on the message (which is for people and may change). The HTTP
// status of every code is in statuses below (HTTPStatus), the one place that
// decides it: the server's handlers name only the code.
const (
	// Generic request errors.
	CodeBadRequest       = "bad_request"        // malformed JSON or a field out of range
	CodeBodyTooLarge     = "body_too_large"     // the body is over the route's limit
	CodeUnsupportedMedia = "unsupported_media"  // body is not application/json, or compressed
	CodeNotFound         = "not_found"          // no such endpoint or record
	CodeMethodNotAllowed = "method_not_allowed" // the path exists, the method does not
	CodeRateLimited      = "rate_limited"       // see retry_after_s
	CodeInternal         = "internal"           // a server fault (logged with the request id)
	CodeUnavailable      = "unavailable"        // not ready, database down, shutting down
	CodeTimeout          = "timeout"            // the request ran out of time
	CodeSearchIncomplete = "search_incomplete"  // a matcher shard did not answer the 1:N search: nothing was decided; see retry_after_s
	CodeGalleryStale     = "gallery_stale"      // this replica's gallery has not followed the database within its bound: no 1:N search; see retry_after_s
	CodeConflict         = "conflict"           // a generic conflict (e.g. a username already taken)

	// Kiosk authentication.
	CodeSignatureMissing = "signature_missing"
	CodeSignatureInvalid = "signature_invalid" // malformed headers or the signature does not verify
	CodeClockSkew        = "clock_skew"        // timestamp more than 60 s off
	CodeReplay           = "replayed_request"  // the request nonce was seen before
	CodeKioskUnknown     = "kiosk_unknown"
	CodeKioskRevoked     = "kiosk_revoked"
	// Kiosk client certificates are configured and the request has none,
	// or one whose common name is not the kiosk's id.
	CodeClientCertRequired = "client_cert_required"
	// The back office is not served over plain HTTP on a non-loopback
	// address.
	CodeTLSRequired = "tls_required"

	// Staff authentication.
	CodeUnauthenticated   = "unauthenticated"     // no or expired staff session
	CodeBadCredentials    = "bad_credentials"     // wrong username or password
	CodeForbidden         = "forbidden"           // the role may not do this
	CodeStaffDisabled     = "staff_disabled"      // reserved: a disabled account's login gets bad_credentials, its sessions unauthenticated
	CodeIdentifyDisabled  = "identify_disabled"   // card-less identification is off by station policy
	CodeCandidateNotFound = "candidate_not_found" // card-less identification found nobody
	CodeCandidateExpired  = "candidate_expired"   // the candidate is unknown, expired or someone else's
	CodePINLocked         = "pin_locked"          // too many wrong PINs: the PIN must be set again in the office
	CodePINInvalid        = "pin_invalid"         // a new PIN is not 6 digits, or too easy (one digit, a run)
	// CodeSessionKioskBound: a session opened with a PIN at a kiosk is
	// valid only in that kiosk's signed requests to the kiosk staff
	// endpoints, never on an office route or at another kiosk.
	CodeSessionKioskBound = "session_kiosk_bound"
	// CodeKioskSessionRequired: the kiosk staff endpoints take only a
	// session opened with a PIN at the same kiosk, not an office login.
	CodeKioskSessionRequired = "kiosk_session_required"

	// Card.
	CodeCardInvalid     = "card_invalid" // bad ID number (check digit) or fields
	CodeCardExpired     = "card_expired"
	CodeCardNotYetValid = "card_not_yet_valid"

	// Capture / scanner.
	CodeNonceUnknown       = "nonce_unknown" // the capture nonce was never issued to this kiosk, or was used already
	CodeNonceExpired       = "nonce_expired"
	CodeMakerUnknown       = "maker_unknown" // the scanner's maker key is not configured
	CodeDeviceCertInvalid  = "device_cert_invalid"
	CodeAttestationInvalid = "attestation_invalid"
	CodeCounterReplay      = "counter_replay"    // scanner counter not strictly increasing
	CodeImageMismatch      = "image_mismatch"    // image does not hash to the attested digest
	CodeImageInvalid       = "image_invalid"     // image missing, too large, or its bytes are not width x height
	CodeImageUnusable      = "image_unusable"    // the attested image yields no template (no finger: blank, black, too small)
	CodeTemplateMismatch   = "template_mismatch" // the template sent is not the one the server extracts from the attested image
	CodeTemplateInvalid    = "template_invalid"
	CodeQualityTooLow      = "quality_too_low"
	CodeScannerRevoked     = "scanner_revoked"
	CodeScannerElsewhere   = "scanner_elsewhere"    // the scanner is assigned to another kiosk
	CodeFingerInvalid      = "finger_invalid"       // unknown finger, or not the template's
	CodeUncalibrated       = "scanner_uncalibrated" // no calibration for the scanner's model and template pipeline

	// Residents and verification.
	CodeResidentUnknown   = "resident_unknown" // no record for this ID number
	CodeResidentSuspended = "resident_suspended"
	CodeNotEnrolled       = "not_enrolled" // no vein templates on record
	CodeNoMatch           = "no_match"     // the vein does not match the card's holder
	CodeLocked            = "locked"       // too many failures for this ID number; see retry_after_s

	// Enrolment.
	CodeEnrolmentIncomplete = "enrolment_incomplete" // fewer than 3 good captures for 2 fingers
	CodeDuplicateSuspected  = "duplicate_suspected"  // the veins match another ID number; a case was opened
	CodeCaseNotFound        = "case_not_found"
	CodeCaseState           = "case_state"       // the case is not in a state that allows this
	CodeConsentRequired     = "consent_required" // no consent to biometric enrolment, an unknown consent text, or a stale confirmation

	// The captures of a finger do not match each other at the consistency
	// threshold (a bad placement, or two people's fingers mixed): fields
	// name the finger's disagreeing captures (CaptureField); nothing was
	// stored and no capture consumed.
	CodeEnrolmentInconsistent = "enrolment_inconsistent"

	// Re-enrolment (replacing an enrolment needs a supervisor's approval).
	CodeStationMismatch     = "station_mismatch"            // the staff member's station is not the kiosk's (enrolment is scoped to one's own station)
	CodeReplacementPending  = "replacement_pending"         // a replacement of this resident's enrolment already awaits approval
	CodeReplacementNotFound = "replacement_not_found"       // no such enrolment replacement
	CodeReplacementState    = "replacement_state"           // the replacement was already decided
	CodeSelfApproval        = "self_approval"               // the requester may not decide their own replacement
	CodeNotApprover         = "not_approver"                // only a supervisor of the replacement's station decides it
	CodePreviousNoMatch     = "previous_enrolment_no_match" // basis "match", but the new captures did not verify against the enrolment in force

	// Bulk enrolment (a migration tool behind centrald's --bulk-enrolment).
	CodeBulkEnrolmentOff = "bulk_enrolment_off" // the server runs with --bulk-enrolment=off (the default)
	CodeSkipDedupRefused = "skip_dedup_refused" // skip_dedup outside --bulk-enrolment=unchecked
	CodeAlreadyEnrolled  = "already_enrolled"   // a bulk item's resident has been enrolled before (in force, deleted or superseded): bulk enrolment never replaces
	CodeTemplateCount    = "template_count"     // a bulk item's finger has other than exactly 3 templates

	// Filings.
	CodeTokenInvalid     = "token_invalid" // unknown, expired, used or bound to another kiosk
	CodeServiceUnknown   = "service_unknown"
	CodeFormInvalid      = "form_invalid" // see fields
	CodeFilingNotFound   = "filing_not_found"
	CodeFilingState      = "filing_state"           // decision not allowed in the filing's state
	CodeIdempotencyReuse = "idempotency_key_reused" // same key, different content
	CodeNotEligible      = "not_eligible"           // the resident may not file this service (see fields: reasons)

	// Filing for a family member (代办, POST /api/v1/kiosk/agent).
	CodeCardMismatch         = "card_mismatch"          // the card's name, sex or birth date is not the population record's
	CodeNotHousehold         = "not_household"          // the population data puts agent and principal in no one household, and records no guardian relation
	CodePrincipalNotEligible = "principal_not_eligible" // the principal is neither old enough nor disabled (the catalogue's agent rule)
	CodeAgentNotAllowed      = "agent_not_allowed"      // the service does not permit filing by an agent, or the agent is a minor
	CodeAgentTokenBound      = "agent_token_bound"      // the token already files for another principal (or for the agent: principal_id disagrees)

	// The service catalogue.
	CodeCatalogueInvalid = "catalogue_invalid" // the document has problems (see fields: JSON path -> problem)
	CodeCatalogueVersion = "catalogue_version" // the version is not the one in force plus one (someone saved first)

	// Residents' issue reports (docs/reports.md).
	CodeReportKindUnknown = "report_kind_unknown"
	CodeReportNotFound    = "report_not_found" // no such report, or another unit's or station's
	CodeReportState       = "report_state"     // the action is not allowed in the report's state
	CodePhotoTooLarge     = "photo_too_large"  // over 2 MiB, or over 4096 pixels a side
	CodePhotoInvalid      = "photo_invalid"    // not a JPEG or PNG image by its content
	// The kinds document an administrator saves (docs/reports.md).
	CodeReportKindsInvalid = "report_kinds_invalid" // the document has problems, or drops a unit
	CodeReportKindsVersion = "report_kinds_version" // the version is not the one in force plus one

	// 低保 transparency and ratings (docs/transparency.md).
	CodeDeliberationRequired = "deliberation_required" // approving needs a deliberation meeting's record attached
	CodeMeetingNotFound      = "meeting_not_found"
	CodeMeetingConflict      = "meeting_conflict" // a filing is attached to another meeting already
	CodeRatingNotFound       = "rating_not_found" // no such filing or report of the token's resident
	CodeNotAnswered          = "not_answered"     // the filing or report has no answer to rate yet
	CodeAlreadyRated         = "already_rated"    // one rating per filing or report
)

// statuses is the HTTP status of every error code: the only place that
// chooses one. docs/api.md ("Error codes") and the OpenAPI document
// (x-error-codes) list the same table; TestErrorCodeStatuses in server/api
// checks all three, and that every Code constant above is here.
var statuses = map[string]int{
	CodeBadRequest:       400,
	CodeBodyTooLarge:     413,
	CodeUnsupportedMedia: 415,
	CodeNotFound:         404,
	CodeMethodNotAllowed: 405,
	CodeRateLimited:      429,
	CodeInternal:         500,
	CodeUnavailable:      503,
	CodeTimeout:          503,
	CodeSearchIncomplete: 503,
	CodeGalleryStale:     503,
	CodeConflict:         409,

	CodeSignatureMissing:   401,
	CodeSignatureInvalid:   401,
	CodeClockSkew:          401,
	CodeReplay:             401,
	CodeKioskUnknown:       401,
	CodeKioskRevoked:       403,
	CodeClientCertRequired: 401,
	CodeTLSRequired:        403,

	CodeUnauthenticated:      401,
	CodeBadCredentials:       401,
	CodeForbidden:            403,
	CodeStaffDisabled:        401,
	CodeIdentifyDisabled:     403,
	CodeCandidateNotFound:    404,
	CodeCandidateExpired:     410,
	CodePINLocked:            423,
	CodePINInvalid:           422,
	CodeSessionKioskBound:    403,
	CodeKioskSessionRequired: 403,

	CodeCardInvalid:     422,
	CodeCardExpired:     422,
	CodeCardNotYetValid: 422,

	CodeNonceUnknown:       401,
	CodeNonceExpired:       401,
	CodeMakerUnknown:       401,
	CodeDeviceCertInvalid:  401,
	CodeAttestationInvalid: 401,
	CodeCounterReplay:      401,
	CodeImageMismatch:      422,
	CodeImageInvalid:       422,
	CodeImageUnusable:      422,
	CodeTemplateMismatch:   422,
	CodeTemplateInvalid:    422,
	CodeQualityTooLow:      422,
	CodeScannerRevoked:     403,
	CodeScannerElsewhere:   403,
	CodeFingerInvalid:      422,
	CodeUncalibrated:       422,

	CodeResidentUnknown:   404,
	CodeResidentSuspended: 403,
	CodeNotEnrolled:       404,
	CodeNoMatch:           401,
	CodeLocked:            423,

	CodeEnrolmentIncomplete: 422,
	CodeDuplicateSuspected:  409,
	CodeCaseNotFound:        404,
	CodeCaseState:           409,
	CodeConsentRequired:     422,

	CodeEnrolmentInconsistent: 422,

	CodeStationMismatch:     403,
	CodeReplacementPending:  409,
	CodeBulkEnrolmentOff:    403,
	CodeSkipDedupRefused:    403,
	CodeAlreadyEnrolled:     409,
	CodeTemplateCount:       422,
	CodeReplacementNotFound: 404,
	CodeReplacementState:    409,
	CodeSelfApproval:        403,
	CodeNotApprover:         403,
	CodePreviousNoMatch:     422,

	CodeTokenInvalid:     401,
	CodeServiceUnknown:   404,
	CodeFormInvalid:      422,
	CodeFilingNotFound:   404,
	CodeFilingState:      409,
	CodeIdempotencyReuse: 409,
	CodeNotEligible:      403,

	CodeCardMismatch:         422,
	CodeNotHousehold:         403,
	CodePrincipalNotEligible: 403,
	CodeAgentNotAllowed:      403,
	CodeAgentTokenBound:      409,

	CodeCatalogueInvalid: 422,
	CodeCatalogueVersion: 409,

	CodeReportKindUnknown:  404,
	CodeReportNotFound:     404,
	CodeReportState:        409,
	CodePhotoTooLarge:      413,
	CodePhotoInvalid:       415,
	CodeReportKindsInvalid: 422,
	CodeReportKindsVersion: 409,

	CodeDeliberationRequired: 409,
	CodeMeetingNotFound:      404,
	CodeMeetingConflict:      409,
	CodeRatingNotFound:       404,
	CodeNotAnswered:          409,
	CodeAlreadyRated:         409,
}

// HTTPStatus returns the HTTP status of an error code, and false for a code
// that is not in the table (the server answers those with 500).
func HTTPStatus(code string) (int, bool) {
	s, ok := statuses[code]
	return s, ok
}

// ErrorCodes returns every error code with its HTTP status (a copy).
func ErrorCodes() map[string]int {
	return maps.Clone(statuses)
}

// ErrorBody is the body of every error response:
//
//	{"error":{"code":"card_expired","message":"..."}}
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the content of an error response.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// RetryAfterSeconds is set with rate_limited and locked.
	RetryAfterSeconds int `json:"retry_after_s,omitempty"`
	// AttemptsLeft is set with no_match and locked (a verification): how
	// many more failures the server allows before it locks the ID number
	// (0 with locked). A pointer so that 0 is sent.
	AttemptsLeft *int `json:"attempts_left,omitempty"`
	// LockedUntil is set with locked (a verification): when the ID
	// number's lock ends (RFC 3339, UTC), unless staff unlock it earlier.
	LockedUntil *time.Time `json:"locked_until,omitempty"`
	// CaseID is set with duplicate_suspected.
	CaseID int64 `json:"case_id,omitempty"`
	// Fields maps a form field name to what is wrong with it (form_invalid,
	// bad_request), or a capture (CaptureField) to why it was refused
	// (enrolment_incomplete, enrolment_inconsistent).
	Fields map[string]string `json:"fields,omitempty"`
}

// Error is an error response as the client sees it.
type Error struct {
	Status int // HTTP status
	ErrorDetail
}

func (e *Error) Error() string {
	return fmt.Sprintf("server: %d %s: %s", e.Status, e.Code, e.Message)
}

// ErrorCode returns the API error code in err's chain, or "".
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
