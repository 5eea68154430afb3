package storetest

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// testChangeLog checks that exactly the committed changes to what a replica
// keeps in memory (a resident's active templates, a kiosk's status) are in
// the change log, in order, and that a backend with notifications pokes a
// listener on another connection when one commits.
func testChangeLog(t *testing.T, newDB NewDatabase) {
	ss := openTwice(t, newDB)
	s, other := ss[0], ss[1]
	c := ctx(t)
	f := newFixture(t, s, 3)
	clerk := audit.Staff(f.clerk.ID)
	base, err := s.LastChange(c)
	if err != nil {
		t.Fatal(err)
	}

	pokes := make(chan struct{}, 100)
	lctx, stop := context.WithCancel(c)
	listened := make(chan error, 1)
	go func() {
		listened <- other.ListenChanges(lctx, func() { pokes <- struct{}{} })
	}()
	notifies := true
	select {
	case err := <-listened:
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("ListenChanges: %v", err)
		}
		notifies = false
	case <-pokes: // the poke after LISTEN took effect
	case <-time.After(30 * time.Second):
		t.Fatal("ListenChanges neither poked nor returned within 30 s")
	}
	defer func() {
		stop()
		if notifies {
			if err := <-listened; !errors.Is(err, context.Canceled) {
				t.Errorf("ListenChanges after cancel = %v", err)
			}
		}
	}()
	poked := func(what string) {
		t.Helper()
		if !notifies {
			return
		}
		select {
		case <-pokes:
		case <-time.After(30 * time.Second):
			t.Fatalf("no notification within 30 s after %s", what)
		}
		for len(pokes) > 0 { // several writes may share a commit's pokes
			<-pokes
		}
	}

	rid := func(i int) string { return strconv.FormatInt(f.residents[i].ID, 10) }
	want := []store.Change{}
	if _, err := s.Enrol(c, clerk, newEnrolment(f, 0, 2, 3, false)); err != nil {
		t.Fatal(err)
	}
	want = append(want, store.Change{Kind: store.ChangeResident, Subject: rid(0)})
	poked("an enrolment")
	if _, err := s.Enrol(c, clerk, newEnrolment(f, 0, 2, 2, false)); err != nil { // re-enrolment of the finger
		t.Fatal(err)
	}
	want = append(want, store.Change{Kind: store.ChangeResident, Subject: rid(0)})
	if _, err := s.Enrol(c, clerk, newEnrolment(f, 1, 7, 1, false)); err != nil {
		t.Fatal(err)
	}
	want = append(want, store.Change{Kind: store.ChangeResident, Subject: rid(1)})
	// A refused enrolment (suspended resident) changes nothing.
	if err := s.SetResidentStatus(c, admin, f.residents[2].IDNumber, store.ResidentSuspended, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enrol(c, clerk, newEnrolment(f, 2, 1, 1, false)); !errors.Is(err, store.ErrInactive) {
		t.Fatalf("Enrol(suspended) = %v", err)
	}
	if _, err := s.DeleteEnrolments(c, clerk, f.residents[1].IDNumber, "consent_withdrawn"); err != nil {
		t.Fatal(err)
	}
	want = append(want, store.Change{Kind: store.ChangeResident, Subject: rid(1)})
	poked("a deletion")
	// A replacement changes the templates when it is approved, not when it
	// is requested or rejected.
	sup := audit.Staff(f.supervisor.ID)
	r, err := s.RequestReplacement(c, clerk, newReplacement(f, 0, 1, 3))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DecideReplacement(c, sup, r.ID, store.ReplacementDecision{Supervisor: f.supervisor.ID, Reason: "not the same person"}); err != nil {
		t.Fatal(err)
	}
	r, err = s.RequestReplacement(c, clerk, newReplacement(f, 0, 1, 3))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DecideReplacement(c, sup, r.ID, store.ReplacementDecision{Approve: true, Supervisor: f.supervisor.ID, Basis: store.BasisMatch, Reason: "matched the enrolment"}); err != nil {
		t.Fatal(err)
	}
	want = append(want, store.Change{Kind: store.ChangeResident, Subject: rid(0)})
	poked("an approved replacement")
	// Deleting nothing changes nothing.
	if _, err := s.DeleteEnrolments(c, clerk, f.residents[1].IDNumber, "consent_withdrawn"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetKioskStatus(c, admin, f.kiosk.ID, store.DeviceRevoked); err != nil {
		t.Fatal(err)
	}
	want = append(want, store.Change{Kind: store.ChangeKiosk, Subject: f.kiosk.ID})
	poked("a kiosk revocation")
	if err := s.SetScannerStatus(c, admin, "VS-1", store.DeviceRevoked); err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}

	got, err := other.ChangesAfter(c, base, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("ChangesAfter(%d) = %+v; want %d changes %+v", base, got, len(want), want)
	}
	for i, g := range got {
		if g.Kind != want[i].Kind || g.Subject != want[i].Subject || g.At.IsZero() || (i > 0 && g.Seq <= got[i-1].Seq) || g.Seq <= base {
			t.Errorf("change %d = %+v; want %s %s after seq %d", i, g, want[i].Kind, want[i].Subject, base)
		}
	}
	last, err := other.LastChange(c)
	if err != nil || last != got[len(got)-1].Seq {
		t.Errorf("LastChange = %d, %v; want %d", last, err, got[len(got)-1].Seq)
	}
	if page, err := s.ChangesAfter(c, got[0].Seq, 2); err != nil || len(page) != 2 || page[0].Seq != got[1].Seq || page[1].Seq != got[2].Seq {
		t.Errorf("ChangesAfter(%d, 2) = %+v, %v; want changes %d and %d", got[0].Seq, page, err, got[1].Seq, got[2].Seq)
	}
	if rest, err := s.ChangesAfter(c, last, 100); err != nil || len(rest) != 0 {
		t.Errorf("ChangesAfter(last) = %+v, %v; want none", rest, err)
	}

	// The log is kept store.ChangeRetention, then purged.
	if _, err := s.PurgeExpired(c, time.Now().Add(store.ChangeRetention-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if kept, err := s.ChangesAfter(c, base, 100); err != nil || len(kept) != len(want) {
		t.Errorf("after a purge within the retention: %d changes, %v; want %d", len(kept), err, len(want))
	}
	if _, err := s.PurgeExpired(c, time.Now().Add(store.ChangeRetention+time.Hour)); err != nil {
		t.Fatal(err)
	}
	if kept, err := s.ChangesAfter(c, base, 100); err != nil || len(kept) != 0 {
		t.Errorf("after a purge past the retention: %+v, %v; want none", kept, err)
	}
}
