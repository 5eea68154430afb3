package serialport

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/simulators/pty"
)

// These tests run the real tarm/serial code against a pseudo-terminal. The
// import of simulators/pty is test-only, which the dependency rules allow
// (go list -deps does not follow test imports).

func openPair(t *testing.T) (*pty.PTY, *Port) {
	t.Helper()
	p, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	port, err := Open(DefaultOptions(p.Path))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { port.Close() })
	return p, port
}

func TestReadWrite(t *testing.T) {
	p, port := openPair(t)
	msg := []byte{0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x03, 0x20, 0x01, 0x22, 0x0A, 0x0D, 0x03, 0x11, 0x13}
	if _, err := port.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	p.Master.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(p.Master, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("master got %x, want %x", got, msg)
	}
	if _, err := p.Master.Write(msg); err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	buf := make([]byte, 64)
	for len(got) < len(msg) {
		n, err := port.Read(buf)
		if err != nil {
			t.Fatalf("port read after %d bytes: %v", len(got), err)
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("port got %x, want %x", got, msg)
	}
}

func TestTimeoutIsNotEOF(t *testing.T) {
	_, port := openPair(t)
	if port.ReadTimeout() != DefaultReadTimeout {
		t.Fatalf("ReadTimeout = %v", port.ReadTimeout())
	}
	n, err := port.Read(make([]byte, 8))
	if n != 0 || !errors.Is(err, ErrTimeout) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("idle read = %d, %v; want 0, ErrTimeout", n, err)
	}
	var te interface{ Timeout() bool }
	if !errors.As(err, &te) || !te.Timeout() {
		t.Fatalf("%v has no Timeout() true", err)
	}
	// Still usable after a timeout.
	if _, err := port.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
}

func TestUnplug(t *testing.T) {
	p, port := openPair(t)
	p.Close()
	n, err := port.Read(make([]byte, 8))
	if n != 0 || !errors.Is(err, ErrDisconnected) {
		t.Fatalf("read after unplug = %d, %v; want ErrDisconnected", n, err)
	}
	if _, err := port.Write([]byte{1}); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("write after unplug: %v; want ErrDisconnected", err)
	}
	if err := port.Close(); err != nil {
		t.Fatalf("close after unplug: %v", err)
	}
	if _, err := port.Read(make([]byte, 1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("read after close: %v; want ErrClosed", err)
	}
}

func TestFlushDropsStaleInput(t *testing.T) {
	p, port := openPair(t)
	if _, err := p.Master.Write([]byte("garbage after power-up")); err != nil {
		t.Fatal(err)
	}
	// Wait until the bytes have reached the port (the pty hands them over
	// asynchronously), then drop the rest.
	if n, err := port.Read(make([]byte, 1)); n != 1 {
		t.Fatalf("first byte: %d, %v", n, err)
	}
	if err := port.Flush(); err != nil {
		t.Fatal(err)
	}
	if n, err := port.Read(make([]byte, 64)); n != 0 || !errors.Is(err, ErrTimeout) {
		t.Fatalf("read after flush = %d, %v; want a timeout", n, err)
	}
}

func TestOptions(t *testing.T) {
	p, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, tc := range []struct {
		opts    Options
		timeout time.Duration
		wantErr bool
	}{
		{Options{Port: p.Path}, DefaultReadTimeout, false},
		{Options{Port: p.Path, ReadTimeout: 10 * time.Millisecond}, MinReadTimeout, false},
		{Options{Port: p.Path, ReadTimeout: 250 * time.Millisecond}, 200 * time.Millisecond, false},
		{Options{Port: p.Path, ReadTimeout: 30 * time.Second}, 0, true},
		{Options{Port: p.Path, ReadTimeout: -1}, 0, true},
		{Options{Port: p.Path, Baud: 12345}, 0, true},
		{Options{Port: p.Path, Baud: 9600, Blocking: true}, 0, false},
		{Options{}, 0, true},
		{Options{Port: "/dev/does-not-exist"}, 0, true},
	} {
		port, err := Open(tc.opts)
		if tc.wantErr {
			if err == nil {
				port.Close()
				t.Errorf("Open(%+v) succeeded, want an error", tc.opts)
			}
			continue
		}
		if err != nil {
			t.Errorf("Open(%+v): %v", tc.opts, err)
			continue
		}
		if port.ReadTimeout() != tc.timeout {
			t.Errorf("Open(%+v).ReadTimeout() = %v, want %v", tc.opts, port.ReadTimeout(), tc.timeout)
		}
		port.Close()
	}
}

func TestFastZerosMeanHangup(t *testing.T) {
	var f fastZeros
	to := 100 * time.Millisecond
	if f.observe(time.Millisecond, to) || f.observe(2*time.Millisecond, to) {
		t.Fatal("two fast empty reads called a hangup")
	}
	if f.observe(100*time.Millisecond, to) {
		t.Fatal("a real timeout called a hangup")
	}
	for i := 1; i <= hangupRun; i++ {
		if got := f.observe(0, to); got != (i == hangupRun) {
			t.Fatalf("fast read %d: hangup %v", i, got)
		}
	}
}
