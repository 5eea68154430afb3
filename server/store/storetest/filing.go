package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

var t0 = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

func newFiling(f *fixture, r int, key string) store.NewFiling {
	return store.NewFiling{
		ServiceCode: "dibao-apply", IDNumber: f.residents[r].IDNumber, KioskID: f.kiosk.ID, StationID: f.station.ID,
		Department: "civil-affairs", Form: json.RawMessage(`{"household_size": 3, "income": "1200"}`),
		DueAt: t0.Add(15 * 24 * time.Hour), IdempotencyKey: key, CreatedAt: t0,
	}
}

func issueToken(t *testing.T, s store.Store, f *fixture, r int, tok string) {
	t.Helper()
	if err := s.IssueFilingToken(ctx(t), store.FilingToken{Token: tok, IDNumber: f.residents[r].IDNumber, KioskID: f.kiosk.ID, ExpiresAt: t0.Add(10 * time.Minute), CreatedAt: t0}); err != nil {
		t.Fatalf("IssueFilingToken: %v", err)
	}
}

func testFilingTokens(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	f := newFixture(t, s, 2)
	kiosk := audit.Kiosk(f.kiosk.ID)
	issueToken(t, s, f, 0, "token-0000000000000001")
	if err := s.IssueFilingToken(c, store.FilingToken{Token: "short", IDNumber: f.residents[0].IDNumber, KioskID: f.kiosk.ID, ExpiresAt: t0}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("short token: %v", err)
	}
	if err := s.IssueFilingToken(c, store.FilingToken{Token: "token-0000000000000009", IDNumber: idNumber(999), KioskID: f.kiosk.ID, ExpiresAt: t0}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("token for unknown resident: %v", err)
	}
	tok, err := s.CheckFilingToken(c, "token-0000000000000001", f.kiosk.ID, t0)
	if err != nil || tok.IDNumber != f.residents[0].IDNumber || tok.UsedAt != nil {
		t.Errorf("CheckFilingToken = %+v, %v", tok, err)
	}
	checks := []struct {
		tok, kiosk string
		at         time.Time
		want       error
	}{
		{"token-0000000000000001", f.kiosk2.ID, t0, store.ErrNotFound},
		{"token-0000000000000002", f.kiosk.ID, t0, store.ErrNotFound},
		{"token-0000000000000001", f.kiosk.ID, t0.Add(10 * time.Minute), store.ErrExpired},
	}
	for _, ch := range checks {
		if _, err := s.CheckFilingToken(c, ch.tok, ch.kiosk, ch.at); !errors.Is(err, ch.want) {
			t.Errorf("CheckFilingToken(%s, %s, %v) = %v, want %v", ch.tok, ch.kiosk, ch.at, err, ch.want)
		}
	}
	// A token for resident 0 cannot file for resident 1.
	nf := newFiling(f, 1, "k-1")
	nf.Token = "token-0000000000000001"
	if _, _, err := s.CreateFiling(c, kiosk, nf); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("token of another resident: %v, want ErrNotFound", err)
	}
	// From another kiosk.
	nf = newFiling(f, 0, "k-2")
	nf.Token, nf.KioskID = "token-0000000000000001", f.kiosk2.ID
	if _, _, err := s.CreateFiling(c, audit.Kiosk(f.kiosk2.ID), nf); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("token from another kiosk: %v, want ErrNotFound", err)
	}
	// Expired.
	nf = newFiling(f, 0, "k-3")
	nf.Token, nf.CreatedAt = "token-0000000000000001", t0.Add(11*time.Minute)
	if _, _, err := s.CreateFiling(c, kiosk, nf); !errors.Is(err, store.ErrExpired) {
		t.Errorf("expired token: %v, want ErrExpired", err)
	}
	// None of the failures created a filing or consumed the token.
	if l, _ := s.ListFilings(c, store.FilingFilter{}); len(l) != 0 {
		t.Errorf("%d filings after refused requests", len(l))
	}
	nf = newFiling(f, 0, "k-4")
	nf.Token = "token-0000000000000001"
	fl, created, err := s.CreateFiling(c, kiosk, nf)
	if err != nil || !created {
		t.Fatalf("CreateFiling with token = %v, %v", created, err)
	}
	// The token is used up; the retry of the same request still answers.
	if again, created, err := s.CreateFiling(c, kiosk, nf); err != nil || created || again.ID != fl.ID {
		t.Errorf("retry after token use = %+v, %v, %v", again.Reference, created, err)
	}
	nf.IdempotencyKey = "k-5"
	if _, _, err := s.CreateFiling(c, kiosk, nf); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("reusing a token: %v, want ErrNotFound", err)
	}
	if tok, err := s.CheckFilingToken(c, "token-0000000000000001", f.kiosk.ID, t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("CheckFilingToken after use = %+v, %v", tok, err)
	}
	if n, err := s.PurgeExpired(c, t0.Add(time.Hour)); err != nil || n != 1 {
		t.Errorf("PurgeExpired = %d, %v; want the 1 token", n, err)
	}
}

var refRE = regexp.MustCompile(`^QS-2026-\d{6}$`)

func testFilings(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	f := newFixture(t, s, 2)
	kiosk := audit.Kiosk(f.kiosk.ID)
	fl, created, err := s.CreateFiling(c, kiosk, newFiling(f, 0, "key-1"))
	if err != nil || !created {
		t.Fatalf("CreateFiling = %v, %v", created, err)
	}
	if fl.Reference != "QS-2026-000001" || fl.Status != store.FilingSubmitted || fl.ResidentID != f.residents[0].ID ||
		fl.IDNumber != f.residents[0].IDNumber || fl.KioskID != f.kiosk.ID || fl.StationID != f.station.ID ||
		fl.Department != "civil-affairs" || !fl.CreatedAt.Equal(t0) || !fl.DueAt.Equal(t0.Add(15*24*time.Hour)) || fl.ClosedAt != nil || fl.Reply != "" {
		t.Errorf("filing = %+v", fl)
	}
	var form map[string]any
	if err := json.Unmarshal(fl.Form, &form); err != nil || form["income"] != "1200" || form["household_size"] != 3.0 {
		t.Errorf("form = %s, %v", fl.Form, err)
	}
	for _, get := range []func() (store.Filing, error){
		func() (store.Filing, error) { return s.GetFiling(c, fl.ID) },
		func() (store.Filing, error) { return Inspect(s).GetFilingByReference(c, fl.Reference) },
	} {
		got, err := get()
		if err != nil || got.ID != fl.ID || got.Reference != fl.Reference || string(got.Form) != string(fl.Form) {
			t.Errorf("get = %+v, %v", got, err)
		}
	}
	if _, err := s.GetFiling(c, 9999); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetFiling(unknown) = %v", err)
	}
	if _, err := Inspect(s).GetFilingByReference(c, "QS-2026-999999"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetFilingByReference(unknown) = %v", err)
	}
	hist, err := Inspect(s).FilingHistory(c, fl.ID)
	if err != nil || len(hist) != 1 || hist[0].FromStatus != "" || hist[0].ToStatus != store.FilingSubmitted || hist[0].Actor != kiosk {
		t.Errorf("history = %+v, %v", hist, err)
	}
	a := lastAudit(t, s)
	if a.Action != "filing.create" || a.Target != fmt.Sprintf("filing:%d", fl.ID) || a.Details["reference"] != fl.Reference || a.Actor != kiosk {
		t.Errorf("audit = %+v", a)
	}
	// References count up per year (China time): a filing at 23:30 UTC on
	// 31 December 2026 is already 2027 in Beijing.
	nf := newFiling(f, 1, "key-2")
	nf.CreatedAt = time.Date(2026, 12, 31, 23, 30, 0, 0, time.UTC)
	fl2, _, err := s.CreateFiling(c, kiosk, nf)
	if err != nil || fl2.Reference != "QS-2027-000001" {
		t.Errorf("new-year filing = %q, %v", fl2.Reference, err)
	}
	fl3, _, err := s.CreateFiling(c, kiosk, newFiling(f, 1, "key-3"))
	if err != nil || fl3.Reference != "QS-2026-000002" {
		t.Errorf("second filing = %q, %v", fl3.Reference, err)
	}
	// Staff at the desk file without a kiosk; their keys are scoped to them.
	desk := newFiling(f, 1, "key-1")
	desk.KioskID = ""
	fd, created, err := s.CreateFiling(c, audit.Staff(f.clerk.ID), desk)
	if err != nil || !created || fd.KioskID != "" {
		t.Errorf("desk filing = %+v, %v, %v", fd, created, err)
	}
	bad := []struct {
		name string
		mod  func(*store.NewFiling)
		want error
	}{
		{"no service", func(n *store.NewFiling) { n.ServiceCode = "" }, store.ErrInvalid},
		{"no department", func(n *store.NewFiling) { n.Department = "" }, store.ErrInvalid},
		{"no key", func(n *store.NewFiling) { n.IdempotencyKey = "" }, store.ErrInvalid},
		{"no due date", func(n *store.NewFiling) { n.DueAt = time.Time{} }, store.ErrInvalid},
		{"form not an object", func(n *store.NewFiling) { n.Form = json.RawMessage(`[1,2]`) }, store.ErrInvalid},
		{"form not JSON", func(n *store.NewFiling) { n.Form = json.RawMessage(`{"a":`) }, store.ErrInvalid},
		{"unknown resident", func(n *store.NewFiling) { n.IDNumber = idNumber(999) }, store.ErrNotFound},
		{"unknown kiosk", func(n *store.NewFiling) { n.KioskID = "nope" }, store.ErrNotFound},
	}
	for i, tc := range bad {
		nf := newFiling(f, 0, fmt.Sprintf("bad-%d", i))
		tc.mod(&nf)
		if _, _, err := s.CreateFiling(c, kiosk, nf); !errors.Is(err, tc.want) {
			t.Errorf("%s: CreateFiling = %v, want %v", tc.name, err, tc.want)
		}
	}
	if err := s.SetResidentStatus(c, admin, f.residents[0].IDNumber, store.ResidentSuspended, "x"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateFiling(c, kiosk, newFiling(f, 0, "key-s")); !errors.Is(err, store.ErrInactive) {
		t.Errorf("suspended resident: %v, want ErrInactive", err)
	}
	// Failed requests consumed no reference numbers.
	fl4, _, err := s.CreateFiling(c, kiosk, newFiling(f, 1, "key-4"))
	if err != nil || fl4.Reference != "QS-2026-000004" {
		t.Errorf("reference after failures = %q, %v; want QS-2026-000004", fl4.Reference, err)
	}
	verifyChain(t, s)
}

func testFilingIdempotency(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	f := newFixture(t, s, 2)
	kiosk := audit.Kiosk(f.kiosk.ID)
	first, created, err := s.CreateFiling(c, kiosk, newFiling(f, 0, "idem-1"))
	if err != nil || !created {
		t.Fatal(err)
	}
	seq, _, _ := s.AuditHead(c)
	again, created, err := s.CreateFiling(c, kiosk, newFiling(f, 0, "idem-1"))
	if err != nil || created || again.ID != first.ID || again.Reference != first.Reference {
		t.Errorf("retry = %+v, %v, %v", again, created, err)
	}
	if seq2, _, _ := s.AuditHead(c); seq2 != seq {
		t.Errorf("retry appended %d audit events", seq2-seq)
	}
	// The same key from another kiosk is another request.
	nf := newFiling(f, 0, "idem-1")
	nf.KioskID = f.kiosk2.ID
	other, created, err := s.CreateFiling(c, audit.Kiosk(f.kiosk2.ID), nf)
	if err != nil || !created || other.ID == first.ID {
		t.Errorf("same key, other kiosk = %+v, %v, %v", other.Reference, created, err)
	}
	// The same key for a different request is a conflict, not a silent answer.
	if _, _, err := s.CreateFiling(c, kiosk, newFiling(f, 1, "idem-1")); !errors.Is(err, store.ErrConflict) {
		t.Errorf("key reused for another resident: %v, want ErrConflict", err)
	}
	nf = newFiling(f, 0, "idem-1")
	nf.ServiceCode = "elderly-subsidy"
	if _, _, err := s.CreateFiling(c, kiosk, nf); !errors.Is(err, store.ErrConflict) {
		t.Errorf("key reused for another service: %v, want ErrConflict", err)
	}
	if l, _ := s.ListFilings(c, store.FilingFilter{}); len(l) != 2 {
		t.Errorf("%d filings, want 2", len(l))
	}
}

// testFilingIdempotencyConcurrent: concurrent retries of one request create
// one filing; all get the same answer.
func testFilingIdempotencyConcurrent(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	f := newFixture(t, s, 1)
	kiosk := audit.Kiosk(f.kiosk.ID)
	issueToken(t, s, f, 0, "token-concurrent-0001")
	for round := 0; round < 3; round++ {
		key := fmt.Sprintf("race-%d", round)
		var wg sync.WaitGroup
		var mu sync.Mutex
		refs := map[string]int{}
		nCreated := 0
		start := make(chan struct{})
		for i := 0; i < 12; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				nf := newFiling(f, 0, key)
				if round == 0 {
					nf.Token = "token-concurrent-0001" // consumed once, by the winner
				}
				<-start
				fl, created, err := s.CreateFiling(c, kiosk, nf)
				if err != nil {
					t.Errorf("round %d: CreateFiling: %v", round, err)
					return
				}
				mu.Lock()
				refs[fl.Reference]++
				if created {
					nCreated++
				}
				mu.Unlock()
			}()
		}
		close(start)
		wg.Wait()
		if len(refs) != 1 || nCreated != 1 {
			t.Errorf("round %d: references %v, %d created; want one filing created once", round, refs, nCreated)
		}
	}
	if l, _ := s.ListFilings(c, store.FilingFilter{}); len(l) != 3 {
		t.Errorf("%d filings, want 3", len(l))
	}
	verifyChain(t, s)
}

// testFilingReferencesConcurrent: concurrent filings get distinct,
// gap-free reference numbers.
func testFilingReferencesConcurrent(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	f := newFixture(t, s, 1)
	kiosk := audit.Kiosk(f.kiosk.ID)
	const n = 40
	var wg sync.WaitGroup
	var mu sync.Mutex
	var refs []string
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fl, _, err := s.CreateFiling(c, kiosk, newFiling(f, 0, fmt.Sprintf("ref-%d", i)))
			if err != nil {
				t.Errorf("CreateFiling: %v", err)
				return
			}
			mu.Lock()
			refs = append(refs, fl.Reference)
			mu.Unlock()
		}()
	}
	wg.Wait()
	sort.Strings(refs)
	for i, r := range refs {
		if want := fmt.Sprintf("QS-2026-%06d", i+1); r != want {
			t.Fatalf("references %v: want 1..%d without gaps or repeats", refs, n)
		}
		if !refRE.MatchString(r) {
			t.Errorf("reference %q", r)
		}
	}
	verifyChain(t, s)
}

func testFilingTransitions(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	f := newFixture(t, s, 1)
	officer := audit.Staff(f.officer.ID)
	fl, _, err := s.CreateFiling(c, audit.Kiosk(f.kiosk.ID), newFiling(f, 0, "tr-1"))
	if err != nil {
		t.Fatal(err)
	}
	reply := "请补充户口本复印件"
	final := "审核通过，下月起发放"
	seq := []struct {
		from, to store.FilingStatus
		reply    *string
		want     error
	}{
		{store.FilingInReview, store.FilingNeedInfo, nil, store.ErrConflict}, // it is submitted, not in review
		{"", "bogus", nil, store.ErrInvalid},
		{store.FilingSubmitted, store.FilingInReview, nil, nil},
		{"", store.FilingSubmitted, nil, store.ErrConflict}, // no way back to submitted
		{store.FilingInReview, store.FilingNeedInfo, &reply, nil},
		{store.FilingNeedInfo, store.FilingInReview, nil, nil},
		{"", store.FilingAccepted, &final, nil},
		{"", store.FilingRejected, nil, store.ErrConflict}, // final
		{store.FilingAccepted, store.FilingInReview, nil, store.ErrConflict},
	}
	at := t0
	applied := 0
	for i, st := range seq {
		at = at.Add(time.Hour)
		got, err := s.TransitionFiling(c, officer, store.FilingTransition{FilingID: fl.ID, From: st.from, To: st.to, Note: fmt.Sprintf("step %d", i), Reply: st.reply, At: at})
		if (st.want == nil) != (err == nil) || (st.want != nil && !errors.Is(err, st.want)) {
			t.Fatalf("step %d (%s -> %s): %v, want %v", i, st.from, st.to, err, st.want)
		}
		if err != nil {
			continue
		}
		applied++
		if got.Status != st.to || !got.UpdatedAt.Equal(at) {
			t.Errorf("step %d: filing = %+v", i, got)
		}
		if st.reply != nil && got.Reply != *st.reply {
			t.Errorf("step %d: reply = %q", i, got.Reply)
		}
	}
	got, _ := s.GetFiling(c, fl.ID)
	if got.Status != store.FilingAccepted || got.Reply != final || got.ClosedAt == nil || !got.ClosedAt.Equal(at.Add(-2*time.Hour)) {
		t.Errorf("final filing = %+v", got)
	}
	hist, err := Inspect(s).FilingHistory(c, fl.ID)
	if err != nil || len(hist) != applied+1 {
		t.Fatalf("history has %d rows, want %d: %v", len(hist), applied+1, err)
	}
	wantPath := []store.FilingStatus{store.FilingSubmitted, store.FilingInReview, store.FilingNeedInfo, store.FilingInReview, store.FilingAccepted}
	for i, h := range hist {
		if h.ToStatus != wantPath[i] || (i > 0 && (h.FromStatus != wantPath[i-1] || h.Actor != officer || h.Note == "")) {
			t.Errorf("history[%d] = %+v", i, h)
		}
	}
	if _, err := s.TransitionFiling(c, officer, store.FilingTransition{FilingID: 9999, To: store.FilingInReview}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown filing: %v", err)
	}
	if n := count(auditActions(t, s), "filing.transition"); n != applied {
		t.Errorf("%d transition audit events, want %d", n, applied)
	}
	for _, tc := range []struct {
		from, to store.FilingStatus
		ok       bool
	}{
		{store.FilingSubmitted, store.FilingInReview, true},
		{store.FilingNeedInfo, store.FilingAccepted, true},
		{store.FilingAccepted, store.FilingRejected, false},
		{store.FilingRejected, store.FilingInReview, false},
		{store.FilingInReview, store.FilingSubmitted, false},
		{store.FilingInReview, store.FilingInReview, false},
	} {
		if store.CanTransition(tc.from, tc.to) != tc.ok {
			t.Errorf("CanTransition(%s, %s) != %v", tc.from, tc.to, tc.ok)
		}
	}
	verifyChain(t, s)
}

// testFilingTransitionConcurrent: officers racing to move the same filing
// from the same status: exactly one wins, the rest get ErrConflict, and the
// history has one row per applied change.
func testFilingTransitionConcurrent(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	f := newFixture(t, s, 1)
	fl, _, err := s.CreateFiling(c, audit.Kiosk(f.kiosk.ID), newFiling(f, 0, "race"))
	if err != nil {
		t.Fatal(err)
	}
	targets := []store.FilingStatus{store.FilingInReview, store.FilingNeedInfo, store.FilingAccepted, store.FilingRejected}
	var wg sync.WaitGroup
	var mu sync.Mutex
	won, conflicts := 0, 0
	start := make(chan struct{})
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := s.TransitionFiling(c, audit.Staff(f.officer.ID), store.FilingTransition{FilingID: fl.ID, From: store.FilingSubmitted, To: targets[i%len(targets)]})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case errors.Is(err, store.ErrConflict):
				conflicts++
			default:
				t.Errorf("TransitionFiling: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if won != 1 || conflicts != 11 {
		t.Errorf("%d transitions won, %d conflicts; want 1 and 11", won, conflicts)
	}
	if h, _ := Inspect(s).FilingHistory(c, fl.ID); len(h) != 2 {
		t.Errorf("history has %d rows, want 2", len(h))
	}
	verifyChain(t, s)
}

func testFilingLists(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	f := newFixture(t, s, 3)
	kiosk := audit.Kiosk(f.kiosk.ID)
	officer := audit.Staff(f.officer.ID)
	mk := func(r int, key, dept string, due time.Duration) store.Filing {
		nf := newFiling(f, r, key)
		nf.Department, nf.DueAt = dept, t0.Add(due)
		fl, _, err := s.CreateFiling(c, kiosk, nf)
		if err != nil {
			t.Fatal(err)
		}
		return fl
	}
	a1 := mk(0, "a1", "civil-affairs", 24*time.Hour)
	a2 := mk(1, "a2", "civil-affairs", 48*time.Hour)
	a3 := mk(2, "a3", "civil-affairs", 72*time.Hour)
	h1 := mk(0, "h1", "housing", 24*time.Hour)
	h2 := mk(1, "h2", "housing", 200*time.Hour)
	move := func(fl store.Filing, to ...store.FilingStatus) {
		for _, st := range to {
			if _, err := s.TransitionFiling(c, officer, store.FilingTransition{FilingID: fl.ID, To: st, At: t0.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	move(a2, store.FilingInReview)
	move(a3, store.FilingInReview, store.FilingAccepted) // closed: never overdue
	move(h1, store.FilingNeedInfo)
	now := t0.Add(100 * time.Hour)
	ids := func(fs []store.Filing) []int64 {
		out := []int64{}
		for _, x := range fs {
			out = append(out, x.ID)
		}
		return out
	}
	cases := []struct {
		name string
		f    store.FilingFilter
		want []store.Filing
	}{
		{"department", store.FilingFilter{Department: "civil-affairs"}, []store.Filing{a1, a2, a3}},
		{"department+status", store.FilingFilter{Department: "civil-affairs", Statuses: []store.FilingStatus{store.FilingSubmitted, store.FilingInReview}}, []store.Filing{a1, a2}},
		{"status", store.FilingFilter{Statuses: []store.FilingStatus{store.FilingNeedInfo}}, []store.Filing{h1}},
		{"resident", store.FilingFilter{IDNumber: f.residents[1].IDNumber}, []store.Filing{a2, h2}},
		{"overdue", store.FilingFilter{OverdueAt: &now}, []store.Filing{a1, a2, h1}},
		{"overdue in housing", store.FilingFilter{OverdueAt: &now, Department: "housing"}, []store.Filing{h1}},
		{"station", store.FilingFilter{StationID: f.station.ID, ServiceCode: "dibao-apply"}, []store.Filing{a1, a2, a3, h1, h2}},
		{"paged", store.FilingFilter{AfterID: a2.ID, Limit: 2}, []store.Filing{a3, h1}},
		{"nothing", store.FilingFilter{Department: "police"}, nil},
	}
	for _, tc := range cases {
		got, err := s.ListFilings(c, tc.f)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if fmt.Sprint(ids(got)) != fmt.Sprint(ids(tc.want)) {
			t.Errorf("%s: ListFilings = %v, want %v", tc.name, ids(got), ids(tc.want))
		}
	}
	if _, err := s.ListFilings(c, store.FilingFilter{Statuses: []store.FilingStatus{"lost"}}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("bad status filter: %v", err)
	}
	od, err := s.OverdueByDepartment(c, now)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.DepartmentOverdue{
		{Department: "civil-affairs", Overdue: 2, OldestDue: a1.DueAt},
		{Department: "housing", Overdue: 1, OldestDue: h1.DueAt},
	}
	if len(od) != len(want) {
		t.Fatalf("OverdueByDepartment = %+v, want %+v", od, want)
	}
	for i := range want {
		if od[i].Department != want[i].Department || od[i].Overdue != want[i].Overdue || !od[i].OldestDue.Equal(want[i].OldestDue) {
			t.Errorf("OverdueByDepartment[%d] = %+v, want %+v", i, od[i], want[i])
		}
	}
	if od, _ := s.OverdueByDepartment(c, t0); len(od) != 0 {
		t.Errorf("nothing is overdue at t0: %+v", od)
	}
}
