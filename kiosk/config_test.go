package kiosk

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

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

func TestValidateTLS(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ServerURL, cfg.TLSCert = "http://centrald:8080", "kiosk.pem"
	err := cfg.Validate()
	for _, want := range []string{"go together", "need an https server URL"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	cfg.ServerURL, cfg.TLSKey = "https://centrald:8443", "kiosk.key"
	if err := cfg.Validate(); err != nil && (strings.Contains(err.Error(), "go together") || strings.Contains(err.Error(), "https")) {
		t.Errorf("a complete TLS configuration: %v", err)
	}
}

func TestValidateScannerSpec(t *testing.T) {
	for spec, ok := range map[string]bool{
		"usb": true, "usb:1209:0001": true, "serial:/dev/ttyACM0": true, "sim": true,
		"": false, "serial:": false, "usb:zz": false, "usb:1209": false, ":x": false, "a b": false,
	} {
		cfg := DefaultConfig()
		cfg.ScannerSpec = spec
		got := !strings.Contains(cfg.Validate().Error(), "scanner ")
		if got != ok {
			t.Errorf("scanner %q accepted %v, want %v", spec, got, ok)
		}
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

func TestValidatePrinterSpec(t *testing.T) {
	for spec, ok := range map[string]bool{
		"": true, "serial:/dev/ttyUSB1": true, "usblp:/dev/usb/lp0": true,
		"serial:": false, "/dev/ttyUSB1": false, "usb:/dev/usb/lp0": false, "usblp:lp0": false,
	} {
		cfg := DefaultConfig()
		cfg.PrinterSpec = spec
		got := !strings.Contains(cfg.Validate().Error(), "printer ")
		if got != ok {
			t.Errorf("printer %q accepted %v, want %v", spec, got, ok)
		}
	}
}

func TestValidateServerList(t *testing.T) {
	for list, ok := range map[string]bool{
		"https://a:8443":                     true,
		"https://a:8443,https://b:8443":      true,
		"https://a:8443, https://b:8443/":    true,
		"https://a:8443,ftp://b":             false,
		"https://a:8443,,":                   true,
		"https://a:8443,b:8443":              false,
		"":                                   false,
		",":                                  false,
		"http://a:8080,http://b:8080,http:/": false,
	} {
		cfg := DefaultConfig()
		cfg.ServerURL = list
		got := !strings.Contains(cfg.Validate().Error(), "server URL")
		if got != ok {
			t.Errorf("server list %q accepted %v, want %v", list, got, ok)
		}
	}
	// TLS settings need every server on https.
	cfg := DefaultConfig()
	cfg.ServerURL, cfg.ServerCA = "https://a:8443,http://b:8080", "ca.pem"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "need an https server URL") {
		t.Errorf("TLS with a plain-HTTP fallback: %v", err)
	}
}

// TestQualityGateConfig: the configured gates (until the server says its
// own) and the floors (stricter than the server) are 0..100 and reach the
// state machine.
func TestQualityGateConfig(t *testing.T) {
	cfg := DefaultConfig()
	if cfg.EnrolMinQuality != 50 || cfg.VerifyMinQuality != 40 || cfg.EnrolQualityFloor != 0 || cfg.VerifyQualityFloor != 0 {
		t.Errorf("defaults: %d %d %d %d", cfg.EnrolMinQuality, cfg.VerifyMinQuality, cfg.EnrolQualityFloor, cfg.VerifyQualityFloor)
	}
	cfg.EnrolMinQuality, cfg.VerifyMinQuality, cfg.EnrolQualityFloor, cfg.VerifyQualityFloor = 101, -1, 101, -1
	err := cfg.Validate()
	for _, want := range []string{"enrol_min_quality 101", "verify_min_quality -1", "enrol_quality_floor 101", "verify_quality_floor -1"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	cfg.EnrolMinQuality, cfg.VerifyMinQuality, cfg.EnrolQualityFloor, cfg.VerifyQualityFloor = 45, 35, 20, 10
	sc := cfg.SessionConfig()
	if sc.EnrolMinQuality != 45 || sc.VerifyMinQuality != 35 || sc.EnrolQualityFloor != 20 || sc.VerifyQualityFloor != 10 {
		t.Errorf("session config %+v", sc)
	}
}
