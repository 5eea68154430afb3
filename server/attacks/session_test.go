package attacks

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// TestAttackKioskPINSessionOffKiosk: a thief with a stolen kiosk key who
// has shoulder-surfed a supervisor's six-digit PIN logs the supervisor in
// at kiosk A. The session was a bearer token good for the supervisor's
// whole API (docs/security.md, threat 1); now it is valid only in kiosk
// A's signed requests to the kiosk staff endpoints. Used (a) as a bearer
// on the office and admin API and pages, from anywhere or signed by kiosk
// A, (b) in kiosk B's signed request, (c) unsigned, it is refused with
// the exact code, and it approves, overrides and unlocks nothing; at kiosk
// A it still works. An office session does not work at the kiosk either.
func TestAttackKioskPINSessionOffKiosk(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		ctx := tg.ctx()
		s := tg.enrolledStation("kiosk-a")
		kB := tg.newKiosk("kiosk-b")
		tg.staffInStore("boss", store.RoleSupervisor, "", tg.station)
		// What a supervisor decides: a pending replacement of s.p's
		// enrolment, a suspected duplicate (another person with s.p's
		// fingers), an ID number's lockout.
		other := tg.newPerson("替换者", false)
		r, err := s.staff.Enrol(ctx, tg.enrolRequest(s.staff, s.p, other.fingers))
		if err != nil || !r.Pending {
			t.Fatalf("replacement request: %+v %v", r, err)
		}
		dup := tg.newPerson("重复者", false)
		_, err = s.staff.Enrol(ctx, tg.enrolRequest(s.staff, dup, s.p.fingers))
		refused(t, err, http.StatusConflict, apiv1.CodeDuplicateSuspected)
		caseID := err.(*apiv1.Error).CaseID
		locked := tg.newPerson("锁定者", false)

		bossA := s.k.staffAt("boss") // the thief at kiosk A, with the PIN
		tok := bossA.StaffToken
		anywhere := tg.client().WithStaff(tok)
		atB := kB.WithStaff(tok)
		approve := fmt.Sprintf("%s/%d/approve", apiv1.PathReplacements, r.ReplacementID)
		override := fmt.Sprintf("%s/%d/override", apiv1.PathCases, caseID)
		kioskOverride := fmt.Sprintf("%s/%d/override", apiv1.PathKioskCases, caseID)
		inPerson := apiv1.ReplacementDecision{Basis: apiv1.BasisInPerson, Reason: "checked in person"}
		why := apiv1.CaseDecision{Reason: "twins, checked"}
		unlock := apiv1.LockoutUnlock{IDNumber: locked.card.IDNumber, Reason: "checked in person"}
		for _, tc := range []struct {
			name         string
			c            *apiv1.Client
			method, path string
			body         any
			status       int
			code         string
		}{
			{"(a) approve the replacement, from anywhere", anywhere, "POST", approve, inPerson, 403, apiv1.CodeSessionKioskBound},
			{"(a) override the duplicate case, from anywhere", anywhere, "POST", override, why, 403, apiv1.CodeSessionKioskBound},
			{"(a) unlock the lockout, from anywhere", anywhere, "POST", apiv1.PathLockoutUnlock, unlock, 403, apiv1.CodeSessionKioskBound},
			{"(a) list the cases, from anywhere", anywhere, "GET", apiv1.PathCases, nil, 403, apiv1.CodeSessionKioskBound},
			{"(a) an admin route, from anywhere", anywhere, "GET", apiv1.PathAdminStaff, nil, 403, apiv1.CodeSessionKioskBound},
			{"(a) the session itself, from anywhere", anywhere, "GET", apiv1.PathSessionCurrent, nil, 403, apiv1.CodeSessionKioskBound},
			{"(a) approve the replacement, signed by kiosk A", bossA.Client, "POST", approve, inPerson, 403, apiv1.CodeSessionKioskBound},
			{"(a) unlock on the office route, signed by kiosk A", bossA.Client, "POST", apiv1.PathLockoutUnlock, unlock, 403, apiv1.CodeSessionKioskBound},
			{"(b) override at kiosk B", atB, "POST", kioskOverride, why, 403, apiv1.CodeSessionKioskBound},
			{"(b) unlock at kiosk B", atB, "POST", apiv1.PathKioskLockoutUnlock, unlock, 403, apiv1.CodeSessionKioskBound},
			{"(b) enrol at kiosk B", atB, "POST", apiv1.PathKioskEnrolments, apiv1.EnrolRequest{Card: other.card}, 403, apiv1.CodeSessionKioskBound},
			{"(c) override on the kiosk route, unsigned", anywhere, "POST", kioskOverride, why, 401, apiv1.CodeSignatureMissing},
			{"(c) unlock on the kiosk route, unsigned", anywhere, "POST", apiv1.PathKioskLockoutUnlock, unlock, 401, apiv1.CodeSignatureMissing},
			{"an office session at kiosk A", s.k.WithStaff(tg.login("boss").StaffToken), "POST", kioskOverride, why, 403, apiv1.CodeKioskSessionRequired},
		} {
			t.Run(tc.name, func(t *testing.T) {
				refused(t, tc.c.Do(ctx, tc.method, tc.path, tc.body, nil), tc.status, tc.code)
			})
		}
		// The office pages, with the token as the session cookie.
		for _, path := range []string{"/office", "/office/lockouts"} {
			if r := tg.office("GET", path, nil, tok); r.status != http.StatusForbidden || !strings.Contains(r.body, "自助终端") {
				t.Errorf("ATTACK SUCCEEDED? GET %s with the kiosk session as cookie: %d", path, r.status)
			}
		}
		// Nothing was decided.
		if n := tg.count(`SELECT count(*) FROM enrolment_replacements WHERE id = ? AND status = 'pending'`, r.ReplacementID); n != 1 {
			t.Fatal("ATTACK SUCCEEDED: the replacement was decided")
		}
		if n := tg.count(`SELECT count(*) FROM dedup_cases WHERE id = ? AND status = 'open'`, caseID); n != 1 {
			t.Fatal("ATTACK SUCCEEDED: the case was decided")
		}
		if n := tg.count(`SELECT count(*) FROM audit_events WHERE action = 'lockout.unlock'`); n != 0 {
			t.Fatal("ATTACK SUCCEEDED: an unlock was recorded")
		}
		// Every refusal of the session is audited with both kiosks.
		if n := tg.count(`SELECT count(*) FROM audit_events WHERE action = 'staff.session_refused'`); n != 14 {
			t.Errorf("%d staff.session_refused audit records, want 14 (8 on the API, 3 at kiosk B, 2 pages, the office session at A)", n)
		}

		// At kiosk A the supervisor's session still does its job.
		c, err := bossA.OverrideCaseAtKiosk(ctx, caseID, "同卵双胞胎，已核实户籍")
		if err != nil || c.Status != apiv1.CaseOverridden {
			t.Fatalf("override at its own kiosk: %+v %v", c, err)
		}
	})
}
