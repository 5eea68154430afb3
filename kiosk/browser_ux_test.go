package kiosk_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/qingshan-gov/veinkiosk/kiosk"
	"github.com/qingshan-gov/veinkiosk/kiosk/kiosktest"
)

// kbType fills the text box sel from the on-screen keyboard (letters,
// digits and '-'), as staff do at a kiosk without a keyboard.
func kbType(t *testing.T, ctx context.Context, sel, s string) {
	t.Helper()
	click(t, ctx, sel)
	waitVisible(t, ctx, "#keyboard")
	click(t, ctx, "#kbclear")
	mode := "abc"
	for _, r := range s {
		want := "abc"
		if r >= '0' && r <= '9' || r == '-' {
			want = "digits"
		}
		if want != mode {
			click(t, ctx, `#keyboard button[data-k="@`+want+`"]`)
			mode = want
		}
		click(t, ctx, `#keyboard button[data-k="`+string(r)+`"]`)
	}
	click(t, ctx, "#kbok")
	waitGone(t, ctx, "#keyboard")
}

// pinyin types one syllable on the pinyin keyboard and picks ch among the
// candidates, paging if it is not on the first page.
func pinyin(t *testing.T, ctx context.Context, syl string, ch rune) {
	t.Helper()
	for _, r := range syl {
		click(t, ctx, `#keyboard button[data-k="`+string(r)+`"]`)
	}
	cand := `#kbcands button[data-cand="` + string(ch) + `"]`
	for page := 0; page < 30; page++ {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('`+cand+`').length`))
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			click(t, ctx, cand)
			return
		}
		if count(t, ctx, `#kbcands button[data-nav="more"]`) == 0 {
			v, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#kbvalue")))
			c, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#kbcands")))
			t.Fatalf("%c not among the candidates of %q (keyboard shows %q, candidates %q)", ch, syl, v, c)
		}
		click(t, ctx, `#kbcands button[data-nav="more"]`)
	}
	t.Fatalf("%c is not among the candidates of %q", ch, syl)
}

func waitVisible(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		t.Fatalf("waiting for %s: %v", sel, err)
	}
}

func waitGone(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.WaitNotPresent(chromedp.CSS(sel))); err != nil {
		t.Fatalf("waiting for %s to go: %v", sel, err)
	}
}

func waitText(t *testing.T, ctx context.Context, sel, want string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel), chromedp.AtLeast(0)))
		if strings.Contains(s, want) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %q, want %q", sel, s, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func count(t *testing.T, ctx context.Context, sel string) int {
	t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('`+sel+`').length`))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// toForm brings zhang from the card to the form of service code.
func toForm(t *testing.T, ctx context.Context, r *rig, code string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(r.url)); err != nil {
		t.Fatal(err)
	}
	phase(t, ctx, "idle")
	r.reader.Insert(zhang)
	phase(t, ctx, "place_finger")
	r.scanner.Place(kiosktest.Finger{Person: "zhang", Quality: 85})
	phase(t, ctx, "menu")
	click(t, ctx, `button[data-act="choose"][data-arg="`+code+`"]`)
	phase(t, ctx, "form")
}

// keypad types digits on the number keypad of field key.
func keypad(t *testing.T, ctx context.Context, key, digits string) {
	t.Helper()
	click(t, ctx, `button[data-act="keypad"][data-arg="`+key+`"]`)
	waitVisible(t, ctx, "#keypad")
	for _, d := range digits {
		click(t, ctx, `#keypad button[data-key="`+string(d)+`"]`)
	}
	click(t, ctx, "#padok")
	waitGone(t, ctx, "#keypad")
}

// A new application has a required account number and a required free
// text: confirming it empty names and marks every missing field; the
// account number is typed on the keypad (no decimal point), the reason on
// the pinyin keyboard, and the filing carries exactly what was typed.
func TestBrowserPinyinKeyboardAndMissingFields(t *testing.T) {
	r := newRig(t)
	dir := artefacts(t)
	ctx := browser(t, 1080, 1920)
	toForm(t, ctx, r, "dibao_new")
	click(t, ctx, `button[data-act="confirm"]`)
	got := waitText(t, ctx, "#problem", "有 3 项没有填")
	for _, name := range []string{"收款银行账号", "申请理由", "联系电话"} {
		if !strings.Contains(got, name) {
			t.Errorf("the error %q does not name %s", got, name)
		}
	}
	if n := count(t, ctx, "tr.missing"); n != 3 {
		t.Errorf("%d rows marked missing, want 3", n)
	}
	checkErgonomics(t, ctx, "form with missing fields")
	shot(t, ctx, dir, "30-form-missing-named")

	// The account number: digits only on the keypad.
	click(t, ctx, `button[data-act="keypad"][data-arg="bank_account"]`)
	waitVisible(t, ctx, "#keypad")
	if n := count(t, ctx, `#keypad button[data-key="."]`); n != 0 {
		t.Error("the account number keypad offers a decimal point")
	}
	click(t, ctx, "#keypad .padactions button") // cancel
	waitGone(t, ctx, "#keypad")
	keypad(t, ctx, "bank_account", "6222020200112233")

	// The reason: first the keyboard with the common answers, then typed.
	click(t, ctx, `button[data-act="keyboard"][data-arg="reason"]`)
	waitVisible(t, ctx, "#keyboard")
	if s := text(t, ctx, "#kbcommon"); !strings.Contains(s, "因病致贫") {
		t.Fatalf("common answers %q", s)
	}
	pinyin(t, ctx, "sheng", '生')
	pinyin(t, ctx, "huo", '活')
	pinyin(t, ctx, "kun", '困')
	pinyin(t, ctx, "nan", '难')
	for _, r := range "shenqi" { // a few letters more: their candidates show
		click(t, ctx, `#keyboard button[data-k="`+string(r)+`"]`)
	}
	waitText(t, ctx, "#kbcands", "身") // the candidates of "shen", the complete syllable at the start
	checkErgonomics(t, ctx, "pinyin keyboard")
	shot(t, ctx, dir, "31-pinyin-keyboard")
	for range "shenqi" {
		click(t, ctx, `#keyboard button[data-k="@del"]`)
	}
	if v := text(t, ctx, "#kbvalue"); !strings.HasPrefix(v, "生活困难") {
		t.Fatalf("keyboard shows %q", v)
	}
	click(t, ctx, "#kbok")
	waitGone(t, ctx, "#keyboard")
	waitText(t, ctx, `button[data-arg="reason"]`, "生活困难")

	// Still one missing: named alone.
	click(t, ctx, `button[data-act="confirm"]`)
	if got := waitText(t, ctx, "#problem", "有 1 项没有填"); !strings.Contains(got, "联系电话") {
		t.Fatalf("error %q", got)
	}
	keypad(t, ctx, "phone", "13800138000")

	// Landscape: the form is taller than the screen, and the screen says so.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1920, 1080)); err != nil {
		t.Fatal(err)
	}
	chromedp.Run(ctx, chromedp.Evaluate[bool](`window.dispatchEvent(new Event("resize"))`))
	waitVisible(t, ctx, "#scrollhint")
	shot(t, ctx, dir, "32-form-landscape-scroll-hint")
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1080, 1920)); err != nil {
		t.Fatal(err)
	}

	click(t, ctx, `button[data-act="confirm"]`)
	phase(t, ctx, "receipt")
	ref := text(t, ctx, "#reference")
	v := r.server.FiledValues(ref)
	if v["reason"] != "生活困难" || v["bank_account"] != "6222020200112233" || v["phone"] != "13800138000" {
		t.Fatalf("filed %v", v)
	}
}

// A resident typing one digit every few seconds is never thrown out; when
// they stop, a countdown with "继续办理" comes first; after it runs out the
// idle screen says why the session ended.
func TestBrowserSlowTypingCountdown(t *testing.T) {
	r := newRigWith(t, io.Discard, func(c *kiosk.Config) {
		c.IdleTimeout, c.IdleWarning = kiosk.Duration(10*time.Second), kiosk.Duration(6*time.Second)
	})
	dir := artefacts(t)
	ctx := browser(t, 1080, 1920)
	toForm(t, ctx, r, "dibao_new")
	click(t, ctx, `button[data-act="keypad"][data-arg="bank_account"]`)
	waitVisible(t, ctx, "#keypad")
	// One digit every 3 s, for three idle timeouts' time.
	for i, d := range "622202020011" {
		time.Sleep(2500 * time.Millisecond)
		click(t, ctx, `#keypad button[data-key="`+string(d)+`"]`)
		if i == 2 {
			waitVisible(t, ctx, "#keypad")
		}
	}
	if got := text(t, ctx, "#padvalue"); got != "622202020011" {
		t.Fatalf("keypad shows %q after slow typing", got)
	}
	click(t, ctx, "#padok")
	phase(t, ctx, "form")
	// Now nothing: the countdown comes before anything is cleared.
	waitVisible(t, ctx, "#countdown")
	if s := text(t, ctx, "#countdown"); !strings.Contains(s, "秒后会清除") || !strings.Contains(s, "继续办理") {
		t.Fatalf("countdown %q", s)
	}
	checkErgonomics(t, ctx, "countdown")
	shot(t, ctx, dir, "33-countdown")
	click(t, ctx, "#keepgoing")
	waitGone(t, ctx, "#countdown")
	phase(t, ctx, "form")
	waitText(t, ctx, `button[data-arg="bank_account"]`, "622202020011")
	// Walk away: cleared, and the reason shown.
	phase(t, ctx, "idle")
	if s := waitText(t, ctx, "#ended", "长时间没有操作"); !strings.Contains(s, "信息已清除") {
		t.Fatalf("end reason %q", s)
	}
	if s := text(t, ctx, "#title"); s != "请取走您的身份证" {
		t.Fatalf("idle title %q", s)
	}
	shot(t, ctx, dir, "34-ended-timeout")
}

// A network drop during the submission, shorter than the health probe
// sees: the first send never arrives, the second is filed but its answer
// is lost; the kiosk retries by itself on its timer and ends with exactly
// one filing and its receipt.
func TestBrowserShortOutageOneFiling(t *testing.T) {
	r := newRigWith(t, io.Discard, func(c *kiosk.Config) { c.RetryInterval = kiosk.Duration(2 * time.Second) })
	dir := artefacts(t)
	ctx := browser(t, 1080, 1920)
	toForm(t, ctx, r, "dibao_renewal")
	r.server.FailSubmits, r.server.LoseAnswers = 1, 1
	click(t, ctx, `button[data-act="confirm"]`)
	phase(t, ctx, "unavailable")
	waitText(t, ctx, "#retryin", "秒后自动重试")
	shot(t, ctx, dir, "35-submit-retrying")
	phase(t, ctx, "receipt")
	ref := text(t, ctx, "#reference")
	fs := r.server.AllFilings()
	if len(fs) != 1 || fs[0].Reference != ref {
		t.Fatalf("receipt %q; the server has %d filings: %+v", ref, len(fs), fs)
	}
}

// The server's lock: the attempts it really allows are shown after a miss,
// and the lock message says until when and for how long.
func TestBrowserLockMessage(t *testing.T) {
	r := newRig(t)
	r.server.LockAfter, r.server.LockFor = 2, 5*time.Minute
	dir := artefacts(t)
	ctx := browser(t, 1080, 1920)
	if err := chromedp.Do(ctx, chromedp.Navigate(r.url)); err != nil {
		t.Fatal(err)
	}
	phase(t, ctx, "idle")
	r.reader.Insert(zhang)
	phase(t, ctx, "place_finger")
	r.scanner.Place(kiosktest.Finger{Person: "someone-else", Quality: 85})
	waitText(t, ctx, "#hint", "没有核对上")
	if s := waitText(t, ctx, "#attempts", "还可以再试 1 次"); s == "" {
		t.Fatal("no attempts left shown")
	}
	shot(t, ctx, dir, "36-no-match-attempts-left")
	r.scanner.Place(kiosktest.Finger{Person: "someone-else", Quality: 85})
	phase(t, ctx, "failed")
	s := waitText(t, ctx, "#problem", "约 5 分钟")
	until := time.Now().Add(5 * time.Minute).In(kiosk.China).Format("15:04")
	late := time.Now().Add(5*time.Minute + time.Minute).In(kiosk.China).Format("15:04")
	if !strings.Contains(s, until) && !strings.Contains(s, late) {
		t.Fatalf("lock message %q does not say until %s (China time)", s, until)
	}
	checkErgonomics(t, ctx, "locked")
	shot(t, ctx, dir, "37-locked")
}

// The server's per-kiosk throttle has its own message with the wait, and
// the kiosk continues by itself afterwards.
func TestBrowserThrottled(t *testing.T) {
	r := newRig(t)
	r.server.ThrottleFor = 4 * time.Second
	dir := artefacts(t)
	ctx := browser(t, 1080, 1920)
	if err := chromedp.Do(ctx, chromedp.Navigate(r.url)); err != nil {
		t.Fatal(err)
	}
	phase(t, ctx, "idle")
	r.reader.Insert(zhang)
	phase(t, ctx, "place_finger")
	r.scanner.Place(kiosktest.Finger{Person: "zhang", Quality: 85})
	phase(t, ctx, "unavailable")
	if s := text(t, ctx, "#title"); !strings.Contains(s, "请稍等") {
		t.Fatalf("throttled title %q", s)
	}
	waitText(t, ctx, "#retryin", "还要等")
	if n := count(t, ctx, `button[data-act="retry"]`); n != 0 {
		t.Error("a retry button while the server asks to wait")
	}
	shot(t, ctx, dir, "38-throttled")
	phase(t, ctx, "place_finger")
	r.scanner.Place(kiosktest.Finger{Person: "zhang", Quality: 85})
	phase(t, ctx, "menu")
}

// The enrolment is checked before the finger: an unenrolled resident is
// told at once; an enrolled one is asked for their own finger by name and
// on the hands picture, and a wrong finger is answered with the fingers
// named.
func TestBrowserFingerNamed(t *testing.T) {
	r := newRig(t)
	r.server.Residents[zhang.IDNumber].Fingers = []string{"right_middle", "left_index"}
	dir := artefacts(t)
	ctx := browser(t, 1080, 1920)
	if err := chromedp.Do(ctx, chromedp.Navigate(r.url)); err != nil {
		t.Fatal(err)
	}
	phase(t, ctx, "idle")
	r.reader.Insert(wang) // not enrolled: told before any finger
	phase(t, ctx, "card_problem")
	if s := text(t, ctx, "#problem"); !strings.Contains(s, "还没有登记指静脉") {
		t.Fatalf("unenrolled: %q", s)
	}
	shot(t, ctx, dir, "39-not-enrolled-at-once")
	r.reader.Remove()
	phase(t, ctx, "idle")
	r.reader.Insert(zhang)
	phase(t, ctx, "place_finger")
	if s := text(t, ctx, "#title"); s != "请把右手中指平放在指静脉仪上" {
		t.Fatalf("title %q", s)
	}
	if n := count(t, ctx, `svg.hands rect.enrolled`); n != 2 {
		t.Fatalf("%d fingers marked on the picture, want 2", n)
	}
	if n := count(t, ctx, `svg.hands rect.enrolled[data-finger="right_middle"]`); n != 1 {
		t.Fatal("right middle finger not marked")
	}
	checkErgonomics(t, ctx, "finger named")
	shot(t, ctx, dir, "40-finger-named")
	r.scanner.Place(kiosktest.Finger{Person: "someone-else", Quality: 85}) // the wrong finger
	s := waitText(t, ctx, "#hint", "没有核对上")
	if !strings.Contains(s, "右手中指") || !strings.Contains(s, "左手食指") {
		t.Fatalf("wrong finger: %q does not name the enrolled fingers", s)
	}
	shot(t, ctx, dir, "41-wrong-finger-named")
	r.scanner.Place(kiosktest.Finger{Person: "zhang", Quality: 85})
	phase(t, ctx, "menu")
}
