package api

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/catalogue"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// The back office: a minimal server-rendered page (embedded templates,
// Chinese labels) where officers list and process their department's
// filings and supervisors watch overdue filings. Sessions are the API's,
// carried in an HttpOnly, SameSite=Strict cookie; every form carries the
// session's CSRF token.

//go:embed templates/*.html
var officeFS embed.FS

var officeTmpl = template.Must(template.New("").Funcs(template.FuncMap{"inc": func(i int) int { return i + 1 }}).ParseFS(officeFS, "templates/*.html"))

var roleNames = map[store.Role]string{
	store.RoleStationStaff:      "服务站工作人员",
	store.RoleSupervisor:        "督办",
	store.RoleDepartmentOfficer: "部门经办人",
	store.RoleAdmin:             "管理员",
	store.RoleGridWorker:        "网格员",
}

type officeSession struct {
	Username, RoleName, CSRF string
}

type officeRow struct {
	ID                                                                     int64
	Reference, ServiceName, Department, Status, StatusCode, Submitted, Due string
	Decided                                                                string // closed filings
	Overdue, Late                                                          bool
	CatalogueVersion                                                       int
	ByAgent                                                                bool // 代办
}

type officeField struct{ Label, Value string }

type officeFilingView struct {
	officeRow
	ResidentName, Reply string
	Fields              []officeField
	Agent               *officeAgent
}

// officeAgent is who filed for the resident (代办) and why they could.
type officeAgent struct {
	Name, IDMasked, Relation, Relationship string
}

type officeOverdue struct {
	Name      string
	Count     int
	OldestDue string
}

// officeCSP is the office pages' Content-Security-Policy: no script at all.
// A page that plays a sound of its own (the staff screen's chime) adds
// media-src 'self' (data key MediaSelf).
const officeCSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"

func (s *Server) render(c *fiber.Ctx, status int, name string, data map[string]any) error {
	s.countAssistNav(c, data)
	var b strings.Builder
	if err := officeTmpl.ExecuteTemplate(&b, name, data); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	csp := officeCSP
	if media, _ := data["MediaSelf"].(bool); media {
		csp += "; media-src 'self'"
	}
	c.Set("Content-Security-Policy", csp)
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
		sess, ok, err := s.liveSession(c.UserContext(), c.Cookies(sessionCookie))
		if err != nil {
			return err
		}
		if !ok {
			return c.Redirect("/office", http.StatusSeeOther)
		}
		if err := s.sessionUsable(c, sess, authOffice); err != nil {
			return err
		}
		c.Locals(localsSession, sess)
		if len(roles) > 0 && !containsRole(roles, sess.role) {
			return s.officeErrorPage(c, statusOf(apiv1.CodeForbidden), apiv1.CodeForbidden, "")
		}
		if c.Method() == http.MethodPost && (c.FormValue("csrf") != sess.csrf || crossSite(c)) {
			return s.officeErrorPage(c, statusOf(apiv1.CodeForbidden), apiv1.CodeForbidden, "表单已过期，请刷新页面后重试。")
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
	sess, ok, err := s.liveSession(c.UserContext(), c.Cookies(sessionCookie))
	if err != nil {
		return err
	}
	if !ok {
		return s.render(c, http.StatusOK, "login.html", map[string]any{"Title": "登录"})
	}
	if err := s.sessionUsable(c, sess, authOffice); err != nil {
		return err
	}
	c.Locals(localsSession, sess)
	ctx := c.UserContext()
	now := s.now()
	data := map[string]any{"Title": "待办件", "Session": officeSess(sess), "Nav": officeNav(sess)}
	f := store.FilingFilter{Statuses: []store.FilingStatus{store.FilingSubmitted, store.FilingInReview, store.FilingNeedInfo}, Limit: 200}
	switch sess.role {
	case store.RoleDepartmentOfficer:
		f.Department = sess.department
		data["Heading"] = s.departmentName(ctx, sess.department) + " · 待办件"
		data["CanOpen"] = true
	case store.RoleSupervisor, store.RoleAdmin:
		data["Heading"] = "全部在办件"
		data["CanOpen"] = true
		data["CanUnlock"] = true
		od, err := s.st.OverdueByDepartment(ctx, now)
		if err != nil {
			return storeErr(err, "overdue")
		}
		var rows []officeOverdue
		for _, d := range od {
			rows = append(rows, officeOverdue{Name: s.departmentName(ctx, d.Department), Count: d.Overdue, OldestDue: d.OldestDue.In(identity.ChinaTime).Format(time.DateOnly)})
		}
		data["Overdue"] = rows
	case store.RoleGridWorker:
		return c.Redirect("/office/grid", http.StatusSeeOther)
	default:
		data["Heading"] = "服务站工作人员请在自助终端上办理（先在“设置 PIN 码”里设置终端登录用的 PIN 码）"
		return s.render(c, http.StatusOK, "list.html", data)
	}
	fs, err := s.st.ListFilings(ctx, f)
	if err != nil {
		return storeErr(err, "filings")
	}
	var rows []officeRow
	for _, fl := range fs {
		rows = append(rows, s.rowOf(ctx, fl))
	}
	data["Filings"] = rows
	return s.render(c, http.StatusOK, "list.html", data)
}

const officeTime = "2006-01-02 15:04"

func (s *Server) rowOf(ctx context.Context, f store.Filing) officeRow {
	svc, cat := s.serviceAt(ctx, f)
	r := officeRow{
		ID: f.ID, Reference: f.Reference, ServiceName: svc.Name, Department: cat.UnitName(f.Department),
		Status: apiv1.FilingStatusLabel(string(f.Status)).ZH, StatusCode: string(f.Status),
		Submitted: f.CreatedAt.In(identity.ChinaTime).Format(officeTime),
		Due:       f.DueAt.In(identity.ChinaTime).Format(time.DateOnly), Overdue: !f.Status.Closed() && s.now().After(f.DueAt),
		CatalogueVersion: f.CatalogueVersion, ByAgent: f.AgentResidentID != 0,
	}
	if f.ClosedAt != nil {
		r.Decided = f.ClosedAt.In(identity.ChinaTime).Format(officeTime)
		r.Late = f.ClosedAt.After(f.DueAt)
	}
	return r
}

// crossSite reports whether the browser says the request was started by
// another site (Sec-Fetch-Site: cross-site or same-site): a form posted to
// the back office from elsewhere. The login form has no CSRF token (there
// is no session yet), so a page elsewhere could log the staff member's
// browser into the attacker's account (login CSRF); the other forms carry
// the session's token as well. A client that sends no Sec-Fetch-Site (an
// old browser, a script) is not refused for it.
func crossSite(c *fiber.Ctx) bool {
	site := c.Get("Sec-Fetch-Site")
	return site == "cross-site" || site == "same-site"
}

func (s *Server) officeLogin(c *fiber.Ctx) error {
	if crossSite(c) {
		return s.officeErrorPage(c, statusOf(apiv1.CodeForbidden), apiv1.CodeForbidden, "请在本系统的登录页登录。")
	}
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
	ctx := c.UserContext()
	v := officeFilingView{officeRow: s.rowOf(ctx, f), Reply: f.Reply}
	if r, err := s.st.GetResidentByID(ctx, f.ResidentID); err == nil {
		v.ResidentName = r.Name
		if f.AgentResidentID != 0 {
			v.Agent = &officeAgent{Relation: apiv1.AgentRelationLabel(f.AgentRelation), Relationship: r.Relationship, Name: "（居民记录不可读）"}
			if a, err := s.st.GetResidentByID(ctx, f.AgentResidentID); err == nil {
				v.Agent.Name, v.Agent.IDMasked = a.Name, identity.MaskIDNumber(a.IDNumber)
			}
		}
	}
	var values map[string]string
	_ = json.Unmarshal(f.Form, &values)
	svc, _ := s.serviceAt(ctx, f)
	for _, fd := range svc.Fields {
		if val, ok := values[fd.Name]; ok {
			v.Fields = append(v.Fields, officeField{Label: fd.Label, Value: val})
		}
	}
	sess := sessionOf(c)
	data := map[string]any{"Title": v.ServiceName, "Session": officeSess(sess), "F": v, "Nav": officeNav(sess),
		"CanDecide": sess.role == store.RoleDepartmentOfficer && !f.Status.Closed()}
	if s.deliberationService(ctx, f) {
		data["Deliberation"] = true
		if m, err := s.st.FilingMeeting(ctx, f.ID); err == nil {
			data["Meeting"] = m
		}
	}
	return data
}

// officeScopedFiling is scopedFiling for the pages: an officer opening
// another department's filing is told so (403), not shown raw JSON.
func (s *Server) officeScopedFiling(c *fiber.Ctx) (store.Filing, error) {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || id <= 0 {
		return store.Filing{}, errf(apiv1.CodeFilingNotFound, "no filing %q", c.Params("id"))
	}
	f, err := s.st.GetFiling(c.UserContext(), id)
	if errors.Is(err, store.ErrNotFound) {
		return f, errf(apiv1.CodeFilingNotFound, "no filing %d", id)
	} else if err != nil {
		return f, storeErr(err, "filing")
	}
	if sess := sessionOf(c); sess.role == store.RoleDepartmentOfficer && f.Department != sess.department {
		return f, officeForbidden("此件由" + s.departmentName(c.UserContext(), f.Department) + "办理，您无权查看或办理其他部门的办件。")
	}
	return f, nil
}

func (s *Server) officeFiling(c *fiber.Ctx) error {
	f, err := s.officeScopedFiling(c)
	if err != nil {
		return err
	}
	data := s.officeFilingData(c, f)
	if c.Query("done") != "" && f.Status.Closed() || c.Query("done") == "review" || c.Query("done") == "request_info" {
		data["Done"] = true
	}
	return s.render(c, http.StatusOK, "filing.html", data)
}

// decisionProblem checks the decision form and says what is wrong in
// Chinese, before the API's checks.
func decisionProblem(f store.Filing, d apiv1.Decision) string {
	to, ok := decisionStatus[d.Action]
	if !ok {
		return "请选择办理结果：开始审核、受理通过、要求补充材料或驳回。"
	}
	switch {
	case utf8.RuneCountInString(d.Reply) > maxDecisionReply:
		return fmt.Sprintf("给居民的答复最多%d个字。", maxDecisionReply)
	case replyRequired(to) && d.Reply == "":
		return "驳回或要求补充材料时，必须填写给居民的答复，说明原因或需要补充的材料。"
	case !store.CanTransition(f.Status, to):
		return "此件当前状态为“" + apiv1.FilingStatusLabel(string(f.Status)).ZH + "”，不能" + actionNames[d.Action] + "。"
	}
	return ""
}

var actionNames = map[string]string{
	apiv1.DecisionReview: "开始审核", apiv1.DecisionAccept: "受理通过", apiv1.DecisionReject: "驳回", apiv1.DecisionRequestInfo: "要求补充材料",
}

// officeDecide records an officer's decision from the page's form, then
// shows the filing with a confirmation (post/redirect/get).
func (s *Server) officeDecide(c *fiber.Ctx) error {
	f, err := s.officeScopedFiling(c)
	if err != nil {
		return err
	}
	d := apiv1.Decision{Action: c.FormValue("action"), Reply: strings.TrimSpace(c.FormValue("reply"))}
	problem := decisionProblem(f, d)
	if problem == "" {
		_, err = s.decide(c, f, d)
		var ae *apiError
		switch {
		case err == nil:
			return c.Redirect("/office/filings/"+strconv.FormatInt(f.ID, 10)+"?done="+d.Action, http.StatusSeeOther)
		case errors.As(err, &ae) && ae.detail.Code == apiv1.CodeDeliberationRequired:
			problem = "此件须经低保民主评议：请先在“低保审议”中录入审议会议记录并附上此件，再受理通过。"
		case errors.As(err, &ae) && ae.detail.Code == apiv1.CodeFilingState:
			problem = "此件已被他人办理或状态已变化，请查看最新状态后重试。"
			if nf, gerr := s.st.GetFiling(c.UserContext(), f.ID); gerr == nil {
				f = nf
			}
		default:
			return err
		}
	}
	data := s.officeFilingData(c, f)
	data["Error"] = problem
	data["Reply"] = d.Reply
	return s.render(c, http.StatusUnprocessableEntity, "filing.html", data)
}

// ---- decided filings: list and search ----

// officeDecided lists decided filings, newest first, with search by
// reference number or the resident's ID number, status, service and unit.
func (s *Server) officeDecided(c *fiber.Ctx) error {
	sess := sessionOf(c)
	ctx := c.UserContext()
	cat, err := s.catalogue(c)
	if err != nil {
		return err
	}
	f := store.FilingFilter{Statuses: []store.FilingStatus{store.FilingAccepted, store.FilingRejected}, NewestFirst: true, Limit: 50}
	data := map[string]any{"Title": "已办结", "Session": officeSess(sess), "Nav": officeNav(sess)}
	q := strings.TrimSpace(c.Query("q"))
	data["Q"] = q
	switch {
	case q == "":
	case identity.ValidIDNumber(q):
		f.IDNumber = q
	case len(q) <= 32 && strings.Count(q, "-") == 2:
		f.Reference = strings.ToUpper(q)
	default:
		data["Error"] = "请输入完整的受理编号（如 QS-2026-000123）或居民身份证号码。"
		f.Limit = 0
	}
	switch st := c.Query("status"); st {
	case "":
	case string(store.FilingAccepted), string(store.FilingRejected):
		f.Statuses = []store.FilingStatus{store.FilingStatus(st)}
	default:
		data["Error"] = "未知的办理结果。"
	}
	data["Status"] = c.Query("status")
	if svc := c.Query("service"); svc != "" {
		if _, ok := cat.Service(svc); !ok {
			data["Error"] = "未知的事项。"
		}
		f.ServiceCode = svc
	}
	data["Service"] = f.ServiceCode
	if b := c.Query("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			data["Error"] = "页码无效。"
		}
		f.BeforeID = n
	}
	var services []apiv1.Service
	switch sess.role {
	case store.RoleDepartmentOfficer:
		f.Department = sess.department
		data["Heading"] = s.departmentName(ctx, sess.department) + " · 已办结"
		for _, svc := range cat.Services() {
			if svc.Department == sess.department {
				services = append(services, svc)
			}
		}
	default:
		data["Heading"] = "全部已办结件"
		services = cat.Services()
	}
	data["Services"] = services
	var rows []officeRow
	if data["Error"] == nil {
		if f.IDNumber != "" {
			// Searching by a resident's ID number reads their filings:
			// audited first, refused if the audit log does not answer.
			if err := s.audit(ctx, staffActor(c), "office.search", "filings", map[string]string{"by": "id_number"}); err != nil {
				return errf(apiv1.CodeUnavailable, "the audit log does not answer")
			}
		}
		fs, err := s.st.ListFilings(ctx, f)
		if err != nil {
			return storeErr(err, "filings")
		}
		for _, fl := range fs {
			rows = append(rows, s.rowOf(ctx, fl))
		}
		if len(fs) == f.Limit {
			next := c.Request().URI().QueryArgs()
			next.Set("before", strconv.FormatInt(fs[len(fs)-1].ID, 10))
			data["Next"] = "/office/decided?" + next.String()
		}
	}
	data["Filings"] = rows
	return s.render(c, http.StatusOK, "decided.html", data)
}

// ---- the catalogue (administrator) ----

func (s *Server) officeCatalogueData(c *fiber.Ctx) (map[string]any, error) {
	cat, err := s.catalogue(c)
	if err != nil {
		return nil, err
	}
	vs, err := s.st.ListCatalogues(c.UserContext())
	if err != nil {
		return nil, storeErr(err, "catalogue versions")
	}
	for i := range vs {
		vs[i].CreatedAt = vs[i].CreatedAt.In(identity.ChinaTime)
	}
	sess := sessionOf(c)
	return map[string]any{"Title": "服务事项目录", "Session": officeSess(sess), "Nav": officeNav(sess),
		"InForce": cat.Version(), "Next": cat.Version() + 1, "Services": cat.Services(), "Versions": vs, "Document": string(cat.JSON())}, nil
}

func (s *Server) officeCatalogue(c *fiber.Ctx) error {
	data, err := s.officeCatalogueData(c)
	if err != nil {
		return err
	}
	if v := c.Query("saved"); v != "" {
		data["Saved"] = v
	}
	return s.render(c, http.StatusOK, "catalogue.html", data)
}

// officeSaveCatalogue saves the edited document as a new version.
func (s *Server) officeSaveCatalogue(c *fiber.Ctx) error {
	doc := []byte(c.FormValue("document"))
	cat, err := s.saveCatalogue(c, doc, strings.TrimSpace(c.FormValue("note")))
	if err == nil {
		return c.Redirect("/office/catalogue?saved="+strconv.Itoa(cat.Version()), http.StatusSeeOther)
	}
	var ae *apiError
	if !errors.As(err, &ae) || ae.status() >= 500 {
		return err
	}
	data, derr := s.officeCatalogueData(c)
	if derr != nil {
		return derr
	}
	data["Document"] = string(doc)
	data["Note"] = c.FormValue("note")
	switch ae.detail.Code {
	case apiv1.CodeCatalogueInvalid:
		var problems []catalogue.Problem
		for p, m := range ae.detail.Fields {
			problems = append(problems, catalogue.Problem{Path: p, Message: m})
		}
		sort.Slice(problems, func(i, j int) bool { return problems[i].Path < problems[j].Path })
		data["Error"] = fmt.Sprintf("目录有 %d 处问题，未保存：", len(problems))
		data["Problems"] = problems
	case apiv1.CodeCatalogueVersion:
		data["Error"] = fmt.Sprintf("版本号应为 %d（现行版本 %d 加一）；若他人刚保存过，请刷新后重新修改。", data["Next"], data["InForce"])
	default:
		data["Error"] = "未保存：" + ae.detail.Message
	}
	return s.render(c, ae.status(), "catalogue.html", data)
}

// ---- navigation and error pages ----

// navLink is a link of the office navigation; Count, when not zero, is
// shown beside the name (the open calls for staff).
type navLink struct {
	Href, Name string
	Count      int
}

// assistNav is the navigation's link to the station's calls for staff.
const assistNav = "/office/assist"

func officeNav(sess *session) []navLink {
	if sess == nil {
		return nil
	}
	switch sess.role {
	case store.RoleDepartmentOfficer:
		return []navLink{{Href: "/office", Name: "待办件"}, {Href: "/office/decided", Name: "已办结"}, {Href: "/office/reports", Name: "居民诉求"}, {Href: "/office/dibao", Name: "低保审议"}}
	case store.RoleSupervisor:
		nav := []navLink{{Href: "/office", Name: "待办件"}, {Href: "/office/decided", Name: "已办结"}, {Href: "/office/reports", Name: "居民诉求"}, {Href: "/office/dibao", Name: "低保审议"}}
		if sess.station != "" {
			nav = append(nav, navLink{Href: assistNav, Name: "呼叫工作人员"})
		}
		return append(nav, navLink{Href: "/office/pin", Name: "设置 PIN 码"})
	case store.RoleStationStaff:
		return []navLink{{Href: "/office", Name: "首页"}, {Href: assistNav, Name: "呼叫工作人员"}, {Href: "/office/reports/new", Name: "代居民反映问题"}, {Href: "/office/pin", Name: "设置 PIN 码"}}
	case store.RoleAdmin:
		return []navLink{{Href: "/office", Name: "在办件"}, {Href: "/office/decided", Name: "已办结"}, {Href: "/office/reports", Name: "居民诉求"}, {Href: "/office/dibao", Name: "低保审议"}, {Href: "/office/catalogue", Name: "服务事项目录"}, {Href: "/office/report-kinds", Name: "诉求类别"}}
	case store.RoleGridWorker:
		return []navLink{{Href: "/office/grid", Name: "我的网格"}}
	}
	return nil
}

// officeError is an error whose page says Message (Chinese) as it is.
type officeError struct {
	status  int
	message string
}

func (e *officeError) Error() string { return e.message }

func officeForbidden(msg string) error {
	return &officeError{status: http.StatusForbidden, message: msg}
}

// officeMessages are the error pages' words by error code.
var officeMessages = map[string]string{
	apiv1.CodeNotFound:          "没有这个页面。",
	apiv1.CodeFilingNotFound:    "没有这个办件，可能编号有误。",
	apiv1.CodeForbidden:         "您的角色无权进行此操作。",
	apiv1.CodeMethodNotAllowed:  "不支持此操作。",
	apiv1.CodeBodyTooLarge:      "提交的内容过大。",
	apiv1.CodeBadRequest:        "请求无效，请返回后重试。",
	apiv1.CodeUnsupportedMedia:  "请求无效，请返回后重试。",
	apiv1.CodeRateLimited:       "操作过于频繁，请稍后再试。",
	apiv1.CodeTimeout:           "系统繁忙，请稍后再试。",
	apiv1.CodeUnavailable:       "系统暂时不可用，请稍后再试。",
	apiv1.CodeTLSRequired:       "后台只能通过加密连接（HTTPS）访问，请联系管理员。",
	apiv1.CodeUnauthenticated:   "登录已过期，请重新登录。",
	apiv1.CodeSessionKioskBound: "在自助终端上用 PIN 码登录的会话只能在该终端上使用，请在后台用密码登录。",
}

var officeTitles = map[int]string{
	http.StatusBadRequest: "请求无效", http.StatusForbidden: "无权限", http.StatusNotFound: "未找到",
	http.StatusTooManyRequests: "请稍后再试", http.StatusServiceUnavailable: "暂时不可用",
}

// isOfficePage reports whether a request is for the back-office pages.
func isOfficePage(c *fiber.Ctx) bool {
	p := c.Path()
	return p == "/office" || strings.HasPrefix(p, "/office/") || strings.HasPrefix(p, "/notice/")
}

// officeErrorPage renders an error as a page in Chinese (errorHandler, for
// /office paths).
func (s *Server) officeErrorPage(c *fiber.Ctx, status int, code, message string) error {
	msg := message
	if msg == "" {
		msg = officeMessages[code]
	}
	if msg == "" {
		msg = "出错了，请返回后重试。"
	}
	if code == apiv1.CodeInternal {
		msg = "系统内部错误，请联系管理员（请求编号 " + requestID(c) + "）。"
	}
	title := officeTitles[status]
	if title == "" {
		title = "出错了"
	}
	sess := sessionOf(c)
	return s.render(c, status, "error.html", map[string]any{"Title": title, "Session": officeSess(sess), "Nav": officeNav(sess),
		"Message": msg, "Status": status, "Code": code})
}
