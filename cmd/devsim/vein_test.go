package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan"
)

// TestVeinSerial runs "devsim vein --serial" and talks to it through the
// driver's serial transport.
func TestVeinSerial(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var stderr strings.Builder
	done := make(chan error, 1)
	go func() {
		done <- runVein(ctx, []string{"--serial", "--control", "", "--serial-number", "DEVSIM-1", "--residents", "10"}, pw, &stderr)
		pw.Close()
	}()
	path, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no path on stdout: %v (%s)", err, stderr.String())
	}
	path = strings.TrimSpace(path)
	if !strings.HasPrefix(path, "/dev/") {
		t.Fatalf("stdout %q is not a path", path)
	}
	go io.Copy(io.Discard, pr)
	octx, ocancel := context.WithTimeout(ctx, 10*time.Second)
	defer ocancel()
	s, err := veinscan.Open(octx, "serial:"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Info().Serial != "DEVSIM-1" {
		t.Fatalf("serial %q", s.Info().Serial)
	}
	if _, err := s.Capture(octx, [32]byte{}); !errors.Is(err, veinscan.ErrNoFinger) {
		t.Fatalf("capture without a finger: %v", err)
	}
	s.Close()
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("runVein: %v", err)
	}
}

func TestVeinNeedsTransport(t *testing.T) {
	var out, errb strings.Builder
	if err := runVein(context.Background(), nil, &out, &errb); err == nil || !strings.Contains(err.Error(), "--usb") {
		t.Fatalf("runVein without a transport: %v", err)
	}
	if err := runVein(context.Background(), []string{"--serial", "--fault", "melt"}, &out, &errb); err == nil {
		t.Fatal("unknown fault accepted")
	}
}
