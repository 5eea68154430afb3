package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/catalogue"
	"github.com/qingshan-gov/veinkiosk/server/grid"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// Grid workers (docs/grid.md): the worklist of one's own grid cell, the
// residents' records, visits; and the pensioners' proof of life at the
// kiosk.

// gridWorkers is the role of the grid routes.
var gridWorkers = []store.Role{store.RoleGridWorker}

// flagWindow is how far back a change of a resident's record stays
// flagged, and how far ahead a birthday is.
const (
	flagChangesDays  = 90
	flagBirthdayDays = 30
)

// gridCell returns the grid worker's cell as the staff record says now (a
// reassignment takes effect at once, the session does not carry it).
func (s *Server) gridCell(c *fiber.Ctx) (string, error) {
	sess := sessionOf(c)
	st, err := s.st.GetStaff(c.UserContext(), sess.staffID)
	if err != nil {
		return "", storeErr(err, "staff")
	}
	if st.Role != store.RoleGridWorker || st.GridCell == "" || st.Disabled {
		return "", errf(apiv1.CodeForbidden, "not a grid worker with a grid cell")
	}
	return st.GridCell, nil
}

// cellResident returns a resident of the grid worker's cell; any other is
// told not to exist.
func (s *Server) cellResident(ctx context.Context, cell, idParam string) (store.Resident, error) {
	id, err := strconv.ParseInt(idParam, 10, 64)
	if err != nil || id <= 0 {
		return store.Resident{}, errf(apiv1.CodeNotFound, "no such resident in your grid cell")
	}
	r, err := s.st.GetResidentByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && r.GridCell != cell {
		return store.Resident{}, errf(apiv1.CodeNotFound, "no such resident in your grid cell")
	}
	if err != nil {
		return store.Resident{}, storeErr(err, "resident")
	}
	return r, nil
}

func entryOf(r store.Resident) apiv1.GridListEntry {
	return apiv1.GridListEntry{ResidentID: r.ID, Name: r.Name, IDNumber: identity.MaskIDNumber(r.IDNumber), Household: r.Household}
}

func chinaDay(t time.Time) string { return t.In(identity.ChinaTime).Format(time.DateOnly) }

// worklist computes the grid worker's lists for a cell at now.
func (s *Server) worklist(ctx context.Context, cat *catalogue.Catalogue, cell string, now time.Time) (apiv1.GridWorklist, error) {
	today := identity.ChinaDate(now)
	out := apiv1.GridWorklist{GridCell: cell, Today: today.String(), Year: today.Year(),
		Week: []apiv1.GridListEntry{}, Month: []apiv1.GridListEntry{}, HalfYear: []apiv1.GridListEntry{},
		Flags: []apiv1.GridFlag{}, Uncertified: []apiv1.GridListEntry{}}
	last, err := s.st.LastVisits(ctx, cell)
	if err != nil {
		return out, storeErr(err, "visits")
	}
	certs, err := s.st.Certifications(ctx, cell, today.Year())
	if err != nil {
		return out, storeErr(err, "certifications")
	}
	var certServices []string
	for _, svc := range cat.Services() {
		if svc.Kind == catalogue.KindCertification {
			certServices = append(certServices, svc.Code)
		}
	}
	residents := map[int64]store.Resident{}
	var after int64
	for {
		rs, err := s.st.ListResidents(ctx, store.ResidentFilter{GridCell: cell, Status: store.ResidentActive, AfterID: after, Limit: 500})
		if err != nil {
			return out, storeErr(err, "residents")
		}
		for _, r := range rs {
			residents[r.ID] = r
			rule := s.visitRules.For(r.Categories)
			if grid.Due(rule, last[r.ID], now) {
				e := entryOf(r)
				e.Rule = rule.Name
				if t, ok := last[r.ID]; ok {
					e.LastVisit = chinaDay(t)
				}
				switch rule.Period {
				case grid.Week:
					out.Week = append(out.Week, e)
				case grid.Month:
					out.Month = append(out.Month, e)
				default:
					out.HalfYear = append(out.HalfYear, e)
				}
			}
			// The certification service's eligibility rule says who is a
			// pensioner: one place for it.
			if _, done := certs[r.ID]; !done {
				for _, code := range certServices {
					if ok, _ := cat.Eligible(code, personOf(r), today); ok {
						out.Uncertified = append(out.Uncertified, entryOf(r))
						break
					}
				}
			}
			// Turning 60 or 80: the services a birthday opens.
			bs := cat.BecomesEligible(personOf(r), today, today.AddDays(flagBirthdayDays))
			if len(bs) > 0 {
				f := apiv1.GridFlag{ResidentID: r.ID, Name: r.Name, IDNumber: identity.MaskIDNumber(r.IDNumber), Kind: "birthday", On: bs[0].On.String()}
				for _, b := range bs {
					if b.On < bs[0].On {
						f.On = b.On.String()
					}
					svc, _ := cat.Service(b.Service)
					f.Services = append(f.Services, svc.Name)
				}
				on, _ := identity.ParseDate(f.On)
				f.What = fmt.Sprintf("年满%d周岁", on.Year()-identity.DateOf(r.BirthDate).Year())
				out.Flags = append(out.Flags, f)
			}
		}
		out.Residents += len(rs)
		if len(rs) < 500 {
			break
		}
		after = rs[len(rs)-1].ID
	}
	changes, err := s.st.ResidentChanges(ctx, cell, now.AddDate(0, 0, -flagChangesDays))
	if err != nil {
		return out, storeErr(err, "changes")
	}
	names := map[string]string{}
	for _, n := range cat.Categories() {
		names[n.Code] = n.Name
	}
	for _, ch := range changes {
		r, ok := residents[ch.ResidentID]
		if !ok {
			continue
		}
		if len(ch.Added) > 0 {
			// What the new categories open: eligible now, not without them.
			before := personOf(r)
			before.Categories = slices.DeleteFunc(slices.Clone(r.Categories), func(c string) bool { return slices.Contains(ch.Added, c) })
			before.Categories = append(before.Categories, ch.Removed...)
			f := apiv1.GridFlag{ResidentID: r.ID, Name: r.Name, IDNumber: identity.MaskIDNumber(r.IDNumber), Kind: "category", On: chinaDay(ch.At), Services: []string{}}
			var added []string
			for _, c := range ch.Added {
				added = append(added, cmpOr(names[c], c))
			}
			f.What = "新增类别：" + strings.Join(added, "、")
			for _, svc := range cat.Services() {
				now1, _ := cat.Eligible(svc.Code, personOf(r), today)
				was, _ := cat.Eligible(svc.Code, before, today)
				if now1 && !was {
					f.Services = append(f.Services, svc.Name)
				}
			}
			out.Flags = append(out.Flags, f)
		}
		if slices.Contains(ch.Fields, store.ChangeHousehold) {
			out.Flags = append(out.Flags, apiv1.GridFlag{ResidentID: r.ID, Name: r.Name, IDNumber: identity.MaskIDNumber(r.IDNumber),
				Kind: "household", On: chinaDay(ch.At), What: "家庭户变更，请核对待遇", Services: []string{}})
		}
	}
	sort.SliceStable(out.Flags, func(i, j int) bool { return out.Flags[i].On < out.Flags[j].On })
	return out, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// cellWorklist is the worklist of the grid worker's cell, audited: the
// API's and the office page's.
func (s *Server) cellWorklist(c *fiber.Ctx) (apiv1.GridWorklist, error) {
	cell, err := s.gridCell(c)
	if err != nil {
		return apiv1.GridWorklist{}, err
	}
	cat, err := s.catalogue(c)
	if err != nil {
		return apiv1.GridWorklist{}, err
	}
	ctx := c.UserContext()
	out, err := s.worklist(ctx, cat, cell, s.now())
	if err != nil {
		return out, err
	}
	if err := s.audit(ctx, staffActor(c), "grid.worklist", "grid:"+cell, map[string]string{"residents": strconv.Itoa(out.Residents)}); err != nil {
		return out, errf(apiv1.CodeUnavailable, "the audit log does not answer")
	}
	return out, nil
}

func (s *Server) handleGridWorklist(c *fiber.Ctx) error {
	out, err := s.cellWorklist(c)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

// gridResident is the record view of one resident, audited.
func (s *Server) gridResident(c *fiber.Ctx, cell string, r store.Resident) (apiv1.GridResident, error) {
	ctx := c.UserContext()
	vs, err := s.st.ListVisits(ctx, r.ID, 20)
	if err != nil {
		return apiv1.GridResident{}, storeErr(err, "visits")
	}
	out := apiv1.GridResident{ResidentID: r.ID, Name: r.Name, IDNumber: identity.MaskIDNumber(r.IDNumber), Gender: r.Gender,
		Address: r.Address, Household: r.Household, Phone: r.Phone, Categories: r.Categories, Rule: s.visitRules.For(r.Categories).Name,
		Visits: []apiv1.GridVisit{}}
	if out.Categories == nil {
		out.Categories = []string{}
	}
	if !r.BirthDate.IsZero() {
		out.BirthDate = r.BirthDate.Format(time.DateOnly)
	}
	for _, v := range vs {
		out.Visits = append(out.Visits, apiv1.GridVisit{ID: v.ID, At: v.At.Format(time.RFC3339), Note: v.Note})
	}
	if err := s.audit(ctx, staffActor(c), "grid.resident", "resident:"+strconv.FormatInt(r.ID, 10), map[string]string{"grid_cell": cell}); err != nil {
		return out, errf(apiv1.CodeUnavailable, "the audit log does not answer")
	}
	return out, nil
}

func (s *Server) handleGridResident(c *fiber.Ctx) error {
	cell, err := s.gridCell(c)
	if err != nil {
		return err
	}
	r, err := s.cellResident(c.UserContext(), cell, c.Params("id"))
	if err != nil {
		return err
	}
	out, err := s.gridResident(c, cell, r)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

// checkGridUpdate validates a grid worker's change against the catalogue's
// categories and the phone kind; the message is in Chinese for the page.
func checkGridUpdate(cat *catalogue.Catalogue, u apiv1.GridResidentUpdate) error {
	if u.Household == nil && u.Categories == nil && u.Phone == nil {
		return badRequest("没有要修改的内容")
	}
	if u.Household != nil {
		h := strings.TrimSpace(*u.Household)
		if utf8.RuneCountInString(h) > 32 || !utf8.ValidString(h) || strings.IndexFunc(h, unicode.IsControl) >= 0 {
			return badRequest("家庭户号至多32个字符")
		}
	}
	if u.Phone != nil {
		if p := strings.TrimSpace(*u.Phone); p != "" && !catalogue.ValidPhone(p) {
			return badRequest("电话号码格式不正确（手机号11位，或座机 0472-1234567）")
		}
	}
	if u.Categories != nil {
		known := map[string]bool{}
		for _, n := range cat.Categories() {
			known[n.Code] = true
		}
		if len(*u.Categories) > len(known) {
			return badRequest("类别过多")
		}
		for _, c := range *u.Categories {
			if !known[c] {
				return badRequest("未知类别 %q", c)
			}
		}
	}
	return nil
}

// updateResident applies a grid worker's change.
func (s *Server) updateResident(c *fiber.Ctx, cat *catalogue.Catalogue, cell string, r store.Resident, u apiv1.GridResidentUpdate) (store.Resident, error) {
	if err := checkGridUpdate(cat, u); err != nil {
		return r, err
	}
	up, _, err := s.st.UpdateResident(c.UserContext(), staffActor(c), store.ResidentUpdate{
		ResidentID: r.ID, GridCell: cell, Household: u.Household, Categories: u.Categories, Phone: u.Phone, At: s.now(),
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return r, errf(apiv1.CodeNotFound, "no such resident in your grid cell")
	case errors.Is(err, store.ErrInvalid):
		return r, badRequest("没有变化，或内容无效")
	case err != nil:
		return r, storeErr(err, "resident")
	}
	return up, nil
}

func (s *Server) handleGridUpdate(c *fiber.Ctx) error {
	cell, err := s.gridCell(c)
	if err != nil {
		return err
	}
	var req apiv1.GridResidentUpdate
	if err := decode(c, &req); err != nil {
		return err
	}
	cat, err := s.catalogue(c)
	if err != nil {
		return err
	}
	r, err := s.cellResident(c.UserContext(), cell, c.Params("id"))
	if err != nil {
		return err
	}
	up, err := s.updateResident(c, cat, cell, r, req)
	if err != nil {
		return err
	}
	out, err := s.gridResident(c, cell, up)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (s *Server) recordVisit(c *fiber.Ctx, cell string, r store.Resident, note string) (store.Visit, error) {
	note = strings.TrimSpace(note)
	if len(note) > store.MaxVisitNote || !utf8.ValidString(note) {
		return store.Visit{}, badRequest("走访记录至多%d字节", store.MaxVisitNote)
	}
	v, err := s.st.RecordVisit(c.UserContext(), staffActor(c), store.NewVisit{ResidentID: r.ID, GridCell: cell, StaffID: sessionOf(c).staffID, Note: note, At: s.now()})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return v, errf(apiv1.CodeNotFound, "no such resident in your grid cell")
	case err != nil:
		return v, storeErr(err, "visit")
	}
	return v, nil
}

func (s *Server) handleGridVisit(c *fiber.Ctx) error {
	cell, err := s.gridCell(c)
	if err != nil {
		return err
	}
	var req apiv1.GridVisitRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	r, err := s.cellResident(c.UserContext(), cell, c.Params("id"))
	if err != nil {
		return err
	}
	v, err := s.recordVisit(c, cell, r, req.Note)
	if err != nil {
		return err
	}
	return c.Status(http.StatusCreated).JSON(apiv1.GridVisit{ID: v.ID, At: v.At.Format(time.RFC3339), Note: v.Note})
}

// handleKioskCertify records a pensioner's proof of life: the card and vein
// check that issued the token is the whole transaction. Once a year; a
// second certification in the year answers the first (200, already).
func (s *Server) handleKioskCertify(c *fiber.Ctx) error {
	k := kioskOf(c)
	var req apiv1.CertifyRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	cat, err := s.catalogue(c)
	if err != nil {
		return err
	}
	svc, ok := cat.Service(req.Service)
	if !ok {
		return errf(apiv1.CodeServiceUnknown, "no service %q", req.Service)
	}
	if svc.Kind != catalogue.KindCertification {
		return badRequest("%s is filed with its form, not certified", svc.Code)
	}
	res, err := s.tokenResident(c, req.Token)
	if err != nil {
		return err
	}
	now := s.now()
	if err := checkEligible(cat, svc.Code, res, now); err != nil {
		return err
	}
	year := identity.ChinaDate(now).Year()
	cert, created, err := s.st.Certify(c.UserContext(), audit.Kiosk(k.ID), store.NewCertification{
		Token: req.Token, KioskID: k.ID, StationID: k.StationID, Year: year, At: now,
	})
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrExpired):
		return errf(apiv1.CodeTokenInvalid, "the filing token is unknown, expired, used or belongs to another kiosk; verify again")
	case err != nil:
		return storeErr(err, "certification")
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return c.Status(status).JSON(apiv1.Certification{Service: svc.Code, ServiceName: svc.Name, Year: cert.Year,
		CertifiedAt: cert.CertifiedAt.Format(time.RFC3339), Already: !created})
}
