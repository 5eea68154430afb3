package kiosk_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/qingshan-gov/veinkiosk/kiosk/kiosktest"
	"github.com/qingshan-gov/veinkiosk/kiosk/session"
)

// TestBrowserProofOfLife: a pensioner's yearly proof of life at the kiosk
// is the card and the finger, then one touch: 认证成功 with the date; a
// second time the same year says it is already done; the token is kept,
// so the menu follows without the finger again.
func TestBrowserProofOfLife(t *testing.T) {
	r := newRig(t)
	r.server.Catalogue = append(r.server.Catalogue, session.Service{Code: "pension_certification", NameZH: "养老金领取资格认证", NameEN: "Pensioner proof of life", DueDays: 1, Certification: true})
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
	if got := text(t, ctx, `button[data-act="choose"][data-arg="pension_certification"]`); !strings.Contains(got, "无需填表") {
		t.Fatalf("menu entry %q", got)
	}
	click(t, ctx, `button[data-act="choose"][data-arg="pension_certification"]`)
	phase(t, ctx, "certified")
	if got := text(t, ctx, "#title"); got != "认证成功" {
		t.Fatalf("title %q", got)
	}
	if got := text(t, ctx, "#certified-at"); len(got) != len("2006-01-02 15:04") {
		t.Fatalf("certified at %q", got)
	}
	checkErgonomics(t, ctx, "certified")
	shot(t, ctx, dir, "certify-01-done")

	click(t, ctx, `button[data-act="back"]`)
	phase(t, ctx, "menu") // the token is kept: no finger again
	click(t, ctx, `button[data-act="choose"][data-arg="pension_certification"]`)
	phase(t, ctx, "certified")
	if got := text(t, ctx, "#title"); got != "您今年已经认证过了，不用再认证" {
		t.Fatalf("second time: title %q", got)
	}
	shot(t, ctx, dir, "certify-02-already")
	click(t, ctx, `button[data-act="finish"]`)
	phase(t, ctx, "idle")
}
