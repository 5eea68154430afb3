package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/password"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// Staff at the kiosk log in with their username and a six-digit PIN, in a
// request signed by the kiosk (docs/security.md, "Staff at the kiosk"):
// only the station's own staff and supervisors, only with a PIN set in the
// office, and PINMaxFailures wrong PINs in a row lock the PIN until it is
// set again. A kiosk's key alone therefore opens nothing, and a PIN can be
// guessed at most PINMaxFailures times.

// PINMaxFailures is how many wrong PINs in a row lock a staff member's PIN.
const PINMaxFailures = 5

// checkNewPIN is the one rule for a new PIN: apiv1.PINLength digits, not
// one digit repeated, not a run up or down (123456, 987654).
func checkNewPIN(pin string) error {
	if len(pin) != apiv1.PINLength {
		return errf(apiv1.CodePINInvalid, "the PIN must have %d digits", apiv1.PINLength)
	}
	for i := 0; i < len(pin); i++ {
		if pin[i] < '0' || pin[i] > '9' {
			return errf(apiv1.CodePINInvalid, "the PIN must have %d digits", apiv1.PINLength)
		}
	}
	same, up, down := true, true, true
	for i := 1; i < len(pin); i++ {
		d := int(pin[i]) - int(pin[i-1])
		same = same && d == 0
		up = up && (d == 1 || d == -9)
		down = down && (d == -1 || d == 9)
	}
	if same || up || down {
		return errf(apiv1.CodePINInvalid, "the PIN is too easy to guess (one digit repeated, or a run)")
	}
	return nil
}

// pinShaped says whether a PIN typed at a kiosk could be one at all
// (checked before any work).
func pinShaped(pin string) bool {
	if len(pin) != apiv1.PINLength {
		return false
	}
	for i := 0; i < len(pin); i++ {
		if pin[i] < '0' || pin[i] > '9' {
			return false
		}
	}
	return true
}

// kioskRoles may log in at a kiosk of their station.
var kioskRoles = []store.Role{store.RoleStationStaff, store.RoleSupervisor}

func (s *Server) handleKioskStaffLogin(c *fiber.Ctx) error {
	k, ctx, now := kioskOf(c), c.UserContext(), s.now()
	var req apiv1.KioskStaffLogin
	if err := decode(c, &req); err != nil {
		return err
	}
	username := identity.CanonicalUsername(req.Username)
	refuse := func(actor audit.Actor, reason string) error {
		_ = s.audit(ctx, actor, "staff.kiosk_login_failed", "", map[string]string{"reason": reason, "kiosk": k.ID})
		return errf(apiv1.CodeBadCredentials, "wrong username or PIN")
	}
	if len(username) == 0 || len(username) > 64 || !pinShaped(req.PIN) {
		return refuse(audit.Kiosk(k.ID), "malformed")
	}
	for _, lim := range []struct {
		l   *sharedLimiter
		key string
	}{{s.loginLim, "pin\x00" + username}, {s.ipLim, "kiosk\x00" + k.ID}} {
		if ok, wait, err := lim.l.allow(ctx, lim.key, now); err != nil {
			return storeErr(err, "login limit")
		} else if !ok {
			s.metrics.rateLimited.Inc()
			return errf(apiv1.CodeRateLimited, "too many login attempts").retryAfter(retrySeconds(wait))
		}
	}
	st, err := s.st.GetStaffByUsername(ctx, username)
	if errors.Is(err, store.ErrNotFound) {
		_, _ = password.Verify(dummyHash, req.PIN) // as long as a real check
		return refuse(audit.Kiosk(k.ID), "unknown_user")
	} else if err != nil {
		return storeErr(err, "staff")
	}
	actor := audit.Staff(st.ID)
	// The station comes first: another station's staff get no PIN check
	// here at all, so a PIN cannot be tried at another station's kiosk.
	if !slices.Contains(kioskRoles, st.Role) || st.StationID == "" || st.StationID != k.StationID {
		_ = s.audit(ctx, actor, "staff.kiosk_login_failed", "staff:"+strconv.FormatInt(st.ID, 10), map[string]string{"reason": "other_station", "kiosk": k.ID})
		return errf(apiv1.CodeStationMismatch, "only staff of this kiosk's station log in here")
	}
	pin, err := s.st.GetStaffPIN(ctx, st.ID)
	if errors.Is(err, store.ErrNotFound) {
		_, _ = password.Verify(dummyHash, req.PIN)
		return refuse(actor, "no_pin")
	} else if err != nil {
		return storeErr(err, "staff PIN")
	}
	if st.Disabled {
		_, _ = password.Verify(dummyHash, req.PIN)
		return refuse(actor, "disabled")
	}
	if pin.Locked {
		_ = s.audit(ctx, actor, "staff.kiosk_login_failed", "staff:"+strconv.FormatInt(st.ID, 10), map[string]string{"reason": "pin_locked", "kiosk": k.ID})
		return errf(apiv1.CodePINLocked, "the PIN is locked after too many wrong PINs; set it again in the office")
	}
	ok, verr := password.Verify(pin.Hash, req.PIN)
	ok = ok && verr == nil
	after, err := s.st.RecordPINAttempt(ctx, actor, st.ID, ok, PINMaxFailures, k.ID)
	if err != nil {
		return storeErr(err, "staff PIN")
	}
	if after.Locked {
		return errf(apiv1.CodePINLocked, "the PIN is locked after too many wrong PINs; set it again in the office")
	}
	if !ok {
		e := errf(apiv1.CodeBadCredentials, "wrong username or PIN")
		left := max(PINMaxFailures-after.Failures, 0)
		e.detail.AttemptsLeft = &left
		return e
	}
	tok, sess, err := s.sessions.open(ctx, st, origin{kiosk: k.ID}, now)
	if err != nil {
		return storeErr(err, "session")
	}
	if err := s.audit(ctx, actor, "staff.login", "staff:"+strconv.FormatInt(st.ID, 10), map[string]string{"kiosk": k.ID, "method": "pin"}); err != nil {
		return errors.Join(err, s.sessions.close(ctx, tok))
	}
	v := sessionView(tok, sess)
	v.Name, v.Station = st.DisplayName, st.StationID
	if v.Name == "" {
		v.Name = st.Username
	}
	return c.Status(http.StatusCreated).JSON(v)
}

// setPINOnly checks, hashes and stores a new PIN: the one path of the API
// and the back-office page.
func (s *Server) setPINOnly(ctx context.Context, actor audit.Actor, staffID int64, pin string) error {
	if err := checkNewPIN(pin); err != nil {
		return err
	}
	h, err := password.Hash(pin)
	if err != nil {
		return err
	}
	if err := s.st.SetStaffPIN(ctx, actor, staffID, h); errors.Is(err, store.ErrNotFound) {
		return errf(apiv1.CodeNotFound, "no staff member %d", staffID)
	} else if err != nil {
		return storeErr(err, "staff PIN")
	}
	return nil
}

// setPIN sets a PIN and answers 204.
func (s *Server) setPIN(c *fiber.Ctx, staffID int64, pin string) error {
	if err := s.setPINOnly(c.UserContext(), staffActor(c), staffID, pin); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

// handleSetOwnPIN: a staff member sets their own PIN in the office,
// confirming it with their password.
func (s *Server) handleSetOwnPIN(c *fiber.Ctx) error {
	var req apiv1.PINChange
	if err := decode(c, &req); err != nil {
		return err
	}
	sess := sessionOf(c)
	st, err := s.st.GetStaff(c.UserContext(), sess.staffID)
	if err != nil {
		return storeErr(err, "staff")
	}
	if ok, err := s.confirmPassword(c.UserContext(), st, req.Password); err != nil {
		return err
	} else if !ok {
		_ = s.audit(c.UserContext(), staffActor(c), "staff.pin_set_refused", "staff:"+strconv.FormatInt(st.ID, 10), map[string]string{"reason": "bad_password"})
		return errf(apiv1.CodeBadCredentials, "wrong password")
	}
	return s.setPIN(c, st.ID, req.PIN)
}

// handleSetStaffPIN: an administrator sets (or, after a lock, resets) a
// staff member's PIN.
func (s *Server) handleSetStaffPIN(c *fiber.Ctx) error {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || id <= 0 {
		return badRequest("staff id must be a positive integer")
	}
	var req apiv1.PINChange
	if err := decode(c, &req); err != nil {
		return err
	}
	return s.setPIN(c, id, req.PIN)
}

// consentMaxAge is how long before the enrolment reaches the server the
// resident's confirmation may have been given (the captures take minutes).
const consentMaxAge = 30 * time.Minute

// checkConsent is the one rule for an enrolment's consent.
func (s *Server) checkConsent(cs *apiv1.EnrolConsent, now time.Time) error {
	switch {
	case cs == nil:
		return errf(apiv1.CodeConsentRequired, "the resident's consent to biometric enrolment is required")
	case !slices.Contains(apiv1.ConsentTextVersions, cs.TextVersion):
		return errf(apiv1.CodeConsentRequired, "consent text %q is not one the server accepts", cs.TextVersion)
	case cs.ConfirmedAt.IsZero() || cs.ConfirmedAt.After(now.Add(time.Minute)) || now.Sub(cs.ConfirmedAt) > consentMaxAge:
		return errf(apiv1.CodeConsentRequired, "the consent's time must be within the last %v", consentMaxAge)
	}
	return nil
}

// officePIN is the back office's page where station staff and supervisors
// set their own kiosk PIN, confirmed with their password.
func (s *Server) officePIN(c *fiber.Ctx) error {
	sess := sessionOf(c)
	data := map[string]any{"Title": "设置 PIN 码", "Session": officeSess(sess), "Nav": officeNav(sess)}
	if c.Method() != http.MethodPost {
		return s.render(c, http.StatusOK, "pin.html", data)
	}
	ctx := c.UserContext()
	refuse := func(status int, msg string) error {
		data["Error"] = msg
		return s.render(c, status, "pin.html", data)
	}
	st, err := s.st.GetStaff(ctx, sess.staffID)
	if err != nil {
		return storeErr(err, "staff")
	}
	pw := c.FormValue("password")
	ok, err := s.confirmPassword(ctx, st, pw)
	var limited *apiError
	if errors.As(err, &limited) && limited.detail.Code == apiv1.CodeRateLimited {
		return refuse(limited.status(), "密码尝试过多，请稍后再试。")
	} else if err != nil {
		return err
	} else if !ok {
		_ = s.audit(ctx, staffActor(c), "staff.pin_set_refused", "staff:"+strconv.FormatInt(st.ID, 10), map[string]string{"reason": "bad_password"})
		return refuse(statusOf(apiv1.CodeBadCredentials), "登录密码不对，PIN 码没有设置。")
	}
	pin := c.FormValue("pin")
	if pin != c.FormValue("pin2") {
		return refuse(http.StatusBadRequest, "两次输入的 PIN 码不一样，请重新输入。")
	}
	err = s.setPINOnly(ctx, staffActor(c), st.ID, pin)
	var ae *apiError
	if errors.As(err, &ae) && ae.detail.Code == apiv1.CodePINInvalid {
		return refuse(ae.status(), "PIN 码须为 6 位数字，不能是同一个数字或连续的数字（如 111111、123456、987654）。")
	} else if err != nil {
		return err
	}
	data["Done"] = "PIN 码已设置（如曾锁定，已解锁）。请在本站的自助终端上用用户名和新 PIN 码登录。"
	return s.render(c, http.StatusOK, "pin.html", data)
}
