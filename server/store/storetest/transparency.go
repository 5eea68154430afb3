package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

func newMeeting(f *fixture) store.NewMeeting {
	return store.NewMeeting{
		StationID: f.station.ID, Quarter: "2026Q1", HeldOn: "2026-03-20",
		Members: []string{"赵敏", "钱立", "孙红", "居民代表李梅"}, Minutes: "审议三户低保新申请：经入户调查核实，同意两户，一户收入超标不予通过。",
		CreatedAt: t0.Add(18 * 24 * time.Hour),
	}
}

func testMeetings(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	f := newFixture(t, s, 3)
	officer := audit.Staff(f.officer.ID)
	m, err := s.CreateMeeting(c, officer, newMeeting(f))
	if err != nil {
		t.Fatalf("CreateMeeting: %v", err)
	}
	if m.ID == 0 || m.Quarter != "2026Q1" || m.HeldOn != "2026-03-20" || len(m.Members) != 4 || !strings.HasPrefix(m.Minutes, "审议") ||
		m.CreatedBy != officer || len(m.FilingIDs) != 0 {
		t.Fatalf("meeting %+v", m)
	}
	if a := lastAudit(t, s); a.Action != "dibao.meeting.create" || strings.Contains(a.Details["members"], "赵") {
		t.Errorf("audit %+v", a)
	}
	for name, mod := range map[string]func(*store.NewMeeting){
		"bad quarter":       func(m *store.NewMeeting) { m.Quarter = "2026Q5" },
		"date off quarter":  func(m *store.NewMeeting) { m.HeldOn = "2026-04-01" },
		"bad date":          func(m *store.NewMeeting) { m.HeldOn = "2026-02-30" },
		"two members":       func(m *store.NewMeeting) { m.Members = []string{"甲", "乙"} },
		"member twice":      func(m *store.NewMeeting) { m.Members = []string{"甲", "乙", "甲"} },
		"empty member":      func(m *store.NewMeeting) { m.Members = []string{"甲", "乙", " "} },
		"no minutes":        func(m *store.NewMeeting) { m.Minutes = "  " },
		"long minutes":      func(m *store.NewMeeting) { m.Minutes = strings.Repeat("议", 5001) },
		"no station":        func(m *store.NewMeeting) { m.StationID = "" },
		"member with break": func(m *store.NewMeeting) { m.Members = []string{"甲", "乙", "丙\n丁"} },
		"not yet held":      func(m *store.NewMeeting) { m.HeldOn = "2026-03-21" }, // recorded on the 20th
	} {
		nm := newMeeting(f)
		mod(&nm)
		if _, err := s.CreateMeeting(c, officer, nm); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	nm := newMeeting(f)
	nm.StationID = "QS-NOPE"
	if _, err := s.CreateMeeting(c, officer, nm); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown station: %v, want ErrNotFound", err)
	}

	kiosk := audit.Kiosk(f.kiosk.ID)
	var ids []int64
	for i := range 3 {
		fl, _, err := s.CreateFiling(c, kiosk, newFiling(f, i, "meet-"+string(rune('a'+i))))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, fl.ID)
	}
	m, err = s.AttachFilings(c, officer, m.ID, []int64{ids[1], ids[0], ids[0]})
	if err != nil || !slices.Equal(m.FilingIDs, []int64{ids[0], ids[1]}) {
		t.Fatalf("AttachFilings = %v, %v", m.FilingIDs, err)
	}
	if a := lastAudit(t, s); a.Action != "dibao.meeting.attach" || a.Target != "dibao_meeting:"+itoa(m.ID) {
		t.Errorf("audit %+v", a)
	}
	// Again: a no-op, no new audit event.
	before := len(auditActions(t, s))
	if _, err := s.AttachFilings(c, officer, m.ID, []int64{ids[0]}); err != nil || len(auditActions(t, s)) != before {
		t.Errorf("re-attach: %v (%d -> %d events)", err, before, len(auditActions(t, s)))
	}
	other := newMeeting(f)
	other.HeldOn, other.CreatedAt = "2026-03-27", other.CreatedAt.Add(7*24*time.Hour)
	m2, err := s.CreateMeeting(c, officer, other)
	if err != nil {
		t.Fatal(err)
	}
	// All or none: ids[2] is free but ids[1] belongs to the first meeting.
	if _, err := s.AttachFilings(c, officer, m2.ID, []int64{ids[2], ids[1]}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("filing of another meeting: %v, want ErrConflict", err)
	}
	if _, err := s.FilingMeeting(c, ids[2]); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused attach left ids[2] attached: %v", err)
	}
	if _, err := s.AttachFilings(c, officer, m2.ID, []int64{999999}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown filing: %v", err)
	}
	if _, err := s.AttachFilings(c, officer, 999999, []int64{ids[2]}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown meeting: %v", err)
	}
	if _, err := s.AttachFilings(c, officer, m2.ID, nil); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("no filings: %v", err)
	}
	// A filing of another station cannot be attached.
	st2, err := s.CreateStation(c, admin, store.Station{ID: "QS-S02", Name: "二号站", Address: "二号路"})
	if err != nil {
		t.Fatal(err)
	}
	m3nm := newMeeting(f)
	m3nm.StationID = st2.ID
	m3, err := s.CreateMeeting(c, officer, m3nm)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AttachFilings(c, officer, m3.ID, []int64{ids[2]}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("filing of another station: %v, want ErrInvalid", err)
	}
	got, err := s.FilingMeeting(c, ids[1])
	if err != nil || got.ID != m.ID || got.Minutes != m.Minutes {
		t.Errorf("FilingMeeting = %+v, %v", got, err)
	}
	ms, err := s.ListMeetings(c, store.MeetingFilter{StationID: f.station.ID, Quarter: "2026Q1"})
	if err != nil || len(ms) != 2 || ms[0].ID != m2.ID || ms[1].ID != m.ID || len(ms[1].FilingIDs) != 2 {
		t.Errorf("ListMeetings = %+v, %v", ms, err)
	}
	if ms, err := s.ListMeetings(c, store.MeetingFilter{Quarter: "2026Q2"}); err != nil || len(ms) != 0 {
		t.Errorf("other quarter = %d, %v", len(ms), err)
	}
	verifyChain(t, s)
}

func testMeetingsSealed(t *testing.T, newDB NewDatabase) {
	opener := newDB(t)
	s, err := opener(Options("k1"))
	if err != nil {
		t.Fatal(err)
	}
	c := ctx(t)
	f := newFixture(t, s, 0)
	m, err := s.CreateMeeting(c, audit.Staff(f.officer.ID), newMeeting(f))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	both, err := opener(Options("k1", "k2"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := both.Reencrypt(c, admin); err != nil {
		t.Fatal(err)
	}
	both.Close()
	onlyNew, err := opener(Options("k2"))
	if err != nil {
		t.Fatal(err)
	}
	defer onlyNew.Close()
	got, err := onlyNew.GetMeeting(c, m.ID)
	if err != nil || got.Minutes != m.Minutes || !slices.Equal(got.Members, m.Members) {
		t.Fatalf("after rotation: %+v, %v", got, err)
	}
}

func testRatings(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	f := newFixture(t, s, 2)
	kiosk := audit.Kiosk(f.kiosk.ID)
	officer := audit.Staff(f.officer.ID)
	fl, _, err := s.CreateFiling(c, kiosk, newFiling(f, 0, "rate-f"))
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := s.CreateReport(c, kiosk, newReport(f, 0, "rate-r"))
	if err != nil {
		t.Fatal(err)
	}
	rate := func(r int, ref string, score int, reasons ...string) (store.Rating, error) {
		return s.Rate(c, kiosk, store.NewRating{IDNumber: f.residents[r].IDNumber, Reference: ref, Score: score, Reasons: reasons,
			KioskID: f.kiosk.ID, CreatedAt: t0.Add(5 * 24 * time.Hour)})
	}
	// Not answered yet: refused.
	if _, err := rate(0, fl.Reference, 5); !errors.Is(err, store.ErrConflict) {
		t.Errorf("open filing: %v, want ErrConflict", err)
	}
	if _, err := rate(0, p.Reference, 5); !errors.Is(err, store.ErrConflict) {
		t.Errorf("open report: %v, want ErrConflict", err)
	}
	if _, err := s.TransitionFiling(c, officer, store.FilingTransition{FilingID: fl.ID, To: store.FilingAccepted, At: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	reply := "已安排维修"
	if _, err := s.TransitionReport(c, officer, store.ReportTransition{ReportID: p.ID, To: store.ReportReplied, Reply: &reply, At: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// Someone else's items are unknown to resident 1.
	if _, err := rate(1, fl.Reference, 1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another's filing: %v, want ErrNotFound", err)
	}
	if _, err := rate(1, p.Reference, 1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another's report: %v, want ErrNotFound", err)
	}
	if _, err := rate(0, "QS-2026-999999", 3); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown reference: %v, want ErrNotFound", err)
	}
	for _, bad := range []struct {
		score   int
		reasons []string
	}{{0, nil}, {6, nil}, {3, []string{"Slow"}}, {3, []string{"a,b"}}, {3, []string{"a", "b", "c", "d", "e", "f", "g", "h", "i"}}} {
		if _, err := rate(0, fl.Reference, bad.score, bad.reasons...); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("score %d reasons %v: %v, want ErrInvalid", bad.score, bad.reasons, err)
		}
	}
	g, err := rate(0, fl.Reference, 4, "slow", "attitude", "slow")
	if err != nil || g.Item != "filing" || g.ItemID != fl.ID || g.Unit != fl.Department || g.Score != 4 || !slices.Equal(g.Reasons, []string{"attitude", "slow"}) {
		t.Fatalf("Rate filing = %+v, %v", g, err)
	}
	if a := lastAudit(t, s); a.Action != "rating.create" || a.Details["score"] != "4" {
		t.Errorf("audit %+v", a)
	}
	if _, err := rate(0, fl.Reference, 1); !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("second rating: %v, want ErrAlreadyExists", err)
	}
	if g, err := rate(0, p.Reference, 2); err != nil || g.Item != "report" || g.Unit != "heating" {
		t.Fatalf("Rate report = %+v, %v", g, err)
	}
	mine, err := s.ResidentRatings(c, f.residents[0].IDNumber)
	if err != nil || len(mine) != 2 || mine[0].Reference != fl.Reference || mine[1].Reference != p.Reference {
		t.Errorf("ResidentRatings = %+v, %v", mine, err)
	}
	if theirs, err := s.ResidentRatings(c, f.residents[1].IDNumber); err != nil || len(theirs) != 0 {
		t.Errorf("resident 1 ratings = %+v, %v", theirs, err)
	}
	recs, err := s.RatingRecords(c, t0, t0.Add(30*24*time.Hour))
	if err != nil || len(recs) != 2 || recs[0].Score != 4 || recs[1].Score != 2 {
		t.Errorf("RatingRecords = %+v, %v", recs, err)
	}
	if recs, err := s.RatingRecords(c, t0.Add(6*24*time.Hour), t0.Add(30*24*time.Hour)); err != nil || len(recs) != 0 {
		t.Errorf("RatingRecords later = %+v, %v", recs, err)
	}
	verifyChain(t, s)
}

func testReportKindsVersions(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	if _, err := s.LatestReportKinds(c); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("LatestReportKinds on an empty store: %v, want ErrNotFound", err)
	}
	editor := audit.Staff(7)
	doc := []byte(`{"format": "veinkiosk-report-kinds/1", "version": 2}`)
	if err := s.SaveReportKinds(c, editor, store.CatalogueVersion{Version: 2, Document: doc, Note: "加燃气", CreatedAt: t0}); err != nil {
		t.Fatalf("SaveReportKinds: %v", err)
	}
	if err := s.SaveReportKinds(c, editor, store.CatalogueVersion{Version: 2, Document: doc, CreatedAt: t0}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("the same version again: %v, want ErrConflict", err)
	}
	if err := s.SaveReportKinds(c, editor, store.CatalogueVersion{Version: 3}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("no document: %v, want ErrInvalid", err)
	}
	if a := lastAudit(t, s); a.Action != "report_kinds.save" || a.Target != "report_kinds:2" || a.Actor != editor {
		t.Errorf("audit %+v", a)
	}
	// The catalogue's versions are another sequence.
	if _, err := s.LatestCatalogue(c); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LatestCatalogue after saving report kinds: %v", err)
	}
	v, err := s.LatestReportKinds(c)
	if err != nil || v.Version != 2 || string(v.Document) != string(doc) || v.Note != "加燃气" || v.Actor != editor {
		t.Fatalf("LatestReportKinds = %+v, %v", v, err)
	}
}

// testRepliesSeen: the time the kiosk last showed a resident their filings
// is absent at first, recorded per resident, never moves back, and an
// unknown resident is not found.
func testRepliesSeen(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	f := newFixture(t, s, 2)
	a, b := f.residents[0].ID, f.residents[1].ID
	seen := func(id int64) (time.Time, bool) {
		t.Helper()
		at, ok, err := s.RepliesSeen(c, id)
		if err != nil {
			t.Fatalf("RepliesSeen(%d): %v", id, err)
		}
		return at, ok
	}
	if _, ok := seen(a); ok {
		t.Fatal("a resident the kiosk never showed their filings has a seen time")
	}
	t1 := time.Date(2026, 3, 2, 9, 30, 0, 123456000, time.UTC)
	t2 := t1.Add(26 * time.Hour)
	steps := []struct {
		name string
		id   int64
		at   time.Time
		want time.Time // a's seen time afterwards
	}{
		{"first", a, t1, t1},
		{"later moves it on", a, t2, t2},
		{"earlier is a no-op", a, t1, t2},
		{"equal is a no-op", a, t2, t2},
		{"another resident's leaves it", b, t1.Add(48 * time.Hour), t2},
	}
	for _, st := range steps {
		if err := s.MarkRepliesSeen(c, st.id, st.at); err != nil {
			t.Fatalf("%s: MarkRepliesSeen: %v", st.name, err)
		}
		if got, ok := seen(a); !ok || !got.Equal(st.want) {
			t.Fatalf("%s: seen = %v, %v; want %v", st.name, got, ok, st.want)
		}
	}
	if got, ok := seen(b); !ok || !got.Equal(t1.Add(48*time.Hour)) {
		t.Fatalf("b seen = %v, %v", got, ok)
	}
	if err := s.MarkRepliesSeen(c, 987654, t1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown resident: %v, want ErrNotFound", err)
	}
	if _, ok := seen(987654); ok {
		t.Fatal("an unknown resident has a seen time")
	}
}
