package idcard

import (
	"context"
	"errors"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/devices/idcard/sam"
	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/simulators/deck"
	"github.com/qingshan-gov/veinkiosk/simulators/idcardsim"
)

// These tests run the driver against the reader simulator over a real
// pseudo-terminal, through devices/serialport and github.com/tarm/serial.
// (Test files may import simulators; the driver itself never does.)

var testDeck = deck.Generate(11, 24)

func testOptions(path string) Options {
	return Options{
		Port:           path,
		CommandTimeout: 500 * time.Millisecond,
		ReadTimeout:    700 * time.Millisecond,
		Retries:        1,
		PollInterval:   20 * time.Millisecond,
	}
}

func setup(t *testing.T) (*idcardsim.Sim, *Dev) {
	t.Helper()
	sim, err := idcardsim.Start(testDeck, idcardsim.Options{Timing: idcardsim.FastTiming()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	dev, err := Open(testOptions(sim.Path()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	return sim, dev
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func wantCard(t *testing.T, r *deck.Resident, got *identity.Card, finger bool) {
	t.Helper()
	want, err := r.Card()
	if err != nil {
		t.Fatal(err)
	}
	if !finger {
		want.Fingerprint = nil
	} else if want.Fingerprint == nil {
		want.Fingerprint = []byte{}
	}
	if !reflect.DeepEqual(got, want) {
		g, w := *got, *want
		g.Photo, w.Photo, g.Fingerprint, w.Fingerprint = nil, nil, nil, nil
		t.Fatalf("card (photo equal: %v, fingerprint equal: %v):\n got %+v\nwant %+v",
			reflect.DeepEqual(got.Photo, want.Photo), reflect.DeepEqual(got.Fingerprint, want.Fingerprint), g, w)
	}
}

func TestReadOverPTY(t *testing.T) {
	sim, dev := setup(t)
	ctx := ctxFor(t, 10*time.Second)
	if _, err := dev.ReadOnce(ctx); !errors.Is(err, sam.ErrNoCard) {
		t.Fatalf("empty reader: %v", err)
	}
	for i, r := range testDeck.Residents[:8] {
		if err := sim.Insert(r.IDNumber); err != nil {
			t.Fatal(err)
		}
		var c *identity.Card
		var err error
		if i%2 == 0 {
			c, err = dev.Read(ctx)
		} else {
			if err = dev.FindCard(ctx); err == nil {
				if err = dev.SelectCard(ctx); err == nil {
					c, err = dev.ReadTextFingerprint(ctx)
				}
			}
		}
		if err != nil {
			t.Fatalf("resident %d: %v", i, err)
		}
		wantCard(t, r, c, i%2 == 1)
	}
	if _, err := dev.ReadNewAddress(ctx); !errors.Is(err, sam.ErrNoItem) {
		t.Fatalf("additional address: %v, want ErrNoItem", err)
	}
	id, err := dev.ReadSAMID(ctx)
	if err != nil || !strings.HasPrefix(id.String(), "05.01-") {
		t.Fatalf("SAM id %v, %v", id, err)
	}
	if err := dev.ResetSAM(ctx); err != nil {
		t.Fatal(err)
	}
	if err := dev.SAMStatus(ctx); err != nil {
		t.Fatal(err)
	}
	if st := dev.Stats(); st.Retries != 0 || st.BadFrames != 0 || st.Commands < 20 {
		t.Fatalf("stats %+v", st)
	}
}

func TestReadPollsUntilCardOrDeadline(t *testing.T) {
	sim, dev := setup(t)
	// Deadline with no card: a no-card error that also says the wait ended.
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	_, err := dev.Read(ctx)
	if !errors.Is(err, sam.ErrNoCard) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Read with no card = %v", err)
	}
	if p, ok := sam.Explain(err); !ok || p != sam.ErrNoCard {
		t.Fatalf("Explain = %v", p)
	}
	// A card put on the reader while polling is read.
	r := testDeck.Residents[5]
	time.AfterFunc(150*time.Millisecond, func() { sim.Insert(r.IDNumber) })
	c, err := dev.Read(ctxFor(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	wantCard(t, r, c, false)
	// Cancel ends polling.
	sim.Remove()
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	if _, err := dev.Read(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Read = %v", err)
	}
}

// TestFaults injects every fault of the simulator, checks the error that
// the driver reports, and checks that the next card reads cleanly.
func TestFaults(t *testing.T) {
	sim, dev := setup(t)
	ctx := ctxFor(t, 60*time.Second)
	res := testDeck.Residents[0]
	for _, tc := range []struct {
		kind  idcardsim.FaultKind
		count int
		want  []error // nil: the read succeeds despite the fault
		stat  func(Stats) bool
	}{
		{idcardsim.FaultGarbage, 3, nil, func(s Stats) bool { return s.Discarded >= 12 }},
		{idcardsim.FaultChecksum, 1, nil, func(s Stats) bool { return s.BadFrames == 1 && s.Retries == 1 }},
		{idcardsim.FaultChecksum, 2, []error{ErrBadFrame, sam.ErrChecksum}, nil},
		{idcardsim.FaultTruncated, 1, nil, func(s Stats) bool { return s.BadFrames == 1 }},
		{idcardsim.FaultTruncated, 2, []error{ErrBadFrame, sam.ErrTruncated}, nil},
		{idcardsim.FaultSlow, 1, nil, nil}, // 300 ms late, within the timeouts
		{idcardsim.FaultHang, 1, nil, func(s Stats) bool { return s.Timeouts == 1 }},
		{idcardsim.FaultHang, 2, []error{ErrTimeout}, nil},
		{idcardsim.FaultNoCard, 1, []error{sam.ErrNoCard}, nil},
		{idcardsim.FaultCardAuth, 1, []error{sam.ErrCardAuth}, nil},
		{idcardsim.FaultSAMAuth, 1, []error{sam.ErrCardAuth}, nil},
		{idcardsim.FaultDataVerification, 1, []error{sam.ErrDataVerification}, nil},
		{idcardsim.FaultReadFailed, 1, []error{sam.ErrReadFailed}, nil},
		{idcardsim.FaultSAM, 1, []error{sam.ErrSAM}, nil},
	} {
		name := string(tc.kind) + "x" + string(rune('0'+tc.count))
		t.Run(name, func(t *testing.T) {
			sim.ClearFaults()
			if err := sim.Insert(res.IDNumber); err != nil {
				t.Fatal(err)
			}
			before := dev.Stats()
			if err := sim.InjectFault(tc.kind, tc.count); err != nil {
				t.Fatal(err)
			}
			c, err := dev.ReadOnce(ctx)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("read with %s: %v", tc.kind, err)
				}
				wantCard(t, res, c, false)
			} else {
				for _, w := range tc.want {
					if !errors.Is(err, w) {
						t.Fatalf("read with %s: %v, want %v", tc.kind, err, w)
					}
				}
				if _, ok := sam.Explain(err); !ok {
					t.Fatalf("%v has no message for the resident", err)
				}
				t.Logf("%s: %v", tc.kind, err)
			}
			if tc.stat != nil {
				after := dev.Stats()
				delta := Stats{
					Commands: after.Commands - before.Commands, Retries: after.Retries - before.Retries,
					BadFrames: after.BadFrames - before.BadFrames, Timeouts: after.Timeouts - before.Timeouts,
					Discarded: after.Discarded - before.Discarded,
				}
				if !tc.stat(delta) {
					t.Errorf("stats delta %+v", delta)
				}
			}
			// Recovery: the next card reads cleanly.
			next := testDeck.Residents[1]
			sim.Insert(next.IDNumber)
			c, err = dev.Read(ctx)
			if err != nil {
				t.Fatalf("read after %s: %v", tc.kind, err)
			}
			wantCard(t, next, c, false)
		})
	}
	t.Run("pull", func(t *testing.T) {
		sim.Insert(res.IDNumber)
		sim.InjectFault(idcardsim.FaultPull, 1)
		if _, err := dev.ReadOnce(ctx); !errors.Is(err, sam.ErrReadFailed) {
			t.Fatalf("card pulled mid-read: %v", err)
		}
		if _, err := dev.ReadOnce(ctx); !errors.Is(err, sam.ErrNoCard) {
			t.Fatalf("after the pull: %v", err)
		}
	})
}

func TestUnplugAndReopen(t *testing.T) {
	sim, dev := setup(t)
	ctx := ctxFor(t, 10*time.Second)
	r := testDeck.Residents[2]
	sim.Insert(r.IDNumber)
	if _, err := dev.Read(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sim.InjectFault(idcardsim.FaultUnplug, 0); err != nil {
		t.Fatal(err)
	}
	_, err := dev.Read(ctx)
	if !errors.Is(err, ErrDisconnected) {
		t.Fatalf("after unplug: %v", err)
	}
	if p, _ := sam.Explain(err); p.English != "device disconnected" {
		t.Fatalf("message %q", p.English)
	}
	// Every later call fails the same way until the caller reopens.
	if err := dev.FindCard(ctx); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("second call after unplug: %v", err)
	}
	dev.Close()
	path, err := sim.Replug()
	if err != nil {
		t.Fatal(err)
	}
	dev2, err := Open(testOptions(path))
	if err != nil {
		t.Fatal(err)
	}
	defer dev2.Close()
	c, err := dev2.Read(ctx)
	if err != nil {
		t.Fatalf("after replug: %v", err)
	}
	wantCard(t, r, c, false)
}

func TestNoGoroutineLeak(t *testing.T) {
	settle := func() int {
		runtime.GC()
		return runtime.NumGoroutine()
	}
	before := settle()
	for i := 0; i < 3; i++ {
		sim, err := idcardsim.Start(testDeck, idcardsim.Options{Timing: idcardsim.FastTiming()})
		if err != nil {
			t.Fatal(err)
		}
		dev, err := Open(testOptions(sim.Path()))
		if err != nil {
			t.Fatal(err)
		}
		sim.Insert(testDeck.Residents[0].IDNumber)
		sim.InjectFault(idcardsim.FaultHang, 1)
		if _, err := dev.Read(ctxFor(t, 5*time.Second)); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		dev.Read(ctx)
		sim.InjectFault(idcardsim.FaultUnplug, 0)
		dev.FindCard(context.Background())
		dev.Close()
		sim.Close()
	}
	deadline := time.Now().Add(3 * time.Second)
	for settle() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if after := settle(); after > before {
		buf := make([]byte, 1<<16)
		n := runtime.Stack(buf, true)
		t.Fatalf("%d goroutines before, %d after:\n%s", before, after, buf[:n])
	}
}

func TestNew(t *testing.T) {
	if _, err := New(nil, nil); err == nil {
		t.Fatal("nil port accepted")
	}
	if _, err := Open(Options{Port: "/dev/does-not-exist"}); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("opening a missing port: %v", err)
	}
}

// TestFaultsOnTheReadResponse hits the large 30 01 / 30 10 answers rather
// than the find: the driver resends the read and gets the card.
func TestFaultsOnTheReadResponse(t *testing.T) {
	sim, dev := setup(t)
	ctx := ctxFor(t, 30*time.Second)
	res := testDeck.Residents[0]
	sim.Insert(res.IDNumber)
	for _, kind := range []idcardsim.FaultKind{idcardsim.FaultChecksum, idcardsim.FaultTruncated, idcardsim.FaultGarbage, idcardsim.FaultHang} {
		for _, finger := range []bool{false, true} {
			if err := dev.FindCard(ctx); err != nil {
				t.Fatal(err)
			}
			if err := dev.SelectCard(ctx); err != nil {
				t.Fatal(err)
			}
			sim.InjectFault(kind, 1)
			read := dev.ReadText
			if finger {
				read = dev.ReadTextFingerprint
			}
			c, err := read(ctx)
			if err != nil {
				t.Fatalf("%s on the read answer (fingerprint %v): %v", kind, finger, err)
			}
			wantCard(t, res, c, finger)
		}
	}
}
