package storetest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// errDuplicate is the fence checks' refusal in these tests.
var errDuplicate = errors.New("storetest: duplicate")

// fenceOnTemplates is a fence check that refuses when a newer enrolment holds
// one of probes' template bytes (the matcher's part in server/api).
func fenceOnTemplates(probes [][]byte, seen *[]store.Enrolment) func(context.Context, []store.Enrolment) error {
	return func(_ context.Context, newer []store.Enrolment) error {
		if seen != nil {
			*seen = append((*seen)[:0], newer...)
		}
		for _, e := range newer {
			for _, sm := range e.Samples {
				for _, p := range probes {
					if bytes.Equal(sm.Template, p) {
						return errDuplicate
					}
				}
			}
		}
		return nil
	}
}

// first is resident r's first enrolment of fingers, 3 samples each, behind
// fence.
func first(f *fixture, r int, fence *store.DedupFence, fingers ...int) store.NewFirstEnrolment {
	nf := store.NewFirstEnrolment{IDNumber: f.residents[r].IDNumber, EnrolledBy: f.clerk.ID, KioskID: f.kiosk.ID, ScannerSerial: "VS-1", Fence: fence}
	for _, pos := range fingers {
		nf.Fingers = append(nf.Fingers, store.ReplacementFinger{Finger: pos, Samples: newEnrolment(f, r, pos, 3, false).Samples})
	}
	return nf
}

// testEnrolFenced: EnrolFirst with a fence hands its check the active enrolments of
// the other residents changed after the fence's position, templates opened
// (not the older ones, not the resident's own), stores every finger in one
// transaction, and stores nothing when the check refuses.
func testEnrolFenced(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	f := newFixture(t, s, 3)
	clerk := audit.Staff(f.clerk.ID)
	if _, err := s.Enrol(c, clerk, newEnrolment(f, 1, 2, 3, false)); err != nil { // before the fence
		t.Fatal(err)
	}
	after, err := s.LastChange(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enrol(c, clerk, newEnrolment(f, 2, 3, 3, false)); err != nil { // after it
		t.Fatal(err)
	}

	// A refusal stores nothing.
	head, _ := s.LastChange(c)
	before := lastAudit(t, s)
	var seen []store.Enrolment
	_, err = s.EnrolFirst(c, clerk, first(f, 0, &store.DedupFence{After: after, Check: fenceOnTemplates([][]byte{template(2, 3, 1)}, &seen)}, 2, 4))
	if !errors.Is(err, errDuplicate) {
		t.Fatalf("EnrolFirst with a refusing fence = %v, want its error", err)
	}
	if len(seen) != 1 || seen[0].ResidentID != f.residents[2].ID || seen[0].Finger != 3 || len(seen[0].Samples) != 3 ||
		!bytes.Equal(seen[0].Samples[0].Template, template(2, 3, 0)) || seen[0].IDNumber != f.residents[2].IDNumber {
		t.Errorf("the check was handed %+v; want resident 2's finger 3 only, templates opened", seen)
	}
	if es, _ := s.ResidentEnrolments(c, f.residents[0].IDNumber); len(es) != 0 {
		t.Errorf("after a refusal the resident has %+v", es)
	}
	if a := lastAudit(t, s); a.Seq != before.Seq {
		t.Errorf("a refusal was audited: %+v", a)
	}
	if h, _ := s.LastChange(c); h != head {
		t.Errorf("a refusal logged a change: %d, was %d", h, head)
	}

	// Accepted: both fingers, audited and logged.
	got, err := s.EnrolFirst(c, clerk, first(f, 0, &store.DedupFence{After: after, Check: fenceOnTemplates([][]byte{template(1, 2, 0)}, nil)}, 2, 4))
	if err != nil {
		t.Fatalf("EnrolFirst: %v", err)
	}
	if len(got) != 2 || got[0].Finger != 2 || got[1].Finger != 4 || got[0].ID == 0 || got[0].ResidentID != f.residents[0].ID {
		t.Errorf("EnrolFirst = %+v", got)
	}
	if es, _ := s.ResidentEnrolments(c, f.residents[0].IDNumber); len(es) != 2 {
		t.Errorf("the resident has %d enrolments, want 2", len(es))
	}
	if a := lastAudit(t, s); a.Action != "enrolment.create" || a.Actor != clerk || a.Details["finger"] != "4" {
		t.Errorf("last audit = %+v", a)
	}
	if h, _ := s.LastChange(c); h <= head {
		t.Errorf("no change logged: %d", h)
	}
	if _, err := s.EnrolFirst(c, clerk, first(f, 2, &store.DedupFence{}, 5)); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("a fence without a check: %v, want ErrInvalid", err)
	}
	verifyChain(t, s)
}

// testEnrolFencedConcurrent: N enrolments of the same finger under N ID
// numbers, all searched at the same position (none saw the others), commit
// at once: the fence lets exactly one through; the others see it and are
// refused. This is the race of TestAttackRacedDuplicateEnrolment at the
// store, on both backends (PostgreSQL: the advisory lock; SQLite: the
// single writer). Where the backend allows it, the enrolments go through
// two store handles on the one database, as two server replicas would (on
// PostgreSQL one handle alone would hide a missing lock: its group
// committer runs one batch at a time).
func testEnrolFencedConcurrent(t *testing.T, newDB NewDatabase) {
	const n = 8
	opener := newDB(t)
	s, err := opener(Options())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	handles := []store.Store{s}
	if s2, err := opener(Options()); err == nil {
		t.Cleanup(func() { s2.Close() })
		handles = append(handles, s2)
	} else {
		t.Logf("one handle only: %v", err)
	}
	c := ctx(t)
	f := newFixture(t, s, n)
	after, err := s.LastChange(c)
	if err != nil {
		t.Fatal(err)
	}
	probe := template(0, 2, 0) // one person's finger, under every ID number
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		fence := store.DedupFence{After: after, Check: fenceOnTemplates([][]byte{probe}, nil)}
		nf := first(f, i, &fence, 2)
		for j := range nf.Fingers[0].Samples {
			nf.Fingers[0].Samples[j].Template = template(0, 2, j)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = handles[i%len(handles)].EnrolFirst(c, audit.Staff(f.clerk.ID), nf)
		}()
	}
	close(start)
	wg.Wait()
	enrolled, refused := 0, 0
	for i, err := range errs {
		switch {
		case err == nil:
			enrolled++
		case errors.Is(err, errDuplicate):
			refused++
		default:
			t.Errorf("enrolment %d: %v", i, err)
		}
	}
	if enrolled != 1 || refused != n-1 {
		t.Errorf("%d enrolled, %d refused; want 1 and %d", enrolled, refused, n-1)
	}
	holders := 0
	for _, r := range f.residents {
		if es, _ := s.ResidentEnrolments(c, r.IDNumber); len(es) > 0 {
			holders++
		}
	}
	if holders != 1 {
		t.Errorf("the finger is enrolled under %d ID numbers", holders)
	}
}
