package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
)

func TestDuplicateEnrolmentCaseAndOverride(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.mustStaff("zhang", "station_staff", "", "QS-S01")
	e.mustStaff("boss", "supervisor", "", "")
	k := e.newKiosk("kiosk-01")
	sk := e.atKiosk(k, "zhang")
	a := e.newPerson("甲", time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC))
	b := e.newPerson("乙", time.Date(1951, 1, 1, 0, 0, 0, 0, time.UTC))
	e.enrol(sk, a)

	// b presents a's fingers: enrolment stops, a case opens, nothing is stored.
	b.fingers = a.fingers
	_, err := sk.Enrol(ctx, e.enrolRequest(sk, b))
	wantCode(t, err, apiv1.CodeDuplicateSuspected)
	caseID := err.(*apiv1.Error).CaseID
	if caseID == 0 || e.srv.Gallery().Residents() != 1 {
		t.Fatalf("case %d, gallery residents %d", caseID, e.srv.Gallery().Residents())
	}

	// Station staff cannot decide cases, at the kiosk or with their kiosk
	// session anywhere else; the supervisor sees and overrides it.
	err = sk.Do(ctx, "POST", apiv1.PathKioskCases+"/"+itoa(caseID)+"/override", apiv1.CaseDecision{Reason: "twins, checked"}, nil)
	wantCode(t, err, apiv1.CodeForbidden)
	err = sk.Do(ctx, "POST", apiv1.PathCases+"/"+itoa(caseID)+"/override", apiv1.CaseDecision{Reason: "twins, checked"}, nil)
	wantCode(t, err, apiv1.CodeSessionKioskBound)
	boss := e.login("boss")
	var cl apiv1.CaseList
	if err := boss.Do(ctx, "GET", apiv1.PathCases+"?status=open", nil, &cl); err != nil || len(cl.Cases) != 1 || cl.Cases[0].MatchedIDNumber != a.card.IDNumber {
		t.Fatalf("cases: %+v %v", cl, err)
	}
	// Resubmitting with a case that is still open does not pass.
	req := e.enrolRequest(sk, b)
	req.OverrideCaseID = caseID
	_, err = sk.Enrol(ctx, req)
	wantCode(t, err, apiv1.CodeCaseState)
	var dc apiv1.Case
	if err := boss.Do(ctx, "POST", apiv1.PathCases+"/"+itoa(caseID)+"/override", apiv1.CaseDecision{Reason: "同卵双胞胎，已核实户籍"}, &dc); err != nil || dc.Status != apiv1.CaseOverridden {
		t.Fatalf("override: %+v %v", dc, err)
	}
	err = boss.Do(ctx, "POST", apiv1.PathCases+"/"+itoa(caseID)+"/reject", apiv1.CaseDecision{Reason: "changed my mind"}, nil)
	wantCode(t, err, apiv1.CodeCaseState)
	req = e.enrolRequest(sk, b)
	req.OverrideCaseID = caseID
	r := must[*apiv1.EnrolResponse](t)(sk.Enrol(ctx, req))
	if r.Replaced || e.srv.Gallery().Residents() != 2 {
		t.Fatalf("override enrolment: %+v", r)
	}

	// Re-enrolment is only a request (replace_test.go has the rest), with
	// an audit record.
	c := e.newPerson("丁", time.Date(1953, 1, 1, 0, 0, 0, 0, time.UTC))
	e.enrol(sk, c)
	r = e.enrol(sk, c)
	if r.Replaced || !r.Pending || r.ReplacementID == 0 || e.srv.Gallery().Len() != 18 {
		t.Fatalf("re-enrolment: %+v, gallery %d", r, e.srv.Gallery().Len())
	}
	recs, err := e.st.ListAudit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(recs, func(r audit.Record) bool { return r.Action == "enrolment.replacement.request" }) {
		t.Fatal("no enrolment.replacement.request audit record")
	}
	var av apiv1.AuditVerifyResult
	if err := e.admin.Do(ctx, "GET", apiv1.PathAdminAuditVerify, nil, &av); err != nil || !av.OK || av.Records != int64(len(recs)) {
		t.Fatalf("audit verify: %+v %v", av, err)
	}
	for _, r := range recs {
		for k, v := range r.Details {
			if strings.Contains(v, a.card.IDNumber) || strings.Contains(k, a.card.IDNumber) {
				t.Fatalf("audit record %d holds an ID number", r.Seq)
			}
		}
	}

	// Too few good captures.
	bad := e.enrolRequest(sk, e.newPerson("丙", time.Date(1952, 1, 1, 0, 0, 0, 0, time.UTC)))
	bad.Fingers[1].Captures[2] = sk.capture(apiv1.RightMiddle, e.template(b.fingers[apiv1.RightMiddle], apiv1.RightMiddle, 5))
	_, err = sk.Enrol(ctx, bad)
	wantCode(t, err, apiv1.CodeEnrolmentIncomplete)

	// Enrolment needs a staff session as well as the kiosk signature.
	_, err = k.Enrol(ctx, e.enrolRequest(k, a))
	wantCode(t, err, apiv1.CodeUnauthenticated)
}

func TestRoles(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.mustStaff("zhang", "station_staff", "", "QS-S01")
	e.mustStaff("boss", "supervisor", "", "")
	e.mustStaff("li", "department_officer", "civil_affairs", "")
	e.mustStaff("wang", "department_officer", "ageing", "")
	staff, boss, li, wang := e.login("zhang"), e.login("boss"), e.login("li"), e.login("wang")

	// A filing for civil_affairs.
	k := e.newKiosk("kiosk-01")
	p := e.newPerson("老刘", time.Date(1940, 1, 1, 0, 0, 0, 0, time.UTC))
	e.enrol(e.atKiosk(k, "zhang"), p)
	vr := must[*apiv1.VerifyResponse](t)(k.Verify(ctx, e.verifyRequest(k, p, p.fingers[apiv1.RightIndex])))
	f := must[*apiv1.Filing](t)(k.SubmitFiling(ctx, &apiv1.SubmitFilingRequest{Token: vr.Token, Service: "temporary_assistance", IdempotencyKey: "key-0000000000000001",
		Values: map[string]string{"emergency": "重大疾病", "amount": "3000", "description": "住院", "phone": "13900001111"}}))

	tests := []struct {
		name   string
		c      *apiv1.Client
		method string
		path   string
		body   any
		code   string
	}{
		{"anonymous lists filings", e.client(), "GET", apiv1.PathFilings, nil, apiv1.CodeUnauthenticated},
		{"station staff lists filings", staff, "GET", apiv1.PathFilings, nil, apiv1.CodeForbidden},
		{"officer registers a kiosk", li, "POST", apiv1.PathAdminKiosks, apiv1.KioskRegistration{}, apiv1.CodeForbidden},
		{"supervisor creates staff", boss, "POST", apiv1.PathAdminStaff, apiv1.StaffCreate{}, apiv1.CodeForbidden},
		{"officer reads overdue report", li, "GET", apiv1.PathFilingsOverdue, nil, apiv1.CodeForbidden},
		{"other department's officer reads the filing", wang, "GET", apiv1.PathFilings + "/" + itoa(f.ID), nil, apiv1.CodeFilingNotFound},
		{"other department's officer decides", wang, "POST", apiv1.PathFilings + "/" + itoa(f.ID) + "/decision", apiv1.Decision{Action: "accept"}, apiv1.CodeFilingNotFound},
		{"supervisor decides", boss, "POST", apiv1.PathFilings + "/" + itoa(f.ID) + "/decision", apiv1.Decision{Action: "accept"}, apiv1.CodeForbidden},
		{"reject without a reply", li, "POST", apiv1.PathFilings + "/" + itoa(f.ID) + "/decision", apiv1.Decision{Action: "reject"}, apiv1.CodeBadRequest},
		{"bad bearer", e.client().WithStaff("nope"), "GET", apiv1.PathSessionCurrent, nil, apiv1.CodeUnauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, tt.c.Do(ctx, tt.method, tt.path, tt.body, nil), tt.code)
		})
	}
	var wl apiv1.FilingList
	if err := wang.Do(ctx, "GET", apiv1.PathFilings, nil, &wl); err != nil || len(wl.Filings) != 0 {
		t.Fatalf("ageing officer sees %d filings (%v)", len(wl.Filings), err)
	}
	var got apiv1.Filing
	if err := li.Do(ctx, "GET", apiv1.PathFilings+"/"+itoa(f.ID), nil, &got); err != nil || got.Values["amount"] != "3000" || got.ResidentName != "老刘" {
		t.Fatalf("officer view: %+v %v", got, err)
	}
	if err := li.Do(ctx, "POST", apiv1.PathFilings+"/"+itoa(f.ID)+"/decision", apiv1.Decision{Action: "accept", Reply: "已批准"}, &got); err != nil || got.Status != apiv1.FilingAccepted {
		t.Fatalf("accept: %+v %v", got, err)
	}
	wantCode(t, li.Do(ctx, "POST", apiv1.PathFilings+"/"+itoa(f.ID)+"/decision", apiv1.Decision{Action: "reject", Reply: "x"}, nil), apiv1.CodeFilingState)

	// Overdue: a second filing, 11 days later, past its 10-day deadline.
	vr = must[*apiv1.VerifyResponse](t)(k.Verify(ctx, e.verifyRequest(k, p, p.fingers[apiv1.RightIndex])))
	must[*apiv1.Filing](t)(k.SubmitFiling(ctx, &apiv1.SubmitFilingRequest{Token: vr.Token, Service: "temporary_assistance", IdempotencyKey: "key-0000000000000002",
		Values: map[string]string{"emergency": "意外事故", "amount": "500", "description": "摔伤", "phone": "13900001111"}}))
	e.clock.Add(11 * 24 * time.Hour)
	boss = e.login("boss") // the old session expired while idle
	var od apiv1.OverdueReport
	if err := boss.Do(ctx, "GET", apiv1.PathFilingsOverdue, nil, &od); err != nil || len(od.Departments) != 1 || od.Departments[0].Count != 1 || od.Departments[0].Department != "civil_affairs" {
		t.Fatalf("overdue: %+v %v", od, err)
	}

	// A disabled account loses its session at once.
	e.admin = e.login("admin")
	var list apiv1.StaffList
	if err := e.admin.Do(ctx, "GET", apiv1.PathAdminStaff, nil, &list); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(list.Staff, func(s apiv1.Staff) bool { return s.Username == "li" })
	li = e.login("li")
	if err := e.admin.Do(ctx, "POST", apiv1.PathAdminStaff+"/"+itoa(list.Staff[i].ID)+"/disabled", map[string]bool{"disabled": true}, nil); err != nil {
		t.Fatal(err)
	}
	wantCode(t, li.Do(ctx, "GET", apiv1.PathFilings, nil, nil), apiv1.CodeUnauthenticated)
	_, err := e.client().Login(ctx, "li", testPassword)
	wantCode(t, err, apiv1.CodeBadCredentials)
	_, err = e.client().Login(ctx, "zhang", "wrong password!")
	wantCode(t, err, apiv1.CodeBadCredentials)
}

func TestFormValidation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.mustStaff("zhang", "station_staff", "", "QS-S01")
	k := e.newKiosk("kiosk-01")
	young := e.newPerson("小张", time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC))
	e.enrol(e.atKiosk(k, "zhang"), young)
	vr := must[*apiv1.VerifyResponse](t)(k.Verify(ctx, e.verifyRequest(k, young, young.fingers[apiv1.RightIndex])))
	tests := []struct {
		name    string
		service string
		values  map[string]string
		field   string
	}{
		{"a fraction of a year", "residence_certificate", map[string]string{"years": "2.5", "purpose": "入学", "copies": "1"}, "years"},
		{"prefilled name changed", "residence_certificate", map[string]string{"name": "别人", "years": "3", "purpose": "入学", "copies": "1"}, "name"},
		{"bad phone", "temporary_assistance", map[string]string{"emergency": "其他", "amount": "1", "description": "x", "phone": "12345"}, "phone"},
		{"not a choice", "temporary_assistance", map[string]string{"emergency": "彩票", "amount": "1", "description": "x", "phone": "13800000000"}, "emergency"},
		{"missing required", "temporary_assistance", map[string]string{"emergency": "其他", "description": "x", "phone": "13800000000"}, "amount"},
		{"unknown field", "temporary_assistance", map[string]string{"emergency": "其他", "amount": "1", "description": "x", "phone": "13800000000", "salary": "1"}, "salary"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := k.SubmitFiling(ctx, &apiv1.SubmitFilingRequest{Token: vr.Token, Service: tt.service, IdempotencyKey: "form-test-" + strings.Repeat("0", 8) + itoa(int64(i)), Values: tt.values})
			wantCode(t, err, apiv1.CodeFormInvalid)
			if _, ok := err.(*apiv1.Error).Fields[tt.field]; !ok {
				t.Fatalf("fields %v lack %q", err.(*apiv1.Error).Fields, tt.field)
			}
		})
	}
	_, err := k.Form(ctx, vr.Token, "no_such_service")
	wantCode(t, err, apiv1.CodeServiceUnknown)
	other := e.newKiosk("kiosk-02")
	_, err = other.Form(ctx, vr.Token, "dibao_new")
	wantCode(t, err, apiv1.CodeTokenInvalid)
	e.clock.Add(11 * time.Minute)
	_, err = k.Form(ctx, vr.Token, "dibao_new")
	wantCode(t, err, apiv1.CodeTokenInvalid)
}

func TestIdentifyWithoutCard(t *testing.T) {
	ctx := context.Background()
	off := newEnv(t)
	off.mustStaff("zhang", "station_staff", "", "QS-S01")
	k := off.newKiosk("kiosk-01")
	sk := off.atKiosk(k, "zhang")
	p := off.newPerson("无卡", time.Date(1945, 1, 1, 0, 0, 0, 0, time.UTC))
	_, err := sk.Identify(ctx, &apiv1.IdentifyRequest{Capture: sk.capture(apiv1.RightIndex, off.template(p.fingers[apiv1.RightIndex], apiv1.RightIndex, 80))})
	wantCode(t, err, apiv1.CodeIdentifyDisabled)

	e := newEnv(t, func(c *Config) { c.IdentifyEnabled = true })
	e.mustStaff("zhang", "station_staff", "", "QS-S01")
	k = e.newKiosk("kiosk-01")
	sk = e.atKiosk(k, "zhang")
	p = e.newPerson("无卡", time.Date(1945, 1, 1, 0, 0, 0, 0, time.UTC))
	q := e.newPerson("路人", time.Date(1946, 1, 1, 0, 0, 0, 0, time.UTC))
	e.enrol(sk, p)
	e.enrol(sk, q)
	cand := must[*apiv1.IdentifyCandidate](t)(sk.Identify(ctx, &apiv1.IdentifyRequest{Capture: sk.capture(apiv1.RightIndex, e.template(p.fingers[apiv1.RightIndex], apiv1.RightIndex, 80))}))
	if cand.Name != "无卡" {
		t.Fatalf("candidate %+v", cand)
	}
	// Without staff, the kiosk alone cannot confirm.
	_, err = k.IdentifyConfirm(ctx, cand.CandidateID)
	wantCode(t, err, apiv1.CodeUnauthenticated)
	vr := must[*apiv1.VerifyResponse](t)(sk.IdentifyConfirm(ctx, cand.CandidateID))
	if vr.Token == "" || vr.Resident.Name != "无卡" {
		t.Fatalf("confirm: %+v", vr)
	}
	_, err = sk.IdentifyConfirm(ctx, cand.CandidateID)
	wantCode(t, err, apiv1.CodeCandidateExpired)
	stranger := e.newPerson("陌生", time.Date(1947, 1, 1, 0, 0, 0, 0, time.UTC))
	_, err = sk.Identify(ctx, &apiv1.IdentifyRequest{Capture: sk.capture(apiv1.RightIndex, e.template(stranger.fingers[apiv1.RightIndex], apiv1.RightIndex, 80))})
	wantCode(t, err, apiv1.CodeCandidateNotFound)
}

// TestOpenAPIMatchesRoutes checks that every route fiber serves is in the
// document and every documented operation is served.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t)
	resp, err := e.srv.App().Test(httptestGet(apiv1.PathOpenAPI), -1)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("document: %v %.100s", err, body)
	}
	documented := map[string]bool{}
	for p, ops := range doc.Paths {
		for m := range ops {
			documented[strings.ToUpper(m)+" "+p] = true
		}
	}
	served := map[string]bool{}
	param := regexp.MustCompile(`:([A-Za-z_]+)`)
	for _, r := range e.srv.App().GetRoutes(true) {
		if r.Method == "HEAD" {
			continue // fiber adds HEAD to every GET
		}
		served[r.Method+" "+param.ReplaceAllString(r.Path, "{$1}")] = true
	}
	for k := range served {
		if !documented[k] {
			t.Errorf("served but not documented: %s", k)
		}
	}
	for k := range documented {
		if !served[k] {
			t.Errorf("documented but not served: %s", k)
		}
	}
	if len(served) < 40 {
		t.Fatalf("only %d routes", len(served))
	}
}

func httptestGet(path string) *http.Request {
	r, _ := http.NewRequest("GET", "http://centrald.test"+path, nil)
	return r
}

func TestOfficePages(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.mustStaff("zhang", "station_staff", "", "QS-S01")
	e.mustStaff("li", "department_officer", "community", "")
	k := e.newKiosk("kiosk-01")
	p := e.newPerson("居民甲", time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC))
	e.enrol(e.atKiosk(k, "zhang"), p)
	vr := must[*apiv1.VerifyResponse](t)(k.Verify(ctx, e.verifyRequest(k, p, p.fingers[apiv1.RightIndex])))
	f := must[*apiv1.Filing](t)(k.SubmitFiling(ctx, &apiv1.SubmitFilingRequest{Token: vr.Token, Service: "residence_certificate", IdempotencyKey: "office-000000000001",
		Values: map[string]string{"years": "5", "purpose": "子女入学", "copies": "2"}}))

	do := func(method, path string, form url.Values, cookie string) (*http.Response, string) {
		t.Helper()
		r, _ := http.NewRequest(method, "http://centrald.test"+path, strings.NewReader(form.Encode()))
		if form != nil {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if cookie != "" {
			r.Header.Set("Cookie", sessionCookie+"="+cookie)
		}
		resp, err := e.srv.App().Test(r, -1)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := do("GET", "/office", nil, "")
	if resp.StatusCode != 200 || !strings.Contains(body, "工作人员登录") {
		t.Fatalf("login page: %d", resp.StatusCode)
	}
	resp, _ = do("POST", "/office/login", url.Values{"username": {"li"}, "password": {"wrong password"}}, "")
	if resp.StatusCode != 401 {
		t.Fatalf("bad login: %d", resp.StatusCode)
	}
	resp, _ = do("POST", "/office/login", url.Values{"username": {"li"}, "password": {testPassword}}, "")
	var cookie string
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			cookie = c.Value
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
				t.Fatalf("cookie flags: %+v", c)
			}
		}
	}
	if resp.StatusCode != 303 || cookie == "" {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	resp, body = do("GET", "/office", nil, cookie)
	if resp.StatusCode != 200 || !strings.Contains(body, f.Reference) || !strings.Contains(body, "居住证明开具") {
		t.Fatalf("list: %d %s", resp.StatusCode, body)
	}
	resp, body = do("GET", "/office/filings/"+itoa(f.ID), nil, cookie)
	if resp.StatusCode != 200 || !strings.Contains(body, "子女入学") || !strings.Contains(body, "居民甲") {
		t.Fatalf("filing page: %d", resp.StatusCode)
	}
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)[1]
	resp, _ = do("POST", "/office/filings/"+itoa(f.ID), url.Values{"action": {"accept"}, "reply": {"请来站领取"}, "csrf": {"forged"}}, cookie)
	if resp.StatusCode != 403 {
		t.Fatalf("forged CSRF: %d", resp.StatusCode)
	}
	resp, _ = do("POST", "/office/filings/"+itoa(f.ID), url.Values{"action": {"accept"}, "reply": {"请来站领取"}, "csrf": {csrf}}, cookie)
	if resp.StatusCode != 303 {
		t.Fatalf("decision: %d", resp.StatusCode)
	}
	got, err := e.st.GetFiling(ctx, f.ID)
	if err != nil || got.Status != "accepted" || got.Reply != "请来站领取" {
		t.Fatalf("after decision: %+v %v", got, err)
	}
	resp, _ = do("GET", "/office/filings/"+itoa(f.ID), nil, "")
	if resp.StatusCode != 303 {
		t.Fatalf("no session: %d", resp.StatusCode)
	}
}
