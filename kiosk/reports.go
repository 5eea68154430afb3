package kiosk

import (
	"context"

	"github.com/qingshan-gov/veinkiosk/kiosk/session"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
)

// Residents' issue reports at the kiosk (docs/reports.md): the menu offers
// 反映问题 beside the services; its form is the kinds of problem (one button
// each), the resident's words (the on-screen keyboard) and, optionally, the
// place. It goes through the same screens as a filing: form, submitting,
// receipt (the reference and the answer's due date). The grid cell is the
// resident's own in the population database (the server's default).

// ReportService is the menu entry of an issue report; its code is
// reserved in the catalogue (catalogue.ReservedReportCode), so no service
// takes it.
var ReportService = session.Service{Code: "report", NameZH: "反映问题（诉求）", NameEN: "Report a problem"}

// report form fields.
const (
	reportKind        = "kind"
	reportDescription = "description"
	reportLocation    = "location"
	// reportMaxLen is what the kiosk's keyboard takes (the server allows
	// 2000 characters; the desk takes longer accounts).
	reportMaxLen = 200
)

// reportKinds fetches the kinds of report.
func (a *ServerClient) reportKinds(ctx context.Context) (*apiv1.ReportKindList, error) {
	var l apiv1.ReportKindList
	if err := a.C.Do(ctx, "GET", apiv1.PathKioskReportKinds, nil, &l); err != nil {
		return nil, mapErr(err)
	}
	return &l, nil
}

// reportForm is the report's form: the kind as a choice of the kinds'
// Chinese names (English alongside), the words, the place.
func (a *ServerClient) reportForm(ctx context.Context) (session.Form, error) {
	l, err := a.reportKinds(ctx)
	if err != nil {
		return session.Form{Service: ReportService}, err
	}
	kind := session.Field{Key: reportKind, LabelZH: "问题类别", LabelEN: "Kind of problem", Editable: true, Kind: "choice", Required: true}
	for _, k := range l.Kinds {
		kind.Choices = append(kind.Choices, k.Name)
		kind.ChoicesEN = append(kind.ChoicesEN, k.NameEn)
	}
	return session.Form{Service: ReportService, Fields: []session.Field{
		kind,
		{Key: reportDescription, LabelZH: "问题描述", LabelEN: "What is wrong", Editable: true, Kind: "text", Required: true, MaxLen: reportMaxLen,
			Suggestions: []string{"已经好几天了，请尽快处理", "影响老人和孩子休息"}},
		{Key: reportLocation, LabelZH: "地点（楼号、单元、门牌）", LabelEN: "Where (building, entrance, door)", Editable: true, Kind: "text", MaxLen: reportMaxLen},
	}}, nil
}

// kindNamesEN maps the kinds' Chinese names to English, for the form.
func kindNamesEN(l *apiv1.ReportKindList) map[string]string {
	m := make(map[string]string, len(l.Kinds))
	for _, k := range l.Kinds {
		m[k.Name] = k.NameEn
	}
	return m
}

// submitReport files the report form.
func (a *ServerClient) submitReport(ctx context.Context, token, key string, f session.Form) (session.Receipt, error) {
	vals := map[string]string{}
	for _, fd := range f.Fields {
		vals[fd.Key] = fd.Value
	}
	l, err := a.reportKinds(ctx)
	if err != nil {
		return session.Receipt{}, err
	}
	code, days := "", 0
	for _, k := range l.Kinds {
		if k.Name == vals[reportKind] {
			code, days = k.Code, k.DeadlineDays
		}
	}
	if code == "" {
		return session.Receipt{}, &APIError{Kind: session.ErrInvalid, Code: apiv1.CodeFormInvalid, Details: session.Details{Fields: []string{reportKind}, AttemptsLeft: -1}}
	}
	var r apiv1.Report
	err = a.C.Do(ctx, "POST", apiv1.PathKioskReports, apiv1.SubmitReportRequest{Token: token, Kind: code,
		Description: vals[reportDescription], Location: vals[reportLocation], IdempotencyKey: key}, &r)
	if err != nil {
		return session.Receipt{}, mapErr(err)
	}
	svc := ReportService
	svc.NameZH, svc.NameEN, svc.DueDays = "反映问题："+r.KindName, "Report: "+kindNamesEN(l)[r.KindName], days
	return session.Receipt{Reference: r.Reference, Service: svc, FiledAt: r.SubmittedAt, Due: r.DueAt}, nil
}

// reportFiling is a report as a line of "my filings", in the office's
// words; nameEN is its kind's English name ("" when unknown: the code).
func reportFiling(r apiv1.Report, nameEN string) session.Filing {
	if nameEN == "" {
		nameEN = r.Kind
	}
	f := session.Filing{Item: "report", Reference: r.Reference, Service: session.Service{Code: r.Kind, NameZH: "反映问题：" + r.KindName, NameEN: "Report: " + nameEN},
		FiledAt: r.SubmittedAt, Due: r.DueAt, Status: r.Status, StatusZH: r.StatusLabel, StatusEN: reportStatusEN[r.Status], Reply: r.Reply,
		Rating: r.Rating, Rateable: r.Rateable, New: r.New}
	if r.RepliedAt != nil {
		f.Decided = *r.RepliedAt
	} else if r.ClosedAt != nil {
		f.Decided = *r.ClosedAt
	}
	return f
}

// reportStatusEN is the English of apiv1.ReportStatusLabel's words.
var reportStatusEN = map[string]string{"submitted": "Received", "accepted": "Accepted", "replied": "Answered", "closed": "Closed"}
