package api

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// officeFixture: a community officer, a civil affairs officer, and one
// resident's filings: two residence certificates (community) and a
// temporary assistance (civil affairs).
type officeFixture struct {
	e                   *env
	p                   *person
	cert1, cert2, civil *apiv1.Filing
}

func newOfficeFixture(t *testing.T, opts ...option) *officeFixture {
	e := newEnv(t, opts...)
	ctx := context.Background()
	e.mustStaff("zhang", store.RoleStationStaff, "", "QS-S01")
	e.mustStaff("shequ", store.RoleDepartmentOfficer, "community", "")
	e.mustStaff("minzheng", store.RoleDepartmentOfficer, "civil_affairs", "")
	k := e.newKiosk("kiosk-01")
	p := e.newPerson("居民丙", time.Date(1975, 5, 5, 0, 0, 0, 0, time.UTC))
	e.enrol(e.atKiosk(k, "zhang"), p)
	file := func(service, key string, values map[string]string) *apiv1.Filing {
		vr := must[*apiv1.VerifyResponse](t)(k.Verify(ctx, e.verifyRequest(k, p, p.fingers[apiv1.RightIndex])))
		return must[*apiv1.Filing](t)(k.SubmitFiling(ctx, &apiv1.SubmitFilingRequest{Token: vr.Token, Service: service, IdempotencyKey: key, Values: values}))
	}
	cert := map[string]string{"years": "5", "purpose": "子女入学", "copies": "1"}
	return &officeFixture{e: e, p: p,
		cert1: file("residence_certificate", "office-fixture-000001", cert),
		cert2: file("residence_certificate", "office-fixture-000002", cert),
		civil: file("temporary_assistance", "office-fixture-000003", map[string]string{"emergency": "重大疾病", "amount": "3000", "description": "住院", "phone": "13900001111"}),
	}
}

type officeBrowser struct {
	t      *testing.T
	e      *env
	cookie string
	csrf   string
}

func (b *officeBrowser) do(method, path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	r, _ := http.NewRequest(method, "http://centrald.test"+path, strings.NewReader(form.Encode()))
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if b.cookie != "" {
		r.Header.Set("Cookie", sessionCookie+"="+b.cookie)
	}
	resp, err := b.e.srv.App().Test(r, -1)
	if err != nil {
		b.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(string(body)); m != nil {
		b.csrf = m[1]
	}
	return resp, string(body)
}

func officeLogin(t *testing.T, e *env, user string) *officeBrowser {
	b := &officeBrowser{t: t, e: e}
	resp, _ := b.do("POST", "/office/login", url.Values{"username": {user}, "password": {testPassword}})
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			b.cookie = c.Value
		}
	}
	if b.cookie == "" {
		t.Fatalf("login %s: %d", user, resp.StatusCode)
	}
	b.do("GET", "/office", nil) // the CSRF token
	return b
}

// TestOfficeErrorsAndDecisions: every error is a page in Chinese (never
// JSON), another department's filing is a 403 page, a decision's problems
// are said in Chinese with the reply kept, a decision is confirmed, and
// decided filings are listed and found.
func TestOfficeErrorsAndDecisions(t *testing.T) {
	fx := newOfficeFixture(t)
	b := officeLogin(t, fx.e, "shequ")
	isPage := func(resp *http.Response, body string, status int, want ...string) {
		t.Helper()
		if resp.StatusCode != status || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || strings.Contains(body, `"error"`) {
			t.Fatalf("status %d %s, want an HTML page with %d: %s", resp.StatusCode, resp.Header.Get("Content-Type"), status, body)
		}
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("page lacks %q: %s", w, body)
			}
		}
	}
	resp, body := b.do("GET", "/office/filings/"+itoa(fx.civil.ID), nil)
	isPage(resp, body, 403, "无权限", "此件由民政科办理", "其他部门")
	resp, body = b.do("GET", "/office/filings/999999", nil)
	isPage(resp, body, 404, "没有这个办件")
	resp, body = b.do("GET", "/office/filings/abc", nil)
	isPage(resp, body, 404, "没有这个办件")
	resp, body = b.do("GET", "/office/nothing-here", nil)
	isPage(resp, body, 404, "没有这个页面")
	resp, body = b.do("GET", "/office/catalogue", nil)
	isPage(resp, body, 403, "无权进行此操作")
	resp, body = b.do("POST", "/office/filings/"+itoa(fx.cert1.ID), url.Values{"action": {"accept"}, "csrf": {"forged"}})
	isPage(resp, body, 403, "表单已过期")

	// Rejecting without a reply: said in Chinese; what was typed is kept.
	path := "/office/filings/" + itoa(fx.cert1.ID)
	resp, body = b.do("POST", path, url.Values{"action": {"reject"}, "reply": {""}, "csrf": {b.csrf}})
	isPage(resp, body, 422, "必须填写给居民的答复")
	resp, body = b.do("POST", path, url.Values{"action": {"fly"}, "reply": {"备注文字"}, "csrf": {b.csrf}})
	isPage(resp, body, 422, "请选择办理结果", ">备注文字</textarea>")
	// Accepted: redirected to the filing with a confirmation.
	resp, _ = b.do("POST", path, url.Values{"action": {"accept"}, "reply": {"请来站领取"}, "csrf": {b.csrf}})
	if resp.StatusCode != 303 || resp.Header.Get("Location") != path+"?done=accept" {
		t.Fatalf("decision: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body = b.do("GET", path+"?done=accept", nil)
	isPage(resp, body, 200, `id="confirmation"`, "已办理", "现为“已通过”", "答复已发送")
	// Deciding again: the state has moved on.
	resp, body = b.do("POST", path, url.Values{"action": {"reject"}, "reply": {"重复"}, "csrf": {b.csrf}})
	isPage(resp, body, 422, "当前状态为“已通过”")

	// Decided filings: listed, found by reference and by ID number.
	resp, body = b.do("GET", "/office/decided", nil)
	isPage(resp, body, 200, fx.cert1.Reference, "已通过")
	if strings.Contains(body, fx.cert2.Reference) || strings.Contains(body, fx.civil.Reference) {
		t.Error("the decided list shows an open filing or another unit's")
	}
	resp, body = b.do("GET", "/office/decided?q="+strings.ToLower(fx.cert1.Reference), nil)
	isPage(resp, body, 200, fx.cert1.Reference)
	resp, body = b.do("GET", "/office/decided?q="+fx.p.card.IDNumber, nil)
	isPage(resp, body, 200, fx.cert1.Reference)
	recs, err := fx.e.st.ListAudit(context.Background(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(recs, func(r audit.Record) bool { return r.Action == "office.search" && r.Actor.Type == "staff" }) {
		t.Error("a search by ID number is not audited")
	}
	resp, body = b.do("GET", "/office/decided?status=rejected", nil)
	isPage(resp, body, 200, "没有符合条件的已办结件")
	resp, body = b.do("GET", "/office/decided?q=王", nil)
	isPage(resp, body, 200, "请输入完整的受理编号")
	resp, body = b.do("GET", "/office/decided?service=nonsense", nil)
	isPage(resp, body, 200, "未知的事项")

	// The administrator's catalogue page: problems listed, then saved.
	admin := officeLogin(t, fx.e, "admin")
	resp, body = admin.do("GET", "/office/catalogue", nil)
	isPage(resp, body, 200, "现行第 1 版", "居住证明开具", "年满60周岁方可办理")
	doc := string(editedCatalogue(t, 2, "", 3))
	resp, body = admin.do("POST", "/office/catalogue", url.Values{"document": {doc}, "note": {"改名"}, "csrf": {admin.csrf}})
	isPage(resp, body, 422, "目录有 1 处问题", "services[41].name", "不能为空", "改名")
	resp, body = admin.do("POST", "/office/catalogue", url.Values{"document": {string(editedCatalogue(t, 3, "居住证明", 3))}, "csrf": {admin.csrf}})
	isPage(resp, body, 409, "版本号应为 2")
	resp, _ = admin.do("POST", "/office/catalogue", url.Values{"document": {string(editedCatalogue(t, 2, "居住证明", 3))}, "note": {"改名"}, "csrf": {admin.csrf}})
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/office/catalogue?saved=2" {
		t.Fatalf("save: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body = admin.do("GET", "/office/catalogue?saved=2", nil)
	isPage(resp, body, 200, "第 2 版已生效", "现行第 2 版", "改名")
	// The filing decided under version 1 still reads as filed.
	resp, body = b.do("GET", path, nil)
	isPage(resp, body, 200, "居住证明开具", "目录第 1 版")
}

// TestOfficeBrowser: in headless Chromium, an officer decides a filing and
// sees the confirmation, then finds it among the decided filings by its
// reference; opening another unit's filing shows the 403 page.
func TestOfficeBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	fx := newOfficeFixture(t, func(c *Config) { c.InsecureCookies = true })
	// The browser keeps cookies by the real clock.
	fx.e.clock.Add(time.Since(fx.e.clock.Now()))
	br := startChromeRig(t, fx.e, 1280, 900, 90*time.Second)
	base, do, text, shot := br.base, br.do, br.text, br.shot
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	open := `a[href="/office/filings/` + itoa(fx.cert1.ID) + `"]`
	do("login",
		chromedp.Navigate(base+"/office"),
		chromedp.SendKeys(css(`input[name="username"]`), "shequ"),
		chromedp.SendKeys(css(`input[name="password"]`), testPassword),
		chromedp.Submit(css(`input[name="password"]`)),
		chromedp.WaitVisible(css(open)),
	)
	do("open the filing", chromedp.Click(css(open)), chromedp.WaitVisible(css(`textarea[name="reply"]`)))
	// Rejecting without a reply is refused in Chinese.
	do("reject without a reply", chromedp.Click(css(`button[value="reject"]`)), chromedp.WaitVisible(css(`#form-error`)))
	if got := text(`#form-error`); !strings.Contains(got, "必须填写给居民的答复") {
		t.Fatalf("validation message %q", got)
	}
	do("accept", chromedp.SendKeys(css(`textarea[name="reply"]`), "证明已开具，请来站领取"), chromedp.Click(css(`button[value="accept"]`)),
		chromedp.WaitVisible(css(`#confirmation`)))
	if got := text(`#confirmation`); !strings.Contains(got, "已办理") || !strings.Contains(got, fx.cert1.Reference) || !strings.Contains(got, "已通过") {
		t.Fatalf("confirmation %q", got)
	}
	shot("office-01-confirmation")
	do("decided list", chromedp.Click(css(`nav a[href="/office/decided"]`)), chromedp.WaitVisible(css(`#search`)),
		chromedp.SendKeys(css(`input[name="q"]`), fx.cert1.Reference), chromedp.Click(css(`#search`)),
		chromedp.WaitVisible(css(`#decided`)))
	if got := text(`#decided`); !strings.Contains(got, fx.cert1.Reference) || !strings.Contains(got, "已通过") || strings.Contains(got, fx.cert2.Reference) {
		t.Fatalf("search result %q", got)
	}
	shot("office-02-decided-search")
	do("another unit's filing", chromedp.Navigate(base+"/office/filings/"+itoa(fx.civil.ID)), chromedp.WaitVisible(css(`#error-message`)))
	if got := text(`#error-message`); !strings.Contains(got, "其他部门") {
		t.Fatalf("403 page %q", got)
	}
	shot("office-03-forbidden")
}
