package hwdev

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/devices/escpos"
	"github.com/qingshan-gov/veinkiosk/kiosk"
	"github.com/qingshan-gov/veinkiosk/simulators/printersim"
)

var update = flag.Bool("update", false, "rewrite the golden receipt PNG")

var sample = kiosk.PrintedReceipt{
	Station:   "青山街道社区服务站",
	Reference: "QS-20261206-0042",
	Service:   "最低生活保障（低保）新申请",
	// 23:30 UTC on the 5th is the 6th in China.
	FiledAt: time.Date(2026, 12, 5, 23, 30, 0, 0, time.UTC),
	Due:     time.Date(2026, 12, 20, 23, 30, 0, 0, time.UTC),
	QR:      "QS-20261206-0042",
}

// TestReceiptLayout prints the receipt on the simulator and reads it back
// from the simulator's record of printed lines and QR payloads, then
// compares the picture with the golden PNG (looked at:
// docs/screenshots/receipt-printed.png is the same file).
func TestReceiptLayout(t *testing.T) {
	job, err := ReceiptJob(sample)
	if err != nil {
		t.Fatal(err)
	}
	sim := printersim.New(printersim.Options{})
	sim.Write(job)
	rs := sim.Receipts()
	if len(rs) != 1 {
		t.Fatalf("%d receipts", len(rs))
	}
	r := rs[0]
	want := []string{
		"受理回执", "青山街道社区服务站", strings.Repeat("-", 48), "受理编号：", "QS-20261206-0042",
		"办理事项：最低生活保障（低保）新申请", "提交日期：2026年12月06日", "答复期限：2026年12月21日前",
		strings.Repeat("-", 48), "下一步：",
	}
	want = append(want, NextSteps...)
	want = append(want, "受理编号二维码", "请妥善保管本回执")
	var got []string
	for _, l := range r.Lines {
		got = append(got, l.Text)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("printed lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if r.Lines[0].Width != 2 || r.Lines[0].Align != "center" || !r.Lines[4].Bold || r.Lines[4].Height != 2 {
		t.Errorf("title or reference not emphasised: %+v %+v", r.Lines[0], r.Lines[4])
	}
	if len(r.QR) != 1 || r.QR[0] != sample.Reference || len(r.Missing) != 0 || r.Incomplete {
		t.Fatalf("QR %q, missing glyphs %q, incomplete %v", r.QR, r.Missing, r.Incomplete)
	}
	golden := "testdata/receipt.golden.png"
	if *update {
		if err := os.WriteFile(golden, r.PNG, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wantPNG, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test ./kiosk/hwdev -run TestReceiptLayout -update)", err)
	}
	if !bytes.Equal(r.PNG, wantPNG) {
		os.WriteFile(t.TempDir()+"/receipt.png", r.PNG, 0o644)
		t.Fatalf("the printed receipt differs from %s (look at both; -update rewrites it)", golden)
	}
}

func TestReceiptRefusesControlCharacters(t *testing.T) {
	r := sample
	r.Service = "低保\x1b@\x1dV\x00"
	if _, err := ReceiptJob(r); !errors.Is(err, escpos.ErrBadText) {
		t.Fatalf("%v, want ErrBadText", err)
	}
	r = sample
	r.Reference = ""
	if _, err := ReceiptJob(r); err == nil {
		t.Fatal("receipt without a reference")
	}
}

// TestReceiptPrinterFaults drives the simulator on a pseudo-terminal
// through the real driver, as kioskd does.
func TestReceiptPrinterFaults(t *testing.T) {
	sim, err := printersim.StartPTY(printersim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	open := OpenReceiptPrinter("serial:" + sim.Path())
	ctx := context.Background()
	print := func() error {
		p, err := open(ctx)
		if err != nil {
			return err
		}
		defer p.Close()
		return p.PrintReceipt(ctx, sample)
	}
	sim.SetPaperOut(true)
	if err := print(); !errors.Is(err, kiosk.ErrPaperOut) {
		t.Fatalf("paper out: %v", err)
	}
	sim.SetPaperLines(0)
	sim.SetCoverOpen(true)
	if err := print(); !errors.Is(err, kiosk.ErrCoverOpen) {
		t.Fatalf("cover open: %v", err)
	}
	sim.SetCoverOpen(false)
	if err := print(); err != nil {
		t.Fatal(err)
	}
	if rs, ok := sim.WaitReceipts(1, 5*time.Second); !ok || rs[0].QR[0] != sample.Reference {
		t.Fatalf("%+v", rs)
	}
	if _, err := OpenReceiptPrinter("serial:/dev/nonexistent-printer")(ctx); !errors.Is(err, kiosk.ErrDeviceDown) {
		t.Fatalf("no printer: %v", err)
	}
}
