package main

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	// The simulated scanner is not part of kioskd (the demo and devsim
	// have it): "sim" is refused with a pointer to devsim.
	err = run([]string{"-scanner", "sim"})
	if !errors.Is(err, kiosk.ErrConfig) || !strings.Contains(err.Error(), "devsim vein --serial") {
		t.Errorf("-scanner sim: %v", err)
	}
	if err := run([]string{"-sim-control", "127.0.0.1:1"}); !errors.Is(err, kiosk.ErrConfig) {
		t.Errorf("-sim-control is gone but was accepted: %v", err)
	}
}

func TestParseConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "kiosk.json")
	os.WriteFile(file, []byte(`{"reader_port":"/dev/ttyS0","scanner":"usb","server_url":"http://file:1","key_file":"k","kiosk_id":"file-id","station_id":"st","idle_timeout":"45s"}`), 0o600)
	env := map[string]string{"VEINKIOSK_KIOSK_ID": "env-id", "VEINKIOSK_SERVER": "https://env:8443", "VEINKIOSK_LANG": "en"}
	cfg, err := parseConfig([]string{"-config", file, "-kiosk-id", "flag-id"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.KioskID != "flag-id" || cfg.ServerURL != "https://env:8443" || cfg.ReaderPort != "/dev/ttyS0" || cfg.Lang != "en" || time.Duration(cfg.IdleTimeout) != 45*time.Second {
		t.Fatalf("precedence wrong: %+v", cfg)
	}
	if _, err := parseConfig([]string{"-config", file}, func(string) string { return "" }, io.Discard); err != nil {
		t.Fatalf("file alone: %v", err)
	}
	os.WriteFile(file, []byte(`{"reader_port":"/dev/ttyS0","scaner":"usb"}`), 0o600)
	if _, err := parseConfig([]string{"-config", file}, func(string) string { return "" }, io.Discard); !errors.Is(err, kiosk.ErrConfig) || !strings.Contains(err.Error(), "scaner") {
		t.Errorf("unknown key in the file: %v", err)
	}
	if _, err := parseConfig([]string{"-max-tries", "3"}, func(k string) string {
		return map[string]string{"VEINKIOSK_MAX_TRIES": "many"}[k]
	}, io.Discard); !errors.Is(err, kiosk.ErrConfig) || !strings.Contains(err.Error(), "VEINKIOSK_MAX_TRIES") {
		t.Errorf("bad environment value: %v", err)
	}
}

func TestHelp(t *testing.T) {
	var b strings.Builder
	if _, err := parseConfig([]string{"-h"}, func(string) string { return "" }, &b); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	for _, want := range []string{"-reader", "-scanner", "usb:VID:PID", "serial:PATH"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "sim") {
		t.Errorf("help offers a simulator:\n%s", b.String())
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
