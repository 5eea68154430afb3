package storetest

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

func ptr[T any](v T) *T { return &v }

// testGridWorker: a grid worker account is bound to one cell; only a grid
// worker has one.
func testGridWorker(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	gw, err := s.CreateStaff(c, admin, store.Staff{Username: "grid1", Role: store.RoleGridWorker, GridCell: "G001", PasswordHash: hashPW(t, "grid-pw")})
	if err != nil || gw.GridCell != "G001" {
		t.Fatalf("CreateStaff(grid worker) = %+v, %v", gw, err)
	}
	got, err := s.GetStaff(c, gw.ID)
	if err != nil || got.Role != store.RoleGridWorker || got.GridCell != "G001" {
		t.Fatalf("GetStaff = %+v, %v", got, err)
	}
	for name, st := range map[string]store.Staff{
		"grid worker without a cell": {Username: "grid2", Role: store.RoleGridWorker, PasswordHash: hashPW(t, "x")},
		"officer with a cell":        {Username: "off2", Role: store.RoleDepartmentOfficer, Department: "civil", GridCell: "G001", PasswordHash: hashPW(t, "x")},
	} {
		if _, err := s.CreateStaff(c, admin, st); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	got.GridCell = "G002"
	if up, err := s.UpdateStaff(c, admin, got); err != nil || up.GridCell != "G002" {
		t.Fatalf("UpdateStaff = %+v, %v", up, err)
	}
	if again, _ := s.GetStaff(c, gw.ID); again.GridCell != "G002" {
		t.Errorf("after reassignment: cell %q", again.GridCell)
	}
}

// testResidentUpdate: a grid worker changes household, categories and
// phone of a resident of their own cell only; every change is recorded
// (names, not values) and audited; an import keeps the phone.
func testResidentUpdate(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	f := newFixture(t, s, 6) // residents 1 and 6%5... resident i is in cell G00(i%5)
	gw := audit.Staff(99)
	r := f.residents[1] // G001, categories [disabled]
	up, ch, err := s.UpdateResident(c, gw, store.ResidentUpdate{ResidentID: r.ID, GridCell: "G001",
		Household: ptr("H09999"), Categories: ptr([]string{"elderly", "disabled", "pensioner"}), Phone: ptr("13912345678"), At: t0})
	if err != nil {
		t.Fatalf("UpdateResident: %v", err)
	}
	if up.Household != "H09999" || up.Phone != "13912345678" || !slices.Equal(up.Categories, []string{"disabled", "elderly", "pensioner"}) || up.Name != r.Name {
		t.Fatalf("updated %+v", up)
	}
	if !slices.Equal(ch.Fields, []string{store.ChangeHousehold, store.ChangeCategories, store.ChangePhone}) ||
		!slices.Equal(ch.Added, []string{"elderly", "pensioner"}) || len(ch.Removed) != 0 {
		t.Fatalf("change %+v", ch)
	}
	got, err := s.GetResidentByID(c, r.ID)
	if err != nil || got.Phone != "13912345678" || got.Household != "H09999" || !slices.Equal(got.Categories, up.Categories) {
		t.Fatalf("read back %+v, %v", got, err)
	}
	// Another cell's grid worker: as if the resident did not exist.
	if _, _, err := s.UpdateResident(c, gw, store.ResidentUpdate{ResidentID: r.ID, GridCell: "G002", Phone: ptr("13800000000")}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("other cell: %v, want ErrNotFound", err)
	}
	if _, _, err := s.UpdateResident(c, gw, store.ResidentUpdate{ResidentID: 1 << 40, GridCell: "G001", Phone: ptr("13800000000")}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown resident: %v, want ErrNotFound", err)
	}
	for name, u := range map[string]store.ResidentUpdate{
		"nothing":        {ResidentID: r.ID, GridCell: "G001"},
		"no change":      {ResidentID: r.ID, GridCell: "G001", Phone: ptr("13912345678")},
		"no cell":        {ResidentID: r.ID, Phone: ptr("1")},
		"long phone":     {ResidentID: r.ID, GridCell: "G001", Phone: ptr(strings.Repeat("1", 33))},
		"comma category": {ResidentID: r.ID, GridCell: "G001", Categories: ptr([]string{"a,b"})},
		"long household": {ResidentID: r.ID, GridCell: "G001", Household: ptr(strings.Repeat("H", 65))},
	} {
		if _, _, err := s.UpdateResident(c, gw, u); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	// Removing a category.
	_, ch2, err := s.UpdateResident(c, gw, store.ResidentUpdate{ResidentID: r.ID, GridCell: "G001", Categories: ptr([]string{"disabled", "pensioner"}), At: t0.Add(time.Hour)})
	if err != nil || !slices.Equal(ch2.Removed, []string{"elderly"}) || len(ch2.Added) != 0 {
		t.Fatalf("remove category: %+v, %v", ch2, err)
	}
	chs, err := s.ResidentChanges(c, "G001", t0)
	if err != nil || len(chs) != 2 || chs[0].ID != ch2.ID || chs[1].ID != ch.ID || chs[1].Actor != gw || !slices.Equal(chs[1].Added, ch.Added) {
		t.Fatalf("ResidentChanges = %+v, %v", chs, err)
	}
	if chs, err := s.ResidentChanges(c, "G001", t0.Add(30*time.Minute)); err != nil || len(chs) != 1 {
		t.Errorf("ResidentChanges since = %d, %v", len(chs), err)
	}
	if chs, err := s.ResidentChanges(c, "G002", t0); err != nil || len(chs) != 0 {
		t.Errorf("ResidentChanges(G002) = %d, %v", len(chs), err)
	}
	// The population database has no phones: an import keeps the grid
	// worker's, and still updates the rest.
	again := r
	again.Address = "青山区新地址1号"
	if _, err := s.ImportResidents(c, admin, []store.Resident{again}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetResidentByID(c, r.ID); got.Phone != "13912345678" || got.Address != "青山区新地址1号" {
		t.Errorf("after import: phone %q address %q", got.Phone, got.Address)
	}
	// Audited with field names, no values.
	recs, err := s.ListAudit(c, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, rec := range recs {
		if rec.Action != "resident.update" {
			continue
		}
		n++
		if rec.Target != "resident:"+strconv.FormatInt(r.ID, 10) || rec.Details["grid_cell"] != "G001" || strings.Contains(rec.Details["fields"], "139") {
			t.Errorf("audit %+v", rec)
		}
	}
	if n != 2 {
		t.Errorf("%d resident.update events, want 2", n)
	}
	verifyChain(t, s)
}

// testVisits: visits to one's own cell only, the latest per resident, the
// note sealed and re-sealed by key rotation.
func testVisits(t *testing.T, newDB NewDatabase) {
	opener := newDB(t)
	s, err := opener(Options("k1"))
	if err != nil {
		t.Fatal(err)
	}
	c := ctx(t)
	f := newFixture(t, s, 11) // G001: residents 1, 6
	gw := audit.Staff(f.clerk.ID)
	day := 24 * time.Hour
	now := time.Now().UTC().Truncate(time.Second)
	for i, v := range []store.NewVisit{
		{ResidentID: f.residents[1].ID, At: now.Add(-40 * day), Note: "独居，身体尚可"},
		{ResidentID: f.residents[1].ID, At: now.Add(-3 * day)},
		{ResidentID: f.residents[6].ID, At: now.Add(-200 * day), Note: "家中无人"},
	} {
		v.GridCell, v.StaffID = "G001", f.clerk.ID
		if _, err := s.RecordVisit(c, gw, v); err != nil {
			t.Fatalf("visit %d: %v", i, err)
		}
	}
	if _, err := s.RecordVisit(c, gw, store.NewVisit{ResidentID: f.residents[2].ID, GridCell: "G001", StaffID: f.clerk.ID}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("visit in another cell: %v, want ErrNotFound", err)
	}
	for name, v := range map[string]store.NewVisit{
		"future":    {ResidentID: f.residents[1].ID, GridCell: "G001", StaffID: f.clerk.ID, At: now.Add(day)},
		"long note": {ResidentID: f.residents[1].ID, GridCell: "G001", StaffID: f.clerk.ID, Note: strings.Repeat("长", 200)},
		"no staff":  {ResidentID: f.residents[1].ID, GridCell: "G001"},
	} {
		if _, err := s.RecordVisit(c, gw, v); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	last, err := s.LastVisits(c, "G001")
	if err != nil || len(last) != 2 || !last[f.residents[1].ID].Equal(now.Add(-3*day)) || !last[f.residents[6].ID].Equal(now.Add(-200*day)) {
		t.Fatalf("LastVisits = %v, %v", last, err)
	}
	if last, err := s.LastVisits(c, "G002"); err != nil || len(last) != 0 {
		t.Errorf("LastVisits(G002) = %v, %v", last, err)
	}
	s.Close()
	both, err := opener(Options("k1", "k2"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := both.Reencrypt(c, admin); err != nil {
		t.Fatal(err)
	}
	both.Close()
	onlyNew, err := opener(Options("k2"))
	if err != nil {
		t.Fatal(err)
	}
	defer onlyNew.Close()
	vs, err := onlyNew.ListVisits(c, f.residents[1].ID, 0)
	if err != nil || len(vs) != 2 || vs[0].Note != "" || vs[1].Note != "独居，身体尚可" || vs[1].StaffID != f.clerk.ID {
		t.Fatalf("ListVisits after rotation = %+v, %v", vs, err)
	}
}

// testCertification: one proof of life per pensioner and year, after the
// card and vein check (the token is checked, not spent); a second in the
// same year is recognised.
func testCertification(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	f := newFixture(t, s, 6)
	kiosk := audit.Kiosk(f.kiosk.ID)
	issueToken(t, s, f, 1, "token-certify-0000001")
	nc := store.NewCertification{Token: "token-certify-0000001", KioskID: f.kiosk.ID, StationID: f.station.ID, Year: 2026, At: t0}
	cert, created, err := s.Certify(c, kiosk, nc)
	if err != nil || !created || cert.ResidentID != f.residents[1].ID || cert.Year != 2026 || !cert.CertifiedAt.Equal(t0) || cert.KioskID != f.kiosk.ID {
		t.Fatalf("Certify = %+v, %v, %v", cert, created, err)
	}
	nc.At = t0.Add(time.Minute)
	again, created, err := s.Certify(c, kiosk, nc)
	if err != nil || created || !again.CertifiedAt.Equal(t0) {
		t.Fatalf("second certification = %+v, %v, %v", again, created, err)
	}
	// The token is still good for a filing.
	if _, err := s.CheckFilingToken(c, "token-certify-0000001", f.kiosk.ID, t0.Add(2*time.Minute)); err != nil {
		t.Errorf("token after certification: %v", err)
	}
	next := nc
	next.Year = 2027
	if _, created, err := s.Certify(c, kiosk, next); err != nil || !created {
		t.Errorf("next year: %v, %v", created, err)
	}
	for name, mod := range map[string]func(*store.NewCertification){
		"other kiosk":   func(n *store.NewCertification) { n.KioskID = f.kiosk2.ID },
		"unknown token": func(n *store.NewCertification) { n.Token = "token-certify-unknown" },
	} {
		n := nc
		mod(&n)
		if _, _, err := s.Certify(c, kiosk, n); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", name, err)
		}
	}
	expired := nc
	expired.At = t0.Add(time.Hour)
	if _, _, err := s.Certify(c, kiosk, expired); !errors.Is(err, store.ErrExpired) {
		t.Errorf("expired token: %v, want ErrExpired", err)
	}
	bad := nc
	bad.Year = 1999
	if _, _, err := s.Certify(c, kiosk, bad); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("year 1999: %v, want ErrInvalid", err)
	}
	got, err := s.Certifications(c, "G001", 2026)
	if err != nil || len(got) != 1 || got[f.residents[1].ID].Year != 2026 {
		t.Fatalf("Certifications = %+v, %v", got, err)
	}
	if got, err := s.Certifications(c, "G002", 2026); err != nil || len(got) != 0 {
		t.Errorf("Certifications(G002) = %+v, %v", got, err)
	}
	recs, _ := s.ListAudit(c, 0, 1000)
	n := 0
	for _, rec := range recs {
		if rec.Action == "pension.certify" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d pension.certify events, want 2 (2026 once, 2027)", n)
	}
}
