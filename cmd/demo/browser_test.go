package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/qingshan-gov/veinkiosk/kiosk"
	"github.com/qingshan-gov/veinkiosk/simulators/deck"
)

// TestBrowserRealDevices runs the kiosk screen in headless Chromium against
// the real server, drivers and simulators: a resident's 低保 renewal with the
// on-screen keypad, then a staff enrolment of an unenrolled resident.
func TestBrowserRealDevices(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	chrome := "/usr/bin/chromium"
	if _, err := os.Stat(chrome); err != nil {
		if p, err := exec.LookPath("chromium"); err == nil {
			chrome = p
		} else if os.Getenv("VEINKIOSK_REQUIRE_BROWSER") == "1" {
			t.Fatal("chromium not found and VEINKIOSK_REQUIRE_BROWSER=1")
		} else {
			t.Skip("chromium not installed")
		}
	}
	dir := os.Getenv("VEINKIOSK_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o, err := parse([]string{"--scripted", "--residents", "1000", "--enrol-now", "6"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	w, err := startWorld(ctx, o, slog.New(slog.NewTextHandler(io.Discard, nil)), func(string, ...any) {})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); w.close() }()

	actx, cancelA := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chrome), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1080, 1920))
	defer cancelA()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(1080, 1920), chromedp.Navigate(w.kioskURL)); err != nil {
		t.Fatal(err)
	}
	k := kioskClient{base: w.kioskURL}
	wait := func(what string, cond func(kiosk.View) bool) kiosk.View {
		t.Helper()
		v, err := k.wait(ctx, what, 40*time.Second, cond)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // let the page render it
		return v
	}
	shot := func(name string) {
		t.Helper()
		time.Sleep(200 * time.Millisecond)
		b, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, name+".png"), b, 0o644)
	}
	click := func(sel string) {
		t.Helper()
		var err error
		for i := 0; i < 5; i++ {
			if err = chromedp.Do(bctx, chromedp.Click(chromedp.CSS(sel))); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("click %s: %v", sel, err)
	}
	keypad := func(field, value string) {
		t.Helper()
		click(`button[data-act="keypad"][data-arg="` + field + `"]`)
		for _, r := range value {
			click(`#keypad button[data-key="` + string(r) + `"]`)
		}
		if field == "monthly_income" {
			shot("real-02-keypad")
		}
		click(`#padok`)
		wait(field, func(v kiosk.View) bool {
			for _, f := range v.Form.Fields {
				if f.Key == field {
					return f.Value == value
				}
			}
			return false
		})
	}
	wait("ready", func(v kiosk.View) bool {
		return v.Phase == "idle" && !v.CardPresent && v.ServerUp && len(v.Devices) == 2 && v.Devices[0].Connected && v.Devices[1].Connected
	})

	// A resident renews the minimum living allowance.
	var who *deck.Resident
	for _, r := range w.enrol[:o.enrolNow] {
		if r.HasCategory(deck.CategoryDibao) && validCard(r, time.Now()) && w.enrolled(r.IDNumber) {
			who = r
			break
		}
	}
	if who == nil {
		t.Fatal("no enrolled 低保 recipient")
	}
	if err := verify(ctx, w, k, who); err != nil {
		t.Fatal(err)
	}
	wait("menu", func(v kiosk.View) bool { return v.Phase == "menu" })
	shot("real-01-menu")
	click(`button[data-act="choose"][data-arg="dibao_renewal"]`)
	wait("form", func(v kiosk.View) bool { return v.Phase == "form" })
	keypad("household_size", "2")
	keypad("monthly_income", "860")
	keypad("phone", "13847200000")
	click(`button[data-act="edit"][data-arg="changes"]`) // the first choice: 无变化
	time.Sleep(300 * time.Millisecond)
	shot("real-03-form")
	click(`button[data-act="confirm"]`)
	v := wait("receipt", func(v kiosk.View) bool { return v.Phase == "receipt" || (v.Phase == "form" && v.Problem != "") })
	if v.Phase != "receipt" {
		t.Fatalf("the server refused the form: %s", v.Problem)
	}
	shot("real-04-receipt")
	click(`button[data-act="finish"]`)
	w.id.Remove()
	wait("idle", func(v kiosk.View) bool { return v.Phase == "idle" })

	// Staff enrol a resident who is not enrolled yet.
	var newcomer *deck.Resident
	for _, r := range w.people {
		if w.skipped[r.IDNumber] && validCard(r, time.Now()) {
			newcomer = r
			break
		}
	}
	if newcomer == nil {
		t.Fatal("no unenrolled resident with a valid card")
	}
	// No staff button: staff hold the station's name in the header.
	scr := screen{t: t, ctx: bctx, dir: dir}
	scr.hold("#station", 2300*time.Millisecond)
	wait("staff login", func(v kiosk.View) bool { return v.Phase == "staff_login" })
	// No physical keyboard: the on-screen one, and the keypad for the PIN.
	scr.kbType("#user", staffUser)
	scr.pinType("#pin", staffPIN)
	click(`button[data-act="login"]`)
	wait("staff menu", func(v kiosk.View) bool { return v.Phase == "staff_menu" })
	click(`button[data-act="enrol"]`)
	wait("enrol card", func(v kiosk.View) bool { return v.Phase == "enrol_card" })
	if err := w.id.Insert(newcomer.IDNumber); err != nil {
		t.Fatal(err)
	}
	wait("consent", func(v kiosk.View) bool { return v.Phase == "enrol_consent" })
	click(`button[data-act="consent"]`)
	wait("captures", func(v kiosk.View) bool { return v.Phase == "enrol_capture" })
	for i, pos := range []int{2, 2, 2, 7, 7, 7} {
		placeAccepted(t, ctx, w, k, newcomer.IDNumber, pos, i+1)
		if i == 4 {
			shot("real-05-enrol-progress")
		}
	}
	send := func() kiosk.View {
		click(`button[data-act="confirm"]`)
		return wait("enrolment outcome", func(v kiosk.View) bool {
			return v.Phase == "enrol_done" || v.Phase == "enrol_supervisor" || (v.Phase == "enrol_capture" && v.Problem != "")
		})
	}
	v = retakeInconsistent(t, ctx, w, k, newcomer.IDNumber, send(), send)
	if v.Phase == "enrol_capture" {
		t.Fatalf("enrolment refused: %s", v.Problem)
	}
	shot("real-06-enrol-" + v.Phase)
}
