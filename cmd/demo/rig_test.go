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
)

// demoRig is the rig of the demo's end-to-end tests: the demo world (the
// real server, a synthetic population, the drivers, the simulators and the
// kiosk) as `demo --scripted` starts it, and a client of the kiosk's view.
type demoRig struct {
	t    *testing.T
	ctx  context.Context // the world's, cancelled when the test ends
	w    *world
	o    options
	k    kioskClient
	logs *lockedBuffer // the world's log
}

// startDemo starts the demo world with `--scripted` and the demo's flags
// args, and stops it when the test ends. The world takes seconds to seed:
// the test is skipped with -short.
func startDemo(t *testing.T, args ...string) *demoRig {
	t.Helper()
	if testing.Short() {
		t.Skip("slow")
	}
	o, err := parse(append([]string{"--scripted"}, args...), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	logs := &lockedBuffer{}
	w, err := startWorld(ctx, o, slog.New(slog.NewTextHandler(logs, nil)), func(string, ...any) {})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); w.close() })
	return &demoRig{t: t, ctx: ctx, w: w, o: o, k: kioskClient{base: w.kioskURL}, logs: logs}
}

// wait waits up to 40 seconds for a view of the kiosk that satisfies cond,
// and fails the test when none comes or the journey ends on the way
// (kioskClient.wait).
func (d *demoRig) wait(what string, cond func(kiosk.View) bool) kiosk.View {
	d.t.Helper()
	v, err := d.k.wait(d.ctx, what, 40*time.Second, cond)
	if err != nil {
		d.t.Fatal(err)
	}
	return v
}

// openScreen opens the kiosk's screen (1080x1920, portrait) in headless
// Chromium for at most limit, and closes it when the test ends.
// Screenshots go to $VEINKIOSK_ARTIFACTS, or to a temporary directory.
func (d *demoRig) openScreen(limit time.Duration) screen {
	t := d.t
	t.Helper()
	chrome := chromium(t)
	dir := os.Getenv("VEINKIOSK_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chrome), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1080, 1920))
	bctx, cancelB := chromedp.NewContext(actx)
	ctx, cancel := context.WithTimeout(bctx, limit)
	t.Cleanup(func() { cancel(); cancelB(); cancelA() })
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1080, 1920), chromedp.Navigate(d.w.kioskURL)); err != nil {
		t.Fatal(err)
	}
	return screen{t: t, ctx: ctx, dir: dir, d: d}
}

// chromium is the path of the Chromium binary; without one the test is
// skipped, or fails when VEINKIOSK_REQUIRE_BROWSER=1.
func chromium(t *testing.T) string {
	t.Helper()
	chrome := "/usr/bin/chromium"
	if _, err := os.Stat(chrome); err != nil {
		if p, err := exec.LookPath("chromium"); err == nil {
			return p
		} else if os.Getenv("VEINKIOSK_REQUIRE_BROWSER") == "1" {
			t.Fatal("chromium not found and VEINKIOSK_REQUIRE_BROWSER=1")
		} else {
			t.Skip("chromium not installed")
		}
	}
	return chrome
}

// screen drives the kiosk page in Chromium as a finger would: clicks only.
type screen struct {
	t   *testing.T
	ctx context.Context
	dir string
	d   *demoRig
}

// wait is demoRig.wait, then a moment for the page to render the view.
func (s screen) wait(what string, cond func(kiosk.View) bool) kiosk.View {
	s.t.Helper()
	v := s.d.wait(what, cond)
	time.Sleep(200 * time.Millisecond)
	return v
}

func (s screen) click(sel string) {
	s.t.Helper()
	var err error
	for i := 0; i < 5; i++ {
		if err = chromedp.Do(s.ctx, chromedp.Click(chromedp.CSS(sel))); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("click %s: %v", sel, err)
}

func (s screen) count(sel string) int {
	s.t.Helper()
	n, err := chromedp.Run(s.ctx, chromedp.Evaluate[int](`document.querySelectorAll('`+sel+`').length`))
	if err != nil {
		s.t.Fatal(err)
	}
	return n
}

// text is the text of the element sel selects ("" when there is none).
func (s screen) text(sel string) string {
	s.t.Helper()
	v, err := chromedp.Run(s.ctx, chromedp.Evaluate[string](`(document.querySelector('`+sel+`') || {}).textContent || ""`))
	if err != nil {
		s.t.Fatal(err)
	}
	return v
}

func (s screen) shot(name string) {
	s.t.Helper()
	time.Sleep(250 * time.Millisecond)
	b, err := chromedp.Run(s.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		s.t.Fatal(err)
	}
	os.WriteFile(filepath.Join(s.dir, name+".png"), b, 0o644)
}
