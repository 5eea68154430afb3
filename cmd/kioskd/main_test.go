package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qingshan-gov/veinkiosk/kiosk"
)

func TestRunRejectsBadConfiguration(t *testing.T) {
	for _, env := range []string{"VEINKIOSK_READER", "VEINKIOSK_SERVER", "VEINKIOSK_KEY", "VEINKIOSK_KIOSK_ID", "VEINKIOSK_STATION", "VEINKIOSK_CONFIG"} {
		t.Setenv(env, "")
	}
	err := run([]string{"-scanner", "bogus", "-listen", "0.0.0.0:1"})
	if !errors.Is(err, kiosk.ErrConfig) {
		t.Fatalf("err %v, want a configuration error", err)
	}
	for _, want := range []string{"reader port", `scanner "bogus"`, "not loopback"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
	if err := run([]string{"-sim-control"}); !errors.Is(err, kiosk.ErrConfig) {
		t.Errorf("-sim-control without a value: %v", err)
	}
}

func TestRunRejectsReadableKey(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "k")
	os.WriteFile(key, []byte(strings.Repeat("ab", 32)), 0o644)
	err := run([]string{"-reader", "/dev/null", "-scanner", "usb", "-server", "http://127.0.0.1:1", "-key", key,
		"-kiosk-id", "k1", "-station", "s1", "-listen", "127.0.0.1:0"})
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable key: %v", err)
	}
}
