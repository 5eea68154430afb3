package api

import (
	"errors"
	"slices"

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
	if errors.Is(err, store.ErrNotFound) {
		return errf(apiv1.CodeResidentUnknown, "no resident record for this ID number; ask the station staff")
	} else if err != nil {
		return storeErr(err, "resident")
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
