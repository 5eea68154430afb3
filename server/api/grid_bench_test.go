package api

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// BenchmarkGridWorklist computes a grid worker's worklist for a cell of
// the district's average size (504,200 residents in 478 cells: 1,055), with
// a category mix, a visit for a third of them and 50 recorded changes, on
// the embedded store: the residents read and opened, the visit rules, the
// birthday flags and the changes' flags by the catalogue's rules.
//
//	go test -run XXX -bench BenchmarkGridWorklist -benchtime 20x ./server/api
func BenchmarkGridWorklist(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	const cell, n = "G-BENCH", 1055
	gw := e.mustStaff("bench-grid-admin", store.RoleAdmin, "", "")
	rs := make([]store.Resident, n)
	cats := [][]string{nil, {"pensioner"}, {"elderly_alone", "pensioner"}, {"dibao"}, {"floating"}, {"disabled"}, nil}
	for i := range rs {
		birth := time.Date(1930+i%80, time.Month(1+i%12), 1+i%28, 0, 0, 0, 0, time.UTC)
		id, err := identity.MakeIDNumber("150204", identity.DateOf(birth), 1+i%900)
		if err != nil {
			b.Fatal(err)
		}
		rs[i] = store.Resident{IDNumber: string(id), Name: fmt.Sprintf("居民%d", i), Gender: "F", BirthDate: birth,
			Address: "内蒙古自治区包头市青山区幸福路1号", GridCell: cell, Household: fmt.Sprintf("H%04d", i/3), Categories: cats[i%len(cats)], Status: store.ResidentActive}
	}
	if _, err := e.st.ImportResidents(ctx, audit.System("bench"), rs); err != nil {
		b.Fatal(err)
	}
	all, err := e.st.ListResidents(ctx, store.ResidentFilter{GridCell: cell, Limit: 1000})
	if err != nil {
		b.Fatal(err)
	}
	for i, r := range all {
		if i%3 == 0 {
			if _, err := e.st.RecordVisit(ctx, audit.Staff(gw.ID), store.NewVisit{ResidentID: r.ID, GridCell: cell, StaffID: gw.ID, At: e.clock.Now().AddDate(0, 0, -i%200)}); err != nil {
				b.Fatal(err)
			}
		}
		if i%20 == 0 {
			h := "H-NEW"
			if _, _, err := e.st.UpdateResident(ctx, audit.Staff(gw.ID), store.ResidentUpdate{ResidentID: r.ID, GridCell: cell, Household: &h, Categories: &[]string{"disabled"}}); err != nil {
				b.Fatal(err)
			}
		}
	}
	cat := e.srv.cats.base
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		wl, err := e.srv.worklist(ctx, cat, cell, e.clock.Now())
		if err != nil || wl.Residents != n {
			b.Fatalf("worklist: %d residents, %v", wl.Residents, err)
		}
	}
}
