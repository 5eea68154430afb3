package storetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/residentimport"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// testResidentCSV imports a population-database export in batches, then
// imports it again changed.
func testResidentCSV(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	var sb strings.Builder
	sb.WriteString("id_number,name,gender,birth_date,address,grid_cell,household,categories\n")
	birth := time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 2500
	for i := 0; i < n; i++ {
		n, err := identity.MakeIDNumber("110105", identity.DateOf(birth.AddDate(0, 0, i)), i%1000)
		id := string(n)
		if err != nil {
			t.Fatal(err)
		}
		cat := ""
		if i%4 == 0 {
			cat = "低保"
		}
		fmt.Fprintf(&sb, "%s,居民%d,,,幸福路%d号,G%03d,H%d,%s\n", id, i, i, i%478, i/3, cat)
	}
	sb.WriteString("bad,row,,,x,y,z,\n")
	st, rep, err := residentimport.Import(c, s, admin, strings.NewReader(sb.String()), residentimport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Inserted != n || rep.Accepted != n || len(rep.Rejects) != 1 || rep.Rejects[0].Line != n+2 {
		t.Errorf("import: %+v %+v", st, rep)
	}
	dibao, err := Inspect(s).ListResidents(c, store.ResidentFilter{Category: store.CategoryDibao, Limit: 1000})
	if err != nil || len(dibao) != n/4 {
		t.Errorf("dibao residents: %d, %v", len(dibao), err)
	}
	again := strings.Replace(sb.String(), "幸福路7号", "幸福路7号之一", 1)
	st, _, err = residentimport.Import(c, s, admin, strings.NewReader(again), residentimport.Options{})
	if err != nil || st.Updated != 1 || st.Unchanged != n-1 || st.Inserted != 0 {
		t.Errorf("re-import: %+v, %v", st, err)
	}
	if n := count(auditActions(t, s), "resident.import"); n != 6 {
		t.Errorf("%d import audit events, want one per batch (6)", n)
	}
}
