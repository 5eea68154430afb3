package storetest

import (
	"errors"
	"sync"
	"testing"

	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// newFirstEnrolment is resident r's first enrolment of fingers, with the
// templates of resident `as` (someone else's fingers, when as != r).
func newFirstEnrolment(f *fixture, r, as int, fingers ...int) store.NewFirstEnrolment {
	nf := store.NewFirstEnrolment{IDNumber: f.residents[r].IDNumber, EnrolledBy: f.clerk.ID, KioskID: f.kiosk.ID, ScannerSerial: "VS-1"}
	for _, finger := range fingers {
		rf := store.ReplacementFinger{Finger: finger}
		for i := 0; i < 3; i++ {
			rf.Samples = append(rf.Samples, store.Sample{Template: template(as, finger, i), Image: image(as, finger, i), AlgorithmVersion: "mc-1.0", Quality: 60 + i})
		}
		nf.Fingers = append(nf.Fingers, rf)
	}
	return nf
}

// testEnrolFirst (issue 11 item 3): a first enrolment stores every finger
// in one transaction, audited per finger; a resident who was ever enrolled
// (in force, deleted on withdrawn consent, superseded) or whose replacement
// is pending is refused with ErrAlreadyEnrolled and nothing changes.
func testEnrolFirst(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	f := newFixture(t, s, 4)
	clerk := audit.Staff(f.clerk.ID)

	es, err := s.EnrolFirst(c, clerk, newFirstEnrolment(f, 0, 0, 2, 7))
	if err != nil || len(es) != 2 || es[0].ID == 0 || es[1].Finger != 7 || len(es[1].Samples) != 3 {
		t.Fatalf("EnrolFirst = %+v, %v", es, err)
	}
	if a := lastAudit(t, s); a.Action != "enrolment.create" || a.Details["resident"] != itoa(f.residents[0].ID) || a.Details["finger"] != "7" {
		t.Errorf("last audit = %+v, want enrolment.create of finger 7", a)
	}
	want := activeTemplates(t, s, f, 0)
	if len(want) != 2 || len(want[2]) != 3 {
		t.Fatalf("active templates = %d fingers", len(want))
	}

	// Enrolled: a second first enrolment (another person's fingers) is
	// refused, and the enrolment in force is untouched.
	if _, err := s.EnrolFirst(c, clerk, newFirstEnrolment(f, 0, 3, 2, 7)); !errors.Is(err, store.ErrAlreadyEnrolled) {
		t.Fatalf("EnrolFirst of an enrolled resident: %v, want ErrAlreadyEnrolled", err)
	}
	if _, err := s.EnrolFirst(c, clerk, newFirstEnrolment(f, 0, 3, 5)); !errors.Is(err, store.ErrAlreadyEnrolled) {
		t.Fatalf("EnrolFirst of another finger of an enrolled resident: %v, want ErrAlreadyEnrolled", err)
	}
	if got := activeTemplates(t, s, f, 0); !sameTemplates(got, want) {
		t.Fatal("a refused first enrolment changed the enrolment in force")
	}

	// Deleted (consent withdrawn): still not a first enrolment.
	if _, err := s.DeleteEnrolments(c, admin, f.residents[0].IDNumber, "consent withdrawn"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnrolFirst(c, clerk, newFirstEnrolment(f, 0, 3, 2, 7)); !errors.Is(err, store.ErrAlreadyEnrolled) {
		t.Fatalf("EnrolFirst after a deletion: %v, want ErrAlreadyEnrolled", err)
	}
	if got := activeTemplates(t, s, f, 0); len(got) != 0 {
		t.Fatalf("a refused first enrolment after a deletion stored %d fingers", len(got))
	}

	// A pending replacement (only an enrolled resident has one; asked here
	// of a resident whose enrolment was deleted): refused.
	if _, err := s.EnrolFirst(c, clerk, newFirstEnrolment(f, 1, 1, 2, 7)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteEnrolments(c, admin, f.residents[1].IDNumber, "consent withdrawn"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RequestReplacement(c, clerk, newReplacement(f, 1, 1, 2, 7)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnrolFirst(c, clerk, newFirstEnrolment(f, 1, 3, 2, 7)); !errors.Is(err, store.ErrAlreadyEnrolled) {
		t.Fatalf("EnrolFirst beside a pending replacement: %v, want ErrAlreadyEnrolled", err)
	}

	// Enrolled finger by finger (Enrol, the tools' primitive): refused too.
	if _, err := s.Enrol(c, clerk, newEnrolment(f, 2, 1, 3, false)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnrolFirst(c, clerk, newFirstEnrolment(f, 2, 3, 2, 7)); !errors.Is(err, store.ErrAlreadyEnrolled) {
		t.Fatalf("EnrolFirst after Enrol: %v, want ErrAlreadyEnrolled", err)
	}

	// Validation.
	bad := []store.NewFirstEnrolment{
		{IDNumber: f.residents[3].IDNumber, EnrolledBy: f.clerk.ID},
		newFirstEnrolment(f, 3, 3, 2, 2),
		newFirstEnrolment(f, 3, 3, 11),
		func() store.NewFirstEnrolment {
			nf := newFirstEnrolment(f, 3, 3, 2)
			nf.Fingers[0].Samples = nil
			return nf
		}(),
	}
	for i, nf := range bad {
		if _, err := s.EnrolFirst(c, clerk, nf); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("bad first enrolment %d: %v, want ErrInvalid", i, err)
		}
	}
	if _, err := s.EnrolFirst(c, clerk, store.NewFirstEnrolment{IDNumber: "110105194901010000", Fingers: newFirstEnrolment(f, 3, 3, 2).Fingers}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("EnrolFirst of an unknown resident: %v, want ErrNotFound", err)
	}
	if got := activeTemplates(t, s, f, 3); len(got) != 0 {
		t.Fatalf("refused first enrolments stored %d fingers", len(got))
	}
}

// testEnrolFirstRaced (issue 11 item 3): first enrolments of one resident
// racing through two store handles (a kiosk's and an administrator's bulk
// enrolment on two replicas): exactly one is stored, whole; the others get
// ErrAlreadyEnrolled.
func testEnrolFirstRaced(t *testing.T, newDB NewDatabase) {
	two := openTwice(t, newDB)
	c := ctx(t)
	f := newFixture(t, two[0], 4)
	clerk := audit.Staff(f.clerk.ID)
	const n = 16
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			// Each racer brings other fingers (residents 1..3's): a mix of
			// two racers' fingers would show.
			_, errs[i] = two[i%2].EnrolFirst(c, clerk, newFirstEnrolment(f, 0, 1+i%3, 2, 7))
		}()
	}
	close(start)
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won < 0:
			won = i
		case err == nil:
			t.Fatalf("racers %d and %d both enrolled the resident", won, i)
		case !errors.Is(err, store.ErrAlreadyEnrolled):
			t.Fatalf("racer %d: %v", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no racer enrolled the resident")
	}
	got := activeTemplates(t, two[0], f, 0)
	wantT := activeTemplatesOf(newFirstEnrolment(f, 0, 1+won%3, 2, 7))
	if !sameTemplates(got, wantT) {
		t.Fatal("the enrolment in force is not the winner's, whole")
	}
	hist, err := two[1].EnrolmentHistory(c, f.residents[0].ID)
	if err != nil || len(hist) != 2 {
		t.Fatalf("EnrolmentHistory = %d rows, %v; want the winner's 2", len(hist), err)
	}
}

func activeTemplatesOf(nf store.NewFirstEnrolment) map[int][][]byte {
	out := map[int][][]byte{}
	for _, rf := range nf.Fingers {
		for _, sm := range rf.Samples {
			out[rf.Finger] = append(out[rf.Finger], sm.Template)
		}
	}
	return out
}

func sameTemplates(a, b map[int][][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, ts := range a {
		if len(ts) != len(b[k]) {
			return false
		}
		for i := range ts {
			if string(ts[i]) != string(b[k][i]) {
				return false
			}
		}
	}
	return true
}
