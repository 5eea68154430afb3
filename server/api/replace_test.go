package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/password"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// reenrolEnv is a resident enrolled at QS-S01 by its station staff, with
// the people around a replacement: a second station with its own staff,
// supervisor and kiosk, and an attacker who is not enrolled.
type reenrolEnv struct {
	*env
	k, k2                   *kiosk // QS-S01, QS-S02
	zhang, zhou             *kiosk // station staff of QS-S01 at k
	p, attacker             *person
	boss, boss2, zhouClient *apiv1.Client
}

func newReenrolEnv(t *testing.T) *reenrolEnv {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.st.CreateStation(ctx, audit.System("test"), store.Station{ID: "QS-S02", Name: "青山二站"}); err != nil {
		t.Fatal(err)
	}
	e.mustStaff("zhang", store.RoleStationStaff, "", "QS-S01")
	e.mustStaff("zhou", store.RoleStationStaff, "", "QS-S01")
	e.mustStaff("boss", store.RoleSupervisor, "", "QS-S01")
	e.mustStaff("boss2", store.RoleSupervisor, "", "QS-S02")
	r := &reenrolEnv{env: e, k: e.newKiosk("kiosk-01"), k2: e.newKioskAt("kiosk-21", "QS-S02")}
	r.zhang = e.atKiosk(r.k, "zhang")
	r.zhouClient = e.login("zhou")
	r.zhou = e.atKiosk(r.k, "zhou")
	r.boss, r.boss2 = e.login("boss"), e.login("boss2")
	r.p = e.newPerson("居民", time.Date(1950, 3, 1, 0, 0, 0, 0, time.UTC))
	r.attacker = e.newPerson("攻击者", time.Date(1980, 5, 1, 0, 0, 0, 0, time.UTC))
	if resp := e.enrol(r.zhang, r.p); resp.Pending {
		t.Fatalf("first enrolment is pending: %+v", resp)
	}
	return r
}

// mustGet is the id of staff member username.
func (r *reenrolEnv) mustGet(t *testing.T, username string) int64 {
	t.Helper()
	st, err := r.st.GetStaffByUsername(context.Background(), username)
	if err != nil {
		t.Fatal(err)
	}
	return st.ID
}

// withFingers is p's card with other fingers (someone else's, or new ones).
func withFingers(p *person, fingers map[apiv1.Finger]*finger) *person {
	return &person{card: p.card, fingers: fingers}
}

// verifies reports whether finger f, presented at kiosk k, verifies as p.
func (r *reenrolEnv) verifies(t *testing.T, p *person, f *finger) bool {
	t.Helper()
	_, err := r.k.Verify(context.Background(), r.verifyRequest(r.k, p, f))
	switch apiv1.ErrorCode(err) {
	case "":
		return true
	case apiv1.CodeNoMatch:
		return false
	}
	t.Fatalf("verify: %v", err)
	return false
}

// inForce checks that p's original fingers still verify and the
// attacker's do not.
func (r *reenrolEnv) inForce(t *testing.T) {
	t.Helper()
	if !r.verifies(t, r.p, r.p.fingers[apiv1.RightIndex]) {
		t.Fatal("the resident's own finger no longer verifies")
	}
	if r.verifies(t, r.p, r.attacker.fingers[apiv1.RightIndex]) {
		t.Fatal("the attacker's finger verifies as the resident")
	}
}

func (r *reenrolEnv) decide(c *apiv1.Client, id int64, verb string, d apiv1.ReplacementDecision) (apiv1.Replacement, error) {
	var out apiv1.Replacement
	err := c.Do(context.Background(), "POST", fmt.Sprintf("%s/%d/%s", apiv1.PathReplacements, id, verb), d, &out)
	return out, err
}

func wantStatus(t *testing.T, err error, status int, code string) {
	t.Helper()
	wantCode(t, err, code)
	if got := err.(*apiv1.Error).Status; got != status {
		t.Fatalf("%s: status %d, want %d", code, got, status)
	}
}

// TestReenrolmentCrossStationRefused is the original attack (issue 11 item
// 3): a station_staff account of QS-S02 re-enrols a resident at a QS-S01
// kiosk with someone else's fingers. It is refused before anything is
// consumed or stored, and the resident's enrolment stays in force.
func TestReenrolmentCrossStationRefused(t *testing.T) {
	r := newReenrolEnv(t)
	ctx := context.Background()
	r.mustStaff("wang", store.RoleStationStaff, "", "QS-S02")
	// wang's PIN opens nothing at a QS-S01 kiosk (the login is refused
	// before the PIN is checked), and wang's office session is no kiosk
	// session: neither reaches the enrolment.
	h, err := password.HashWith(testPIN, cheapHash)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.st.SetStaffPIN(ctx, audit.System("test"), r.mustGet(t, "wang"), h); err != nil {
		t.Fatal(err)
	}
	_, err = r.k.KioskStaffLogin(ctx, "wang", testPIN)
	wantStatus(t, err, http.StatusForbidden, apiv1.CodeStationMismatch)
	wang := &kiosk{Client: r.k.WithStaff(r.login("wang").StaffToken), e: r.env, scanner: r.k.scanner}
	_, err = wang.Enrol(ctx, r.enrolRequest(wang, withFingers(r.p, r.attacker.fingers)))
	wantStatus(t, err, http.StatusForbidden, apiv1.CodeKioskSessionRequired)
	// Staff of QS-S01 at QS-S02's kiosk are refused as well, and their
	// session of a QS-S01 kiosk is bound to that kiosk.
	_, err = r.k2.KioskStaffLogin(ctx, "zhang", testPIN)
	wantStatus(t, err, http.StatusForbidden, apiv1.CodeStationMismatch)
	zhangAt2 := &kiosk{Client: r.k2.WithStaff(r.zhang.StaffToken), e: r.env, scanner: r.k2.scanner}
	_, err = zhangAt2.Enrol(ctx, r.enrolRequest(zhangAt2, r.attacker))
	wantStatus(t, err, http.StatusForbidden, apiv1.CodeSessionKioskBound)
	r.inForce(t)
	if rs, err := r.st.ListReplacements(ctx, store.ReplacementFilter{}); err != nil || len(rs) != 0 {
		t.Fatalf("replacements after refused attempts: %+v, %v", rs, err)
	}
	// A staff member moved to another station loses the sessions of the old
	// one (the session's station is the account's).
	mover, err := r.st.GetStaff(ctx, r.mustStaff("moved", store.RoleStationStaff, "", "QS-S01").ID)
	if err != nil {
		t.Fatal(err)
	}
	moved := r.atKiosk(r.k, "moved")
	mover.StationID = "QS-S02"
	if _, err := r.st.UpdateStaff(ctx, audit.System("test"), mover); err != nil {
		t.Fatal(err)
	}
	_, err = moved.Enrol(ctx, r.enrolRequest(moved, withFingers(r.p, r.attacker.fingers)))
	wantStatus(t, err, http.StatusUnauthorized, apiv1.CodeUnauthenticated)
	r.inForce(t)
}

// TestReenrolmentNeedsApproval: same-station re-enrolment is only a
// request; the requester, staff of the station, an admin and a supervisor
// of another station cannot approve it; "match" needs a match; a rejected
// request changes nothing.
func TestReenrolmentNeedsApproval(t *testing.T) {
	r := newReenrolEnv(t)
	ctx := context.Background()
	resp, err := r.zhang.Enrol(ctx, r.enrolRequest(r.zhang, withFingers(r.p, r.attacker.fingers)))
	if err != nil || !resp.Pending || resp.Replaced || resp.ReplacementID == 0 || resp.Templates != 6 {
		t.Fatalf("re-enrolment = %+v, %v", resp, err)
	}
	id := resp.ReplacementID
	r.inForce(t)
	_, err = r.zhou.Enrol(ctx, r.enrolRequest(r.zhou, withFingers(r.p, r.attacker.fingers)))
	wantStatus(t, err, http.StatusConflict, apiv1.CodeReplacementPending)

	var list apiv1.ReplacementList
	if err := r.boss.Do(ctx, "GET", apiv1.PathReplacements+"?status=pending", nil, &list); err != nil || len(list.Replacements) != 1 {
		t.Fatalf("boss's pending replacements: %+v, %v", list, err)
	}
	if got := list.Replacements[0]; got.ID != id || got.PreviousMatch || got.RequestedBy == 0 || got.StationID != "QS-S01" || !slices.Equal(got.Fingers, []apiv1.Finger{apiv1.RightIndex, apiv1.RightMiddle}) {
		t.Errorf("pending replacement = %+v", got)
	}
	if err := r.boss2.Do(ctx, "GET", apiv1.PathReplacements, nil, &list); err != nil || len(list.Replacements) != 0 {
		t.Errorf("another station's supervisor sees %+v, %v", list, err)
	}
	err = r.zhouClient.Do(ctx, "GET", apiv1.PathReplacements, nil, &list)
	wantStatus(t, err, http.StatusForbidden, apiv1.CodeForbidden)

	ok := apiv1.ReplacementDecision{Basis: apiv1.BasisInPerson, Reason: "card checked at the counter"}
	zhangClient := r.login("zhang")
	for _, tc := range []struct {
		name   string
		c      *apiv1.Client
		status int
		code   string
	}{
		{"the requester", zhangClient, http.StatusForbidden, apiv1.CodeSelfApproval},
		{"station staff of the station", r.zhouClient, http.StatusForbidden, apiv1.CodeNotApprover},
		{"a supervisor of another station", r.boss2, http.StatusForbidden, apiv1.CodeNotApprover},
		{"an admin", r.admin, http.StatusForbidden, apiv1.CodeNotApprover},
	} {
		_, err := r.decide(tc.c, id, "approve", ok)
		if apiv1.ErrorCode(err) != tc.code || err.(*apiv1.Error).Status != tc.status {
			t.Errorf("approval by %s = %v, want %d %s", tc.name, err, tc.status, tc.code)
		}
		_, err = r.decide(tc.c, id, "reject", apiv1.ReplacementDecision{Reason: "not them"})
		if apiv1.ErrorCode(err) != tc.code {
			t.Errorf("rejection by %s = %v, want %s", tc.name, err, tc.code)
		}
	}
	// The attacker's fingers did not match the enrolment in force.
	_, err = r.decide(r.boss, id, "approve", apiv1.ReplacementDecision{Basis: apiv1.BasisMatch, Reason: "matched"})
	wantStatus(t, err, http.StatusUnprocessableEntity, apiv1.CodePreviousNoMatch)
	for _, bad := range []apiv1.ReplacementDecision{{Reason: "no basis given"}, {Basis: "trust_me", Reason: "whatever"}, {Basis: apiv1.BasisInPerson, Reason: "ok"}} {
		_, err = r.decide(r.boss, id, "approve", bad)
		wantStatus(t, err, http.StatusBadRequest, apiv1.CodeBadRequest)
	}
	_, err = r.decide(r.boss, 9999, "approve", ok)
	wantStatus(t, err, http.StatusNotFound, apiv1.CodeReplacementNotFound)
	r.inForce(t)

	rej, err := r.decide(r.boss, id, "reject", apiv1.ReplacementDecision{Reason: "not the card holder"})
	if err != nil || rej.Status != apiv1.ReplacementRejected || rej.DecidedBy == 0 {
		t.Fatalf("reject = %+v, %v", rej, err)
	}
	_, err = r.decide(r.boss, id, "approve", ok)
	wantStatus(t, err, http.StatusConflict, apiv1.CodeReplacementState)
	r.inForce(t)
}

// TestReenrolmentApproved: with approval, on a match or an in-person check,
// the new fingers verify and the replaced ones do not; the history and the
// audit show request, decision and by whom.
func TestReenrolmentApproved(t *testing.T) {
	r := newReenrolEnv(t)
	ctx := context.Background()
	old := r.p.fingers
	newMiddle := newFinger()

	// 1. Match: the resident's own index finger again, a new middle finger
	// (the old one injured). The index matches the enrolment in force.
	resp := must[*apiv1.EnrolResponse](t)(r.zhang.Enrol(ctx, r.enrolRequest(r.zhang, withFingers(r.p, map[apiv1.Finger]*finger{
		apiv1.RightIndex: old[apiv1.RightIndex], apiv1.RightMiddle: newMiddle,
	}))))
	if !resp.Pending {
		t.Fatalf("re-enrolment took effect at once: %+v", resp)
	}
	if r.verifies(t, r.p, newMiddle) || !r.verifies(t, r.p, old[apiv1.RightMiddle]) {
		t.Fatal("a pending replacement changed what verifies")
	}
	approved, err := r.decide(r.boss, resp.ReplacementID, "approve", apiv1.ReplacementDecision{Basis: apiv1.BasisMatch, Reason: "index finger matched"})
	if err != nil || approved.Status != apiv1.ReplacementApproved || !approved.PreviousMatch || approved.Basis != apiv1.BasisMatch || len(approved.Enrolments) != 2 {
		t.Fatalf("approve on match = %+v, %v", approved, err)
	}
	if !r.verifies(t, r.p, newMiddle) || r.verifies(t, r.p, old[apiv1.RightMiddle]) || !r.verifies(t, r.p, old[apiv1.RightIndex]) {
		t.Fatal("after approval on a match: the new finger must verify, the replaced one not")
	}

	// 2. In person: two new fingers that match nothing on record.
	fresh := map[apiv1.Finger]*finger{
		apiv1.RightIndex:  newFinger(),
		apiv1.RightMiddle: newFinger(),
	}
	resp = must[*apiv1.EnrolResponse](t)(r.zhou.Enrol(ctx, r.enrolRequest(r.zhou, withFingers(r.p, fresh))))
	inPerson, err := r.decide(r.boss, resp.ReplacementID, "approve", apiv1.ReplacementDecision{Basis: apiv1.BasisInPerson, Reason: "身份证与本人当面核对"})
	if err != nil || inPerson.Status != apiv1.ReplacementApproved || inPerson.PreviousMatch || inPerson.Basis != apiv1.BasisInPerson {
		t.Fatalf("approve in person = %+v, %v", inPerson, err)
	}
	if !r.verifies(t, r.p, fresh[apiv1.RightIndex]) || r.verifies(t, r.p, old[apiv1.RightIndex]) || r.verifies(t, r.p, newMiddle) {
		t.Fatal("after approval in person: the new finger must verify, the replaced ones not")
	}
	if n := r.srv.Gallery().Len(); n != 6 { // p's 6 templates in force, nothing replaced or pending
		t.Errorf("gallery holds %d templates, want the resident's 6", n)
	}

	// History: four superseded enrolments and two in force, the two
	// approvals with who asked, who decided and on what basis.
	var h apiv1.EnrolmentHistory
	if err := r.boss.Do(ctx, "POST", apiv1.PathEnrolmentHistory, apiv1.EnrolmentHistoryRequest{IDNumber: r.p.card.IDNumber}, &h); err != nil {
		t.Fatal(err)
	}
	if len(h.Enrolments) != 6 || len(h.Replacements) != 2 {
		t.Fatalf("history: %d enrolments, %d replacements", len(h.Enrolments), len(h.Replacements))
	}
	// The first enrolment's and each replacement's consents, with who and where.
	if len(h.Consents) < 3 {
		t.Fatalf("history: %d consents, want one per enrolment and replacement request", len(h.Consents))
	}
	for _, cn := range h.Consents {
		if cn.TextVersion != apiv1.ConsentTextVersion || cn.KioskID == "" || cn.StaffID == 0 || cn.ConsentedAt.IsZero() {
			t.Errorf("history consent %+v", cn)
		}
	}
	for i, e := range h.Enrolments {
		inForce := i >= 4
		if inForce == (e.SupersededAt != nil) || (i >= 2) != (e.ReplacementID != 0) {
			t.Errorf("history enrolment %d: %+v", i, e)
		}
	}
	zhangID, zhouID, bossID := staffID(t, r.env, "zhang"), staffID(t, r.env, "zhou"), staffID(t, r.env, "boss")
	if got := h.Replacements[0]; got.ID != inPerson.ID || got.RequestedBy != zhouID || got.DecidedBy != bossID || got.Basis != apiv1.BasisInPerson || got.Reason == "" {
		t.Errorf("history replacement 0 = %+v", got)
	}
	if got := h.Replacements[1]; got.ID != approved.ID || got.RequestedBy != zhangID || got.DecidedBy != bossID || got.Basis != apiv1.BasisMatch {
		t.Errorf("history replacement 1 = %+v", got)
	}
	err = r.zhouClient.Do(ctx, "POST", apiv1.PathEnrolmentHistory, apiv1.EnrolmentHistoryRequest{IDNumber: r.p.card.IDNumber}, &h)
	wantStatus(t, err, http.StatusForbidden, apiv1.CodeForbidden)

	// Audit: the request by the staff member, the approval by the
	// supervisor, one enrolment.replace per new finger; the chain holds.
	recs, err := r.st.ListAudit(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	find := func(action string, actor int64, replacement int64) bool {
		return slices.ContainsFunc(recs, func(rec audit.Record) bool {
			return rec.Action == action && rec.Actor == audit.Staff(actor) && rec.Target == fmt.Sprintf("replacement:%d", replacement)
		})
	}
	if !find("enrolment.replacement.request", zhangID, approved.ID) || !find("enrolment.replacement.approve", bossID, approved.ID) ||
		!find("enrolment.replacement.request", zhouID, inPerson.ID) || !find("enrolment.replacement.approve", bossID, inPerson.ID) {
		t.Error("request and approval audit records missing")
	}
	n := 0
	for _, rec := range recs {
		if rec.Action == "enrolment.replace" && rec.Details["replacement"] != "" {
			n++
		}
		for _, v := range rec.Details {
			if v == r.p.card.IDNumber {
				t.Fatalf("audit record %d holds the ID number", rec.Seq)
			}
		}
	}
	if n != 4 {
		t.Errorf("%d enrolment.replace records, want 4", n)
	}
	var av apiv1.AuditVerifyResult
	if err := r.admin.Do(ctx, "GET", apiv1.PathAdminAuditVerify, nil, &av); err != nil || !av.OK {
		t.Fatalf("audit verify: %+v %v", av, err)
	}
}

func staffID(t *testing.T, e *env, username string) int64 {
	t.Helper()
	list, err := e.st.ListStaff(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if s.Username == username {
			return s.ID
		}
	}
	t.Fatalf("no staff %s", username)
	return 0
}
