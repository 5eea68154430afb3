package attacks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// Attacks on the features built last (the red-team pass of December 2026):
// grid workers and reports, the deliberation records, proof of life, the
// public notice, the PIN's password confirmation, duplicate cases.

// TestAttackGridWorkerReadsReports: a grid worker (an account for the
// residents of one grid cell) lists every unit's and station's issue
// reports, reads a resident's words and downloads the photo. The report
// routes are for station staff, officers, supervisors and administrators.
func TestAttackGridWorkerReadsReports(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		s := tg.enrolledStation("kiosk-01")
		vr := mustV[*apiv1.VerifyResponse](t)(s.k.Verify(tg.ctx(), tg.verifyRequest(s.k, s.p, s.p.fingers[apiv1.RightIndex])))
		var rep apiv1.Report
		got := tg.kioskReport(s.k, apiv1.SubmitReportRequest{Token: vr.Token, Kind: "neighbour_dispute", Description: "楼上邻居家暴，孩子哭喊",
			Location: "幸福路17号3单元", Photo: noisePNG(t, 7), IdempotencyKey: "attack-report-gridworker1"})
		if got.status != 201 || json.Unmarshal(got.body, &rep) != nil {
			t.Fatalf("report: %d %s", got.status, got.body)
		}
		tg.gridWorkerInStore("grid99", "G-099") // another cell than the resident's
		tg.gridWorkerInStore("grid17", "G-017") // the resident's own cell
		id := apiv1.PathReports + "/" + itoaAttack(rep.ID)
		for _, who := range []string{"grid99", "grid17"} {
			c := tg.login(who)
			var l apiv1.ReportList
			err := c.Do(tg.ctx(), "GET", apiv1.PathReports, nil, &l)
			if err == nil && len(l.Reports) > 0 {
				t.Errorf("ATTACK SUCCEEDED: grid worker %s listed %d reports (%q)", who, len(l.Reports), l.Reports[0].Description)
			}
			refused(t, err, http.StatusForbidden, apiv1.CodeForbidden)
			refused(t, c.Do(tg.ctx(), "GET", id, nil, nil), http.StatusForbidden, apiv1.CodeForbidden)
			req := tg.request("GET", id+"/photo", nil)
			req.Header.Set("Authorization", "Bearer "+c.StaffToken)
			if r := tg.do(req); r.status != http.StatusForbidden || bytes.Contains(r.body, []byte("PNG")) {
				t.Errorf("ATTACK SUCCEEDED: grid worker %s fetched the photo: %d", who, r.status)
			}
		}
	})
}

// TestAttackMeetingRecordOtherUnit: the minutes and members of a 低保
// deliberation meeting (who was discussed, who sat) are read by an officer
// of a unit that has nothing to do with 低保 (老龄办, 城管, 派出所).
func TestAttackMeetingRecordOtherUnit(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		tg.staffInStore("li", store.RoleDepartmentOfficer, "civil_affairs", "")
		tg.staffInStore("lao", store.RoleDepartmentOfficer, "ageing", "")
		tg.staffInStore("boss", store.RoleSupervisor, "", "")
		li, lao := tg.login("li"), tg.login("lao")
		now := tg.clock.Now().In(identity.ChinaTime)
		q := quarterAttack(now)
		const minutes = "审议幸福路1号李明家庭：患尿毒症，每周透析三次，一致同意。"
		var m apiv1.Meeting
		must(t, li.Do(tg.ctx(), "POST", apiv1.PathMeetings, apiv1.MeetingCreate{StationID: tg.station, Quarter: q, HeldOn: now.Format(time.DateOnly),
			Members: []string{"孙主任", "周委员", "居民代表吴梅"}, Minutes: minutes}, &m))
		one := apiv1.PathMeetings + "/" + strconv.FormatInt(m.ID, 10)
		var l apiv1.MeetingList
		err := lao.Do(tg.ctx(), "GET", apiv1.PathMeetings+"?station="+tg.station, nil, &l)
		if err == nil && len(l.Meetings) > 0 {
			t.Errorf("ATTACK SUCCEEDED: the ageing office's officer read %d meetings' minutes (%q)", len(l.Meetings), l.Meetings[0].Minutes)
		}
		refused(t, err, http.StatusForbidden, apiv1.CodeForbidden)
		refused(t, lao.Do(tg.ctx(), "GET", one, nil, nil), http.StatusForbidden, apiv1.CodeForbidden)
		c, _ := tg.officeLogin("lao")
		for _, path := range []string{"/office/dibao", "/office/dibao/" + strconv.FormatInt(m.ID, 10)} {
			if r := tg.office("GET", path, nil, c.Value); r.status != http.StatusForbidden || strings.Contains(r.body, "尿毒症") || strings.Contains(r.body, "吴梅") {
				t.Errorf("ATTACK NOT REFUSED AS EXPECTED: %s for the ageing office: %d", path, r.status)
			}
		}
		// Those who keep or oversee the records still read them.
		for _, who := range []string{"li", "boss"} {
			var got apiv1.Meeting
			must(t, tg.login(who).Do(tg.ctx(), "GET", one, nil, &got))
			if got.Minutes != minutes {
				t.Errorf("%s reads minutes %q", who, got.Minutes)
			}
		}
		must(t, tg.admin.Do(tg.ctx(), "GET", one, nil, nil))
	})
}

func quarterAttack(t time.Time) string {
	return strconv.Itoa(t.Year()) + "Q" + strconv.Itoa((int(t.Month())+2)/3)
}

// TestAttackProofOfLife: the pensioner's yearly proof of life
// (养老金领取资格认证) recorded twice, for someone who is not a pensioner,
// with another kiosk's or a spent token, by a family member's 代办 token
// (the one thing an agent must never do: certify that someone else is
// alive), or by a grid worker without the kiosk.
func TestAttackProofOfLife(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		s := tg.enrolledStation("kiosk-01") // 李明: household H-0001, not a pensioner
		ctx := tg.ctx()
		const svc = "pension_certification"
		pen := tg.resident("赵老汉", time.Date(1944, 5, 1, 0, 0, 0, 0, time.UTC), "H-0001", "", "pensioner")
		tg.enrol(s.staff, pen)
		// Someone who is not a pensioner.
		_, err := s.k.Certify(ctx, tg.agentToken(s), svc)
		refused(t, err, http.StatusForbidden, apiv1.CodeNotEligible)
		// The pensioner: once a year, a second time answers the first.
		tok := mustV[*apiv1.VerifyResponse](t)(s.k.Verify(ctx, tg.verifyRequest(s.k, pen, pen.fingers[apiv1.RightIndex]))).Token
		first := mustV[*apiv1.Certification](t)(s.k.Certify(ctx, tok, svc))
		if first.Already {
			t.Fatal("the first certification says already")
		}
		again := mustV[*apiv1.Certification](t)(s.k.Certify(ctx, tok, svc))
		tok2 := mustV[*apiv1.VerifyResponse](t)(s.k.Verify(ctx, tg.verifyRequest(s.k, pen, pen.fingers[apiv1.RightIndex]))).Token
		third := mustV[*apiv1.Certification](t)(s.k.Certify(ctx, tok2, svc))
		if !again.Already || !third.Already || again.CertifiedAt != first.CertifiedAt || third.CertifiedAt != first.CertifiedAt {
			t.Errorf("ATTACK SUCCEEDED: certified again: %+v %+v", again, third)
		}
		// The token at another kiosk; a spent token.
		k2 := tg.newKiosk("kiosk-02")
		_, err = k2.Certify(ctx, tok2, svc)
		refused(t, err, http.StatusUnauthorized, apiv1.CodeTokenInvalid)
		must(t, func() error {
			_, err := s.k.SubmitFiling(ctx, &apiv1.SubmitFilingRequest{Token: tok2, Service: "residence_certificate", IdempotencyKey: "attack-pol-spent-000001", Values: certificate})
			return err
		}())
		_, err = s.k.Certify(ctx, tok2, svc)
		refused(t, err, http.StatusUnauthorized, apiv1.CodeTokenInvalid)
		// 代办: 李明 binds his token to his household's second pensioner,
		// who never came to the kiosk, and certifies that she is alive.
		grandma := tg.resident("钱老太", time.Date(1938, 2, 1, 0, 0, 0, 0, time.UTC), "H-0001", "", "pensioner")
		agentTok := tg.agentTokenFor(s, grandma)
		_, err = s.k.Certify(ctx, agentTok, svc)
		refused(t, err, http.StatusConflict, apiv1.CodeAgentTokenBound)
		// A grid worker has no kiosk key: the route is not reached.
		tg.gridWorkerInStore("grid17", "G-017")
		gw := tg.login("grid17")
		refused(t, gw.Do(ctx, "POST", apiv1.PathKioskCertify, apiv1.CertifyRequest{Token: agentTok, Service: svc}, nil), http.StatusUnauthorized, apiv1.CodeSignatureMissing)
		// A made-up service of kind certification does not exist; a form
		// service is not certified.
		_, err = s.k.Certify(ctx, tok, "residence_certificate")
		refused(t, err, http.StatusBadRequest, apiv1.CodeBadRequest)
		if n := tg.count(`SELECT count(*) FROM certifications`); n != 1 {
			t.Fatalf("ATTACK SUCCEEDED: %d certifications stored, want 1 (the pensioner's own)", n)
		}
		if n := len(tg.audits("pension.certify")); n != 1 {
			t.Fatalf("%d pension.certify audit records, want 1", n)
		}
	})
}

// TestAttackNoticeLeaks: the public 低保 notice (no login) shows anything
// beyond the masked ID number, the household size and the dates: a name,
// an address, a phone, a bank account, an income, the minutes; or a filing
// that is not an approved 低保 filing of the station's meetings (a
// rejected one, another service's, another station's).
func TestAttackNoticeLeaks(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		s := tg.enrolledStation("kiosk-01")
		ctx := tg.ctx()
		must(t, tg.admin.Do(ctx, "POST", apiv1.PathAdminResidents, apiv1.ResidentImport{Residents: []apiv1.Resident{{
			IDNumber: s.p.card.IDNumber, Name: s.p.card.Name, Gender: "M", BirthDate: s.p.card.Birth.Time().Format(time.DateOnly),
			Address: "内蒙古自治区包头市青山区幸福路1号", GridCell: "G-017", Household: "H-0001", Status: "active"}}}, nil))
		other := tg.resident("孙桂兰", time.Date(1960, 7, 1, 0, 0, 0, 0, time.UTC), "H-0777", "")
		tg.enrol(s.staff, other)
		tg.staffInStore("li", store.RoleDepartmentOfficer, "civil_affairs", "")
		li := tg.login("li")
		dibao := func(p *person, key, income string) *apiv1.Filing {
			vr := mustV[*apiv1.VerifyResponse](t)(s.k.Verify(ctx, tg.verifyRequest(s.k, p, p.fingers[apiv1.RightIndex])))
			return mustV[*apiv1.Filing](t)(s.k.SubmitFiling(ctx, &apiv1.SubmitFilingRequest{Token: vr.Token, Service: "dibao_new", IdempotencyKey: key,
				Values: map[string]string{"household_size": "3", "monthly_income": income, "income_source": "其他", "housing": "自有住房",
					"bank_account": "6222020200112233", "phone": "13800138000", "reason": "丈夫尿毒症透析", "vehicle": "false", "bank_name": "中国建设银行"}}))
		}
		approved := dibao(s.p, "attack-notice-0000000001", "812")
		refusedF := dibao(other, "attack-notice-0000000002", "913")
		// Another service of the same station, accepted: not a 低保 filing.
		assist := tg.filing(s, s.p, "temporary_assistance", assistance)
		now := tg.clock.Now().In(identity.ChinaTime)
		q := quarterAttack(now)
		meeting := apiv1.MeetingCreate{StationID: tg.station, Quarter: q, HeldOn: now.Format(time.DateOnly),
			Members: []string{"孙主任", "周委员", "居民代表吴梅"}, Minutes: "审议李明、孙桂兰两户。孙桂兰家有轿车，不同意。", Filings: []string{assist.Reference}}
		refused(t, li.Do(ctx, "POST", apiv1.PathMeetings, meeting, nil), http.StatusBadRequest, apiv1.CodeBadRequest)
		meeting.Filings = []string{approved.Reference, refusedF.Reference}
		must(t, li.Do(ctx, "POST", apiv1.PathMeetings, meeting, nil))
		decide := func(f *apiv1.Filing, action, reply string) {
			must(t, li.Do(ctx, "POST", fmt.Sprintf("%s/%d/decision", apiv1.PathFilings, f.ID), apiv1.Decision{Action: action, Reply: reply}, nil))
		}
		decide(approved, "accept", "同意")
		decide(refusedF, "reject", "家庭有机动车辆")
		must(t, tg.login("li").Do(ctx, "POST", fmt.Sprintf("%s/%d/decision", apiv1.PathFilings, assist.ID), apiv1.Decision{Action: "accept", Reply: "同意"}, nil))

		js := tg.do(tg.request("GET", apiv1.PathDibaoNotice+"?station="+tg.station+"&quarter="+q, nil))
		page := tg.office("GET", "/notice/dibao?"+url.Values{"station": {tg.station}, "quarter": {q}}.Encode(), nil, "")
		var n apiv1.DibaoNotice
		if js.status != 200 || page.status != 200 || json.Unmarshal(js.body, &n) != nil {
			t.Fatalf("notice: %d %d", js.status, page.status)
		}
		if len(n.Entries) != 1 || n.Entries[0].Reference != approved.Reference || n.Entries[0].MaskedID != identity.MaskIDNumber(s.p.card.IDNumber) || n.Entries[0].HouseholdSize != "3" {
			t.Errorf("ATTACK SUCCEEDED: the notice lists %+v, want the approved 低保 filing only", n.Entries)
		}
		secrets := []string{s.p.card.IDNumber, s.p.card.Name, other.card.IDNumber, other.card.Name, identity.MaskIDNumber(other.card.IDNumber),
			"幸福路", "13800138000", "6222020200112233", "812", "913", "尿毒症", "吴梅", "孙主任", "轿车", refusedF.Reference, assist.Reference, "中国建设银行"}
		for _, body := range []string{string(js.body), page.body} {
			for _, sec := range secrets {
				if strings.Contains(body, sec) {
					t.Errorf("ATTACK SUCCEEDED: the public notice shows %q", sec)
				}
			}
		}
		if cc := page.resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("notice page Cache-Control %q", cc)
		}
		// Another station's notice is empty; a station that does not exist is not found.
		tg.station2("QS-S09")
		var n2 apiv1.DibaoNotice
		if r := tg.do(tg.request("GET", apiv1.PathDibaoNotice+"?station=QS-S09&quarter="+q, nil)); r.status != 200 || json.Unmarshal(r.body, &n2) != nil || len(n2.Entries) != 0 {
			t.Errorf("another station's notice: %d %s", r.status, r.body)
		}
		tg.do(tg.request("GET", apiv1.PathDibaoNotice+"?station=%27%20OR%201=1--&quarter="+q, nil)).want(t, http.StatusNotFound, apiv1.CodeNotFound)
	})
}

// TestAttackPINSetPasswordGuess: setting one's kiosk PIN is confirmed with
// one's password (so that the next person at a PC left logged in cannot set
// it). Each confirmation is a password check: without the login's limit it
// is an unlimited password oracle for whoever holds the session.
func TestAttackPINSetPasswordGuess(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		tg.staffInStore("zhou", store.RoleStationStaff, "", tg.station)
		zhou := tg.login("zhou")
		ctx := tg.ctx()
		tg.clock.Freeze()
		limited := 0
		for i := range 15 {
			err := zhou.Do(ctx, "PUT", apiv1.PathSessionPIN, apiv1.PINChange{Password: fmt.Sprintf("guess number %d", i), PIN: "246813"}, nil)
			if apiv1.ErrorCode(err) == apiv1.CodeRateLimited {
				limited++
			}
		}
		if limited == 0 {
			t.Fatal("ATTACK SUCCEEDED: 15 password guesses through the PIN form, none limited")
		}
		// The right password does not get through either until the limit refills,
		// on the API or the office page.
		refused(t, zhou.Do(ctx, "PUT", apiv1.PathSessionPIN, apiv1.PINChange{Password: pw, PIN: "246813"}, nil), http.StatusTooManyRequests, apiv1.CodeRateLimited)
		_, err := tg.client().Login(ctx, "zhou", pw)
		refused(t, err, http.StatusTooManyRequests, apiv1.CodeRateLimited)
		tg.clock.Add(2 * time.Minute) // the limit refills (0.2 a second); the session is still open
		must(t, zhou.Do(ctx, "PUT", apiv1.PathSessionPIN, apiv1.PINChange{Password: pw, PIN: "246813"}, nil))
	})
}

// TestAttackCaseOtherStation: a supervisor of another station (or one with
// no station) lists the duplicate-enrolment cases of every station, with
// both residents' full ID numbers, and overrides one: docs/roles.md gives
// the four-eyes decisions to the supervisors of the case's station, as for
// replacements.
func TestAttackCaseOtherStation(t *testing.T) {
	t.Skip("issue: duplicate cases are not scoped to a station: any supervisor lists every case (full ID numbers) and overrides it (server/api enrol.go decideCase, handleListCases; the store's DecideDedupCase checks the role only). enrol.go is being changed by the bulk-enrolment work; fix there: the kiosk's station on the case, checked in DecideDedupCase as DecideReplacement does")
	forEach(t, func(t *testing.T, tg *target) {
		s := tg.enrolledStation("kiosk-01")
		q := tg.newPerson("周八", false)
		_, err := s.staff.Enrol(tg.ctx(), tg.enrolRequest(s.staff, q, s.p.fingers))
		var ae *apiv1.Error
		if !errors.As(err, &ae) || ae.Code != apiv1.CodeDuplicateSuspected || ae.CaseID == 0 {
			t.Fatalf("no duplicate case: %v", err)
		}
		tg.station2("QS-S99")
		tg.staffInStore("far", store.RoleSupervisor, "", "QS-S99")
		far := tg.login("far")
		var l apiv1.CaseList
		must(t, far.Do(tg.ctx(), "GET", apiv1.PathCases, nil, &l))
		if len(l.Cases) != 0 {
			t.Errorf("ATTACK SUCCEEDED: a supervisor of another station lists %d cases (%s matches %s)", len(l.Cases), l.Cases[0].IDNumber, l.Cases[0].MatchedIDNumber)
		}
		refused(t, far.Do(tg.ctx(), "POST", fmt.Sprintf("%s/%d/override", apiv1.PathCases, ae.CaseID), apiv1.CaseDecision{Reason: "远程放行"}, nil), http.StatusForbidden, apiv1.CodeNotApprover)
	})
}

// TestAttackUpcomingPastSweep: the "becomes eligible soon" list of a grid
// cell (station staff) asked for periods in the past: each year's window
// lists every resident who crossed an age then (16, 60, 80) with name,
// household and birthday, so a sweep over the years dumps the cell's
// population. The period may not start before today.
func TestAttackUpcomingPastSweep(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		tg.resident("小张", time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC), "H-0101", "")
		tg.staffInStore("clerk", store.RoleStationStaff, "", tg.station)
		clerk := tg.login("clerk")
		today := identity.ChinaDate(tg.clock.Now())
		for _, from := range []string{"2005-06-01", "1950-06-01", today.AddDays(-1).String()} {
			to, _ := identity.ParseDate(from)
			var l apiv1.UpcomingList
			err := clerk.Do(tg.ctx(), "GET", apiv1.PathEligibilityUpcoming+"?grid_cell=G-017&from="+from+"&to="+to.AddDays(365).String(), nil, &l)
			if err == nil && len(l.Residents) > 0 {
				t.Errorf("ATTACK SUCCEEDED: the period from %s lists %s, eligible on %s", from, l.Residents[0].Name, l.Residents[0].EligibleOn)
			}
			refused(t, err, http.StatusBadRequest, apiv1.CodeBadRequest)
		}
		must(t, clerk.Do(tg.ctx(), "GET", apiv1.PathEligibilityUpcoming+"?grid_cell=G-017", nil, nil))
	})
}

// TestAttackRatingsAgentAndOthersReports: a family member who filed for
// the principal (代办) rates the principal's filing, with the bound token or
// their own; a resident rates another resident's answered report; the
// notice of new replies counts another resident's replies.
func TestAttackRatingsAgentAndOthersReports(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		s := tg.enrolledStation("kiosk-01")
		ctx := tg.ctx()
		mother := tg.resident("张秀英", time.Date(1940, 3, 1, 0, 0, 0, 0, time.UTC), "H-0001", "")
		ar := mustV[*apiv1.AgentResponse](t)(s.k.Agent(ctx, tg.agentToken(s), mother.card))
		tok := tg.agentTokenFor(s, mother)
		f := mustV[*apiv1.Filing](t)(s.k.SubmitFiling(ctx, &apiv1.SubmitFilingRequest{Token: tok, Service: "residence_certificate",
			IdempotencyKey: "attack-rate-agent-000001", Values: certificate, PrincipalID: ar.Principal.ResidentID}))
		tg.staffInStore("shequ", store.RoleDepartmentOfficer, "community", "")
		must(t, tg.login("shequ").Do(ctx, "POST", fmt.Sprintf("%s/%d/decision", apiv1.PathFilings, f.ID), apiv1.Decision{Action: "accept", Reply: "已开具"}, nil))
		// The bound token, then the agent's own.
		tg.rate(s.k, apiv1.RatingRequest{Token: tg.agentTokenFor(s, mother), Reference: f.Reference, Score: 5}).want(t, http.StatusConflict, apiv1.CodeAgentTokenBound)
		tg.rate(s.k, apiv1.RatingRequest{Token: tg.agentToken(s), Reference: f.Reference, Score: 5}).want(t, http.StatusNotFound, apiv1.CodeRatingNotFound)
		// Another resident's answered report.
		other := tg.resident("孙桂兰", time.Date(1960, 7, 1, 0, 0, 0, 0, time.UTC), "H-0777", "")
		tg.enrol(s.staff, other)
		otherTok := mustV[*apiv1.VerifyResponse](t)(s.k.Verify(ctx, tg.verifyRequest(s.k, other, other.fingers[apiv1.RightIndex]))).Token
		var rep apiv1.Report
		got := tg.kioskReport(s.k, apiv1.SubmitReportRequest{Token: otherTok, Kind: "noise", Description: "夜间施工", IdempotencyKey: "attack-rate-report-00001"})
		if got.status != 201 || json.Unmarshal(got.body, &rep) != nil {
			t.Fatalf("report: %d %s", got.status, got.body)
		}
		tg.staffInStore("eco", store.RoleDepartmentOfficer, "ecology", "")
		must(t, tg.login("eco").Do(ctx, "POST", apiv1.PathReports+"/"+itoaAttack(rep.ID)+"/action", apiv1.ReportAction{Action: "reply", Reply: "已责令停工"}, nil))
		vr := mustV[*apiv1.VerifyResponse](t)(s.k.Verify(ctx, tg.verifyRequest(s.k, s.p, s.p.fingers[apiv1.RightIndex])))
		tg.rate(s.k, apiv1.RatingRequest{Token: vr.Token, Reference: rep.Reference, Score: 1}).want(t, http.StatusNotFound, apiv1.CodeRatingNotFound)
		if n := tg.count("SELECT COUNT(*) FROM ratings"); n != 0 {
			t.Fatalf("ATTACK SUCCEEDED: %d ratings stored", n)
		}
		// 李明's notice counts his own replies only (none); 孙桂兰's, hers.
		if vr.NewReplies != 0 {
			t.Errorf("ATTACK SUCCEEDED: 李明 is told of %d new replies (孙桂兰's report, his mother's filing)", vr.NewReplies)
		}
		if vr2 := mustV[*apiv1.VerifyResponse](t)(s.k.Verify(ctx, tg.verifyRequest(s.k, other, other.fingers[apiv1.RightIndex]))); vr2.NewReplies != 1 {
			t.Errorf("孙桂兰's new replies = %d, want 1", vr2.NewReplies)
		}
		// His status list does not carry her report.
		fl := mustV[*apiv1.FilingList](t)(s.k.Status(ctx, vr.Token))
		if strings.Contains(fmt.Sprint(fl), rep.Reference) || strings.Contains(fmt.Sprint(fl), "夜间施工") {
			t.Errorf("ATTACK SUCCEEDED: another resident's report in 我的申请: %+v", fl)
		}
	})
}

// TestAttackOfficeSessionOutlivesAccount: an account disabled, or its role
// changed, in the staff table (a DBA's emergency stop, or a disable whose
// closing of the sessions failed) keeps its back-office cookie: the API
// re-read the staff record on every request, the office pages did not.
func TestAttackOfficeSessionOutlivesAccount(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		tg.staffInStore("li", store.RoleDepartmentOfficer, "civil_affairs", "")
		tg.staffInStore("zhang", store.RoleStationStaff, "", tg.station)
		li, _ := tg.officeLogin("li")
		zhang, _ := tg.officeLogin("zhang")
		if r := tg.office("GET", "/office/decided", nil, li.Value); r.status != http.StatusOK {
			t.Fatalf("decided page: %d", r.status)
		}
		tg.exec(`UPDATE staff SET disabled = ? WHERE username = ?`, true, "li")
		if r := tg.office("GET", "/office/decided", nil, li.Value); r.status != http.StatusSeeOther {
			t.Errorf("ATTACK SUCCEEDED: a disabled officer's cookie opens /office/decided: %d", r.status)
		}
		if r := tg.office("GET", "/office", nil, li.Value); !strings.Contains(r.body, "工作人员登录") {
			t.Errorf("ATTACK SUCCEEDED: a disabled officer's cookie opens the office home: %d", r.status)
		}
		// Made an administrator behind the server's back: the old session
		// does not carry the new role, and ends.
		tg.exec(`UPDATE staff SET role = ? WHERE username = ?`, string(store.RoleAdmin), "zhang")
		if r := tg.office("GET", "/office/catalogue", nil, zhang.Value); r.status != http.StatusSeeOther {
			t.Errorf("ATTACK NOT REFUSED AS EXPECTED: the changed role's old cookie on the admin page: %d", r.status)
		}
		if r := tg.office("GET", "/office/pin", nil, zhang.Value); r.status != http.StatusSeeOther {
			t.Errorf("ATTACK SUCCEEDED: the session of a changed role goes on: %d", r.status)
		}
	})
}

// TestAttackReplacementScoreOracle: a staff member who may not decide a
// replacement (the requester, an officer, a grid worker) asks to approve it
// "on a match" and is told the score of the new captures against the
// enrolment in force: the approver rule was the store's, checked after the
// API's match check, so the requester learned how close their fingers came.
// Now the store checks the basis after who decides.
func TestAttackReplacementScoreOracle(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		s := tg.enrolledStation("kiosk-01")
		impostor := map[apiv1.Finger]*finger{apiv1.RightIndex: newFinger(), apiv1.RightMiddle: newFinger()}
		er, err := s.staff.Enrol(tg.ctx(), tg.enrolRequest(s.staff, s.p, impostor))
		if err != nil || !er.Pending || er.ReplacementID == 0 {
			t.Fatalf("replacement request: %+v %v", er, err)
		}
		tg.staffInStore("li", store.RoleDepartmentOfficer, "civil_affairs", "")
		tg.gridWorkerInStore("grid17", "G-017")
		for _, who := range []*apiv1.Client{tg.login("staff-kiosk-01"), tg.login("li"), tg.login("grid17")} {
			err := who.Do(tg.ctx(), "POST", fmt.Sprintf("%s/%d/approve", apiv1.PathReplacements, er.ReplacementID),
				apiv1.ReplacementDecision{Basis: apiv1.BasisMatch, Reason: "看看分数"}, nil)
			if strings.Contains(fmt.Sprint(err), "score") {
				t.Errorf("ATTACK SUCCEEDED: %s learns %v", who.StaffToken[:6], err)
			}
			if code := apiv1.ErrorCode(err); code != apiv1.CodeNotApprover && code != apiv1.CodeSelfApproval && code != apiv1.CodeForbidden {
				t.Errorf("non-approver: %v", err)
			}
		}
	})
}

// TestAttackRacedDuplicateEnrolment: a dishonest staff member enrols the
// same two fingers under two ID numbers at once, at two kiosks, so that
// each enrolment's duplicate search runs before the other is stored: one
// person then holds two identities (two pensions, two 低保 households).
func TestAttackRacedDuplicateEnrolment(t *testing.T) {
	t.Skip("issue: the duplicate search (in-memory gallery) and the enrolment's commit are not serialized: two enrolments of the same fingers under two ID numbers at once both pass (both stores, every run); fix in enrol.go (being changed by the bulk-enrolment work): in the enrolment's transaction, compare the probes with the enrolments committed after the gallery's applied change-log position (a fence), under a lock that orders enrolments")
	forEach(t, func(t *testing.T, tg *target) {
		tg.staffInStore("clerk-a", store.RoleStationStaff, "", tg.station)
		tg.staffInStore("clerk-b", store.RoleStationStaff, "", tg.station)
		ka := tg.newKiosk("kiosk-race-a").staffAt("clerk-a")
		kb := tg.newKiosk("kiosk-race-b").staffAt("clerk-b")
		p, q := tg.newPerson("吴一", false), tg.newPerson("吴二", false)
		fingers := p.fingers // the same person's fingers under both numbers
		ra, rb := tg.enrolRequest(ka, p, fingers), tg.enrolRequest(kb, q, fingers)
		errs := make(chan error, 2)
		go func() { _, err := ka.Enrol(tg.ctx(), ra); errs <- err }()
		go func() { _, err := kb.Enrol(tg.ctx(), rb); errs <- err }()
		var got []string
		for range 2 {
			err := <-errs
			got = append(got, apiv1.ErrorCode(err))
		}
		if n := tg.count(`SELECT count(DISTINCT resident_id) FROM enrolments`); n > 1 {
			t.Fatalf("ATTACK SUCCEEDED: one person's fingers enrolled under %d ID numbers (answers %q)", n, got)
		}
	})
}

// TestAttackLoginCSRF: a page on another site posts the back office's login
// form with the attacker's own credentials: the staff member's browser is
// then logged in as the attacker (and what they type, a search by ID
// number, a report filed at the desk, lands in the attacker's account).
// The login form has no session to take a CSRF token from; the browser's
// Sec-Fetch-Site says where the form came from.
func TestAttackLoginCSRF(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		tg.staffInStore("mole", store.RoleStationStaff, "", tg.station)
		post := func(site string) officeReply {
			req, err := http.NewRequest("POST", tg.base+"/office/login", strings.NewReader(url.Values{"username": {"mole"}, "password": {pw}}.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if site != "" {
				req.Header.Set("Sec-Fetch-Site", site)
			}
			hc := &http.Client{Transport: tg.hc.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			return officeReply{status: resp.StatusCode, resp: resp}
		}
		for _, site := range []string{"cross-site", "same-site"} {
			r := post(site)
			if r.status != http.StatusForbidden || len(r.resp.Cookies()) != 0 {
				t.Errorf("ATTACK SUCCEEDED: a %s login form logged the browser in: %d %v", site, r.status, r.resp.Cookies())
			}
		}
		// The login page itself (same-origin, or a browser that does not say).
		for _, site := range []string{"same-origin", "none", ""} {
			if r := post(site); r.status != http.StatusSeeOther || len(r.resp.Cookies()) == 0 {
				t.Errorf("login with Sec-Fetch-Site %q: %d", site, r.status)
			}
		}
		// A cross-site form with a stolen or guessed CSRF token is refused as well.
		c, _ := tg.officeLogin("mole")
		m := csrfField.FindStringSubmatch(tg.office("GET", "/office/pin", nil, c.Value).body)
		if m == nil {
			t.Fatal("no csrf field")
		}
		req, _ := http.NewRequest("POST", tg.base+"/office/logout", strings.NewReader(url.Values{"csrf": {m[1]}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Cookie", "vk_session="+c.Value)
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		if r := tg.do(req); r.status != http.StatusForbidden {
			t.Errorf("ATTACK NOT REFUSED AS EXPECTED: a cross-site form with the token: %d", r.status)
		}
	})
}

// TestAttackFutureMeeting: a 低保 officer records a deliberation meeting
// dated later this quarter (or next quarter), attaches the filing and
// approves it today: the approval rests on a meeting not yet held, and the
// notice names a date to come.
func TestAttackFutureMeeting(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		tg.staffInStore("li", store.RoleDepartmentOfficer, "civil_affairs", "")
		li := tg.login("li")
		now := tg.clock.Now().In(identity.ChinaTime)
		for _, held := range []time.Time{now.AddDate(0, 0, 1), now.AddDate(0, 3, 0)} {
			err := li.Do(tg.ctx(), "POST", apiv1.PathMeetings, apiv1.MeetingCreate{StationID: tg.station, Quarter: quarterAttack(held), HeldOn: held.Format(time.DateOnly),
				Members: []string{"孙主任", "周委员", "居民代表吴梅"}, Minutes: "预先写好的纪要：一致同意。"}, nil)
			refused(t, err, http.StatusBadRequest, apiv1.CodeBadRequest)
		}
		if n := tg.count(`SELECT count(*) FROM dibao_meetings`); n != 0 {
			t.Fatalf("ATTACK SUCCEEDED: %d meetings recorded before they were held", n)
		}
		must(t, li.Do(tg.ctx(), "POST", apiv1.PathMeetings, apiv1.MeetingCreate{StationID: tg.station, Quarter: quarterAttack(now), HeldOn: now.Format(time.DateOnly),
			Members: []string{"孙主任", "周委员", "居民代表吴梅"}, Minutes: "今天的会议。"}, nil))
	})
}
