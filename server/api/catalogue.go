package api

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/catalogue"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// The service catalogue in force (docs/catalogue.md): the base catalogue
// given in Config (the embedded default, or centrald -catalogue FILE) unless
// the store holds a version saved by an administrator that is not older;
// every replica re-reads the latest saved version at most every
// Config.CatalogueRefresh.
type catalogues struct {
	st       store.Store
	base     *catalogue.Catalogue
	embedded *catalogue.Catalogue
	refresh  time.Duration

	mu      sync.Mutex
	cur     *catalogue.Catalogue
	checked time.Time
	byVer   map[int]*catalogue.Catalogue // saved versions, parsed
}

func newCatalogues(st store.Store, base *catalogue.Catalogue, refresh time.Duration) *catalogues {
	emb := catalogue.Default()
	if base == nil {
		base = emb
	}
	return &catalogues{st: st, base: base, embedded: emb, refresh: refresh, byVer: map[int]*catalogue.Catalogue{}}
}

// current returns the catalogue in force.
func (cs *catalogues) current(ctx context.Context, now time.Time) (*catalogue.Catalogue, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.cur != nil && now.Sub(cs.checked) < cs.refresh && !now.Before(cs.checked) {
		return cs.cur, nil
	}
	latest, err := cs.st.LatestCatalogue(ctx)
	switch {
	case errors.Is(err, store.ErrNotFound):
		cs.cur = cs.base
	case err != nil:
		if cs.cur != nil { // keep serving what we have
			return cs.cur, nil
		}
		return nil, storeErr(err, "catalogue")
	case latest.Version < cs.base.Version():
		cs.cur = cs.base
	default:
		c, err := cs.parsed(latest)
		if err != nil {
			return nil, err
		}
		cs.cur = c
	}
	cs.checked = now
	return cs.cur, nil
}

// parsed parses a saved version once (mu held).
func (cs *catalogues) parsed(v store.CatalogueVersion) (*catalogue.Catalogue, error) {
	if c, ok := cs.byVer[v.Version]; ok {
		return c, nil
	}
	c, err := catalogue.Parse(v.Document)
	if err != nil {
		return nil, errf(apiv1.CodeInternal, "saved catalogue version %d does not load: %v", v.Version, err)
	}
	cs.byVer[v.Version] = c
	return c, nil
}

// at returns the catalogue a filing was filed under: version 0 is the
// embedded catalogue (filings made before catalogues were versioned); a
// version no longer found falls back to the catalogue in force.
func (cs *catalogues) at(ctx context.Context, version int, now time.Time) *catalogue.Catalogue {
	if version == 0 {
		return cs.embedded
	}
	cs.mu.Lock()
	c, ok := cs.byVer[version]
	cs.mu.Unlock()
	if ok {
		return c
	}
	v, err := cs.st.GetCatalogue(ctx, version)
	if err == nil {
		cs.mu.Lock()
		c, err = cs.parsed(v)
		cs.mu.Unlock()
		if err == nil {
			return c
		}
	}
	switch version {
	case cs.base.Version():
		return cs.base
	case cs.embedded.Version():
		return cs.embedded
	}
	if c, err := cs.current(ctx, now); err == nil {
		return c
	}
	return cs.base
}

// saved records a version saved through this replica.
func (cs *catalogues) saved(c *catalogue.Catalogue, now time.Time) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.byVer[c.Version()] = c
	cs.cur, cs.checked = c, now
}

func (s *Server) catalogue(c *fiber.Ctx) (*catalogue.Catalogue, error) {
	return s.cats.current(c.UserContext(), s.now())
}

// serviceAt returns a filing's service as it was filed.
func (s *Server) serviceAt(ctx context.Context, f store.Filing) (apiv1.Service, *catalogue.Catalogue) {
	cat := s.cats.at(ctx, f.CatalogueVersion, s.now())
	svc, ok := cat.Service(f.ServiceCode)
	if !ok {
		svc = apiv1.Service{Code: f.ServiceCode, Name: f.ServiceCode, Department: f.Department, DepartmentName: cat.UnitName(f.Department)}
	}
	return svc, cat
}

// personOf is what the catalogue reads of a resident's record.
func personOf(r store.Resident) catalogue.Person {
	return catalogue.Person{Name: r.Name, IDNumber: r.IDNumber, Gender: r.Gender, BirthDate: r.BirthDate, Address: r.Address,
		GridCell: r.GridCell, Household: r.Household, Categories: r.Categories}
}

// departmentName is a unit's name in the catalogue in force.
func (s *Server) departmentName(ctx context.Context, code string) string {
	if cat, err := s.cats.current(ctx, s.now()); err == nil {
		return cat.UnitName(code)
	}
	return code
}

// knownUnit reports whether code is a unit of the catalogue in force.
func (s *Server) knownUnit(c *fiber.Ctx, code string) bool {
	cat, err := s.catalogue(c)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(cat.Units(), func(u catalogue.Named) bool { return u.Code == code })
}

// eligibleList splits the catalogue into what the resident may file and
// what they may not (with the reasons).
func eligibleList(cat *catalogue.Catalogue, r store.Resident, now time.Time) apiv1.ServiceList {
	out := apiv1.ServiceList{CatalogueVersion: cat.Version(), Services: []apiv1.Service{}, Hidden: []apiv1.HiddenService{}}
	p, day := personOf(r), identity.ChinaDate(now)
	for _, svc := range cat.Services() {
		if ok, reasons := cat.Eligible(svc.Code, p, day); ok {
			out.Services = append(out.Services, svc)
		} else {
			out.Hidden = append(out.Hidden, apiv1.HiddenService{Code: svc.Code, Name: svc.Name, Reasons: reasons})
		}
	}
	return out
}

// checkEligible refuses a service the resident may not file.
func checkEligible(cat *catalogue.Catalogue, code string, r store.Resident, now time.Time) error {
	ok, reasons := cat.Eligible(code, personOf(r), identity.ChinaDate(now))
	if ok {
		return nil
	}
	e := errf(apiv1.CodeNotEligible, "the resident may not file %s: %s", code, strings.Join(reasons, "；"))
	e.detail.Fields = map[string]string{"reasons": strings.Join(reasons, "；")}
	return e
}

// ---- handlers ----

func (s *Server) handleServices(c *fiber.Ctx) error {
	cat, err := s.catalogue(c)
	if err != nil {
		return err
	}
	return c.JSON(apiv1.ServiceList{CatalogueVersion: cat.Version(), Services: cat.Services()})
}

// handleEligibleServices lists the services the token's resident may file
// (the kiosk offers only these); the hidden ones are counted out, without
// reasons (staff see them: handleEligibility).
func (s *Server) handleEligibleServices(c *fiber.Ctx) error {
	var req apiv1.EligibleRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	ts, err := s.tokenFor(c, req.Token)
	if err != nil {
		return err
	}
	cat, err := s.catalogue(c)
	if err != nil {
		return err
	}
	l := eligibleList(cat, ts.resident, s.now())
	l.Hidden = nil
	if ts.agent != nil {
		// 代办: only the principal's services that an agent may file.
		l.Services = slices.DeleteFunc(l.Services, func(svc apiv1.Service) bool { return !svc.AgentAllowed })
	}
	return c.JSON(l)
}

// handleEligibility: staff look up what a resident may file and why the
// rest is hidden (audited: it reads a resident's record).
func (s *Server) handleEligibility(c *fiber.Ctx) error {
	var req apiv1.EligibilityRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	if !identity.ValidIDNumber(req.IDNumber) {
		return errf(apiv1.CodeCardInvalid, "not a valid ID number")
	}
	res, err := s.st.GetResident(c.UserContext(), req.IDNumber)
	if errors.Is(err, store.ErrNotFound) {
		return errf(apiv1.CodeResidentUnknown, "no resident with this ID number")
	} else if err != nil {
		return storeErr(err, "resident")
	}
	cat, err := s.catalogue(c)
	if err != nil {
		return err
	}
	if err := s.audit(c.UserContext(), staffActor(c), "eligibility.check", "resident:"+strconv.FormatInt(res.ID, 10), nil); err != nil {
		return errf(apiv1.CodeUnavailable, "the audit log does not answer")
	}
	return c.JSON(eligibleList(cat, res, s.now()))
}

// handleUpcoming lists the residents of a grid cell who become eligible for
// a service in a period (turning 60 or 80, ...): the grid worker's list of
// whom to tell in advance. Audited (it lists residents' records).
func (s *Server) handleUpcoming(c *fiber.Ctx) error {
	cell := strings.TrimSpace(c.Query("grid_cell"))
	if cell == "" || len(cell) > 32 {
		return badRequest("grid_cell is required")
	}
	today := identity.ChinaDate(s.now())
	from, to := today, today.AddDays(30)
	var err error
	if q := c.Query("from"); q != "" {
		if from, err = identity.ParseDate(q); err != nil || from.IsLongTerm() {
			return badRequest("from must be YYYY-MM-DD")
		}
	}
	if q := c.Query("to"); q != "" {
		if to, err = identity.ParseDate(q); err != nil || to.IsLongTerm() {
			return badRequest("to must be YYYY-MM-DD")
		}
	}
	if to < from || from.AddDays(366) < to {
		return badRequest("the period from..to must be 0..366 days")
	}
	// Who becomes eligible soon, never who did: a period in the past would
	// list every resident who once crossed an age (16, 60, ...) with the
	// birthday, and a sweep over the years the whole cell.
	if from < today {
		return badRequest("from must not be before today (%s)", today)
	}
	cat, err := s.catalogue(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	out := apiv1.UpcomingList{GridCell: cell, From: from.String(), To: to.String(), Residents: []apiv1.UpcomingResident{}}
	var after int64
	for {
		rs, err := s.st.ListResidents(ctx, store.ResidentFilter{GridCell: cell, Status: store.ResidentActive, AfterID: after, Limit: 500})
		if err != nil {
			return storeErr(err, "residents")
		}
		for _, r := range rs {
			for _, b := range cat.BecomesEligible(personOf(r), from, to) {
				svc, _ := cat.Service(b.Service)
				out.Residents = append(out.Residents, apiv1.UpcomingResident{
					ResidentID: r.ID, Name: r.Name, IDNumber: identity.MaskIDNumber(r.IDNumber), Household: r.Household,
					Service: b.Service, ServiceName: svc.Name, EligibleOn: b.On.String(),
				})
			}
		}
		if len(rs) < 500 {
			break
		}
		after = rs[len(rs)-1].ID
	}
	sort.SliceStable(out.Residents, func(i, j int) bool { return out.Residents[i].EligibleOn < out.Residents[j].EligibleOn })
	if err := s.audit(ctx, staffActor(c), "eligibility.upcoming", "grid:"+cell,
		map[string]string{"from": out.From, "to": out.To, "rows": strconv.Itoa(len(out.Residents))}); err != nil {
		return errf(apiv1.CodeUnavailable, "the audit log does not answer")
	}
	return c.JSON(out)
}

// handleGetCatalogue returns the catalogue document in force.
func (s *Server) handleGetCatalogue(c *fiber.Ctx) error {
	cat, err := s.catalogue(c)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Send(cat.JSON())
}

// handleListCatalogues lists the saved versions.
func (s *Server) handleListCatalogues(c *fiber.Ctx) error {
	cat, err := s.catalogue(c)
	if err != nil {
		return err
	}
	vs, err := s.st.ListCatalogues(c.UserContext())
	if err != nil {
		return storeErr(err, "catalogue versions")
	}
	out := apiv1.CatalogueVersionList{InForce: cat.Version(), Versions: []apiv1.CatalogueVersion{}}
	for _, v := range vs {
		out.Versions = append(out.Versions, apiv1.CatalogueVersion{Version: v.Version, SavedBy: v.Actor.String(), Note: v.Note, SavedAt: v.CreatedAt})
	}
	return c.JSON(out)
}

// saveCatalogue validates and saves a new version (the API's PUT and the
// back office's form); the store audits it.
func (s *Server) saveCatalogue(c *fiber.Ctx, doc []byte, note string) (*catalogue.Catalogue, error) {
	if len([]rune(note)) > 200 {
		return nil, badRequest("note of at most 200 characters")
	}
	cur, err := s.catalogue(c)
	if err != nil {
		return nil, err
	}
	next, err := catalogue.Parse(doc)
	var ce *catalogue.Error
	if errors.As(err, &ce) {
		e := errf(apiv1.CodeCatalogueInvalid, "the catalogue has %d problems", len(ce.Problems))
		e.detail.Fields = map[string]string{}
		for _, p := range ce.Problems {
			if prev, ok := e.detail.Fields[p.Path]; ok {
				e.detail.Fields[p.Path] = prev + "；" + p.Message
			} else {
				e.detail.Fields[p.Path] = p.Message
			}
		}
		return nil, e
	} else if err != nil {
		return nil, err
	}
	if next.Version() != cur.Version()+1 {
		return nil, errf(apiv1.CodeCatalogueVersion, "version %d given; the version in force is %d, so an edit is version %d", next.Version(), cur.Version(), cur.Version()+1)
	}
	err = s.st.SaveCatalogue(c.UserContext(), staffActor(c), store.CatalogueVersion{Version: next.Version(), Document: doc, Note: note, CreatedAt: s.now()})
	if errors.Is(err, store.ErrConflict) {
		return nil, errf(apiv1.CodeCatalogueVersion, "version %d was saved meanwhile; reload and edit again", next.Version())
	} else if err != nil {
		return nil, storeErr(err, "catalogue")
	}
	s.cats.saved(next, s.now())
	s.log.Info("catalogue saved", "version", next.Version(), "services", len(next.Services()), "by", staffActor(c).String())
	return next, nil
}

// handlePutCatalogue saves a new catalogue version (admin).
func (s *Server) handlePutCatalogue(c *fiber.Ctx) error {
	ct := string(c.Request().Header.ContentType())
	if mt, _, _ := strings.Cut(ct, ";"); strings.TrimSpace(strings.ToLower(mt)) != fiber.MIMEApplicationJSON {
		return errf(apiv1.CodeUnsupportedMedia, "request body must be application/json")
	}
	cat, err := s.saveCatalogue(c, c.Body(), c.Query("note"))
	if err != nil {
		return err
	}
	return c.JSON(apiv1.ServiceList{CatalogueVersion: cat.Version(), Services: cat.Services()})
}
