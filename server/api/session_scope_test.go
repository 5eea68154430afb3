package api

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// TestSessionScope is the one rule of where a session may be used: a PIN
// session of a kiosk only in that kiosk's signed requests to the kiosk
// staff endpoints, which take no other session.
func TestSessionScope(t *testing.T) {
	k1, k2 := &store.Kiosk{ID: "K1"}, &store.Kiosk{ID: "K2"}
	office, atK1 := &session{}, &session{kiosk: "K1"}
	bound, required := apiv1.CodeSessionKioskBound, apiv1.CodeKioskSessionRequired
	for _, tc := range []struct {
		name string
		sess *session
		a    auth
		k    *store.Kiosk
		want string
	}{
		{"office session, office API", office, authStaff, nil, ""},
		{"office session, office page", office, authOffice, nil, ""},
		{"office session in a kiosk's signed staff request", office, authKioskStaff, k1, required},
		{"kiosk session at its kiosk", atK1, authKioskStaff, k1, ""},
		{"kiosk session at another kiosk", atK1, authKioskStaff, k2, bound},
		{"kiosk session unsigned on a kiosk staff route", atK1, authKioskStaff, nil, bound},
		{"kiosk session on the office API", atK1, authStaff, nil, bound},
		{"kiosk session on the office API, signed by its kiosk", atK1, authStaff, k1, bound},
		{"kiosk session on an office page", atK1, authOffice, nil, bound},
	} {
		if got := sessionScope(tc.sess, tc.a, tc.k); got != tc.want {
			t.Errorf("%s: sessionScope = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestKioskSessionBound: a supervisor's PIN session of kiosk K1 is refused
// on the office API, on the office pages (as a cookie) and in K2's signed
// requests, each refusal audited; it still works at K1, idles out after
// the kiosk's idle time (an office session does not), and the kiosk logs
// it out.
func TestKioskSessionBound(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.mustStaff("boss", store.RoleSupervisor, "", "QS-S01")
	e.mustStaff("zhang", store.RoleStationStaff, "", "QS-S01")
	k1, k2 := e.newKiosk("K1"), e.newKiosk("K2")
	atK1 := e.loginAtKiosk(k1, "boss")
	tok := atK1.StaffToken
	lockout := apiv1.LockoutUnlock{IDNumber: "150204195001010013", Reason: "checked in person"}

	for _, tc := range []struct {
		name         string
		c            *apiv1.Client
		method, path string
		body         any
		status       int
		code         string
	}{
		{"office API: current session", e.client().WithStaff(tok), "GET", apiv1.PathSessionCurrent, nil, 403, apiv1.CodeSessionKioskBound},
		{"office API: duplicate cases", e.client().WithStaff(tok), "GET", apiv1.PathCases, nil, 403, apiv1.CodeSessionKioskBound},
		{"office API: unlock", e.client().WithStaff(tok), "POST", apiv1.PathLockoutUnlock, lockout, 403, apiv1.CodeSessionKioskBound},
		{"office API: log out", e.client().WithStaff(tok), "DELETE", apiv1.PathSessionCurrent, nil, 403, apiv1.CodeSessionKioskBound},
		{"office API signed by its own kiosk", atK1, "GET", apiv1.PathCases, nil, 403, apiv1.CodeSessionKioskBound},
		{"another kiosk's signed request", k2.WithStaff(tok), "POST", apiv1.PathKioskCases + "/1/override", apiv1.CaseDecision{Reason: "twins, checked"}, 403, apiv1.CodeSessionKioskBound},
		{"unsigned to the kiosk staff route", e.client().WithStaff(tok), "POST", apiv1.PathKioskCases + "/1/override", apiv1.CaseDecision{Reason: "twins, checked"}, 401, apiv1.CodeSignatureMissing},
		{"an office session at the kiosk", k1.WithStaff(e.login("boss").StaffToken), "POST", apiv1.PathKioskCases + "/1/override", apiv1.CaseDecision{Reason: "twins, checked"}, 403, apiv1.CodeKioskSessionRequired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantStatus(t, tc.c.Do(ctx, tc.method, tc.path, tc.body, nil), tc.status, tc.code)
		})
	}
	b := &officeBrowser{t: t, e: e, cookie: tok}
	for _, path := range []string{"/office", "/office/lockouts", "/office/pin"} {
		if resp, body := b.do("GET", path, nil); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "自助终端") {
			t.Errorf("GET %s with the kiosk session's cookie: %d %.200s", path, resp.StatusCode, body)
		}
	}
	recs, err := e.st.ListAudit(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	refused := 0
	for _, r := range recs {
		if r.Action == "staff.session_refused" && r.Details["session_kiosk"] == "K1" {
			refused++
		}
	}
	if refused != 9 { // 6 on the API (not the unsigned one, stopped at the signature), 3 pages
		t.Errorf("%d staff.session_refused records, want 9", refused)
	}

	// At its own kiosk the session works (an unknown case, then a case
	// of another kiosk are not found; the session was accepted).
	wantStatus(t, atK1.Do(ctx, "POST", apiv1.PathKioskCases+"/999/override", apiv1.CaseDecision{Reason: "twins, checked"}, nil), 404, apiv1.CodeCaseNotFound)

	// Idle: the kiosk session ends after the kiosk's idle time, an office
	// session of the same time lives on.
	zhang := e.atKiosk(k1, "zhang")
	office := e.login("zhang")
	e.clock.Add(10*time.Minute + time.Second)
	wantStatus(t, zhang.Do(ctx, "POST", apiv1.PathKioskLockoutUnlock, lockout, nil), 401, apiv1.CodeUnauthenticated)
	if err := office.Do(ctx, "GET", apiv1.PathSessionCurrent, nil, nil); err != nil {
		t.Fatalf("office session after 10 min: %v", err)
	}

	// Logging out at the kiosk ends the session.
	atK1 = e.loginAtKiosk(k1, "boss")
	if err := atK1.Do(ctx, "DELETE", apiv1.PathKioskStaffLogout, nil, nil); err != nil {
		t.Fatalf("logout at the kiosk: %v", err)
	}
	wantStatus(t, atK1.Do(ctx, "POST", apiv1.PathKioskCases+"/999/override", apiv1.CaseDecision{Reason: "twins, checked"}, nil), 401, apiv1.CodeUnauthenticated)
}

// TestKioskCaseOverride: the supervisor's confirmation of a suspected
// duplicate at the kiosk goes to the kiosk route with the supervisor's PIN
// session of that kiosk; a case of another kiosk is not found there, and
// station staff may not decide it.
func TestKioskCaseOverride(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.mustStaff("zhang", store.RoleStationStaff, "", "QS-S01")
	e.mustStaff("boss", store.RoleSupervisor, "", "QS-S01")
	k1, k2 := e.newKiosk("K1"), e.newKiosk("K2")
	sk := e.atKiosk(k1, "zhang")
	a := e.newPerson("甲", time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC))
	b := e.newPerson("乙", time.Date(1951, 1, 1, 0, 0, 0, 0, time.UTC))
	e.enrol(sk, a)
	b.fingers = a.fingers
	_, err := sk.Enrol(ctx, e.enrolRequest(sk, b))
	wantCode(t, err, apiv1.CodeDuplicateSuspected)
	id := err.(*apiv1.Error).CaseID
	path := apiv1.PathKioskCases + "/" + itoa(id) + "/override"
	reason := apiv1.CaseDecision{Reason: "同卵双胞胎，已核实户籍"}

	wantStatus(t, sk.Do(ctx, "POST", path, reason, nil), 403, apiv1.CodeForbidden)
	wantStatus(t, e.loginAtKiosk(k2, "boss").Do(ctx, "POST", path, reason, nil), 404, apiv1.CodeCaseNotFound)
	boss := e.loginAtKiosk(k1, "boss")
	var dc apiv1.Case
	if err := boss.Do(ctx, "POST", path, reason, &dc); err != nil || dc.Status != apiv1.CaseOverridden {
		t.Fatalf("override at the kiosk: %+v %v", dc, err)
	}
	seq, _, err := e.st.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := e.st.ListAudit(ctx, seq-1, 1)
	if err != nil || len(recs) != 1 {
		t.Fatal(recs, err)
	}
	if bossID, _ := e.st.GetStaffByUsername(ctx, "boss"); recs[0].Actor != audit.Staff(bossID.ID) {
		t.Errorf("audit of the override: %+v", recs[0])
	}
	req := e.enrolRequest(sk, b)
	req.OverrideCaseID = id
	if r := must[*apiv1.EnrolResponse](t)(sk.Enrol(ctx, req)); r.Pending {
		t.Fatalf("enrolment after the override: %+v", r)
	}
}
