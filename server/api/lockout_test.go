package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// The lockout is decided in the outcome's transaction (issue 11 item 2):
// the early check of the lockout step may be stale, the outcome may not.

var birth = time.Date(1950, 3, 4, 0, 0, 0, 0, time.UTC)

// enrolAt enrols p at kiosk k, a station_staff member ("enroller") in
// staff mode. Once per env.
func (e *env) enrolAt(k *kiosk, p *person) {
	e.t.Helper()
	e.mustStaff("enroller", store.RoleStationStaff, "", "QS-S01")
	e.enrol(e.atKiosk(k, "enroller"), p)
}

// attemptsOf counts the stored verification attempts of an ID number by
// result.
func (e *env) attemptsOf(t *testing.T, idNumber string) map[store.VerificationResult]int {
	t.Helper()
	vs, err := e.st.(interface {
		ListVerifications(context.Context, string, int) ([]store.VerificationAttempt, error)
	}).ListVerifications(context.Background(), idNumber, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := map[store.VerificationResult]int{}
	for _, v := range vs {
		n[v.Result]++
	}
	return n
}

// TestVerificationLockoutRaced fires wrong-finger verifications of one card
// from many kiosks at once, as real signed requests, on both stores: the
// limit of 5 holds exactly (4 answers no_match, the rest locked; exactly 5
// failures stored), and the genuine finger is then refused.
func TestVerificationLockoutRaced(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			e := newEnvOn(t, b)
			const n, limit = 16, 5
			home := e.newKiosk("K-HOME")
			p := e.newPerson("钱多", birth)
			e.enrolAt(home, p)
			impostor := e.newPerson("孙少", birth)
			reqs := make([]*apiv1.VerifyRequest, n)
			ks := make([]*kiosk, n)
			for i := range ks {
				ks[i] = e.newKiosk(fmt.Sprintf("K-R%02d", i))
				reqs[i] = e.verifyRequest(ks[i], p, impostor.fingers[apiv1.RightIndex])
			}
			errs := make([]error, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range ks {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					_, errs[i] = ks[i].Verify(context.Background(), reqs[i])
				}()
			}
			close(start)
			wg.Wait()
			codes := map[string]int{}
			for _, err := range errs {
				codes[apiv1.ErrorCode(err)]++
			}
			if codes[apiv1.CodeNoMatch] != limit-1 || codes[apiv1.CodeLocked] != n-limit+1 {
				t.Fatalf("%d concurrent wrong fingers against a limit of %d answered %v; want %d no_match, %d locked", n, limit, codes, limit-1, n-limit+1)
			}
			got := e.attemptsOf(t, p.card.IDNumber)
			if got[store.VerifyNoMatch] != limit || got[store.VerifyMatch] != 0 {
				t.Fatalf("stored attempts %v: want exactly %d no_match", got, limit)
			}
			// Those that passed the early check were recorded as
			// locked_out; the others were refused before the capture.
			if got[store.VerifyLockedOut] > n-limit {
				t.Errorf("stored attempts %v: more than %d locked_out", got, n-limit)
			}
			if l, err := e.st.GetLockout(context.Background(), p.card.IDNumber); err != nil || l.Failures != limit || !l.Locked(e.clock.Now()) {
				t.Errorf("lockout = %+v, %v", l, err)
			}
			_, err := home.Verify(context.Background(), e.verifyRequest(home, p, p.fingers[apiv1.RightIndex]))
			wantCode(t, err, apiv1.CodeLocked)
		})
	}
}

// staleLockout answers the lockout step's early check as if the ID number
// were never locked: what a request sees when it reads the lockout just
// before a concurrent failure locks it.
type staleLockout struct{ store.Store }

func (s staleLockout) GetLockout(_ context.Context, idNumber string) (store.Lockout, error) {
	return store.Lockout{IDNumber: idNumber}, nil
}

// TestVerificationMatchWhileLocked: a genuine match whose early check
// missed the lock is recorded as locked_out and gets no token; the lock
// and its failure count stay, and no match is audited. On both stores.
func TestVerificationMatchWhileLocked(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			e := newEnvOn(t, b, func(c *Config) { c.Store = staleLockout{c.Store} })
			ctx := context.Background()
			k := e.newKiosk("K-0001")
			p := e.newPerson("钱多", birth)
			e.enrolAt(k, p)
			impostor := e.newPerson("孙少", birth)
			for i := 1; i <= 5; i++ {
				ki := e.newKiosk(fmt.Sprintf("K-I%02d", i)) // no kiosk backoff in the way
				_, err := ki.Verify(ctx, e.verifyRequest(ki, p, impostor.fingers[apiv1.RightIndex]))
				if i < 5 {
					wantCode(t, err, apiv1.CodeNoMatch)
				} else {
					wantCode(t, err, apiv1.CodeLocked)
				}
			}
			before, err := e.st.GetLockout(ctx, p.card.IDNumber)
			if err != nil || !before.Locked(e.clock.Now()) {
				t.Fatalf("not locked after 5 failures: %+v, %v", before, err)
			}
			audits := func() int {
				recs, err := e.st.ListAudit(ctx, 0, 10000)
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for _, r := range recs {
					if r.Action == "verification.match" {
						n++
					}
				}
				return n
			}
			matches := audits()
			for i := 0; i < 3; i++ {
				out, err := k.Verify(ctx, e.verifyRequest(k, p, p.fingers[apiv1.RightIndex]))
				wantCode(t, err, apiv1.CodeLocked)
				if out != nil && out.Token != "" {
					t.Fatalf("a match while locked got a token")
				}
			}
			got := e.attemptsOf(t, p.card.IDNumber)
			if got[store.VerifyMatch] != 0 || got[store.VerifyLockedOut] != 3 || got[store.VerifyNoMatch] != 5 {
				t.Errorf("stored attempts %v: want the 5 failures and the 3 genuine fingers as locked_out", got)
			}
			if audits() != matches {
				t.Errorf("a match was audited while locked")
			}
			after, err := e.st.GetLockout(ctx, p.card.IDNumber)
			if err != nil || after.Failures != before.Failures || !after.LockedUntil.Equal(*before.LockedUntil) {
				t.Errorf("lockout changed by matches while locked: %+v, was %+v", after, before)
			}
		})
	}
}

// lockWith fails p's verification at fresh kiosks until it locks, checking
// the attempts_left the server announces; it returns the locked answer.
func (e *env) lockWith(t *testing.T, p, impostor *person, tag string) *apiv1.Error {
	t.Helper()
	for i := 1; i <= 5; i++ {
		k := e.newKiosk(fmt.Sprintf("K-%s%02d", tag, i))
		_, err := k.Verify(context.Background(), e.verifyRequest(k, p, impostor.fingers[apiv1.RightIndex]))
		ae, ok := err.(*apiv1.Error)
		if !ok {
			t.Fatalf("attempt %d: %v", i, err)
		}
		if i < 5 {
			if ae.Code != apiv1.CodeNoMatch || ae.AttemptsLeft == nil || *ae.AttemptsLeft != 5-i || ae.LockedUntil != nil {
				t.Fatalf("attempt %d: %+v (attempts_left %v), want no_match with %d attempts left", i, ae, ae.AttemptsLeft, 5-i)
			}
			continue
		}
		if ae.Code != apiv1.CodeLocked || ae.AttemptsLeft == nil || *ae.AttemptsLeft != 0 || ae.LockedUntil == nil {
			t.Fatalf("attempt %d: %+v, want locked with attempts_left 0 and locked_until", i, ae)
		}
		return ae
	}
	return nil
}

// TestVerificationLockFields: no_match and locked carry attempts_left and
// locked_until, machine-readable, and locked_until agrees with
// retry_after_s and with the store.
func TestVerificationLockFields(t *testing.T) {
	e := newEnv(t)
	k := e.newKiosk("K-0001")
	p := e.newPerson("钱多", birth)
	e.enrolAt(k, p)
	ae := e.lockWith(t, p, e.newPerson("孙少", birth), "F")
	now := e.clock.Now()
	l, err := e.st.GetLockout(context.Background(), p.card.IDNumber)
	if err != nil || !ae.LockedUntil.Equal(l.LockedUntil.Truncate(time.Second)) && !ae.LockedUntil.Equal(*l.LockedUntil) {
		t.Errorf("locked_until %v, the store says %v (%v)", ae.LockedUntil, l.LockedUntil, err)
	}
	if got := int(ae.LockedUntil.Sub(now).Seconds() + 0.5); got < ae.RetryAfterSeconds-1 || got > ae.RetryAfterSeconds+1 {
		t.Errorf("locked_until is %d s away, retry_after_s %d", got, ae.RetryAfterSeconds)
	}
	// The early refusal (the lockout step) says the same.
	_, err = k.Verify(context.Background(), e.verifyRequest(k, p, p.fingers[apiv1.RightIndex]))
	if ae2, ok := err.(*apiv1.Error); !ok || ae2.Code != apiv1.CodeLocked || ae2.AttemptsLeft == nil || *ae2.AttemptsLeft != 0 || !ae2.LockedUntil.Equal(*ae.LockedUntil) {
		t.Errorf("early refusal %+v", err)
	}
}

// TestUnlock: who may unlock an ID number, with a reason, and the audit of
// it (explained by the reconciliation of audit verify).
func TestUnlock(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.st.CreateStation(ctx, audit.System("test"), store.Station{ID: "QS-S02", Name: "青山二站"}); err != nil {
		t.Fatal(err)
	}
	zhang := e.mustStaff("zhang", store.RoleStationStaff, "", "QS-S01")
	e.mustStaff("wang", store.RoleStationStaff, "", "QS-S02")
	e.mustStaff("li", store.RoleDepartmentOfficer, "civil_affairs", "")
	boss := e.mustStaff("boss", store.RoleSupervisor, "", "")
	k := e.newKiosk("K-0001")
	p := e.newPerson("钱多", birth)
	e.enrolAt(k, p)
	impostor := e.newPerson("孙少", birth)
	locked := e.lockWith(t, p, impostor, "A")
	e.mustStaff("boss1", store.RoleSupervisor, "", "QS-S01")
	at := func(username string) *apiv1.Client { return e.loginAtKiosk(k, username) }
	// An office session sent in the kiosk's signed request.
	officeAt := func(username string) *apiv1.Client { return k.WithStaff(e.login(username).StaffToken) }
	body := func(reason string) apiv1.LockoutUnlock {
		return apiv1.LockoutUnlock{IDNumber: p.card.IDNumber, Reason: reason}
	}
	for _, tc := range []struct {
		name string
		c    *apiv1.Client
		path string
		body apiv1.LockoutUnlock
		code string
	}{
		{"station staff of another station at this kiosk (their PIN opens nothing here: office session)", officeAt("wang"), apiv1.PathKioskLockoutUnlock, body("card checked in person"), apiv1.CodeKioskSessionRequired},
		{"station staff with their office session at this kiosk", officeAt("zhang"), apiv1.PathKioskLockoutUnlock, body("card checked in person"), apiv1.CodeKioskSessionRequired},
		{"station staff with their kiosk session outside the kiosk", e.client().WithStaff(at("zhang").StaffToken), apiv1.PathKioskLockoutUnlock, body("card checked in person"), apiv1.CodeSignatureMissing},
		{"station staff without a reason", at("zhang"), apiv1.PathKioskLockoutUnlock, body(""), apiv1.CodeBadRequest},
		{"station staff with a blank reason", at("zhang"), apiv1.PathKioskLockoutUnlock, body(" \t "), apiv1.CodeBadRequest},
		{"station staff with a reason too long", at("zhang"), apiv1.PathKioskLockoutUnlock, body(strings.Repeat("核", 200)), apiv1.CodeBadRequest},
		{"station staff outside a kiosk", e.login("zhang"), apiv1.PathLockoutUnlock, body("card checked in person"), apiv1.CodeForbidden},
		{"department officer", e.login("li"), apiv1.PathLockoutUnlock, body("card checked in person"), apiv1.CodeForbidden},
		{"supervisor at a kiosk (staff mode is for station staff)", at("boss1"), apiv1.PathKioskLockoutUnlock, body("card checked in person"), apiv1.CodeForbidden},
		{"supervisor's kiosk session on the office route", e.client().WithStaff(at("boss1").StaffToken), apiv1.PathLockoutUnlock, body("card checked in person"), apiv1.CodeSessionKioskBound},
		{"supervisor without a reason", e.login("boss"), apiv1.PathLockoutUnlock, body(""), apiv1.CodeBadRequest},
		{"kiosk without staff", k.Client, apiv1.PathKioskLockoutUnlock, body("card checked in person"), apiv1.CodeUnauthenticated},
		{"an invalid ID number", e.login("boss"), apiv1.PathLockoutUnlock, apiv1.LockoutUnlock{IDNumber: "150204195001010010", Reason: "x"}, apiv1.CodeBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Do(ctx, "POST", tc.path, tc.body, nil)
			wantCode(t, err, tc.code)
		})
	}
	if l, _ := e.st.GetLockout(ctx, p.card.IDNumber); !l.Locked(e.clock.Now()) {
		t.Fatalf("a refused unlock unlocked: %+v", l)
	}
	// Station staff at a kiosk of their station unlock, with a reason.
	out, err := at("zhang").UnlockAtKiosk(ctx, " "+strings.ToLower(p.card.IDNumber)+" ", "card checked against the person")
	if err != nil || !out.WasLocked || out.FailuresCleared != 5 || out.LockedUntil == nil || !out.LockedUntil.Equal(*locked.LockedUntil) ||
		out.IDNumberMasked == "" || strings.Contains(out.IDNumberMasked, p.card.IDNumber[6:14]) {
		t.Fatalf("unlock = %+v, %v", out, err)
	}
	last := func() audit.Record {
		t.Helper()
		seq, _, err := e.st.AuditHead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := e.st.ListAudit(ctx, seq-1, 1)
		if err != nil || len(recs) != 1 {
			t.Fatal(recs, err)
		}
		return recs[0]
	}
	if r := last(); r.Action != "lockout.unlock" || r.Actor != audit.Staff(zhang.ID) || r.Details["reason"] != "card checked against the person" ||
		r.Details["kiosk"] != "K-0001" || r.Details["failures_before"] != "5" {
		t.Errorf("audit of the unlock: %+v", r)
	}
	must[*apiv1.VerifyResponse](t)(k.Verify(ctx, e.verifyRequest(k, p, p.fingers[apiv1.RightIndex])))

	// A supervisor unlocks from the office.
	e.lockWith(t, p, impostor, "B")
	var res apiv1.LockoutUnlocked
	if err := e.login("boss").Do(ctx, "POST", apiv1.PathLockoutUnlock, body("resident came to the office with the card"), &res); err != nil || !res.WasLocked {
		t.Fatalf("supervisor unlock = %+v, %v", res, err)
	}
	if r := last(); r.Action != "lockout.unlock" || r.Actor != audit.Staff(boss.ID) || r.Details["kiosk"] != "" {
		t.Errorf("audit of the office unlock: %+v", r)
	}
	must[*apiv1.VerifyResponse](t)(k.Verify(ctx, e.verifyRequest(k, p, p.fingers[apiv1.RightIndex])))
	// An ID number never tried has nothing to unlock.
	stranger := e.newPerson("赵三", birth)
	wantCode(t, e.login("boss").Do(ctx, "POST", apiv1.PathLockoutUnlock, apiv1.LockoutUnlock{IDNumber: stranger.card.IDNumber, Reason: "x"}, nil), apiv1.CodeNotFound)

	// The audit reconciles: every unlock explains its lockout row.
	var av apiv1.AuditVerifyResult
	if err := e.admin.Do(ctx, "GET", apiv1.PathAdminAuditVerify, nil, &av); err != nil || !av.OK {
		t.Fatalf("audit verify = %+v, %v", av, err)
	}
}

// TestOfficeUnlock: the back-office unlock page, for supervisors only, with
// CSRF, a reason, and the audit of it.
func TestOfficeUnlock(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	boss := e.mustStaff("boss", store.RoleSupervisor, "", "")
	e.mustStaff("li", store.RoleDepartmentOfficer, "community", "")
	k := e.newKiosk("K-0001")
	p := e.newPerson("钱多", birth)
	e.enrolAt(k, p)
	e.lockWith(t, p, e.newPerson("孙少", birth), "O")
	do := func(method, path string, form url.Values, cookie string) (int, string) {
		t.Helper()
		r, _ := http.NewRequest(method, "http://centrald.test"+path, strings.NewReader(form.Encode()))
		if form != nil {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if cookie != "" {
			r.Header.Set("Cookie", sessionCookie+"="+cookie)
		}
		resp, err := e.srv.App().Test(r, -1)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	login := func(user string) string {
		t.Helper()
		r, _ := http.NewRequest("POST", "http://centrald.test/office/login", strings.NewReader(url.Values{"username": {user}, "password": {testPassword}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := e.srv.App().Test(r, -1)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range resp.Cookies() {
			if c.Name == sessionCookie {
				return c.Value
			}
		}
		t.Fatalf("login %s: %d", user, resp.StatusCode)
		return ""
	}
	if code, _ := do("GET", "/office/lockouts", nil, login("li")); code != http.StatusForbidden {
		t.Fatalf("officer on the unlock page: %d", code)
	}
	cookie := login("boss")
	code, body := do("GET", "/office", nil, cookie)
	if code != 200 || !strings.Contains(body, `href="/office/lockouts"`) {
		t.Fatalf("supervisor's list has no unlock link: %d", code)
	}
	code, body = do("GET", "/office/lockouts", nil, cookie)
	if code != 200 {
		t.Fatalf("unlock page: %d", code)
	}
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)[1]
	form := func(id, reason, csrf string) url.Values {
		return url.Values{"id_number": {id}, "reason": {reason}, "csrf": {csrf}}
	}
	if code, _ := do("POST", "/office/lockouts", form(p.card.IDNumber, "card checked", "forged"), cookie); code != http.StatusForbidden {
		t.Fatalf("forged CSRF: %d", code)
	}
	if code, body := do("POST", "/office/lockouts", form(p.card.IDNumber, "  ", csrf), cookie); code != http.StatusBadRequest || !strings.Contains(body, "请填写解锁原因") {
		t.Fatalf("no reason: %d", code)
	}
	if code, body := do("POST", "/office/lockouts", form("150204195001010010", "card checked", csrf), cookie); code != http.StatusBadRequest || !strings.Contains(body, "身份证号无效") {
		t.Fatalf("invalid ID number: %d", code)
	}
	if l, _ := e.st.GetLockout(ctx, p.card.IDNumber); !l.Locked(e.clock.Now()) {
		t.Fatalf("a refused unlock unlocked")
	}
	code, body = do("POST", "/office/lockouts", form(p.card.IDNumber, "resident came with the card", csrf), cookie)
	if code != 200 || !strings.Contains(body, "解除锁定（原锁定至") || strings.Contains(body, p.card.IDNumber) {
		t.Fatalf("unlock: %d %s", code, body)
	}
	recs, err := e.st.ListAudit(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if r := recs[len(recs)-1]; r.Action != "lockout.unlock" || r.Actor != audit.Staff(boss.ID) || r.Details["reason"] != "resident came with the card" {
		t.Fatalf("audit: %+v", r)
	}
	must[*apiv1.VerifyResponse](t)(k.Verify(ctx, e.verifyRequest(k, p, p.fingers[apiv1.RightIndex])))
}
