package storetest

import (
	"errors"
	"sync"
	"testing"

	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// testCatalogue: versions only grow, each save is audited, documents come
// back byte for byte, filings keep the version they were filed under, and
// the newest-first listing pages and finds by reference.
func testCatalogue(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	if _, err := s.LatestCatalogue(c); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("LatestCatalogue on an empty store: %v, want ErrNotFound", err)
	}
	editor := audit.Staff(7)
	doc := []byte(`{"format": "veinkiosk-catalogue/1", "version": 2}`)
	if err := s.SaveCatalogue(c, editor, store.CatalogueVersion{Version: 2, Document: doc, Note: "加老年助餐", CreatedAt: t0}); err != nil {
		t.Fatalf("SaveCatalogue: %v", err)
	}
	for _, v := range []int{2, 1} {
		if err := s.SaveCatalogue(c, editor, store.CatalogueVersion{Version: v, Document: doc, CreatedAt: t0}); !errors.Is(err, store.ErrConflict) {
			t.Errorf("SaveCatalogue(%d) after 2: %v, want ErrConflict", v, err)
		}
	}
	for _, bad := range []store.CatalogueVersion{{Version: 0, Document: doc}, {Version: 3}} {
		if err := s.SaveCatalogue(c, editor, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("SaveCatalogue(%+v): %v, want ErrInvalid", bad, err)
		}
	}
	// Two editors save version 3 at once: one wins.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.SaveCatalogue(c, editor, store.CatalogueVersion{Version: 3, Document: doc, CreatedAt: t0})
		}()
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) || !errors.Is(errors.Join(errs...), store.ErrConflict) {
		t.Errorf("concurrent saves of version 3: %v", errs)
	}
	latest, err := s.LatestCatalogue(c)
	if err != nil || latest.Version != 3 || string(latest.Document) != string(doc) || latest.Actor != editor {
		t.Errorf("LatestCatalogue = %+v, %v", latest, err)
	}
	v2, err := s.GetCatalogue(c, 2)
	if err != nil || v2.Note != "加老年助餐" || !v2.CreatedAt.Equal(t0) {
		t.Errorf("GetCatalogue(2) = %+v, %v", v2, err)
	}
	if _, err := s.GetCatalogue(c, 9); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetCatalogue(9): %v", err)
	}
	list, err := s.ListCatalogues(c)
	if err != nil || len(list) != 2 || list[0].Version != 3 || list[1].Version != 2 || list[0].Document != nil {
		t.Errorf("ListCatalogues = %+v, %v", list, err)
	}
	recs, err := s.ListAudit(c, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	saves := 0
	for _, r := range recs {
		if r.Action == "catalogue.save" && r.Actor == editor {
			saves++
		}
	}
	if saves != 2 {
		t.Errorf("%d catalogue.save audit events, want 2", saves)
	}

	// Filings keep their version.
	f := newFixture(t, s, 1)
	kiosk := audit.Kiosk(f.kiosk.ID)
	var refs []string
	for i, v := range []int{0, 2, 3} {
		nf := newFiling(f, 0, "catalogue-key-000"+itoa(int64(i)))
		nf.CatalogueVersion = v
		fl, _, err := s.CreateFiling(c, kiosk, nf)
		if err != nil {
			t.Fatal(err)
		}
		if fl.CatalogueVersion != v {
			t.Errorf("filing under version %d reads back %d", v, fl.CatalogueVersion)
		}
		refs = append(refs, fl.Reference)
	}
	nf := newFiling(f, 0, "catalogue-key-negative")
	nf.CatalogueVersion = -1
	if _, _, err := s.CreateFiling(c, kiosk, nf); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("negative catalogue version: %v", err)
	}
	page, err := s.ListFilings(c, store.FilingFilter{NewestFirst: true, Limit: 2})
	if err != nil || len(page) != 2 || page[0].Reference != refs[2] || page[1].Reference != refs[1] {
		t.Fatalf("newest first = %v, %v", page, err)
	}
	page, err = s.ListFilings(c, store.FilingFilter{NewestFirst: true, BeforeID: page[1].ID})
	if err != nil || len(page) != 1 || page[0].Reference != refs[0] || page[0].CatalogueVersion != 0 {
		t.Errorf("second page = %v, %v", page, err)
	}
	page, err = s.ListFilings(c, store.FilingFilter{Reference: " " + refs[1]})
	if err != nil || len(page) != 1 || page[0].CatalogueVersion != 2 {
		t.Errorf("by reference = %v, %v", page, err)
	}
}
