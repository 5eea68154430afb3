package kiosk_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/qingshan-gov/veinkiosk/kiosk/kiosktest"
)

// TestBrowserElderlyMode: 长辈模式 makes the page larger, slows the voice,
// shows two services per page with 上一页/下一页, and ends with the session.
func TestBrowserElderlyMode(t *testing.T) {
	r := newRig(t)
	dir := artefacts(t)
	ctx := browser(t, 1080, 1920)
	if err := chromedp.Do(ctx, chromedp.Navigate(r.url)); err != nil {
		t.Fatal(err)
	}
	phase(t, ctx, "idle")
	click(t, ctx, "#elderly")
	if err := chromedp.Do(ctx, chromedp.WaitReady(chromedp.CSS(`body.elderly #elderly[aria-pressed="true"]`))); err != nil {
		t.Fatal(err)
	}
	r.reader.Insert(zhang)
	phase(t, ctx, "place_finger")
	// 呼叫工作人员 from the finger screen.
	click(t, ctx, "#callstaff")
	if err := chromedp.Do(ctx, chromedp.WaitReady(chromedp.CSS(`#callstate`))); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for text(t, ctx, "#callstate") != "已通知工作人员，请稍候" {
		if time.Now().After(deadline) {
			t.Fatalf("call state %q", text(t, ctx, "#callstate"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if calls := r.server.StaffCalls(); len(calls) != 1 || calls[0] != "resident" {
		t.Fatalf("server calls %q", calls)
	}
	shot(t, ctx, dir, "call-staff-portrait")
	r.scanner.Place(kiosktest.Finger{Person: "zhang", Quality: 85})
	phase(t, ctx, "menu")
	type menu struct {
		Shown, All int
		Page       string
		Rate       float64
		Zoom       string
	}
	js := `(() => ({Shown: [...document.querySelectorAll("#services > *")].filter(e => !e.hidden).length,
	  All: document.querySelectorAll("#services > *").length,
	  Page: (document.getElementById("elderpage") || {}).textContent || "",
	  Rate: VOICE.rate, Zoom: getComputedStyle(document.querySelector("main")).zoom}))()`
	m, err := chromedp.Run(ctx, chromedp.Evaluate[menu](js))
	if err != nil {
		t.Fatal(err)
	}
	if m.All < 3 || m.Shown != 2 || m.Page != "第 1 页，共 "+itoa((m.All+1)/2)+" 页" || m.Rate >= 1 || m.Zoom != "1.25" {
		t.Fatalf("elderly menu: %+v", m)
	}
	checkErgonomics(t, ctx, "elderly menu")
	shot(t, ctx, dir, "elderly-menu-portrait")
	click(t, ctx, "#eldernext")
	if m, err = chromedp.Run(ctx, chromedp.Evaluate[menu](js)); err != nil || m.Page != "第 2 页，共 "+itoa((m.All+1)/2)+" 页" || m.Shown < 1 {
		t.Fatalf("next page: %+v %v", m, err)
	}
	// The services of page 2 can be chosen.
	click(t, ctx, `#services > button:not([hidden])`)
	phase(t, ctx, "form")
	r.reader.Remove()
	phase(t, ctx, "idle")
	if err := chromedp.Do(ctx, chromedp.WaitReady(chromedp.CSS(`#elderly[aria-pressed="false"]`))); err != nil {
		t.Fatal(err)
	}
	if on, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.body.classList.contains("elderly")`)); on {
		t.Fatal("elderly mode outlived the session")
	}
}

func itoa(n int) string { return string(rune('0' + n)) }

// TestBrowserMongolian: the bilingual mode puts traditional Mongolian
// beside the Chinese, vertical (lines left to right), in the shipped Noto
// Sans Mongolian, and ends with the session.
func TestBrowserMongolian(t *testing.T) {
	r := newRig(t)
	dir := artefacts(t)
	ctx := browser(t, 1080, 1920)
	if err := chromedp.Do(ctx, chromedp.Navigate(r.url)); err != nil {
		t.Fatal(err)
	}
	phase(t, ctx, "idle")
	click(t, ctx, "#mongol")
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`main h1 .mong`))); err != nil {
		t.Fatal(err)
	}
	type mong struct {
		Text, Mode, Lang string
		W, H             float64
		Font             bool
		Count            int
	}
	js := `(async () => { await document.fonts.ready; const s = document.querySelector("main h1 .mong"); const r = s.getBoundingClientRect();
	  return {Text: s.textContent, Mode: getComputedStyle(s).writingMode, Lang: s.lang, W: r.width, H: r.height,
	    Font: document.fonts.check('40px "Noto Sans Mongolian"', s.textContent) && [...document.fonts].some(f => f.family.includes("Mongolian") && f.status === "loaded"),
	    Count: document.querySelectorAll(".mong").length}; })()`
	m, err := chromedp.Run(ctx, chromedp.Evaluate[mong](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if m.Mode != "vertical-lr" || m.Lang != "mn-Mong" || m.H <= m.W || !m.Font || m.Text == "" {
		t.Fatalf("Mongolian title: %+v", m)
	}
	for _, c := range m.Text {
		if (c < 0x1800 || c > 0x18af) && c != ' ' && c != 0x202f && c != '«' && c != '»' && c != '·' {
			t.Fatalf("non-Mongolian character %U in %q", c, m.Text)
		}
	}
	shot(t, ctx, dir, "mongolian-idle-portrait")
	r.reader.Insert(zhang)
	phase(t, ctx, "place_finger")
	r.scanner.Place(kiosktest.Finger{Person: "zhang", Quality: 85})
	phase(t, ctx, "menu")
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`footer button .mong`))); err != nil {
		t.Fatal(err)
	}
	checkErgonomics(t, ctx, "Mongolian menu")
	shot(t, ctx, dir, "mongolian-menu-portrait")
	r.reader.Remove()
	phase(t, ctx, "idle")
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(".mong").length`)); n != 0 {
		t.Fatalf("Mongolian mode outlived the session (%d spans)", n)
	}
}
