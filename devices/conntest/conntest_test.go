package conntest

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// echoDevice answers every write with the bytes reversed, then reports a
// timeout when it has nothing to say, and fails once gone is set.
type echoDevice struct {
	out  []byte
	gone bool
}

func (d *echoDevice) Write(b []byte) (int, error) {
	for i := len(b) - 1; i >= 0; i-- {
		d.out = append(d.out, b[i])
	}
	return len(b), nil
}

func (d *echoDevice) Read(b []byte) (int, error) {
	if d.gone {
		return 0, errors.New("read /dev/ttyUSB0: input/output error")
	}
	if len(d.out) == 0 {
		return 0, ErrTimeout
	}
	n := copy(b, d.out[:min(2, len(d.out))]) // dribble, as serial ports do
	d.out = d.out[n:]
	return n, nil
}

// session is the "driver": it sends two commands and reads their answers.
func session(conn io.ReadWriter) ([]byte, error) {
	var got []byte
	for _, cmd := range [][]byte{{1, 2, 3}, {0xAA, 0x55}} {
		if _, err := conn.Write(cmd); err != nil {
			return got, err
		}
		buf := make([]byte, 8)
		for want := len(got) + len(cmd); len(got) < want; {
			n, err := conn.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				return got, err
			}
		}
	}
	return got, nil
}

func TestRecordAndReplay(t *testing.T) {
	dev := &echoDevice{}
	rec := NewRecorder(dev)
	want, err := session(rec)
	if err != nil {
		t.Fatal(err)
	}
	// Adjacent reads were merged: w r w r.
	ops := rec.Ops()
	if len(ops) != 4 || ops[1].Kind != Read || !bytes.Equal(ops[1].Data, []byte{3, 2, 1}) {
		t.Fatalf("recorded %v", ops)
	}
	path := filepath.Join(t.TempDir(), "session.txt")
	if err := rec.WriteFile(path, "echo device\nsecond line"); err != nil {
		t.Fatal(err)
	}
	loaded, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(loaded, ops) {
		t.Fatalf("loaded %v, want %v", loaded, ops)
	}
	pb := NewPlayback(loaded)
	got, err := session(pb)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("replayed % X, recorded % X", got, want)
	}
	if err := pb.Done(); err != nil {
		t.Fatal(err)
	}
}

func TestPlaybackFailures(t *testing.T) {
	ops := []Op{{Kind: Write, Data: []byte{1, 2, 3}}, {Kind: Read, Data: []byte{3, 2, 1}}, {Kind: Write, Data: []byte{9}}}

	t.Run("wrong write", func(t *testing.T) {
		pb := NewPlayback(ops)
		if _, err := pb.Write([]byte{1, 2, 4}); !errors.Is(err, ErrMismatch) {
			t.Fatalf("Write = %v", err)
		}
		if err := pb.Done(); !errors.Is(err, ErrMismatch) {
			t.Fatalf("Done = %v", err)
		}
		if _, err := pb.Read(make([]byte, 4)); !errors.Is(err, ErrMismatch) {
			t.Fatalf("Read after a mismatch = %v", err)
		}
	})
	t.Run("write split in pieces", func(t *testing.T) {
		pb := NewPlayback(ops[:1])
		for _, b := range []byte{1, 2, 3} {
			if _, err := pb.Write([]byte{b}); err != nil {
				t.Fatal(err)
			}
		}
		if err := pb.Done(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("write where a read is due", func(t *testing.T) {
		pb := NewPlayback(ops)
		pb.Write([]byte{1, 2, 3})
		if _, err := pb.Write([]byte{9}); !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "r 03 02 01") {
			t.Fatalf("Write = %v", err)
		}
	})
	t.Run("unused", func(t *testing.T) {
		pb := NewPlayback(ops)
		pb.Write([]byte{1, 2, 3})
		pb.Read(make([]byte, 2))
		if err := pb.Done(); !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "operation 2") {
			t.Fatalf("Done with a partly read op = %v", err)
		}
	})
	t.Run("write past the end", func(t *testing.T) {
		pb := NewPlayback(nil)
		if _, err := pb.Write([]byte{1}); !errors.Is(err, ErrMismatch) {
			t.Fatalf("Write = %v", err)
		}
	})
	t.Run("silent device", func(t *testing.T) {
		pb := NewPlayback(ops)
		if n, err := pb.Read(make([]byte, 4)); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Read before the write = %d, %v; want a timeout", n, err)
		}
	})
	t.Run("closed", func(t *testing.T) {
		pb := NewPlayback(ops)
		pb.Close()
		if _, err := pb.Write([]byte{1}); !errors.Is(err, os.ErrClosed) {
			t.Fatal(err)
		}
	})
}

func TestTimeoutsAndErrors(t *testing.T) {
	dev := &echoDevice{}
	rec := NewRecorder(dev)
	rec.KeepTimeouts = true
	rec.Read(make([]byte, 4)) // timeout
	dev.gone = true
	rec.Read(make([]byte, 4))
	ops := rec.Ops()
	if len(ops) != 2 || ops[0].Kind != Timeout || ops[1].Kind != Error || !strings.Contains(ops[1].Msg, "input/output") {
		t.Fatalf("ops %v", ops)
	}
	pb := NewPlayback(ops)
	if _, err := pb.Read(make([]byte, 4)); !errors.Is(err, ErrTimeout) {
		t.Fatalf("first read %v", err)
	}
	_, err := pb.Read(make([]byte, 4))
	if !errors.Is(err, ErrDeviceGone) || !errors.Is(err, io.EOF) {
		t.Fatalf("second read %v", err)
	}
	if err := pb.Done(); err != nil {
		t.Fatal(err)
	}
	// Without KeepTimeouts a timeout leaves no trace.
	rec = NewRecorder(&echoDevice{})
	rec.Read(make([]byte, 4))
	if len(rec.Ops()) != 0 {
		t.Fatalf("timeout recorded: %v", rec.Ops())
	}
}

func TestParse(t *testing.T) {
	text := `# veinkiosk conntest v1
# a comment
w AA AA AA 96 69 00 03 20 01 22

r AAAAAA9669
  0004 0000
	8084
t
x device disconnected
`
	ops, err := Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	want := []Op{
		{Kind: Write, Data: []byte{0xAA, 0xAA, 0xAA, 0x96, 0x69, 0, 3, 0x20, 1, 0x22}},
		{Kind: Read, Data: []byte{0xAA, 0xAA, 0xAA, 0x96, 0x69, 0, 4, 0, 0, 0x80, 0x84}},
		{Kind: Timeout},
		{Kind: Error, Msg: "device disconnected"},
	}
	if !reflect.DeepEqual(ops, want) {
		t.Fatalf("Parse = %v", ops)
	}
	if back, err := Parse(Marshal(ops, "")); err != nil || !reflect.DeepEqual(back, ops) {
		t.Fatalf("round trip: %v %v", back, err)
	}
	for _, bad := range []string{"q 00", "w 0", "w zz", "  00", "t 00", "wr 00", "w"} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("w 0102\nr 0304\n  05\nt\nx gone\n"))
	f.Add([]byte("# c\n\nw AA BB\n"))
	f.Add(Marshal([]Op{{Kind: Read, Data: bytes.Repeat([]byte{7}, 100)}}, "long"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ops, err := Parse(data)
		if err != nil {
			return
		}
		back, err := Parse(Marshal(ops, ""))
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if len(ops) == 0 && len(back) == 0 {
			return
		}
		if !reflect.DeepEqual(back, ops) {
			t.Fatalf("round trip\n%v\n%v", ops, back)
		}
	})
}
