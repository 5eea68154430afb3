package storetest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// newReplacement asks to replace resident r's enrolment with fingers whose
// templates are those of resident `as` (someone else's fingers, when
// as != r).
func newReplacement(f *fixture, r, as int, fingers ...int) store.NewReplacement {
	nr := store.NewReplacement{ResidentID: f.residents[r].ID, RequestedBy: f.clerk.ID, KioskID: f.kiosk.ID, StationID: f.station.ID,
		ScannerSerial: "VS-2", PreviousScore: 0.05, PreviousMatch: true}
	for _, finger := range fingers {
		rf := store.ReplacementFinger{Finger: finger}
		for i := 0; i < 3; i++ {
			rf.Samples = append(rf.Samples, store.Sample{Template: template(as, finger, i), Image: image(as, finger, i), AlgorithmVersion: "mc-1.0", Quality: 70 + i})
		}
		nr.Fingers = append(nr.Fingers, rf)
	}
	return nr
}

// activeTemplates returns the templates of resident r's active enrolments,
// by finger, and checks the gallery stream agrees.
func activeTemplates(t *testing.T, s store.Store, f *fixture, r int) map[int][][]byte {
	t.Helper()
	c := ctx(t)
	es, err := s.ResidentEnrolments(c, f.residents[r].IDNumber)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int][][]byte{}
	for _, e := range es {
		for _, sm := range e.Samples {
			out[e.Finger] = append(out[e.Finger], sm.Template)
		}
	}
	streamed := map[int][][]byte{}
	if err := s.ScanTemplates(c, 0, func(tr store.TemplateRecord) error {
		if tr.ResidentID == f.residents[r].ID {
			streamed[tr.Finger] = append(streamed[tr.Finger], tr.Template)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(out) != fmt.Sprint(streamed) {
		t.Errorf("ScanTemplates of resident %d = %d fingers, ResidentEnrolments %d", r, len(streamed), len(out))
	}
	return out
}

// testReplacements: a replacement waits, sealed, without touching the
// enrolment in force; only a supervisor of the station other than the
// requester decides it; approval swaps the whole enrolment atomically,
// rejection discards the samples; every step is audited.
func testReplacements(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	f := newFixture(t, s, 3)
	clerk := audit.Staff(f.clerk.ID)
	for _, finger := range []int{2, 7} {
		if _, err := s.Enrol(c, clerk, newEnrolment(f, 0, finger, 3, false)); err != nil {
			t.Fatal(err)
		}
	}
	before := activeTemplates(t, s, f, 0)

	// Another station with its own supervisor.
	if _, err := s.CreateStation(c, admin, store.Station{ID: "QS-S02", Name: "第二服务站"}); err != nil {
		t.Fatal(err)
	}
	otherSup, err := s.CreateStaff(c, admin, store.Staff{Username: "super2", Role: store.RoleSupervisor, StationID: "QS-S02", PasswordHash: hashPW(t, "super2-pw")})
	if err != nil {
		t.Fatal(err)
	}
	adminStaff, err := s.CreateStaff(c, admin, store.Staff{Username: "root", Role: store.RoleAdmin, PasswordHash: hashPW(t, "root-pw")})
	if err != nil {
		t.Fatal(err)
	}

	r, err := s.RequestReplacement(c, clerk, newReplacement(f, 0, 1, 3, 8))
	if err != nil {
		t.Fatalf("RequestReplacement: %v", err)
	}
	if r.ID == 0 || r.Status != store.ReplacementPending || len(r.Fingers) != 2 {
		t.Errorf("RequestReplacement = %+v", r)
	}
	if a := lastAudit(t, s); a.Action != "enrolment.replacement.request" || a.Actor != clerk || a.Details["status"] != "pending" ||
		a.Details["fingers"] != "3,8" || a.Details["resident"] != fmt.Sprint(f.residents[0].ID) {
		t.Errorf("request audit = %+v", a)
	}
	if got := activeTemplates(t, s, f, 0); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Error("a pending replacement changed the enrolment in force")
	}
	if _, err := s.RequestReplacement(c, clerk, newReplacement(f, 0, 2, 4)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("second pending replacement = %v, want ErrConflict", err)
	}
	got, err := Inspect(s).GetReplacement(c, r.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	if !got.PreviousMatch || got.PreviousScore != 0.05 || got.RequestedBy != f.clerk.ID || got.StationID != f.station.ID || got.KioskID != f.kiosk.ID || got.DecidedBy != 0 {
		t.Errorf("GetReplacement = %+v", got)
	}
	for _, rf := range got.Fingers {
		if len(rf.Samples) != 3 {
			t.Fatalf("finger %d has %d pending samples", rf.Finger, len(rf.Samples))
		}
		for i, sm := range rf.Samples {
			if !bytes.Equal(sm.Template, template(1, rf.Finger, i)) || !bytes.Equal(sm.Image, image(1, rf.Finger, i)) || sm.Quality != 70+i {
				t.Errorf("pending sample %d of finger %d does not round-trip", i, rf.Finger)
			}
		}
	}

	// Who may not decide.
	sup := audit.Staff(f.supervisor.ID)
	approve := func(who int64, basis store.ReplacementBasis, reason string) store.ReplacementDecision {
		return store.ReplacementDecision{Approve: true, Supervisor: who, Basis: basis, Reason: reason}
	}
	for _, tc := range []struct {
		name string
		d    store.ReplacementDecision
		want error
	}{
		{"the requester", approve(f.clerk.ID, store.BasisMatch, "ok"), store.ErrSelfApproval},
		{"a supervisor of another station", approve(otherSup.ID, store.BasisMatch, "ok"), store.ErrNotApprover},
		{"an admin", approve(adminStaff.ID, store.BasisMatch, "ok"), store.ErrNotApprover},
		{"an officer", approve(f.officer.ID, store.BasisMatch, "ok"), store.ErrNotApprover},
		{"without a basis", approve(f.supervisor.ID, "", "ok"), store.ErrInvalid},
		{"without a reason", approve(f.supervisor.ID, store.BasisInPerson, " "), store.ErrInvalid},
		{"unknown staff", approve(99999, store.BasisMatch, "ok"), store.ErrNotFound},
	} {
		if _, err := s.DecideReplacement(c, sup, r.ID, tc.d); !errors.Is(err, tc.want) {
			t.Errorf("decision by %s = %v, want %v", tc.name, err, tc.want)
		}
	}
	if got := activeTemplates(t, s, f, 0); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Error("a refused decision changed the enrolment in force")
	}
	if _, err := s.DecideReplacement(c, sup, 99999, approve(f.supervisor.ID, store.BasisMatch, "ok")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown replacement = %v", err)
	}

	// Approval swaps the whole enrolment: fingers 2 and 7 go, 3 and 8 come.
	done, err := s.DecideReplacement(c, sup, r.ID, approve(f.supervisor.ID, store.BasisInPerson, "card and face checked at the counter"))
	if err != nil {
		t.Fatalf("approve: %v", err)
	}
	if done.Status != store.ReplacementApproved || done.DecidedBy != f.supervisor.ID || done.DecidedAt == nil || done.Basis != store.BasisInPerson || len(done.Enrolments) != 2 {
		t.Errorf("approved = %+v", done)
	}
	after := activeTemplates(t, s, f, 0)
	if len(after) != 2 || len(after[3]) != 3 || len(after[8]) != 3 || !bytes.Equal(after[3][0], template(1, 3, 0)) {
		t.Errorf("after approval the active fingers are %v", slices.Sorted(func(yield func(int) bool) {
			for k := range after {
				if !yield(k) {
					return
				}
			}
		}))
	}
	hist, err := s.EnrolmentHistory(c, f.residents[0].ID)
	if err != nil || len(hist) != 4 {
		t.Fatalf("EnrolmentHistory = %d, %v", len(hist), err)
	}
	for i, e := range hist {
		if old := i < 2; old != (e.SupersededAt != nil) {
			t.Errorf("history[%d] finger %d superseded=%v", i, e.Finger, e.SupersededAt != nil)
		}
	}
	reread, err := Inspect(s).GetReplacement(c, r.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, rf := range reread.Fingers {
		if len(rf.Samples) != 0 {
			t.Errorf("a decided replacement still holds samples of finger %d", rf.Finger)
		}
	}
	if !slices.Equal(reread.Enrolments, done.Enrolments) || reread.Reason != done.Reason {
		t.Errorf("GetReplacement = %+v, want %+v", reread, done)
	}
	if _, err := s.DecideReplacement(c, sup, r.ID, approve(f.supervisor.ID, store.BasisMatch, "again")); !errors.Is(err, store.ErrConflict) {
		t.Errorf("second decision = %v, want ErrConflict", err)
	}
	a := lastAudit(t, s)
	if a.Action != "enrolment.replacement.approve" || a.Actor != sup || a.Details["basis"] != "in_person" || a.Details["supervisor"] != fmt.Sprint(f.supervisor.ID) ||
		a.Details["requested_by"] != fmt.Sprint(f.clerk.ID) || a.Details["enrolments"] != joinInts(done.Enrolments) || a.Details["superseded"] != joinInts([]int64{hist[0].ID, hist[1].ID}) {
		t.Errorf("approval audit = %+v", a)
	}
	if n := count(auditActions(t, s), "enrolment.replace"); n != 2 {
		t.Errorf("%d enrolment.replace events, want one per new finger", n)
	}

	// Rejection: nothing changes, the samples are discarded.
	r2, err := s.RequestReplacement(c, clerk, newReplacement(f, 0, 2, 4))
	if err != nil {
		t.Fatal(err)
	}
	rej, err := s.DecideReplacement(c, sup, r2.ID, store.ReplacementDecision{Supervisor: f.supervisor.ID, Reason: "not the card holder"})
	if err != nil || rej.Status != store.ReplacementRejected || len(rej.Enrolments) != 0 {
		t.Fatalf("reject = %+v, %v", rej, err)
	}
	if a := lastAudit(t, s); a.Action != "enrolment.replacement.reject" || a.Details["status"] != "rejected" || a.Details["reason_sha256"] != fmt.Sprintf("%x", sha256.Sum256([]byte("not the card holder"))) || a.Details["reason"] != "" {
		t.Errorf("rejection audit = %+v", a)
	}
	if got := activeTemplates(t, s, f, 0); fmt.Sprint(got) != fmt.Sprint(after) {
		t.Error("a rejected replacement changed the enrolment in force")
	}
	pending, err := s.ListReplacements(c, store.ReplacementFilter{ResidentID: f.residents[0].ID})
	if err != nil || len(pending) != 2 || pending[0].ID != r2.ID || pending[1].ID != r.ID || len(pending[1].Enrolments) != 2 {
		t.Errorf("ListReplacements(resident) = %+v, %v", pending, err)
	}
	if l, err := s.ListReplacements(c, store.ReplacementFilter{Status: store.ReplacementPending, StationID: f.station.ID}); err != nil || len(l) != 0 {
		t.Errorf("ListReplacements(pending) = %+v, %v", l, err)
	}
	if l, err := s.ListReplacements(c, store.ReplacementFilter{StationID: "QS-S02"}); err != nil || len(l) != 0 {
		t.Errorf("ListReplacements(other station) = %+v, %v", l, err)
	}

	// A suspended resident gets no replacement.
	if err := s.SetResidentStatus(c, admin, f.residents[2].IDNumber, store.ResidentSuspended, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RequestReplacement(c, clerk, newReplacement(f, 2, 1, 3)); !errors.Is(err, store.ErrInactive) {
		t.Errorf("replacement of a suspended resident = %v, want ErrInactive", err)
	}
	verifyChain(t, s)
}

// testReplacementSealed: the pending samples are sealed under the key ring
// (another ring cannot open them).
func testReplacementSealed(t *testing.T, newDB NewDatabase) {
	opener := newDB(t)
	s, err := opener(Options("k1"))
	if err != nil {
		t.Fatal(err)
	}
	c := ctx(t)
	f := newFixture(t, s, 1)
	r, err := s.RequestReplacement(c, audit.Staff(f.clerk.ID), newReplacement(f, 0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Personal data is sealed too, so a foreign ring cannot even open the
	// store (the blind-index key does not open).
	if other, err := opener(Options("other")); !errors.Is(err, store.ErrDecrypt) {
		if err == nil {
			other.Close()
		}
		t.Errorf("open with a foreign key ring = %v, want ErrDecrypt", err)
	}

	// Key rotation re-seals pending samples too: after Reencrypt under
	// k1+k2, a ring holding only k2 opens them.
	both, err := opener(Options("k1", "k2"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := both.Reencrypt(c, admin)
	if err != nil || st.Samples != 3 || st.Reencrypted != 6 {
		t.Fatalf("Reencrypt = %+v, %v (want the 3 pending samples, template and image each)", st, err)
	}
	both.Close()
	onlyNew, err := opener(Options("k2"))
	if err != nil {
		t.Fatal(err)
	}
	defer onlyNew.Close()
	got, err := Inspect(onlyNew).GetReplacement(c, r.ID, true)
	if err != nil || len(got.Fingers) != 1 || len(got.Fingers[0].Samples) != 3 || !bytes.Equal(got.Fingers[0].Samples[2].Template, template(0, 1, 2)) {
		t.Fatalf("GetReplacement after rotation = %+v, %v", got, err)
	}
	if _, err := onlyNew.DecideReplacement(c, audit.Staff(f.supervisor.ID), r.ID, store.ReplacementDecision{Approve: true, Supervisor: f.supervisor.ID, Basis: store.BasisInPerson, Reason: "checked"}); err != nil {
		t.Fatalf("approve after rotation: %v", err)
	}
	if got, err := Inspect(onlyNew).GetReplacement(c, r.ID, false); err != nil || got.Reason != "checked" {
		t.Errorf("sealed reason read back = %q, %v", got.Reason, err)
	}
}

func joinInts(ids []int64) string {
	var b bytes.Buffer
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprint(&b, id)
	}
	return b.String()
}

// testReplacementConcurrent: concurrent requests leave one pending
// replacement; concurrent decisions of it, approvals and rejections mixed,
// let exactly one through, and the enrolment in force is the approved one
// or the old one, never a mixture.
func testReplacementConcurrent(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	f := newFixture(t, s, 1)
	clerk := audit.Staff(f.clerk.ID)
	for _, finger := range []int{2, 7} {
		if _, err := s.Enrol(c, clerk, newEnrolment(f, 0, finger, 3, false)); err != nil {
			t.Fatal(err)
		}
	}
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	ids := make([]int64, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := s.RequestReplacement(c, clerk, newReplacement(f, 0, 1, 3, 8))
			ids[i], errs[i] = r.ID, err
		}()
	}
	wg.Wait()
	var id int64
	for i, err := range errs {
		switch {
		case err == nil && id == 0:
			id = ids[i]
		case err == nil:
			t.Fatalf("two concurrent requests both pending: %d and %d", id, ids[i])
		case !errors.Is(err, store.ErrConflict):
			t.Fatalf("concurrent request: %v", err)
		}
	}
	if id == 0 {
		t.Fatal("no request succeeded")
	}
	var ok, approved atomic.Int32
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := store.ReplacementDecision{Approve: i%2 == 0, Supervisor: f.supervisor.ID, Reason: "checked"}
			if d.Approve {
				d.Basis = store.BasisInPerson
			}
			_, err := s.DecideReplacement(c, audit.Staff(f.supervisor.ID), id, d)
			switch {
			case err == nil:
				ok.Add(1)
				if d.Approve {
					approved.Add(1)
				}
			case !errors.Is(err, store.ErrConflict):
				t.Errorf("concurrent decision: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Fatalf("%d concurrent decisions succeeded, want 1", ok.Load())
	}
	got := activeTemplates(t, s, f, 0)
	want := []int{2, 7}
	if approved.Load() == 1 {
		want = []int{3, 8}
	}
	if len(got) != 2 || len(got[want[0]]) != 3 || len(got[want[1]]) != 3 {
		t.Fatalf("enrolment in force has %d fingers, want %v", len(got), want)
	}
	verifyChain(t, s)
}
