package api

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// The back office's 低保 deliberation pages (docs/transparency.md): the
// meetings' records, entered by the officers of the unit deciding 低保
// (民政), with the filings each decided; and the public notice page.

type officeMeetingFiling struct {
	ID                                         int64
	Reference, ServiceName, Status, StatusCode string
	Attached                                   bool
}

// lines splits a textarea into its non-empty trimmed lines.
func lines(v string) []string {
	var out []string
	for _, l := range strings.Split(v, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// meetingProblem checks the meeting form and says in Chinese what is wrong.
func meetingProblem(req apiv1.MeetingCreate) string {
	held, err := time.Parse(time.DateOnly, req.HeldOn)
	switch {
	case req.StationID == "":
		return "请选择服务站。"
	case err != nil:
		return "请填写会议日期（年-月-日）。"
	case quarterOf(time.Date(held.Year(), held.Month(), held.Day(), 12, 0, 0, 0, identity.ChinaTime)) != req.Quarter:
		return "会议日期不在所选季度内。"
	case len(req.Members) < 3 || len(req.Members) > 30:
		return "请填写3至30名到会人员，每行一人。"
	case strings.TrimSpace(req.Minutes) == "" || utf8.RuneCountInString(req.Minutes) > 5000:
		return "请填写会议纪要（最多5000字）。"
	}
	return ""
}

// officeAPIProblem words an API error of a meeting form in Chinese.
func officeAPIProblem(err error) (string, bool) {
	var ae *apiError
	if !errors.As(err, &ae) {
		return "", false
	}
	switch ae.detail.Code {
	case apiv1.CodeFilingNotFound:
		return "没有这个受理编号，或不是本部门的办件：" + ae.detail.Message, true
	case apiv1.CodeMeetingConflict:
		return "有办件已附在另一次审议会议上，未作任何更改。", true
	case apiv1.CodeForbidden:
		return "只有负责低保审批的部门经办人可以录入审议会议记录。", true
	case apiv1.CodeBadRequest:
		return "填写有误，未作任何更改：" + ae.detail.Message, true
	}
	return "", false
}

func (s *Server) officeDibaoData(c *fiber.Ctx) (map[string]any, error) {
	if err := s.meetingReader(c); err != nil {
		return nil, err
	}
	sess, ctx := sessionOf(c), c.UserContext()
	quarter := c.Query("quarter", quarterOf(s.now()))
	if !quarterPattern.MatchString(quarter) {
		quarter = quarterOf(s.now())
	}
	sts, err := s.st.ListStations(ctx)
	if err != nil {
		return nil, storeErr(err, "stations")
	}
	ms, err := s.st.ListMeetings(ctx, store.MeetingFilter{Quarter: quarter, Limit: 200})
	if err != nil {
		return nil, storeErr(err, "meetings")
	}
	names := map[string]string{}
	for _, st := range sts {
		names[st.ID] = st.Name
	}
	cat, err := s.catalogue(c)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Title": "低保审议", "Session": officeSess(sess), "Nav": officeNav(sess), "Quarter": quarter,
		"Stations": sts, "StationNames": names, "Meetings": ms,
		"CanKeep": sess.role == store.RoleDepartmentOfficer && deliberationUnit(cat, sess.department)}, nil
}

// officeDibao lists the quarter's meetings with the form for a new one.
func (s *Server) officeDibao(c *fiber.Ctx) error {
	data, err := s.officeDibaoData(c)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "dibao.html", data)
}

// officeCreateMeeting records a meeting from the form (audited).
func (s *Server) officeCreateMeeting(c *fiber.Ctx) error {
	req := apiv1.MeetingCreate{StationID: c.FormValue("station"), Quarter: c.FormValue("quarter"), HeldOn: strings.TrimSpace(c.FormValue("held_on")),
		Members: lines(c.FormValue("members")), Minutes: strings.TrimSpace(c.FormValue("minutes")), Filings: lines(c.FormValue("filings"))}
	problem := meetingProblem(req)
	if problem == "" {
		m, err := s.createMeeting(c, req)
		if err == nil {
			return c.Redirect("/office/dibao/"+strconv.FormatInt(m.ID, 10)+"?done=1", http.StatusSeeOther)
		}
		p, ok := officeAPIProblem(err)
		if !ok {
			return err
		}
		problem = p
	}
	data, err := s.officeDibaoData(c)
	if err != nil {
		return err
	}
	data["Error"], data["Form"] = problem, req
	data["MembersText"], data["FilingsText"] = strings.Join(req.Members, "\n"), strings.Join(req.Filings, "\n")
	return s.render(c, http.StatusUnprocessableEntity, "dibao.html", data)
}

func (s *Server) officeMeetingData(c *fiber.Ctx, m store.Meeting) (map[string]any, error) {
	sess, ctx := sessionOf(c), c.UserContext()
	var decided []officeMeetingFiling
	for _, id := range m.FilingIDs {
		f, err := s.st.GetFiling(ctx, id)
		if err != nil {
			return nil, storeErr(err, "filing")
		}
		r := s.rowOf(ctx, f)
		decided = append(decided, officeMeetingFiling{ID: f.ID, Reference: f.Reference, ServiceName: r.ServiceName, Status: r.Status, StatusCode: r.StatusCode, Attached: true})
	}
	cat, err := s.catalogue(c)
	if err != nil {
		return nil, err
	}
	canKeep := sess.role == store.RoleDepartmentOfficer && deliberationUnit(cat, sess.department)
	// The station's deliberation filings still open and not attached: the
	// ones a meeting may decide.
	var candidates []officeMeetingFiling
	if canKeep {
		fs, err := s.st.ListFilings(ctx, store.FilingFilter{StationID: m.StationID, Department: sess.department,
			Statuses: []store.FilingStatus{store.FilingSubmitted, store.FilingInReview, store.FilingNeedInfo}, Limit: 500})
		if err != nil {
			return nil, storeErr(err, "filings")
		}
		for _, f := range fs {
			if !s.deliberationService(ctx, f) || slices.Contains(m.FilingIDs, f.ID) {
				continue
			}
			if _, err := s.st.FilingMeeting(ctx, f.ID); err == nil {
				continue
			}
			r := s.rowOf(ctx, f)
			candidates = append(candidates, officeMeetingFiling{ID: f.ID, Reference: f.Reference, ServiceName: r.ServiceName, Status: r.Status, StatusCode: r.StatusCode})
		}
	}
	return map[string]any{"Title": "低保审议会议 " + m.HeldOn, "Session": officeSess(sess), "Nav": officeNav(sess), "M": m,
		"Decided": decided, "Candidates": candidates, "CanKeep": canKeep,
		"NoticeHref": fmt.Sprintf("/notice/dibao?station=%s&quarter=%s", m.StationID, m.Quarter)}, nil
}

// officeMeeting shows a meeting's record and the filings it decided.
func (s *Server) officeMeeting(c *fiber.Ctx) error {
	m, err := s.meetingParam(c)
	if err != nil {
		return err
	}
	data, err := s.officeMeetingData(c, m)
	if err != nil {
		return err
	}
	data["Done"] = c.Query("done") != ""
	return s.render(c, http.StatusOK, "meeting.html", data)
}

// officeAttachMeeting attaches the ticked filings (and any references typed).
func (s *Server) officeAttachMeeting(c *fiber.Ctx) error {
	m, err := s.meetingParam(c)
	if err != nil {
		return err
	}
	refs := lines(c.FormValue("filings"))
	if args := c.Context().PostArgs(); args != nil {
		for _, v := range args.PeekMulti("filing") {
			refs = append(refs, string(v))
		}
	}
	problem := "请勾选或填写本次会议审议的办件。"
	if len(refs) > 0 {
		nm, err := s.attachMeeting(c, m, refs)
		if err == nil {
			return c.Redirect("/office/dibao/"+strconv.FormatInt(nm.ID, 10)+"?done=1", http.StatusSeeOther)
		}
		p, ok := officeAPIProblem(err)
		if !ok {
			return err
		}
		problem = p
	}
	data, err := s.officeMeetingData(c, m)
	if err != nil {
		return err
	}
	data["Error"] = problem
	return s.render(c, http.StatusUnprocessableEntity, "meeting.html", data)
}

// publicNotice is the public notice (公示) page, printable; without
// station and quarter it asks for them.
func (s *Server) publicNotice(c *fiber.Ctx) error {
	ctx := c.UserContext()
	sts, err := s.st.ListStations(ctx)
	if err != nil {
		return storeErr(err, "stations")
	}
	data := map[string]any{"Title": "低保公示", "Stations": sts, "Quarter": c.Query("quarter", quarterOf(s.now()))}
	station := c.Query("station")
	if station == "" {
		return s.render(c, http.StatusOK, "notice.html", data)
	}
	n, err := s.notice(ctx, station, c.Query("quarter"))
	if err != nil {
		return err
	}
	data["N"] = n
	data["Printed"] = s.now().In(identity.ChinaTime).Format(time.DateOnly)
	return s.render(c, http.StatusOK, "notice.html", data)
}
