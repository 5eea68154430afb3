package kiosk

import (
	"context"
	"errors"
	"time"

	"github.com/qingshan-gov/veinkiosk/kiosk/session"
)

// Printer errors (wrap them with %w).
var (
	// ErrPaperOut: the printer has no paper.
	ErrPaperOut = errors.New("kiosk: printer out of paper")
	// ErrCoverOpen: the printer's cover is open.
	ErrCoverOpen = errors.New("kiosk: printer cover open")
)

// PrintedReceipt is what the 受理回执 says. It carries no personal data (no
// name, no ID number): a receipt left behind at the kiosk tells nobody
// who filed.
type PrintedReceipt struct {
	Station   string
	Reference string
	Service   string
	FiledAt   time.Time
	Due       time.Time
	// QR is the payload of the QR code (the reference).
	QR string
}

// ReceiptPrinter prints the receipt of a filing. Implementations wrap
// ErrPaperOut, ErrCoverOpen or ErrDeviceDown.
type ReceiptPrinter interface {
	PrintReceipt(ctx context.Context, r PrintedReceipt) error
	Close() error
}

// Print states shown on the receipt screen.
const (
	PrintPrinting  = "printing"
	PrintDone      = "printed"
	PrintPaperOut  = "paper_out"
	PrintCoverOpen = "cover_open"
	PrintFailed    = "failed" // the printer is not connected or failed otherwise
)

// ActReprint is the receipt screen's 重新打印 touch (handled by the
// daemon, not the session machine: printing is a device matter).
const ActReprint = "reprint"

// printTimeout bounds one print job (open, status, job, status).
const printTimeout = 20 * time.Second

// printStatus is the print state of the receipt on screen (loop-owned).
type printStatus struct {
	ref   string
	state string
}

// startPrint prints the receipt on screen unless it is printing already;
// the outcome comes back to the loop through d.loop.
func (d *Daemon) startPrint(ctx context.Context, r *session.Receipt) {
	if d.openPrinter == nil || r == nil || (d.print.ref == r.Reference && d.print.state == PrintPrinting) {
		return
	}
	d.print = printStatus{ref: r.Reference, state: PrintPrinting}
	pr := PrintedReceipt{Station: d.cfg.StationID, Reference: r.Reference, Service: r.Service.NameZH,
		FiledAt: r.FiledAt, Due: r.Due, QR: r.Reference}
	d.effects.Add(1)
	go func() {
		defer d.effects.Done()
		cctx, cancel := context.WithTimeout(ctx, printTimeout)
		defer cancel()
		state, err := d.printOnce(cctx, pr)
		d.metrics.receipts.WithLabelValues(state).Inc()
		if err != nil {
			d.log.Warn("receipt not printed", "state", state, "err", errClass(err), "reference", pr.Reference)
		} else {
			d.log.Info("receipt printed", "reference", pr.Reference)
		}
		select {
		case d.loop <- func() {
			if d.print.ref == pr.Reference {
				d.print.state = state
			}
			if state == PrintPaperOut || state == PrintCoverOpen {
				d.callStaff(ctx, CallPrinter) // staff must load paper or close the cover
			}
		}:
		case <-ctx.Done():
		}
	}()
}

func (d *Daemon) printOnce(ctx context.Context, r PrintedReceipt) (string, error) {
	p, err := d.openPrinter(ctx)
	if err != nil {
		return PrintFailed, err
	}
	defer p.Close()
	err = p.PrintReceipt(ctx, r)
	switch {
	case err == nil:
		return PrintDone, nil
	case errors.Is(err, ErrPaperOut):
		return PrintPaperOut, err
	case errors.Is(err, ErrCoverOpen):
		return PrintCoverOpen, err
	}
	return PrintFailed, err
}

// printTouch handles the receipt screen's 重新打印 (reprint): allowed while
// the receipt is on screen and not printing.
func (d *Daemon) printTouch(ctx context.Context) {
	st := d.m.State()
	if st.Phase != session.ReceiptPhase || st.Receipt == nil {
		return
	}
	d.startPrint(ctx, st.Receipt)
}

// afterStep prints the receipt once when the receipt screen first shows
// it, and forgets the print state when the screen moves on.
func (d *Daemon) afterStep(ctx context.Context, before, after session.State) {
	if after.Phase != session.ReceiptPhase || after.Receipt == nil {
		if d.print.ref != "" && d.print.state != PrintPrinting {
			d.print = printStatus{}
		}
		return
	}
	if before.Phase != session.ReceiptPhase || d.print.ref != after.Receipt.Reference {
		d.startPrint(ctx, after.Receipt)
	}
}

// PrintView is the receipt's print state on screen.
type PrintView struct {
	State string `json:"state"`
}
