package api

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

var dibaoValues = map[string]string{
	"household_size": "3", "monthly_income": "800", "income_source": "养老金", "housing": "自有住房",
	"bank_account": "6222020200112233", "phone": "13800138000", "reason": "丈夫病故，收入减少", "vehicle": "false", "bank_name": "中国建设银行",
}

// fileAt files service for p at kiosk k after card + vein.
func (e *env) fileAt(t *testing.T, k *kiosk, p *person, service, key string, values map[string]string) *apiv1.Filing {
	t.Helper()
	vr := must[*apiv1.VerifyResponse](t)(k.Verify(context.Background(), e.verifyRequest(k, p, p.fingers[apiv1.RightIndex])))
	return must[*apiv1.Filing](t)(k.SubmitFiling(context.Background(), &apiv1.SubmitFilingRequest{Token: vr.Token, Service: service, IdempotencyKey: key, Values: values}))
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDibaoDeliberationAndNotice: a 低保 approval needs the record of the
// deliberation meeting that decided it; only civil-affairs officers keep
// the records, of filings of the meeting's station; the public notice lists
// the approved households with the ID numbers masked, nothing else of them.
func TestDibaoDeliberationAndNotice(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.st.CreateStation(ctx, audit.System("test"), store.Station{ID: "QS-S02", Name: "青山二站"}); err != nil {
		t.Fatal(err)
	}
	e.mustStaff("zhang", store.RoleStationStaff, "", "QS-S01")
	e.mustStaff("wang2", store.RoleStationStaff, "", "QS-S02")
	e.mustStaff("li", store.RoleDepartmentOfficer, "civil_affairs", "")
	e.mustStaff("lao", store.RoleDepartmentOfficer, "ageing", "")
	e.mustStaff("boss", store.RoleSupervisor, "", "")
	li, lao, boss, zhang := e.login("li"), e.login("lao"), e.login("boss"), e.login("zhang")
	k := e.newKiosk("kiosk-01")
	k2 := e.newKioskAt("kiosk-02", "QS-S02")
	p := e.newPerson("赵淑芬", time.Date(1962, 5, 6, 0, 0, 0, 0, time.UTC))
	p2 := e.newPerson("钱国强", time.Date(1958, 7, 8, 0, 0, 0, 0, time.UTC))
	e.enrol(e.atKiosk(k, "zhang"), p)
	e.enrol(e.atKiosk(k2, "wang2"), p2)

	f := e.fileAt(t, k, p, "dibao_new", "dibao-key-000000000001", dibaoValues)
	other := e.fileAt(t, k2, p2, "dibao_new", "dibao-key-000000000002", dibaoValues)
	temp := e.fileAt(t, k, p, "temporary_assistance", "dibao-key-000000000003",
		map[string]string{"emergency": "重大疾病", "amount": "3000", "description": "住院", "phone": "13900001111"})
	decide := func(id int64, action string) error {
		return li.Do(ctx, "POST", apiv1.PathFilings+"/"+itoa(id)+"/decision", apiv1.Decision{Action: action, Reply: "经民主评议，同意纳入低保"}, nil)
	}
	// No meeting's record: the approval is refused; review and rejection are not.
	wantCode(t, decide(f.ID, apiv1.DecisionAccept), apiv1.CodeDeliberationRequired)
	if err := decide(f.ID, apiv1.DecisionReview); err != nil {
		t.Fatal(err)
	}
	if err := decide(temp.ID, apiv1.DecisionAccept); err != nil {
		t.Fatalf("a service without deliberation: %v", err)
	}

	q := quarterOf(e.clock.Now())
	held := e.clock.Now().In(identity.ChinaTime).Format(time.DateOnly)
	good := apiv1.MeetingCreate{StationID: "QS-S01", Quarter: q, HeldOn: held, Members: []string{"孙主任", "周委员", "居民代表吴梅", "居民代表郑刚"},
		Minutes: "审议赵淑芬家庭低保申请：入户调查属实，与会人员一致同意。", Filings: []string{f.Reference}}
	for _, tc := range []struct {
		name string
		c    *apiv1.Client
		mod  func(*apiv1.MeetingCreate)
		code string
	}{
		{"ageing officer", lao, nil, apiv1.CodeForbidden},
		{"supervisor", boss, nil, apiv1.CodeForbidden},
		{"station staff", zhang, nil, apiv1.CodeForbidden},
		{"bad quarter", li, func(m *apiv1.MeetingCreate) { m.Quarter = "2026-3" }, apiv1.CodeBadRequest},
		{"date off the quarter", li, func(m *apiv1.MeetingCreate) { m.HeldOn = "2001-01-01" }, apiv1.CodeBadRequest},
		{"two members", li, func(m *apiv1.MeetingCreate) { m.Members = m.Members[:2] }, apiv1.CodeBadRequest},
		{"no minutes", li, func(m *apiv1.MeetingCreate) { m.Minutes = " " }, apiv1.CodeBadRequest},
		{"another station's filing", li, func(m *apiv1.MeetingCreate) { m.Filings = []string{other.Reference} }, apiv1.CodeBadRequest},
		{"not a deliberation service", li, func(m *apiv1.MeetingCreate) { m.Filings = []string{temp.Reference} }, apiv1.CodeBadRequest},
		{"unknown filing", li, func(m *apiv1.MeetingCreate) { m.Filings = []string{"QS-2026-999999"} }, apiv1.CodeFilingNotFound},
		{"unknown station", li, func(m *apiv1.MeetingCreate) { m.StationID = "QS-S99"; m.Filings = nil }, apiv1.CodeBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := good
			if tc.mod != nil {
				tc.mod(&m)
			}
			wantCode(t, tc.c.Do(ctx, "POST", apiv1.PathMeetings, m, nil), tc.code)
		})
	}
	if n := countAudit(t, e, "dibao.meeting.create"); n != 0 {
		t.Fatalf("%d meetings recorded by refused requests", n)
	}
	var m apiv1.Meeting
	if err := li.Do(ctx, "POST", apiv1.PathMeetings, good, &m); err != nil {
		t.Fatal(err)
	}
	if m.ID == 0 || len(m.Filings) != 1 || m.Filings[0] != f.Reference || m.Quarter != q || len(m.Members) != 4 {
		t.Fatalf("meeting %+v", m)
	}
	if countAudit(t, e, "dibao.meeting.create") != 1 || countAudit(t, e, "dibao.meeting.attach") != 1 {
		t.Error("the meeting and its attachment are not audited")
	}
	// A second meeting cannot take the filing.
	second := good
	second.Filings = nil
	var m2 apiv1.Meeting
	if err := li.Do(ctx, "POST", apiv1.PathMeetings, second, &m2); err != nil {
		t.Fatal(err)
	}
	wantCode(t, li.Do(ctx, "POST", apiv1.PathMeetings+"/"+itoa(m2.ID)+"/filings", apiv1.MeetingAttach{Filings: []string{f.Reference}}, nil), apiv1.CodeMeetingConflict)
	wantCode(t, li.Do(ctx, "POST", apiv1.PathMeetings+"/999999/filings", apiv1.MeetingAttach{Filings: []string{f.Reference}}, nil), apiv1.CodeMeetingNotFound)
	wantCode(t, zhang.Do(ctx, "GET", apiv1.PathMeetings+"/"+itoa(m.ID), nil, nil), apiv1.CodeForbidden)
	var seen apiv1.Meeting
	if err := boss.Do(ctx, "GET", apiv1.PathMeetings+"/"+itoa(m.ID), nil, &seen); err != nil || seen.Minutes != good.Minutes {
		t.Fatalf("supervisor reads the meeting: %+v %v", seen, err)
	}
	var list apiv1.MeetingList
	if err := li.Do(ctx, "GET", apiv1.PathMeetings+"?station=QS-S01&quarter="+q, nil, &list); err != nil || len(list.Meetings) != 2 {
		t.Fatalf("list %+v %v", list, err)
	}

	// Not approved yet: the notice is empty.
	notice := func() apiv1.DibaoNotice {
		t.Helper()
		var n apiv1.DibaoNotice
		if err := e.client().Do(ctx, "GET", apiv1.PathDibaoNotice+"?station=QS-S01&quarter="+q, nil, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := notice(); len(n.Entries) != 0 || len(n.Meetings) != 2 {
		t.Fatalf("notice before the approval %+v", n)
	}
	if err := decide(f.ID, apiv1.DecisionAccept); err != nil {
		t.Fatalf("approval with the meeting's record: %v", err)
	}
	n := notice()
	masked := identity.MaskIDNumber(p.card.IDNumber)
	if n.StationName == "" || len(n.Entries) != 1 || n.Entries[0].MaskedID != masked || n.Entries[0].HouseholdSize != "3" ||
		n.Entries[0].Reference != f.Reference || n.Entries[0].MeetingOn != held {
		t.Fatalf("notice %+v", n)
	}
	wantCode(t, e.client().Do(ctx, "GET", apiv1.PathDibaoNotice+"?station=QS-S01&quarter=2026", nil, nil), apiv1.CodeBadRequest)
	wantCode(t, e.client().Do(ctx, "GET", apiv1.PathDibaoNotice+"?station=QS-S99&quarter="+q, nil, nil), apiv1.CodeNotFound)

	// The printable page, public: the masked number, never the name or the number.
	req, _ := http.NewRequest("GET", "http://centrald.test/notice/dibao?"+url.Values{"station": {"QS-S01"}, "quarter": {q}}.Encode(), nil)
	resp, err := e.srv.App().Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	if resp.StatusCode != 200 || !strings.Contains(body, masked) || !strings.Contains(body, "最低生活保障审批结果公示") {
		t.Fatalf("notice page %d: %s", resp.StatusCode, body)
	}
	for _, secret := range []string{p.card.IDNumber, "赵淑芬", "6222020200112233", "13800138000", good.Minutes, "居民代表吴梅"} {
		if strings.Contains(body, secret) {
			t.Errorf("the public notice shows %q", secret)
		}
	}
}

// TestOfficeDibao: the office's meeting form and attach form, in Chinese,
// and the filing page's refusal to approve without a meeting's record.
func TestOfficeDibao(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.mustStaff("zhang", store.RoleStationStaff, "", "QS-S01")
	e.mustStaff("li", store.RoleDepartmentOfficer, "civil_affairs", "")
	k := e.newKiosk("kiosk-01")
	p := e.newPerson("赵淑芬", time.Date(1962, 5, 6, 0, 0, 0, 0, time.UTC))
	e.enrol(e.atKiosk(k, "zhang"), p)
	f := e.fileAt(t, k, p, "dibao_new", "dibao-key-000000000001", dibaoValues)
	_ = ctx
	b := officeLogin(t, e, "li")
	resp, body := b.do("POST", "/office/filings/"+itoa(f.ID), url.Values{"action": {"accept"}, "reply": {"同意"}, "csrf": {b.csrf}})
	if resp.StatusCode != 422 || !strings.Contains(body, "须经低保民主评议") {
		t.Fatalf("approval without a meeting: %d %s", resp.StatusCode, body)
	}
	q := quarterOf(e.clock.Now())
	held := e.clock.Now().In(identity.ChinaTime).Format(time.DateOnly)
	form := url.Values{"station": {"QS-S01"}, "quarter": {q}, "held_on": {held}, "members": {"孙主任\n周委员"}, "minutes": {"审议"}, "csrf": {b.csrf}}
	resp, body = b.do("POST", "/office/dibao", form)
	if resp.StatusCode != 422 || !strings.Contains(body, "3至30名到会人员") || !strings.Contains(body, "孙主任\n周委员") {
		t.Fatalf("two members: %d %s", resp.StatusCode, body)
	}
	form.Set("members", "孙主任\n周委员\n居民代表吴梅")
	form.Set("csrf", b.csrf)
	resp, _ = b.do("POST", "/office/dibao", form)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	loc := resp.Header.Get("Location")
	resp, body = b.do("GET", loc, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "会议记录已保存") || !strings.Contains(body, f.Reference) {
		t.Fatalf("meeting page: %d %s", resp.StatusCode, body)
	}
	resp, _ = b.do("POST", strings.TrimSuffix(loc, "?done=1"), url.Values{"filing": {f.Reference}, "csrf": {b.csrf}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("attach: %d", resp.StatusCode)
	}
	resp, body = b.do("GET", "/office/filings/"+itoa(f.ID), nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "审议会议（"+q) {
		t.Fatalf("the filing page does not show its meeting: %s", body)
	}
	resp, _ = b.do("POST", "/office/filings/"+itoa(f.ID), url.Values{"action": {"accept"}, "reply": {"同意"}, "csrf": {b.csrf}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("approval with the meeting: %d", resp.StatusCode)
	}
	if _, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSuffix(loc, "?done=1"), "/office/dibao/")); err != nil {
		t.Fatalf("location %q", loc)
	}
}

// TestRatings: a resident rates their own answered filings and reports
// once each, from the kiosk after card + vein; the ratings feed the review.
func TestRatings(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.mustStaff("zhang", store.RoleStationStaff, "", "QS-S01")
	e.mustStaff("li", store.RoleDepartmentOfficer, "civil_affairs", "")
	e.mustStaff("heat", store.RoleDepartmentOfficer, "heating", "")
	e.mustStaff("boss", store.RoleSupervisor, "", "")
	li, heat := e.login("li"), e.login("heat")
	k := e.newKiosk("kiosk-01")
	p := e.newPerson("孙丽华", time.Date(1955, 1, 2, 0, 0, 0, 0, time.UTC))
	p2 := e.newPerson("周建国", time.Date(1956, 3, 4, 0, 0, 0, 0, time.UTC))
	staffK := e.atKiosk(k, "zhang")
	e.enrol(staffK, p)
	e.enrol(staffK, p2)
	f := e.fileAt(t, k, p, "temporary_assistance", "rate-key-000000000001",
		map[string]string{"emergency": "重大疾病", "amount": "3000", "description": "住院", "phone": "13900001111"})
	vr := must[*apiv1.VerifyResponse](t)(k.Verify(ctx, e.verifyRequest(k, p, p.fingers[apiv1.RightIndex])))
	var rep apiv1.Report
	if err := k.Do(ctx, "POST", apiv1.PathKioskReports, apiv1.SubmitReportRequest{Token: vr.Token, Kind: "cold_radiator", Description: "暖气不热", IdempotencyKey: "rate-report-0000000001"}, &rep); err != nil {
		t.Fatal(err)
	}
	tok := must[*apiv1.VerifyResponse](t)(k.Verify(ctx, e.verifyRequest(k, p, p.fingers[apiv1.RightIndex]))).Token
	rate := func(token, ref string, score int, reasons ...string) error {
		return k.Do(ctx, "POST", apiv1.PathKioskRatings, apiv1.RatingRequest{Token: token, Reference: ref, Score: score, Reasons: reasons}, nil)
	}
	wantCode(t, rate(tok, f.Reference, 5), apiv1.CodeNotAnswered)
	wantCode(t, rate(tok, rep.Reference, 5), apiv1.CodeNotAnswered)
	if err := li.Do(ctx, "POST", apiv1.PathFilings+"/"+itoa(f.ID)+"/decision", apiv1.Decision{Action: "accept", Reply: "已批准"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := heat.Do(ctx, "POST", apiv1.PathReports+"/"+itoa(rep.ID)+"/action", apiv1.ReportAction{Action: "reply", Reply: "已派人维修"}, nil); err != nil {
		t.Fatal(err)
	}
	st := must[*apiv1.FilingList](t)(k.Status(ctx, tok))
	if len(st.Filings) != 1 || !st.Filings[0].Rateable || st.Filings[0].Rating != 0 || len(st.Reports) != 1 || !st.Reports[0].Rateable {
		t.Fatalf("status before rating %+v", st)
	}
	tok2 := must[*apiv1.VerifyResponse](t)(k.Verify(ctx, e.verifyRequest(k, p2, p2.fingers[apiv1.RightIndex]))).Token
	for _, tc := range []struct {
		name  string
		token string
		ref   string
		score int
		why   []string
		code  string
	}{
		{"score 0", tok, f.Reference, 0, nil, apiv1.CodeBadRequest},
		{"score 6", tok, f.Reference, 6, nil, apiv1.CodeBadRequest},
		{"unknown reason", tok, f.Reference, 3, []string{"bribe"}, apiv1.CodeBadRequest},
		{"someone else's filing", tok2, f.Reference, 1, nil, apiv1.CodeRatingNotFound},
		{"someone else's report", tok2, rep.Reference, 1, nil, apiv1.CodeRatingNotFound},
		{"no token", "", f.Reference, 1, nil, apiv1.CodeTokenInvalid},
		{"forged token", "forged-token-0000000000000000000000", f.Reference, 1, nil, apiv1.CodeTokenInvalid},
		{"unknown reference", tok, "QS-2026-999999", 1, nil, apiv1.CodeRatingNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, rate(tc.token, tc.ref, tc.score, tc.why...), tc.code) })
	}
	if err := rate(tok, f.Reference, 4, "fast", "clear"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, rate(tok, f.Reference, 1), apiv1.CodeAlreadyRated)
	if err := rate(tok, rep.Reference, 1, "slow", "unsolved"); err != nil {
		t.Fatal(err)
	}
	st = must[*apiv1.FilingList](t)(k.Status(ctx, tok)) // the token still answers: rating does not spend it
	if st.Filings[0].Rating != 4 || st.Filings[0].Rateable || st.Reports[0].Rating != 1 || st.Reports[0].Rateable {
		t.Fatalf("status after rating %+v", st)
	}
	if n := countAudit(t, e, "rating.create"); n != 2 {
		t.Errorf("%d rating.create events, want 2", n)
	}

	// The review counts them for the answering units.
	var rv apiv1.Review
	year := e.clock.Now().In(identity.ChinaTime).Year()
	if err := e.login("boss").Do(ctx, "GET", apiv1.PathReview+"?year="+strconv.Itoa(year), nil, &rv); err != nil {
		t.Fatal(err)
	}
	got := map[string]apiv1.ReviewStats{}
	for _, u := range rv.Units {
		got[u.Unit] = u.Year
	}
	ca, ht := got["civil_affairs"], got["heating"]
	if ca.Rated != 1 || ca.Satisfied != 1 || *ca.SatisfactionRate != 1 || *ca.MeanScore != 4 || ht.Rated != 1 || ht.Dissatisfied != 1 || *ht.SatisfactionRate != 0 {
		t.Fatalf("review civil_affairs %+v heating %+v", ca, ht)
	}
	code, _, csvBody := e.rawGet(e.login("boss"), apiv1.PathReview+"?format=csv&year="+strconv.Itoa(year))
	if code != 200 || !strings.Contains(string(csvBody), "satisfaction_rate") || !strings.Contains(string(csvBody), ",1,1,0,1.0000,4.0000") {
		t.Fatalf("csv %d %s", code, csvBody)
	}
}
