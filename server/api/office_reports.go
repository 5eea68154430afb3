package api

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/reports"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// The desk's issue-report form (docs/reports.md): station staff file a
// report for the resident in front of them, who gives the ID card; the
// same checks as POST /api/v1/reports, in Chinese.

type officeReportRow struct {
	Reference, Kind, Unit, Status, Submitted, Due, Replied string
	Overdue                                                bool
}

// officeUnitKinds is a unit with its kinds, for the form's grouped select.
type officeUnitKinds struct {
	Name  string
	Kinds []reports.Kind
}

func newFormKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "desk-" + hex.EncodeToString(b)
}

func (s *Server) officeDeskReportData(c *fiber.Ctx) (map[string]any, error) {
	sess, ctx := sessionOf(c), c.UserContext()
	var groups []officeUnitKinds
	kinds := s.reportKinds()
	for _, u := range kinds.Units {
		g := officeUnitKinds{Name: u.Name}
		for _, k := range kinds.Kinds {
			if k.Unit == u.Code {
				g.Kinds = append(g.Kinds, k)
			}
		}
		groups = append(groups, g)
	}
	var rows []officeReportRow
	if sess.station != "" {
		ps, err := s.st.ListReports(ctx, store.ReportFilter{StationID: sess.station, Limit: 1000})
		if err != nil {
			return nil, storeErr(err, "reports")
		}
		for i := len(ps) - 1; i >= 0 && len(rows) < 20; i-- {
			v := s.reportView(ps[i], false, "")
			r := officeReportRow{Reference: v.Reference, Kind: v.KindName, Unit: v.UnitName, Status: v.StatusLabel, Overdue: v.Overdue,
				Submitted: v.SubmittedAt.In(identity.ChinaTime).Format(officeTime), Due: v.DueAt.In(identity.ChinaTime).Format("2006-01-02")}
			if v.RepliedAt != nil {
				r.Replied = v.RepliedAt.In(identity.ChinaTime).Format("2006-01-02")
			}
			rows = append(rows, r)
		}
	}
	return map[string]any{"Title": "代居民反映问题", "Session": officeSess(sess), "Nav": officeNav(sess), "Groups": groups,
		"Recent": rows, "Key": newFormKey()}, nil
}

// officeDeskReport shows the form and the station's latest reports.
func (s *Server) officeDeskReport(c *fiber.Ctx) error {
	data, err := s.officeDeskReportData(c)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "report_new.html", data)
}

// deskReportProblem words an error of the desk form in Chinese.
func deskReportProblem(err error) (string, bool) {
	var ae *apiError
	if !errors.As(err, &ae) {
		return "", false
	}
	switch ae.detail.Code {
	case apiv1.CodeResidentUnknown:
		return "没有找到这个身份证号的居民，请核对后重新填写。", true
	case apiv1.CodeResidentSuspended:
		return "这位居民的资格已暂停，请联系主管。", true
	case apiv1.CodeReportKindUnknown:
		return "请选择问题类别。", true
	case apiv1.CodePhotoTooLarge:
		return "照片太大：最大2MB，长宽各不超过4096像素。", true
	case apiv1.CodePhotoInvalid:
		return "照片须是JPEG或PNG图片。", true
	case apiv1.CodeStationMismatch:
		return "您的账号不属于任何服务站，不能代居民反映问题。", true
	case apiv1.CodeIdempotencyReuse:
		return "这张表单已经提交过别的内容，请刷新页面后重新填写。", true
	case apiv1.CodeBadRequest:
		return "填写有误：" + ae.detail.Message, true
	}
	return "", false
}

// officeFileDeskReport files the form's report; then the confirmation with
// the reference and the due date (the resident is told both).
func (s *Server) officeFileDeskReport(c *fiber.Ctx) error {
	req := apiv1.SubmitReportRequest{IDNumber: strings.TrimSpace(c.FormValue("id_number")), Kind: c.FormValue("kind"),
		GridCell: strings.TrimSpace(c.FormValue("grid_cell")), Description: strings.TrimSpace(c.FormValue("description")),
		Location: strings.TrimSpace(c.FormValue("location")), IdempotencyKey: c.FormValue("key")}
	problem := ""
	switch {
	case !identity.ValidIDNumber(req.IDNumber):
		problem = "请填写居民身份证上的18位号码（校验位不对）。"
	case req.Kind == "":
		problem = "请选择问题类别。"
	case req.Description == "":
		problem = "请填写居民反映的问题。"
	}
	if fh, err := c.FormFile("photo"); problem == "" && err == nil && fh.Size > 0 {
		if fh.Size > reports.MaxPhotoBytes {
			problem = "照片太大：最大2MB，长宽各不超过4096像素。"
		} else if f, err := fh.Open(); err == nil {
			req.Photo, err = io.ReadAll(io.LimitReader(f, reports.MaxPhotoBytes+1))
			f.Close()
			if err != nil {
				return err
			}
		}
	}
	if problem == "" {
		p, _, err := s.deskReport(c, req)
		if err == nil {
			data, derr := s.officeDeskReportData(c)
			if derr != nil {
				return derr
			}
			v := s.reportView(p, false, "")
			data["Filed"] = map[string]string{"Reference": v.Reference, "Kind": v.KindName, "Unit": v.UnitName,
				"Due": v.DueAt.In(identity.ChinaTime).Format("2006-01-02")}
			return s.render(c, http.StatusCreated, "report_new.html", data)
		}
		var ok bool
		if problem, ok = deskReportProblem(err); !ok {
			return err
		}
	}
	data, err := s.officeDeskReportData(c)
	if err != nil {
		return err
	}
	data["Error"], data["Form"], data["Key"] = problem, req, req.IdempotencyKey
	return s.render(c, http.StatusUnprocessableEntity, "report_new.html", data)
}

// ---- the unit's reports (officers; supervisors and administrators read) ----

// officeReports lists the reports in the session's scope: open ones first,
// due first, then the answered, newest first.
func (s *Server) officeReports(c *fiber.Ctx) error {
	sess, ctx := sessionOf(c), c.UserContext()
	f := store.ReportFilter{Limit: 1000}
	reportScope(sess, &f)
	ps, err := s.st.ListReports(ctx, f)
	if err != nil {
		return storeErr(err, "reports")
	}
	type row struct {
		officeReportRow
		ID      int64
		Station string
		Open    bool
	}
	var open, done []row
	for i := len(ps) - 1; i >= 0; i-- {
		v := s.reportView(ps[i], false, "")
		r := row{officeReportRow: officeReportRow{Reference: v.Reference, Kind: v.KindName, Unit: v.UnitName, Status: v.StatusLabel, Overdue: v.Overdue,
			Submitted: v.SubmittedAt.In(identity.ChinaTime).Format(officeTime), Due: v.DueAt.In(identity.ChinaTime).Format("2006-01-02")},
			ID: v.ID, Station: v.StationID, Open: ps[i].Status.Open()}
		if v.RepliedAt != nil {
			r.Replied = v.RepliedAt.In(identity.ChinaTime).Format("2006-01-02")
		}
		if r.Open {
			open = append(open, r)
		} else if len(done) < 50 {
			done = append(done, r)
		}
	}
	sort.SliceStable(open, func(i, j int) bool { return open[i].Due < open[j].Due })
	heading := "全部居民诉求"
	if sess.role == store.RoleDepartmentOfficer {
		heading = s.unitName(sess.department) + " · 居民诉求"
	}
	return s.render(c, http.StatusOK, "reports.html", map[string]any{"Title": "居民诉求", "Session": officeSess(sess), "Nav": officeNav(sess),
		"Heading": heading, "Open": open, "Done": done})
}

func (s *Server) officeReportData(c *fiber.Ctx, p store.Report) map[string]any {
	sess, ctx := sessionOf(c), c.UserContext()
	name := ""
	if r, err := s.st.GetResidentByID(ctx, p.ResidentID); err == nil {
		name = r.Name
	}
	v := s.reportView(p, true, name)
	data := map[string]any{"Title": "诉求 " + v.Reference, "Session": officeSess(sess), "Nav": officeNav(sess), "R": v,
		"Submitted": v.SubmittedAt.In(identity.ChinaTime).Format(officeTime), "Due": v.DueAt.In(identity.ChinaTime).Format(officeTime),
		"CanAct": sess.role == store.RoleDepartmentOfficer && p.Status != store.ReportClosed}
	if v.RepliedAt != nil {
		data["Replied"] = v.RepliedAt.In(identity.ChinaTime).Format(officeTime)
	}
	return data
}

// officeReport shows one report with the officer's actions.
func (s *Server) officeReport(c *fiber.Ctx) error {
	p, err := s.scopedReport(c)
	if err != nil {
		return err
	}
	data := s.officeReportData(c, p)
	data["Done"] = c.Query("done") != ""
	return s.render(c, http.StatusOK, "report.html", data)
}

var reportActionNames = map[string]string{apiv1.ReportAccept: "受理", apiv1.ReportReply: "答复", apiv1.ReportClose: "办结"}

// officeReportAct applies the form's action (post/redirect/get).
func (s *Server) officeReportAct(c *fiber.Ctx) error {
	p, err := s.scopedReport(c)
	if err != nil {
		return err
	}
	a := apiv1.ReportAction{Action: c.FormValue("action"), Reply: strings.TrimSpace(c.FormValue("reply"))}
	problem := ""
	switch {
	case reportActionNames[a.Action] == "":
		problem = "请选择受理、答复或办结。"
	case a.Action == apiv1.ReportReply && a.Reply == "", a.Action == apiv1.ReportClose && a.Reply == "" && p.RepliedAt == nil:
		problem = "答复或办结尚未答复的诉求时，必须填写给居民的答复。"
	default:
		np, err := s.reportAction(c, p, a)
		var ae *apiError
		switch {
		case err == nil:
			return c.Redirect("/office/reports/"+strconv.FormatInt(np.ID, 10)+"?done="+a.Action, http.StatusSeeOther)
		case errors.As(err, &ae) && ae.detail.Code == apiv1.CodeReportState:
			problem = "此诉求当前为“" + apiv1.ReportStatusLabel(string(p.Status)) + "”，不能" + reportActionNames[a.Action] + "。"
			if np, gerr := s.st.GetReport(c.UserContext(), p.ID); gerr == nil {
				p = np
			}
		case errors.As(err, &ae) && ae.detail.Code == apiv1.CodeBadRequest:
			problem = "填写有误：" + ae.detail.Message
		default:
			return err
		}
	}
	data := s.officeReportData(c, p)
	data["Error"], data["Reply"] = problem, a.Reply
	return s.render(c, http.StatusUnprocessableEntity, "report.html", data)
}
