package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// testVerificationOutcome checks RecordVerificationOutcome: all of a
// verification commits together, and a failing nonce or counter check
// leaves nothing behind.
func testVerificationOutcome(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	f := newFixture(t, s, 2)
	id := f.residents[0].IDNumber
	if _, err := s.CreateScanner(c, admin, store.Scanner{Serial: "VS-0100", Model: "FV-300", MakerID: "qsdev", PublicKey: pubKey(9), KioskID: f.kiosk.ID}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	p := store.LockoutPolicy{MaxFailures: 2, LockFor: 15 * time.Minute}
	nonce := func(v string, exp time.Time) {
		t.Helper()
		if err := s.IssueNonce(c, store.Nonce{Value: v, KioskID: f.kiosk.ID, Purpose: "capture", ExpiresAt: exp, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	outcome := func(v string, counter uint64, at time.Time, result store.VerificationResult, tok string) store.VerificationOutcome {
		o := store.VerificationOutcome{
			NonceValue: v, NoncePurpose: "capture", ScannerSerial: "VS-0100", Counter: counter,
			Attempt: store.VerificationAttempt{IDNumber: id, KioskID: f.kiosk.ID, Result: result, Score: 0.3, At: at},
			Policy:  p,
			LockEvent: &audit.Event{Time: at, Actor: audit.Kiosk(f.kiosk.ID), Action: "verification.lockout", Target: "resident",
				Details: map[string]string{"kiosk": f.kiosk.ID}},
		}
		if tok != "" {
			o.Token = &store.FilingToken{Token: tok, IDNumber: id, KioskID: f.kiosk.ID, ExpiresAt: at.Add(10 * time.Minute), CreatedAt: at}
			o.MatchEvent = &audit.Event{Time: at, Actor: audit.Kiosk(f.kiosk.ID), Action: "verification.match", Target: "resident"}
		}
		return o
	}
	attempts := func() int {
		vs, err := Inspect(s).ListVerifications(c, id, 100)
		if err != nil {
			t.Fatal(err)
		}
		return len(vs)
	}

	// A match: nonce consumed, counter advanced, attempt, token, events.
	nonce("o-1", t0.Add(time.Minute))
	before := len(auditActions(t, s))
	st, err := s.RecordVerificationOutcome(c, outcome("o-1", 5, t0, store.VerifyMatch, "token-0123456789abcdef"))
	if err != nil || !st.TokenIssued || st.Lockout.Failures != 0 {
		t.Fatalf("match: %+v, %v", st, err)
	}
	if _, err := s.CheckFilingToken(c, "token-0123456789abcdef", f.kiosk.ID, t0); err != nil {
		t.Errorf("token of the match: %v", err)
	}
	if sc, _ := s.GetScanner(c, "VS-0100"); sc.Counter != 5 {
		t.Errorf("counter %d, want 5", sc.Counter)
	}
	acts := auditActions(t, s)[before:]
	if fmt.Sprint(acts) != "[verification.attempt verification.match]" {
		t.Errorf("audit actions %v", acts)
	}
	if err := s.ConsumeNonce(c, "o-1", f.kiosk.ID, "capture", t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the nonce was not consumed: %v", err)
	}

	// Replays: the same nonce, then a stale counter. Nothing is stored.
	n := attempts()
	_, err = s.RecordVerificationOutcome(c, outcome("o-1", 6, t0, store.VerifyMatch, "token-aaaaaaaaaaaaaaaa"))
	var oe *store.OutcomeError
	if !errors.As(err, &oe) || oe.Step != "nonce" || !errors.Is(err, store.ErrNotFound) {
		t.Errorf("nonce replay: %v", err)
	}
	nonce("o-2", t0.Add(time.Minute))
	_, err = s.RecordVerificationOutcome(c, outcome("o-2", 5, t0, store.VerifyMatch, "token-bbbbbbbbbbbbbbbb"))
	if !errors.As(err, &oe) || oe.Step != "scanner" || !errors.Is(err, store.ErrStaleCounter) {
		t.Errorf("counter replay: %v", err)
	}
	// The nonce of the failed call was not consumed (rolled back).
	if err := s.ConsumeNonce(c, "o-2", f.kiosk.ID, "capture", t0); err != nil {
		t.Errorf("nonce of a rolled-back outcome: %v", err)
	}
	if _, err := s.CheckFilingToken(c, "token-bbbbbbbbbbbbbbbb", f.kiosk.ID, t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("token of a rolled-back outcome: %v", err)
	}
	nonce("o-3", t0.Add(time.Second))
	_, err = s.RecordVerificationOutcome(c, outcome("o-3", 7, t0.Add(2*time.Second), store.VerifyNoMatch, ""))
	if !errors.As(err, &oe) || oe.Step != "nonce" || !errors.Is(err, store.ErrExpired) {
		t.Errorf("expired nonce: %v", err)
	}
	if got := attempts(); got != n {
		t.Errorf("failed outcomes stored attempts: %d, want %d", got, n)
	}

	// Two failures lock; the second appends the lockout event; no token.
	nonce("o-4", t0.Add(time.Hour))
	nonce("o-5", t0.Add(time.Hour))
	if st, err = s.RecordVerificationOutcome(c, outcome("o-4", 8, t0.Add(time.Minute), store.VerifyNoMatch, "")); err != nil || st.Lockout.Failures != 1 {
		t.Fatalf("first failure: %+v %v", st, err)
	}
	before = len(auditActions(t, s))
	at := t0.Add(2 * time.Minute)
	if st, err = s.RecordVerificationOutcome(c, outcome("o-5", 9, at, store.VerifyNoMatch, "")); err != nil || !st.Lockout.Locked(at) || st.TokenIssued {
		t.Fatalf("second failure: %+v %v", st, err)
	}
	acts = auditActions(t, s)[before:]
	if fmt.Sprint(acts) != "[verification.attempt verification.lockout]" {
		t.Errorf("audit actions %v", acts)
	}
	if r := lastAudit(t, s); r.Details["failures"] != "2" || r.Details["locked_until"] == "" || r.Details["kiosk"] != f.kiosk.ID {
		t.Errorf("lockout event details %v", r.Details)
	}
	if l, _ := s.GetLockout(c, id); !l.Locked(at) {
		t.Errorf("lockout not stored: %+v", l)
	}
	// Validation.
	bad := outcome("o-9", 10, at, store.VerifyMatch, "token-cccccccccccccccc")
	bad.Token.IDNumber = f.residents[1].IDNumber
	if _, err := s.RecordVerificationOutcome(c, bad); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("token for another resident: %v", err)
	}
	verifyChain(t, s)
}

// testConcurrentWriters runs many independent write transactions at once,
// some of which fail: each caller gets its own result (a backend that
// coalesces transactions must not let one failure fail the others), and
// every acknowledged write is there.
func testConcurrentWriters(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	now := time.Now()
	const n = 200
	var wg sync.WaitGroup
	var okCount, dupCount atomic.Int64
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Every third value is issued twice: exactly one of the pair
			// must fail with ErrAlreadyExists.
			v := fmt.Sprintf("cw-%d", i)
			if i%3 == 0 {
				v = fmt.Sprintf("cw-dup-%d", i/6)
			}
			err := s.IssueNonce(c, store.Nonce{Value: v, KioskID: "K", Purpose: "capture", ExpiresAt: now.Add(time.Hour)})
			switch {
			case err == nil:
				okCount.Add(1)
			case errors.Is(err, store.ErrAlreadyExists):
				dupCount.Add(1)
			default:
				errs <- err
			}
		}()
	}
	// Concurrent audit appends keep the chain intact.
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.AppendAudit(c, audit.Event{Time: now, Actor: admin, Action: "test.concurrent", Target: fmt.Sprint("t:", i)}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	dups := 0
	for i := 0; i < n; i += 3 {
		dups++
	}
	wantDup := int64(dups - (dups+1)/2)
	if dupCount.Load() != wantDup || okCount.Load() != n-wantDup {
		t.Errorf("ok %d dup %d, want %d %d", okCount.Load(), dupCount.Load(), n-wantDup, wantDup)
	}
	// Every acknowledged nonce is stored: consuming each succeeds.
	for i := 0; i < n; i++ {
		v := fmt.Sprintf("cw-%d", i)
		if i%3 == 0 {
			continue
		}
		if err := s.ConsumeNonce(c, v, "K", "capture", now); err != nil {
			t.Errorf("nonce %s: %v", v, err)
		}
	}
	if r := verifyChain(t, s); r.Records < 50 {
		t.Errorf("audit chain has %d records", r.Records)
	}
}

// BenchVerificationOutcome measures acknowledged verification outcomes per
// second from many concurrent callers (b.RunParallel): one nonce issue and
// one RecordVerificationOutcome each, as a kiosk verification stores them.
// Compare with -cpu to vary the callers (RunParallel runs GOMAXPROCS x
// parallelism goroutines; SetParallelism(8) here).
func BenchVerificationOutcome(b *testing.B, open func(b *testing.B) (store.Store, error)) {
	s, err := open(b)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	c := context.Background()
	const kiosks = 64
	if _, err := s.CreateStation(c, admin, store.Station{ID: "S", Name: "站"}); err != nil {
		b.Fatal(err)
	}
	var rs []store.Resident
	for i := 0; i < kiosks; i++ {
		rs = append(rs, store.Resident{IDNumber: idNumber(i + 1), Name: fmt.Sprint("r", i)})
	}
	if _, err := s.ImportResidents(c, admin, rs); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < kiosks; i++ {
		k := fmt.Sprintf("K-%03d", i)
		if _, err := s.CreateKiosk(c, admin, store.Kiosk{ID: k, StationID: "S", Name: k, PublicKey: pubKey(byte(i))}); err != nil {
			b.Fatal(err)
		}
		if _, err := s.CreateScanner(c, admin, store.Scanner{Serial: "SC-" + k, Model: "m", MakerID: "x", PublicKey: pubKey(byte(i)), KioskID: k}); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := int(next.Add(1)-1) % kiosks
		k := fmt.Sprintf("K-%03d", w)
		id := idNumber(w + 1)
		var counter uint64
		for pb.Next() {
			counter++
			now := time.Now()
			v := fmt.Sprintf("%s-%d-%d", k, counter, now.UnixNano())
			if err := s.IssueNonce(c, store.Nonce{Value: v, KioskID: k, Purpose: "capture", ExpiresAt: now.Add(time.Minute), CreatedAt: now}); err != nil {
				b.Error(err)
				return
			}
			res := store.VerifyMatch
			var tok *store.FilingToken
			var ev *audit.Event
			if counter%10 == 0 {
				res = store.VerifyNoMatch
			} else {
				tok = &store.FilingToken{Token: v + "-token-0123456789", IDNumber: id, KioskID: k, ExpiresAt: now.Add(10 * time.Minute), CreatedAt: now}
				ev = &audit.Event{Time: now, Actor: audit.Kiosk(k), Action: "verification.match", Target: "resident"}
			}
			o := store.VerificationOutcome{
				NonceValue: v, NoncePurpose: "capture", ScannerSerial: "SC-" + k, Counter: counter,
				Attempt: store.VerificationAttempt{IDNumber: id, KioskID: k, Result: res, Score: 0.3, At: now},
				Policy:  store.LockoutPolicy{MaxFailures: 1000, LockFor: time.Minute}, Token: tok, MatchEvent: ev,
			}
			if _, err := s.RecordVerificationOutcome(c, o); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifications/s")
}
