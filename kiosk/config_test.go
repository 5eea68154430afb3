package kiosk

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "kiosk.json")
	os.WriteFile(file, []byte(`{"reader_port":"/dev/ttyS0","scanner":"usb","server_url":"http://file:1","key_file":"k","kiosk_id":"file-id","station_id":"st","idle_timeout":"45s"}`), 0o600)
	cfg, err := LoadConfig([]string{"-config", file, "-kiosk-id", "flag-id"}, env(map[string]string{
		"VEINKIOSK_KIOSK_ID": "env-id", "VEINKIOSK_SERVER": "https://env:8443", "VEINKIOSK_LANG": "en",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.KioskID != "flag-id" || cfg.ServerURL != "https://env:8443" || cfg.ReaderPort != "/dev/ttyS0" || cfg.Lang != "en" || time.Duration(cfg.IdleTimeout) != 45*time.Second {
		t.Fatalf("precedence wrong: %+v", cfg)
	}
}

func TestValidateExplains(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Listen = "0.0.0.0:80"
	cfg.ScannerSpec = "serial:"
	cfg.Lang = "fr"
	err := cfg.Validate()
	if !errors.Is(err, ErrConfig) {
		t.Fatalf("err %v", err)
	}
	for _, want := range []string{"reader port is not set", `scanner "serial:"`, "server URL", "kiosk key file", "kiosk id", "station id", `language "fr"`, "not loopback"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	cfg.AllowRemote = true
	if strings.Contains(cfg.Validate().Error(), "loopback") {
		t.Error("allow_remote ignored")
	}
}

func TestKeyFormats(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	pemb, err := MarshalKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, b := range map[string][]byte{
		"pem": pemb, "seed-raw": priv.Seed(), "seed-hex": []byte(strings.ToUpper(hexs(priv.Seed())) + "\n"),
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o600)
		k, err := LoadKey(p)
		if err != nil || !k.Equal(priv) {
			t.Errorf("%s: %v", name, err)
		}
	}
	p := filepath.Join(dir, "open")
	os.WriteFile(p, pemb, 0o644)
	if _, err := LoadKey(p); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable key accepted: %v", err)
	}
	if _, err := ParseKey([]byte("not a key")); err == nil {
		t.Error("garbage accepted")
	}
}

func hexs(b []byte) string {
	const h = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, h[c>>4], h[c&15])
	}
	return string(out)
}
