package api

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan/wire"
	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// handleNonce issues a capture nonce bound to the kiosk.
func (s *Server) handleNonce(c *fiber.Ctx) error {
	k := kioskOf(c)
	var n [32]byte
	if _, err := rand.Read(n[:]); err != nil {
		return err
	}
	now := s.now()
	exp := now.Add(s.cfg.NonceTTL)
	err := s.st.IssueNonce(c.UserContext(), store.Nonce{
		Value: base64.StdEncoding.EncodeToString(n[:]), KioskID: k.ID, Purpose: NoncePurposeCapture, ExpiresAt: exp, CreatedAt: now,
	})
	if err != nil {
		return storeErr(err, "nonce")
	}
	return c.JSON(apiv1.NonceResponse{Nonce: n[:], ExpiresAt: exp})
}

func retrySeconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }

// handleVerify is the card + vein check that opens a filing.
func (s *Server) handleVerify(c *fiber.Ctx) error {
	k := kioskOf(c)
	ctx := c.UserContext()
	var req apiv1.VerifyRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	now := s.now()
	idNumber, err := checkCard(req.Card, now)
	if err != nil {
		return err
	}
	idn := string(idNumber) // canonical: the one key of the limiter, the locks and the store
	if wait, err := s.throttle.wait(ctx, k.ID, now); err != nil {
		return storeErr(err, "kiosk backoff")
	} else if wait > 0 {
		s.metrics.rateLimited.Inc()
		return errf(apiv1.CodeRateLimited, "too many failed verifications at this kiosk; wait").retryAfter(retrySeconds(wait))
	}
	lock, err := s.st.GetLockout(ctx, idn)
	if err != nil {
		return storeErr(err, "lockout")
	}
	if lock.Locked(now) {
		s.metrics.verifies.WithLabelValues(string(store.VerifyLockedOut)).Inc()
		return errf(apiv1.CodeLocked, "too many failed verifications for this ID number; ask the station staff or wait").
			retryAfter(retrySeconds(lock.LockedUntil.Sub(now)))
	}
	cc, cert, att, err := s.parseCapture(req.Capture)
	if err != nil {
		s.metrics.verifies.WithLabelValues(string(store.VerifyError)).Inc()
		return err
	}
	// The stateful checks of the capture (nonce, counter) are stored with
	// the outcome in one transaction below. A request that fails before
	// that still spends its nonce and counter (captureState), as a capture
	// must never be usable twice.
	fail := func(e error) error {
		s.metrics.verifies.WithLabelValues(string(store.VerifyError)).Inc()
		if err := s.captureState(ctx, k, cert, att); err != nil {
			return err
		}
		return e
	}
	if err := s.scanner(ctx, k, cert); err != nil {
		if nerr := s.consumeCaptureNonce(ctx, k, att.Nonce); nerr != nil {
			return nerr
		}
		return err
	}
	res, err := s.st.GetResident(ctx, idn)
	if errors.Is(err, store.ErrNotFound) {
		return fail(errf(apiv1.CodeResidentUnknown, "no resident record for this ID number; ask the station staff"))
	} else if err != nil {
		return storeErr(err, "resident")
	}
	if res.Status == store.ResidentSuspended {
		return fail(errf(apiv1.CodeResidentSuspended, "the resident's record is suspended; ask the station staff"))
	}
	th, err := s.thresholds(cc.model, cc.tmpl)
	if err != nil {
		return fail(err)
	}
	start := time.Now()
	score, ok, err := s.gallery.Verify(res.ID, cc.tmpl)
	s.metrics.match.WithLabelValues("verify").Observe(time.Since(start).Seconds())
	if err != nil {
		return fail(errf(apiv1.CodeTemplateInvalid, "the template cannot be compared with the enrolled ones (algorithm version, parameters or size differ): %v", err))
	}
	if !ok {
		return fail(errf(apiv1.CodeNotEnrolled, "the resident has no finger-vein enrolment; ask the station staff"))
	}
	match := score >= th.Verify.Threshold
	result := store.VerifyNoMatch
	if match {
		result = store.VerifyMatch
	}
	policy, err := s.idLocks.policy(ctx, idn, s.cfg.Lockout, now)
	if err != nil {
		return storeErr(err, "lock escalation")
	}
	target := "resident:" + strconv.FormatInt(res.ID, 10)
	details := map[string]string{"kiosk": k.ID, "scanner": cc.serial, "counter": strconv.FormatUint(cc.counter, 10), "score": fmt.Sprintf("%.4f", score), "calibration": th.Calibration}
	o := store.VerificationOutcome{
		NonceValue: base64.StdEncoding.EncodeToString(att.Nonce[:]), NoncePurpose: NoncePurposeCapture,
		ScannerSerial: att.Serial, Counter: att.Counter,
		Attempt:   store.VerificationAttempt{IDNumber: idn, ResidentID: res.ID, KioskID: k.ID, Result: result, Score: score, At: now},
		Policy:    policy,
		LockEvent: &audit.Event{Time: now, Actor: audit.Kiosk(k.ID), Action: "verification.lockout", Target: target, Details: details},
	}
	var tok string
	exp := now.Add(s.cfg.TokenTTL)
	if match {
		tok = randomToken(32)
		o.Token = &store.FilingToken{Token: tok, IDNumber: res.IDNumber, KioskID: k.ID, ExpiresAt: exp, CreatedAt: now}
		actor := audit.Kiosk(k.ID)
		if sess := sessionOf(c); sess != nil {
			actor = audit.Staff(sess.staffID)
		}
		o.MatchEvent = &audit.Event{Time: now, Actor: actor, Action: "verification.match", Target: target, Details: details}
	}
	st, err := s.st.RecordVerificationOutcome(ctx, o)
	if err != nil {
		s.metrics.verifies.WithLabelValues(string(store.VerifyError)).Inc()
		return s.outcomeErr(err, att)
	}
	lock = st.Lockout
	s.metrics.verifies.WithLabelValues(string(result)).Inc()
	if err := s.throttle.record(ctx, k.ID, match, now); err != nil {
		return storeErr(err, "kiosk backoff")
	}
	if !match {
		if lock.Locked(now) {
			if err := s.idLocks.locked(ctx, idn, now); err != nil {
				return storeErr(err, "lock escalation")
			}
			s.metrics.lockouts.Inc()
			return errf(apiv1.CodeLocked, "too many failed verifications for this ID number; ask the station staff or wait").
				retryAfter(retrySeconds(lock.LockedUntil.Sub(now)))
		}
		left := policy.MaxFailures - lock.Failures
		return errf(apiv1.CodeNoMatch, "the finger vein does not match the card's holder; %d attempts left", max(left, 0))
	}
	return c.JSON(apiv1.VerifyResponse{
		Token: tok, ExpiresAt: exp,
		Resident: apiv1.ResidentSummary{ResidentID: res.ID, Name: res.Name, IDNumberMasked: identity.MaskIDNumber(res.IDNumber)},
	})
}

// outcomeErr maps a failed RecordVerificationOutcome to the API error the
// separate nonce and counter checks give.
func (s *Server) outcomeErr(err error, att *wire.Attestation) error {
	var oe *store.OutcomeError
	if errors.As(err, &oe) {
		switch oe.Step {
		case "nonce":
			switch {
			case errors.Is(err, store.ErrNotFound):
				s.metrics.authFailures.WithLabelValues("nonce").Inc()
				return errf(apiv1.CodeNonceUnknown, "the capture nonce was not issued to this kiosk or was already used")
			case errors.Is(err, store.ErrExpired):
				return errf(apiv1.CodeNonceExpired, "the capture nonce expired; capture again")
			}
		case "scanner":
			switch {
			case errors.Is(err, store.ErrStaleCounter):
				s.metrics.authFailures.WithLabelValues("counter_replay").Inc()
				return errf(apiv1.CodeCounterReplay, "scanner capture counter %d is not above the last accepted one (replayed capture?)", att.Counter)
			case errors.Is(err, store.ErrInactive):
				return errf(apiv1.CodeScannerRevoked, "scanner %s is revoked", att.Serial)
			}
		}
	}
	return storeErr(err, "verification")
}

// issueToken stores a filing token for the resident at this kiosk, audits
// the grant and answers with it.
func (s *Server) issueToken(c *fiber.Ctx, k *store.Kiosk, res store.Resident, action string, details map[string]string) error {
	ctx := c.UserContext()
	now := s.now()
	tok := randomToken(32)
	exp := now.Add(s.cfg.TokenTTL)
	if err := s.st.IssueFilingToken(ctx, store.FilingToken{Token: tok, IDNumber: res.IDNumber, KioskID: k.ID, ExpiresAt: exp, CreatedAt: now}); err != nil {
		return storeErr(err, "filing token")
	}
	actor := audit.Kiosk(k.ID)
	if sess := sessionOf(c); sess != nil {
		actor = audit.Staff(sess.staffID)
	}
	if err := s.audit(ctx, actor, action, "resident:"+strconv.FormatInt(res.ID, 10), details); err != nil {
		return err
	}
	return c.JSON(apiv1.VerifyResponse{
		Token: tok, ExpiresAt: exp,
		Resident: apiv1.ResidentSummary{ResidentID: res.ID, Name: res.Name, IDNumberMasked: identity.MaskIDNumber(res.IDNumber)},
	})
}

func (s *Server) handleServices(c *fiber.Ctx) error {
	return c.JSON(apiv1.ServiceList{Services: catalogue})
}

// tokenResident checks a filing token for this kiosk (without consuming it)
// and returns the resident it is bound to.
func (s *Server) tokenResident(c *fiber.Ctx, token string) (store.Resident, error) {
	if token == "" || len(token) > 128 {
		return store.Resident{}, errf(apiv1.CodeTokenInvalid, "filing token missing")
	}
	k := kioskOf(c)
	ft, err := s.st.CheckFilingToken(c.UserContext(), token, k.ID, s.now())
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExpired) {
		return store.Resident{}, errf(apiv1.CodeTokenInvalid, "the filing token is unknown, expired, used or belongs to another kiosk; verify again")
	} else if err != nil {
		return store.Resident{}, storeErr(err, "filing token")
	}
	res, err := s.st.GetResident(c.UserContext(), ft.IDNumber)
	if err != nil {
		return store.Resident{}, storeErr(err, "resident")
	}
	if res.Status == store.ResidentSuspended {
		return store.Resident{}, errf(apiv1.CodeResidentSuspended, "the resident's record is suspended")
	}
	return res, nil
}

func (s *Server) handleForm(c *fiber.Ctx) error {
	var req apiv1.FormRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	svc, ok := service(req.Service)
	if !ok {
		return errf(apiv1.CodeServiceUnknown, "no service %q", req.Service)
	}
	res, err := s.tokenResident(c, req.Token)
	if err != nil {
		return err
	}
	return c.JSON(apiv1.Form{Service: svc, Values: prefill(svc, res)})
}

// validIdemKey accepts 16..64 characters of [A-Za-z0-9-_].
func validIdemKey(k string) bool {
	if len(k) < 16 || len(k) > 64 {
		return false
	}
	for i := 0; i < len(k); i++ {
		ch := k[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_') {
			return false
		}
	}
	return true
}

// handleSubmitFiling creates a filing, consuming the token. A retry with the
// same idempotency key returns the first filing (200 instead of 201).
func (s *Server) handleSubmitFiling(c *fiber.Ctx) error {
	k := kioskOf(c)
	ctx := c.UserContext()
	var req apiv1.SubmitFilingRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	if !validIdemKey(req.IdempotencyKey) {
		return badRequest("idempotency_key must be 16..64 characters of A-Z a-z 0-9 - _ (a UUID will do)")
	}
	svc, ok := service(req.Service)
	if !ok {
		return errf(apiv1.CodeServiceUnknown, "no service %q", req.Service)
	}
	now := s.now()
	res, err := s.tokenResident(c, req.Token)
	if err != nil {
		// The retry of a filing whose answer was lost: the token is spent,
		// but we know whose it was.
		sp, ok, serr := s.spent.get(ctx, req.Token, now)
		if serr != nil {
			return storeErr(serr, "spent token")
		}
		if !ok || sp.kioskID != k.ID {
			return err
		}
		res, err = s.st.GetResident(ctx, sp.idNumber)
		if err != nil {
			return storeErr(err, "resident")
		}
	}
	values, bad := validateForm(svc, res, req.Values, now)
	if bad != nil {
		e := errf(apiv1.CodeFormInvalid, "%d fields need attention", len(bad))
		e.detail.Fields = bad
		return e
	}
	form, err := json.Marshal(values)
	if err != nil {
		return err
	}
	f, created, err := s.st.CreateFiling(ctx, audit.Kiosk(k.ID), store.NewFiling{
		ServiceCode: svc.Code, IDNumber: res.IDNumber, KioskID: k.ID, StationID: k.StationID, Department: svc.Department,
		Form: form, DueAt: now.AddDate(0, 0, svc.DeadlineDays), IdempotencyKey: req.IdempotencyKey, Token: req.Token, CreatedAt: now,
	})
	switch {
	case errors.Is(err, store.ErrConflict):
		return errf(apiv1.CodeIdempotencyReuse, "this idempotency key was used for another filing")
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrExpired):
		return errf(apiv1.CodeTokenInvalid, "the filing token is unknown, expired, used or belongs to another kiosk; verify again")
	case err != nil:
		return storeErr(err, "filing")
	}
	if err := s.spent.put(ctx, req.Token, spent{idNumber: res.IDNumber, kioskID: k.ID, exp: now.Add(s.cfg.TokenTTL + time.Hour)}); err != nil {
		return storeErr(err, "spent token")
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		s.metrics.filings.WithLabelValues(svc.Code).Inc()
	}
	return c.Status(status).JSON(filingView(f, now, false, ""))
}

// filingView converts a store filing for the wire; back office views carry
// the form values and the resident's name.
func filingView(f store.Filing, now time.Time, office bool, residentName string) apiv1.Filing {
	svc, _ := service(f.ServiceCode)
	out := apiv1.Filing{
		ID: f.ID, Reference: f.Reference, Service: f.ServiceCode, ServiceName: svc.Name, Department: f.Department,
		Status: string(f.Status), SubmittedAt: f.CreatedAt, DueAt: f.DueAt, DecidedAt: f.ClosedAt, Reply: f.Reply,
		KioskID: f.KioskID, Overdue: !f.Status.Closed() && now.After(f.DueAt),
	}
	if office {
		out.ResidentID = f.ResidentID
		out.ResidentName = residentName
		if len(f.Form) > 0 {
			_ = json.Unmarshal(f.Form, &out.Values)
		}
	}
	return out
}

// handleStatus lists the resident's filings with status and reply.
func (s *Server) handleStatus(c *fiber.Ctx) error {
	var req apiv1.StatusRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	res, err := s.tokenResident(c, req.Token)
	if err != nil {
		return err
	}
	fs, err := s.st.ListFilings(c.UserContext(), store.FilingFilter{IDNumber: res.IDNumber, Limit: 100})
	if err != nil {
		return storeErr(err, "filings")
	}
	out := apiv1.FilingList{Filings: make([]apiv1.Filing, 0, len(fs))}
	for i := len(fs) - 1; i >= 0; i-- { // newest first
		out.Filings = append(out.Filings, filingView(fs[i], s.now(), false, ""))
	}
	return c.JSON(out)
}
