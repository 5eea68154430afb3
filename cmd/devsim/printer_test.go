package main

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/devices/escpos"
	"github.com/qingshan-gov/veinkiosk/devices/printer"
)

func TestDevsimPrinter(t *testing.T) {
	dir := t.TempDir()
	consoleInput = strings.NewReader("")
	defer func() { consoleInput = os.Stdin }()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr lockedBuffer
	done := make(chan error, 1)
	go func() { done <- runPrinter(ctx, []string{"-out", dir}, &stdout, &stderr) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	dev := waitLine(t, &stdout, "device: ")
	ctl := waitLine(t, &stdout, "control: ")

	p, err := printer.Open("serial:"+dev, printer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var b escpos.Builder
	job, _ := b.Init().Line("受理回执").QR("QS-1", 4, escpos.ECMedium).Cut().Bytes()
	if err := p.Print(ctx, job); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "receipt-001.png")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no receipt PNG; stderr:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(stderr.String(), "text=受理回执") || !strings.Contains(stderr.String(), "payload=QS-1") {
		t.Errorf("the log does not say what was printed:\n%s", stderr.String())
	}
	resp, err := http.Post(ctl+"/cover", "application/json", strings.NewReader(`{"open":true}`))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("cover: %v %v", err, resp)
	}
	resp.Body.Close()
	if err := p.Print(ctx, job); !errors.Is(err, printer.ErrCoverOpen) {
		t.Fatalf("cover open: %v", err)
	}
}
