package api

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromeRig is the rig of the office's browser tests (Chromium; officeBrowser is the plain HTTP one): an env's server
// on a real listener, a headless Chromium, and helpers that fail the test.
type chromeRig struct {
	t    *testing.T
	ctx  context.Context // the browser tab, with the test's time limit
	base string          // the server's URL
	dir  string          // screenshots: $VEINKIOSK_ARTIFACTS, or a temporary directory
}

// startChromeRig serves e's API and opens Chromium at width x height
// for at most limit; extra options go to the browser. Without Chromium the
// test is skipped, or fails when VEINKIOSK_REQUIRE_BROWSER=1.
func startChromeRig(t *testing.T, e *env, width, height int, limit time.Duration, extra ...chromedp.ExecAllocatorOption) *chromeRig {
	t.Helper()
	chrome, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("VEINKIOSK_REQUIRE_BROWSER") == "1" {
			t.Fatal("chromium not found and VEINKIOSK_REQUIRE_BROWSER=1")
		}
		t.Skip("chromium not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go e.srv.App().Listener(ln)
	t.Cleanup(func() { e.srv.App().Shutdown() })
	b := &chromeRig{t: t, base: "http://" + ln.Addr().String(), dir: os.Getenv("VEINKIOSK_ARTIFACTS")}
	if b.dir == "" {
		b.dir = t.TempDir()
	} else if err := os.MkdirAll(b.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	opts := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chrome), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(width, height),
	}, extra...)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelB := chromedp.NewContext(actx)
	ctx, cancel := context.WithTimeout(bctx, limit)
	t.Cleanup(func() { cancel(); cancelB(); cancelA() })
	b.ctx = ctx
	return b
}

// do runs actions, failing the test with what on an error.
func (b *chromeRig) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// text is the text of the element sel selects.
func (b *chromeRig) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// shot saves a screenshot of the window as name.png in the artifacts
// directory; fullShot one of the whole page.
func (b *chromeRig) shot(name string)     { b.t.Helper(); b.save(name, chromedp.CaptureScreenshot()) }
func (b *chromeRig) fullShot(name string) { b.t.Helper(); b.save(name, chromedp.FullScreenshot(100)) }

func (b *chromeRig) save(name string, capture chromedp.Action[[]byte]) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, capture)
	if err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}
