package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
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
	return s.handleUnlockAt(c, k.ID)
}

func (s *Server) handleUnlock(c *fiber.Ctx) error { return s.handleUnlockAt(c, "") }

func (s *Server) handleUnlockAt(c *fiber.Ctx, kioskID string) error {
	var req apiv1.LockoutUnlock
	if err := decode(c, &req); err != nil {
		return err
	}
	out, err := s.unlock(c.UserContext(), sessionOf(c).staffID, kioskID, req)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

// unlockRefusal is a refused unlock request: the API error and the
// message of the office page.
type unlockRefusal struct {
	*apiError
	page string
}

func (r *unlockRefusal) Unwrap() error { return r.apiError }

// checkUnlock canonicalises and checks an unlock request.
func checkUnlock(req apiv1.LockoutUnlock) (identity.IDNumber, string, *unlockRefusal) {
	id, err := identity.ParseIDNumber(req.IDNumber)
	if err != nil {
		return "", "", &unlockRefusal{badRequest("id_number: %v", err), "身份证号无效，请核对。"}
	}
	reason := strings.TrimSpace(req.Reason)
	if reason == "" {
		return "", "", &unlockRefusal{badRequest("a reason is required: say what was checked"), "请填写解锁原因（核对了什么）。"}
	}
	if len(reason) > store.MaxUnlockReason {
		return "", "", &unlockRefusal{badRequest("the reason is longer than %d bytes", store.MaxUnlockReason), "解锁原因过长，请简要说明。"}
	}
	return id, reason, nil
}

// unlock checks the request and clears the lockout, audited to the staff
// member (and the kiosk, if any). The API and the office page share it;
// a refusal is an *unlockRefusal or a store error.
func (s *Server) unlock(ctx context.Context, staffID int64, kioskID string, req apiv1.LockoutUnlock) (apiv1.LockoutUnlocked, error) {
	id, reason, bad := checkUnlock(req)
	if bad != nil {
		return apiv1.LockoutUnlocked{}, bad
	}
	before, err := s.st.ResetLockout(ctx, audit.Staff(staffID), store.LockoutUnlock{IDNumber: string(id), Reason: reason, KioskID: kioskID})
	if errors.Is(err, store.ErrNotFound) {
		return apiv1.LockoutUnlocked{}, &unlockRefusal{errf(apiv1.CodeNotFound, "no failed verification is recorded for this ID number: nothing to unlock"), "该身份证号没有核验失败记录，无需解锁。"}
	} else if err != nil {
		return apiv1.LockoutUnlocked{}, storeErr(err, "lockout")
	}
	out := apiv1.LockoutUnlocked{IDNumberMasked: identity.MaskIDNumber(string(id)), WasLocked: before.Locked(s.now()), FailuresCleared: before.Failures}
	if out.WasLocked {
		t := before.LockedUntil.UTC().Truncate(time.Second)
		out.LockedUntil = &t
	}
	return out, nil
}

// officeUnlock is the back-office page of unlocking (supervisors,
// administrators): GET shows the form, POST unlocks and shows the result
// or the refusal on the same page.
func (s *Server) officeUnlock(c *fiber.Ctx) error {
	data := map[string]any{"Title": "解除核验锁定", "Session": officeSess(sessionOf(c))}
	if c.Method() != http.MethodPost {
		return s.render(c, http.StatusOK, "unlock.html", data)
	}
	out, err := s.unlock(c.UserContext(), sessionOf(c).staffID, "", apiv1.LockoutUnlock{IDNumber: c.FormValue("id_number"), Reason: c.FormValue("reason")})
	var bad *unlockRefusal
	if errors.As(err, &bad) {
		data["Error"] = bad.page
		return s.render(c, bad.status(), "unlock.html", data)
	} else if err != nil {
		return err
	}
	msg := "已清除 " + out.IDNumberMasked + " 的 " + strconv.Itoa(out.FailuresCleared) + " 次核验失败记录"
	if out.LockedUntil != nil {
		msg += "，并解除锁定（原锁定至 " + out.LockedUntil.In(identity.ChinaTime).Format("2006-01-02 15:04") + "）"
	}
	data["Done"] = msg + "。"
	return s.render(c, http.StatusOK, "unlock.html", data)
}
