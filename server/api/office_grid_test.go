package api

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestGridPhoneBrowser: a grid worker on a phone (390×844) logs in, finds
// a resident on the half-year list, changes the phone and the categories
// with the touch targets of the page, records a visit, and sees the lists
// follow (now a pensioner not yet certified; visited this month). Every
// button and list row is at least 44 px high and nothing scrolls sideways.
func TestGridPhoneBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	e := newEnv(t, func(c *Config) { c.InsecureCookies = true })
	e.clock.Add(time.Since(e.clock.Now())) // the browser keeps cookies by the real clock
	e.mustGridWorker("grid17", "G-017")
	p := e.newPerson("刘桂兰", time.Date(1950, 2, 3, 0, 0, 0, 0, time.UTC))
	res, err := e.st.GetResident(context.Background(), p.card.IDNumber)
	if err != nil {
		t.Fatal(err)
	}
	br := startChromeRig(t, e, 390, 844, 90*time.Second)
	ctx, base, do, text, shot := br.ctx, br.base, br.do, br.text, br.shot
	// phoneSized checks the touch targets and that nothing scrolls sideways.
	phoneSized := func(what string) {
		t.Helper()
		small, err := chromedp.Run(ctx, chromedp.Evaluate[int](`[...document.querySelectorAll('main a.row, main button, main label.cat, main input[type=tel], main input[type=text]')].filter(el => el.getBoundingClientRect().height < 44).length`))
		if err != nil || small != 0 {
			t.Errorf("%s: %d touch targets under 44 px (%v)", what, small, err)
		}
		wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
		if err != nil || wide {
			t.Errorf("%s: the page scrolls sideways (%v)", what, err)
		}
	}
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	row := `a.row[href="/office/grid/residents/` + itoa(res.ID) + `"]`
	do("phone viewport and login", chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(base+"/office"),
		chromedp.SendKeys(css(`input[name="username"]`), "grid17"),
		chromedp.SendKeys(css(`input[name="password"]`), testPassword),
		chromedp.Submit(css(`input[name="password"]`)),
		chromedp.WaitVisible(css(`#uncertified`)))
	if got := text(`div[data-list="本半年应走访"]`); !strings.Contains(got, "刘桂兰") {
		t.Fatalf("half-year list %q", got)
	}
	if got := text(`#uncertified`); !strings.Contains(got, "全部已认证") {
		t.Fatalf("uncertified %q", got)
	}
	phoneSized("worklist")
	shot("grid-01-worklist")

	do("open the resident", chromedp.Click(css(`div[data-list="本半年应走访"] `+row)), chromedp.WaitVisible(css(`#update`)))
	phoneSized("resident")
	do("change phone and categories",
		chromedp.SendKeys(css(`input[name="phone"]`), "13912345678"),
		chromedp.Click(css(`input[name="category"][value="pensioner"]`)),
		chromedp.Click(css(`input[name="category"][value="elderly_alone"]`)),
		chromedp.Click(css(`#update button`)),
		chromedp.WaitVisible(css(`#message`)))
	if got := text(`#message`); !strings.Contains(got, "已保存") {
		t.Fatalf("after saving: %q", got)
	}
	shot("grid-02-saved")
	got, err := e.st.GetResidentByID(context.Background(), res.ID)
	if err != nil || got.Phone != "13912345678" || !slices.Equal(got.Categories, []string{"elderly_alone", "pensioner"}) {
		t.Fatalf("stored %+v, %v", got, err)
	}
	do("back to the list", chromedp.Click(css(`a.row[href="/office/grid"]`)), chromedp.WaitVisible(css(`#uncertified`)))
	if got := text(`div[data-list="本月应走访"]`); !strings.Contains(got, "刘桂兰") {
		t.Fatalf("month list %q", got)
	}
	if got := text(`#uncertified`); !strings.Contains(got, "刘桂兰") {
		t.Fatalf("uncertified %q", got)
	}
	do("record a visit", chromedp.Click(css(`div[data-list="本月应走访"] `+row)), chromedp.WaitVisible(css(`#visit`)),
		chromedp.SendKeys(css(`textarea[name="note"]`), "独居，身体尚可"),
		chromedp.Click(css(`#visit button`)), chromedp.WaitVisible(css(`#message`)))
	if got := text(`#message`); !strings.Contains(got, "走访已记录") {
		t.Fatalf("after the visit: %q", got)
	}
	shot("grid-03-visited")
	do("back to the list again", chromedp.Click(css(`a.row[href="/office/grid"]`)), chromedp.WaitVisible(css(`#uncertified`)))
	if got := text(`div[data-list="本月应走访"]`); strings.Contains(got, "刘桂兰") {
		t.Fatalf("still due this month after the visit: %q", got)
	}
	if vs, err := e.st.ListVisits(context.Background(), res.ID, 0); err != nil || len(vs) != 1 || vs[0].Note != "独居，身体尚可" {
		t.Fatalf("visits %+v, %v", vs, err)
	}
}
