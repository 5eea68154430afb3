package api

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/reports"
	"github.com/qingshan-gov/veinkiosk/server/review"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// reportBodyLimit bounds a report request: a 2 MiB photo is 2.7 MiB in
// base64, plus the text.
const reportBodyLimit = 3 << 20

// escalationActor is the audit actor of escalations.
var escalationActor = audit.System("supervision")

func (s *Server) handleReportKinds(c *fiber.Ctx) error {
	return c.JSON(kindList(s.reportKinds()))
}

// reportView converts a store report for the wire; staff views carry the
// resident's words.
func (s *Server) reportView(p store.Report, staff bool, residentName string) apiv1.Report {
	kinds := s.reportKinds()
	kind, ok := kinds.Kind(p.Kind)
	if !ok {
		kind.Name = p.Kind // a kind no longer in the document
	}
	out := apiv1.Report{
		ID: p.ID, Reference: p.Reference, Kind: p.Kind, KindName: kind.Name, Unit: p.Unit, UnitName: s.unitName(p.Unit),
		Status: string(p.Status), StatusLabel: apiv1.ReportStatusLabel(string(p.Status)), GridCell: p.GridCell,
		StationID: p.StationID, KioskID: p.KioskID, SubmittedAt: p.CreatedAt, DueAt: p.DueAt, RepliedAt: p.RepliedAt,
		ClosedAt: p.ClosedAt, Reply: p.Reply, Overdue: p.Status.Open() && s.now().After(p.DueAt), EscalatedAt: p.EscalatedAt,
		HasPhoto: p.PhotoType != "",
	}
	if staff {
		out.Description, out.Location, out.ResidentID, out.ResidentName = p.Description, p.Location, p.ResidentID, residentName
	}
	return out
}

// newReport checks a report request (kind, photo) into a store.NewReport
// for the resident.
func newReport(kinds *reports.Kinds, req *apiv1.SubmitReportRequest, res store.Resident, now time.Time) (store.NewReport, error) {
	if !validIdemKey(req.IdempotencyKey) {
		return store.NewReport{}, badRequest("idempotency_key must be 16..64 characters of A-Z a-z 0-9 - _ (a UUID will do)")
	}
	kind, ok := kinds.Kind(req.Kind)
	if !ok {
		return store.NewReport{}, errf(apiv1.CodeReportKindUnknown, "no report kind %q", req.Kind)
	}
	nr := store.NewReport{
		Kind: kind.Code, Unit: kind.Unit, IDNumber: res.IDNumber, GridCell: req.GridCell, Description: req.Description,
		Location: req.Location, DueAt: now.AddDate(0, 0, kind.DeadlineDays), IdempotencyKey: req.IdempotencyKey, CreatedAt: now,
	}
	if nr.GridCell == "" {
		nr.GridCell = res.GridCell
	}
	if nr.GridCell == "" {
		return store.NewReport{}, badRequest("grid_cell is required: the resident's record has none")
	}
	if len(req.Photo) > 0 {
		typ, err := reports.CheckPhoto(req.Photo)
		switch {
		case errors.Is(err, reports.ErrPhotoTooLarge):
			return store.NewReport{}, errf(apiv1.CodePhotoTooLarge, "the photo is too large: at most %d bytes and %d pixels a side", reports.MaxPhotoBytes, reports.MaxPhotoSide)
		case err != nil:
			return store.NewReport{}, errf(apiv1.CodePhotoInvalid, "the photo must be a JPEG or PNG image")
		}
		nr.Photo, nr.PhotoType = req.Photo, typ
	}
	return nr, nil
}

func createReportErr(err error) error {
	switch {
	case errors.Is(err, store.ErrConflict):
		return errf(apiv1.CodeIdempotencyReuse, "this idempotency key was used for another report")
	case errors.Is(err, store.ErrInactive):
		return errf(apiv1.CodeResidentSuspended, "the resident's record is suspended")
	}
	return storeErr(err, "report")
}

// handleKioskReport files a report at the kiosk after card and vein,
// consuming the filing token. A retry with the same key answers the first
// report (200 instead of 201).
func (s *Server) handleKioskReport(c *fiber.Ctx) error {
	k := kioskOf(c)
	ctx := c.UserContext()
	var req apiv1.SubmitReportRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	if req.IDNumber != "" {
		return badRequest("a kiosk names the resident by the filing token, not id_number")
	}
	now := s.now()
	res, err := s.tokenResident(c, req.Token)
	if err != nil {
		// The retry of a report whose answer was lost.
		if res, err = s.retryResident(ctx, k.ID, req.Token, now, err); err != nil {
			return err
		}
	}
	nr, err := newReport(s.reportKinds(), &req, res, now)
	if err != nil {
		return err
	}
	nr.KioskID, nr.StationID, nr.Token = k.ID, k.StationID, req.Token
	p, created, err := s.st.CreateReport(ctx, audit.Kiosk(k.ID), nr)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExpired) {
		return errf(apiv1.CodeTokenInvalid, "the filing token is unknown, expired, used or belongs to another kiosk; verify again")
	} else if err != nil {
		return createReportErr(err)
	}
	if err := s.spent.put(ctx, req.Token, spent{idNumber: res.IDNumber, kioskID: k.ID, exp: now.Add(s.cfg.TokenTTL + time.Hour)}); err != nil {
		return storeErr(err, "spent token")
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return c.Status(status).JSON(s.reportView(p, false, ""))
}

// handleDeskReport files a report at the desk: station staff for the
// resident in front of them, at their own station.
func (s *Server) handleDeskReport(c *fiber.Ctx) error {
	var req apiv1.SubmitReportRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	p, created, err := s.deskReport(c, req)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return c.Status(status).JSON(s.reportView(p, true, ""))
}

// deskReport files a report at the desk for the resident named by ID
// number, at the staff member's own station (the API and the office form).
func (s *Server) deskReport(c *fiber.Ctx, req apiv1.SubmitReportRequest) (store.Report, bool, error) {
	sess, ctx := sessionOf(c), c.UserContext()
	if req.Token != "" {
		return store.Report{}, false, badRequest("at the desk the resident is named by id_number, not a token")
	}
	if sess.station == "" {
		return store.Report{}, false, errf(apiv1.CodeStationMismatch, "your account has no station: reports are filed at a station")
	}
	res, err := s.st.GetResident(ctx, req.IDNumber)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
		return store.Report{}, false, errf(apiv1.CodeResidentUnknown, "no resident with this ID number")
	} else if err != nil {
		return store.Report{}, false, storeErr(err, "resident")
	}
	if res.Status == store.ResidentSuspended {
		return store.Report{}, false, errf(apiv1.CodeResidentSuspended, "the resident's record is suspended")
	}
	nr, err := newReport(s.reportKinds(), &req, res, s.now())
	if err != nil {
		return store.Report{}, false, err
	}
	nr.StationID = sess.station
	p, created, err := s.st.CreateReport(ctx, staffActor(c), nr)
	if err != nil {
		return p, false, createReportErr(err)
	}
	return p, created, nil
}

// reportScope restricts what a role sees: officers their unit's reports,
// station staff their station's.
func reportScope(sess *session, f *store.ReportFilter) {
	switch sess.role {
	case store.RoleDepartmentOfficer:
		f.Unit = sess.department
	case store.RoleStationStaff:
		f.StationID = sess.station
	}
}

func (s *Server) handleListReports(c *fiber.Ctx) error {
	f := store.ReportFilter{Unit: c.Query("unit")}
	if st := c.Query("status"); st != "" {
		if !store.ReportStatus(st).Valid() {
			return badRequest("unknown status %q", st)
		}
		f.Statuses = []store.ReportStatus{store.ReportStatus(st)}
	}
	var err error
	if f.AfterID, f.Limit, err = pageQuery(c, "report"); err != nil {
		return err
	}
	reportScope(sessionOf(c), &f)
	ps, err := s.st.ListReports(c.UserContext(), f)
	if err != nil {
		return storeErr(err, "reports")
	}
	out := apiv1.ReportList{Reports: make([]apiv1.Report, 0, len(ps))}
	for _, p := range ps {
		out.Reports = append(out.Reports, s.reportView(p, true, ""))
	}
	return c.JSON(out)
}

// scopedReport loads a report the session may see; another unit's or
// station's report does not exist for it.
func (s *Server) scopedReport(c *fiber.Ctx) (store.Report, error) {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || id <= 0 {
		return store.Report{}, badRequest("report id must be a positive integer")
	}
	p, err := s.st.GetReport(c.UserContext(), id)
	if errors.Is(err, store.ErrNotFound) {
		return p, errf(apiv1.CodeReportNotFound, "no report %d", id)
	} else if err != nil {
		return p, storeErr(err, "report")
	}
	sess := sessionOf(c)
	if sess.role == store.RoleDepartmentOfficer && p.Unit != sess.department || sess.role == store.RoleStationStaff && p.StationID != sess.station {
		return p, errf(apiv1.CodeReportNotFound, "no report %d", id)
	}
	return p, nil
}

func (s *Server) handleGetReport(c *fiber.Ctx) error {
	p, err := s.scopedReport(c)
	if err != nil {
		return err
	}
	name := ""
	if r, err := s.st.GetResidentByID(c.UserContext(), p.ResidentID); err == nil {
		name = r.Name
	}
	return c.JSON(s.reportView(p, true, name))
}

// handleReportPhoto serves a report's photo, re-checked on the way out and
// never sniffed or rendered as anything but an image.
func (s *Server) handleReportPhoto(c *fiber.Ctx) error {
	p, err := s.scopedReport(c)
	if err != nil {
		return err
	}
	typ, b, err := s.st.ReportPhoto(c.UserContext(), p.ID)
	if errors.Is(err, store.ErrNotFound) {
		return errf(apiv1.CodeNotFound, "report %d has no photo", p.ID)
	} else if err != nil {
		return storeErr(err, "report photo")
	}
	if got, err := reports.CheckPhoto(b); err != nil || got != typ {
		return errf(apiv1.CodeInternal, "the stored photo does not check")
	}
	c.Set(fiber.HeaderContentType, typ)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderContentSecurityPolicy, "default-src 'none'; sandbox")
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(b)
}

// handleReportAction applies a unit officer's action: accept, reply, close.
func (s *Server) handleReportAction(c *fiber.Ctx) error {
	p, err := s.scopedReport(c)
	if err != nil {
		return err
	}
	var a apiv1.ReportAction
	if err := decode(c, &a); err != nil {
		return err
	}
	np, err := s.reportAction(c, p, a)
	if err != nil {
		return err
	}
	return c.JSON(s.reportView(np, true, ""))
}

// reportAction applies an officer's action to a report in their scope (the
// API and the office's form).
func (s *Server) reportAction(c *fiber.Ctx, p store.Report, a apiv1.ReportAction) (store.Report, error) {
	var to store.ReportStatus
	switch a.Action {
	case apiv1.ReportAccept:
		to = store.ReportAccepted
	case apiv1.ReportReply:
		to = store.ReportReplied
	case apiv1.ReportClose:
		to = store.ReportClosed
	default:
		return p, badRequest("action must be accept, reply or close")
	}
	if len([]rune(a.Reply)) > 1000 {
		return p, badRequest("reply of at most 1000 characters")
	}
	if to == store.ReportReplied && a.Reply == "" || to == store.ReportClosed && a.Reply == "" && p.RepliedAt == nil {
		return p, badRequest("a reply to the resident is required to answer or close a report not yet answered")
	}
	if !store.CanTransitionReport(p.Status, to) {
		return p, errf(apiv1.CodeReportState, "a %s report cannot be %s", p.Status, apiv1.ReportStatusLabel(string(to)))
	}
	t := store.ReportTransition{ReportID: p.ID, From: p.Status, To: to, Note: a.Action, At: s.now()}
	if a.Reply != "" {
		t.Reply = &a.Reply
	}
	np, err := s.st.TransitionReport(c.UserContext(), staffActor(c), t)
	if errors.Is(err, store.ErrConflict) {
		return p, errf(apiv1.CodeReportState, "the report changed meanwhile; reload it")
	} else if err != nil {
		return p, storeErr(err, "report")
	}
	return np, nil
}

// residentReports lists a resident's reports for the kiosk, newest first.
func (s *Server) residentReports(ctx context.Context, idNumber string) ([]apiv1.Report, error) {
	ps, err := s.st.ListReports(ctx, store.ReportFilter{IDNumber: idNumber, Limit: 100})
	if err != nil {
		return nil, storeErr(err, "reports")
	}
	out := make([]apiv1.Report, 0, len(ps))
	for i := len(ps) - 1; i >= 0; i-- {
		out = append(out, s.reportView(ps[i], false, ""))
	}
	return out, nil
}

// ---- supervision ----

// escalate marks overdue open filings and reports (Housekeep and the
// supervisor's list call it; each item once, audited).
func (s *Server) escalate(ctx context.Context) (int, error) {
	items, err := s.st.EscalateOverdue(ctx, escalationActor, s.now())
	for _, it := range items {
		s.log.Info("overdue item escalated", "item", it.Item, "id", it.ID, "reference", it.Reference, "unit", it.Unit)
	}
	return len(items), err
}

// isReportUnit reports whether code is a unit that processes issue reports.
func (s *Server) isReportUnit(code string) bool {
	_, ok := s.reportKinds().Unit(code)
	return ok
}

// itemName is a report kind's or a service's name (in the catalogue in
// force).
func (s *Server) itemName(ctx context.Context, item, code string) string {
	if item == "report" {
		if k, ok := s.reportKinds().Kind(code); ok {
			return k.Name
		}
		return code
	}
	if cat, err := s.cats.current(ctx, s.now()); err == nil {
		if svc, ok := cat.Service(code); ok {
			return svc.Name
		}
	}
	return code
}

// handleSupervisionOpen lists every open filing and report with the time
// left, escalating the overdue ones first.
func (s *Server) handleSupervisionOpen(c *fiber.Ctx) error {
	ctx := c.UserContext()
	n, err := s.escalate(ctx)
	if err != nil {
		return storeErr(err, "escalation")
	}
	items, err := s.st.OpenItems(ctx, store.OpenItemFilter{Unit: c.Query("unit")})
	if err != nil {
		return storeErr(err, "open items")
	}
	now := s.now()
	out := apiv1.OpenItemList{At: now, Escalated: n, Items: make([]apiv1.OpenItem, 0, len(items))}
	for _, it := range items {
		left := it.DueAt.Sub(now)
		out.Items = append(out.Items, apiv1.OpenItem{
			Item: it.Item, ID: it.ID, Reference: it.Reference, Code: it.Code, Name: s.itemName(ctx, it.Item, it.Code), Unit: it.Unit,
			UnitName: s.unitName(it.Unit), StationID: it.StationID, Status: it.Status, SubmittedAt: it.CreatedAt, DueAt: it.DueAt,
			TimeLeftS: int64(left / time.Second), Overdue: left < 0, EscalatedAt: it.EscalatedAt,
		})
	}
	return c.JSON(out)
}

// computeReview computes the review of year as of now (the year's end when
// it is over), of one unit when unit is not "".
func (s *Server) computeReview(ctx context.Context, year int, unit string) (review.Review, error) {
	from := time.Date(year, 1, 1, 0, 0, 0, 0, review.China)
	to := from.AddDate(1, 0, 0)
	asOf := s.now()
	if asOf.After(to) {
		asOf = to
	}
	recs, err := s.st.ReviewRecords(ctx, from, to)
	if err != nil {
		return review.Review{}, storeErr(err, "review records")
	}
	in := make([]review.Record, 0, len(recs))
	for _, r := range recs {
		if unit == "" || r.Unit == unit {
			in = append(in, review.Record{Kind: r.Item, Unit: r.Unit, CreatedAt: r.CreatedAt, DueAt: r.DueAt, DoneAt: r.DoneAt})
		}
	}
	gs, err := s.st.RatingRecords(ctx, from, to)
	if err != nil {
		return review.Review{}, storeErr(err, "ratings")
	}
	ratings := make([]review.Rating, 0, len(gs))
	for _, g := range gs {
		if unit == "" || g.Unit == unit {
			ratings = append(ratings, review.Rating{Unit: g.Unit, At: g.CreatedAt, Score: g.Score})
		}
	}
	var units []string
	for _, u := range s.reportKinds().Units {
		if unit == "" || u.Code == unit {
			units = append(units, u.Code)
		}
	}
	return review.ComputeWithRatings(in, ratings, year, asOf, units), nil
}

// reviewParams reads year (default: this year, China time) and unit
// (officers: always their own).
func (s *Server) reviewParams(c *fiber.Ctx) (int, string, error) {
	year := s.now().In(review.China).Year()
	if y := c.Query("year"); y != "" {
		n, err := strconv.Atoi(y)
		if err != nil || n < 2000 || n > 2100 {
			return 0, "", badRequest("year must be 2000..2100")
		}
		year = n
	}
	unit := c.Query("unit")
	if sess := sessionOf(c); sess.role == store.RoleDepartmentOfficer {
		if unit != "" && unit != sess.department {
			return 0, "", errf(apiv1.CodeForbidden, "an officer sees only their own unit's review")
		}
		unit = sess.department
	}
	return year, unit, nil
}

func statsView(st review.Stats) apiv1.ReviewStats {
	return apiv1.ReviewStats{Done: st.Done, OnTime: st.OnTime, Late: st.Late, OpenOverdue: st.OpenOverdue, Overdue: st.Overdue,
		OnTimeRate: st.OnTimeRate, MedianSeconds: st.MedianSeconds, P90Seconds: st.P90Seconds,
		Rated: st.Rated, Satisfied: st.Satisfied, Dissatisfied: st.Dissatisfied, SatisfactionRate: st.SatisfactionRate, MeanScore: st.MeanScore}
}

// handleReview returns the year-end efficiency review as JSON or, with
// format=csv, as a CSV download (audited: it leaves the system).
func (s *Server) handleReview(c *fiber.Ctx) error {
	year, unit, err := s.reviewParams(c)
	if err != nil {
		return err
	}
	r, err := s.computeReview(c.UserContext(), year, unit)
	if err != nil {
		return err
	}
	switch c.Query("format", "json") {
	case "json":
	case "csv":
		return s.sendReviewCSV(c, r, unit)
	default:
		return badRequest("format must be json or csv")
	}
	out := apiv1.Review{Year: r.Year, AsOf: r.AsOf, Units: make([]apiv1.ReviewUnit, 0, len(r.Units))}
	for _, u := range r.Units {
		ru := apiv1.ReviewUnit{Unit: u.Unit, UnitName: s.unitName(u.Unit), Year: statsView(u.Year), Months: make([]apiv1.ReviewStats, 12)}
		for m, st := range u.Months {
			ru.Months[m] = statsView(st)
		}
		out.Units = append(out.Units, ru)
	}
	return c.JSON(out)
}

// sendReviewCSV sends the review as a CSV download, audited
// (review.export) before it leaves; refused when the audit log does not
// answer.
func (s *Server) sendReviewCSV(c *fiber.Ctx, r review.Review, unit string) error {
	names := map[string]string{}
	for _, u := range s.reportKinds().Units {
		names[u.Code] = u.Name
	}
	var b bytes.Buffer
	if err := review.WriteCSV(&b, r, names); err != nil {
		return err
	}
	if err := s.audit(c.UserContext(), staffActor(c), "review.export", "review:"+strconv.Itoa(r.Year), map[string]string{"unit": unit, "format": "csv"}); err != nil {
		return errf(apiv1.CodeUnavailable, "the audit log does not answer; the export is refused")
	}
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="efficiency-review-`+strconv.Itoa(r.Year)+`.csv"`)
	return c.Send(b.Bytes())
}

// handleReviewChart returns one unit's year as an SVG bar chart.
func (s *Server) handleReviewChart(c *fiber.Ctx) error {
	year, unit, err := s.reviewParams(c)
	if err != nil {
		return err
	}
	if _, ok := s.reportKinds().Unit(unit); !ok {
		return badRequest("unit must be one of the units")
	}
	r, err := s.computeReview(c.UserContext(), year, unit)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "image/svg+xml")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderContentSecurityPolicy, "default-src 'none'; style-src 'unsafe-inline'")
	return c.SendString(review.SVG(r.Units[0], year, s.unitName(unit)+" "+strconv.Itoa(year)+" 按期办结率"))
}
