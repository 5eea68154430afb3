package kiosk_test

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/qingshan-gov/veinkiosk/kiosk"
	"github.com/qingshan-gov/veinkiosk/kiosk/hwdev"
	"github.com/qingshan-gov/veinkiosk/kiosk/kiosktest"
	"github.com/qingshan-gov/veinkiosk/simulators/printersim"
)

// TestBrowserPrintedReceipt files with the printer out of paper, sees the
// screen say so (the filing is safe), loads paper, reprints, and reads the
// receipt back from the printer simulator: reference, service, dates in
// China time, next steps and the QR payload. The receipt goes through the
// real driver and codec on a pseudo-terminal, as kioskd prints.
func TestBrowserPrintedReceipt(t *testing.T) {
	dir := artefacts(t)
	sim, err := printersim.StartPTY(printersim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	r := newRigOpts(t, io.Discard, func(o *kiosk.Options) { o.OpenPrinter = hwdev.OpenReceiptPrinter("serial:" + sim.Path()) })
	ctx := browser(t, 1080, 1920)
	if err := chromedp.Do(ctx, chromedp.Navigate(r.url)); err != nil {
		t.Fatal(err)
	}
	phase(t, ctx, "idle")
	sim.SetPaperOut(true)
	r.reader.Insert(zhang)
	phase(t, ctx, "place_finger")
	r.scanner.Place(kiosktest.Finger{Person: "zhang", Quality: 85})
	phase(t, ctx, "menu")
	click(t, ctx, `button[data-act="choose"][data-arg="dibao_renewal"]`)
	phase(t, ctx, "form")
	click(t, ctx, `button[data-act="edit"][data-arg="household_size"]:nth-child(3)`)
	if err := chromedp.Do(ctx, chromedp.WaitReady(chromedp.CSS(`button[data-arg="household_size"][aria-pressed="true"]:nth-child(3)`))); err != nil {
		t.Fatal(err)
	}
	click(t, ctx, `button[data-act="confirm"]`)
	phase(t, ctx, "receipt")
	ref := text(t, ctx, "#reference")

	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#print.print-paper_out`))); err != nil {
		t.Fatalf("no paper-out message: %v", err)
	}
	if got := text(t, ctx, "#printStatus"); !strings.Contains(got, "缺纸") || !strings.Contains(got, "不会丢失") {
		t.Fatalf("paper-out message %q", got)
	}
	checkErgonomics(t, ctx, "receipt, paper out")
	shot(t, ctx, dir, "receipt-paper-out-portrait")
	if n := len(sim.Receipts()); n != 0 {
		t.Fatalf("%d receipts printed without paper", n)
	}

	sim.SetPaperLines(0) // staff load a roll
	click(t, ctx, `#reprint`)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#print.print-printed`))); err != nil {
		t.Fatalf("reprint: %v", err)
	}
	shot(t, ctx, dir, "receipt-printed-portrait")
	rs, ok := sim.WaitReceipts(1, 5*time.Second)
	if !ok || len(rs) != 1 {
		t.Fatalf("receipts %+v", rs)
	}
	fs := r.server.AllFilings()
	if len(fs) != 1 || fs[0].Reference != ref {
		t.Fatalf("the server has %+v: want exactly the one filing", fs)
	}
	cst := time.FixedZone("CST", 8*3600)
	txt := rs[0].Text()
	for _, want := range []string{"受理回执", ref, "青山街道社区服务站",
		"提交日期：" + fs[0].FiledAt.In(cst).Format("2006年01月02日"),
		"答复期限：" + fs[0].Due.In(cst).Format("2006年01月02日") + "前", "下一步：", "请妥善保管本回执"} {
		if !strings.Contains(txt, want) {
			t.Errorf("printed receipt lacks %q:\n%s", want, txt)
		}
	}
	if !strings.Contains(txt, "办理事项："+fs[0].Service.NameZH) {
		t.Errorf("printed receipt lacks the service %q:\n%s", fs[0].Service.NameZH, txt)
	}
	if strings.Contains(txt, zhang.Name) || strings.Contains(txt, zhang.IDNumber[10:]) {
		t.Errorf("the receipt carries personal data:\n%s", txt)
	}
	if len(rs[0].QR) != 1 || rs[0].QR[0] != ref {
		t.Fatalf("QR payloads %q, want the reference %q", rs[0].QR, ref)
	}
	if err := os.WriteFile(filepath.Join(dir, "receipt-printed.png"), rs[0].PNG, 0o644); err != nil {
		t.Fatal(err)
	}
}
