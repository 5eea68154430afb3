package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/reports"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// kindsDoc is the embedded kinds document as a map to edit.
func kindsDoc(t *testing.T, version int, edit func(d map[string]any)) []byte {
	t.Helper()
	b, err := json.Marshal(reports.Default())
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	d["version"] = version
	if edit != nil {
		edit(d)
	}
	out, _ := json.Marshal(d)
	return out
}

func addGasLeak(d map[string]any) {
	d["kinds"] = append(d["kinds"].([]any), map[string]any{"code": "gas_leak", "name": "燃气泄漏隐患", "name_en": "Gas leak hazard", "unit": "housing", "deadline_days": 1})
}

// TestReportKindsEditable: an administrator saves a new version of the
// kinds (validated, the next version, no unit dropped, audited); it is in
// force at once at the kiosk and at the desk.
func TestReportKindsEditable(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.mustStaff("zhang", store.RoleStationStaff, "", "QS-S01")
	e.mustStaff("zhujian", store.RoleDepartmentOfficer, "housing", "")
	officer := e.login("zhujian")
	put := func(c *apiv1.Client, doc []byte) error {
		return c.Do(ctx, "PUT", apiv1.PathAdminReportKinds+"?note="+url.QueryEscape("加燃气"), json.RawMessage(doc), nil)
	}
	wantCode(t, put(officer, kindsDoc(t, 2, addGasLeak)), apiv1.CodeForbidden)
	for _, tc := range []struct {
		name string
		doc  []byte
		code string
	}{
		{"not JSON", []byte(`{"format":`), apiv1.CodeBadRequest},
		{"the same version", kindsDoc(t, 1, addGasLeak), apiv1.CodeReportKindsVersion},
		{"a version ahead", kindsDoc(t, 3, addGasLeak), apiv1.CodeReportKindsVersion},
		{"unknown unit", kindsDoc(t, 2, func(d map[string]any) {
			d["kinds"] = append(d["kinds"].([]any), map[string]any{"code": "x", "name": "x", "name_en": "x", "unit": "nowhere", "deadline_days": 1})
		}), apiv1.CodeReportKindsInvalid},
		{"a unit dropped", kindsDoc(t, 2, func(d map[string]any) {
			units := d["units"].([]any)
			d["units"] = units[:len(units)-1]
			var ks []any
			for _, k := range d["kinds"].([]any) {
				if k.(map[string]any)["unit"] != "community" {
					ks = append(ks, k)
				}
			}
			d["kinds"] = ks
		}), apiv1.CodeReportKindsInvalid},
		{"unknown key", kindsDoc(t, 2, func(d map[string]any) { d["colour"] = "red" }), apiv1.CodeReportKindsInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := put(e.admin, tc.doc)
			if tc.code == apiv1.CodeBadRequest {
				if err == nil {
					t.Fatal("accepted")
				}
				return
			}
			wantCode(t, err, tc.code)
		})
	}
	if n := countAudit(t, e, "report_kinds.save"); n != 0 {
		t.Fatalf("%d saves of refused documents", n)
	}
	var saved apiv1.ReportKindList
	if err := e.admin.Do(ctx, "PUT", apiv1.PathAdminReportKinds, json.RawMessage(kindsDoc(t, 2, addGasLeak)), &saved); err != nil || saved.Version != 2 || len(saved.Kinds) != 28 {
		t.Fatalf("save: %d kinds v%d %v", len(saved.Kinds), saved.Version, err)
	}
	if countAudit(t, e, "report_kinds.save") != 1 {
		t.Error("the save is not audited")
	}
	// In force at once: the kiosk's list, a report of the new kind with its deadline.
	k := e.newKiosk("kiosk-01")
	var kinds apiv1.ReportKindList
	if err := k.Do(ctx, "GET", apiv1.PathKioskReportKinds, nil, &kinds); err != nil || kinds.Version != 2 || len(kinds.Kinds) != 28 {
		t.Fatalf("kiosk kinds v%d %d %v", kinds.Version, len(kinds.Kinds), err)
	}
	p := e.newPerson("郑桂英", time.Date(1949, 3, 3, 0, 0, 0, 0, time.UTC))
	var rep apiv1.Report
	if err := e.login("zhang").Do(ctx, "POST", apiv1.PathReports, apiv1.SubmitReportRequest{IDNumber: p.card.IDNumber, Kind: "gas_leak",
		Description: "楼道里有煤气味", IdempotencyKey: "gas-leak-report-000001"}, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.KindName != "燃气泄漏隐患" || rep.Unit != "housing" || !rep.DueAt.Equal(e.clock.Now().AddDate(0, 0, 1)) {
		t.Fatalf("report %+v", rep)
	}

	// The office's editor: problems in Chinese, then a save.
	b := officeLogin(t, e, "admin")
	resp, body := b.do("GET", "/office/report-kinds", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "燃气泄漏隐患") || !strings.Contains(body, "现行第 2 版") {
		t.Fatalf("editor: %d %.500s", resp.StatusCode, body)
	}
	resp, body = b.do("POST", "/office/report-kinds", url.Values{"csrf": {b.csrf}, "document": {string(kindsDoc(t, 2, addGasLeak))}})
	if resp.StatusCode != 422 || !strings.Contains(body, "版本号应为 3") {
		t.Fatalf("stale version: %d %.500s", resp.StatusCode, body)
	}
	resp, _ = b.do("POST", "/office/report-kinds", url.Values{"csrf": {b.csrf}, "note": {"改名"}, "document": {string(kindsDoc(t, 3, addGasLeak))}})
	if resp.StatusCode != http.StatusSeeOther || countAudit(t, e, "report_kinds.save") != 2 {
		t.Fatalf("office save: %d", resp.StatusCode)
	}
}
