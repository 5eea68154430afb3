package kiosk_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/kiosk"
	"github.com/qingshan-gov/veinkiosk/kiosk/kiosktest"
	"github.com/qingshan-gov/veinkiosk/kiosk/session"
)

func fastOpts() kiosk.DeviceOptions {
	return kiosk.DeviceOptions{PollInterval: 10 * time.Millisecond, CallTimeout: 200 * time.Millisecond,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, RemoveDebounce: 2, ProbeInterval: 20 * time.Millisecond}
}

type events struct {
	mu  sync.Mutex
	evs []session.Event
}

func (e *events) emit(ev session.Event) { e.mu.Lock(); e.evs = append(e.evs, ev); e.mu.Unlock() }

func (e *events) names() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, ev := range e.evs {
		switch ev := ev.(type) {
		case session.CardRead:
			out = append(out, "read:"+ev.Card.Name)
		case session.CardRemoved:
			out = append(out, "removed")
		case session.CardFailed:
			out = append(out, "failed")
		}
	}
	return out
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func startDevices(t *testing.T, openR func(context.Context) (kiosk.CardReader, error), openS func(context.Context) (kiosk.Scanner, error)) (*kiosk.Devices, *events) {
	t.Helper()
	ev := &events{}
	d := kiosk.NewDevices(openR, "fake-port", openS, "sim", fastOpts(), ev.emit, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return d, ev
}

func health(d *kiosk.Devices, name string) kiosk.Health {
	for _, h := range d.Health() {
		if h.Name == name {
			return h
		}
	}
	return kiosk.Health{}
}

func TestDevicesCardEvents(t *testing.T) {
	r := &kiosktest.Reader{}
	d, ev := startDevices(t, r.Open, kiosktest.NewScanner().Open)
	eventually(t, "reader connected", func() bool { return health(d, "reader").Connected })
	r.Insert(identity.Card{Name: "A", IDNumber: "1"})
	eventually(t, "card read", func() bool { return len(ev.names()) == 1 })
	r.Insert(identity.Card{Name: "B", IDNumber: "2"}) // swapped without a gap
	eventually(t, "swap", func() bool { return len(ev.names()) == 3 })
	r.Remove()
	eventually(t, "removal", func() bool { return len(ev.names()) == 4 })
	want := []string{"read:A", "removed", "read:B", "removed"}
	if got := ev.names(); !equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDevicesReconnectAfterUnplug(t *testing.T) {
	r := &kiosktest.Reader{}
	r.SetUnplugged(true)
	d, ev := startDevices(t, r.Open, kiosktest.NewScanner().Open)
	eventually(t, "reader reported down", func() bool { h := health(d, "reader"); return !h.Connected && h.LastError != "" })
	r.SetUnplugged(false)
	eventually(t, "reader connected", func() bool { return health(d, "reader").Connected })
	r.Insert(identity.Card{Name: "A", IDNumber: "1"})
	eventually(t, "card read", func() bool { return len(ev.names()) == 1 })
	// Unplugged with the card on it: the session must hear that the card
	// is gone, and the reader comes back by itself.
	r.SetUnplugged(true)
	eventually(t, "reader down", func() bool { return !health(d, "reader").Connected })
	eventually(t, "removal reported", func() bool { n := ev.names(); return len(n) == 2 && n[1] == "removed" })
	r.SetUnplugged(false)
	eventually(t, "reconnected and card read again", func() bool { return health(d, "reader").Connected && len(ev.names()) == 3 })
	if h := health(d, "reader"); h.Reconnects < 1 {
		t.Errorf("reconnects = %d", h.Reconnects)
	}
}

// stuckReader never returns from ReadCard, whatever the context says.
type stuckReader struct{ block chan struct{} }

func (s *stuckReader) ReadCard(ctx context.Context) (identity.Card, error) {
	<-s.block
	return identity.Card{}, errors.New("released")
}
func (s *stuckReader) Close() error { return nil }

func TestDevicesStuckReaderIsAbandonedAndReopened(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	var opens atomic.Int32
	open := func(ctx context.Context) (kiosk.CardReader, error) {
		opens.Add(1)
		return &stuckReader{block: block}, nil
	}
	d, _ := startDevices(t, open, kiosktest.NewScanner().Open)
	eventually(t, "stuck reader reported", func() bool {
		h := health(d, "reader")
		return !h.Connected && h.LastError != ""
	})
	eventually(t, "reopened", func() bool { return opens.Load() >= 2 })
}

func TestDevicesScannerProbeAndCapture(t *testing.T) {
	s := kiosktest.NewScanner()
	d, _ := startDevices(t, (&kiosktest.Reader{}).Open, s.Open)
	eventually(t, "scanner connected", func() bool { return health(d, "scanner").Connected })
	// Unplugged while idle: the probe notices without any capture.
	s.SetUnplugged(true)
	eventually(t, "scanner down", func() bool { return !health(d, "scanner").Connected })
	if _, err := d.Capture(context.Background(), [32]byte{}); !errors.Is(err, kiosk.ErrDeviceDown) {
		t.Fatalf("capture on an unplugged scanner: %v", err)
	}
	s.SetUnplugged(false)
	eventually(t, "scanner back", func() bool { return health(d, "scanner").Connected })
	// No finger before the deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := d.Capture(ctx, [32]byte{}); !errors.Is(err, kiosk.ErrNoFinger) {
		t.Fatalf("capture without a finger: %v", err)
	}
	s.Place(kiosktest.Finger{Person: "p", Quality: 80})
	img, err := d.Capture(context.Background(), [32]byte{})
	if err != nil || len(img.Pixels) == 0 {
		t.Fatalf("capture: %v", err)
	}
}
