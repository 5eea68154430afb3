package idcard

import (
	"context"
	"errors"
	"flag"
	"path/filepath"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/devices/conntest"
	"github.com/qingshan-gov/veinkiosk/devices/idcard/sam"
	"github.com/qingshan-gov/veinkiosk/devices/serialport"
	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/simulators/idcardsim"
)

var update = flag.Bool("update", false, "record testdata/*.txt again from the simulator")

const sessionFile = "session_read.txt"

// session is what the recorded driver does: an empty reader, a card put
// on it, a read whose first answer is corrupted, and the SAM id.
func session(t *testing.T, dev *Dev, insert func()) *identity.Card {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := dev.FindCard(ctx); !errors.Is(err, sam.ErrNoCard) {
		t.Fatalf("find on the empty reader: %v", err)
	}
	insert()
	c, err := dev.ReadOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dev.ReadSAMID(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRecordedSession(t *testing.T) {
	path := filepath.Join("testdata", sessionFile)
	res := testDeck.Residents[0]
	if *update {
		sim, err := idcardsim.Start(testDeck, idcardsim.Options{Timing: idcardsim.FastTiming()})
		if err != nil {
			t.Fatal(err)
		}
		defer sim.Close()
		port, err := serialport.Open(serialport.DefaultOptions(sim.Path()))
		if err != nil {
			t.Fatal(err)
		}
		defer port.Close()
		rec := conntest.NewRecorder(port)
		dev, err := New(rec, &Options{Retries: 1})
		if err != nil {
			t.Fatal(err)
		}
		session(t, dev, func() {
			sim.Insert(res.IDNumber)
			sim.InjectFault(idcardsim.FaultGarbage, 1)
			// The garbage hits the find answer; the checksum fault the
			// select answer, which the driver asks for again.
		})
		_ = rec.WriteFile(path, "idcardsim reader, deck seed 11, resident 0; garbage before one answer")
	}
	ops, err := conntest.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pb := conntest.NewPlayback(ops)
	dev, err := New(pb, &Options{Retries: 1, CommandTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c := session(t, dev, func() {})
	wantCard(t, res, c, false)
	if err := pb.Done(); err != nil {
		t.Fatal(err)
	}
	if dev.Stats().Discarded == 0 {
		t.Error("the recorded garbage was not skipped")
	}

	// A driver that sends something else is caught.
	pb = conntest.NewPlayback(ops)
	dev, _ = New(pb, &Options{Retries: 1, CommandTimeout: 50 * time.Millisecond, Fingerprint: true})
	ctx := context.Background()
	dev.FindCard(ctx)
	if _, err := dev.ReadOnce(ctx); err == nil {
		t.Fatal("30 10 accepted where 30 01 was recorded")
	}
	if err := pb.Done(); !errors.Is(err, conntest.ErrMismatch) {
		t.Fatalf("Done = %v, want a mismatch", err)
	}
}

// TestReferenceFrames replays the worked frames of the protocol reference,
// written by hand.
func TestReferenceFrames(t *testing.T) {
	ops, err := conntest.Parse([]byte(`
w AA AA AA 96 69 00 03 20 01 22
r AA AA AA 96 69 00 04 00 00 80 84
w AA AA AA 96 69 00 03 20 01 22
r 00 FF 13
r AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97
w AA AA AA 96 69 00 03 20 02 21
r AA AA AA 96 69 00 0C 00 00 90 00 00 00 00 00 00 00 00 9D
w AA AA AA 96 69 00 03 20 02 21
t
w AA AA AA 96 69 00 03 20 02 21
r AA AA AA 96 69 00 0C 00 00 90 00 00 00 00 00 00 00 00 9C
w AA AA AA 96 69 00 03 12 FF EE
x read /dev/ttyUSB0: input/output error
`))
	if err != nil {
		t.Fatal(err)
	}
	pb := conntest.NewPlayback(ops)
	dev, _ := New(pb, &Options{Retries: 2, CommandTimeout: 20 * time.Millisecond})
	ctx := context.Background()
	if err := dev.FindCard(ctx); !errors.Is(err, sam.ErrNoCard) {
		t.Fatalf("find 1: %v", err)
	}
	if err := dev.FindCard(ctx); err != nil {
		t.Fatalf("find 2 (noise first): %v", err)
	}
	// Select: bad checksum, then silence, then the answer.
	if err := dev.SelectCard(ctx); err != nil {
		t.Fatalf("select: %v", err)
	}
	if _, err := dev.ReadSAMID(ctx); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("SAM id on a vanished device: %v", err)
	}
	if err := pb.Done(); err != nil {
		t.Fatal(err)
	}
	if st := dev.Stats(); st.Retries != 2 || st.BadFrames != 1 || st.Timeouts != 1 || st.Discarded != 3+1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestEchoSkipped: a line that echoes the command (a terminal left in
// cooked mode) does not confuse the driver.
func TestEchoSkipped(t *testing.T) {
	ops, err := conntest.Parse([]byte(`
w AA AA AA 96 69 00 03 20 01 22
r AA AA AA 96 69 00 03 20 01 22
r AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97
`))
	if err != nil {
		t.Fatal(err)
	}
	pb := conntest.NewPlayback(ops)
	dev, _ := New(pb, &Options{Retries: 0, CommandTimeout: 20 * time.Millisecond})
	if err := dev.FindCard(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := pb.Done(); err != nil {
		t.Fatal(err)
	}
}

// TestLateAnswersSkipped: the protocol has no sequence numbers, so after a
// timeout the answers to earlier commands can arrive once the next command
// is on its way (a reader that was slow, not dead). The driver must not take
// a late find answer for the select's, nor the select's for the read's.
func TestLateAnswersSkipped(t *testing.T) {
	res := testDeck.Residents[0]
	card, err := res.Card()
	if err != nil {
		t.Fatal(err)
	}
	data, err := sam.EncodeCard(card, sam.OpReadText)
	if err != nil {
		t.Fatal(err)
	}
	frame := func(op sam.Op) []byte {
		b, err := sam.Command{Op: op}.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	answer := func(st sam.Status, data []byte) []byte {
		b, err := sam.Response{Status: st, Data: data}.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	found := answer(sam.StatusFindOK, make([]byte, 4))
	selected := answer(sam.StatusOK, make([]byte, 8))
	ops := []conntest.Op{
		{Kind: conntest.Write, Data: frame(sam.OpFindCard)},
		// no answer in time: sent again
		{Kind: conntest.Write, Data: frame(sam.OpFindCard)},
		{Kind: conntest.Read, Data: found}, // the late answer to the first find
		{Kind: conntest.Write, Data: frame(sam.OpSelectCard)},
		{Kind: conntest.Read, Data: found}, // the answer to the second find
		{Kind: conntest.Read, Data: selected},
		{Kind: conntest.Write, Data: frame(sam.OpReadText)},
		{Kind: conntest.Read, Data: selected}, // a select answer again (a line that duplicates)
		{Kind: conntest.Read, Data: answer(sam.StatusOK, data)},
		{Kind: conntest.Write, Data: frame(sam.OpReadSAMID)},
		{Kind: conntest.Read, Data: found},
		{Kind: conntest.Read, Data: answer(sam.StatusOK, make([]byte, 16))},
	}
	pb := conntest.NewPlayback(ops)
	dev, _ := New(pb, &Options{Retries: 1, CommandTimeout: 20 * time.Millisecond, ReadTimeout: 20 * time.Millisecond})
	c, err := dev.ReadOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantCard(t, res, c, false)
	if _, err := dev.ReadSAMID(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := pb.Done(); err != nil {
		t.Fatal(err)
	}
	if st := dev.Stats(); st.Stale != 3 || st.Timeouts != 1 {
		t.Fatalf("stats %+v, want 3 stale answers and 1 timeout", st)
	}

	// A reader that only gives answers to earlier commands lags behind:
	// it does not answer in time.
	pb = conntest.NewPlayback([]conntest.Op{
		{Kind: conntest.Write, Data: frame(sam.OpSelectCard)},
		{Kind: conntest.Read, Data: found},
	})
	dev, _ = New(pb, &Options{Retries: 0, CommandTimeout: 20 * time.Millisecond})
	if err := dev.SelectCard(context.Background()); !errors.Is(err, ErrTimeout) || !errors.Is(err, errUnexpected) {
		t.Fatalf("select answered by a find answer: %v, want ErrTimeout", err)
	}
}
