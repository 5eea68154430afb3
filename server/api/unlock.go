package api

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// Unlocking an ID number's verification lockout: staff clear the failures
// and the lock after checking the resident in person, with a reason; the
// store audits who, why, where and what was lifted (lockout.unlock, which
// audit.Reconcile replays). Two doors:
//
//   - POST /api/v1/kiosk/lockouts/unlock: station staff in staff mode at a
//     kiosk of their own station (the resident stands there with the card).
//   - POST /api/v1/lockouts/unlock: supervisors and administrators, from
//     the office or any client.

// unlockScope refuses an unlock at a kiosk by staff of another station
// than the kiosk's.
func unlockScope(sess *session, k *store.Kiosk) error {
	if sess.station == "" || sess.station != k.StationID {
		return errf(apiv1.CodeStationMismatch,
			"staff of station %q may not unlock at a kiosk of station %q", sess.station, k.StationID)
	}
	return nil
}

func (s *Server) handleKioskUnlock(c *fiber.Ctx) error {
	k, sess := kioskOf(c), sessionOf(c)
	if err := unlockScope(sess, k); err != nil {
		return err
	}
	return s.unlock(c, k.ID)
}

func (s *Server) handleUnlock(c *fiber.Ctx) error { return s.unlock(c, "") }

// unlock decodes and checks the request and clears the lockout, audited to
// the session's staff member (and the kiosk, if any).
func (s *Server) unlock(c *fiber.Ctx, kioskID string) error {
	var req apiv1.LockoutUnlock
	if err := decode(c, &req); err != nil {
		return err
	}
	id, err := identity.ParseIDNumber(req.IDNumber)
	if err != nil {
		return badRequest("id_number: %v", err)
	}
	reason := strings.TrimSpace(req.Reason)
	if reason == "" {
		return badRequest("a reason is required: say what was checked")
	}
	if len(reason) > store.MaxUnlockReason {
		return badRequest("the reason is longer than %d bytes", store.MaxUnlockReason)
	}
	before, err := s.st.ResetLockout(c.UserContext(), audit.Staff(sessionOf(c).staffID), store.LockoutUnlock{IDNumber: string(id), Reason: reason, KioskID: kioskID})
	if err != nil {
		return storeErr(err, "lockout")
	}
	out := apiv1.LockoutUnlocked{IDNumberMasked: identity.MaskIDNumber(string(id)), WasLocked: before.Locked(s.now()), FailuresCleared: before.Failures}
	if out.WasLocked {
		t := before.LockedUntil.UTC().Truncate(time.Second)
		out.LockedUntil = &t
	}
	return c.JSON(out)
}
