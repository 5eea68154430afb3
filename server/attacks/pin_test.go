package attacks

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/password"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// Attacks on the staff login at the kiosk (username and PIN, signed by the
// kiosk; docs/api.md, "Staff at the kiosk").

// pinInStore sets username's kiosk PIN with a cheap hash (as staffInStore
// does for passwords) and returns the staff id.
func (tg *target) pinInStore(username, pin string) int64 {
	tg.t.Helper()
	st, err := tg.st.GetStaffByUsername(tg.ctx(), username)
	if err != nil {
		tg.t.Fatal(err)
	}
	h, err := password.HashWith(pin, cheap())
	if err != nil {
		tg.t.Fatal(err)
	}
	must(tg.t, tg.st.SetStaffPIN(tg.ctx(), audit.System("console"), st.ID, h))
	return st.ID
}

func TestAttackPINBruteForce(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		tg.staffInStore("zhao", store.RoleStationStaff, "", tg.station)
		id := tg.pinInStore("zhao", "246813")
		k := tg.newKiosk("kiosk-pin")
		ctx := tg.ctx()
		// Five wrong PINs: the fifth locks it; the attempts left count down.
		for i := 0; i < 4; i++ {
			_, err := k.KioskStaffLogin(ctx, "zhao", fmt.Sprintf("%06d", 100000+i*7))
			refused(t, err, 401, apiv1.CodeBadCredentials)
			var ae *apiv1.Error
			if !errors.As(err, &ae) || ae.AttemptsLeft == nil || *ae.AttemptsLeft != 4-i {
				t.Fatalf("wrong PIN %d: attempts left %v", i+1, err)
			}
		}
		_, err := k.KioskStaffLogin(ctx, "zhao", "999990")
		refused(t, err, 423, apiv1.CodePINLocked)
		// The right PIN no longer opens it, from this kiosk or another of
		// the station, nor in another spelling of the username.
		k2 := tg.newKiosk("kiosk-pin-2")
		for _, c := range []struct {
			k    *kiosk
			user string
		}{{k, "zhao"}, {k2, "zhao"}, {k, " ZHAO"}} {
			_, err := c.k.KioskStaffLogin(ctx, c.user, "246813")
			refused(t, err, 423, apiv1.CodePINLocked)
		}
		if n := tg.count(`SELECT count(*) FROM staff_pins WHERE staff_id = ? AND failures = 5 AND locked_at IS NOT NULL`, id); n != 1 {
			t.Fatalf("the lock is not in the store (%d rows)", n)
		}
		// Setting the PIN again in the office (an administrator) unlocks it.
		must(t, tg.admin.Do(ctx, "PUT", fmt.Sprintf("%s/%d/pin", apiv1.PathAdminStaff, id), apiv1.PINChange{PIN: "318642"}, nil))
		s, err := k.KioskStaffLogin(ctx, "zhao", "318642")
		if err != nil || s.Token == "" || s.Station != tg.station {
			t.Fatalf("login after the reset: %+v %v", s, err)
		}
		// Malformed PINs are refused before any work and count nothing.
		for _, bad := range []string{"", "12345", "1234567", "12345a", "１２３４５６"} {
			_, err := k.KioskStaffLogin(ctx, "zhao", bad)
			refused(t, err, 401, apiv1.CodeBadCredentials)
		}
		if n := tg.count(`SELECT count(*) FROM staff_pins WHERE staff_id = ? AND failures = 0`, id); n != 1 {
			t.Fatalf("malformed PINs were counted")
		}
	})
}

func TestAttackPINOtherStation(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		tg.station2("QS-OTHER")
		tg.staffInStore("qian", store.RoleStationStaff, "", "QS-OTHER")
		tg.staffInStore("sun", store.RoleSupervisor, "", "QS-OTHER")
		tg.staffInStore("boss", store.RoleSupervisor, "", "") // no station
		tg.staffInStore("root", store.RoleAdmin, "", "")
		tg.staffInStore("li", store.RoleDepartmentOfficer, "civil_affairs", "")
		ids := map[string]int64{}
		for _, u := range []string{"qian", "sun", "boss", "root", "li"} {
			ids[u] = tg.pinInStore(u, "357911")
		}
		k := tg.newKiosk("kiosk-here")
		ctx := tg.ctx()
		for u := range ids {
			// Right PIN or wrong: refused for the station before the PIN.
			for _, pin := range []string{"357911", "000001"} {
				_, err := k.KioskStaffLogin(ctx, u, pin)
				refused(t, err, 403, apiv1.CodeStationMismatch)
			}
			if n := tg.count(`SELECT count(*) FROM staff_pins WHERE staff_id = ? AND failures = 0`, ids[u]); n != 1 {
				t.Errorf("%s: a PIN tried at another station's kiosk was checked", u)
			}
		}
		// At their own station's kiosk the PIN works.
		kOther := tg.newKioskAt("kiosk-there", "QS-OTHER")
		if _, err := kOther.KioskStaffLogin(ctx, "qian", "357911"); err != nil {
			t.Fatalf("own station: %v", err)
		}
	})
}

// A kiosk's key alone (a stolen kiosk, a copied key file) opens no staff
// mode: every staff endpoint needs a staff session as well, and a session
// at the kiosk needs a staff member's PIN.
func TestAttackStolenKioskKeyNoStaffMode(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		tg.staffInStore("nopin", store.RoleStationStaff, "", tg.station)
		k := tg.newKiosk("kiosk-stolen")
		p := tg.newPerson("王五", false)
		ctx := tg.ctx()
		for _, tc := range []struct {
			name string
			path string
			body any
		}{
			{"enrol", apiv1.PathKioskEnrolments, tg.enrolRequest(k, p, nil)},
			{"unlock", apiv1.PathKioskLockoutUnlock, apiv1.LockoutUnlock{IDNumber: p.card.IDNumber, Reason: "stolen key"}},
			{"identify", apiv1.PathKioskIdentify, apiv1.IdentifyRequest{}},
			{"identify confirm", apiv1.PathKioskIdentifyConfirm, apiv1.IdentifyConfirmRequest{CandidateID: "x"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				refused(t, k.Do(ctx, "POST", tc.path, tc.body, nil), 401, apiv1.CodeUnauthenticated)
			})
		}
		// Staff login with the key but no PIN, an account without a PIN, an
		// unknown account: all the same answer.
		for _, c := range []struct{ user, pin string }{{"nopin", ""}, {"nopin", "246813"}, {"nobody", "246813"}, {"admin", "246813"}} {
			_, err := k.KioskStaffLogin(ctx, c.user, c.pin)
			if c.user == "admin" {
				refused(t, err, 403, apiv1.CodeStationMismatch)
				continue
			}
			refused(t, err, 401, apiv1.CodeBadCredentials)
		}
		// Without the kiosk's signature the kiosk login is not reached.
		refused(t, tg.client().Do(ctx, "POST", apiv1.PathKioskStaffLogin, apiv1.KioskStaffLogin{Username: "nopin", PIN: "246813"}, nil), 401, apiv1.CodeSignatureMissing)
	})
}

// A resident's card and finger open the resident's journey only: the
// filing token is no staff session, and nothing a resident holds logs in
// at the kiosk as staff.
func TestAttackResidentNeverStaff(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		s := tg.enrolledStation("kiosk-res")
		ctx := tg.ctx()
		vr := mustV[*apiv1.VerifyResponse](t)(s.k.Verify(ctx, tg.verifyRequest(s.k, s.p, s.p.fingers[apiv1.RightIndex])))
		asStaff := &kiosk{Client: s.k.WithStaff(vr.Token), tg: tg, scanner: s.k.scanner}
		refused(t, asStaff.Do(ctx, "POST", apiv1.PathKioskEnrolments, tg.enrolRequest(asStaff, tg.newPerson("赵六", false), nil), nil), 401, apiv1.CodeUnauthenticated)
		refused(t, asStaff.Do(ctx, "GET", apiv1.PathSessionCurrent, nil, nil), 401, apiv1.CodeUnauthenticated)
		refused(t, asStaff.Do(ctx, "POST", apiv1.PathKioskLockoutUnlock, apiv1.LockoutUnlock{IDNumber: s.p.card.IDNumber, Reason: "resident"}, nil), 401, apiv1.CodeUnauthenticated)
		// The resident's ID number or name as a username, the token or the
		// ID number's digits as a PIN: no staff account answers.
		for _, c := range []struct{ user, pin string }{
			{s.p.card.IDNumber, s.p.card.IDNumber[len(s.p.card.IDNumber)-6:]},
			{s.p.card.Name, "246813"},
			{vr.Token, "246813"},
		} {
			_, err := s.k.KioskStaffLogin(ctx, c.user, c.pin)
			refused(t, err, 401, apiv1.CodeBadCredentials)
		}
	})
}

// An enrolment without the resident's consent is refused before anything
// is consumed or stored.
func TestAttackEnrolmentWithoutConsent(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		tg.staffInStore("clerk", store.RoleStationStaff, "", tg.station)
		k := tg.newKiosk("kiosk-consent").staffAt("clerk")
		p := tg.newPerson("钱七", false)
		ctx := tg.ctx()
		now := tg.clock.Now()
		for _, tc := range []struct {
			name    string
			consent *apiv1.EnrolConsent
		}{
			{"none", nil},
			{"unknown text", &apiv1.EnrolConsent{TextVersion: "made-up", ConfirmedAt: now}},
			{"no time", &apiv1.EnrolConsent{TextVersion: apiv1.ConsentTextVersion}},
			{"stale", &apiv1.EnrolConsent{TextVersion: apiv1.ConsentTextVersion, ConfirmedAt: now.Add(-2 * time.Hour)}},
			{"future", &apiv1.EnrolConsent{TextVersion: apiv1.ConsentTextVersion, ConfirmedAt: now.Add(10 * time.Minute)}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				req := tg.enrolRequest(k, p, nil)
				req.Consent = tc.consent
				_, err := k.Enrol(ctx, req)
				refused(t, err, 422, apiv1.CodeConsentRequired)
			})
		}
		if n := tg.count(`SELECT count(*) FROM enrolments`); n != 0 {
			t.Fatalf("%d enrolments stored without consent", n)
		}
		if n := tg.count(`SELECT count(*) FROM enrolment_consents`); n != 0 {
			t.Fatalf("%d consents stored", n)
		}
		// With it, the consent is stored with the enrolment.
		if _, err := k.Enrol(ctx, tg.enrolRequest(k, p, nil)); err != nil {
			t.Fatal(err)
		}
		if n := tg.count(`SELECT count(*) FROM enrolment_consents WHERE text_version = ? AND kiosk_id = ?`, apiv1.ConsentTextVersion, "kiosk-consent"); n != 1 {
			t.Fatalf("%d consents stored with the enrolment", n)
		}
	})
}

// Setting a PIN: one's own only with one's password (a session left open
// on the office PC does not let the next person set a PIN), someone else's
// only as an administrator, and never an easy one.
func TestAttackPINSet(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		tg.staffInStore("zhou", store.RoleStationStaff, "", tg.station)
		tg.staffInStore("wu", store.RoleStationStaff, "", tg.station)
		tg.staffInStore("li", store.RoleDepartmentOfficer, "civil_affairs", "")
		zhou, li := tg.login("zhou"), tg.login("li")
		ctx := tg.ctx()
		wu, err := tg.st.GetStaffByUsername(ctx, "wu")
		must(t, err)
		refused(t, zhou.Do(ctx, "PUT", apiv1.PathSessionPIN, apiv1.PINChange{Password: "not the password", PIN: "246813"}, nil), 401, apiv1.CodeBadCredentials)
		refused(t, zhou.Do(ctx, "PUT", apiv1.PathSessionPIN, apiv1.PINChange{Password: pw, PIN: "123456"}, nil), 422, apiv1.CodePINInvalid)
		refused(t, li.Do(ctx, "PUT", apiv1.PathSessionPIN, apiv1.PINChange{Password: pw, PIN: "246813"}, nil), 403, apiv1.CodeForbidden)
		refused(t, zhou.Do(ctx, "PUT", fmt.Sprintf("%s/%d/pin", apiv1.PathAdminStaff, wu.ID), apiv1.PINChange{PIN: "246813"}, nil), 403, apiv1.CodeForbidden)
		refused(t, tg.client().Do(ctx, "PUT", apiv1.PathSessionPIN, apiv1.PINChange{Password: pw, PIN: "246813"}, nil), 401, apiv1.CodeUnauthenticated)
		must(t, zhou.Do(ctx, "PUT", apiv1.PathSessionPIN, apiv1.PINChange{Password: pw, PIN: "246813"}, nil))
		k := tg.newKiosk("kiosk-set")
		s, err := k.KioskStaffLogin(ctx, "zhou", "246813")
		if err != nil || s.Role != string(store.RoleStationStaff) {
			t.Fatalf("login with the PIN set: %+v %v", s, err)
		}
		if n := tg.count(`SELECT count(*) FROM audit_events WHERE action = 'staff.pin_set'`); n != 1 {
			t.Fatalf("%d staff.pin_set audit records, want 1", n)
		}
	})
}
