package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/simulators/deck"
	"github.com/qingshan-gov/veinkiosk/simulators/veinsim"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan"
	"github.com/qingshan-gov/veinkiosk/devices/veinscan/wire"
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
	// a finger is on the window from the start
	if st, err := s.FingerStatus(octx); err != nil || st.State != wire.FingerPresent {
		t.Fatalf("finger status at start: %v %v", st, err)
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

func TestVeinNoFingerAndDeck(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var stderr strings.Builder
	dir := t.TempDir()
	done := make(chan error, 1)
	go func() {
		done <- runVein(ctx, []string{"--serial", "--control", "", "--resident", "none", "--residents", "10",
			"--write-deck", dir + "/deck.json", "--write-csv", dir + "/deck.csv"}, pw, &stderr)
		pw.Close()
	}()
	path, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no path on stdout: %v (%s)", err, stderr.String())
	}
	go io.Copy(io.Discard, pr)
	octx, ocancel := context.WithTimeout(ctx, 10*time.Second)
	defer ocancel()
	s, err := veinscan.Open(octx, "serial:"+strings.TrimSpace(path), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Capture(octx, [32]byte{}); !errors.Is(err, veinscan.ErrNoFinger) {
		t.Fatalf("capture with --resident none: %v", err)
	}
	s.Close()
	cancel()
	<-done
	dk, err := deck.LoadFile(dir + "/deck.json")
	if err != nil || len(dk.Residents) != 10 {
		t.Fatalf("written deck: %v", err)
	}
	csv, _ := os.ReadFile(dir + "/deck.csv")
	if !strings.Contains(string(csv), dk.Residents[9].IDNumber) {
		t.Fatal("the CSV lacks a resident")
	}
	if !strings.Contains(stderr.String(), hex.EncodeToString(veinsim.TestMakerPublicKey())) {
		t.Fatalf("devsim does not print the test maker key:\n%s", stderr.String())
	}

	var out strings.Builder
	if err := runVein(context.Background(), []string{"--list-deck", "--residents", "5"}, &out, &stderr); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\n"); n != 6 || !strings.HasPrefix(out.String(), "id_number,name") {
		t.Fatalf("--list-deck printed %d lines:\n%s", n, out.String())
	}
}
