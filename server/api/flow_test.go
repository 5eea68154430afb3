package api

import (
	"context"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
)

func TestEnrolVerifyFileAndReply(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.mustStaff("zhang", "station_staff", "", "QS-S01")
	e.mustStaff("li", "department_officer", "civil_affairs", "")
	k := e.newKiosk("kiosk-01")
	p := e.newPerson("王秀英", time.Date(1950, 3, 4, 0, 0, 0, 0, time.UTC))

	staffKiosk := e.atKiosk(k, "zhang")
	er := e.enrol(staffKiosk, p)
	if er.Replaced || er.Templates != 6 {
		t.Fatalf("enrol: %+v", er)
	}
	if e.srv.Gallery().Len() != 6 || e.srv.Gallery().Residents() != 1 {
		t.Fatalf("gallery has %d templates of %d residents", e.srv.Gallery().Len(), e.srv.Gallery().Residents())
	}

	vr := must[*apiv1.VerifyResponse](t)(k.Verify(ctx, e.verifyRequest(k, p, p.fingers[apiv1.RightIndex])))
	if vr.Token == "" || vr.Resident.Name != "王秀英" || vr.Resident.IDNumberMasked == p.card.IDNumber {
		t.Fatalf("verify: %+v", vr)
	}

	form := must[*apiv1.Form](t)(k.Form(ctx, vr.Token, "dibao_new"))
	if form.Values["name"] != "王秀英" || form.Values["id_number"] != p.card.IDNumber || form.Values["address"] == "" {
		t.Fatalf("prefill: %v", form.Values)
	}
	values := map[string]string{
		"household_size": "2", "monthly_income": "800", "income_source": "养老金", "housing": "自有住房",
		"bank_account": "6222020200112233", "phone": "13800138000", "reason": "老伴去世，收入减少", "vehicle": "false", "bank_name": "中国建设银行",
	}
	sub := &apiv1.SubmitFilingRequest{Token: vr.Token, Service: "dibao_new", IdempotencyKey: "7f1c2a9e-0000-4000-8000-000000000001", Values: values}
	f1 := must[*apiv1.Filing](t)(k.SubmitFiling(ctx, sub))
	if f1.Status != apiv1.FilingSubmitted || f1.Reference == "" || f1.Department != "civil_affairs" ||
		f1.StatusLabel != "待受理" || f1.CatalogueVersion != 1 || f1.ServiceName != "最低生活保障（低保）新申请" {
		t.Fatalf("filing: %+v", f1)
	}
	// A retry (the answer was lost) returns the same filing.
	f2 := must[*apiv1.Filing](t)(k.SubmitFiling(ctx, sub))
	if f2.ID != f1.ID {
		t.Fatalf("retry created filing %d, first was %d", f2.ID, f1.ID)
	}
	// The token is spent: a different filing with it fails.
	sub2 := *sub
	sub2.IdempotencyKey = "7f1c2a9e-0000-4000-8000-000000000002"
	_, err := k.SubmitFiling(ctx, &sub2)
	wantCode(t, err, apiv1.CodeTokenInvalid)

	// The officer asks for more information.
	officer := e.login("li")
	var list apiv1.FilingList
	must[struct{}](t)(struct{}{}, officer.Do(ctx, "GET", apiv1.PathFilings, nil, &list))
	if len(list.Filings) != 1 || list.Filings[0].ID != f1.ID {
		t.Fatalf("officer list: %+v", list)
	}
	var decided apiv1.Filing
	must[struct{}](t)(struct{}{}, officer.Do(ctx, "POST", apiv1.PathFilings+"/"+itoa(f1.ID)+"/decision",
		apiv1.Decision{Action: apiv1.DecisionRequestInfo, Reply: "请补交近三个月收入证明"}, &decided))
	if decided.Status != apiv1.FilingNeedInfo {
		t.Fatalf("decision: %+v", decided)
	}

	// Next visit: card + vein again, then the status shows the reply.
	e.clock.Add(24 * time.Hour)
	vr2 := must[*apiv1.VerifyResponse](t)(k.Verify(ctx, e.verifyRequest(k, p, p.fingers[apiv1.RightIndex])))
	st := must[*apiv1.FilingList](t)(k.Status(ctx, vr2.Token))
	if len(st.Filings) != 1 || st.Filings[0].Reply != "请补交近三个月收入证明" || st.Filings[0].Status != apiv1.FilingNeedInfo ||
		st.Filings[0].StatusLabel != apiv1.FilingStatusLabel(apiv1.FilingNeedInfo).ZH || st.Filings[0].StatusLabelEN != "More information needed" {
		t.Fatalf("status: %+v", st)
	}
	if st.Filings[0].Values != nil {
		t.Fatal("the kiosk status view must not carry form values")
	}
}

func itoa(n int64) string { return fmtInt(n) }
