package kiosk_test

import (
	"context"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
)

// hold presses on sel's centre for d with the mouse (pointer events, as a
// finger's long press), then lets go.
func hold(t *testing.T, ctx context.Context, sel string, d time.Duration) {
	t.Helper()
	type pt struct{ X, Y float64 }
	p, err := chromedp.Run(ctx, chromedp.Evaluate[pt](`(() => { const r = document.querySelector('`+sel+`').getBoundingClientRect(); return {X: r.x + r.width / 2, Y: r.y + r.height / 2}; })()`))
	if err != nil {
		t.Fatalf("hold %s: %v", sel, err)
	}
	if err := chromedp.Do(ctx, chromedp.MouseEvent(input.DispatchMouseEventTypeMousePressed, p.X, p.Y, chromedp.ButtonLeft, chromedp.ClickCount(1))); err != nil {
		t.Fatalf("hold %s: %v", sel, err)
	}
	time.Sleep(d)
	if err := chromedp.Do(ctx, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseReleased, p.X, p.Y, chromedp.ButtonLeft, chromedp.ClickCount(1))); err != nil {
		t.Fatalf("hold %s: %v", sel, err)
	}
}

// pinType types a PIN on the keypad of the PIN box sel.
func pinType(t *testing.T, ctx context.Context, sel, pin string) {
	t.Helper()
	click(t, ctx, sel)
	waitVisible(t, ctx, "#keypad")
	for _, r := range pin {
		click(t, ctx, `#keypad button[data-key="`+string(r)+`"]`)
	}
	if got := text(t, ctx, "#padvalue"); got != regexp.MustCompile(`.`).ReplaceAllString(pin, "●") {
		t.Fatalf("the keypad shows %q for a PIN", got)
	}
	click(t, ctx, "#padok")
	waitGone(t, ctx, "#keypad")
}

// height is sel's rendered height in CSS pixels.
func height(t *testing.T, ctx context.Context, sel string) float64 {
	t.Helper()
	h, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.querySelector('`+sel+`').getBoundingClientRect().height`))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestBrowserElderlyModeSlowsTimeouts: the 长辈模式 toggle tells the
// daemon, whose session machine then doubles the resident's time-outs
// (kiosk/session TestElderlyTimeouts); it ends with the session.
func TestBrowserElderlyModeSlowsTimeouts(t *testing.T) {
	r := newRig(t)
	ctx := browser(t, 1080, 1920)
	if err := chromedp.Do(ctx, chromedp.Navigate(r.url)); err != nil {
		t.Fatal(err)
	}
	phase(t, ctx, "idle")
	click(t, ctx, "#elderly")
	deadline := time.Now().Add(10 * time.Second)
	for !getView(t, r.url).Elderly {
		if time.Now().After(deadline) {
			t.Fatal("the daemon did not hear of elderly mode")
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.reader.Insert(zhang)
	phase(t, ctx, "place_finger")
	if !getView(t, r.url).Elderly {
		t.Fatal("elderly mode lost when the card was read")
	}
	r.reader.Remove()
	phase(t, ctx, "idle")
	if getView(t, r.url).Elderly {
		t.Fatal("elderly mode outlived the session")
	}
}

// TestConsentTextVersion: the consent text the kiosk shows is the version
// the server accepts, so a change of the text on one side only fails here.
func TestConsentTextVersion(t *testing.T) {
	b, err := os.ReadFile("ui/static/kiosk.js")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`const CONSENT_VERSION = "([^"]+)";`).FindSubmatch(b)
	if m == nil || string(m[1]) != apiv1.ConsentTextVersion {
		t.Fatalf("kiosk.js consent version %q, server's %q", m, apiv1.ConsentTextVersion)
	}
	if !regexp.MustCompile(`const PIN_LENGTH = `+"6"+`;`).Match(b) || apiv1.PINLength != 6 {
		t.Fatalf("kiosk.js PIN length differs from apiv1.PINLength %d", apiv1.PINLength)
	}
}
