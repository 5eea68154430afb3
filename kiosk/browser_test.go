package kiosk_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/kiosk"
	"github.com/qingshan-gov/veinkiosk/kiosk/kiosktest"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
)

var (
	zhang = identity.Card{Name: "张秀英", Gender: identity.GenderFemale, IDNumber: "110101194501011234", Address: "北京市东城区青山街道幸福里3号楼2单元501",
		Validity: identity.Validity{From: 20160101, Until: identity.DateOf(time.Now().AddDate(5, 0, 0))}}
	wang = identity.Card{Name: "王建华", Gender: identity.GenderMale, IDNumber: "110101195203035678", Address: "北京市东城区青山街道和平巷12号",
		Validity: identity.Validity{From: 20160101, Until: identity.DateOf(time.Now().AddDate(3, 0, 0))}}
)

type rig struct {
	reader  *kiosktest.Reader
	scanner *kiosktest.Scanner
	server  *kiosktest.Server
	daemon  *kiosk.Daemon
	url     string
}

func newRig(t *testing.T) *rig { return newRigLog(t, io.Discard) }

func newRigLog(t *testing.T, logw io.Writer) *rig { return newRigOpts(t, logw, nil) }

// newRigWith is newRig with the kiosk's configuration changed by tune.
func newRigWith(t *testing.T, logw io.Writer, tune func(*kiosk.Config)) *rig {
	return newRigOpts(t, logw, func(o *kiosk.Options) {
		if tune != nil {
			tune(&o.Config)
		}
	})
}

// newRigOpts builds the rig; tune, when set, adjusts the daemon's options
// (a printer, say) before it starts.
func newRigOpts(t *testing.T, logw io.Writer, tune func(*kiosk.Options)) *rig {
	t.Helper()
	r := &rig{reader: &kiosktest.Reader{}, scanner: kiosktest.NewScanner(), server: kiosktest.NewServer()}
	r.server.Residents[zhang.IDNumber] = &kiosktest.Resident{ID: "1", IDNumber: zhang.IDNumber, Name: zhang.Name, Address: zhang.Address, Household: 2, Enrolled: "zhang", Dibao: true}
	r.server.Residents[wang.IDNumber] = &kiosktest.Resident{ID: "2", IDNumber: wang.IDNumber, Name: wang.Name, Address: wang.Address, Household: 1}
	r.server.Staff["liu"] = kiosktest.StaffAccount{PIN: "246813", Name: "刘敏（站务）"}
	r.server.Staff["chen"] = kiosktest.StaffAccount{PIN: "975318", Name: "陈主任", Supervisor: true}
	r.server.Staff["zhou"] = kiosktest.StaffAccount{PIN: "135792", Name: "周工", OtherStation: true}
	r.server.DuplicateOf["wang"] = true
	cfg := kiosk.DefaultConfig()
	cfg.ReaderPort, cfg.ScannerSpec, cfg.ServerURL, cfg.KeyFile, cfg.KioskID, cfg.StationID =
		"fake", "sim", "http://fake", "fake", "kiosk-qs-01", "青山街道社区服务站"
	cfg.CaptureTimeout = kiosk.Duration(20 * time.Second)
	opt := kiosk.DefaultDeviceOptions()
	opt.PollInterval, opt.MinBackoff, opt.MaxBackoff = 50*time.Millisecond, 50*time.Millisecond, 200*time.Millisecond
	kopt := kiosk.Options{
		Config: cfg, OpenReader: r.reader.Open, OpenScanner: r.scanner.Open, Server: r.server, Extractor: kiosktest.Extractor{},
		Logger: slog.New(slog.NewJSONHandler(logw, &slog.HandlerOptions{Level: slog.LevelDebug})), Devices: opt, ProbeInterval: 200 * time.Millisecond, TickInterval: 100 * time.Millisecond,
	}
	if tune != nil {
		tune(&kopt)
	}
	r.daemon = kiosk.New(kopt)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.daemon.Run(ctx); close(done) }()
	srv := httptest.NewServer(r.daemon.Handler())
	t.Cleanup(func() { srv.Close(); cancel(); <-done })
	r.url = srv.URL
	return r
}

func browser(t *testing.T, w, h int) context.Context {
	t.Helper()
	path := "/usr/bin/chromium"
	if _, err := os.Stat(path); err != nil {
		if p, err := exec.LookPath("chromium"); err == nil {
			path = p
		} else if os.Getenv("VEINKIOSK_REQUIRE_BROWSER") == "1" {
			t.Fatalf("chromium not found and VEINKIOSK_REQUIRE_BROWSER=1")
		} else {
			t.Skip("chromium not installed")
		}
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(w, h), chromedp.Flag("lang", "zh-CN"),
		// As the kiosk's Chromium runs: voice prompts play without a
		// touch first (docs/kiosk.md); the test machine stays quiet.
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"), chromedp.Flag("mute-audio", true),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(int64(w), int64(h))); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

func artefacts(t *testing.T) string {
	if d := os.Getenv("VEINKIOSK_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

func shot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	time.Sleep(150 * time.Millisecond)
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

func phase(t *testing.T, ctx context.Context, p string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.WaitReady(chromedp.CSS(`body[data-phase="`+p+`"]`))); err != nil {
		cur, _ := chromedp.Run(context.WithoutCancel(ctx), chromedp.AttributeValue(chromedp.CSS(`body`), "data-phase"))
		t.Fatalf("waiting for phase %s (at %q): %v", p, cur.Value, err)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	// A re-render (a new view: the print state, the server's health) can
	// replace the node between finding and reading it: retried, as click.
	var err error
	for i := 0; i < 5; i++ {
		var s string
		if s, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel))); err == nil {
			return s
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("text of %s: %v", sel, err)
	return ""
}

func click(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	// The page re-renders on every change of the view; a node can go
	// between finding and clicking it, so a click is retried.
	var err error
	for i := 0; i < 5; i++ {
		if err = chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel))); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("click %s: %v", sel, err)
}

// checkErgonomics asserts the elderly-friendly minimums on the current
// screen: body text >= 32 px, every button >= 80 px high.
func checkErgonomics(t *testing.T, ctx context.Context, where string) {
	t.Helper()
	type result struct {
		Body      float64 `json:"body"`
		MinButton float64 `json:"minButton"`
		Small     string  `json:"small"`
	}
	js := `(() => {
	  const fs = (e) => parseFloat(getComputedStyle(e).fontSize);
	  let min = 1e9, small = "";
	  for (const b of document.querySelectorAll("button")) {
	    const r = b.getBoundingClientRect();
	    if (r.height > 0 && r.height < min) { min = r.height; small = b.textContent; }
	  }
	  let body = 1e9;
	  for (const e of document.querySelectorAll("main p, main td, main th, main .lead, main .hint, main .problem")) {
	    if (e.getBoundingClientRect().height > 0) body = Math.min(body, fs(e));
	  }
	  if (body === 1e9) body = fs(document.body);
	  return {body: body, minButton: min === 1e9 ? 999 : min, small: small};
	})()`
	res, err := chromedp.Run(ctx, chromedp.Evaluate[result](js))
	if err != nil {
		t.Fatal(err)
	}
	if res.Body < 32 {
		t.Errorf("%s: body text %.0f px, want >= 32", where, res.Body)
	}
	if res.MinButton < 80 {
		t.Errorf("%s: button %q is %.0f px high, want >= 80", where, res.Small, res.MinButton)
	}
}

func TestBrowserResidentJourney(t *testing.T) {
	r := newRig(t)
	dir := artefacts(t)
	ctx := browser(t, 1080, 1920)
	if err := chromedp.Do(ctx, chromedp.Navigate(r.url)); err != nil {
		t.Fatal(err)
	}
	phase(t, ctx, "idle")
	if got := text(t, ctx, "#title"); got != "请把身份证放在读卡区" {
		t.Fatalf("idle title %q", got)
	}
	checkErgonomics(t, ctx, "idle")
	shot(t, ctx, dir, "01-idle-portrait")

	r.reader.Insert(zhang)
	phase(t, ctx, "place_finger")
	if got := text(t, ctx, "#who"); !strings.Contains(got, "张秀英") || strings.Contains(got, zhang.IDNumber) {
		t.Fatalf("greeting %q: want the name and only a masked ID number", got)
	}
	r.scanner.Place(kiosktest.Finger{Person: "zhang", Quality: 15})
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#hint"))); err != nil {
		t.Fatal(err)
	}
	if got := text(t, ctx, "#hint"); !strings.Contains(got, "请将手指平放") {
		t.Fatalf("hint %q, want 请将手指平放", got)
	}
	checkErgonomics(t, ctx, "place_finger")
	shot(t, ctx, dir, "02-finger-hint-portrait")

	r.scanner.Place(kiosktest.Finger{Person: "zhang", Quality: 85})
	phase(t, ctx, "menu")
	checkErgonomics(t, ctx, "menu")
	shot(t, ctx, dir, "03-menu-portrait")

	click(t, ctx, `button[data-act="choose"][data-arg="dibao_renewal"]`)
	phase(t, ctx, "form")
	if got := text(t, ctx, "#formtable"); !strings.Contains(got, zhang.Address) {
		t.Fatalf("form not pre-filled with the address: %q", got)
	}
	click(t, ctx, `button[data-act="edit"][data-arg="household_size"]:nth-child(3)`)
	if err := chromedp.Do(ctx, chromedp.WaitReady(chromedp.CSS(`button[data-arg="household_size"][aria-pressed="true"]:nth-child(3)`))); err != nil {
		t.Fatal(err)
	}
	checkErgonomics(t, ctx, "form")
	shot(t, ctx, dir, "04-form-portrait")

	click(t, ctx, `button[data-act="confirm"]`)
	phase(t, ctx, "receipt")
	ref := text(t, ctx, "#reference")
	fs := r.server.AllFilings()
	if len(fs) != 1 || fs[0].Reference != ref {
		t.Fatalf("receipt %q, server has %+v", ref, fs)
	}
	if due := text(t, ctx, "#due"); !strings.Contains(due, fs[0].Due.In(kiosk.China).Format("2006-01-02")) {
		t.Fatalf("due %q, want %s (China date)", due, fs[0].Due.In(kiosk.China).Format("2006-01-02"))
	}
	checkErgonomics(t, ctx, "receipt")
	shot(t, ctx, dir, "05-receipt-portrait")

	// The department answers; the resident looks at "my filings".
	if err := r.server.Decide(ref, "accepted", "经审核，您的低保资格继续有效，12月起按月发放。"); err != nil {
		t.Fatal(err)
	}
	// The filing spent the token: "my filings" asks for the finger again.
	click(t, ctx, `button[data-act="filings"]`)
	phase(t, ctx, "place_finger")
	if got := text(t, ctx, "#hint"); !strings.Contains(got, "再把手指放一次") {
		t.Fatalf("re-verification hint %q", got)
	}
	r.scanner.Place(kiosktest.Finger{Person: "zhang", Quality: 85})
	phase(t, ctx, "filings")
	if got := text(t, ctx, "#filings"); !strings.Contains(got, apiv1.FilingStatusLabel(apiv1.FilingAccepted).ZH) || !strings.Contains(got, "按月发放") {
		t.Fatalf("filings %q: want the approval and the reply", got)
	}
	shot(t, ctx, dir, "06-filings-portrait")

	// English, then landscape.
	click(t, ctx, `#lang`)
	if err := chromedp.Do(ctx, chromedp.WaitReady(chromedp.CSS(`html[lang="en"]`))); err != nil {
		t.Fatal(err)
	}
	click(t, ctx, `button[data-act="back"]`)
	phase(t, ctx, "menu")
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1920, 1080)); err != nil {
		t.Fatal(err)
	}
	checkErgonomics(t, ctx, "menu landscape")
	shot(t, ctx, dir, "07-menu-landscape-en")

	// Removing the card ends the session and wipes the screen.
	r.reader.Remove()
	phase(t, ctx, "idle")
	if got := text(t, ctx, "#title"); got != "请把身份证放在读卡区" {
		t.Fatalf("after removal: %q (language must reset to the default)", got)
	}
	html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if strings.Contains(html, "张秀英") || strings.Contains(html, ref) {
		t.Fatal("the resident's data is still on the page after the session ended")
	}
	shot(t, ctx, dir, "08-idle-landscape")
}

func TestBrowserServerOutage(t *testing.T) {
	r := newRig(t)
	dir := artefacts(t)
	ctx := browser(t, 1080, 1920)
	if err := chromedp.Do(ctx, chromedp.Navigate(r.url)); err != nil {
		t.Fatal(err)
	}
	phase(t, ctx, "idle")
	r.reader.Insert(zhang)
	phase(t, ctx, "place_finger")
	r.scanner.Place(kiosktest.Finger{Person: "zhang", Quality: 85})
	phase(t, ctx, "menu")
	click(t, ctx, `button[data-act="choose"][data-arg="dibao_renewal"]`)
	phase(t, ctx, "form")
	r.server.SetDown(true)
	click(t, ctx, `button[data-act="confirm"]`)
	phase(t, ctx, "unavailable")
	if got := text(t, ctx, "#problem"); !strings.Contains(got, "不会重复提交") {
		t.Fatalf("outage message %q", got)
	}
	shot(t, ctx, dir, "10-outage-portrait")
	if n := len(r.server.AllFilings()); n != 0 {
		t.Fatalf("%d filings during the outage", n)
	}
	r.server.SetDown(false) // the probe notices and the filing goes through by itself
	phase(t, ctx, "receipt")
	if n := len(r.server.AllFilings()); n != 1 {
		t.Fatalf("%d filings after recovery, want exactly 1", n)
	}
}

// waitAccepted waits until the enrolment shows want accepted captures for
// the two fingers.
func waitAccepted(t *testing.T, base string, want [2]int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var got [2]int
	for time.Now().Before(deadline) {
		var v kiosk.View
		resp, err := http.Get(base + "/view")
		if err == nil {
			json.NewDecoder(resp.Body).Decode(&v)
			resp.Body.Close()
		}
		if v.Enrol != nil && len(v.Enrol.Fingers) == 2 {
			got = [2]int{v.Enrol.Fingers[0].Accepted, v.Enrol.Fingers[1].Accepted}
			if got == want {
				return
			}
		}
		time.Sleep(30 * time.Millisecond)
	}
	t.Fatalf("accepted captures %v, want %v", got, want)
}

func TestBrowserStaffEnrolment(t *testing.T) {
	r := newRig(t)
	dir := artefacts(t)
	ctx := browser(t, 1080, 1920)
	if err := chromedp.Do(ctx, chromedp.Navigate(r.url)); err != nil {
		t.Fatal(err)
	}
	phase(t, ctx, "idle")
	// No staff button for residents; a short touch on the station's name
	// does nothing, a long press opens the staff login.
	if n := count(t, ctx, `button[data-act="staff"]`); n != 0 {
		t.Fatalf("%d staff buttons on the idle screen", n)
	}
	hold(t, ctx, "#station", 300*time.Millisecond)
	time.Sleep(2500 * time.Millisecond)
	phase(t, ctx, "idle")
	hold(t, ctx, "#station", 2300*time.Millisecond)
	phase(t, ctx, "staff_login")
	// Another station's staff member: refused, whatever the PIN.
	kbType(t, ctx, "#user", "zhou")
	pinType(t, ctx, "#pin", "135792")
	click(t, ctx, `button[data-act="login"]`)
	waitText(t, ctx, "#problem", "只有本服务站的工作人员")
	kbType(t, ctx, "#user", "liu")
	pinType(t, ctx, "#pin", "111111")
	if v, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#pin"))); err != nil || v != "111111" {
		t.Fatalf("PIN box %q %v", v, err)
	}
	click(t, ctx, `button[data-act="login"]`)
	waitText(t, ctx, "#pinleft", "还可以再试 4 次")
	shot(t, ctx, dir, "19-staff-login-pin")
	kbType(t, ctx, "#user", "liu")
	pinType(t, ctx, "#pin", "246813")
	click(t, ctx, `button[data-act="login"]`)
	phase(t, ctx, "staff_menu")
	waitText(t, ctx, "#staffname", "刘敏（站务）")
	checkErgonomics(t, ctx, "staff menu")
	// The menu's buttons are buttons, not 470 px slabs.
	for _, sel := range []string{`#screen button[data-act="enrol"]`, `#screen button[data-act="diagnostics"]`} {
		if h := height(t, ctx, sel); h < 80 || h > 200 {
			t.Fatalf("%s is %.0f px tall", sel, h)
		}
	}
	shot(t, ctx, dir, "19-staff-menu")
	click(t, ctx, `button[data-act="diagnostics"]`)
	phase(t, ctx, "diagnostics")
	if got := text(t, ctx, "#devices"); !strings.Contains(got, "fake vein scanner") || !strings.Contains(got, "已连接") || !strings.Contains(got, "接口") {
		t.Fatalf("diagnostics %q", got)
	}
	// A reader whose port went away: said in Chinese, the driver's words
	// below for the technician.
	r.reader.OpenErr = fmt.Errorf("%w: %w", kiosk.ErrDeviceDown, &fs.PathError{Op: "open", Path: "/dev/ttyUSB0", Err: syscall.ENOENT})
	r.reader.SetUnplugged(true)
	waitText(t, ctx, "#devices", "找不到设备。请检查连接线是否插好。")
	waitText(t, ctx, "#devices", "技术详情（给维修人员）：kiosk: device not connected: open /dev/ttyUSB0: no such file or directory")
	checkErgonomics(t, ctx, "diagnostics")
	shot(t, ctx, dir, "20-diagnostics")
	r.reader.SetUnplugged(false)
	waitText(t, ctx, "#devices", "重连次数：1")
	click(t, ctx, `button[data-act="back"]`)
	phase(t, ctx, "staff_menu")
	click(t, ctx, `button[data-act="enrol"]`)
	phase(t, ctx, "enrol_card")
	r.reader.Insert(wang)
	// The consent first: no capture until the resident agrees.
	phase(t, ctx, "enrol_consent")
	waitText(t, ctx, "#consent", "指静脉信息属于敏感个人信息")
	waitText(t, ctx, "#consent", apiv1.ConsentTextVersion)
	checkErgonomics(t, ctx, "enrol_consent")
	shot(t, ctx, dir, "21-enrol-consent")
	click(t, ctx, `button[data-act="consent"]`)
	phase(t, ctx, "enrol_capture")
	place := func(q int) {
		r.scanner.Place(kiosktest.Finger{Person: "wang", Quality: q})
	}
	waitText := func(sel, want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			s, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
			if strings.Contains(s, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %q, want %q", sel, s, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	place(80)
	waitText("#fingers", "1 / 3")
	place(30) // too poor: the staff sees it and retakes
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#hint"))); err != nil {
		t.Fatal(err)
	}
	waitText("#quality", "30")
	shot(t, ctx, dir, "21-enrol-poor-capture")
	click(t, ctx, `button[data-act="retake"]`)
	for i, q := range []int{77, 91, 83, 88, 79} {
		place(q)
		want := [][2]int{{2, 0}, {3, 0}, {3, 1}, {3, 2}, {3, 3}}[i]
		waitAccepted(t, r.url, want)
	}
	if err := chromedp.Do(ctx, chromedp.WaitEnabled(chromedp.CSS(`button[data-act="confirm"]`))); err != nil {
		t.Fatal(err)
	}
	checkErgonomics(t, ctx, "enrol_capture")
	shot(t, ctx, dir, "22-enrol-complete")
	click(t, ctx, `button[data-act="confirm"]`)
	phase(t, ctx, "enrol_supervisor")
	shot(t, ctx, dir, "23-enrol-supervisor")
	kbType(t, ctx, "#user", "chen")
	pinType(t, ctx, "#pin", "975318")
	click(t, ctx, `button[data-act="supervisor"]`)
	// The server consumed the captures' nonces: capture again under the
	// supervisor's override.
	waitAccepted(t, r.url, [2]int{0, 0})
	for i, q := range []int{81, 82, 83, 84, 85, 86} {
		place(q)
		waitAccepted(t, r.url, [][2]int{{1, 0}, {2, 0}, {3, 0}, {3, 1}, {3, 2}, {3, 3}}[i])
	}
	click(t, ctx, `button[data-act="confirm"]`)
	phase(t, ctx, "enrol_done")
	if got := r.server.Residents[wang.IDNumber].Enrolled; got != "wang" {
		t.Fatalf("resident enrolled as %q", got)
	}
	// Both submissions (stopped on the duplicate, then under the override)
	// carried the resident's consent.
	if n := len(r.server.Consents); n != 2 || r.server.Consents[0].IDNumber != wang.IDNumber || r.server.Consents[0].At.IsZero() {
		t.Fatalf("consents sent: %+v", r.server.Consents)
	}
	shot(t, ctx, dir, "24-enrol-done")
	click(t, ctx, `button[data-act="back"]`)
	phase(t, ctx, "staff_menu")
	click(t, ctx, `button[data-act="logout"]`)
	phase(t, ctx, "idle")
}
