package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

func testDedup(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	f := newFixture(t, s, 3)
	clerk := audit.Staff(f.clerk.ID)
	dc, err := s.CreateDedupCase(c, clerk, store.DedupCase{
		IDNumber: f.residents[0].IDNumber, MatchedIDNumber: f.residents[1].IDNumber, Finger: 2, Score: 0.91,
		KioskID: f.kiosk.ID, StaffID: f.clerk.ID,
	})
	if err != nil {
		t.Fatal(err)
	}
	if dc.ID == 0 || dc.Status != store.DedupOpen {
		t.Errorf("CreateDedupCase = %+v", dc)
	}
	got, err := s.GetDedupCase(c, dc.ID)
	if err != nil || got.IDNumber != f.residents[0].IDNumber || got.MatchedIDNumber != f.residents[1].IDNumber ||
		got.Score != 0.91 || got.KioskID != f.kiosk.ID || got.StationID != f.station.ID || got.StaffID != f.clerk.ID || got.DecidedAt != nil {
		t.Errorf("GetDedupCase = %+v, %v", got, err)
	}
	if _, err := s.CreateDedupCase(c, clerk, store.DedupCase{IDNumber: f.residents[0].IDNumber, MatchedIDNumber: f.residents[0].IDNumber, Finger: 2}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("self-match case: %v", err)
	}
	if _, err := s.CreateDedupCase(c, clerk, store.DedupCase{IDNumber: f.residents[0].IDNumber, MatchedIDNumber: idNumber(999), Finger: 2}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown matched resident: %v", err)
	}
	dc2, err := s.CreateDedupCase(c, clerk, store.DedupCase{IDNumber: f.residents[2].IDNumber, MatchedIDNumber: f.residents[1].IDNumber, Finger: 7, Score: 0.8})
	if err != nil {
		t.Fatal(err)
	}
	if open, _ := s.ListDedupCases(c, store.DedupFilter{Status: store.DedupOpen}); len(open) != 2 || open[0].ID != dc2.ID {
		t.Errorf("open cases = %+v, want 2 newest first", open)
	}
	if dc2.StationID != "" {
		t.Errorf("a case without a kiosk has station %q", dc2.StationID)
	}
	if mine, _ := s.ListDedupCases(c, store.DedupFilter{StationID: f.station.ID}); len(mine) != 1 || mine[0].ID != dc.ID {
		t.Errorf("the station's cases = %+v, want case %d only", mine, dc.ID)
	}
	if other, _ := s.ListDedupCases(c, store.DedupFilter{StationID: "QS-S99"}); len(other) != 0 {
		t.Errorf("another station's cases = %+v, want none", other)
	}
	sup := audit.Staff(f.supervisor.ID)
	bad := []store.DedupDecision{
		{Status: store.DedupOpen, Supervisor: f.supervisor.ID, Reason: "x"},
		{Status: store.DedupOverridden, Supervisor: f.supervisor.ID, Reason: ""},
	}
	for _, d := range bad {
		if _, err := s.DecideDedupCase(c, sup, dc.ID, d); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("DecideDedupCase(%+v) = %v, want ErrInvalid", d, err)
		}
	}
	// Who decides (store.MayDecideDedupCase), checked in the transaction:
	// a supervisor of the case's station; an administrator the cases
	// without a station; never the staff member who opened it.
	if _, err := s.CreateStation(c, admin, store.Station{ID: "QS-S99", Name: "远方服务站", Address: "远方路9号"}); err != nil {
		t.Fatal(err)
	}
	far, err := s.CreateStaff(c, admin, store.Staff{Username: "far", DisplayName: "远", Role: store.RoleSupervisor, StationID: "QS-S99", PasswordHash: hashPW(t, "far-pw")})
	if err != nil {
		t.Fatal(err)
	}
	noStation, err := s.CreateStaff(c, admin, store.Staff{Username: "nostation", DisplayName: "无站", Role: store.RoleSupervisor, PasswordHash: hashPW(t, "ns-pw")})
	if err != nil {
		t.Fatal(err)
	}
	root, err := s.CreateStaff(c, admin, store.Staff{Username: "root", DisplayName: "管理员", Role: store.RoleAdmin, PasswordHash: hashPW(t, "root-pw")})
	if err != nil {
		t.Fatal(err)
	}
	refusals := []struct {
		name string
		by   int64
		id   int64
		want error
	}{
		{"a clerk", f.clerk.ID, dc.ID, store.ErrSelfApproval},
		{"another station's supervisor", far.ID, dc.ID, store.ErrNotApprover},
		{"a supervisor without a station", noStation.ID, dc.ID, store.ErrNotApprover},
		{"an administrator, a station's case", root.ID, dc.ID, store.ErrNotApprover},
		{"the station's supervisor, a case without a station", f.supervisor.ID, dc2.ID, store.ErrNotApprover},
		{"an officer", f.officer.ID, dc2.ID, store.ErrNotApprover},
	}
	for _, r := range refusals {
		if _, err := s.DecideDedupCase(c, audit.Staff(r.by), r.id, store.DedupDecision{Status: store.DedupOverridden, Supervisor: r.by, Reason: "not theirs"}); !errors.Is(err, r.want) {
			t.Errorf("%s decides case %d: %v, want %v", r.name, r.id, err, r.want)
		}
	}
	if got, _ := s.GetDedupCase(c, dc.ID); got.Status != store.DedupOpen {
		t.Fatalf("a refused decision changed the case: %+v", got)
	}
	decided, err := s.DecideDedupCase(c, sup, dc.ID, store.DedupDecision{Status: store.DedupOverridden, Supervisor: f.supervisor.ID, Reason: "identical twins, checked in person"})
	if err != nil {
		t.Fatal(err)
	}
	if decided.Status != store.DedupOverridden || decided.DecidedBy != f.supervisor.ID || decided.DecidedAt == nil || decided.Reason == "" {
		t.Errorf("decided = %+v", decided)
	}
	if _, err := s.DecideDedupCase(c, sup, dc.ID, store.DedupDecision{Status: store.DedupRejected, Supervisor: f.supervisor.ID, Reason: "again"}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("deciding twice: %v, want ErrConflict", err)
	}
	if _, err := s.DecideDedupCase(c, sup, 9999, store.DedupDecision{Status: store.DedupRejected, Supervisor: f.supervisor.ID, Reason: "x"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown case: %v", err)
	}
	if all, _ := s.ListDedupCases(c, store.DedupFilter{}); len(all) != 2 {
		t.Errorf("all cases = %d", len(all))
	}
	if o, _ := s.ListDedupCases(c, store.DedupFilter{Status: store.DedupOverridden}); len(o) != 1 {
		t.Errorf("overridden cases = %d", len(o))
	}
	if a := lastAudit(t, s); a.Action != "dedup.decide" || a.Actor != sup {
		t.Errorf("audit = %+v", a)
	}
	if _, err := s.DecideDedupCase(c, audit.Staff(root.ID), dc2.ID, store.DedupDecision{Status: store.DedupRejected, Supervisor: root.ID, Reason: "bulk import error"}); err != nil {
		t.Errorf("an administrator decides a case without a station: %v", err)
	}
	verifyChain(t, s)
}

func testLockout(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	f := newFixture(t, s, 1)
	id := f.residents[0].IDNumber
	p := store.LockoutPolicy{MaxFailures: 3, LockFor: 15 * time.Minute}
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	steps := []struct {
		at           time.Duration
		result       store.VerificationResult
		wantFailures int
		wantLocked   bool
	}{
		{0, store.VerifyNoMatch, 1, false},
		{time.Minute, store.VerifyError, 1, false}, // device errors do not count
		{2 * time.Minute, store.VerifyNoMatch, 2, false},
		{3 * time.Minute, store.VerifyMatch, 0, false}, // success resets
		{4 * time.Minute, store.VerifyNoMatch, 1, false},
		{5 * time.Minute, store.VerifyNoMatch, 2, false},
		{6 * time.Minute, store.VerifyNoMatch, 3, true}, // locked until 6+15
		{7 * time.Minute, store.VerifyLockedOut, 3, true},
		{22 * time.Minute, store.VerifyNoMatch, 1, false}, // lock ran out: counting starts again
	}
	att := newAttempter(t, s, f, "VS-ATT-1")
	for i, st := range steps {
		at := t0.Add(st.at)
		l, err := att.record(c, store.VerificationAttempt{IDNumber: id, KioskID: f.kiosk.ID, Result: st.result, Score: 0.1, Reason: "test", At: at}, p)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if l.Failures != st.wantFailures || l.Locked(at) != st.wantLocked {
			t.Errorf("step %d (%s at +%v): failures %d locked %v, want %d %v", i, st.result, st.at, l.Failures, l.Locked(at), st.wantFailures, st.wantLocked)
		}
		got, err := s.GetLockout(c, id)
		if err != nil || got.Failures != l.Failures || got.Locked(at) != l.Locked(at) {
			t.Errorf("step %d: GetLockout = %+v, %v; the outcome said %+v", i, got, err, l)
		}
		if i == 6 {
			if want := at.Add(15 * time.Minute); !l.LockedUntil.Equal(want) {
				t.Errorf("locked until %v, want %v", l.LockedUntil, want)
			}
		}
	}
	// An unlock needs a reason, and something to unlock.
	sup := audit.Staff(f.supervisor.ID)
	for _, u := range []store.LockoutUnlock{{IDNumber: id}, {IDNumber: id, Reason: " \t"}, {Reason: "x"}, {IDNumber: id, Reason: strings.Repeat("x", store.MaxUnlockReason+1)}} {
		if _, err := s.ResetLockout(c, sup, u); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("ResetLockout(%q, reason %d bytes) = %v, want ErrInvalid", u.IDNumber, len(u.Reason), err)
		}
	}
	if _, err := s.ResetLockout(c, sup, store.LockoutUnlock{IDNumber: idNumber(997), Reason: "never tried"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ResetLockout(never seen) = %v, want ErrNotFound", err)
	}
	if l, _ := s.GetLockout(c, id); l.Failures != 1 {
		t.Fatalf("a refused unlock changed the lockout: %+v", l)
	}
	before, err := s.ResetLockout(c, sup, store.LockoutUnlock{IDNumber: id, Reason: "card checked in person", KioskID: f.kiosk.ID})
	if err != nil || before.Failures != 1 || before.LockedUntil != nil {
		t.Fatalf("ResetLockout = %+v, %v; want the 1 failure it cleared", before, err)
	}
	if l, _ := s.GetLockout(c, id); l.Failures != 0 || l.LockedUntil != nil {
		t.Errorf("after reset: %+v", l)
	}
	if r := lastAudit(t, s); r.Action != "lockout.unlock" || r.Actor != sup || r.Details["reason"] != "card checked in person" ||
		r.Details["kiosk"] != f.kiosk.ID || r.Details["failures_before"] != "1" || r.Details["id_key"] == "" {
		t.Errorf("unlock audit = %+v", r)
	}
	// An ID number not in the population database is still tracked.
	stranger := idNumber(999)
	if l, err := att.record(c, store.VerificationAttempt{IDNumber: stranger, KioskID: f.kiosk.ID, Result: store.VerifyNoMatch}, p); err != nil || l.Failures != 1 {
		t.Errorf("unknown ID number: %+v, %v", l, err)
	}
	if l, err := s.GetLockout(c, idNumber(998)); err != nil || l.Failures != 0 || l.IDNumber != idNumber(998) {
		t.Errorf("GetLockout(never seen) = %+v, %v", l, err)
	}
	atts, err := Inspect(s).ListVerifications(c, id, 3)
	if err != nil || len(atts) != 3 || atts[0].Result != store.VerifyNoMatch || !atts[0].At.Equal(t0.Add(22*time.Minute)) ||
		atts[0].ResidentID != f.residents[0].ID || atts[0].KioskID != f.kiosk.ID {
		t.Errorf("ListVerifications = %+v, %v", atts, err)
	}
	for _, bad := range []store.VerificationAttempt{
		{IDNumber: "", KioskID: f.kiosk.ID, Result: store.VerifyMatch},
		{IDNumber: id, KioskID: f.kiosk.ID, Result: "maybe"},
		{IDNumber: id, Result: store.VerifyMatch},
	} {
		if _, err := att.record(c, bad, p); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("RecordVerificationOutcome(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
	if n := count(auditActions(t, s), "verification.attempt"); n != len(steps)+1 {
		t.Errorf("%d verification audit events, want %d", n, len(steps)+1)
	}
	verifyChain(t, s)
}

// testLockoutConcurrent: concurrent failures are all counted.
func testLockoutConcurrent(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	f := newFixture(t, s, 1)
	id := f.residents[0].IDNumber
	const n = 24
	var wg sync.WaitGroup
	var locked atomic.Int32
	for i := 0; i < n; i++ {
		att := newAttempter(t, s, f, fmt.Sprintf("VS-ATT-%02d", i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := att.record(c, store.VerificationAttempt{IDNumber: id, KioskID: f.kiosk.ID, Result: store.VerifyNoMatch},
				store.LockoutPolicy{MaxFailures: 1000, LockFor: time.Hour})
			if err != nil {
				t.Errorf("RecordVerificationOutcome: %v", err)
			}
			if l.LockedUntil != nil {
				locked.Add(1)
			}
		}()
	}
	wg.Wait()
	if l, _ := s.GetLockout(c, id); l.Failures != n {
		t.Errorf("failures = %d after %d concurrent failures", l.Failures, n)
	}
	if locked.Load() != 0 {
		t.Errorf("locked below the limit")
	}
	verifyChain(t, s)
}

func testNonces(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	n := store.Nonce{Value: "n-1", KioskID: "K-0001", Purpose: "capture", ExpiresAt: now.Add(time.Minute), CreatedAt: now}
	if err := s.IssueNonce(c, n); err != nil {
		t.Fatal(err)
	}
	if err := s.IssueNonce(c, n); !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("issuing twice: %v", err)
	}
	if err := s.IssueNonce(c, store.Nonce{Value: "n-2", ExpiresAt: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := s.IssueNonce(c, store.Nonce{Value: "n-3", KioskID: "K-0001", Purpose: "capture", ExpiresAt: now.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	if err := s.IssueNonce(c, store.Nonce{Value: "", ExpiresAt: now}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("empty nonce: %v", err)
	}
	if err := s.IssueNonce(c, store.Nonce{Value: "n-4"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("nonce without expiry: %v", err)
	}
	steps := []struct {
		value, kiosk, purpose string
		at                    time.Time
		want                  error
	}{
		{"n-1", "K-0002", "capture", now, store.ErrNotFound}, // another kiosk
		{"n-1", "K-0001", "verify", now, store.ErrNotFound},  // another purpose
		{"n-1", "K-0001", "capture", now.Add(time.Second), nil},
		{"n-1", "K-0001", "capture", now.Add(time.Second), store.ErrNotFound}, // used
		{"nope", "K-0001", "capture", now, store.ErrNotFound},
		{"n-3", "K-0001", "capture", now.Add(2 * time.Second), store.ErrExpired},
		{"n-3", "K-0001", "capture", now.Add(time.Second), store.ErrExpired}, // expiry is exclusive
		{"n-2", "", "", now, nil},
	}
	for i, st := range steps {
		err := s.ConsumeNonce(c, st.value, st.kiosk, st.purpose, st.at)
		if (st.want == nil) != (err == nil) || (st.want != nil && !errors.Is(err, st.want)) {
			t.Errorf("step %d: ConsumeNonce(%s, %s, %s) = %v, want %v", i, st.value, st.kiosk, st.purpose, err, st.want)
		}
	}
	// Purge removes expired nonces only.
	if err := s.IssueNonce(c, store.Nonce{Value: "fresh", ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	purged, err := s.PurgeExpired(c, now.Add(2*time.Minute))
	if err != nil || purged != 3 {
		t.Errorf("PurgeExpired = %d, %v; want 3", purged, err)
	}
	if err := s.ConsumeNonce(c, "fresh", "", "", now.Add(2*time.Minute)); err != nil {
		t.Errorf("fresh nonce after purge: %v", err)
	}
}

// testNonceConcurrent: of many concurrent attempts to consume one nonce,
// exactly one succeeds.
func testNonceConcurrent(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	now := time.Now()
	for round := 0; round < 5; round++ {
		v := fmt.Sprintf("race-%d", round)
		if err := s.IssueNonce(c, store.Nonce{Value: v, KioskID: "K", Purpose: "p", ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		var ok, notFound atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < 16; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				err := s.ConsumeNonce(c, v, "K", "p", now)
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, store.ErrNotFound):
					notFound.Add(1)
				default:
					t.Errorf("ConsumeNonce: %v", err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if ok.Load() != 1 || notFound.Load() != 15 {
			t.Errorf("round %d: %d consumed, %d refused; want 1 and 15", round, ok.Load(), notFound.Load())
		}
	}
}

// testLockoutRaced (issue 11 item 2): many failures of one ID number at
// once, through two store handles (two replicas on one database), each
// from its own scanner: the lockout is decided inside each outcome's
// transaction, so exactly MaxFailures are counted as no_match, the rest
// are recorded as locked_out, one lock event and one remembered lock are
// written; then matches that race while it is locked get locked_out and
// no token; after the lock runs out, the next lock lasts twice as long.
func testLockoutRaced(t *testing.T, newDB NewDatabase) {
	two := openTwice(t, newDB)
	s := two[0]
	c := ctx(t)
	f := newFixture(t, s, 1)
	id := f.residents[0].IDNumber
	const n, limit = 32, 5
	p := store.LockoutPolicy{MaxFailures: limit, LockFor: 10 * time.Minute, Escalation: 24 * time.Hour}
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	atts := make([]*attempter, n)
	for i := range atts {
		atts[i] = newAttempter(t, s, f, fmt.Sprintf("VS-RACE-%02d", i))
		atts[i].s = two[i%2]
	}
	lockEvent := func(at time.Time) *audit.Event {
		return &audit.Event{Time: at, Actor: audit.Kiosk(f.kiosk.ID), Action: "verification.lockout", Target: "resident", Details: map[string]string{"kiosk": f.kiosk.ID}}
	}
	// race runs one outcome per attempter at once and counts the results
	// recorded and the tokens issued.
	race := func(at time.Time, result store.VerificationResult) (map[store.VerificationResult]int, int) {
		t.Helper()
		var mu sync.Mutex
		got := map[store.VerificationResult]int{}
		tokens := 0
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, a := range atts {
			o := store.VerificationOutcome{
				Attempt:   store.VerificationAttempt{IDNumber: id, KioskID: f.kiosk.ID, Result: result, Score: 0.1, At: at},
				Policy:    p,
				LockEvent: lockEvent(at),
			}
			if result == store.VerifyMatch {
				o.Token = &store.FilingToken{Token: fmt.Sprintf("race-token-%04d-%d", i, at.Unix()), IDNumber: id, KioskID: f.kiosk.ID, ExpiresAt: at.Add(time.Hour), CreatedAt: at}
				o.MatchEvent = &audit.Event{Time: at, Actor: audit.Kiosk(f.kiosk.ID), Action: "verification.match", Target: "resident"}
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				st, err := a.outcome(c, o)
				if err != nil {
					t.Errorf("RecordVerificationOutcome: %v", err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				got[st.Result]++
				if st.TokenIssued {
					tokens++
				}
				if st.Result == store.VerifyLockedOut && (!st.Lockout.Locked(at) || st.Lockout.Failures != limit) {
					t.Errorf("locked_out with lockout %+v", st.Lockout)
				}
			}()
		}
		close(start)
		wg.Wait()
		return got, tokens
	}
	recorded := func(r store.VerificationResult) int {
		t.Helper()
		vs, err := Inspect(s).ListVerifications(c, id, 1000)
		if err != nil {
			t.Fatal(err)
		}
		k := 0
		for _, v := range vs {
			if v.Result == r {
				k++
			}
		}
		return k
	}

	got, _ := race(t0, store.VerifyNoMatch)
	if got[store.VerifyNoMatch] != limit || got[store.VerifyLockedOut] != n-limit {
		t.Fatalf("%d concurrent failures against a limit of %d recorded %v; want %d no_match, %d locked_out", n, limit, got, limit, n-limit)
	}
	if a, b := recorded(store.VerifyNoMatch), recorded(store.VerifyLockedOut); a != limit || b != n-limit {
		t.Errorf("stored attempts: %d no_match, %d locked_out; want %d, %d", a, b, limit, n-limit)
	}
	l, err := s.GetLockout(c, id)
	if err != nil || l.Failures != limit || !l.Locked(t0) || !l.LockedUntil.Equal(t0.Add(p.LockFor)) {
		t.Errorf("lockout after the race = %+v, %v; want %d failures locked until %v", l, err, limit, t0.Add(p.LockFor))
	}
	if k := count(auditActions(t, s), "verification.lockout"); k != 1 {
		t.Errorf("%d lock events, want 1", k)
	}
	if k, err := Inspect(s).CountIDLocks(c, id, t0); err != nil || k != 1 {
		t.Errorf("remembered locks = %d, %v; want 1", k, err)
	}

	// Matches while locked: recorded as locked_out, no token, lock kept.
	at := t0.Add(time.Minute)
	got, tokens := race(at, store.VerifyMatch)
	if got[store.VerifyLockedOut] != n || tokens != 0 {
		t.Errorf("%d matches while locked recorded %v with %d tokens; want all locked_out, none", n, got, tokens)
	}
	if _, err := s.CheckFilingToken(c, fmt.Sprintf("race-token-%04d-%d", 0, at.Unix()), f.kiosk.ID, at); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("token of a match while locked: %v, want ErrNotFound", err)
	}
	if recorded(store.VerifyMatch) != 0 || count(auditActions(t, s), "verification.match") != 0 {
		t.Errorf("a match was recorded while locked")
	}
	if l2, _ := s.GetLockout(c, id); l2.Failures != limit || !l2.LockedUntil.Equal(*l.LockedUntil) {
		t.Errorf("lockout after matches while locked = %+v, want %+v", l2, l)
	}

	// After the lock runs out the count starts again, and the second lock
	// within the escalation memory lasts twice as long.
	t1 := l.LockedUntil.Add(time.Second)
	got, _ = race(t1, store.VerifyNoMatch)
	if got[store.VerifyNoMatch] != limit || got[store.VerifyLockedOut] != n-limit {
		t.Errorf("second race recorded %v", got)
	}
	if l, _ := s.GetLockout(c, id); !l.LockedUntil.Equal(t1.Add(2 * p.LockFor)) {
		t.Errorf("second lock until %v, want %v (escalated)", l.LockedUntil, t1.Add(2*p.LockFor))
	}
	verifyChain(t, s)
}
