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

func bulkMode(mode string) option { return func(c *Config) { c.BulkEnrolment = mode } }

// bulkItem is p's record with n templates of each of the given fingers
// (p's own unless fingers says otherwise).
func (e *env) bulkItem(p *person, n int, fingers map[apiv1.Finger]*finger) apiv1.BulkEnrolItem {
	e.t.Helper()
	if fingers == nil {
		fingers = p.fingers
	}
	it := apiv1.BulkEnrolItem{Resident: apiv1.Resident{
		IDNumber: p.card.IDNumber, Name: p.card.Name, Gender: "M", BirthDate: p.card.Birth.Time().Format(time.DateOnly),
		Address: p.card.Address, GridCell: "G-017", Household: "H-0001", Status: "active",
	}}
	for _, fg := range []apiv1.Finger{apiv1.RightIndex, apiv1.RightMiddle} {
		f := fingers[fg]
		if f == nil {
			continue
		}
		ft := apiv1.FingerTemplates{Finger: fg}
		for range n {
			ft.Templates = append(ft.Templates, e.template(f, fg, 80).Tmpl)
		}
		it.Fingers = append(it.Fingers, ft)
	}
	return it
}

func (e *env) bulk(req apiv1.BulkEnrolRequest) (apiv1.BulkEnrolResult, error) {
	var out apiv1.BulkEnrolResult
	err := e.admin.Do(context.Background(), "POST", apiv1.PathAdminBulkEnrol, req, &out)
	return out, err
}

func (e *env) lastAudit(t *testing.T) audit.Record {
	t.Helper()
	ctx := context.Background()
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

// TestBulkEnrolmentModes: bulk enrolment is off unless the operator
// switches it on; skip_dedup only in unchecked mode; the mode is on
// /metrics and in every batch's audit record; an unknown mode stops New.
func TestBulkEnrolmentModes(t *testing.T) {
	for _, tc := range []struct {
		mode      string
		skipDedup bool
		status    int
		code      string
	}{
		{"", false, http.StatusForbidden, apiv1.CodeBulkEnrolmentOff},
		{apiv1.BulkOff, true, http.StatusForbidden, apiv1.CodeBulkEnrolmentOff},
		{apiv1.BulkMigrate, true, http.StatusForbidden, apiv1.CodeSkipDedupRefused},
		{apiv1.BulkMigrate, false, http.StatusOK, ""},
		{apiv1.BulkUnchecked, true, http.StatusOK, ""},
		{apiv1.BulkUnchecked, false, http.StatusOK, ""},
	} {
		name := tc.mode
		if name == "" {
			name = "default"
		}
		t.Run(name+map[bool]string{true: "/skip_dedup", false: ""}[tc.skipDedup], func(t *testing.T) {
			e := newEnv(t, bulkMode(tc.mode))
			p := e.newPerson("迁移", time.Date(1951, 2, 3, 0, 0, 0, 0, time.UTC))
			out, err := e.bulk(apiv1.BulkEnrolRequest{Items: []apiv1.BulkEnrolItem{e.bulkItem(p, 3, nil)}, SkipDedup: tc.skipDedup})
			mode := tc.mode
			if mode == "" {
				mode = apiv1.BulkOff
			}
			if tc.code != "" {
				wantStatus(t, err, tc.status, tc.code)
				if es, _ := e.st.ResidentEnrolments(context.Background(), p.card.IDNumber); len(es) != 0 {
					t.Fatalf("a refused bulk enrolment stored %d fingers", len(es))
				}
				if a := e.lastAudit(t); a.Action != "enrolment.bulk.refused" || a.Details["mode"] != mode || a.Details["code"] != tc.code {
					t.Errorf("audit of the refusal = %+v", a)
				}
			} else {
				if err != nil || out.Enrolled != 1 || out.Mode != mode || len(out.Refused) != 0 {
					t.Fatalf("bulk = %+v, %v", out, err)
				}
				a := e.lastAudit(t)
				if a.Action != "enrolment.bulk" || a.Details["mode"] != mode || a.Details["enrolled"] != "1" || a.Details["dedup"] != map[bool]string{true: "false", false: "true"}[tc.skipDedup] {
					t.Errorf("audit of the batch = %+v", a)
				}
			}
			_, _, body := e.raw(httptestGet("/metrics"))
			if want := `veinkiosk_bulk_enrolment_mode{mode="` + mode + `"} 1`; !strings.Contains(string(body), want) {
				t.Errorf("/metrics lacks %s", want)
			}
		})
	}
	if _, err := New(Config{Store: newEnv(t).st, BulkEnrolment: "yes"}); err == nil || !strings.Contains(err.Error(), "bulk enrolment mode") {
		t.Errorf("New with an unknown bulk mode: %v", err)
	}
}

// TestBulkEnrolmentItems: in migrate mode only residents never enrolled
// are enrolled, with exactly 3 consistent templates of at least 2 fingers;
// every other item is refused alone, with its index and code, and leaves
// nothing: an enrolled resident's enrolment stays in force (the
// administrator's own fingers do not verify as them), a resident whose
// enrolment was deleted is not enrolled again.
func TestBulkEnrolmentItems(t *testing.T) {
	e := newEnv(t, bulkMode(apiv1.BulkMigrate))
	ctx := context.Background()
	e.mustStaff("zhang", store.RoleStationStaff, "", "QS-S01")
	k := e.newKiosk("kiosk-01")
	zhang := e.atKiosk(k, "zhang")
	birth := func(i int) time.Time { return time.Date(1950+i, 1, 1, 0, 0, 0, 0, time.UTC) }
	victim := e.newPerson("居民", birth(0))
	e.enrol(zhang, victim)
	withdrawn := e.newPerson("撤回", birth(1))
	e.enrol(zhang, withdrawn)
	if err := e.admin.Do(ctx, "POST", apiv1.PathAdminResidents+"/enrolment/delete", apiv1.EnrolmentDeletion{IDNumber: withdrawn.card.IDNumber, Reason: "consent withdrawn"}, nil); err != nil {
		t.Fatal(err)
	}
	attacker := e.newPerson("管理员", birth(2))
	fresh := e.newPerson("新居民", birth(3))
	other := e.newPerson("他人", birth(4))
	// Residents the batch brings (not on record yet).
	unseen := func(name string, i int) *person {
		p := *e.newPerson(name, birth(i))
		return &p
	}
	four, two, mixed, oneFinger := unseen("四个", 5), unseen("两个", 6), unseen("混合", 7), unseen("一指", 8)
	mixedItem := e.bulkItem(mixed, 3, nil)
	mixedItem.Fingers[1].Templates[2] = e.template(other.fingers[apiv1.RightMiddle], apiv1.RightMiddle, 80).Tmpl
	items := []apiv1.BulkEnrolItem{
		e.bulkItem(fresh, 3, nil),
		e.bulkItem(victim, 3, attacker.fingers),
		e.bulkItem(withdrawn, 3, attacker.fingers),
		e.bulkItem(four, 4, nil),
		e.bulkItem(two, 2, nil),
		mixedItem,
		e.bulkItem(oneFinger, 3, map[apiv1.Finger]*finger{apiv1.RightIndex: oneFinger.fingers[apiv1.RightIndex]}),
	}
	out, err := e.bulk(apiv1.BulkEnrolRequest{Items: items})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]string{
		1: apiv1.CodeAlreadyEnrolled, 2: apiv1.CodeAlreadyEnrolled, 3: apiv1.CodeTemplateCount, 4: apiv1.CodeTemplateCount,
		5: apiv1.CodeEnrolmentInconsistent, 6: apiv1.CodeEnrolmentIncomplete,
	}
	got := map[int]string{}
	for _, r := range out.Refused {
		got[r.Index] = r.Code
	}
	if out.Enrolled != 1 || len(out.Duplicates) != 0 || len(got) != len(want) {
		t.Fatalf("bulk = %+v", out)
	}
	for i, c := range want {
		if got[i] != c {
			t.Errorf("item %d refused as %q, want %q", i, got[i], c)
		}
	}
	for _, r := range out.Refused {
		if r.Index == 5 && r.Fields[apiv1.CaptureField(apiv1.RightMiddle, 2)] == "" {
			t.Errorf("the inconsistent item does not name its odd template: %+v", r)
		}
	}
	if a := e.lastAudit(t); a.Action != "enrolment.bulk" || a.Details["refused"] != "6" || a.Details["enrolled"] != "1" || a.Details["mode"] != apiv1.BulkMigrate {
		t.Errorf("audit of the batch = %+v", a)
	}
	// Nothing of a refused item is stored.
	for _, p := range []*person{withdrawn, four, two, mixed, oneFinger} {
		if es, _ := e.st.ResidentEnrolments(ctx, p.card.IDNumber); len(es) != 0 {
			t.Errorf("%s: a refused item stored %d fingers", p.card.Name, len(es))
		}
	}
	// The enrolment in force still verifies; the administrator's finger
	// does not; the one new resident does.
	verifies := func(p *person, f *finger) bool {
		t.Helper()
		_, err := k.Verify(ctx, e.verifyRequest(k, p, f))
		switch apiv1.ErrorCode(err) {
		case "":
			return true
		case apiv1.CodeNoMatch, apiv1.CodeNotEnrolled:
			return false
		}
		t.Fatalf("verify: %v", err)
		return false
	}
	if !verifies(victim, victim.fingers[apiv1.RightIndex]) || verifies(victim, attacker.fingers[apiv1.RightIndex]) {
		t.Fatal("bulk enrolment took over an enrolled resident")
	}
	if verifies(withdrawn, attacker.fingers[apiv1.RightIndex]) {
		t.Fatal("bulk enrolment re-enrolled a resident whose enrolment was deleted")
	}
	if !verifies(fresh, fresh.fingers[apiv1.RightIndex]) {
		t.Fatal("the resident never enrolled was not enrolled")
	}

	// The same batch again: now everyone is enrolled before or refused.
	out, err = e.bulk(apiv1.BulkEnrolRequest{Items: items[:1]})
	if err != nil || out.Enrolled != 0 || len(out.Refused) != 1 || out.Refused[0].Code != apiv1.CodeAlreadyEnrolled {
		t.Fatalf("bulk of an already bulk-enrolled resident = %+v, %v", out, err)
	}
	// Malformed input refuses the whole request.
	bad := e.bulkItem(fresh, 3, nil)
	bad.Fingers[0].Finger = "thumb"
	_, err = e.bulk(apiv1.BulkEnrolRequest{Items: []apiv1.BulkEnrolItem{bad}})
	wantStatus(t, err, http.StatusUnprocessableEntity, apiv1.CodeFingerInvalid)
	// Every enrolment row is explained by the audit chain (EnrolFirst's
	// enrolment.create per finger).
	var av apiv1.AuditVerifyResult
	if err := e.admin.Do(ctx, "GET", apiv1.PathAdminAuditVerify, nil, &av); err != nil || !av.OK {
		t.Fatalf("audit verify = %+v, %v", av, err)
	}
}

// TestBulkEnrolmentDuplicate: in migrate mode a bulk item whose veins match
// another resident opens a case and is not enrolled.
func TestBulkEnrolmentDuplicate(t *testing.T) {
	e := newEnv(t, bulkMode(apiv1.BulkMigrate))
	a := e.newPerson("甲", time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC))
	b := e.newPerson("乙", time.Date(1961, 1, 1, 0, 0, 0, 0, time.UTC))
	out, err := e.bulk(apiv1.BulkEnrolRequest{Items: []apiv1.BulkEnrolItem{e.bulkItem(a, 3, nil), e.bulkItem(b, 3, a.fingers)}})
	if err != nil || out.Enrolled != 1 || len(out.Duplicates) != 1 || out.Duplicates[0].Index != 1 || out.Duplicates[0].CaseID == 0 {
		t.Fatalf("bulk = %+v, %v", out, err)
	}
	if es, _ := e.st.ResidentEnrolments(context.Background(), b.card.IDNumber); len(es) != 0 {
		t.Fatalf("the duplicate was enrolled: %d fingers", len(es))
	}
}

// TestReenrolmentAfterDeletion (issue 11 item 3): an administrator deletes
// a resident's enrolment (consent withdrawn); a kiosk enrolment of that
// resident is then no first enrolment but a pending replacement, which a
// supervisor can approve only on an in-person check (there is nothing
// left to match).
func TestReenrolmentAfterDeletion(t *testing.T) {
	r := newReenrolEnv(t)
	ctx := context.Background()
	if err := r.admin.Do(ctx, "POST", apiv1.PathAdminResidents+"/enrolment/delete", apiv1.EnrolmentDeletion{IDNumber: r.p.card.IDNumber, Reason: "consent withdrawn"}, nil); err != nil {
		t.Fatal(err)
	}
	resp, err := r.zhang.Enrol(ctx, r.enrolRequest(r.zhang, withFingers(r.p, r.attacker.fingers)))
	if err != nil || !resp.Pending || resp.ReplacementID == 0 {
		t.Fatalf("enrolment after a deletion = %+v, %v; want a pending replacement", resp, err)
	}
	if _, err := r.k.Verify(ctx, r.verifyRequest(r.k, r.p, r.attacker.fingers[apiv1.RightIndex])); apiv1.ErrorCode(err) != apiv1.CodeNotEnrolled {
		t.Fatalf("a pending replacement after a deletion verifies: %v", err)
	}
	_, err = r.decide(r.boss, resp.ReplacementID, "approve", apiv1.ReplacementDecision{Basis: apiv1.BasisMatch, Reason: "matched"})
	wantStatus(t, err, http.StatusUnprocessableEntity, apiv1.CodePreviousNoMatch)
	_, err = r.decide(r.login("zhang"), resp.ReplacementID, "approve", apiv1.ReplacementDecision{Basis: apiv1.BasisInPerson, Reason: "card checked"})
	wantStatus(t, err, http.StatusForbidden, apiv1.CodeSelfApproval)
	ok, err := r.decide(r.boss, resp.ReplacementID, "approve", apiv1.ReplacementDecision{Basis: apiv1.BasisInPerson, Reason: "身份证与本人当面核对"})
	if err != nil || ok.Status != apiv1.ReplacementApproved {
		t.Fatalf("approve in person = %+v, %v", ok, err)
	}
	if !r.verifies(t, r.p, r.attacker.fingers[apiv1.RightIndex]) {
		t.Fatal("the approved fingers do not verify")
	}
}

// TestEnrolFirstRaceAtKiosk: a kiosk's first enrolment that loses the race
// to another (the store refuses it in its transaction) becomes a pending
// replacement, never a second enrolment in force.
func TestEnrolFirstRaceAtKiosk(t *testing.T) {
	// Unchecked, without the duplicate search: the hook runs the bulk
	// request inside the kiosk's commit, where a search's fence position
	// would wait for that commit to end (fence.go).
	e := newEnv(t, bulkMode(apiv1.BulkUnchecked))
	ctx := context.Background()
	e.mustStaff("zhang", store.RoleStationStaff, "", "QS-S01")
	k := e.newKiosk("kiosk-01")
	zhang := e.atKiosk(k, "zhang")
	p := e.newPerson("居民", time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC))
	other := e.newPerson("他人", time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC))
	req := e.enrolRequest(zhang, p)
	// The bulk enrolment lands between the kiosk's checks and its store
	// call: played here by enrolling first through the store's own rule.
	hook := enrolFirstHook(e, func() {
		out, err := e.bulk(apiv1.BulkEnrolRequest{SkipDedup: true, Items: []apiv1.BulkEnrolItem{e.bulkItem(p, 3, other.fingers)}})
		if err != nil || out.Enrolled != 1 {
			t.Errorf("bulk in the race = %+v, %v", out, err)
		}
	})
	defer hook()
	resp, err := zhang.Enrol(ctx, req)
	if err != nil || !resp.Pending {
		t.Fatalf("kiosk enrolment that lost the race = %+v, %v; want pending", resp, err)
	}
}

// racingStore runs a hook before the first EnrolFirst it sees.
type racingStore struct {
	store.Store
	once func()
}

func (r *racingStore) EnrolFirst(ctx context.Context, a audit.Actor, nf store.NewFirstEnrolment) ([]store.Enrolment, error) {
	if f := r.once; f != nil {
		r.once = nil
		f()
	}
	return r.Store.EnrolFirst(ctx, a, nf)
}

// enrolFirstHook makes the server's store run f before its next
// EnrolFirst; the returned function restores it.
func enrolFirstHook(e *env, f func()) func() {
	old := e.srv.st
	e.srv.st = &racingStore{Store: old, once: f}
	return func() { e.srv.st = old }
}
