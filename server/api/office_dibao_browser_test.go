package api

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// TestOfficeDibaoBrowser: in headless Chromium, a civil-affairs officer is
// refused the approval of a 低保 application without a meeting's record,
// records the quarter's deliberation meeting with the application ticked,
// approves it, and the public notice shows the household with its ID
// number masked; station staff file a report at the desk.
func TestOfficeDibaoBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	e := newEnv(t, func(c *Config) { c.InsecureCookies = true })
	e.mustStaff("zhang", store.RoleStationStaff, "", "QS-S01")
	e.mustStaff("li", store.RoleDepartmentOfficer, "civil_affairs", "")
	k := e.newKiosk("kiosk-01")
	p := e.newPerson("赵淑芬", time.Date(1962, 5, 6, 0, 0, 0, 0, time.UTC))
	e.enrol(e.atKiosk(k, "zhang"), p)
	f := e.fileAt(t, k, p, "dibao_new", "dibao-key-000000000001", dibaoValues)
	e.clock.Add(time.Since(e.clock.Now())) // the browser keeps cookies by the real clock

	br := startChromeRig(t, e, 1280, 1000, 2*time.Minute)
	base, do, text, shot := br.base, br.do, br.text, br.fullShot
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	login := func(user string) {
		t.Helper()
		do("login "+user,
			chromedp.Navigate(base+"/office"),
			chromedp.SendKeys(css(`input[name="username"]`), user),
			chromedp.SendKeys(css(`input[name="password"]`), testPassword),
			chromedp.Submit(css(`input[name="password"]`)),
			chromedp.WaitVisible(css(`nav`)))
	}
	login("li")
	do("approve without a meeting", chromedp.Navigate(base+"/office/filings/"+itoa(f.ID)), chromedp.WaitVisible(css(`#deliberation`)),
		chromedp.SendKeys(css(`textarea[name="reply"]`), "经民主评议，同意纳入低保"), chromedp.Click(css(`button[value="accept"]`)),
		chromedp.WaitVisible(css(`#form-error`)))
	if got := text(`#form-error`); !strings.Contains(got, "须经低保民主评议") {
		t.Fatalf("refusal %q", got)
	}
	held := e.clock.Now().In(identity.ChinaTime).Format(time.DateOnly)
	do("record the meeting", chromedp.Click(css(`nav a[href="/office/dibao"]`)), chromedp.WaitVisible(css(`#meeting-form`)),
		chromedp.SetValue(css(`input[name="held_on"]`), held),
		chromedp.SendKeys(css(`textarea[name="members"]`), "孙主任\n周委员\n居民代表吴梅\n居民代表郑刚"),
		chromedp.SendKeys(css(`textarea[name="minutes"]`), "审议本季度低保新申请一件：入户调查属实，与会人员一致同意。"),
		chromedp.Submit(css(`textarea[name="minutes"]`)), chromedp.WaitVisible(css(`#confirmation`)))
	do("tick the application", chromedp.Click(css(`#attach-form input[value="`+f.Reference+`"]`)), chromedp.Submit(css(`#attach-form textarea`)),
		chromedp.WaitVisible(css(`#decided a[href="/office/filings/`+itoa(f.ID)+`"]`)))
	shot("office-04-dibao-meeting")
	do("approve with the meeting", chromedp.Click(css(`#decided a`)), chromedp.WaitVisible(css(`#deliberation a`)),
		chromedp.SendKeys(css(`textarea[name="reply"]`), "经民主评议，同意纳入低保"), chromedp.Click(css(`button[value="accept"]`)),
		chromedp.WaitVisible(css(`#confirmation`)))
	do("the public notice", chromedp.Navigate(base+"/office/dibao"), chromedp.WaitVisible(css(`#meetings a[href^="/notice/dibao"]`)),
		chromedp.Click(css(`#meetings a[href^="/notice/dibao"]`)), chromedp.WaitVisible(css(`#notice`)))
	got := text(`#notice`)
	if !strings.Contains(got, identity.MaskIDNumber(p.card.IDNumber)) || strings.Contains(got, p.card.IDNumber) || strings.Contains(got, "赵淑芬") || !strings.Contains(got, f.Reference) {
		t.Fatalf("notice %q", got)
	}
	shot("office-05-dibao-notice")

	// Station staff: a report at the desk.
	do("log out", chromedp.Navigate(base+"/office"), chromedp.Click(css(`header button`)), chromedp.WaitVisible(css(`input[name="username"]`)))
	login("zhang")
	do("desk report", chromedp.Click(css(`nav a[href="/office/reports/new"]`)), chromedp.WaitVisible(css(`#report-form`)),
		chromedp.SendKeys(css(`input[name="id_number"]`), p.card.IDNumber),
		chromedp.SetValue(css(`select[name="kind"]`), "noise"),
		chromedp.SendKeys(css(`textarea[name="description"]`), "楼下饭店夜里十二点后还在装修，吵得睡不着"),
		chromedp.SendKeys(css(`input[name="location"]`), "幸福路3号楼"),
		chromedp.Submit(css(`input[name="location"]`)), chromedp.WaitVisible(css(`#confirmation`)))
	if got := text(`#confirmation`); !strings.Contains(got, "QS-R-") || !strings.Contains(got, "生态环境分局") {
		t.Fatalf("desk confirmation %q", got)
	}
	shot("office-06-desk-report")
}
