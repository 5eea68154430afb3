package kiosk_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/kiosk"
	"github.com/qingshan-gov/veinkiosk/kiosk/kiosktest"
)

// fakePrinter records receipts and fails with err while it is set.
type fakePrinter struct {
	mu    sync.Mutex
	err   error
	jobs  []kiosk.PrintedReceipt
	opens int
}

func (f *fakePrinter) open(context.Context) (kiosk.ReceiptPrinter, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opens++
	return f, nil
}

func (f *fakePrinter) PrintReceipt(ctx context.Context, r kiosk.PrintedReceipt) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.jobs = append(f.jobs, r)
	return nil
}

func (f *fakePrinter) Close() error { return nil }

func (f *fakePrinter) set(err error) { f.mu.Lock(); f.err = err; f.mu.Unlock() }
func (f *fakePrinter) printed() []kiosk.PrintedReceipt {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]kiosk.PrintedReceipt(nil), f.jobs...)
}

func waitPrint(t *testing.T, base, state string) kiosk.View {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v := getView(t, base)
		if v.Print != nil && v.Print.State == state {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("print %+v, want %s", v.Print, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReceiptPrinting: the receipt prints once when it shows; paper out
// and cover open are shown, the reprint touch prints it, the filing is
// sent once; no personal data reaches the printer or the log.
func TestReceiptPrinting(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault error
		state string
	}{
		{"paper out", fmt.Errorf("%w: simulated", kiosk.ErrPaperOut), kiosk.PrintPaperOut},
		{"cover open", fmt.Errorf("%w: simulated", kiosk.ErrCoverOpen), kiosk.PrintCoverOpen},
		{"unplugged", fmt.Errorf("%w: simulated", kiosk.ErrDeviceDown), kiosk.PrintFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &fakePrinter{}
			p.set(tc.fault)
			logs := &syncBuffer{}
			r := newRigOpts(t, logs, func(o *kiosk.Options) { o.OpenPrinter = p.open })
			waitPhase(t, r.url, "idle")
			r.reader.Insert(zhang)
			waitPhase(t, r.url, "place_finger")
			r.scanner.Place(kiosktest.Finger{Person: "zhang", Quality: 90})
			waitPhase(t, r.url, "menu")
			touch(t, r.url, `{"action":"choose","arg":"dibao_renewal"}`)
			waitPhase(t, r.url, "form")
			touch(t, r.url, `{"action":"confirm"}`)
			v := waitPhase(t, r.url, "receipt")
			ref := v.Receipt.Reference
			waitPrint(t, r.url, tc.state)
			if len(p.printed()) != 0 {
				t.Fatal("printed while faulty")
			}
			p.set(nil)
			touch(t, r.url, `{"action":"reprint"}`)
			v = waitPrint(t, r.url, kiosk.PrintDone)
			if v.Phase != "receipt" {
				t.Fatalf("phase %s after the reprint", v.Phase)
			}
			jobs := p.printed()
			if len(jobs) != 1 || jobs[0].Reference != ref || jobs[0].QR != ref || jobs[0].Service == "" || jobs[0].FiledAt.IsZero() {
				t.Fatalf("printed %+v", jobs)
			}
			if fs := r.server.AllFilings(); len(fs) != 1 {
				t.Fatalf("%d filings, want 1", len(fs))
			}
			// Paper out and cover open call the station's staff.
			wantCalls := 0
			if tc.state != kiosk.PrintFailed {
				wantCalls = 1
			}
			if calls := r.server.StaffCalls(); len(calls) != wantCalls || (wantCalls == 1 && calls[0] != "printer") {
				t.Fatalf("staff calls %q", calls)
			}
			// Another reprint is allowed (a torn receipt); leaving the
			// screen ends printing: a reprint touch elsewhere does nothing.
			touch(t, r.url, `{"action":"reprint"}`)
			deadline := time.Now().Add(5 * time.Second)
			for len(p.printed()) < 2 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			r.reader.Remove()
			waitPhase(t, r.url, "idle")
			touch(t, r.url, `{"action":"reprint"}`)
			time.Sleep(100 * time.Millisecond)
			if n := len(p.printed()); n != 2 {
				t.Fatalf("%d receipts printed, want 2", n)
			}
			if v := getView(t, r.url); v.Print != nil {
				t.Fatalf("print state %+v at idle", v.Print)
			}
			out := logs.String()
			if !strings.Contains(out, "receipt not printed") || !strings.Contains(out, "receipt printed") {
				t.Errorf("the log does not tell the print outcomes:\n%s", out)
			}
			for _, secret := range []string{zhang.Name, zhang.IDNumber} {
				if strings.Contains(out, secret) {
					t.Errorf("the log contains %q", secret)
				}
			}
			resp, err := http.Get(r.url + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, want := range []string{`veinkiosk_receipts_total{outcome="printed"} 2`, `veinkiosk_receipts_total{outcome="` + tc.state + `"} 1`} {
				if !strings.Contains(string(b), want) {
					t.Errorf("metrics lack %s", want)
				}
			}
		})
	}
}
