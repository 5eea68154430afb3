package attacks

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/password"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// A dishonest grid worker edits the residents of another grid cell: by the
// API (read, change, visit) and by the phone page's forms, with the
// resident ids guessed in sequence. Every attempt is told the resident does
// not exist, nothing changes, nothing is audited as done; other staff roles
// are refused the grid routes altogether.
func TestGridWorkerEditsAnotherCell(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		h, err := password.HashWith(pw, cheap())
		if err != nil {
			t.Fatal(err)
		}
		for _, gw := range []store.Staff{
			{Username: "grid17", Role: store.RoleGridWorker, GridCell: "G-017", PasswordHash: h},
			{Username: "grid99", Role: store.RoleGridWorker, GridCell: "G-099", PasswordHash: h},
		} {
			if _, err := tg.st.CreateStaff(tg.ctx(), audit.System("console"), gw); err != nil {
				t.Fatal(err)
			}
		}
		tg.staffInStore("clerk", store.RoleStationStaff, "", tg.station)
		p := tg.newPerson("王秀英", false) // in G-017
		victim, err := tg.st.GetResident(tg.ctx(), p.card.IDNumber)
		if err != nil {
			t.Fatal(err)
		}
		path := apiv1.PathGridResidents + "/" + strconv.FormatInt(victim.ID, 10)
		thief := tg.login("grid99")
		phone := "13800000000"
		household := "H-6666"
		cats := []string{"dibao"}
		for name, do := range map[string]func() error{
			"read": func() error { return thief.Do(tg.ctx(), "GET", path, nil, nil) },
			"change": func() error {
				return thief.Do(tg.ctx(), "POST", path, apiv1.GridResidentUpdate{Phone: &phone, Household: &household, Categories: &cats}, nil)
			},
			"visit": func() error {
				return thief.Do(tg.ctx(), "POST", path+"/visits", apiv1.GridVisitRequest{Note: "伪造走访"}, nil)
			},
		} {
			if code := apiv1.ErrorCode(do()); code != apiv1.CodeNotFound {
				t.Errorf("%s another cell's resident: code %q, want not_found", name, code)
			}
		}
		// Guessing ids: every resident id that is not in G-099 is not found.
		for id := victim.ID - 3; id <= victim.ID+3; id++ {
			if id < 1 {
				continue
			}
			err := thief.Do(tg.ctx(), "POST", apiv1.PathGridResidents+"/"+strconv.FormatInt(id, 10), apiv1.GridResidentUpdate{Phone: &phone}, nil)
			if code := apiv1.ErrorCode(err); code != apiv1.CodeNotFound {
				t.Errorf("guessed id %d: code %q", id, code)
			}
		}
		// Other roles have no grid routes, even for a cell they name.
		clerk := tg.login("clerk")
		if code := apiv1.ErrorCode(clerk.Do(tg.ctx(), "POST", path, apiv1.GridResidentUpdate{Phone: &phone}, nil)); code != apiv1.CodeForbidden {
			t.Errorf("station staff on the grid API: %q, want forbidden", code)
		}
		// The phone page's forms, with a valid session and CSRF token.
		cookie, _ := tg.officeLogin("grid99")
		page := tg.office("GET", "/office/grid", nil, cookie.Value)
		m := csrfField.FindStringSubmatch(page.body)
		if page.status != http.StatusOK || m == nil {
			t.Fatalf("grid page: %d", page.status)
		}
		if strings.Contains(page.body, "王秀英") {
			t.Error("another cell's resident is listed")
		}
		form := url.Values{"csrf": {m[1]}, "phone": {phone}, "household": {household}, "category": {"dibao"}}
		if r := tg.office("POST", "/office/grid/residents/"+strconv.FormatInt(victim.ID, 10), form, cookie.Value); r.status != http.StatusNotFound || strings.Contains(r.body, "王秀英") {
			t.Errorf("page change of another cell: %d", r.status)
		}
		if r := tg.office("POST", "/office/grid/residents/"+strconv.FormatInt(victim.ID, 10)+"/visits", url.Values{"csrf": {m[1]}, "note": {"x"}}, cookie.Value); r.status != http.StatusNotFound {
			t.Errorf("page visit in another cell: %d", r.status)
		}
		// Without the CSRF token even the own grid worker's form is refused.
		own, _ := tg.officeLogin("grid17")
		if r := tg.office("POST", "/office/grid/residents/"+strconv.FormatInt(victim.ID, 10), url.Values{"phone": {phone}}, own.Value); r.status != http.StatusForbidden {
			t.Errorf("form without csrf: %d", r.status)
		}
		// Nothing changed, nothing recorded.
		after, err := tg.st.GetResident(tg.ctx(), p.card.IDNumber)
		if err != nil || after.Phone != "" || after.Household != victim.Household || len(after.Categories) != len(victim.Categories) {
			t.Errorf("the resident changed: %+v, %v", after, err)
		}
		if vs, err := tg.st.ListVisits(tg.ctx(), victim.ID, 0); err != nil || len(vs) != 0 {
			t.Errorf("visits recorded: %d, %v", len(vs), err)
		}
		recs, err := tg.st.ListAudit(tg.ctx(), 0, 100000)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.Action == "resident.update" || r.Action == "visit.record" {
				t.Errorf("audited as done: %+v", r)
			}
		}
	})
}
