package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

func testAuditChain(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	if seq, h, err := s.AuditHead(c); err != nil || seq != 0 || h != (audit.Hash{}) {
		t.Errorf("empty head = %d %s %v", seq, h, err)
	}
	if rep := verifyChain(t, s); rep.Records != 0 {
		t.Errorf("empty chain has %d records", rep.Records)
	}
	at := time.Date(2026, 3, 1, 8, 0, 0, 123456789, time.FixedZone("CST", 8*3600))
	rec, err := s.AppendAudit(c, audit.Event{Time: at, Actor: audit.Staff(7), Action: "staff.login", Target: "staff:7", Details: map[string]string{"ip": "10.0.0.8", "method": "password"}})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Seq != 1 || rec.PrevHash != (audit.Hash{}) || !rec.Time.Equal(at.Truncate(time.Microsecond)) || rec.Time.Location() != time.UTC {
		t.Errorf("first record = %+v", rec)
	}
	f := newFixture(t, s, 2)
	if _, _, err := s.CreateFiling(c, audit.Kiosk(f.kiosk.ID), newFiling(f, 0, "a-1")); err != nil {
		t.Fatal(err)
	}
	recs, err := s.ListAudit(c, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if recs[0].Hash != rec.Hash || recs[0].Details["ip"] != "10.0.0.8" || !recs[0].Time.Equal(rec.Time) {
		t.Errorf("stored record differs from the appended one: %+v vs %+v", recs[0], rec)
	}
	for i, r := range recs {
		if r.Seq != int64(i+1) {
			t.Fatalf("record %d has seq %d", i, r.Seq)
		}
		if i > 0 && r.PrevHash != recs[i-1].Hash {
			t.Fatalf("record %d not linked", r.Seq)
		}
	}
	seq, head, err := s.AuditHead(c)
	if err != nil || seq != int64(len(recs)) || head != recs[len(recs)-1].Hash {
		t.Errorf("head = %d %s, last record %d %s", seq, head, len(recs), recs[len(recs)-1].Hash)
	}
	rep := verifyChain(t, s)
	if rep.Records != int64(len(recs)) || rep.Head != head {
		t.Errorf("report %+v", rep)
	}
	// Anchors: right and wrong.
	if _, err := audit.Verify(c, s, audit.VerifyOptions{Anchors: map[int64]audit.Hash{2: recs[1].Hash}}); err != nil {
		t.Errorf("good anchor: %v", err)
	}
	if _, err := audit.Verify(c, s, audit.VerifyOptions{Anchors: map[int64]audit.Hash{2: recs[2].Hash}}); !errors.Is(err, audit.ErrBroken) {
		t.Errorf("wrong anchor: %v", err)
	}
	if _, err := audit.Verify(c, s, audit.VerifyOptions{Anchors: map[int64]audit.Hash{9999: {}}}); !errors.Is(err, audit.ErrBroken) {
		t.Errorf("anchor beyond the chain: %v", err)
	}
	// Paging of ListAudit.
	page, err := s.ListAudit(c, 3, 2)
	if err != nil || len(page) != 2 || page[0].Seq != 4 {
		t.Errorf("ListAudit(3, 2) = %+v, %v", page, err)
	}
	// Invalid events are refused and leave no trace.
	for _, e := range []audit.Event{
		{Time: at, Actor: audit.Actor{Type: "robot", ID: "1"}, Action: "x.y"},
		{Time: at, Actor: audit.Staff(1), Action: "Not An Action"},
		{Time: at, Actor: audit.Staff(1), Action: "x.y", Details: map[string]string{"who": f.residents[0].IDNumber}},
	} {
		if _, err := s.AppendAudit(c, e); err == nil {
			t.Errorf("AppendAudit(%+v) accepted", e)
		}
	}
	if seq2, _, _ := s.AuditHead(c); seq2 != seq {
		t.Errorf("refused events moved the head from %d to %d", seq, seq2)
	}
}

// testAuditConcurrent: concurrent audited actions keep one unbroken chain.
func testAuditConcurrent(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	f := newFixture(t, s, 4)
	const workers, per = 6, 10
	var atts []*attempter
	for w := 0; w < workers; w++ {
		atts = append(atts, newAttempter(t, s, f, fmt.Sprintf("VS-ATT-%d", w)))
	}
	before, _, _ := s.AuditHead(c)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				var err error
				switch i % 3 {
				case 0:
					_, err = s.AppendAudit(c, audit.Event{Actor: audit.Staff(int64(w)), Action: "staff.login"})
				case 1:
					_, _, err = s.CreateFiling(c, audit.Kiosk(f.kiosk.ID), newFiling(f, w%4, fmt.Sprintf("w%d-%d", w, i)))
				case 2:
					_, err = atts[w].record(c, store.VerificationAttempt{IDNumber: f.residents[w%4].IDNumber, KioskID: f.kiosk.ID, Result: store.VerifyMatch}, store.LockoutPolicy{})
				}
				if err != nil {
					t.Errorf("worker %d: %v", w, err)
				}
			}
		}()
	}
	wg.Wait()
	rep := verifyChain(t, s)
	if rep.Records != before+workers*per {
		t.Errorf("chain has %d records, want %d", rep.Records, before+workers*per)
	}
}

// testAuditNoPersonalData: no audit record carries a resident's ID number,
// name or address, whatever the action.
func testAuditNoPersonalData(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	f := newFixture(t, s, 3)
	kiosk := audit.Kiosk(f.kiosk.ID)
	clerk := audit.Staff(f.clerk.ID)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.Enrol(c, clerk, newEnrolment(f, 0, 1, 2, true))
	must(err)
	_, err = s.CreateDedupCase(c, clerk, store.DedupCase{IDNumber: f.residents[1].IDNumber, MatchedIDNumber: f.residents[0].IDNumber, Finger: 1, Score: 0.9})
	must(err)
	att := newAttempter(t, s, f, "VS-ATT-1")
	_, err = att.record(c, store.VerificationAttempt{IDNumber: f.residents[0].IDNumber, KioskID: f.kiosk.ID, Result: store.VerifyNoMatch}, store.LockoutPolicy{MaxFailures: 1, LockFor: time.Minute})
	must(err)
	_, err = att.record(c, store.VerificationAttempt{IDNumber: idNumber(999), KioskID: f.kiosk.ID, Result: store.VerifyNoMatch}, store.LockoutPolicy{})
	must(err)
	_, err = s.ResetLockout(c, clerk, store.LockoutUnlock{IDNumber: f.residents[0].IDNumber, Reason: "card checked in person"})
	must(err)
	issueToken(t, s, f, 0, "token-personal-data-1")
	nf := newFiling(f, 0, "p-1")
	nf.Token = "token-personal-data-1"
	_, _, err = s.CreateFiling(c, kiosk, nf)
	must(err)
	must(s.SetResidentStatus(c, admin, f.residents[2].IDNumber, store.ResidentSuspended, "moved"))
	_, err = s.DeleteEnrolments(c, clerk, f.residents[0].IDNumber, "consent_withdrawn")
	must(err)
	recs, err := s.ListAudit(c, 0, 10000)
	must(err)
	secrets := []string{idNumber(999), "token-personal-data-1", "TPL ", "IMG "}
	for _, r := range f.residents {
		secrets = append(secrets, r.IDNumber, r.Name, r.Address)
	}
	for _, rec := range recs {
		text := fmt.Sprintf("%s %s %s %v", rec.Actor, rec.Action, rec.Target, rec.Details)
		for _, sct := range secrets {
			if strings.Contains(text, sct) {
				t.Errorf("audit record %d (%s) contains personal or secret data %q: %s", rec.Seq, rec.Action, sct, text)
			}
		}
	}
	verifyChain(t, s)
}

// testReopen: data and the chain survive closing and opening again, and
// opening runs no migration twice.
func testReopen(t *testing.T, newDB NewDatabase) {
	opener := newDB(t)
	s, err := opener(Options())
	if err != nil {
		t.Fatal(err)
	}
	c := ctx(t)
	f := newFixture(t, s, 1)
	fl, _, err := s.CreateFiling(c, audit.Kiosk(f.kiosk.ID), newFiling(f, 0, "r-1"))
	if err != nil {
		t.Fatal(err)
	}
	_, head, _ := s.AuditHead(c)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Two opens at once: the migration lock lets both succeed.
	var wg sync.WaitGroup
	stores := make([]store.Store, 2)
	errs := make([]error, 2)
	for i := range stores {
		wg.Add(1)
		go func() { defer wg.Done(); stores[i], errs[i] = opener(Options()) }()
	}
	wg.Wait()
	for i := range stores {
		if errs[i] != nil {
			t.Fatalf("reopen %d: %v", i, errs[i])
		}
		defer stores[i].Close()
	}
	got, err := Inspect(stores[0]).GetFilingByReference(c, fl.Reference)
	if err != nil || got.ID != fl.ID {
		t.Errorf("after reopen: %+v, %v", got, err)
	}
	if _, h, _ := stores[1].AuditHead(c); h != head {
		t.Errorf("audit head changed across reopen")
	}
	verifyChain(t, stores[1])
}

// testConcurrentFirstOpen: several processes starting at once against an
// empty database all succeed and the schema is migrated once.
func testConcurrentFirstOpen(t *testing.T, newDB NewDatabase) {
	opener := newDB(t)
	const n = 4
	stores := make([]store.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			stores[i], errs[i] = opener(Options())
		}()
	}
	close(start)
	wg.Wait()
	for i := range stores {
		if errs[i] != nil {
			t.Errorf("open %d: %v", i, errs[i])
			continue
		}
		defer stores[i].Close()
	}
	if t.Failed() {
		return
	}
	c := ctx(t)
	if _, err := stores[0].CreateStation(c, admin, store.Station{ID: "S", Name: "站"}); err != nil {
		t.Fatal(err)
	}
	if _, err := Inspect(stores[n-1]).GetStation(c, "S"); err != nil {
		t.Errorf("stores do not share the database: %v", err)
	}
	verifyChain(t, stores[1])
}

func testClosed(t *testing.T, newDB NewDatabase) {
	s, err := newDB(t)(Options())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	c := ctx(t)
	if _, err := s.GetResident(c, idNumber(1)); !errors.Is(err, store.ErrClosed) {
		t.Errorf("GetResident after Close = %v, want ErrClosed", err)
	}
	if _, err := s.AppendAudit(c, audit.Event{Actor: audit.Staff(1), Action: "x.y"}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("AppendAudit after Close = %v, want ErrClosed", err)
	}
	if err := s.ScanTemplates(c, 0, func(store.TemplateRecord) error { return nil }); !errors.Is(err, store.ErrClosed) {
		t.Errorf("ScanTemplates after Close = %v, want ErrClosed", err)
	}
}
