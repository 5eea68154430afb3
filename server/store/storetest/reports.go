package storetest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

var testPhoto = []byte("\x89PNG\r\n\x1a\n not decoded by the store, sealed byte for byte")

func newReport(f *fixture, r int, key string) store.NewReport {
	return store.NewReport{
		Kind: "cold_radiator", Unit: "heating", IDNumber: f.residents[r].IDNumber, KioskID: f.kiosk.ID, StationID: f.station.ID,
		GridCell: "QS-0101-07", Description: "三号楼二单元暖气一直不热，室温十二度", Location: "三号楼二单元502",
		DueAt: t0.Add(3 * 24 * time.Hour), IdempotencyKey: key, CreatedAt: t0,
	}
}

func testReports(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	f := newFixture(t, s, 2)
	kiosk := audit.Kiosk(f.kiosk.ID)
	issueToken(t, s, f, 0, "token-report-000000001")
	nr := newReport(f, 0, "rep-1")
	nr.Token = "token-report-000000001"
	nr.Photo, nr.PhotoType = testPhoto, "image/png"
	p, created, err := s.CreateReport(c, kiosk, nr)
	if err != nil || !created {
		t.Fatalf("CreateReport = %v, %v", created, err)
	}
	if p.Reference != "QS-R-2026-000001" || p.Status != store.ReportSubmitted || p.Unit != "heating" || p.IDNumber != f.residents[0].IDNumber ||
		p.Description != nr.Description || p.Location != nr.Location || p.PhotoType != "image/png" || !p.DueAt.Equal(nr.DueAt) || p.EscalatedAt != nil {
		t.Fatalf("report %+v", p)
	}
	// A retry answers the same report; the token is spent.
	again, created, err := s.CreateReport(c, kiosk, nr)
	if err != nil || created || again.ID != p.ID {
		t.Fatalf("retry = %+v, %v, %v", again, created, err)
	}
	other := newReport(f, 0, "rep-2")
	other.Token = "token-report-000000001"
	if _, _, err := s.CreateReport(c, kiosk, other); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("spent token: %v, want ErrNotFound", err)
	}
	reuse := newReport(f, 1, "rep-1")
	if _, _, err := s.CreateReport(c, kiosk, reuse); !errors.Is(err, store.ErrConflict) {
		t.Errorf("key reused for another resident: %v, want ErrConflict", err)
	}
	for name, mod := range map[string]func(*store.NewReport){
		"no description":     func(r *store.NewReport) { r.Description = " " },
		"no grid cell":       func(r *store.NewReport) { r.GridCell = "" },
		"photo without type": func(r *store.NewReport) { r.PhotoType = ""; r.Photo = testPhoto },
		"long description":   func(r *store.NewReport) { r.Description = string(bytes.Repeat([]byte("长"), 2001)) },
		"invalid UTF-8":      func(r *store.NewReport) { r.Location = "\xff" },
		"no due time":        func(r *store.NewReport) { r.DueAt = time.Time{} },
		"no unit":            func(r *store.NewReport) { r.Unit = "" },
		"no idempotency key": func(r *store.NewReport) { r.IdempotencyKey = "" },
	} {
		r := newReport(f, 1, "bad-"+name)
		mod(&r)
		if _, _, err := s.CreateReport(c, kiosk, r); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	// At the desk: no kiosk, the staff actor's key scope, no photo.
	desk := newReport(f, 1, "rep-1")
	desk.KioskID, desk.Kind, desk.Unit = "", "noise", "ecology"
	d, created, err := s.CreateReport(c, audit.Staff(f.clerk.ID), desk)
	if err != nil || !created || d.Reference != "QS-R-2026-000002" || d.KioskID != "" || d.PhotoType != "" {
		t.Fatalf("desk report = %+v, %v, %v", d, created, err)
	}
	typ, photo, err := s.ReportPhoto(c, p.ID)
	if err != nil || typ != "image/png" || !bytes.Equal(photo, testPhoto) {
		t.Errorf("ReportPhoto = %q, %d bytes, %v", typ, len(photo), err)
	}
	if _, _, err := s.ReportPhoto(c, d.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("photo of a report without one: %v", err)
	}
	if _, err := s.GetReport(c, 9999); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetReport(9999): %v", err)
	}

	// Lists.
	for name, tc := range map[string]struct {
		f    store.ReportFilter
		want []int64
	}{
		"all":       {store.ReportFilter{}, []int64{p.ID, d.ID}},
		"unit":      {store.ReportFilter{Unit: "ecology"}, []int64{d.ID}},
		"resident":  {store.ReportFilter{IDNumber: f.residents[0].IDNumber}, []int64{p.ID}},
		"station":   {store.ReportFilter{StationID: f.station.ID}, []int64{p.ID, d.ID}},
		"status":    {store.ReportFilter{Statuses: []store.ReportStatus{store.ReportAccepted}}, nil},
		"after":     {store.ReportFilter{AfterID: p.ID}, []int64{d.ID}},
		"other stn": {store.ReportFilter{StationID: "nowhere"}, nil},
	} {
		got, err := s.ListReports(c, tc.f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var ids []int64
		for _, r := range got {
			ids = append(ids, r.ID)
		}
		if joinInts(ids) != joinInts(tc.want) {
			t.Errorf("%s: %v, want %v", name, ids, tc.want)
		}
	}
	if _, err := s.ListReports(c, store.ReportFilter{Statuses: []store.ReportStatus{"bogus"}}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("bogus status: %v", err)
	}

	// Processing: accept, reply, close.
	officer := audit.Staff(f.officer.ID)
	acc, err := s.TransitionReport(c, officer, store.ReportTransition{ReportID: p.ID, From: store.ReportSubmitted, To: store.ReportAccepted, Note: "accept", At: t0.Add(time.Hour)})
	if err != nil || acc.Status != store.ReportAccepted || acc.RepliedAt != nil {
		t.Fatalf("accept = %+v, %v", acc, err)
	}
	reply := "已联系供热公司，明日上门排气"
	rep, err := s.TransitionReport(c, officer, store.ReportTransition{ReportID: p.ID, From: store.ReportAccepted, To: store.ReportReplied, Reply: &reply, At: t0.Add(5 * time.Hour)})
	if err != nil || rep.Reply != reply || rep.RepliedAt == nil || !rep.RepliedAt.Equal(t0.Add(5*time.Hour)) || rep.ClosedAt != nil {
		t.Fatalf("reply = %+v, %v", rep, err)
	}
	if _, err := s.TransitionReport(c, officer, store.ReportTransition{ReportID: p.ID, From: store.ReportAccepted, To: store.ReportClosed}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("stale From: %v", err)
	}
	cl, err := s.TransitionReport(c, officer, store.ReportTransition{ReportID: p.ID, To: store.ReportClosed, At: t0.Add(6 * time.Hour)})
	if err != nil || cl.Status != store.ReportClosed || cl.ClosedAt == nil || !cl.RepliedAt.Equal(t0.Add(5*time.Hour)) {
		t.Fatalf("close = %+v, %v", cl, err)
	}
	for _, to := range []store.ReportStatus{store.ReportAccepted, store.ReportReplied, store.ReportClosed, store.ReportSubmitted} {
		if _, err := s.TransitionReport(c, officer, store.ReportTransition{ReportID: p.ID, To: to}); !errors.Is(err, store.ErrConflict) {
			t.Errorf("closed -> %s: %v", to, err)
		}
	}
	if _, err := s.TransitionReport(c, officer, store.ReportTransition{ReportID: 9999, To: store.ReportAccepted}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown report: %v", err)
	}
	acts := auditActions(t, s)
	if count(acts, "report.create") != 2 || count(acts, "report.transition") != 3 {
		t.Errorf("audit actions %v", acts)
	}
}

// testReportsSealed: details, reply and photo are sealed under the key
// ring and key rotation re-seals them.
func testReportsSealed(t *testing.T, newDB NewDatabase) {
	opener := newDB(t)
	s, err := opener(Options("k1"))
	if err != nil {
		t.Fatal(err)
	}
	c := ctx(t)
	f := newFixture(t, s, 1)
	nr := newReport(f, 0, "sealed-1")
	nr.Photo, nr.PhotoType = testPhoto, "image/png"
	p, _, err := s.CreateReport(c, audit.Kiosk(f.kiosk.ID), nr)
	if err != nil {
		t.Fatal(err)
	}
	reply := "已处理"
	if _, err := s.TransitionReport(c, audit.Staff(f.officer.ID), store.ReportTransition{ReportID: p.ID, To: store.ReportReplied, Reply: &reply}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	both, err := opener(Options("k1", "k2"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := both.Reencrypt(c, admin)
	if err != nil {
		t.Fatal(err)
	}
	both.Close()
	onlyNew, err := opener(Options("k2"))
	if err != nil {
		t.Fatalf("open with k2 after rotation (%+v): %v", st, err)
	}
	defer onlyNew.Close()
	got, err := onlyNew.GetReport(c, p.ID)
	if err != nil || got.Description != nr.Description || got.Location != nr.Location || got.Reply != reply {
		t.Fatalf("GetReport after rotation = %+v, %v", got, err)
	}
	if _, b, err := onlyNew.ReportPhoto(c, p.ID); err != nil || !bytes.Equal(b, testPhoto) {
		t.Fatalf("photo after rotation: %v", err)
	}
}

func testEscalation(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	f := newFixture(t, s, 2)
	kiosk := audit.Kiosk(f.kiosk.ID)
	// A filing due at t0+15d (civil-affairs), a report due at t0+3d
	// (heating), a report due at t0+1d that is replied (not open).
	fl, _, err := s.CreateFiling(c, kiosk, newFiling(f, 0, "esc-f1"))
	if err != nil {
		t.Fatal(err)
	}
	r1, _, err := s.CreateReport(c, kiosk, newReport(f, 0, "esc-r1"))
	if err != nil {
		t.Fatal(err)
	}
	r2n := newReport(f, 1, "esc-r2")
	r2n.Kind, r2n.Unit, r2n.DueAt = "noise", "ecology", t0.Add(24*time.Hour)
	r2, _, err := s.CreateReport(c, kiosk, r2n)
	if err != nil {
		t.Fatal(err)
	}
	reply := "已答复"
	if _, err := s.TransitionReport(c, audit.Staff(f.officer.ID), store.ReportTransition{ReportID: r2.ID, To: store.ReportReplied, Reply: &reply, At: t0.Add(48 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	items, err := s.OpenItems(c, store.OpenItemFilter{})
	if err != nil || len(items) != 2 || items[0].Item != "report" || items[0].ID != r1.ID || items[1].Item != "filing" || items[1].ID != fl.ID {
		t.Fatalf("OpenItems = %+v, %v", items, err)
	}
	if it := items[0]; it.Reference != r1.Reference || it.Code != "cold_radiator" || it.Unit != "heating" || it.StationID != f.station.ID ||
		it.Status != "submitted" || !it.DueAt.Equal(r1.DueAt) || it.EscalatedAt != nil {
		t.Errorf("open report %+v", it)
	}
	if items, err := s.OpenItems(c, store.OpenItemFilter{Unit: "civil-affairs"}); err != nil || len(items) != 1 || items[0].ID != fl.ID {
		t.Errorf("OpenItems(civil-affairs) = %+v, %v", items, err)
	}
	sys := audit.System("escalation")
	// Day 5: only the report is overdue; twice: once.
	day5 := t0.Add(5 * 24 * time.Hour)
	esc, err := s.EscalateOverdue(c, sys, day5)
	if err != nil || len(esc) != 1 || esc[0].Item != "report" || esc[0].ID != r1.ID || esc[0].EscalatedAt == nil || !esc[0].EscalatedAt.Equal(day5) {
		t.Fatalf("EscalateOverdue(day 5) = %+v, %v", esc, err)
	}
	if esc, err := s.EscalateOverdue(c, sys, day5.Add(time.Hour)); err != nil || len(esc) != 0 {
		t.Errorf("second run = %+v, %v", esc, err)
	}
	if got, err := s.GetReport(c, r1.ID); err != nil || got.EscalatedAt == nil || !got.EscalatedAt.Equal(day5) {
		t.Errorf("escalated report %+v, %v", got, err)
	}
	// Day 20: the filing too.
	esc, err = s.EscalateOverdue(c, sys, t0.Add(20*24*time.Hour))
	if err != nil || len(esc) != 1 || esc[0].Item != "filing" || esc[0].ID != fl.ID {
		t.Fatalf("EscalateOverdue(day 20) = %+v, %v", esc, err)
	}
	items, _ = s.OpenItems(c, store.OpenItemFilter{})
	for _, it := range items {
		if it.EscalatedAt == nil {
			t.Errorf("%s %d not shown escalated", it.Item, it.ID)
		}
	}
	acts := auditActions(t, s)
	if count(acts, "report.escalate") != 1 || count(acts, "filing.escalate") != 1 {
		t.Errorf("audit actions %v", acts)
	}
}

func testReviewRecords(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	f := newFixture(t, s, 2)
	kiosk := audit.Kiosk(f.kiosk.ID)
	officer := audit.Staff(f.officer.ID)
	fl, _, err := s.CreateFiling(c, kiosk, newFiling(f, 0, "rev-f1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.TransitionFiling(c, officer, store.FilingTransition{FilingID: fl.ID, To: store.FilingAccepted, At: t0.Add(48 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	rp, _, err := s.CreateReport(c, kiosk, newReport(f, 1, "rev-r1"))
	if err != nil {
		t.Fatal(err)
	}
	accepted, err := s.TransitionReport(c, officer, store.ReportTransition{ReportID: rp.ID, To: store.ReportAccepted, At: t0.Add(time.Hour)})
	if err != nil || accepted.RepliedAt != nil {
		t.Fatal(err)
	}
	recs, err := s.ReviewRecords(c, t0.Add(-time.Hour), t0.Add(time.Hour))
	if err != nil || len(recs) != 2 {
		t.Fatalf("ReviewRecords = %+v, %v", recs, err)
	}
	byItem := map[string]store.ReviewRecord{}
	for _, r := range recs {
		byItem[r.Item] = r
	}
	if r := byItem["filing"]; r.Unit != "civil-affairs" || !r.CreatedAt.Equal(t0) || !r.DueAt.Equal(fl.DueAt) || r.DoneAt == nil || !r.DoneAt.Equal(t0.Add(48*time.Hour)) {
		t.Errorf("filing record %+v", r)
	}
	if r := byItem["report"]; r.Unit != "heating" || r.DoneAt != nil || !r.DueAt.Equal(rp.DueAt) {
		t.Errorf("report record %+v (accepting is not answering)", r)
	}
	// Done before from: left out; created after to: left out.
	if recs, err := s.ReviewRecords(c, t0.Add(72*time.Hour), t0.Add(96*time.Hour)); err != nil || len(recs) != 1 || recs[0].Item != "report" {
		t.Errorf("from after the decision: %+v, %v", recs, err)
	}
	if recs, err := s.ReviewRecords(c, t0.Add(-48*time.Hour), t0); err != nil || len(recs) != 0 {
		t.Errorf("to at creation: %+v, %v", recs, err)
	}
}
