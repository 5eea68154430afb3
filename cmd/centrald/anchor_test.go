package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/audit"
)

// TestRunAnchors: centrald with --audit-anchor-file anchors the chain at
// start and at a clean shutdown, lines that verify with the key's .pub;
// an anchor key readable by others is refused at start.
func TestRunAnchors(t *testing.T) {
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "anchor.key")
	pub, err := audit.GenerateAnchorKey(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "anchors.jsonl")
	args := []string{"--data", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0", "--log-level", "error",
		"--audit-anchor-file", file, "--audit-anchor-key", keyPath, "--audit-anchor-id", "centrald-a", "--audit-anchor-interval", "1h"}
	getenv := func(string) string { return "" }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, getenv, &bytes.Buffer{}) }()
	deadline := time.Now().Add(time.Minute)
	for {
		if b, _ := os.ReadFile(file); bytes.Count(b, []byte("\n")) >= 1 {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no anchor at start: %v", <-done)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	as, err := audit.ReadAnchorFiles(pub, file)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 2 || as[0].Replica != "centrald-a" || as[1].Prev != as[0].Digest() {
		t.Fatalf("want the start and the shutdown anchors, linked: %+v", as)
	}
	if as[1].Seq == 0 {
		t.Error("the shutdown anchor does not cover the bootstrap's records")
	}

	if err := os.Chmod(keyPath, 0o644); err != nil {
		t.Fatal(err)
	}
	err = run(context.Background(), args, getenv, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a world-readable anchor key: %v", err)
	}
}
