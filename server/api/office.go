package api

import (
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// The back office: a minimal server-rendered page (embedded templates,
// Chinese labels) where officers list and process their department's
// filings and supervisors watch overdue filings. Sessions are the API's,
// carried in an HttpOnly, SameSite=Strict cookie; every form carries the
// session's CSRF token.

//go:embed templates/*.html
var officeFS embed.FS

var officeTmpl = template.Must(template.ParseFS(officeFS, "templates/*.html"))

var roleNames = map[store.Role]string{
	store.RoleStationStaff:      "服务站工作人员",
	store.RoleSupervisor:        "督办",
	store.RoleDepartmentOfficer: "部门经办人",
	store.RoleAdmin:             "管理员",
}

var statusNames = map[store.FilingStatus]string{
	store.FilingSubmitted: "待受理",
	store.FilingInReview:  "审核中",
	store.FilingNeedInfo:  "待补充材料",
	store.FilingAccepted:  "已通过",
	store.FilingRejected:  "已驳回",
}

type officeSession struct {
	Username, RoleName, CSRF string
}

type officeRow struct {
	ID                                                         int64
	Reference, ServiceName, Department, Status, Submitted, Due string
	Overdue                                                    bool
}

type officeField struct{ Label, Value string }

type officeFilingView struct {
	officeRow
	ResidentName, Reply string
	Fields              []officeField
}

type officeOverdue struct {
	Name      string
	Count     int
	OldestDue string
}

func (s *Server) render(c *fiber.Ctx, status int, name string, data map[string]any) error {
	var b strings.Builder
	if err := officeTmpl.ExecuteTemplate(&b, name, data); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	c.Set("X-Frame-Options", "DENY")
	return c.Status(status).SendString(b.String())
}

func officeSess(sess *session) *officeSession {
	if sess == nil {
		return nil
	}
	return &officeSession{Username: sess.username, RoleName: roleNames[sess.role], CSRF: sess.csrf}
}

// officeAuth requires a back-office session cookie with one of roles, and
// on POST the session's CSRF token.
func (s *Server) officeAuth(roles ...store.Role) fiber.Handler {
	return func(c *fiber.Ctx) error {
		sess, ok, err := s.sessions.get(c.UserContext(), c.Cookies(sessionCookie), s.now())
		if err != nil {
			return storeErr(err, "session")
		}
		if !ok {
			return c.Redirect("/office", http.StatusSeeOther)
		}
		c.Locals(localsSession, sess)
		if len(roles) > 0 && !containsRole(roles, sess.role) {
			return s.render(c, statusOf(apiv1.CodeForbidden), "login.html", map[string]any{"Title": "无权限", "Session": officeSess(sess), "Error": "您的角色无权进行此操作。"})
		}
		if c.Method() == http.MethodPost && c.FormValue("csrf") != sess.csrf {
			return s.render(c, statusOf(apiv1.CodeForbidden), "login.html", map[string]any{"Title": "请求无效", "Session": officeSess(sess), "Error": "表单已过期，请刷新页面后重试。"})
		}
		return c.Next()
	}
}

func containsRole(roles []store.Role, r store.Role) bool {
	for _, x := range roles {
		if x == r {
			return true
		}
	}
	return false
}

func (s *Server) officeHome(c *fiber.Ctx) error {
	sess, ok, err := s.sessions.get(c.UserContext(), c.Cookies(sessionCookie), s.now())
	if err != nil {
		return storeErr(err, "session")
	}
	if !ok {
		return s.render(c, http.StatusOK, "login.html", map[string]any{"Title": "登录"})
	}
	c.Locals(localsSession, sess)
	ctx := c.UserContext()
	now := s.now()
	data := map[string]any{"Title": "待办件", "Session": officeSess(sess)}
	f := store.FilingFilter{Statuses: []store.FilingStatus{store.FilingSubmitted, store.FilingInReview, store.FilingNeedInfo}, Limit: 200}
	switch sess.role {
	case store.RoleDepartmentOfficer:
		f.Department = sess.department
		data["Heading"] = DepartmentName(sess.department) + " · 待办件"
		data["CanOpen"] = true
	case store.RoleSupervisor, store.RoleAdmin:
		data["Heading"] = "全部在办件"
		data["CanOpen"] = true
		od, err := s.st.OverdueByDepartment(ctx, now)
		if err != nil {
			return storeErr(err, "overdue")
		}
		var rows []officeOverdue
		for _, d := range od {
			rows = append(rows, officeOverdue{Name: DepartmentName(d.Department), Count: d.Overdue, OldestDue: d.OldestDue.In(identity.ChinaTime).Format(time.DateOnly)})
		}
		data["Overdue"] = rows
	default:
		data["Heading"] = "服务站工作人员请在自助终端上办理"
		return s.render(c, http.StatusOK, "list.html", data)
	}
	fs, err := s.st.ListFilings(ctx, f)
	if err != nil {
		return storeErr(err, "filings")
	}
	var rows []officeRow
	for _, fl := range fs {
		rows = append(rows, rowOf(fl, now))
	}
	data["Filings"] = rows
	return s.render(c, http.StatusOK, "list.html", data)
}

func rowOf(f store.Filing, now time.Time) officeRow {
	svc, _ := service(f.ServiceCode)
	return officeRow{
		ID: f.ID, Reference: f.Reference, ServiceName: svc.Name, Department: DepartmentName(f.Department),
		Status: statusNames[f.Status], Submitted: f.CreatedAt.In(identity.ChinaTime).Format("2006-01-02 15:04"),
		Due: f.DueAt.In(identity.ChinaTime).Format(time.DateOnly), Overdue: !f.Status.Closed() && now.After(f.DueAt),
	}
}

func (s *Server) officeLogin(c *fiber.Ctx) error {
	tok, sess, err := s.login(c, c.FormValue("username"), c.FormValue("password"))
	if err != nil {
		msg := "用户名或密码错误。"
		var ae *apiError
		if errors.As(err, &ae) && ae.detail.Code == apiv1.CodeRateLimited {
			msg = "登录尝试过多，请稍后再试。"
		} else if !errors.As(err, &ae) {
			return err
		}
		return s.render(c, ae.status(), "login.html", map[string]any{"Title": "登录", "Error": msg})
	}
	c.Cookie(&fiber.Cookie{Name: sessionCookie, Value: tok, Path: "/", HTTPOnly: true, Secure: !s.cfg.InsecureCookies, SameSite: fiber.CookieSameSiteStrictMode, Expires: sess.expires})
	return c.Redirect("/office", http.StatusSeeOther)
}

func (s *Server) officeLogout(c *fiber.Ctx) error {
	if err := s.sessions.close(c.UserContext(), c.Cookies(sessionCookie)); err != nil {
		return storeErr(err, "session")
	}
	c.ClearCookie(sessionCookie)
	return c.Redirect("/office", http.StatusSeeOther)
}

func (s *Server) officeFilingData(c *fiber.Ctx, f store.Filing) map[string]any {
	now := s.now()
	v := officeFilingView{officeRow: rowOf(f, now), Reply: f.Reply}
	if r, err := s.st.GetResidentByID(c.UserContext(), f.ResidentID); err == nil {
		v.ResidentName = r.Name
	}
	var values map[string]string
	_ = json.Unmarshal(f.Form, &values)
	if svc, ok := service(f.ServiceCode); ok {
		for _, fd := range svc.Fields {
			if val, ok := values[fd.Name]; ok {
				v.Fields = append(v.Fields, officeField{Label: fd.Label, Value: val})
			}
		}
	}
	sess := sessionOf(c)
	return map[string]any{"Title": v.ServiceName, "Session": officeSess(sess), "F": v,
		"CanDecide": sess.role == store.RoleDepartmentOfficer && !f.Status.Closed()}
}

func (s *Server) officeFiling(c *fiber.Ctx) error {
	f, err := s.scopedFiling(c, c.Params("id"))
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "filing.html", s.officeFilingData(c, f))
}

// officeDecide records an officer's decision from the page's form.
func (s *Server) officeDecide(c *fiber.Ctx) error {
	f, err := s.scopedFiling(c, c.Params("id"))
	if err != nil {
		return err
	}
	d := apiv1.Decision{Action: c.FormValue("action"), Reply: strings.TrimSpace(c.FormValue("reply"))}
	if _, err := s.decide(c, f, d); err != nil {
		var ae *apiError
		if !errors.As(err, &ae) || ae.status() >= 500 {
			return err
		}
		data := s.officeFilingData(c, f)
		data["Error"] = ae.detail.Message
		return s.render(c, ae.status(), "filing.html", data)
	}
	return c.Redirect("/office", http.StatusSeeOther)
}
