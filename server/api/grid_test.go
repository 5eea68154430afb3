package api

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/password"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

func (e *env) mustGridWorker(username, cell string) store.Staff {
	e.t.Helper()
	h, err := password.HashWith(testPassword, cheapHash)
	if err != nil {
		e.t.Fatal(err)
	}
	s, err := e.st.CreateStaff(context.Background(), audit.System("test"), store.Staff{Username: username, Role: store.RoleGridWorker, GridCell: cell, PasswordHash: h})
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func residentPath(id int64) string { return apiv1.PathGridResidents + "/" + fmtInt(id) }

func entryIDs(es []apiv1.GridListEntry) []int64 {
	var ids []int64
	for _, e := range es {
		ids = append(ids, e.ResidentID)
	}
	return ids
}

// TestGridWorkerAndProofOfLife: a grid worker keeps the residents of their
// own cell (changes audited, other cells not found), the visit lists follow
// the recorded visits, a new category is flagged with what it opens, and a
// pensioner's proof of life at the kiosk is recorded once a year and leaves
// the grid worker's list.
func TestGridWorkerAndProofOfLife(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.mustStaff("zhang", store.RoleStationStaff, "", "QS-S01")
	e.mustGridWorker("grid17", "G-017")
	e.mustGridWorker("grid99", "G-099")
	k := e.newKiosk("kiosk-01")
	p := e.newPerson("刘桂兰", time.Date(1948, 2, 3, 0, 0, 0, 0, time.UTC))
	res, err := e.st.GetResident(ctx, p.card.IDNumber)
	if err != nil {
		t.Fatal(err)
	}
	zhang := e.login("zhang")
	e.enrol(e.atKiosk(k, "zhang"), p)
	g17, g99 := e.login("grid17"), e.login("grid99")

	// The administrator creates grid workers with their cell, and only them.
	var made apiv1.Staff
	wantCode(t, e.admin.Do(ctx, "POST", apiv1.PathAdminStaff, apiv1.StaffCreate{Username: "grid5", Password: "a-long-password-1", Role: apiv1.RoleGridWorker}, &made), apiv1.CodeBadRequest)
	wantCode(t, e.admin.Do(ctx, "POST", apiv1.PathAdminStaff, apiv1.StaffCreate{Username: "clerk5", Password: "a-long-password-1", Role: apiv1.RoleStationStaff, Station: "QS-S01", GridCell: "G-005"}, &made), apiv1.CodeBadRequest)
	if err := e.admin.Do(ctx, "POST", apiv1.PathAdminStaff, apiv1.StaffCreate{Username: "grid5", Password: "a-long-password-1", Role: apiv1.RoleGridWorker, GridCell: "G-005"}, &made); err != nil ||
		made.Role != apiv1.RoleGridWorker || made.GridCell != "G-005" {
		t.Fatalf("create grid worker = %+v, %v", made, err)
	}

	// Roles: only grid workers.
	var wl apiv1.GridWorklist
	wantCode(t, zhang.Do(ctx, "GET", apiv1.PathGridWorklist, nil, &wl), apiv1.CodeForbidden)

	// Before: everyone else, due this half year; nothing flagged; not a pensioner.
	if err := g17.Do(ctx, "GET", apiv1.PathGridWorklist, nil, &wl); err != nil || wl.GridCell != "G-017" || wl.Residents != 1 ||
		!slices.Equal(entryIDs(wl.HalfYear), []int64{res.ID}) || len(wl.Month) != 0 || len(wl.Uncertified) != 0 || len(wl.Flags) != 0 {
		t.Fatalf("worklist before = %+v, %v", wl, err)
	}

	// A dishonest grid worker of another cell: the resident does not exist.
	phone := "13912345678"
	var gr apiv1.GridResident
	wantCode(t, g99.Do(ctx, "GET", residentPath(res.ID), nil, &gr), apiv1.CodeNotFound)
	wantCode(t, g99.Do(ctx, "POST", residentPath(res.ID), apiv1.GridResidentUpdate{Phone: &phone}, &gr), apiv1.CodeNotFound)
	wantCode(t, g99.Do(ctx, "POST", residentPath(res.ID)+"/visits", apiv1.GridVisitRequest{Note: "x"}, nil), apiv1.CodeNotFound)
	wantCode(t, g99.Do(ctx, "GET", apiv1.PathGridResidents+"/abc", nil, &gr), apiv1.CodeNotFound)

	// Bad input.
	bad := "12345"
	wantCode(t, g17.Do(ctx, "POST", residentPath(res.ID), apiv1.GridResidentUpdate{Phone: &bad}, &gr), apiv1.CodeBadRequest)
	wantCode(t, g17.Do(ctx, "POST", residentPath(res.ID), apiv1.GridResidentUpdate{Categories: &[]string{"royalty"}}, &gr), apiv1.CodeBadRequest)
	wantCode(t, g17.Do(ctx, "POST", residentPath(res.ID), apiv1.GridResidentUpdate{}, &gr), apiv1.CodeBadRequest)

	// The own grid worker: phone, household, categories.
	household := "H-0002"
	cats := []string{"pensioner", "elderly_alone", "disabled"}
	if err := g17.Do(ctx, "POST", residentPath(res.ID), apiv1.GridResidentUpdate{Phone: &phone, Household: &household, Categories: &cats}, &gr); err != nil ||
		gr.Phone != phone || gr.Household != household || !slices.Equal(gr.Categories, []string{"disabled", "elderly_alone", "pensioner"}) || gr.Rule == "" {
		t.Fatalf("update = %+v, %v", gr, err)
	}
	if got, _ := e.st.GetResidentByID(ctx, res.ID); got.Phone != phone {
		t.Errorf("stored phone %q", got.Phone)
	}
	if err := g17.Do(ctx, "GET", apiv1.PathGridWorklist, nil, &wl); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(entryIDs(wl.Month), []int64{res.ID}) || len(wl.HalfYear) != 0 || !slices.Equal(entryIDs(wl.Uncertified), []int64{res.ID}) {
		t.Fatalf("worklist after = %+v", wl)
	}
	var kinds []string
	for _, f := range wl.Flags {
		kinds = append(kinds, f.Kind)
		if f.Kind == "category" && !slices.Contains(f.Services, "残疾人两项补贴申请") {
			t.Errorf("category flag %+v does not name the disability subsidy", f)
		}
	}
	if !slices.Contains(kinds, "category") || !slices.Contains(kinds, "household") {
		t.Errorf("flags %+v", wl.Flags)
	}

	// A visit takes the resident off this month's list.
	var v apiv1.GridVisit
	if err := g17.Do(ctx, "POST", residentPath(res.ID)+"/visits", apiv1.GridVisitRequest{Note: "独居，血压偏高，已提醒复查"}, &v); err != nil || v.ID == 0 {
		t.Fatalf("visit = %+v, %v", v, err)
	}
	if err := g17.Do(ctx, "GET", apiv1.PathGridWorklist, nil, &wl); err != nil || len(wl.Month) != 0 {
		t.Fatalf("worklist after the visit = %+v, %v", wl.Month, err)
	}
	if err := g17.Do(ctx, "GET", residentPath(res.ID), nil, &gr); err != nil || len(gr.Visits) != 1 || gr.Visits[0].Note != "独居，血压偏高，已提醒复查" {
		t.Fatalf("resident visits = %+v, %v", gr.Visits, err)
	}

	// Proof of life at the kiosk: the card and vein check, then certify.
	vr := must[*apiv1.VerifyResponse](t)(k.Verify(ctx, e.verifyRequest(k, p, p.fingers[apiv1.RightIndex])))
	var form apiv1.Form
	wantCode(t, k.Do(ctx, "POST", apiv1.PathKioskForm, apiv1.FormRequest{Token: vr.Token, Service: "pension_certification"}, &form), apiv1.CodeBadRequest)
	wantCode(t, k.Do(ctx, "POST", apiv1.PathKioskCertify, apiv1.CertifyRequest{Token: vr.Token, Service: "elderly_card"}, nil), apiv1.CodeBadRequest)
	var cert apiv1.Certification
	if err := k.Do(ctx, "POST", apiv1.PathKioskCertify, apiv1.CertifyRequest{Token: vr.Token, Service: "pension_certification"}, &cert); err != nil ||
		cert.Already || cert.Year < 2026 || cert.ServiceName != "养老金领取资格认证" {
		t.Fatalf("certify = %+v, %v", cert, err)
	}
	var again apiv1.Certification
	if err := k.Do(ctx, "POST", apiv1.PathKioskCertify, apiv1.CertifyRequest{Token: vr.Token, Service: "pension_certification"}, &again); err != nil ||
		!again.Already || again.CertifiedAt != cert.CertifiedAt {
		t.Fatalf("second certification = %+v, %v", again, err)
	}
	wantCode(t, k.Do(ctx, "POST", apiv1.PathKioskCertify, apiv1.CertifyRequest{Token: "not-a-token-000000000000", Service: "pension_certification"}, nil), apiv1.CodeTokenInvalid)
	if err := g17.Do(ctx, "GET", apiv1.PathGridWorklist, nil, &wl); err != nil || len(wl.Uncertified) != 0 {
		t.Fatalf("uncertified after certification = %+v, %v", wl.Uncertified, err)
	}

	// Not a pensioner any more: the kiosk refuses the certification.
	none := []string{}
	if err := g17.Do(ctx, "POST", residentPath(res.ID), apiv1.GridResidentUpdate{Categories: &none}, &gr); err != nil {
		t.Fatal(err)
	}
	vr2 := must[*apiv1.VerifyResponse](t)(k.Verify(ctx, e.verifyRequest(k, p, p.fingers[apiv1.RightIndex])))
	wantCode(t, k.Do(ctx, "POST", apiv1.PathKioskCertify, apiv1.CertifyRequest{Token: vr2.Token, Service: "pension_certification"}, nil), apiv1.CodeNotEligible)

	// Audited: changes, views, the visit, the certification (once).
	recs, err := e.st.ListAudit(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, r := range recs {
		count[r.Action]++
	}
	if count["resident.update"] != 2 || count["visit.record"] != 1 || count["pension.certify"] != 1 || count["grid.worklist"] < 4 || count["grid.resident"] < 2 {
		t.Errorf("audit counts %v", count)
	}
}

// TestGridWorklistFlagsAndRules: birthdays that open services in the next
// 30 days are flagged with the services (turning 60: the senior card;
// turning 80: the longevity allowance), a birthday further away is not;
// a floating resident is due this week, and a visit last week does not
// count for this one.
func TestGridWorklistFlagsAndRules(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.mustGridWorker("grid17", "G-017")
	now := e.clock.Now().In(time.FixedZone("CST", 8*3600))
	day := func(years, days int) time.Time {
		d := time.Date(now.Year()-years, now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
		return d.AddDate(0, 0, days)
	}
	sixty := e.newPerson("赵六十", day(60, 10))  // 60 in 10 days
	eighty := e.newPerson("钱八十", day(80, 20)) // 80 in 20 days
	later := e.newPerson("孙晚些", day(60, 45))  // 60 in 45 days: not yet
	mover := e.newPerson("李流动", day(35, 100)) // floating: weekly
	ids := map[string]int64{}
	for name, p := range map[string]*person{"sixty": sixty, "eighty": eighty, "later": later, "mover": mover} {
		r, err := e.st.GetResident(ctx, p.card.IDNumber)
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = r.ID
	}
	g := e.login("grid17")
	floating := []string{"floating"}
	if err := g.Do(ctx, "POST", residentPath(ids["mover"]), apiv1.GridResidentUpdate{Categories: &floating}, nil); err != nil {
		t.Fatal(err)
	}
	var wl apiv1.GridWorklist
	if err := g.Do(ctx, "GET", apiv1.PathGridWorklist, nil, &wl); err != nil {
		t.Fatal(err)
	}
	flags := map[int64]apiv1.GridFlag{}
	for _, f := range wl.Flags {
		if f.Kind == "birthday" {
			flags[f.ResidentID] = f
		}
	}
	if f := flags[ids["sixty"]]; f.What != "年满60周岁" || f.On != day(0, 10).Format(time.DateOnly) || !slices.Contains(f.Services, "老年人优待证（老年证）办理") {
		t.Errorf("turning 60: %+v", f)
	}
	if f := flags[ids["eighty"]]; f.What != "年满80周岁" || !slices.Contains(f.Services, "高龄津贴申请") {
		t.Errorf("turning 80: %+v", f)
	}
	if f, ok := flags[ids["later"]]; ok {
		t.Errorf("a birthday in 45 days flagged: %+v", f)
	}
	if !slices.Contains(entryIDs(wl.Week), ids["mover"]) || slices.Contains(entryIDs(wl.HalfYear), ids["mover"]) {
		t.Errorf("the floating resident is not due this week: week %v", entryIDs(wl.Week))
	}
	// A visit 8 days ago was in an earlier week: still due.
	if _, err := e.st.RecordVisit(ctx, audit.Staff(1), store.NewVisit{ResidentID: ids["mover"], GridCell: "G-017", StaffID: 1, At: e.clock.Now().AddDate(0, 0, -8)}); err != nil {
		t.Fatal(err)
	}
	if err := g.Do(ctx, "GET", apiv1.PathGridWorklist, nil, &wl); err != nil || !slices.Contains(entryIDs(wl.Week), ids["mover"]) {
		t.Fatalf("after a visit 8 days ago: week %v, %v", entryIDs(wl.Week), err)
	}
	if err := g.Do(ctx, "POST", residentPath(ids["mover"])+"/visits", apiv1.GridVisitRequest{}, nil); err != nil {
		t.Fatal(err)
	}
	if err := g.Do(ctx, "GET", apiv1.PathGridWorklist, nil, &wl); err != nil || slices.Contains(entryIDs(wl.Week), ids["mover"]) {
		t.Fatalf("after today's visit: week %v, %v", entryIDs(wl.Week), err)
	}
}
