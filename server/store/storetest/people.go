package storetest

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/password"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

func testResidents(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	rs := []store.Resident{resident(0), resident(1), resident(2), resident(3)}
	st, err := s.ImportResidents(c, admin, rs)
	if err != nil {
		t.Fatalf("ImportResidents: %v", err)
	}
	if st != (store.ImportStats{Inserted: 4}) {
		t.Errorf("first import: %+v, want 4 inserted", st)
	}
	// Re-import: one changed address, one changed categories, one
	// suspended by the import, one unchanged, one new.
	rs[0].Address = "新地址"
	rs[1].Categories = []string{store.CategoryElderly, store.CategoryDibao, store.CategoryDibao}
	rs[2].Status = store.ResidentSuspended
	rs = append(rs, resident(4))
	st, err = s.ImportResidents(c, admin, rs)
	if err != nil {
		t.Fatalf("ImportResidents again: %v", err)
	}
	if st != (store.ImportStats{Inserted: 1, Updated: 3, Unchanged: 1}) {
		t.Errorf("second import: %+v, want 1 inserted, 3 updated, 1 unchanged", st)
	}
	got, err := s.GetResident(c, rs[1].IDNumber)
	if err != nil {
		t.Fatal(err)
	}
	want := rs[1]
	if got.ID == 0 || got.IDNumber != want.IDNumber || got.Name != want.Name || got.Gender != want.Gender ||
		!got.BirthDate.Equal(want.BirthDate) || got.Address != want.Address || got.GridCell != want.GridCell ||
		got.Household != want.Household || got.Status != store.ResidentActive {
		t.Errorf("GetResident = %+v, want %+v", got, want)
	}
	if !slices.Equal(got.Categories, []string{store.CategoryDibao, store.CategoryElderly}) {
		t.Errorf("categories = %q, want sorted unique [dibao elderly]", got.Categories)
	}
	if got.CreatedAt.IsZero() || got.UpdatedAt.Before(got.CreatedAt) {
		t.Errorf("timestamps %v %v", got.CreatedAt, got.UpdatedAt)
	}
	byID, err := s.GetResidentByID(c, got.ID)
	if err != nil || byID.IDNumber != got.IDNumber {
		t.Errorf("GetResidentByID = %+v, %v", byID, err)
	}
	if r, _ := s.GetResident(c, rs[2].IDNumber); r.Status != store.ResidentSuspended {
		t.Errorf("import did not apply the status: %s", r.Status)
	}
	// A trailing lower-case x is the same ID number.
	x := resident(0)
	x.IDNumber = "11000000000000042x"
	if _, err := s.ImportResidents(c, admin, []store.Resident{x}); err != nil {
		t.Fatal(err)
	}
	// Every form that canonicalises to it (identity.CanonicalIDNumber) is
	// the same ID number.
	for _, v := range []string{"11000000000000042X", " 11000000000000042x\t", "１１０００００００００００００４２Ｘ"} {
		if r, err := s.GetResident(c, v); err != nil || r.IDNumber != "11000000000000042X" {
			t.Errorf("GetResident(%q) = %q, %v", v, r.IDNumber, err)
		}
	}
	if _, err := s.GetResident(c, idNumber(999)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetResident(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := s.GetResidentByID(c, 99999); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetResidentByID(unknown) = %v, want ErrNotFound", err)
	}

	// Status changes.
	if err := s.SetResidentStatus(c, admin, rs[0].IDNumber, store.ResidentSuspended, "moved_away"); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.GetResident(c, rs[0].IDNumber); r.Status != store.ResidentSuspended {
		t.Errorf("status = %s after suspending", r.Status)
	}
	if a := lastAudit(t, s); a.Action != "resident.status" || a.Target != fmt.Sprintf("resident:%d", byIDNumber(t, s, rs[0].IDNumber)) {
		t.Errorf("audit after status change: %+v", a)
	}
	if err := s.SetResidentStatus(c, admin, idNumber(999), store.ResidentSuspended, ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetResidentStatus(unknown) = %v", err)
	}
	if err := s.SetResidentStatus(c, admin, rs[0].IDNumber, "dead", ""); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("SetResidentStatus(bad status) = %v", err)
	}

	// Listing and filters.
	all, err := Inspect(s).ListResidents(c, store.ResidentFilter{})
	if err != nil || len(all) != 6 {
		t.Fatalf("ListResidents = %d, %v; want 6", len(all), err)
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID <= all[i-1].ID {
			t.Errorf("ListResidents not ordered by id")
		}
	}
	var paged []store.Resident
	for after := int64(0); ; {
		page, err := Inspect(s).ListResidents(c, store.ResidentFilter{AfterID: after, Limit: 4})
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, page...)
		if len(page) < 4 {
			break
		}
		after = page[len(page)-1].ID
	}
	if len(paged) != len(all) {
		t.Errorf("paging returned %d residents, want %d", len(paged), len(all))
	}
	filters := []struct {
		f    store.ResidentFilter
		want int
	}{
		{store.ResidentFilter{Category: store.CategoryDibao}, 4}, // 0, 1 (changed), 3 and the copy of 0
		{store.ResidentFilter{Category: store.CategoryDisabled}, 1},
		{store.ResidentFilter{Status: store.ResidentSuspended}, 2},
		{store.ResidentFilter{GridCell: "G001"}, 1},
		{store.ResidentFilter{GridCell: "G000", Category: store.CategoryDibao}, 2},
		{store.ResidentFilter{GridCell: "nowhere"}, 0},
	}
	for _, tc := range filters {
		got, err := Inspect(s).ListResidents(c, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != tc.want {
			t.Errorf("ListResidents(%+v) = %d residents, want %d", tc.f, len(got), tc.want)
		}
	}
	verifyChain(t, s)
}

func byIDNumber(t *testing.T, s store.Store, id string) int64 {
	t.Helper()
	r, err := s.GetResident(ctx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	return r.ID
}

func testResidentValidation(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	bad := []struct {
		name string
		r    func() store.Resident
	}{
		{"empty id number", func() store.Resident { r := resident(1); r.IDNumber = " "; return r }},
		{"empty name", func() store.Resident { r := resident(1); r.Name = ""; return r }},
		{"bad gender", func() store.Resident { r := resident(1); r.Gender = "X"; return r }},
		{"bad status", func() store.Resident { r := resident(1); r.Status = "gone"; return r }},
		{"huge address", func() store.Resident { r := resident(1); r.Address = strings.Repeat("路", 200); return r }},
	}
	for _, tc := range bad {
		if _, err := s.ImportResidents(c, admin, []store.Resident{resident(0), tc.r()}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: ImportResidents = %v, want ErrInvalid", tc.name, err)
		}
	}
	if _, err := s.ImportResidents(c, admin, []store.Resident{resident(0), resident(0)}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("duplicate in batch: %v, want ErrInvalid", err)
	}
	// Nothing of the failed batches was written.
	if all, _ := Inspect(s).ListResidents(c, store.ResidentFilter{}); len(all) != 0 {
		t.Errorf("failed imports left %d residents", len(all))
	}
	if _, err := s.ImportResidents(c, audit.Actor{}, []store.Resident{resident(0)}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("import without actor = %v, want ErrInvalid", err)
	}
}

func testStaff(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	f := newFixture(t, s, 0)
	got, err := s.GetStaffByUsername(c, "clerk")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != f.clerk.ID || got.Role != store.RoleStationStaff || got.StationID != f.station.ID || got.DisplayName != "王芳" || got.Disabled {
		t.Errorf("GetStaffByUsername = %+v", got)
	}
	if ok, err := password.Verify(got.PasswordHash, "clerk-pw"); !ok || err != nil {
		t.Errorf("stored hash does not verify: %v %v", ok, err)
	}
	if ok, _ := password.Verify(got.PasswordHash, "wrong"); ok {
		t.Error("wrong password verifies")
	}
	if off, _ := s.GetStaff(c, f.officer.ID); off.Department != "civil-affairs" || off.StationID != "" {
		t.Errorf("officer = %+v", off)
	}
	// Usernames are canonical (identity.CanonicalUsername): padded,
	// upper-case and full-width forms are the same account.
	for _, v := range []string{" clerk", "clerk\t", "CLERK", "ｃｌｅｒｋ", "\u3000Ｃｌｅｒｋ\r\n"} {
		if st, err := s.GetStaffByUsername(c, v); err != nil || st.ID != f.clerk.ID {
			t.Errorf("GetStaffByUsername(%q) = %d, %v; want %d", v, st.ID, err, f.clerk.ID)
		}
		if _, err := s.CreateStaff(c, admin, store.Staff{Username: v, Role: store.RoleAdmin, PasswordHash: hashPW(t, "x")}); !errors.Is(err, store.ErrAlreadyExists) {
			t.Errorf("duplicate username %q: %v, want ErrAlreadyExists", v, err)
		}
	}
	if st, err := s.CreateStaff(c, admin, store.Staff{Username: " Ｍixed.Case ", Role: store.RoleAdmin, PasswordHash: hashPW(t, "x")}); err != nil || st.Username != "mixed.case" {
		t.Errorf("CreateStaff stored %q, %v; want the canonical mixed.case", st.Username, err)
	}
	invalid := []store.Staff{
		{Username: "", Role: store.RoleAdmin, PasswordHash: hashPW(t, "x")},
		{Username: " \t", Role: store.RoleAdmin, PasswordHash: hashPW(t, "x")},
		{Username: "a b", Role: store.RoleAdmin, PasswordHash: hashPW(t, "x")},
		{Username: "a\x00b", Role: store.RoleAdmin, PasswordHash: hashPW(t, "x")},
		{Username: "a", Role: "janitor", PasswordHash: hashPW(t, "x")},
		{Username: "b", Role: store.RoleDepartmentOfficer, PasswordHash: hashPW(t, "x")},
		{Username: "c", Role: store.RoleStationStaff, PasswordHash: hashPW(t, "x")},
		{Username: "d", Role: store.RoleAdmin, PasswordHash: "plaintext"},
	}
	for _, st := range invalid {
		if _, err := s.CreateStaff(c, admin, st); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("CreateStaff(%+v) = %v, want ErrInvalid", st, err)
		}
	}
	if _, err := s.CreateStaff(c, admin, store.Staff{Username: "e", Role: store.RoleStationStaff, StationID: "nowhere", PasswordHash: hashPW(t, "x")}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("staff at unknown station: %v, want ErrNotFound", err)
	}
	upd := got
	upd.Disabled = true
	upd.Role = store.RoleSupervisor
	upd.Username = "renamed" // ignored
	if upd, err = s.UpdateStaff(c, admin, upd); err != nil || !upd.Disabled || upd.Username != "clerk" {
		t.Errorf("UpdateStaff = %+v, %v", upd, err)
	}
	if again, _ := s.GetStaff(c, got.ID); !again.Disabled || again.Role != store.RoleSupervisor {
		t.Errorf("after update: %+v", again)
	}
	if _, err := s.UpdateStaff(c, admin, store.Staff{ID: 9999, Role: store.RoleAdmin}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateStaff(unknown) = %v", err)
	}
	if _, err := s.GetStaffByUsername(c, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetStaffByUsername(unknown) = %v", err)
	}
	list, err := s.ListStaff(c)
	if err != nil || len(list) != 4 {
		t.Errorf("ListStaff = %d, %v", len(list), err)
	}
	acts := auditActions(t, s)
	if n := count(acts, "staff.create"); n != 4 {
		t.Errorf("%d staff.create events, want 4 (three of the fixture, mixed.case)", n)
	}
	if count(acts, "staff.update") != 1 {
		t.Errorf("audit actions %q", acts)
	}
	verifyChain(t, s)
}

func count(xs []string, x string) int {
	n := 0
	for _, v := range xs {
		if v == x {
			n++
		}
	}
	return n
}

func testStationsKiosks(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	f := newFixture(t, s, 0)
	if _, err := s.CreateStation(c, admin, store.Station{ID: f.station.ID, Name: "dup"}); !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("duplicate station: %v", err)
	}
	if _, err := s.CreateStation(c, admin, store.Station{ID: "S2"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("station without name: %v", err)
	}
	if st, err := Inspect(s).GetStation(c, f.station.ID); err != nil || st.Name != f.station.Name || st.Address != "幸福路1号" {
		t.Errorf("GetStation = %+v, %v", st, err)
	}
	if _, err := Inspect(s).GetStation(c, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetStation(unknown) = %v", err)
	}
	if _, err := s.CreateStation(c, admin, store.Station{ID: "QS-S02", Name: "二站"}); err != nil {
		t.Fatal(err)
	}
	if sts, _ := s.ListStations(c); len(sts) != 2 {
		t.Errorf("ListStations = %d", len(sts))
	}
	k, err := s.GetKiosk(c, f.kiosk.ID)
	if err != nil || !k.PublicKey.Equal(pubKey(1)) || k.Status != store.DeviceActive || k.StationID != f.station.ID {
		t.Errorf("GetKiosk = %+v, %v", k, err)
	}
	if _, err := s.CreateKiosk(c, admin, store.Kiosk{ID: f.kiosk.ID, StationID: f.station.ID, PublicKey: pubKey(3)}); !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("duplicate kiosk: %v", err)
	}
	if _, err := s.CreateKiosk(c, admin, store.Kiosk{ID: "K9", StationID: "nowhere", PublicKey: pubKey(3)}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("kiosk at unknown station: %v", err)
	}
	if _, err := s.CreateKiosk(c, admin, store.Kiosk{ID: "K9", StationID: f.station.ID, PublicKey: []byte{1, 2}}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("short key: %v", err)
	}
	if _, err := s.CreateKiosk(c, admin, store.Kiosk{ID: "K3", StationID: "QS-S02", PublicKey: pubKey(3)}); err != nil {
		t.Fatal(err)
	}
	if ks, _ := s.ListKiosks(c, f.station.ID); len(ks) != 2 {
		t.Errorf("ListKiosks(station) = %d, want 2", len(ks))
	}
	if ks, _ := s.ListKiosks(c, ""); len(ks) != 3 {
		t.Errorf("ListKiosks(all) = %d, want 3", len(ks))
	}
	if err := s.SetKioskStatus(c, admin, f.kiosk.ID, store.DeviceRevoked); err != nil {
		t.Fatal(err)
	}
	if k, _ := s.GetKiosk(c, f.kiosk.ID); k.Status != store.DeviceRevoked {
		t.Errorf("status after revoke = %s", k.Status)
	}
	if err := s.SetKioskStatus(c, admin, "nope", store.DeviceRevoked); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetKioskStatus(unknown) = %v", err)
	}
	if err := s.SetKioskStatus(c, admin, f.kiosk.ID, "broken"); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("SetKioskStatus(bad) = %v", err)
	}
	if a := lastAudit(t, s); a.Action != "kiosk.status" || a.Target != "kiosk:"+f.kiosk.ID || a.Details["status"] != "revoked" {
		t.Errorf("last audit = %+v", a)
	}
	verifyChain(t, s)
}

func testScanners(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	f := newFixture(t, s, 0)
	cert := []byte("certificate bytes")
	sc, err := s.CreateScanner(c, admin, store.Scanner{Serial: "VS-0001", Model: "FV-300", MakerID: "qsdev", PublicKey: pubKey(9), Certificate: cert, KioskID: f.kiosk.ID})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.GetScanner(c, sc.Serial)
	if err != nil || got.Model != "FV-300" || got.MakerID != "qsdev" || !got.PublicKey.Equal(pubKey(9)) || string(got.Certificate) != string(cert) ||
		got.KioskID != f.kiosk.ID || got.Status != store.DeviceActive || got.Counter != 0 {
		t.Errorf("GetScanner = %+v, %v", got, err)
	}
	if _, err := s.CreateScanner(c, admin, store.Scanner{Serial: "VS-0001", PublicKey: pubKey(8)}); !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("duplicate scanner: %v", err)
	}
	if _, err := s.CreateScanner(c, admin, store.Scanner{Serial: "VS-0002", PublicKey: pubKey(8), KioskID: "nope"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("scanner at unknown kiosk: %v", err)
	}
	steps := []struct {
		counter uint64
		want    error
	}{
		{1, nil},
		{1, store.ErrStaleCounter}, // replay
		{5, nil},
		{3, store.ErrStaleCounter}, // reordered
		{6, nil},
		{math.MaxInt64, nil},
		{math.MaxUint64, store.ErrStaleCounter}, // beyond the stored range
	}
	for _, st := range steps {
		err := s.AdvanceScannerCounter(c, sc.Serial, st.counter)
		if !errors.Is(err, st.want) || (st.want == nil && err != nil) {
			t.Errorf("AdvanceScannerCounter(%d) = %v, want %v", st.counter, err, st.want)
		}
	}
	if got, _ := s.GetScanner(c, sc.Serial); got.Counter != math.MaxInt64 {
		t.Errorf("counter = %d", got.Counter)
	}
	if err := s.AdvanceScannerCounter(c, "nope", 1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown scanner: %v", err)
	}
	sc2, err := s.CreateScanner(c, admin, store.Scanner{Serial: "VS-0003", PublicKey: pubKey(7)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetScannerStatus(c, admin, sc2.Serial, store.DeviceRevoked); err != nil {
		t.Fatal(err)
	}
	if err := s.AdvanceScannerCounter(c, sc2.Serial, 10); !errors.Is(err, store.ErrInactive) {
		t.Errorf("revoked scanner: %v, want ErrInactive", err)
	}
	if l, _ := s.ListScanners(c); len(l) != 2 {
		t.Errorf("ListScanners = %d", len(l))
	}
	verifyChain(t, s)
}

// testScannerCounterConcurrent: many goroutines present counters; each
// counter value is accepted at most once and the stored counter ends at the
// maximum.
func testScannerCounterConcurrent(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	if _, err := s.CreateScanner(c, admin, store.Scanner{Serial: "VS-C", PublicKey: pubKey(5)}); err != nil {
		t.Fatal(err)
	}
	const workers, per = 8, 25
	var mu sync.Mutex
	accepted := map[uint64]int{}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= per; i++ {
				n := uint64(i) // every worker presents the same sequence: replays
				err := s.AdvanceScannerCounter(c, "VS-C", n)
				if err != nil && !errors.Is(err, store.ErrStaleCounter) {
					t.Errorf("AdvanceScannerCounter: %v", err)
					return
				}
				if err == nil {
					mu.Lock()
					accepted[n]++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	for n, k := range accepted {
		if k > 1 {
			t.Errorf("counter %d accepted %d times", n, k)
		}
	}
	if got, _ := s.GetScanner(c, "VS-C"); got.Counter != per {
		t.Errorf("final counter %d, want %d", got.Counter, per)
	}
	_ = time.Now
}
