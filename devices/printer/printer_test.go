package printer

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/devices/escpos"
	"github.com/qingshan-gov/veinkiosk/simulators/printersim"
	"github.com/qingshan-gov/veinkiosk/simulators/pty"
)

// (Test files may import simulators; the driver itself never does.)

func receipt(t *testing.T, lines int) []byte {
	t.Helper()
	var b escpos.Builder
	b.Init()
	for i := range lines {
		b.Line(strings.Repeat("行", i%20+1))
	}
	b.QR("QS-20261206-0001", 6, escpos.ECMedium).Cut()
	job, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return job
}

func TestPrintOverTransports(t *testing.T) {
	for _, kind := range []string{"serial", "usblp"} {
		t.Run(kind, func(t *testing.T) {
			sim, err := printersim.StartPTY(printersim.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer sim.Close()
			p, err := Open(kind+":"+sim.Path(), Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			// A job of several kilobytes: written in chunks.
			if err := p.Print(ctx, receipt(t, 60)); err != nil {
				t.Fatal(err)
			}
			rs, ok := sim.WaitReceipts(1, 5*time.Second)
			if !ok || len(rs[0].Lines) != 60 || rs[0].QR[0] != "QS-20261206-0001" {
				t.Fatalf("printed %+v", rs)
			}
		})
	}
}

func TestFaults(t *testing.T) {
	sim, err := printersim.StartPTY(printersim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	p, err := Open(sim.Path(), Options{}) // a bare path is serial
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()

	sim.SetPaperOut(true)
	if err := p.Print(ctx, receipt(t, 3)); !errors.Is(err, ErrPaperOut) || !errors.Is(err, ErrNotReady) || errors.Is(err, ErrIncomplete) {
		t.Fatalf("paper out: %v", err)
	}
	sim.SetPaperLines(0)
	sim.SetCoverOpen(true)
	if err := p.Print(ctx, receipt(t, 3)); !errors.Is(err, ErrCoverOpen) {
		t.Fatalf("cover open: %v", err)
	}
	if n := len(sim.Receipts()); n != 0 {
		t.Fatalf("%d receipts printed while not ready", n)
	}
	sim.SetCoverOpen(false)
	st, err := p.Status(ctx)
	if err != nil || !st.Ready() {
		t.Fatalf("status after closing the cover: %+v %v", st, err)
	}
	// The roll ends during the job: the driver says so after it.
	sim.SetPaperLines(10)
	if err := p.Print(ctx, receipt(t, 20)); !errors.Is(err, ErrPaperOut) || !errors.Is(err, ErrIncomplete) {
		t.Fatalf("paper ran out while printing: %v", err)
	}
	sim.SetPaperLines(0)
	if err := p.Print(ctx, receipt(t, 3)); err != nil {
		t.Fatalf("after new paper: %v", err)
	}
	rs := sim.Receipts()
	if len(rs) != 2 || !rs[0].Incomplete || rs[1].Incomplete {
		t.Fatalf("receipts %+v", rs)
	}
}

func TestNoAnswer(t *testing.T) {
	p0, err := pty.Open() // a line with nothing behind it
	if err != nil {
		t.Fatal(err)
	}
	defer p0.Close()
	p, err := Open("serial:"+p0.Path, Options{StatusTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.Status(context.Background()); !errors.Is(err, ErrTimeout) {
		t.Fatalf("%v, want ErrTimeout", err)
	}
	if err := p.Print(context.Background(), []byte("x\n")); !errors.Is(err, ErrTimeout) {
		t.Fatalf("%v, want ErrTimeout", err)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open("lpt:/dev/lp0", Options{}); err == nil || !strings.Contains(err.Error(), "unknown transport") {
		t.Fatal(err)
	}
	for _, spec := range []string{"serial:/dev/nonexistent-printer", "usblp:/dev/nonexistent-printer"} {
		if _, err := Open(spec, Options{}); !errors.Is(err, ErrDisconnected) {
			t.Fatalf("%s: %v", spec, err)
		}
	}
}
