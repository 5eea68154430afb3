package apiv1

import (
	"errors"
	"fmt"
)

// Error codes: the stable "code" of an error response. Clients branch on the
// code, never on the message (which is for people and may change).
const (
	// Generic request errors.
	CodeBadRequest       = "bad_request"        // 400: malformed JSON or a field out of range
	CodeBodyTooLarge     = "body_too_large"     // 413
	CodeUnsupportedMedia = "unsupported_media"  // 415: body is not application/json
	CodeNotFound         = "not_found"          // 404
	CodeMethodNotAllowed = "method_not_allowed" // 405
	CodeRateLimited      = "rate_limited"       // 429; see retry_after_s
	CodeInternal         = "internal"           // 500
	CodeUnavailable      = "unavailable"        // 503: not ready, database down
	CodeTimeout          = "timeout"            // 503: the request ran out of time
	CodeConflict         = "conflict"           // 409: a generic conflict (e.g. a username already taken)

	// Kiosk authentication.
	CodeSignatureMissing = "signature_missing" // 401
	CodeSignatureInvalid = "signature_invalid" // 401: malformed headers or the signature does not verify
	CodeClockSkew        = "clock_skew"        // 401: timestamp more than 60 s off
	CodeReplay           = "replayed_request"  // 401: the request nonce was seen before
	CodeKioskUnknown     = "kiosk_unknown"     // 401
	CodeKioskRevoked     = "kiosk_revoked"     // 403

	// Staff authentication.
	CodeUnauthenticated   = "unauthenticated"     // 401: no or expired staff session
	CodeBadCredentials    = "bad_credentials"     // 401: wrong username or password
	CodeForbidden         = "forbidden"           // 403: the role may not do this
	CodeStaffDisabled     = "staff_disabled"      // reserved: a disabled account's login gets bad_credentials, its sessions unauthenticated
	CodeIdentifyDisabled  = "identify_disabled"   // 403: card-less identification is off by station policy
	CodeCandidateNotFound = "candidate_not_found" // 404: card-less identification found nobody
	CodeCandidateExpired  = "candidate_expired"   // 410

	// Card.
	CodeCardInvalid     = "card_invalid" // 422: bad ID number (check digit) or fields
	CodeCardExpired     = "card_expired" // 422
	CodeCardNotYetValid = "card_not_yet_valid"

	// Capture / scanner.
	CodeNonceUnknown       = "nonce_unknown"        // 401: the capture nonce was never issued to this kiosk, or was used already
	CodeNonceExpired       = "nonce_expired"        // 401
	CodeMakerUnknown       = "maker_unknown"        // 401: the scanner's maker key is not configured
	CodeDeviceCertInvalid  = "device_cert_invalid"  // 401
	CodeAttestationInvalid = "attestation_invalid"  // 401
	CodeCounterReplay      = "counter_replay"       // 401: scanner counter not strictly increasing
	CodeImageMismatch      = "image_mismatch"       // 422: image does not hash to the attested digest
	CodeTemplateInvalid    = "template_invalid"     // 422
	CodeQualityTooLow      = "quality_too_low"      // 422
	CodeScannerRevoked     = "scanner_revoked"      // 403
	CodeScannerElsewhere   = "scanner_elsewhere"    // 403: the scanner is assigned to another kiosk
	CodeFingerInvalid      = "finger_invalid"       // 422: unknown finger, or not the template's
	CodeUncalibrated       = "scanner_uncalibrated" // 422: no calibration for the scanner's model and template pipeline

	// Residents and verification.
	CodeResidentUnknown   = "resident_unknown"   // 404: no record for this ID number
	CodeResidentSuspended = "resident_suspended" // 403
	CodeNotEnrolled       = "not_enrolled"       // 404: no vein templates on record
	CodeNoMatch           = "no_match"           // 401: the vein does not match the card's holder
	CodeLocked            = "locked"             // 423: too many failures for this ID number; see retry_after_s

	// Enrolment.
	CodeEnrolmentIncomplete = "enrolment_incomplete" // 422: fewer than 3 good captures for 2 fingers
	CodeDuplicateSuspected  = "duplicate_suspected"  // 409: the veins match another ID number; a case was opened
	CodeCaseNotFound        = "case_not_found"
	CodeCaseState           = "case_state" // 409: the case is not in a state that allows this

	// Filings.
	CodeTokenInvalid     = "token_invalid"   // 401: unknown, expired, used or bound to another kiosk
	CodeServiceUnknown   = "service_unknown" // 404
	CodeFormInvalid      = "form_invalid"    // 422: see details
	CodeFilingNotFound   = "filing_not_found"
	CodeFilingState      = "filing_state"           // 409: decision not allowed in the filing's state
	CodeIdempotencyReuse = "idempotency_key_reused" // 409: same key, different content
)

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
	// CaseID is set with duplicate_suspected.
	CaseID int64 `json:"case_id,omitempty"`
	// Fields maps a form field name to what is wrong with it (form_invalid,
	// bad_request).
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
