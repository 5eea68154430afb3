package api

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/matcher/calib"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// Steps of the server-side flows (verification; enrolment and
// identification share the capture steps). A *stepError names its step.
const (
	stepCard     = "card"     // the ID card's fields
	stepLockout  = "lockout"  // the kiosk's failure backoff, the ID number's lock (early refusal; decided in outcome)
	stepCapture  = "capture"  // stateless: template, finger, quality, certificate, attestation, image
	stepScanner  = "scanner"  // registered, active, same key, attached here
	stepNonce    = "nonce"    // issued to this kiosk, fresh, consumed once
	stepCounter  = "counter"  // the scanner's capture counter rises strictly
	stepResident = "resident" // on record, active, enrolled
	stepCompare  = "compare"  // the thresholds of the capture's scanner model, 1:1 against the resident's templates
	stepOutcome  = "outcome"  // lockout decided, attempt, token and audit in one transaction
)

// Step sentinels: every step failure wraps exactly one (test with
// errors.Is). stepCodes maps them to API codes.
var (
	errThrottled          = errors.New("kiosk backing off after failed verifications")
	errLocked             = errors.New("ID number locked")
	errFingerInvalid      = errors.New("finger invalid")
	errTemplateInvalid    = errors.New("template invalid")
	errQualityTooLow      = errors.New("capture quality below the gate")
	errImageInvalid       = errors.New("image malformed")
	errImageMismatch      = errors.New("image does not match the attestation")
	errImageUnusable      = errors.New("attested image yields no template")
	errTemplateMismatch   = errors.New("template is not the one extracted from the attested image")
	errMakerUnknown       = errors.New("scanner maker not trusted")
	errCertInvalid        = errors.New("device certificate invalid")
	errAttestationInvalid = errors.New("capture attestation invalid")
	errScannerRevoked     = errors.New("scanner revoked")
	errScannerElsewhere   = errors.New("scanner attached to another kiosk")
	errNonceUnknown       = errors.New("capture nonce unknown or used")
	errNonceExpired       = errors.New("capture nonce expired")
	errCounterReplay      = errors.New("scanner counter replayed")
	errResidentUnknown    = errors.New("resident unknown")
	errResidentSuspended  = errors.New("resident suspended")
	errNotEnrolled        = errors.New("resident not enrolled")
	errUncalibrated       = errors.New("no calibration for the scanner model and pipeline")
	errNoMatch            = errors.New("no match")
)

// stepCodes is the ONE mapping from step errors to API codes, with the
// auth-failure metric label a step failure counts under ("" for none).
var stepCodes = map[error]struct{ code, authFailure string }{
	errThrottled:          {apiv1.CodeRateLimited, ""},
	errLocked:             {apiv1.CodeLocked, ""},
	errFingerInvalid:      {apiv1.CodeFingerInvalid, ""},
	errTemplateInvalid:    {apiv1.CodeTemplateInvalid, ""},
	errQualityTooLow:      {apiv1.CodeQualityTooLow, ""},
	errImageInvalid:       {apiv1.CodeImageInvalid, ""},
	errImageMismatch:      {apiv1.CodeImageMismatch, ""},
	errImageUnusable:      {apiv1.CodeImageUnusable, ""},
	errTemplateMismatch:   {apiv1.CodeTemplateMismatch, ""},
	errMakerUnknown:       {apiv1.CodeMakerUnknown, ""},
	errCertInvalid:        {apiv1.CodeDeviceCertInvalid, ""},
	errAttestationInvalid: {apiv1.CodeAttestationInvalid, ""},
	errScannerRevoked:     {apiv1.CodeScannerRevoked, ""},
	errScannerElsewhere:   {apiv1.CodeScannerElsewhere, ""},
	errNonceUnknown:       {apiv1.CodeNonceUnknown, "nonce"},
	errNonceExpired:       {apiv1.CodeNonceExpired, ""},
	errCounterReplay:      {apiv1.CodeCounterReplay, "counter_replay"},
	errResidentUnknown:    {apiv1.CodeResidentUnknown, ""},
	errResidentSuspended:  {apiv1.CodeResidentSuspended, ""},
	errNotEnrolled:        {apiv1.CodeNotEnrolled, ""},
	errUncalibrated:       {apiv1.CodeUncalibrated, ""},
	errNoMatch:            {apiv1.CodeNoMatch, ""},
}

// stepError is the failure of one step: the step, the sentinel it wraps,
// the message for people, and for throttling and locks how long to wait.
type stepError struct {
	step       string
	err        error // a sentinel of stepCodes
	msg        string
	retryAfter time.Duration
	// For no_match and locked: the attempts the server still allows and
	// the end of the lock (nil: not sent).
	attemptsLeft *int
	lockedUntil  *time.Time
}

func (e *stepError) Error() string { return e.step + ": " + e.err.Error() + ": " + e.msg }
func (e *stepError) Unwrap() error { return e.err }

func stepErr(step string, sentinel error, format string, args ...any) *stepError {
	return &stepError{step: step, err: sentinel, msg: fmt.Sprintf(format, args...)}
}

// apiErr turns a step error into the API error of its sentinel's code (and
// counts the auth failures of stepCodes); other errors pass through. Every
// handler of a flow returns its errors through it.
func (s *Server) apiErr(err error) error {
	var se *stepError
	if !errors.As(err, &se) {
		return err
	}
	m, ok := stepCodes[se.err]
	if !ok {
		return fmt.Errorf("step %s: unmapped error: %w", se.step, err)
	}
	if m.authFailure != "" {
		s.metrics.authFailures.WithLabelValues(m.authFailure).Inc()
	}
	e := errf(m.code, "%s", se.msg)
	if se.retryAfter > 0 {
		e.retryAfter(retrySeconds(se.retryAfter))
	}
	e.detail.AttemptsLeft, e.detail.LockedUntil = se.attemptsLeft, se.lockedUntil
	return e
}

// verification is the server side of one card + vein verification at a
// kiosk. run takes a request through its steps in order:
//
//	card      checkCard: the card's fields and validity (identity rules)
//	lockout   the kiosk's failure backoff; the ID number's lock
//	capture   parseCapture, then checkScanner (one scanner look-up)
//	resident  on record, not suspended
//	compare   the thresholds of the calibration of the capture's scanner
//	          model and template pipeline (s.thresholds; none: refused before
//	          any comparison); 1:1 against the resident's templates;
//	          enrolled at all
//	outcome   nonce consumed, counter raised, the lockout DECIDED (a locked
//	          ID number records locked_out, whatever the score) and
//	          updated, attempt recorded, filing token stored on a match,
//	          audit events: ONE transaction (store.RecordVerificationOutcome)
//
// The lockout step is an early refusal only (it saves the capture and the
// comparison when the ID number is already locked); the lock is decided in
// the outcome's transaction, so attempts racing past the early check are
// recorded as locked_out and get no token.
//
// A capture is spent exactly once: by the outcome, or, when the flow stops
// between the capture and the outcome steps, by spendCaptures.
type verification struct {
	s     *Server
	kiosk *store.Kiosk
	actor audit.Actor // who the match is audited to: the staff member at the kiosk, else the kiosk
	now   time.Time

	idNumber string
	capture  *capture
	resident store.Resident
	th       calib.Thresholds // of the capture's scanner model (compare)
	score    float64
	match    bool
}

// verified is what a successful verification returns.
type verified struct {
	token    store.FilingToken
	resident store.Resident
}

func (s *Server) newVerification(k *store.Kiosk, actor audit.Actor) *verification {
	return &verification{s: s, kiosk: k, actor: actor, now: s.now()}
}

// run runs the steps; every failure is a *stepError, a store error or an
// *apiError of the card step.
func (v *verification) run(ctx context.Context, req apiv1.VerifyRequest) (verified, error) {
	s := v.s
	idNumber, err := checkCard(req.Card, v.now)
	if err != nil {
		return verified{}, err
	}
	v.idNumber = string(idNumber) // canonical: the one key of the limiter, the locks and the store
	if err := v.checkLockout(ctx); err != nil {
		return verified{}, err
	}
	c, err := s.parseCapture(ctx, req.Capture, forVerify)
	if err != nil {
		s.metrics.verifies.WithLabelValues(string(store.VerifyError)).Inc()
		return verified{}, err
	}
	v.capture = c
	if err := s.checkScanner(ctx, v.kiosk, c.cert); err != nil {
		return verified{}, v.stop(ctx, err, false)
	}
	if err := v.findResident(ctx); err != nil {
		return verified{}, v.stop(ctx, err, true)
	}
	if err := v.compare(ctx); err != nil {
		return verified{}, v.stop(ctx, err, true)
	}
	return v.outcome(ctx)
}

// stop ends a flow between the capture and outcome steps: the capture is
// spent (its counter too when the scanner passed) and err is the answer,
// unless spending it fails (a used nonce is the better answer).
func (v *verification) stop(ctx context.Context, err error, scannerOK bool) error {
	v.s.metrics.verifies.WithLabelValues(string(store.VerifyError)).Inc()
	if serr := v.s.spendCaptures(ctx, v.kiosk, []*capture{v.capture}, scannerOK); serr != nil {
		return serr
	}
	return err
}

func (v *verification) checkLockout(ctx context.Context) error {
	s := v.s
	if wait, err := s.throttle.wait(ctx, v.kiosk.ID, v.now); err != nil {
		return storeErr(err, "kiosk backoff")
	} else if wait > 0 {
		s.metrics.rateLimited.Inc()
		return &stepError{step: stepLockout, err: errThrottled, msg: "too many failed verifications at this kiosk; wait", retryAfter: wait}
	}
	lock, err := s.st.GetLockout(ctx, v.idNumber)
	if err != nil {
		return storeErr(err, "lockout")
	}
	if lock.Locked(v.now) {
		s.metrics.verifies.WithLabelValues(string(store.VerifyLockedOut)).Inc()
		return lockedErr(lock, v.now)
	}
	return nil
}

func lockedErr(lock store.Lockout, now time.Time) *stepError {
	zero, until := 0, lock.LockedUntil.UTC()
	return &stepError{step: stepLockout, err: errLocked, retryAfter: lock.LockedUntil.Sub(now), attemptsLeft: &zero, lockedUntil: &until,
		msg: "too many failed verifications for this ID number; ask the station staff or wait"}
}

func (v *verification) findResident(ctx context.Context) error {
	res, err := v.s.st.GetResident(ctx, v.idNumber)
	if errors.Is(err, store.ErrNotFound) {
		return stepErr(stepResident, errResidentUnknown, "no resident record for this ID number; ask the station staff")
	} else if err != nil {
		return storeErr(err, "resident")
	}
	if res.Status == store.ResidentSuspended {
		return stepErr(stepResident, errResidentSuspended, "the resident's record is suspended; ask the station staff")
	}
	v.resident = res
	return nil
}

func (v *verification) compare(ctx context.Context) error {
	s := v.s
	th, err := s.thresholds(v.capture.model(), v.capture.tmpl)
	if err != nil {
		return err
	}
	v.th = th
	start := time.Now()
	score, ok, err := s.verify1to1(ctx, v.resident, v.capture.tmpl)
	s.metrics.match.WithLabelValues("verify").Observe(time.Since(start).Seconds())
	if ae := (*apiError)(nil); errors.As(err, &ae) {
		return ae // the database, while the gallery is stale
	}
	if err != nil {
		return stepErr(stepCompare, errTemplateInvalid, "the template cannot be compared with the enrolled ones (algorithm version, parameters or size differ): %v", err)
	}
	if !ok {
		return stepErr(stepCompare, errNotEnrolled, "the resident has no finger-vein enrolment; ask the station staff")
	}
	v.score, v.match = score, score >= th.Verify.Threshold
	return nil
}

// outcome stores the outcome in one transaction, which also decides the
// lockout (store.RecordVerificationOutcome): a match or no-match that
// arrives while the ID number is locked is recorded as locked_out, whatever
// the score, and the failure count, the lock and its escalation change
// with the attempt under the store's lock on the ID number. The answer is
// taken from what was committed: the token only when the store says it
// stored it for a match, the no-match with the attempts the store still
// allows, or the lock.
func (v *verification) outcome(ctx context.Context) (verified, error) {
	s, k, now := v.s, v.kiosk, v.now
	result := store.VerifyNoMatch
	if v.match {
		result = store.VerifyMatch
	}
	policy := s.cfg.Lockout
	policy.Escalation = lockMemory
	target := residentTarget(v.resident)
	details := map[string]string{"kiosk": k.ID, "scanner": v.capture.serial(), "counter": strconv.FormatUint(v.capture.counter(), 10), "score": fmt.Sprintf("%.4f", v.score), "calibration": v.th.Calibration}
	o := store.VerificationOutcome{
		NonceValue: v.capture.nonce(), NoncePurpose: NoncePurposeCapture,
		ScannerSerial: v.capture.serial(), Counter: v.capture.counter(),
		Attempt:   store.VerificationAttempt{IDNumber: v.idNumber, ResidentID: v.resident.ID, KioskID: k.ID, Result: result, Score: v.score, At: now},
		Policy:    policy,
		LockEvent: &audit.Event{Time: now, Actor: audit.Kiosk(k.ID), Action: "verification.lockout", Target: target, Details: details},
	}
	if v.match {
		// A candidate: valid only if the transaction stores it.
		tok := s.mintToken(k, v.resident, now)
		o.Token = &tok
		o.MatchEvent = &audit.Event{Time: now, Actor: v.actor, Action: "verification.match", Target: target, Details: details}
	}
	st, err := s.st.RecordVerificationOutcome(ctx, o)
	if err != nil {
		s.metrics.verifies.WithLabelValues(string(store.VerifyError)).Inc()
		return verified{}, outcomeErr(err, v.capture)
	}
	s.answerEnrolmentChecks(ctx, k, v.resident.ID) // a capture followed the check
	lock := st.Lockout
	ok := st.Result == store.VerifyMatch && st.TokenIssued
	s.metrics.verifies.WithLabelValues(string(st.Result)).Inc()
	if err := s.throttle.record(ctx, k.ID, ok, now); err != nil {
		return verified{}, storeErr(err, "kiosk backoff")
	}
	switch {
	case ok:
		return verified{token: *o.Token, resident: v.resident}, nil
	case st.Result == store.VerifyLockedOut:
		return verified{}, lockedErr(lock, now)
	case st.Result == store.VerifyNoMatch && lock.Locked(now):
		s.metrics.lockouts.Inc() // this failure locked it
		return verified{}, lockedErr(lock, now)
	case st.Result == store.VerifyNoMatch:
		e := stepErr(stepCompare, errNoMatch, "the finger vein does not match the card's holder")
		if policy.MaxFailures > 0 { // else no limit: no count to show
			left := max(policy.MaxFailures-lock.Failures, 0)
			e.attemptsLeft = &left
			e.msg += fmt.Sprintf("; %d attempts left", left)
		}
		return verified{}, e
	}
	return verified{}, fmt.Errorf("verification outcome: store recorded %q (token stored: %v) for a %s", st.Result, st.TokenIssued, result)
}

// outcomeErr maps a failed RecordVerificationOutcome: its nonce and scanner
// steps are the capture's nonce and counter.
func outcomeErr(err error, c *capture) error {
	var oe *store.OutcomeError
	if errors.As(err, &oe) {
		switch oe.Step {
		case "nonce":
			return captureStoreErr(stepNonce, err, c)
		case "scanner":
			return captureStoreErr(stepCounter, err, c)
		}
	}
	return storeErr(err, "verification")
}

// mintToken makes a filing token for the resident at this kiosk: the one
// place a token's secret and lifetime are chosen. The caller stores it (in
// the verification outcome, or with IssueFilingToken).
func (s *Server) mintToken(k *store.Kiosk, res store.Resident, now time.Time) store.FilingToken {
	return store.FilingToken{Token: randomToken(32), IDNumber: res.IDNumber, KioskID: k.ID, ExpiresAt: now.Add(s.cfg.TokenTTL), CreatedAt: now}
}

// tokenResponse is the answer that hands a filing token to the kiosk.
func tokenResponse(t store.FilingToken, res store.Resident) apiv1.VerifyResponse {
	return apiv1.VerifyResponse{
		Token: t.Token, ExpiresAt: t.ExpiresAt,
		Resident: apiv1.ResidentSummary{ResidentID: res.ID, Name: res.Name, IDNumberMasked: identity.MaskIDNumber(res.IDNumber)},
	}
}

func residentTarget(res store.Resident) string { return "resident:" + strconv.FormatInt(res.ID, 10) }
