package api

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/catalogue"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// editedCatalogue is the default catalogue at version v with the residence
// certificate renamed and its deadline changed.
func editedCatalogue(t *testing.T, v int, name string, days int) json.RawMessage {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(catalogue.DefaultJSON(), &d); err != nil {
		t.Fatal(err)
	}
	d["version"] = v
	for _, s := range d["services"].([]any) {
		if s := s.(map[string]any); s["code"] == "residence_certificate" {
			s["name"], s["deadline_days"] = name, days
		}
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCatalogueAdminEdit: only an administrator reads or saves the
// catalogue; a save is validated (every problem by path), must be the
// version in force plus one, is audited, takes effect at once, and each
// filing keeps the version it was filed under.
func TestCatalogueAdminEdit(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.mustStaff("zhang", store.RoleStationStaff, "", "QS-S01")
	e.mustStaff("boss", store.RoleSupervisor, "", "")
	e.mustStaff("shequ", store.RoleDepartmentOfficer, "community", "")
	officer := e.login("shequ")
	for _, c := range []*apiv1.Client{e.login("zhang"), e.login("boss"), officer} {
		wantCode(t, c.Do(ctx, "GET", apiv1.PathAdminCatalogue, nil, nil), apiv1.CodeForbidden)
		wantCode(t, c.Do(ctx, "PUT", apiv1.PathAdminCatalogue, editedCatalogue(t, 2, "居住证明", 3), nil), apiv1.CodeForbidden)
		wantCode(t, c.Do(ctx, "GET", apiv1.PathAdminCatalogueVersions, nil, nil), apiv1.CodeForbidden)
	}
	wantCode(t, e.client().Do(ctx, "PUT", apiv1.PathAdminCatalogue, editedCatalogue(t, 2, "居住证明", 3), nil), apiv1.CodeUnauthenticated)

	var doc map[string]any
	if err := e.admin.Do(ctx, "GET", apiv1.PathAdminCatalogue, nil, &doc); err != nil || doc["version"] != 1.0 || len(doc["services"].([]any)) != 42 {
		t.Fatalf("GET catalogue: version %v, %v", doc["version"], err)
	}

	// A resident files under version 1.
	k := e.newKiosk("kiosk-01")
	staffKiosk := e.atKiosk(k, "zhang")
	p := e.newPerson("居民乙", time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC))
	e.enrol(staffKiosk, p)
	file := func(key string) *apiv1.Filing {
		vr := must[*apiv1.VerifyResponse](t)(k.Verify(ctx, e.verifyRequest(k, p, p.fingers[apiv1.RightIndex])))
		return must[*apiv1.Filing](t)(k.SubmitFiling(ctx, &apiv1.SubmitFilingRequest{Token: vr.Token, Service: "residence_certificate",
			IdempotencyKey: key, Values: map[string]string{"years": "5", "purpose": "子女入学", "copies": "1"}}))
	}
	f1 := file("catalogue-edit-000001")
	if f1.CatalogueVersion != 1 || f1.ServiceName != "居住证明开具" || !f1.DueAt.Equal(f1.SubmittedAt.AddDate(0, 0, 5)) {
		t.Fatalf("filing under version 1: %+v", f1)
	}

	// Invalid documents are refused with every problem named.
	bad := editedCatalogue(t, 2, "", 400)
	err := e.admin.Do(ctx, "PUT", apiv1.PathAdminCatalogue, bad, nil)
	wantCode(t, err, apiv1.CodeCatalogueInvalid)
	fields := err.(*apiv1.Error).Fields
	if len(fields) != 2 || !strings.Contains(fields["services[41].name"], "不能为空") || !strings.Contains(fields["services[41].deadline_days"], "1..365") {
		t.Fatalf("problems: %v", fields)
	}
	// Not the version in force plus one.
	for _, v := range []int{1, 3} {
		wantCode(t, e.admin.Do(ctx, "PUT", apiv1.PathAdminCatalogue, editedCatalogue(t, v, "居住证明", 3), nil), apiv1.CodeCatalogueVersion)
	}
	// Saved.
	var saved apiv1.ServiceList
	if err := e.admin.Do(ctx, "PUT", apiv1.PathAdminCatalogue+"?note=居住证明时限缩短", editedCatalogue(t, 2, "居住证明", 3), &saved); err != nil || saved.CatalogueVersion != 2 {
		t.Fatalf("PUT version 2: %+v %v", saved.CatalogueVersion, err)
	}
	var vl apiv1.CatalogueVersionList
	if err := e.admin.Do(ctx, "GET", apiv1.PathAdminCatalogueVersions, nil, &vl); err != nil || vl.InForce != 2 || len(vl.Versions) != 1 ||
		vl.Versions[0].Note != "居住证明时限缩短" || !strings.HasPrefix(vl.Versions[0].SavedBy, "staff:") {
		t.Fatalf("versions: %+v %v", vl, err)
	}
	recs, err := e.st.ListAudit(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(recs, func(r audit.Record) bool {
		return r.Action == "catalogue.save" && r.Target == "catalogue:2" && r.Actor.Type == "staff"
	}) {
		t.Error("no catalogue.save audit event")
	}

	// In force at once: the kiosk sees version 2, a new filing is under it.
	sl := must[*apiv1.ServiceList](t)(k.Services(ctx))
	if sl.CatalogueVersion != 2 {
		t.Fatalf("kiosk catalogue version %d", sl.CatalogueVersion)
	}
	f2 := file("catalogue-edit-000002")
	if f2.CatalogueVersion != 2 || f2.ServiceName != "居住证明" || !f2.DueAt.Equal(f2.SubmittedAt.AddDate(0, 0, 3)) {
		t.Fatalf("filing under version 2: %+v", f2)
	}
	// The first filing still shows as it was filed.
	var got apiv1.Filing
	if err := officer.Do(ctx, "GET", apiv1.PathFilings+"/"+itoa(f1.ID), nil, &got); err != nil || got.CatalogueVersion != 1 || got.ServiceName != "居住证明开具" {
		t.Fatalf("version 1 filing read back: %+v %v", got, err)
	}
	// A replica on the same store (a new server) starts with version 2.
	srv2, err := New(Config{Store: e.st, Now: e.clock.Now, VerifyThreshold: 1, DedupThreshold: 1, IdentifyThreshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := srv2.cats.current(ctx, e.clock.Now()); err != nil || c.Version() != 2 {
		t.Fatalf("replica's catalogue: %v", err)
	}
}

// TestEligibility: the kiosk is offered only what the resident may file,
// a form or filing of another service is refused, staff see the reasons
// (audited), and the grid cell's residents turning 60 are listed.
func TestEligibility(t *testing.T) {
	e := newEnv(t) // the clock is 2026-11-27
	ctx := context.Background()
	e.mustStaff("zhang", store.RoleStationStaff, "", "QS-S01")
	e.mustStaff("li", store.RoleDepartmentOfficer, "ageing", "")
	staff := e.login("zhang")
	k := e.newKiosk("kiosk-01")
	young := e.newPerson("小张", time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC))
	old := e.newPerson("老王", time.Date(1946, 3, 1, 0, 0, 0, 0, time.UTC))
	turning := e.newPerson("老李", time.Date(1966, 12, 15, 0, 0, 0, 0, time.UTC))
	e.enrol(e.atKiosk(k, "zhang"), young)

	vr := must[*apiv1.VerifyResponse](t)(k.Verify(ctx, e.verifyRequest(k, young, young.fingers[apiv1.RightIndex])))
	l := must[*apiv1.ServiceList](t)(k.EligibleServices(ctx, vr.Token))
	codes := map[string]bool{}
	for _, s := range l.Services {
		codes[s.Code] = true
	}
	if codes["elderly_card"] || codes["dibao_renewal"] || !codes["residence_certificate"] || !codes["unemployment_registration"] || l.Hidden != nil {
		t.Fatalf("kiosk list for a 36-year-old: %v, hidden %v", codes, l.Hidden)
	}
	_, err := k.Form(ctx, vr.Token, "elderly_card")
	wantCode(t, err, apiv1.CodeNotEligible)
	if r := err.(*apiv1.Error).Fields["reasons"]; r != "年满60周岁方可办理" {
		t.Errorf("reasons %q", r)
	}
	_, err = k.SubmitFiling(ctx, &apiv1.SubmitFilingRequest{Token: vr.Token, Service: "elderly_card", IdempotencyKey: "eligibility-00000001",
		Values: map[string]string{"phone": "13800000000", "emergency_contact": "子女", "emergency_phone": "13800000001", "delivery": "邮寄到家"}})
	wantCode(t, err, apiv1.CodeNotEligible)

	// Staff see the reasons; an officer may not look.
	var sl apiv1.ServiceList
	if err := staff.Do(ctx, "POST", apiv1.PathEligibility, apiv1.EligibilityRequest{IDNumber: old.card.IDNumber}, &sl); err != nil {
		t.Fatal(err)
	}
	hidden := map[string][]string{}
	for _, h := range sl.Hidden {
		hidden[h.Code] = h.Reasons
	}
	if len(hidden["elderly_card"]) != 0 || hidden["dibao_renewal"][0] != "限低保人员办理" || hidden["unemployment_registration"][0] != "限60周岁以下居民办理" {
		t.Fatalf("hidden for an 80-year-old: %v", hidden)
	}
	wantCode(t, e.login("li").Do(ctx, "POST", apiv1.PathEligibility, apiv1.EligibilityRequest{IDNumber: old.card.IDNumber}, nil), apiv1.CodeForbidden)
	wantCode(t, staff.Do(ctx, "POST", apiv1.PathEligibility, apiv1.EligibilityRequest{IDNumber: "110105194912310021"}, nil), apiv1.CodeCardInvalid)

	// Who turns 60 in December in grid G-017.
	var up apiv1.UpcomingList
	if err := staff.Do(ctx, "GET", apiv1.PathEligibilityUpcoming+"?grid_cell=G-017&from=2026-12-01&to=2026-12-31", nil, &up); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range up.Residents {
		if r.Name != "老李" || r.EligibleOn != "2026-12-15" || r.IDNumber == turning.card.IDNumber || !strings.Contains(r.IDNumber, "*") {
			t.Errorf("upcoming row %+v", r)
		}
		got = append(got, r.Service)
	}
	slices.Sort(got)
	if want := []string{"elderly_card", "elderly_meal", "home_care_service", "only_child_reward", "pension_claim"}; !slices.Equal(got, want) {
		t.Errorf("upcoming services %v, want %v", got, want)
	}
	for _, q := range []string{"", "?grid_cell=G-017&from=2026-12-31&to=2026-12-01", "?grid_cell=G-017&to=2028-01-01", "?grid_cell=G-017&from=12/01"} {
		wantCode(t, staff.Do(ctx, "GET", apiv1.PathEligibilityUpcoming+q, nil, nil), apiv1.CodeBadRequest)
	}
	recs, err := e.st.ListAudit(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range recs {
		if r.Action == "eligibility.check" || r.Action == "eligibility.upcoming" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d eligibility audit events, want 2", n)
	}
}
