package hwdev

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/qingshan-gov/veinkiosk/devices/escpos"
	"github.com/qingshan-gov/veinkiosk/devices/printer"
	"github.com/qingshan-gov/veinkiosk/kiosk"
)

// OpenReceiptPrinter returns an opener for the ESC/POS printer named by
// spec ("serial:PATH", "usblp:/dev/usb/lp0"); the kiosk opens it for each
// job, so an unplugged and replugged printer needs nothing but a reprint.
func OpenReceiptPrinter(spec string) func(context.Context) (kiosk.ReceiptPrinter, error) {
	return func(ctx context.Context) (kiosk.ReceiptPrinter, error) {
		p, err := printer.Open(spec, printer.Options{})
		if err != nil {
			return nil, fmt.Errorf("%w: %v", kiosk.ErrDeviceDown, err)
		}
		return &receiptPrinter{p: p}, nil
	}
}

type receiptPrinter struct{ p *printer.Printer }

func (r *receiptPrinter) Close() error     { return r.p.Close() }
func (r *receiptPrinter) Describe() string { return r.p.String() }

func (r *receiptPrinter) PrintReceipt(ctx context.Context, rec kiosk.PrintedReceipt) error {
	job, err := ReceiptJob(rec)
	if err != nil {
		return err
	}
	err = r.p.Print(ctx, job)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, printer.ErrPaperOut):
		return fmt.Errorf("%w: %v", kiosk.ErrPaperOut, err)
	case errors.Is(err, printer.ErrCoverOpen):
		return fmt.Errorf("%w: %v", kiosk.ErrCoverOpen, err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return err
	}
	return fmt.Errorf("%w: %v", kiosk.ErrDeviceDown, err)
}

// chinaTime is Asia/Shanghai: UTC+8 all year since 1991, so a fixed zone
// is exact and needs no time zone database on the kiosk.
var chinaTime = time.FixedZone("CST", 8*3600)

// NextSteps are printed under the dates of every receipt.
var NextSteps = []string{
	"1. 部门将在答复期限前办理并答复。",
	"2. 凭受理编号可在本机“我的申请”",
	"   查看进度和答复，也可扫下方二维码。",
	"3. 如需补充材料，工作人员会联系您。",
}

// rule is a full-width line of the 48-column paper.
var rule = strings.Repeat("-", 48)

// ReceiptJob lays out the 受理回执 for an 80 mm ESC/POS printer (48
// columns, 24 Chinese characters per line): reference, service, filing
// date and due date in China time, next steps and a QR code of the
// reference. Text from the server that holds control characters is
// refused (escpos.ErrBadText), never sent as commands.
func ReceiptJob(r kiosk.PrintedReceipt) ([]byte, error) {
	if r.Reference == "" {
		return nil, errors.New("hwdev: receipt without a reference")
	}
	date := func(t time.Time) string { return t.In(chinaTime).Format("2006年01月02日") }
	var b escpos.Builder
	b.Init().Align(escpos.Center).Bold(true).Size(2, 2).Line("受理回执").Size(1, 1).Bold(false)
	if r.Station != "" {
		b.Line(r.Station)
	}
	b.Align(escpos.Left).Line(rule)
	b.Line("受理编号：")
	b.Align(escpos.Center).Bold(true).Size(1, 2).Line(r.Reference).Size(1, 1).Bold(false).Align(escpos.Left)
	b.Line("办理事项：" + r.Service)
	b.Line("提交日期：" + date(r.FiledAt))
	if !r.Due.IsZero() {
		b.Line("答复期限：" + date(r.Due) + "前")
	}
	b.Line(rule).Line("下一步：")
	for _, s := range NextSteps {
		b.Line(s)
	}
	b.Feed(1)
	qr := r.QR
	if qr == "" {
		qr = r.Reference
	}
	b.Align(escpos.Center).QR(qr, 6, escpos.ECMedium).Line("受理编号二维码").Line("请妥善保管本回执").Align(escpos.Left)
	b.Feed(3).Cut()
	return b.Bytes()
}
