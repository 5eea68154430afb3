package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/store"
)

// The coordination state (store.Coordination) is what lets several server
// processes on one database agree; these tests hold both backends to its
// single-use and expiry rules, under concurrency.

var c0 = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC) // the clock of the coordination tests

// race runs fn from n goroutines released at once.
func race(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

// openTwice opens a fresh database through two store handles, as two
// server processes would: on PostgreSQL each has its own pool and group
// committer, so their transactions really run at once.
func openTwice(t *testing.T, newDB NewDatabase) [2]store.Store {
	t.Helper()
	o := newDB(t)
	var ss [2]store.Store
	for i := range ss {
		s, err := o(Options())
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		ss[i] = s
	}
	return ss
}

func newSession(tok string, st store.Staff, at time.Time) store.Session {
	return store.Session{
		Token: tok, StaffID: st.ID, Username: st.Username, Role: st.Role, Department: st.Department, StationID: st.StationID,
		CreatedAt: at, LastSeen: at, ExpiresAt: at.Add(8 * time.Hour), Idle: 30 * time.Minute, Method: store.SessionPassword,
	}
}

// testSessionOrigin: a session keeps how and where it was opened (an
// office password login, or a PIN at one kiosk), as every replica must
// read it to decide where it may be used; the two never mix.
func testSessionOrigin(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	f := newFixture(t, s, 0)

	pin := newSession("tok-pin", f.clerk, c0)
	pin.Method, pin.KioskID, pin.Idle = store.SessionKioskPIN, "K-ORIGIN", 10*time.Minute
	if err := s.CreateSession(c, pin); err != nil {
		t.Fatalf("CreateSession(kiosk PIN): %v", err)
	}
	if err := s.CreateSession(c, newSession("tok-office", f.clerk, c0)); err != nil {
		t.Fatalf("CreateSession(password): %v", err)
	}
	for _, tc := range []struct {
		tok    string
		method store.SessionMethod
		kiosk  string
		idle   time.Duration
	}{
		{"tok-pin", store.SessionKioskPIN, "K-ORIGIN", 10 * time.Minute},
		{"tok-office", store.SessionPassword, "", 30 * time.Minute},
	} {
		got, err := s.TouchSession(c, tc.tok, c0.Add(time.Minute))
		if err != nil {
			t.Fatalf("TouchSession(%s): %v", tc.tok, err)
		}
		if got.Method != tc.method || got.KioskID != tc.kiosk || got.Idle != tc.idle {
			t.Errorf("TouchSession(%s) = method %q kiosk %q idle %v, want %q %q %v", tc.tok, got.Method, got.KioskID, got.Idle, tc.method, tc.kiosk, tc.idle)
		}
	}
	// The kiosk session's own idle time-out ends it, the office one lives on.
	if _, err := s.TouchSession(c, "tok-pin", c0.Add(11*time.Minute+time.Second)); !errors.Is(err, store.ErrExpired) {
		t.Errorf("kiosk session after its idle time-out = %v, want ErrExpired", err)
	}
	if _, err := s.TouchSession(c, "tok-office", c0.Add(11*time.Minute+time.Second)); err != nil {
		t.Errorf("office session within its idle time-out: %v", err)
	}

	for name, mut := range map[string]func(*store.Session){
		"no method":               func(ss *store.Session) { ss.Method = "" },
		"unknown method":          func(ss *store.Session) { ss.Method = "card" },
		"kiosk PIN without kiosk": func(ss *store.Session) { ss.Method = store.SessionKioskPIN },
		"password naming a kiosk": func(ss *store.Session) { ss.KioskID = "K-ORIGIN" },
	} {
		bad := newSession("tok-bad", f.clerk, c0)
		mut(&bad)
		if err := s.CreateSession(c, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("CreateSession(%s) = %v, want ErrInvalid", name, err)
		}
	}
}

func testSessions(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	f := newFixture(t, s, 0)

	if err := s.CreateSession(c, newSession("tok-clerk", f.clerk, c0)); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	if err := s.CreateSession(c, newSession("tok-clerk", f.officer, c0)); !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("CreateSession with a taken token = %v, want ErrAlreadyExists", err)
	}
	bad := newSession("tok-bad", f.clerk, c0)
	bad.Idle = 0
	if err := s.CreateSession(c, bad); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("CreateSession without idle timeout = %v, want ErrInvalid", err)
	}
	bad = newSession("tok-bad", f.clerk, c0)
	bad.StaffID = 999999
	if err := s.CreateSession(c, bad); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("CreateSession for unknown staff = %v, want ErrNotFound", err)
	}

	got, err := s.TouchSession(c, "tok-clerk", c0.Add(time.Minute))
	if err != nil {
		t.Fatalf("TouchSession: %v", err)
	}
	if got.Token != "" || got.StaffID != f.clerk.ID || got.Username != "clerk" || got.Role != store.RoleStationStaff ||
		got.StationID != f.station.ID || !got.CreatedAt.Equal(c0) || !got.ExpiresAt.Equal(c0.Add(8*time.Hour)) ||
		got.Idle != 30*time.Minute || !got.LastSeen.Equal(c0.Add(time.Minute)) {
		t.Errorf("TouchSession = %+v", got)
	}
	if _, err := s.TouchSession(c, "tok-nobody", c0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TouchSession(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := s.TouchSession(c, "", c0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TouchSession(\"\") = %v, want ErrNotFound", err)
	}

	// Each use keeps it alive for another idle period, up to the absolute
	// end.
	at := c0.Add(time.Minute)
	for i := 0; i < 15; i++ {
		at = at.Add(29 * time.Minute)
		if _, err := s.TouchSession(c, "tok-clerk", at); err != nil {
			t.Fatalf("TouchSession at +%v: %v", at.Sub(c0), err)
		}
	}
	// An older clock (another replica slightly behind) does not shorten it.
	if _, err := s.TouchSession(c, "tok-clerk", at.Add(-10*time.Second)); err != nil {
		t.Fatalf("TouchSession with an older clock: %v", err)
	}
	if _, err := s.TouchSession(c, "tok-clerk", at.Add(29*time.Minute)); err != nil {
		t.Fatalf("TouchSession within the idle time of the latest use: %v", err)
	}
	if _, err := s.TouchSession(c, "tok-clerk", c0.Add(8*time.Hour+time.Second)); !errors.Is(err, store.ErrExpired) {
		t.Errorf("TouchSession after the absolute end = %v, want ErrExpired", err)
	}
	if _, err := s.TouchSession(c, "tok-clerk", c0.Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an expired session must be deleted; TouchSession = %v, want ErrNotFound", err)
	}

	// Idle timeout.
	if err := s.CreateSession(c, newSession("tok-idle", f.clerk, c0)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TouchSession(c, "tok-idle", c0.Add(30*time.Minute)); err != nil {
		t.Errorf("TouchSession exactly at the idle limit: %v", err)
	}
	if _, err := s.TouchSession(c, "tok-idle", c0.Add(60*time.Minute+time.Second)); !errors.Is(err, store.ErrExpired) {
		t.Errorf("TouchSession after the idle timeout = %v, want ErrExpired", err)
	}

	// Logout and revocation of a staff member's sessions.
	for i, st := range []store.Staff{f.clerk, f.clerk, f.clerk, f.officer} {
		if err := s.CreateSession(c, newSession(fmt.Sprintf("tok-%d", i), st, c0)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteSession(c, "tok-0"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSession(c, "tok-0"); err != nil {
		t.Errorf("DeleteSession twice: %v", err)
	}
	if _, err := s.TouchSession(c, "tok-0", c0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TouchSession after logout = %v, want ErrNotFound", err)
	}
	if n, err := s.DeleteStaffSessions(c, f.clerk.ID); err != nil || n != 2 {
		t.Errorf("DeleteStaffSessions = %d, %v; want 2", n, err)
	}
	for _, tok := range []string{"tok-1", "tok-2"} {
		if _, err := s.TouchSession(c, tok, c0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("TouchSession(%s) after revocation = %v, want ErrNotFound", tok, err)
		}
	}
	if _, err := s.TouchSession(c, "tok-3", c0.Add(time.Minute)); err != nil {
		t.Errorf("another staff member's session must survive: %v", err)
	}
}

func testSessionsConcurrent(t *testing.T, newDB NewDatabase) {
	two := openTwice(t, newDB)
	s := two[0]
	c := ctx(t)
	f := newFixture(t, s, 0)

	// One token, many creators: exactly one wins.
	var created, taken atomic.Int32
	race(16, func(i int) {
		err := two[i%2].CreateSession(c, newSession("tok-race", f.clerk, c0))
		switch {
		case err == nil:
			created.Add(1)
		case errors.Is(err, store.ErrAlreadyExists):
			taken.Add(1)
		default:
			t.Errorf("CreateSession: %v", err)
		}
	})
	if created.Load() != 1 || taken.Load() != 15 {
		t.Errorf("%d created, %d refused; want 1 and 15", created.Load(), taken.Load())
	}

	// Revocation racing with use: once DeleteStaffSessions has returned,
	// no touch brings a session back.
	for i := 0; i < 8; i++ {
		if err := s.CreateSession(c, newSession(fmt.Sprintf("tok-%d", i), f.clerk, c0)); err != nil {
			t.Fatal(err)
		}
	}
	var deleted int
	race(17, func(i int) {
		if i == 16 {
			n, err := two[1].DeleteStaffSessions(c, f.clerk.ID)
			if err != nil {
				t.Errorf("DeleteStaffSessions: %v", err)
			}
			deleted = n
			return
		}
		_, err := two[i%2].TouchSession(c, fmt.Sprintf("tok-%d", i%8), c0.Add(time.Duration(i+1)*time.Second))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Errorf("TouchSession: %v", err)
		}
	})
	if deleted != 9 {
		t.Errorf("DeleteStaffSessions removed %d sessions, want 9", deleted)
	}
	for i := 0; i < 8; i++ {
		if _, err := s.TouchSession(c, fmt.Sprintf("tok-%d", i), c0.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("session %d after revocation: %v, want ErrNotFound", i, err)
		}
	}
}

func testRequestNonces(t *testing.T, newDB NewDatabase) {
	two := openTwice(t, newDB)
	s := two[0]
	c := ctx(t)
	exp := c0.Add(time.Minute)
	if err := s.UseRequestNonce(c, "K-1", "nonce-aaaaaaaaaaaa", exp); err != nil {
		t.Fatalf("UseRequestNonce: %v", err)
	}
	if err := s.UseRequestNonce(c, "K-1", "nonce-aaaaaaaaaaaa", exp); !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("replayed nonce = %v, want ErrAlreadyExists", err)
	}
	if err := s.UseRequestNonce(c, "K-2", "nonce-aaaaaaaaaaaa", exp); err != nil {
		t.Errorf("the same nonce from another kiosk: %v", err)
	}
	if err := s.UseRequestNonce(c, "", "x", exp); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("UseRequestNonce without kiosk = %v, want ErrInvalid", err)
	}

	for round := 0; round < 5; round++ {
		nonce := fmt.Sprintf("race-%d-aaaaaaaaaaaa", round)
		var ok, replay atomic.Int32
		race(16, func(i int) {
			err := two[i%2].UseRequestNonce(c, "K-1", nonce, exp)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, store.ErrAlreadyExists):
				replay.Add(1)
			default:
				t.Errorf("UseRequestNonce: %v", err)
			}
		})
		if ok.Load() != 1 || replay.Load() != 15 {
			t.Errorf("round %d: %d accepted, %d refused; want 1 and 15", round, ok.Load(), replay.Load())
		}
	}

	// An unexpired nonce is kept by the purge; an expired one goes.
	if err := s.UseRequestNonce(c, "K-1", "later-aaaaaaaaaaaa", c0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PurgeExpired(c, exp.Add(time.Second)); err != nil || n != 7 {
		t.Errorf("PurgeExpired = %d, %v; want the 7 expired nonces", n, err)
	}
	if err := s.UseRequestNonce(c, "K-1", "later-aaaaaaaaaaaa", c0.Add(time.Hour)); !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("an unexpired nonce must survive the purge: %v", err)
	}
}

func testIDLocks(t *testing.T, newDB NewDatabase) {
	two := openTwice(t, newDB)
	s := two[0]
	c := ctx(t)
	a, b := idNumber(1), idNumber(2)
	for i := 0; i < 3; i++ {
		at := c0.Add(time.Duration(i) * time.Hour)
		if err := Inspect(s).RecordIDLock(c, a, at, at.Add(24*time.Hour)); err != nil {
			t.Fatalf("RecordIDLock: %v", err)
		}
	}
	if err := Inspect(s).RecordIDLock(c, b, c0, c0.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := Inspect(s).RecordIDLock(c, "", c0, c0.Add(time.Hour)); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("RecordIDLock without id number = %v, want ErrInvalid", err)
	}
	for _, tc := range []struct {
		id   string
		now  time.Time
		want int
	}{
		{a, c0, 3},
		{a, c0.Add(24 * time.Hour), 2}, // the first has expired
		{a, c0.Add(26 * time.Hour), 0},
		{b, c0.Add(time.Hour), 1},
		{idNumber(3), c0, 0},
		// Locks count per identity: every form of the number is one.
		{" " + strings.ToLower(a) + "\t", c0, 3},
		{string([]rune{0xFF11}) + a[1:], c0, 3}, // a full-width first digit
	} {
		if n, err := Inspect(s).CountIDLocks(c, tc.id, tc.now); err != nil || n != tc.want {
			t.Errorf("CountIDLocks(%s, +%v) = %d, %v; want %d", tc.id, tc.now.Sub(c0), n, err, tc.want)
		}
	}
	// Concurrent locks are all counted.
	race(16, func(i int) {
		if err := Inspect(two[i%2]).RecordIDLock(c, idNumber(4), c0, c0.Add(time.Hour)); err != nil {
			t.Errorf("RecordIDLock: %v", err)
		}
	})
	if n, err := Inspect(s).CountIDLocks(c, idNumber(4), c0); err != nil || n != 16 {
		t.Errorf("CountIDLocks after 16 concurrent locks = %d, %v", n, err)
	}
	if n, err := s.PurgeExpired(c, c0.Add(25*time.Hour)); err != nil || n != 19 {
		t.Errorf("PurgeExpired = %d, %v; want 19", n, err)
	}
	if n, err := Inspect(s).CountIDLocks(c, a, c0); err != nil || n != 1 {
		t.Errorf("after the purge CountIDLocks = %d, %v; want the 1 unexpired lock", n, err)
	}
}

func testSpentTokens(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	exp := c0.Add(time.Hour)
	if err := s.RememberSpentToken(c, store.SpentToken{Token: "tok-a", IDNumber: idNumber(1), KioskID: "K-1", ExpiresAt: exp}); err != nil {
		t.Fatalf("RememberSpentToken: %v", err)
	}
	// Remembering it again keeps the first record.
	if err := s.RememberSpentToken(c, store.SpentToken{Token: "tok-a", IDNumber: idNumber(2), KioskID: "K-2", ExpiresAt: exp}); err != nil {
		t.Fatalf("RememberSpentToken again: %v", err)
	}
	got, err := s.GetSpentToken(c, "tok-a", c0)
	if err != nil || got.Token != "" || got.IDNumber != idNumber(1) || got.KioskID != "K-1" || !got.ExpiresAt.Equal(exp) {
		t.Errorf("GetSpentToken = %+v, %v", got, err)
	}
	if _, err := s.GetSpentToken(c, "tok-b", c0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSpentToken(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := s.GetSpentToken(c, "tok-a", exp); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSpentToken after expiry = %v, want ErrNotFound", err)
	}
	if err := s.RememberSpentToken(c, store.SpentToken{Token: "tok-c", KioskID: "K-1", ExpiresAt: exp}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("RememberSpentToken without id number = %v, want ErrInvalid", err)
	}
	if n, err := s.PurgeExpired(c, exp); err != nil || n != 1 {
		t.Errorf("PurgeExpired = %d, %v; want 1", n, err)
	}
}

func testPendingIdentifications(t *testing.T, newDB NewDatabase) {
	two := openTwice(t, newDB)
	s := two[0]
	c := ctx(t)
	exp := c0.Add(2 * time.Minute)
	p := store.PendingIdentification{ID: "cand-1", IDNumber: idNumber(1), KioskID: "K-1", StaffID: 7, Score: 0.4375, ExpiresAt: exp}
	if err := s.PutPendingIdentification(c, p); err != nil {
		t.Fatalf("PutPendingIdentification: %v", err)
	}
	if err := s.PutPendingIdentification(c, p); !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("PutPendingIdentification with a taken id = %v, want ErrAlreadyExists", err)
	}
	got, err := s.TakePendingIdentification(c, "cand-1", c0)
	want := p
	want.ID = ""
	if err != nil || got != want {
		t.Errorf("TakePendingIdentification = %+v, %v; want %+v", got, err, want)
	}
	if _, err := s.TakePendingIdentification(c, "cand-1", c0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second TakePendingIdentification = %v, want ErrNotFound", err)
	}

	// Expired: refused and removed.
	p.ID = "cand-2"
	if err := s.PutPendingIdentification(c, p); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TakePendingIdentification(c, "cand-2", exp.Add(time.Second)); !errors.Is(err, store.ErrExpired) {
		t.Errorf("TakePendingIdentification after expiry = %v, want ErrExpired", err)
	}
	if _, err := s.TakePendingIdentification(c, "cand-2", c0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an expired candidate must be removed: %v", err)
	}

	// Many confirmations at once: exactly one gets the candidate.
	for round := 0; round < 5; round++ {
		p.ID = fmt.Sprintf("race-%d", round)
		if err := s.PutPendingIdentification(c, p); err != nil {
			t.Fatal(err)
		}
		var ok, gone atomic.Int32
		race(16, func(i int) {
			_, err := two[i%2].TakePendingIdentification(c, p.ID, c0)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, store.ErrNotFound):
				gone.Add(1)
			default:
				t.Errorf("TakePendingIdentification: %v", err)
			}
		})
		if ok.Load() != 1 || gone.Load() != 15 {
			t.Errorf("round %d: %d took it, %d found nothing; want 1 and 15", round, ok.Load(), gone.Load())
		}
	}

	p.ID = "cand-purge"
	if err := s.PutPendingIdentification(c, p); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PurgeExpired(c, exp.Add(time.Second)); err != nil || n != 1 {
		t.Errorf("PurgeExpired = %d, %v; want 1", n, err)
	}
}

func testKioskBackoff(t *testing.T, newDB NewDatabase) {
	two := openTwice(t, newDB)
	s := two[0]
	c := ctx(t)
	p := store.BackoffPolicy{Threshold: 3, Base: time.Second, Max: 4 * time.Second, Forget: time.Hour}
	fail := func(k string, at time.Time) time.Time {
		t.Helper()
		until, err := s.RecordKioskVerification(c, k, false, at, p)
		if err != nil {
			t.Fatalf("RecordKioskVerification: %v", err)
		}
		return until
	}
	for i, want := range []time.Duration{0, 0, time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
		at := c0.Add(time.Duration(i) * 10 * time.Second)
		until := fail("K-1", at)
		if want == 0 && !until.IsZero() || want > 0 && !until.Equal(at.Add(want)) {
			t.Errorf("failure %d: wait until %v, want +%v", i+1, until, want)
		}
		if got, err := s.KioskBackoff(c, "K-1", at); err != nil || !got.Equal(until) {
			t.Errorf("failure %d: KioskBackoff = %v, %v; want %v", i+1, got, err, until)
		}
	}
	if got, err := s.KioskBackoff(c, "K-2", c0); err != nil || !got.IsZero() {
		t.Errorf("another kiosk: KioskBackoff = %v, %v", got, err)
	}
	// A success forgets the failures.
	if _, err := s.RecordKioskVerification(c, "K-1", true, c0.Add(time.Minute), p); err != nil {
		t.Fatal(err)
	}
	if got, err := s.KioskBackoff(c, "K-1", c0.Add(time.Minute)); err != nil || !got.IsZero() {
		t.Errorf("after a success KioskBackoff = %v, %v", got, err)
	}
	if until := fail("K-1", c0.Add(2*time.Minute)); !until.IsZero() {
		t.Errorf("first failure after a success waits until %v", until)
	}
	// Failures are forgotten after an hour without one.
	fail("K-1", c0.Add(3*time.Minute))
	if until := fail("K-1", c0.Add(3*time.Minute+p.Forget)); !until.IsZero() {
		t.Errorf("a failure after %v of quiet counts on: wait until %v", p.Forget, until)
	}

	// Concurrent failures (from several replicas) are all counted: with a
	// threshold of 40, the 40th makes the kiosk wait.
	p40 := store.BackoffPolicy{Threshold: 40, Base: time.Minute, Max: time.Hour, Forget: time.Hour}
	race(40, func(i int) {
		if _, err := two[i%2].RecordKioskVerification(c, "K-3", false, c0, p40); err != nil {
			t.Errorf("RecordKioskVerification: %v", err)
		}
	})
	if got, err := s.KioskBackoff(c, "K-3", c0); err != nil || !got.Equal(c0.Add(time.Minute)) {
		t.Errorf("after 40 concurrent failures KioskBackoff = %v, %v; want +1m", got, err)
	}
	if _, err := s.RecordKioskVerification(c, "K-1", false, c0, store.BackoffPolicy{Threshold: 1}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("a policy without Forget = %v, want ErrInvalid", err)
	}
	if n, err := s.PurgeExpired(c, c0.Add(3*time.Hour)); err != nil || n != 2 {
		t.Errorf("PurgeExpired = %d, %v; want the 2 kiosks", n, err)
	}
}

func testRateTokens(t *testing.T, newDB NewDatabase) {
	two := openTwice(t, newDB)
	s := two[0]
	c := ctx(t)
	l := store.RateLimit{Rate: 1, Burst: 3}
	take := func(key string, at time.Time) time.Duration {
		t.Helper()
		w, err := s.TakeRateToken(c, key, l, at)
		if err != nil {
			t.Fatalf("TakeRateToken: %v", err)
		}
		return w
	}
	for i := 0; i < 3; i++ {
		if w := take("user:a", c0); w != 0 {
			t.Errorf("token %d refused (wait %v) within the burst", i+1, w)
		}
	}
	if w := take("user:a", c0); w != time.Second {
		t.Errorf("empty bucket: wait %v, want 1s", w)
	}
	if w := take("user:b", c0); w != 0 {
		t.Errorf("another key shares the bucket: wait %v", w)
	}
	if w := take("user:a", c0.Add(500*time.Millisecond)); w != 500*time.Millisecond {
		t.Errorf("half refilled: wait %v, want 500ms", w)
	}
	if w := take("user:a", c0.Add(time.Second)); w != 0 {
		t.Errorf("refilled after 1s: wait %v", w)
	}
	if _, err := s.TakeRateToken(c, "x", store.RateLimit{Rate: 0, Burst: 1}, c0); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("a zero rate = %v, want ErrInvalid", err)
	}

	// Concurrent takers (several replicas) never get more than the burst.
	var ok, refused atomic.Int32
	race(40, func(i int) {
		w, err := two[i%2].TakeRateToken(c, "ip:10.0.0.1", store.RateLimit{Rate: 0.001, Burst: 10}, c0)
		switch {
		case err != nil:
			t.Errorf("TakeRateToken: %v", err)
		case w == 0:
			ok.Add(1)
		default:
			refused.Add(1)
		}
	})
	if ok.Load() != 10 || refused.Load() != 30 {
		t.Errorf("%d tokens taken, %d refused; want 10 and 30", ok.Load(), refused.Load())
	}
	// A full bucket is purged; one still refilling is kept.
	if n, err := s.PurgeExpired(c, c0.Add(10*time.Second)); err != nil || n != 2 {
		t.Errorf("PurgeExpired = %d, %v; want the 2 refilled buckets", n, err)
	}
	if w, err := s.TakeRateToken(c, "ip:10.0.0.1", store.RateLimit{Rate: 0.001, Burst: 10}, c0.Add(10*time.Second)); err != nil || w == 0 {
		t.Errorf("the purge must keep a bucket still refilling: wait %v, %v", w, err)
	}
}

// testEnrolmentCheckBudget: a kiosk's unanswered enrolment checks are
// bounded per window; a verification's answer frees its checks; the
// window slides; kiosks count apart; and concurrent checks of one kiosk
// through two store handles (two replicas) never pass the budget.
func testEnrolmentCheckBudget(t *testing.T, newDB NewDatabase) {
	ss := openTwice(t, newDB)
	s := ss[0]
	c := ctx(t)
	f := newFixture(t, s, 2)
	b := store.CheckBudget{Max: 3, Window: 10 * time.Minute}
	take := func(kiosk string, resident int64, at time.Time) (bool, time.Time) {
		t.Helper()
		ok, retry, err := s.TakeEnrolmentCheck(c, kiosk, resident, at, b)
		if err != nil {
			t.Fatalf("TakeEnrolmentCheck: %v", err)
		}
		return ok, retry
	}
	r0, r1 := f.residents[0].ID, f.residents[1].ID
	for i, r := range []int64{r0, r1, 0} {
		if ok, _ := take(f.kiosk.ID, r, c0.Add(time.Duration(i)*time.Minute)); !ok {
			t.Fatalf("check %d within the budget refused", i+1)
		}
	}
	if ok, retry := take(f.kiosk.ID, r0, c0.Add(3*time.Minute)); ok || !retry.Equal(c0.Add(b.Window)) {
		t.Fatalf("a check over the budget = %v, retry at %v; want refused until %v", ok, retry, c0.Add(b.Window))
	}
	if ok, _ := take(f.kiosk2.ID, r0, c0.Add(3*time.Minute)); !ok {
		t.Fatal("another kiosk's check was refused")
	}
	// A verification of r0 at the kiosk answers r0's check: room for one.
	if err := s.AnswerEnrolmentChecks(c, f.kiosk.ID, r0); err != nil {
		t.Fatal(err)
	}
	if ok, _ := take(f.kiosk.ID, r1, c0.Add(4*time.Minute)); !ok {
		t.Fatal("a check after an answer was refused")
	}
	if ok, _ := take(f.kiosk.ID, r1, c0.Add(5*time.Minute)); ok {
		t.Fatal("the budget was passed after an answer")
	}
	// The window slides: r1's first check (at +1 min) leaves it at +11.
	if ok, _ := take(f.kiosk.ID, r0, c0.Add(11*time.Minute+time.Second)); !ok {
		t.Fatal("a check after the oldest left the window was refused")
	}
	if _, _, err := s.TakeEnrolmentCheck(c, "no-such-kiosk", r0, c0, b); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TakeEnrolmentCheck(unknown kiosk) = %v, want ErrNotFound", err)
	}
	if _, _, err := s.TakeEnrolmentCheck(c, f.kiosk.ID, r0, c0, store.CheckBudget{}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("TakeEnrolmentCheck(no budget) = %v, want ErrInvalid", err)
	}

	// Concurrent: 24 checks at once through two handles, budget 5.
	race := c0.Add(time.Hour)
	var okN atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 24; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ok, _, err := ss[i%2].TakeEnrolmentCheck(c, f.kiosk.ID, r1, race, store.CheckBudget{Max: 5, Window: time.Minute})
			if err != nil {
				t.Errorf("TakeEnrolmentCheck: %v", err)
			}
			if ok {
				okN.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	if okN.Load() != 5 {
		t.Errorf("%d of 24 concurrent checks passed a budget of 5", okN.Load())
	}
	// Expired checks are purged.
	if _, err := s.PurgeExpired(c, race.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if ok, _ := take(f.kiosk.ID, r1, race.Add(2*time.Hour)); !ok {
		t.Fatal("a check after the purge was refused")
	}
}
