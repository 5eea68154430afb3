package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/review"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

func testPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// rawGet fetches a non-JSON staff resource.
func (e *env) rawGet(c *apiv1.Client, path string) (int, http.Header, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", "http://centrald.test"+path, nil)
	req.Header.Set("Authorization", "Bearer "+c.StaffToken)
	resp, err := e.http.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func countAudit(t *testing.T, e *env, action string) int {
	t.Helper()
	recs, err := e.st.ListAudit(context.Background(), 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range recs {
		if r.Action == action {
			n++
		}
	}
	return n
}

func TestReportsKioskOfficeSupervision(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.st.CreateStation(ctx, audit.System("test"), store.Station{ID: "QS-S02", Name: "青山二站"}); err != nil {
		t.Fatal(err)
	}
	e.mustStaff("zhang", store.RoleStationStaff, "", "QS-S01")
	e.mustStaff("wang", store.RoleStationStaff, "", "QS-S02")
	e.mustStaff("heat", store.RoleDepartmentOfficer, "heating", "")
	e.mustStaff("eco", store.RoleDepartmentOfficer, "ecology", "")
	e.mustStaff("boss", store.RoleSupervisor, "", "")
	k := e.newKiosk("kiosk-01")
	p := e.newPerson("刘桂兰", time.Date(1948, 2, 3, 0, 0, 0, 0, time.UTC))
	zhang := e.login("zhang")
	e.enrol(e.atKiosk(k, "zhang"), p)

	var kinds apiv1.ReportKindList
	if err := k.Do(ctx, "GET", apiv1.PathKioskReportKinds, nil, &kinds); err != nil || len(kinds.Kinds) != 27 || len(kinds.Units) != 13 {
		t.Fatalf("kinds: %d kinds %d units, %v", len(kinds.Kinds), len(kinds.Units), err)
	}

	vr := must[*apiv1.VerifyResponse](t)(k.Verify(ctx, e.verifyRequest(k, p, p.fingers[apiv1.RightIndex])))
	photo := testPNG(t, 640, 480)
	good := apiv1.SubmitReportRequest{Token: vr.Token, Kind: "cold_radiator", Description: "家里暖气不热，室温只有十三度", Location: "3号楼2单元502", Photo: photo, IdempotencyKey: "report-key-000000000001"}

	// Attacks on the upload, each refused before the token is spent.
	bomb := testPNG(t, 1, 1)
	binary.BigEndian.PutUint32(bomb[16:], 60000)
	binary.BigEndian.PutUint32(bomb[20:], 60000)
	binary.BigEndian.PutUint32(bomb[29:], crc32.ChecksumIEEE(bomb[12:29]))
	for _, tc := range []struct {
		name string
		mod  func(r *apiv1.SubmitReportRequest)
		code string
		stat int
	}{
		{"oversized photo", func(r *apiv1.SubmitReportRequest) { r.Photo = append(testPNG(t, 8, 8), make([]byte, 2<<20)...) }, apiv1.CodePhotoTooLarge, 413},
		{"decompression bomb", func(r *apiv1.SubmitReportRequest) { r.Photo = bomb }, apiv1.CodePhotoTooLarge, 413},
		{"html as a photo", func(r *apiv1.SubmitReportRequest) { r.Photo = []byte("<html><script>alert(1)</script></html>") }, apiv1.CodePhotoInvalid, 415},
		{"gif", func(r *apiv1.SubmitReportRequest) { r.Photo = []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;") }, apiv1.CodePhotoInvalid, 415},
		{"png header, svg body", func(r *apiv1.SubmitReportRequest) {
			r.Photo = append([]byte("\x89PNG\r\n\x1a\n"), []byte("<svg onload=alert(1)>")...)
		}, apiv1.CodePhotoInvalid, 415},
		{"unknown kind", func(r *apiv1.SubmitReportRequest) { r.Kind = "ufo_sighting" }, apiv1.CodeReportKindUnknown, 404},
		{"no description", func(r *apiv1.SubmitReportRequest) { r.Description = "" }, apiv1.CodeBadRequest, 400},
		{"id number at the kiosk", func(r *apiv1.SubmitReportRequest) { r.IDNumber = p.card.IDNumber }, apiv1.CodeBadRequest, 400},
		{"no token", func(r *apiv1.SubmitReportRequest) { r.Token = "" }, apiv1.CodeTokenInvalid, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := good
			tc.mod(&r)
			err := k.Do(ctx, "POST", apiv1.PathKioskReports, r, nil)
			wantCode(t, err, tc.code)
			if st := err.(*apiv1.Error).Status; st != tc.stat {
				t.Errorf("status %d, want %d", st, tc.stat)
			}
		})
	}
	var rep apiv1.Report
	if err := k.Do(ctx, "POST", apiv1.PathKioskReports, good, &rep); err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now()
	if rep.Unit != "heating" || rep.UnitName != "供热办" || rep.Status != "submitted" || rep.StatusLabel != "待受理" || rep.GridCell != "G-017" ||
		!rep.DueAt.Equal(now.AddDate(0, 0, 3)) || !rep.HasPhoto || rep.Description != "" || rep.StationID != "QS-S01" {
		t.Fatalf("kiosk report %+v", rep)
	}
	var again apiv1.Report
	if err := k.Do(ctx, "POST", apiv1.PathKioskReports, good, &again); err != nil || again.ID != rep.ID {
		t.Fatalf("retry: %+v %v", again, err)
	}
	other := good
	other.IdempotencyKey = "report-key-000000000002"
	wantCode(t, k.Do(ctx, "POST", apiv1.PathKioskReports, other, nil), apiv1.CodeTokenInvalid)

	// Another unit's officer and another station's staff: no such report.
	eco, heat, wang, boss := e.login("eco"), e.login("heat"), e.login("wang"), e.login("boss")
	id := "/" + fmtInt(rep.ID)
	for name, c := range map[string]*apiv1.Client{"eco": eco, "wang": wang} {
		wantCode(t, c.Do(ctx, "GET", apiv1.PathReports+id, nil, nil), apiv1.CodeReportNotFound)
		if st, _, _ := e.rawGet(c, apiv1.PathReports+id+"/photo"); st != 404 {
			t.Errorf("%s photo: %d", name, st)
		}
		var l apiv1.ReportList
		if err := c.Do(ctx, "GET", apiv1.PathReports, nil, &l); err != nil || len(l.Reports) != 0 {
			t.Errorf("%s list: %+v %v", name, l, err)
		}
	}
	wantCode(t, eco.Do(ctx, "POST", apiv1.PathReports+id+"/action", apiv1.ReportAction{Action: "accept"}, nil), apiv1.CodeReportNotFound)
	wantCode(t, zhang.Do(ctx, "POST", apiv1.PathReports+id+"/action", apiv1.ReportAction{Action: "accept"}, nil), apiv1.CodeForbidden)
	wantCode(t, boss.Do(ctx, "POST", apiv1.PathReports+id+"/action", apiv1.ReportAction{Action: "accept"}, nil), apiv1.CodeForbidden)

	// The unit's officer: the resident's words, the photo, accept, reply.
	var got apiv1.Report
	if err := heat.Do(ctx, "GET", apiv1.PathReports+id, nil, &got); err != nil || got.Description != good.Description || got.ResidentName != "刘桂兰" {
		t.Fatalf("officer get: %+v %v", got, err)
	}
	st, hdr, body := e.rawGet(heat, apiv1.PathReports+id+"/photo")
	if st != 200 || hdr.Get("Content-Type") != "image/png" || hdr.Get("X-Content-Type-Options") != "nosniff" || !bytes.Equal(body, photo) {
		t.Fatalf("photo: %d %v %d bytes", st, hdr, len(body))
	}
	wantCode(t, heat.Do(ctx, "POST", apiv1.PathReports+id+"/action", apiv1.ReportAction{Action: "reply"}, nil), apiv1.CodeBadRequest)
	wantCode(t, heat.Do(ctx, "POST", apiv1.PathReports+id+"/action", apiv1.ReportAction{Action: "approve"}, nil), apiv1.CodeBadRequest)
	if err := heat.Do(ctx, "POST", apiv1.PathReports+id+"/action", apiv1.ReportAction{Action: "accept"}, &got); err != nil || got.StatusLabel != "已受理" {
		t.Fatalf("accept: %+v %v", got, err)
	}
	wantCode(t, heat.Do(ctx, "POST", apiv1.PathReports+id+"/action", apiv1.ReportAction{Action: "accept"}, nil), apiv1.CodeReportState)
	e.clock.Add(2 * time.Hour) // staff sessions idle out: log in again
	zhang, heat, wang, boss = e.login("zhang"), e.login("heat"), e.login("wang"), e.login("boss")
	reply := "已通知热力公司，明天上午上门排气。"
	if err := heat.Do(ctx, "POST", apiv1.PathReports+id+"/action", apiv1.ReportAction{Action: "reply", Reply: reply}, &got); err != nil || got.StatusLabel != "已答复" || got.RepliedAt == nil {
		t.Fatalf("reply: %+v %v", got, err)
	}
	if n := countAudit(t, e, "report.transition"); n != 2 {
		t.Errorf("%d report.transition events", n)
	}

	// The reply at the station: "my filings" after card and vein.
	vr2 := must[*apiv1.VerifyResponse](t)(k.Verify(ctx, e.verifyRequest(k, p, p.fingers[apiv1.RightIndex])))
	var mine apiv1.FilingList
	if err := k.Do(ctx, "POST", apiv1.PathKioskStatus, apiv1.StatusRequest{Token: vr2.Token}, &mine); err != nil || len(mine.Reports) != 1 ||
		mine.Reports[0].Reply != reply || mine.Reports[0].StatusLabel != "已答复" || mine.Reports[0].KindName != "暖气不热" || mine.Reports[0].Description != "" {
		t.Fatalf("status: %+v %v", mine, err)
	}

	// At the desk: station staff for the resident, at their own station.
	desk := apiv1.SubmitReportRequest{IDNumber: p.card.IDNumber, Kind: "noise", GridCell: "G-018", Description: "楼下烧烤店每晚营业到凌晨两点", IdempotencyKey: "desk-key-0000000000001"}
	var dr apiv1.Report
	if err := zhang.Do(ctx, "POST", apiv1.PathReports, desk, &dr); err != nil || dr.StationID != "QS-S01" || dr.Unit != "ecology" || dr.GridCell != "G-018" || dr.KioskID != "" {
		t.Fatalf("desk report: %+v %v", dr, err)
	}
	wantCode(t, heat.Do(ctx, "POST", apiv1.PathReports, desk, nil), apiv1.CodeForbidden)
	wantCode(t, boss.Do(ctx, "POST", apiv1.PathReports, desk, nil), apiv1.CodeForbidden)
	bad := desk
	bad.IDNumber, bad.IdempotencyKey = "110101199003070000", "desk-key-0000000000002"
	wantCode(t, zhang.Do(ctx, "POST", apiv1.PathReports, bad, nil), apiv1.CodeResidentUnknown)
	var zl, wl apiv1.ReportList
	if err := zhang.Do(ctx, "GET", apiv1.PathReports, nil, &zl); err != nil || len(zl.Reports) != 2 {
		t.Errorf("zhang's station list: %d %v", len(zl.Reports), err)
	}
	if err := wang.Do(ctx, "GET", apiv1.PathReports, nil, &wl); err != nil || len(wl.Reports) != 0 {
		t.Errorf("wang's station list: %d %v", len(wl.Reports), err)
	}

	// Supervision: officers may not; the supervisor sees the open desk
	// report with its time left, and after its deadline it escalates once.
	wantCode(t, heat.Do(ctx, "GET", apiv1.PathSupervisionOpen, nil, nil), apiv1.CodeForbidden)
	wantCode(t, zhang.Do(ctx, "GET", apiv1.PathSupervisionOpen, nil, nil), apiv1.CodeForbidden)
	var open apiv1.OpenItemList
	if err := boss.Do(ctx, "GET", apiv1.PathSupervisionOpen, nil, &open); err != nil || len(open.Items) != 1 || open.Escalated != 0 {
		t.Fatalf("open: %+v %v", open, err)
	}
	if it := open.Items[0]; it.Reference != dr.Reference || it.TimeLeftS != 7*24*3600 || it.Overdue || it.Name != "噪声扰民" || it.UnitName != "生态环境分局" {
		t.Errorf("open item %+v", it)
	}
	e.clock.Add(8 * 24 * time.Hour)
	e.srv.Housekeep(ctx)
	boss, eco = e.login("boss"), e.login("eco")
	if err := boss.Do(ctx, "GET", apiv1.PathSupervisionOpen, nil, &open); err != nil || len(open.Items) != 1 || open.Escalated != 0 {
		t.Fatalf("open after housekeeping: %+v %v", open, err)
	}
	if it := open.Items[0]; !it.Overdue || it.TimeLeftS != -24*3600 || it.EscalatedAt == nil {
		t.Errorf("overdue item %+v", it)
	}
	if n := countAudit(t, e, "report.escalate"); n != 1 {
		t.Errorf("%d report.escalate events", n)
	}
	if err := eco.Do(ctx, "GET", apiv1.PathReports+"/"+fmtInt(dr.ID), nil, &got); err != nil || got.EscalatedAt == nil || !got.Overdue {
		t.Errorf("the unit sees the escalation: %+v %v", got, err)
	}
}

// TestEfficiencyReview generates a year of filings and reports with known
// timings through the store and checks the review the API computes.
func TestEfficiencyReview(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.mustStaff("heat", store.RoleDepartmentOfficer, "heating", "")
	e.mustStaff("boss", store.RoleSupervisor, "", "")
	p := e.newPerson("赵建国", time.Date(1960, 5, 6, 0, 0, 0, 0, time.UTC))
	sys := audit.System("test")
	at := func(m, d, h int) time.Time { return time.Date(2026, time.Month(m), d, h, 0, 0, 0, review.China) }
	n := 0
	key := func() string { n++; return "gen-" + fmtInt(int64(n)) }
	for m := 1; m <= 12; m++ {
		// heating: m reports on the 5th, due 3 days later, the k-th answered
		// after k hours (March: 3 days late).
		for k := 1; k <= m; k++ {
			c := at(m, 5, 8)
			r, _, err := e.st.CreateReport(ctx, sys, store.NewReport{Kind: "cold_radiator", Unit: "heating", IDNumber: p.card.IDNumber, GridCell: "G-017",
				Description: "暖气不热", DueAt: c.AddDate(0, 0, 3), IdempotencyKey: key(), CreatedAt: c})
			if err != nil {
				t.Fatal(err)
			}
			done := c.Add(time.Duration(k) * time.Hour)
			if m == 3 {
				done = c.AddDate(0, 0, 6)
			}
			reply := "已处理"
			if _, err := e.st.TransitionReport(ctx, sys, store.ReportTransition{ReportID: r.ID, To: store.ReportReplied, Reply: &reply, At: done}); err != nil {
				t.Fatal(err)
			}
		}
		// civil_affairs: one filing a month decided after 10 days (due 15).
		c := at(m, 1, 9)
		f, _, err := e.st.CreateFiling(ctx, sys, store.NewFiling{ServiceCode: "temporary_assistance", IDNumber: p.card.IDNumber, Department: "civil_affairs",
			Form: []byte(`{}`), DueAt: c.AddDate(0, 0, 15), IdempotencyKey: key(), CreatedAt: c})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.st.TransitionFiling(ctx, sys, store.FilingTransition{FilingID: f.ID, To: store.FilingAccepted, At: c.AddDate(0, 0, 10)}); err != nil {
			t.Fatal(err)
		}
	}
	// A December filing never decided: overdue on the 20th.
	if _, _, err := e.st.CreateFiling(ctx, sys, store.NewFiling{ServiceCode: "temporary_assistance", IDNumber: p.card.IDNumber, Department: "civil_affairs",
		Form: []byte(`{}`), DueAt: at(12, 20, 9), IdempotencyKey: key(), CreatedAt: at(12, 5, 9)}); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(60 * 24 * time.Hour) // January 2027: the year is over
	boss, heat := e.login("boss"), e.login("heat")
	var rv apiv1.Review
	if err := boss.Do(ctx, "GET", apiv1.PathReview+"?year=2026", nil, &rv); err != nil || len(rv.Units) != 13 {
		t.Fatalf("review: %d units, %v", len(rv.Units), err)
	}
	units := map[string]apiv1.ReviewUnit{}
	for _, u := range rv.Units {
		units[u.Unit] = u
	}
	h := units["heating"]
	wantMedian := []int64{1, 1, 144, 2, 3, 3, 4, 4, 5, 5, 6, 6}
	wantP90 := []int64{1, 2, 144, 4, 5, 6, 7, 8, 9, 9, 10, 11}
	for m, s := range h.Months {
		late := 0
		if m == 2 {
			late = m + 1
		}
		if s.Done != m+1 || s.Late != late || s.OnTime != m+1-late || s.OpenOverdue != 0 || s.MedianSeconds != wantMedian[m]*3600 || s.P90Seconds != wantP90[m]*3600 {
			t.Errorf("heating month %d: %+v", m+1, s)
		}
	}
	// Year: 78 answered, 75 on time; the cumulative counts of k hours are
	// 11, 21, 30, 39, 47, 54, 60, 65, 69, 72 (rank 39: 4 h; rank 71: 10 h).
	if y := h.Year; y.Done != 78 || y.OnTime != 75 || y.Late != 3 || y.Overdue != 3 || *y.OnTimeRate != 75.0/78 || y.MedianSeconds != 4*3600 || y.P90Seconds != 10*3600 {
		t.Errorf("heating year %+v", y)
	}
	ca := units["civil_affairs"]
	if d := ca.Months[11]; d.Done != 1 || d.OnTime != 1 || d.OpenOverdue != 1 || d.Overdue != 1 || *d.OnTimeRate != 0.5 || d.MedianSeconds != 240*3600 {
		t.Errorf("civil_affairs December %+v", d)
	}
	if y := ca.Year; y.Done != 12 || y.OnTime != 12 || y.OpenOverdue != 1 || *y.OnTimeRate != 12.0/13 || y.P90Seconds != 240*3600 {
		t.Errorf("civil_affairs year %+v", y)
	}
	if y := units["police"].Year; y.OnTimeRate != nil || y.Done != 0 {
		t.Errorf("police %+v", y)
	}

	// CSV, audited.
	st, hdr, body := e.rawGet(boss, apiv1.PathReview+"?year=2026&format=csv")
	if st != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %v", st, hdr)
	}
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(body, []byte("\ufeff")))).ReadAll()
	if err != nil || len(rows) != 1+13*13 {
		t.Fatalf("csv rows %d, %v", len(rows), err)
	}
	found := false
	for _, r := range rows {
		if strings.Join(r, ",") == "heating,供热办,2026,78,75,3,0,3,0.9615,4.00,10.00,0,0,0,," {
			found = true
		}
	}
	if !found || countAudit(t, e, "review.export") != 1 {
		t.Errorf("csv year row of heating missing or export not audited:\n%s", body)
	}

	// The officer: their unit only.
	var own apiv1.Review
	if err := heat.Do(ctx, "GET", apiv1.PathReview+"?year=2026", nil, &own); err != nil || len(own.Units) != 1 || own.Units[0].Year.Done != 78 {
		t.Fatalf("officer review: %+v %v", own, err)
	}
	wantCode(t, heat.Do(ctx, "GET", apiv1.PathReview+"?year=2026&unit=civil_affairs", nil, nil), apiv1.CodeForbidden)
	st, hdr, body = e.rawGet(heat, apiv1.PathReviewChart+"?year=2026")
	if st != 200 || hdr.Get("Content-Type") != "image/svg+xml" || !bytes.HasPrefix(body, []byte("<svg")) || bytes.Count(body, []byte("<rect")) != 12 {
		t.Fatalf("chart: %d %v %s", st, hdr, body)
	}
	if st, _, _ := e.rawGet(boss, apiv1.PathReviewChart+"?year=2026&unit=nowhere"); st != 400 {
		t.Errorf("chart of an unknown unit: %d", st)
	}

	// The office: the review with a chart per unit, the CSV, the open list.
	page := func(c *apiv1.Client, path string) (int, string) {
		t.Helper()
		r, _ := http.NewRequest("GET", "http://centrald.test"+path, nil)
		r.Header.Set("Cookie", sessionCookie+"="+c.StaffToken)
		resp, err := e.srv.App().Test(r, -1)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	st, html := page(boss, "/office/review?year=2026")
	if st != 200 || strings.Count(html, "<svg") != 2*13 || !strings.Contains(html, "按期办结率 96.2%") || !strings.Contains(html, "民政科") {
		t.Fatalf("office review: %d %.2000s", st, html)
	}
	st, html = page(heat, "/office/review?year=2026")
	if st != 200 || strings.Count(html, "<svg") != 2 || strings.Contains(html, "民政科") {
		t.Fatalf("officer's office review: %d %.2000s", st, html)
	}
	if st, body := page(heat, "/office/review.csv?year=2026"); st != 200 || !strings.Contains(body, "heating,供热办,2026,78,75,3,0,3,0.9615,4.00,10.00,0,0,0,,") || strings.Contains(body, "civil_affairs") {
		t.Errorf("officer's CSV: %d %s", st, body)
	}
	if st, _ := page(heat, "/office/open"); st != 403 {
		t.Errorf("officer on the supervisor's page: %d", st)
	}
	st, html = page(boss, "/office/open")
	if st != 200 || !strings.Contains(html, "超期") || !strings.Contains(html, "已督办") || !strings.Contains(html, "民政科") {
		t.Errorf("supervisor's open page: %d %.2000s", st, html)
	}
}

// TestReportBodyLimit: a report body over the route's 3 MiB limit is
// refused from its Content-Length on a real listener.
func TestReportBodyLimit(t *testing.T) {
	e := newEnv(t)
	k := e.newKiosk("kiosk-01")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go e.srv.App().Listener(ln)
	defer e.srv.App().Shutdown()
	for _, tt := range []struct {
		size   int
		status int
		code   string
	}{
		{reportBodyLimit + 1, 413, apiv1.CodeBodyTooLarge},
		{reportBodyLimit - 1024, 400, apiv1.CodeBadRequest}, // within the limit: not JSON
	} {
		req := k.signed("POST", apiv1.PathKioskReports, bytes.Repeat([]byte("x"), tt.size), e.clock.Now())
		resp := headerOnly(t, ln.Addr().String(), req)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var eb apiv1.ErrorBody
		if json.Unmarshal(b, &eb); resp.StatusCode != tt.status || eb.Error.Code != tt.code {
			t.Errorf("%d bytes: %d %s, want %d %s", tt.size, resp.StatusCode, b, tt.status, tt.code)
		}
	}
}

// headerOnly sends req's request line and headers, not its body: the server
// answers an oversized body from Content-Length and closes the connection,
// so a client still writing could see a reset instead of the answer. A body
// within the limit is sent too.
func headerOnly(t *testing.T, addr string, req *http.Request) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	body, _ := io.ReadAll(req.Body)
	var b bytes.Buffer
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n", req.URL.RequestURI(), len(body))
	for k, vs := range req.Header {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	if len(body) <= reportBodyLimit {
		b.Write(body)
	}
	if _, err := conn.Write(b.Bytes()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestOpenAPIReportMediaTypes: the non-JSON bodies are documented with
// their media types.
func TestOpenAPIReportMediaTypes(t *testing.T) {
	e := newEnv(t)
	resp, err := e.srv.App().Test(httptestGet(apiv1.PathOpenAPI), -1)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]struct {
				Content map[string]json.RawMessage `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string][]string{
		apiv1.PathReports + "/{id}/photo": {"image/jpeg", "image/png"},
		apiv1.PathReview:                  {"application/json", "text/csv"},
		apiv1.PathReviewChart:             {"image/svg+xml"},
	} {
		content := doc.Paths[path]["get"].Responses["200"].Content
		if len(content) != len(want) {
			t.Errorf("%s: %d media types, want %v", path, len(content), want)
		}
		for _, mt := range want {
			if content[mt] == nil {
				t.Errorf("%s: %s not documented", path, mt)
			}
		}
	}
}

// TestReportUnitOfficers: an administrator can give each of the report-only
// units (heating, police, ...) an officer; an unknown unit is refused.
func TestReportUnitOfficers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, tc := range []struct {
		dept string
		code string
	}{
		{"heating", ""},
		{"police", ""},
		{"civil_affairs", ""},
		{"nowhere", apiv1.CodeBadRequest},
	} {
		err := e.admin.Do(ctx, "POST", apiv1.PathAdminStaff, apiv1.StaffCreate{Username: "officer-" + tc.dept, Password: "a long enough password", Role: "department_officer", Department: tc.dept}, nil)
		if got := apiv1.ErrorCode(err); got != tc.code {
			t.Errorf("officer of %s: %v (code %q), want %q", tc.dept, err, got, tc.code)
		}
	}
}
