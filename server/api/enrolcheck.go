package api

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// handleEnrolmentCheck tells the kiosk, before any capture, what the card's
// holder must do: place one of their enrolled fingers (named), see the
// staff (not enrolled, unknown, suspended) or wait (locked). The card must
// pass the card rules; the answer names fingers only, never templates, and
// every check is audited (kiosk, resident) like a verification attempt.
func (s *Server) handleEnrolmentCheck(c *fiber.Ctx) error {
	var req apiv1.EnrolmentCheckRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	ctx := c.UserContext()
	now := s.now()
	id, err := checkCard(req.Card, now)
	if err != nil {
		return err
	}
	res, err := s.st.GetResident(ctx, string(id))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return storeErr(err, "resident")
	}
	known := err == nil
	// The budget comes before any answer: "unknown" is an answer too.
	if err := s.takeEnrolmentCheck(ctx, kioskOf(c), res.ID, now); err != nil {
		return err
	}
	if !known {
		return errf(apiv1.CodeResidentUnknown, "no resident record for this ID number; ask the station staff")
	}
	if res.Status == store.ResidentSuspended {
		return errf(apiv1.CodeResidentSuspended, "the resident's record is suspended; ask the station staff")
	}
	ens, err := s.st.ResidentEnrolments(ctx, string(id))
	if err != nil {
		return storeErr(err, "enrolments")
	}
	out := apiv1.EnrolmentCheck{}
	for _, e := range ens {
		if f := apiv1.FingerAt(e.Finger); f != "" && !slices.Contains(out.Fingers, f) {
			out.Fingers = append(out.Fingers, f)
		}
	}
	slices.SortFunc(out.Fingers, func(a, b apiv1.Finger) int { return a.Position() - b.Position() })
	out.Enrolled = len(out.Fingers) > 0
	lock, err := s.st.GetLockout(ctx, string(id))
	if err != nil {
		return storeErr(err, "lockout")
	}
	policy := s.cfg.Lockout // as the verification's outcome counts failures
	if lock.Locked(now) {
		t := *lock.LockedUntil
		out.LockedUntil = &t
	} else if policy.MaxFailures > 0 {
		failures := lock.Failures
		if lock.LockedUntil != nil {
			failures = 0 // a lock that has ended: counting starts again
		}
		out.AttemptsLeft = max(policy.MaxFailures-failures, 0)
	}
	k := kioskOf(c)
	if err := s.audit(ctx, audit.Kiosk(k.ID), "verification.enrolment_checked", residentTarget(res),
		map[string]string{"kiosk": k.ID, "enrolled": boolText(out.Enrolled)}); err != nil {
		return storeErr(err, "audit")
	}
	return c.JSON(out)
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// takeEnrolmentCheck counts a check of residentID (0: nobody) against the
// kiosk's budget of unanswered checks (Config.EnrolmentCheckBudget, in the
// store so every replica counts alike). Over the budget the check is
// refused (429 rate_limited until the oldest unanswered check leaves the
// window), counted in veinkiosk_enrolment_check_budget_exceeded_total and
// audited as an alert (verification.enrolment_check_budget_exceeded).
func (s *Server) takeEnrolmentCheck(ctx context.Context, k *store.Kiosk, residentID int64, now time.Time) error {
	b := s.cfg.EnrolmentCheckBudget
	ok, retry, err := s.st.TakeEnrolmentCheck(ctx, k.ID, residentID, now, b)
	if err != nil {
		return storeErr(err, "enrolment-check budget")
	}
	if ok {
		return nil
	}
	s.metrics.checkBudget.Inc()
	if err := s.audit(ctx, audit.Kiosk(k.ID), "verification.enrolment_check_budget_exceeded", "kiosk:"+k.ID,
		map[string]string{"kiosk": k.ID, "max": strconv.Itoa(b.Max), "window": b.Window.String()}); err != nil {
		return storeErr(err, "audit")
	}
	wait := retry.Sub(now)
	if wait < time.Second {
		wait = time.Second
	}
	return errf(apiv1.CodeRateLimited, "this kiosk has %d enrolment checks that no verification followed in %v; wait", b.Max, b.Window).retryAfter(retrySeconds(wait))
}

// answerEnrolmentChecks frees the kiosk's checks of a resident once a
// verification or an enrolment of them followed. A failure costs the kiosk
// budget only, so it is logged, not returned.
func (s *Server) answerEnrolmentChecks(ctx context.Context, k *store.Kiosk, residentID int64) {
	if err := s.st.AnswerEnrolmentChecks(ctx, k.ID, residentID); err != nil {
		s.log.Warn("answering enrolment checks", "kiosk", k.ID, "err", err)
	}
}
