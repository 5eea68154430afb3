package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// template returns distinguishable synthetic template bytes.
func template(resident, finger, sample int) []byte {
	b := make([]byte, 64)
	for i := range b {
		b[i] = byte(resident*31 + finger*7 + sample*3 + i)
	}
	return append([]byte(fmt.Sprintf("TPL r%d f%d s%d|", resident, finger, sample)), b...)
}

func image(resident, finger, sample int) []byte {
	return []byte(fmt.Sprintf("IMG r%d f%d s%d|%s", resident, finger, sample, bytes.Repeat([]byte{0x80}, 200)))
}

func newEnrolment(f *fixture, r, finger, nSamples int, withImages bool) store.NewEnrolment {
	e := store.NewEnrolment{IDNumber: f.residents[r].IDNumber, Finger: finger, EnrolledBy: f.clerk.ID, KioskID: f.kiosk.ID, ScannerSerial: "VS-1"}
	for i := 0; i < nSamples; i++ {
		sm := store.Sample{Template: template(r, finger, i), AlgorithmVersion: "mc-1.0", Quality: 60 + i}
		if withImages {
			sm.Image = image(r, finger, i)
		}
		e.Samples = append(e.Samples, sm)
	}
	return e
}

func testEnrolment(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	f := newFixture(t, s, 3)
	clerk := audit.Staff(f.clerk.ID)
	e, err := s.Enrol(c, clerk, newEnrolment(f, 0, 2, 3, true))
	if err != nil {
		t.Fatalf("Enrol: %v", err)
	}
	if e.ID == 0 || e.ResidentID != f.residents[0].ID || len(e.Samples) != 3 || e.Samples[0].ID == 0 || e.SupersededAt != nil {
		t.Errorf("Enrol = %+v", e)
	}
	got, err := Inspect(s).GetEnrolment(c, e.ID)
	if err != nil {
		t.Fatalf("GetEnrolment: %v", err)
	}
	if got.IDNumber != f.residents[0].IDNumber || got.Finger != 2 || got.EnrolledBy != f.clerk.ID || got.KioskID != f.kiosk.ID || got.ScannerSerial != "VS-1" {
		t.Errorf("GetEnrolment = %+v", got)
	}
	for i, sm := range got.Samples {
		if !bytes.Equal(sm.Template, template(0, 2, i)) || !bytes.Equal(sm.Image, image(0, 2, i)) || sm.Quality != 60+i || sm.AlgorithmVersion != "mc-1.0" {
			t.Errorf("sample %d does not round-trip: %+v", i, sm)
		}
	}
	// A second finger, without images.
	if _, err := s.Enrol(c, clerk, newEnrolment(f, 0, 7, 2, false)); err != nil {
		t.Fatal(err)
	}
	a := lastAudit(t, s)
	if a.Action != "enrolment.create" || a.Actor != clerk || a.Details["resident"] != fmt.Sprint(f.residents[0].ID) || a.Details["finger"] != "7" {
		t.Errorf("last audit = %+v", a)
	}
	list, err := s.ResidentEnrolments(c, f.residents[0].IDNumber)
	if err != nil || len(list) != 2 || list[0].Finger != 2 || list[1].Finger != 7 {
		t.Fatalf("ResidentEnrolments = %+v, %v", list, err)
	}
	for _, sm := range list[0].Samples {
		if sm.Image != nil || len(sm.Template) == 0 {
			t.Errorf("ResidentEnrolments sample has image or no template: %+v", sm)
		}
	}
	if _, err := Inspect(s).GetEnrolment(c, 9999); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetEnrolment(unknown) = %v", err)
	}
	if _, err := s.Enrol(c, clerk, func() store.NewEnrolment {
		e := newEnrolment(f, 0, 1, 1, false)
		e.IDNumber = idNumber(999)
		return e
	}()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("enrol unknown resident: %v", err)
	}
	if err := s.SetResidentStatus(c, admin, f.residents[1].IDNumber, store.ResidentSuspended, "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enrol(c, clerk, newEnrolment(f, 1, 1, 1, false)); !errors.Is(err, store.ErrInactive) {
		t.Errorf("enrol suspended resident: %v, want ErrInactive", err)
	}
	// Delete (consent withdrawn).
	n, err := s.DeleteEnrolments(c, clerk, f.residents[0].IDNumber, "consent_withdrawn")
	if err != nil || n != 2 {
		t.Fatalf("DeleteEnrolments = %d, %v", n, err)
	}
	if list, _ := s.ResidentEnrolments(c, f.residents[0].IDNumber); len(list) != 0 {
		t.Errorf("%d enrolments left after delete", len(list))
	}
	old, err := Inspect(s).GetEnrolment(c, e.ID)
	if err != nil || old.SupersededAt == nil || len(old.Samples) != 0 {
		t.Errorf("deleted enrolment = %+v, %v; want superseded without samples", old, err)
	}
	seen := 0
	if err := s.ScanTemplates(c, 0, func(store.TemplateRecord) error { seen++; return nil }); err != nil || seen != 0 {
		t.Errorf("ScanTemplates after delete: %d, %v", seen, err)
	}
	verifyChain(t, s)
}

func testEnrolmentValidation(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	f := newFixture(t, s, 1)
	clerk := audit.Staff(f.clerk.ID)
	cases := []struct {
		name string
		mod  func(e *store.NewEnrolment)
	}{
		{"finger 0", func(e *store.NewEnrolment) { e.Finger = 0 }},
		{"finger 11", func(e *store.NewEnrolment) { e.Finger = 11 }},
		{"no samples", func(e *store.NewEnrolment) { e.Samples = nil }},
		{"empty template", func(e *store.NewEnrolment) { e.Samples[0].Template = nil }},
		{"no algorithm", func(e *store.NewEnrolment) { e.Samples[0].AlgorithmVersion = "" }},
		{"quality 101", func(e *store.NewEnrolment) { e.Samples[0].Quality = 101 }},
		{"too many samples", func(e *store.NewEnrolment) {
			for len(e.Samples) < 17 {
				e.Samples = append(e.Samples, e.Samples[0])
			}
		}},
	}
	for _, tc := range cases {
		e := newEnrolment(f, 0, 1, 1, false)
		tc.mod(&e)
		if _, err := s.Enrol(c, clerk, e); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: Enrol = %v, want ErrInvalid", tc.name, err)
		}
	}
	e := newEnrolment(f, 0, 1, 1, false)
	e.KioskID = "nope"
	if _, err := s.Enrol(c, clerk, e); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown kiosk: %v, want ErrNotFound", err)
	}
	if _, err := s.Enrol(c, audit.Actor{}, newEnrolment(f, 0, 1, 1, false)); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("no actor: %v", err)
	}
}

// testReEnrolment: enrolling a finger again replaces its templates in one
// step; other fingers and residents are untouched.
func testReEnrolment(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	f := newFixture(t, s, 2)
	clerk := audit.Staff(f.clerk.ID)
	first, err := s.Enrol(c, clerk, newEnrolment(f, 0, 2, 3, true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enrol(c, clerk, newEnrolment(f, 0, 3, 2, false)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enrol(c, clerk, newEnrolment(f, 1, 2, 2, false)); err != nil {
		t.Fatal(err)
	}
	ne := newEnrolment(f, 0, 2, 2, false)
	for i := range ne.Samples {
		ne.Samples[i].Template = append([]byte("NEW "), ne.Samples[i].Template...)
		ne.Samples[i].AlgorithmVersion = "mc-2.0"
	}
	second, err := s.Enrol(c, clerk, ne)
	if err != nil {
		t.Fatal(err)
	}
	if a := lastAudit(t, s); a.Action != "enrolment.replace" || a.Details["replaced"] != fmt.Sprint(first.ID) {
		t.Errorf("audit of re-enrolment = %+v", a)
	}
	old, err := Inspect(s).GetEnrolment(c, first.ID)
	if err != nil || old.SupersededAt == nil || len(old.Samples) != 0 {
		t.Errorf("old enrolment = %+v, %v; want superseded with no samples", old, err)
	}
	byKey := map[string]int{}
	if err := s.ScanTemplates(c, 0, func(r store.TemplateRecord) error {
		byKey[fmt.Sprintf("%s/%d/%s", r.IDNumber, r.Finger, r.AlgorithmVersion)]++
		if r.Finger == 2 && r.ResidentID == f.residents[0].ID && !bytes.HasPrefix(r.Template, []byte("NEW ")) {
			t.Errorf("old template of a replaced finger still in the gallery")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{
		f.residents[0].IDNumber + "/2/mc-2.0": 2,
		f.residents[0].IDNumber + "/3/mc-1.0": 2,
		f.residents[1].IDNumber + "/2/mc-1.0": 2,
	}
	if fmt.Sprint(byKey) != fmt.Sprint(want) {
		t.Errorf("gallery = %v, want %v", byKey, want)
	}
	list, _ := s.ResidentEnrolments(c, f.residents[0].IDNumber)
	if len(list) != 2 || list[0].ID != second.ID {
		t.Errorf("active enrolments = %+v", list)
	}
	verifyChain(t, s)
}

// testEncryptionBinding: blobs are sealed under the ring given at Open;
// another ring cannot read them.
func testEncryptionBinding(t *testing.T, newDB NewDatabase) {
	opener := newDB(t)
	s, err := opener(Options("k1"))
	if err != nil {
		t.Fatal(err)
	}
	c := ctx(t)
	f := newFixture(t, s, 1)
	e, err := s.Enrol(c, audit.Staff(f.clerk.ID), newEnrolment(f, 0, 1, 2, true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Inspect(s).GetEnrolment(c, e.ID); err != nil {
		t.Fatalf("GetEnrolment with the ring it was sealed under: %v", err)
	}
	s.Close()
	// A ring without the key the database was sealed under cannot open
	// the blind-index key, so the store refuses to open at all rather than
	// failing on every read.
	if other, err := opener(Options("other")); !errors.Is(err, store.ErrDecrypt) {
		if err == nil {
			other.Close()
		}
		t.Errorf("Open with a foreign key ring = %v, want ErrDecrypt", err)
	}
	if _, err := opener(store.Options{}); err == nil {
		t.Error("Open without a key ring succeeded")
	}
}

// testScanTemplatesPages: the gallery stream crosses page boundaries, keeps
// order, resumes after a sample id and stops at the callback's error.
func testScanTemplatesPages(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	const nRes = 70
	f := newFixture(t, s, nRes)
	clerk := audit.Staff(f.clerk.ID)
	want := 0
	for r := 0; r < nRes; r++ {
		for _, finger := range []int{2, 7} {
			if _, err := s.Enrol(c, clerk, newEnrolment(f, r, finger, 16, false)); err != nil {
				t.Fatal(err)
			}
			want += 16
		}
	}
	if want <= 2000 {
		t.Fatalf("test needs more samples than one page")
	}
	var ids []int64
	if err := s.ScanTemplates(c, 0, func(r store.TemplateRecord) error {
		if r.ResidentStatus != store.ResidentActive || r.EnrolmentID == 0 || r.ResidentID == 0 || len(r.Template) == 0 {
			t.Fatalf("bad record %+v", r)
		}
		ids = append(ids, r.SampleID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(ids) != want {
		t.Fatalf("ScanTemplates gave %d templates, want %d", len(ids), want)
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] <= ids[i-1] {
			t.Fatalf("not in sample-id order at %d", i)
		}
	}
	n := 0
	if err := s.ScanTemplates(c, ids[2099], func(store.TemplateRecord) error { n++; return nil }); err != nil || n != want-2100 {
		t.Errorf("resume after %d: %d templates, %v; want %d", ids[2099], n, err, want-2100)
	}
	stop := errors.New("stop")
	n = 0
	if err := s.ScanTemplates(c, 0, func(store.TemplateRecord) error {
		n++
		if n == 10 {
			return stop
		}
		return nil
	}); !errors.Is(err, stop) || n != 10 {
		t.Errorf("callback error: got %v after %d", err, n)
	}
}

// testKeyRotation: add a key, make it primary, re-encrypt, then drop the
// old key.
func testKeyRotation(t *testing.T, newDB NewDatabase) {
	opener := newDB(t)
	s1, err := opener(Options("old"))
	if err != nil {
		t.Fatal(err)
	}
	c := ctx(t)
	f := newFixture(t, s1, 3)
	clerk := audit.Staff(f.clerk.ID)
	var ids []int64
	for r := 0; r < 3; r++ {
		e, err := s1.Enrol(c, clerk, newEnrolment(f, r, 1, 3, r != 1))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	s1.Close()

	s2, err := opener(Options("old", "new"))
	if err != nil {
		t.Fatal(err)
	}
	// Before re-encryption, the new ring still opens old blobs, and new
	// enrolments are sealed under the new key.
	if _, err := Inspect(s2).GetEnrolment(c, ids[0]); err != nil {
		t.Fatalf("old blob with rotated ring: %v", err)
	}
	eNew, err := s2.Enrol(c, clerk, newEnrolment(f, 0, 5, 1, true))
	if err != nil {
		t.Fatal(err)
	}
	st, err := s2.Reencrypt(c, admin)
	if err != nil {
		t.Fatalf("Reencrypt: %v", err)
	}
	// 9 samples, 6 with images: 15 blobs; the new enrolment is untouched.
	if st.Samples != 9 || st.Reencrypted != 15 {
		t.Errorf("Reencrypt = %+v, want 9 samples, 15 blobs", st)
	}
	// The index key and every resident's sealed record were under "old".
	if st.Personal < 1+len(f.residents) {
		t.Errorf("Reencrypt re-sealed %d personal values, want at least %d (index key and residents)", st.Personal, 1+len(f.residents))
	}
	if st, err := s2.Reencrypt(c, admin); err != nil || st.Samples != 0 || st.Personal != 0 {
		t.Errorf("second Reencrypt = %+v, %v; want nothing to do", st, err)
	}
	if a := lastAudit(t, s2); a.Action != "keys.reencrypt" || a.Details["primary"] != "new" {
		t.Errorf("audit = %+v", a)
	}
	s2.Close()

	s3, err := opener(Options("new"))
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	for r, id := range append(ids, eNew.ID) {
		e, err := Inspect(s3).GetEnrolment(c, id)
		if err != nil {
			t.Fatalf("after rotation, enrolment %d: %v", id, err)
		}
		if r < 3 && !bytes.Equal(e.Samples[2].Template, template(r, 1, 2)) {
			t.Errorf("template changed by rotation")
		}
		if r == 0 && !bytes.Equal(e.Samples[0].Image, image(0, 1, 0)) {
			t.Errorf("image changed by rotation")
		}
	}
	n := 0
	if err := s3.ScanTemplates(c, 0, func(store.TemplateRecord) error { n++; return nil }); err != nil || n != 10 {
		t.Errorf("gallery after rotation: %d, %v", n, err)
	}
	verifyChain(t, s3)
}
