//go:build umockdev

package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan"
	_ "github.com/qingshan-gov/veinkiosk/devices/veinscan/usb" // the transport under test
	"github.com/qingshan-gov/veinkiosk/simulators/veinsim/umockusb"
)

// TestVeinUSB runs "devsim vein --usb" and opens the emulated scanner
// through the driver's gousb transport (this test binary runs under
// umockdev-wrapper, as scripts/test.sh does for files tagged umockdev).
func TestVeinUSB(t *testing.T) {
	if !umockusb.InMockEnvironment() {
		if os.Getenv("VEINKIOSK_REQUIRE_USB") == "1" {
			t.Fatal("USB emulation required (VEINKIOSK_REQUIRE_USB=1): run under umockdev-wrapper")
		}
		t.Skip("run under umockdev-wrapper")
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var stderr strings.Builder
	done := make(chan error, 1)
	go func() {
		done <- runVein(ctx, []string{"--usb", "--control", "", "--serial-number", "DEVSIM-USB", "--residents", "5"}, pw, &stderr)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no environment line on stdout: %v (%s)", err, stderr.String())
	}
	if !strings.HasPrefix(line, "UMOCKDEV_DIR=") || !strings.Contains(line, "LD_PRELOAD=libumockdev-preload") {
		t.Fatalf("stdout %q", line)
	}
	go io.Copy(io.Discard, pr)
	octx, ocancel := context.WithTimeout(ctx, 20*time.Second)
	defer ocancel()
	s, err := veinscan.Open(octx, "usb", nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Info().Serial != "DEVSIM-USB" {
		t.Fatalf("serial %q", s.Info().Serial)
	}
	s.Close()
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("runVein: %v", err)
	}
}
