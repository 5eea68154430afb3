package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// testStaffPIN: a PIN is set (audited), wrong PINs count and the limit-th
// locks it, a locked PIN stays locked for the right PIN, setting it again
// unlocks it; bad arguments are refused.
func testStaffPIN(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	f := newFixture(t, s, 0)
	c := ctx(t)
	actor := audit.Staff(f.clerk.ID)
	if _, err := s.GetStaffPIN(c, f.clerk.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetStaffPIN before any: %v, want ErrNotFound", err)
	}
	if _, err := s.RecordPINAttempt(c, actor, f.clerk.ID, true, 5, f.kiosk.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RecordPINAttempt without a PIN: %v, want ErrNotFound", err)
	}
	for _, tc := range []struct {
		name  string
		id    int64
		hash  string
		actor audit.Actor
		want  error
	}{
		{"not a PHC hash", f.clerk.ID, "123456", actor, store.ErrInvalid},
		{"unknown staff", 99999, hashPW(t, "123456"), actor, store.ErrNotFound},
		{"no actor", f.clerk.ID, hashPW(t, "123456"), audit.Actor{}, store.ErrInvalid},
	} {
		if err := s.SetStaffPIN(c, tc.actor, tc.id, tc.hash); !errors.Is(err, tc.want) {
			t.Errorf("SetStaffPIN %s: %v, want %v", tc.name, err, tc.want)
		}
	}
	h := hashPW(t, "246810")
	if err := s.SetStaffPIN(c, actor, f.clerk.ID, h); err != nil {
		t.Fatal(err)
	}
	if a := lastAudit(t, s); a.Action != "staff.pin_set" || a.Target != "staff:"+itoa(f.clerk.ID) {
		t.Fatalf("audit after SetStaffPIN: %s %s", a.Action, a.Target)
	}
	p, err := s.GetStaffPIN(c, f.clerk.ID)
	if err != nil || p.Hash != h || p.Failures != 0 || p.Locked || p.SetAt.IsZero() {
		t.Fatalf("GetStaffPIN: %+v %v", p, err)
	}
	if _, err := s.RecordPINAttempt(c, actor, f.clerk.ID, false, 0, f.kiosk.ID); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("limit 0: %v", err)
	}
	// Two wrong, one right: the count starts again.
	for i := 1; i <= 2; i++ {
		if p, err = s.RecordPINAttempt(c, actor, f.clerk.ID, false, 3, f.kiosk.ID); err != nil || p.Failures != i || p.Locked {
			t.Fatalf("wrong PIN %d: %+v %v", i, p, err)
		}
	}
	if a := lastAudit(t, s); a.Action != "staff.pin_failed" || a.Details["kiosk"] != f.kiosk.ID {
		t.Fatalf("audit of a wrong PIN: %s %v", a.Action, a.Details)
	}
	if p, err = s.RecordPINAttempt(c, actor, f.clerk.ID, true, 3, f.kiosk.ID); err != nil || p.Failures != 0 || p.Locked {
		t.Fatalf("right PIN: %+v %v", p, err)
	}
	// Three wrong in a row lock it; the right PIN then stays refused.
	for i := 1; i <= 3; i++ {
		p, err = s.RecordPINAttempt(c, actor, f.clerk.ID, false, 3, f.kiosk.ID)
		if err != nil {
			t.Fatal(err)
		}
	}
	if !p.Locked || p.LockedAt == nil || p.Failures != 3 {
		t.Fatalf("after 3 wrong PINs: %+v", p)
	}
	if a := lastAudit(t, s); a.Action != "staff.pin_locked" {
		t.Fatalf("audit of the lock: %s", a.Action)
	}
	if p, err = s.RecordPINAttempt(c, actor, f.clerk.ID, true, 3, f.kiosk.ID); err != nil || !p.Locked {
		t.Fatalf("right PIN while locked: %+v %v", p, err)
	}
	if a := lastAudit(t, s); a.Action != "staff.pin_refused_locked" {
		t.Fatalf("audit of a PIN refused while locked: %s", a.Action)
	}
	if p, _ = s.GetStaffPIN(c, f.clerk.ID); !p.Locked {
		t.Fatalf("the lock was not stored: %+v", p)
	}
	// Setting it again unlocks it.
	if err := s.SetStaffPIN(c, audit.Staff(f.supervisor.ID), f.clerk.ID, hashPW(t, "135792")); err != nil {
		t.Fatal(err)
	}
	if p, _ = s.GetStaffPIN(c, f.clerk.ID); p.Locked || p.Failures != 0 || p.LockedAt != nil {
		t.Fatalf("after setting again: %+v", p)
	}
}

// testStaffPINConcurrent: wrong guesses racing each other never pass the
// limit: exactly limit of them count before the lock.
func testStaffPINConcurrent(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	f := newFixture(t, s, 0)
	c := ctx(t)
	actor := audit.Staff(f.clerk.ID)
	if err := s.SetStaffPIN(c, actor, f.clerk.ID, hashPW(t, "246810")); err != nil {
		t.Fatal(err)
	}
	const limit, n = 5, 16
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.RecordPINAttempt(c, actor, f.clerk.ID, false, limit, f.kiosk.ID); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	p, err := s.GetStaffPIN(c, f.clerk.ID)
	if err != nil || !p.Locked || p.Failures != limit {
		t.Fatalf("after %d concurrent wrong PINs: %+v %v (want locked at %d)", n, p, err, limit)
	}
	acts := auditActions(t, s)
	failed, locked := 0, 0
	for _, a := range acts {
		switch a {
		case "staff.pin_failed":
			failed++
		case "staff.pin_locked":
			locked++
		}
	}
	if failed != limit-1 || locked != 1 {
		t.Fatalf("audit: %d failed, %d locked; want %d and 1", failed, locked, limit-1)
	}
}

// testConsents: a consent is stored with its text version, time, staff and
// kiosk, audited; bad consents are refused.
func testConsents(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	f := newFixture(t, s, 2)
	c := ctx(t)
	actor := audit.Staff(f.clerk.ID)
	r := f.residents[0]
	at := time.Date(2026, 12, 6, 3, 4, 5, 123456789, time.UTC)
	good := store.EnrolmentConsent{ResidentID: r.ID, TextVersion: "biometric-2026-12", ConsentedAt: at, StaffID: f.clerk.ID, KioskID: f.kiosk.ID}
	for _, tc := range []struct {
		name string
		mod  func(*store.EnrolmentConsent)
	}{
		{"no resident", func(c *store.EnrolmentConsent) { c.ResidentID = 0 }},
		{"no text version", func(c *store.EnrolmentConsent) { c.TextVersion = "" }},
		{"no staff", func(c *store.EnrolmentConsent) { c.StaffID = 0 }},
		{"no kiosk", func(c *store.EnrolmentConsent) { c.KioskID = "" }},
	} {
		bad := good
		tc.mod(&bad)
		if _, err := s.RecordConsent(c, actor, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", tc.name, err)
		}
	}
	got, err := s.RecordConsent(c, actor, good)
	if err != nil || got.ID == 0 {
		t.Fatalf("RecordConsent: %+v %v", got, err)
	}
	a := lastAudit(t, s)
	if a.Action != "enrolment.consent" || a.Target != "resident:"+itoa(r.ID) || a.Details["text_version"] != good.TextVersion ||
		a.Details["kiosk"] != f.kiosk.ID || a.Details["staff"] != itoa(f.clerk.ID) || a.Details["consent"] != itoa(got.ID) {
		t.Fatalf("audit: %s %s %v", a.Action, a.Target, a.Details)
	}
	if _, err := s.RecordConsent(c, actor, store.EnrolmentConsent{ResidentID: f.residents[1].ID, TextVersion: "v", StaffID: f.clerk.ID, KioskID: f.kiosk2.ID}); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListConsents(c, r.ID)
	if err != nil || len(list) != 1 {
		t.Fatalf("ListConsents: %+v %v", list, err)
	}
	l := list[0]
	if l.ID != got.ID || l.TextVersion != good.TextVersion || !l.ConsentedAt.Equal(at.Truncate(time.Microsecond)) || l.StaffID != f.clerk.ID || l.KioskID != f.kiosk.ID || l.CreatedAt.IsZero() {
		t.Fatalf("stored consent: %+v", l)
	}
	if list, err := s.ListConsents(c, 99999); err != nil || len(list) != 0 {
		t.Fatalf("ListConsents of nobody: %v %v", list, err)
	}
}
