package attacks

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// Attacks on 低保 transparency and the residents' ratings
// (docs/transparency.md): an approval without the deliberation meeting's
// record, records kept by the wrong officer or for another station's
// filings, the minutes read from the database in hand; ratings repeated,
// raced, forged for someone else's filing, replayed.

func (tg *target) rate(k *kiosk, req apiv1.RatingRequest) reply {
	tg.t.Helper()
	body, err := json.Marshal(req)
	if err != nil {
		tg.t.Fatal(err)
	}
	return tg.do(k.signed("POST", apiv1.PathKioskRatings, body, tg.clock.Now()))
}

func TestAttackRatings(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		s := tg.enrolledStation("kiosk-01")
		other := tg.newPerson("王芳", false)
		tg.enrol(s.staff, other)
		tg.staffInStore("shequ", store.RoleDepartmentOfficer, "community", "")
		officer := tg.login("shequ")
		vr := mustV[*apiv1.VerifyResponse](t)(s.k.Verify(tg.ctx(), tg.verifyRequest(s.k, s.p, s.p.fingers[apiv1.RightIndex])))
		f := mustV[*apiv1.Filing](t)(s.k.SubmitFiling(tg.ctx(), &apiv1.SubmitFilingRequest{Token: vr.Token, Service: "residence_certificate",
			IdempotencyKey: "attack-rate-0000000001", Values: map[string]string{"years": "5", "purpose": "子女入学", "copies": "1"}}))
		tok := mustV[*apiv1.VerifyResponse](t)(s.k.Verify(tg.ctx(), tg.verifyRequest(s.k, s.p, s.p.fingers[apiv1.RightIndex]))).Token
		good := apiv1.RatingRequest{Token: tok, Reference: f.Reference, Score: 5}

		// Before the answer: nothing to rate.
		tg.rate(s.k, good).want(t, http.StatusConflict, apiv1.CodeNotAnswered)
		must(t, officer.Do(tg.ctx(), "POST", apiv1.PathFilings+"/"+strconv.FormatInt(f.ID, 10)+"/decision", apiv1.Decision{Action: "accept", Reply: "证明已开具"}, nil))

		// Someone else, verified with their own finger, rates the filing.
		otherTok := mustV[*apiv1.VerifyResponse](t)(s.k.Verify(tg.ctx(), tg.verifyRequest(s.k, other, other.fingers[apiv1.RightIndex]))).Token
		forged := good
		forged.Token, forged.Score = otherTok, 1
		tg.rate(s.k, forged).want(t, http.StatusNotFound, apiv1.CodeRatingNotFound)
		// The resident's token at another kiosk.
		k2 := tg.newKiosk("kiosk-02")
		tg.rate(k2, good).want(t, http.StatusUnauthorized, apiv1.CodeTokenInvalid)
		// A made-up token; a score out of range; a reason not on the list.
		bad := good
		bad.Token = "0123456789abcdef0123456789abcdef"
		tg.rate(s.k, bad).want(t, http.StatusUnauthorized, apiv1.CodeTokenInvalid)
		bad = good
		bad.Score = 50
		tg.rate(s.k, bad).want(t, http.StatusBadRequest, apiv1.CodeBadRequest)
		bad = good
		bad.Reasons = []string{"x'); DROP TABLE ratings; --"}
		tg.rate(s.k, bad).want(t, http.StatusBadRequest, apiv1.CodeBadRequest)
		if n := tg.count("SELECT COUNT(*) FROM ratings"); n != 0 {
			t.Fatalf("ATTACK SUCCEEDED: %d ratings stored by refused requests", n)
		}

		// Twenty ratings of the same filing at once (ballot stuffing): one counts.
		var wg sync.WaitGroup
		results := make([]reply, 20)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := good
				r.Score = 1 + i%5
				body, _ := json.Marshal(r)
				resp, err := tg.hc.Do(s.k.signed("POST", apiv1.PathKioskRatings, body, tg.clock.Now()))
				if err != nil {
					return
				}
				defer resp.Body.Close()
				var eb apiv1.ErrorBody
				_ = json.NewDecoder(resp.Body).Decode(&eb)
				results[i] = reply{status: resp.StatusCode, code: eb.Error.Code}
			}()
		}
		wg.Wait()
		created := 0
		for i, r := range results {
			switch {
			case r.status == http.StatusCreated:
				created++
			case r.status == http.StatusConflict && r.code == apiv1.CodeAlreadyRated:
			default:
				t.Errorf("concurrent rating %d: %d %q", i, r.status, r.code)
			}
		}
		if created != 1 || tg.count("SELECT COUNT(*) FROM ratings") != 1 {
			t.Fatalf("ATTACK SUCCEEDED: %d ratings accepted, %d stored; want one", created, tg.count("SELECT COUNT(*) FROM ratings"))
		}
		// A replay of a signed request is refused by the kiosk signature's nonce.
		body, _ := json.Marshal(good)
		req := s.k.signed("POST", apiv1.PathKioskRatings, body, tg.clock.Now())
		first := tg.do(req)
		req2, err := http.NewRequest("POST", req.URL.String(), bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req2.Header = req.Header.Clone() // the same signature and nonce
		replayed := tg.do(req2)
		if first.code != apiv1.CodeAlreadyRated || replayed.code != apiv1.CodeReplay {
			t.Fatalf("replay: first %d %q, replay %d %q", first.status, first.code, replayed.status, replayed.code)
		}
	})
}

func TestAttackDeliberation(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		s := tg.enrolledStation("kiosk-01")
		// 低保 is for residents registered in 青山区.
		must(t, tg.admin.Do(tg.ctx(), "POST", apiv1.PathAdminResidents, apiv1.ResidentImport{Residents: []apiv1.Resident{{
			IDNumber: s.p.card.IDNumber, Name: s.p.card.Name, Gender: "M", BirthDate: s.p.card.Birth.Time().Format(time.DateOnly),
			Address: "内蒙古自治区包头市青山区幸福路1号", GridCell: "G-017", Household: "H-0001", Status: "active"}}}, nil))
		tg.staffInStore("li", store.RoleDepartmentOfficer, "civil_affairs", "")
		tg.staffInStore("lao", store.RoleDepartmentOfficer, "ageing", "")
		li, lao := tg.login("li"), tg.login("lao")
		vr := mustV[*apiv1.VerifyResponse](t)(s.k.Verify(tg.ctx(), tg.verifyRequest(s.k, s.p, s.p.fingers[apiv1.RightIndex])))
		f := mustV[*apiv1.Filing](t)(s.k.SubmitFiling(tg.ctx(), &apiv1.SubmitFilingRequest{Token: vr.Token, Service: "dibao_new", IdempotencyKey: "attack-dibao-000000001",
			Values: map[string]string{"household_size": "2", "monthly_income": "800", "income_source": "养老金", "housing": "自有住房",
				"bank_account": "6222020200112233", "phone": "13800138000", "reason": "收入减少", "vehicle": "false", "bank_name": "中国建设银行"}}))
		decide := "/api/v1/filings/" + strconv.FormatInt(f.ID, 10) + "/decision"

		// The officer approves without any meeting: refused, nothing changed.
		refused(t, li.Do(tg.ctx(), "POST", decide, apiv1.Decision{Action: "accept", Reply: "同意"}, nil), http.StatusConflict, apiv1.CodeDeliberationRequired)
		if n := tg.count("SELECT COUNT(*) FROM filings WHERE status = 'accepted'"); n != 0 {
			t.Fatalf("ATTACK SUCCEEDED: an approval without a deliberation record was stored")
		}
		now := tg.clock.Now().In(identity.ChinaTime)
		q := strconv.Itoa(now.Year()) + "Q" + strconv.Itoa((int(now.Month())+2)/3)
		meeting := apiv1.MeetingCreate{StationID: tg.station, Quarter: q, HeldOn: now.Format(time.DateOnly),
			Members: []string{"孙主任", "周委员", "居民代表吴梅"}, Minutes: "审议幸福路1号李明家庭的申请，一致同意。", Filings: []string{f.Reference}}
		// Another unit's officer records a meeting to approve it.
		refused(t, lao.Do(tg.ctx(), "POST", apiv1.PathMeetings, meeting, nil), http.StatusForbidden, apiv1.CodeForbidden)
		// A meeting of another station covering this station's filing.
		tg.station2("QS-S09")
		elsewhere := meeting
		elsewhere.StationID = "QS-S09"
		refused(t, li.Do(tg.ctx(), "POST", apiv1.PathMeetings, elsewhere, nil), http.StatusBadRequest, apiv1.CodeBadRequest)
		if n := tg.count("SELECT COUNT(*) FROM dibao_meetings"); n != 0 {
			t.Fatalf("ATTACK SUCCEEDED: %d meetings stored by refused requests", n)
		}
		var m apiv1.Meeting
		must(t, li.Do(tg.ctx(), "POST", apiv1.PathMeetings, meeting, &m))
		must(t, li.Do(tg.ctx(), "POST", decide, apiv1.Decision{Action: "accept", Reply: "同意"}, nil))

		// The database in hand: the minutes and the members' names are sealed.
		dump := tg.dump()
		for _, secret := range []string{"幸福路1号李明", "居民代表吴梅", "孙主任"} {
			if bytes.Contains(dump, []byte(secret)) {
				t.Errorf("ATTACK SUCCEEDED: %q readable in the database", secret)
			}
		}
		// The public notice: the masked number only.
		got := tg.do(tg.request("GET", apiv1.PathDibaoNotice+"?station="+tg.station+"&quarter="+q, nil))
		if got.status != 200 || !bytes.Contains(got.body, []byte(identity.MaskIDNumber(s.p.card.IDNumber))) || bytes.Contains(got.body, []byte(s.p.card.IDNumber)) ||
			bytes.Contains(got.body, []byte(s.p.card.Name)) {
			t.Fatalf("notice %d %s", got.status, got.body)
		}
	})
}
