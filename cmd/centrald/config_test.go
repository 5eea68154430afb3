package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/matcher/calib"
	"github.com/qingshan-gov/veinkiosk/matcher/eval"
	"github.com/qingshan-gov/veinkiosk/matcher/extract"
	"github.com/qingshan-gov/veinkiosk/simulators/veinsim"
)

func TestParseConfig(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	c, err := parseConfig(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "centrald-data" || c.MakersFile != "centrald-data/makers" || c.Listen != "127.0.0.1:8080" || c.BulkEnrolment != "off" {
		t.Fatalf("defaults: %+v", c)
	}
	// The environment fills flags not given; flags win.
	c, err = parseConfig([]string{"--listen", ":9000"}, env(map[string]string{
		"VEINKIOSK_LISTEN": ":1", "VEINKIOSK_DATABASE_URL": "postgres://x@localhost/db", "VEINKIOSK_TOKEN_TTL": "2m", "VEINKIOSK_IDENTIFY": "true",
		"VEINKIOSK_BULK_ENROLMENT": "migrate",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":9000" || c.DatabaseURL == "" || c.DataDir != "" || c.TokenTTL != 2*time.Minute || !c.Identify || c.MakersFile != "" || c.BulkEnrolment != "migrate" {
		t.Fatalf("env: %+v", c)
	}
	tests := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--data", "d", "--database-url", "postgres://x/y"}, nil, "not both"},
		{[]string{"--database-url", "mysql://x"}, nil, "postgres://"},
		{[]string{"--listen", "8080"}, nil, "host:port"},
		{[]string{"--verify-fmr", "2"}, nil, "--verify-fmr"},
		{[]string{"--identify-fmr", "1e-3", "--verify-fmr", "1e-4"}, nil, "stricter"},
		{[]string{"--min-quality", "101"}, nil, "--min-quality"},
		{[]string{"--calibration-level", "ignore"}, nil, "--calibration-level"},
		{[]string{"--bulk-enrolment", "on"}, nil, "--bulk-enrolment must be off, migrate or unchecked"},
		{[]string{"--token-ttl", "2h"}, nil, "--token-ttl"},
		{[]string{"--log-level", "loud"}, nil, "--log-level"},
		{[]string{"--shards", "4"}, nil, "--shards needs --database-url"},
		{[]string{"--shards", "4", "--database-url", "postgres://x/y", "--nats", "http://x"}, nil, "--nats"},
		{[]string{"--shards", "4", "--database-url", "postgres://x/y", "--shard-timeout", "1ms"}, nil, "--shard-timeout"},
		{[]string{"--shards", "-1"}, nil, "--shards must be"},
		{nil, map[string]string{"VEINKIOSK_MAX_FAILURES": "many"}, "VEINKIOSK_MAX_FAILURES"},
		{[]string{"extra"}, nil, "unexpected"},
		{[]string{"--tls-cert", "c.pem"}, nil, "--tls-cert and --tls-key"},
		{[]string{"--kiosk-client-ca", "ca.pem"}, nil, "--kiosk-client-ca needs"},
		{[]string{"--max-conns-per-ip", "0"}, nil, "--max-conns-per-ip"},
		{[]string{"--gallery-max-lag", "2s"}, nil, "--gallery-max-lag"},
		{[]string{"--trusted-proxies", "10.0.0.0/8,nonsense", "--proxy-protocol"}, nil, `--trusted-proxies: clientaddr: not an IP address or CIDR prefix: "nonsense"`},
		{[]string{"--trusted-proxies", "10.0.0.0/8"}, nil, "--trusted-proxies needs --proxy-protocol, --forwarded-for or both"},
		{[]string{"--proxy-protocol"}, nil, "need --trusted-proxies"},
		{nil, map[string]string{"VEINKIOSK_FORWARDED_FOR": "true"}, "need --trusted-proxies"},
		{[]string{"--trusted-proxies", "10.0.0.1", "--proxy-protocol", "--proxy-header-timeout", "0s"}, nil, "--proxy-header-timeout"},
		{[]string{"--audit-anchor-file", "a.jsonl"}, nil, "--audit-anchor-file and --audit-anchor-key go together"},
		{[]string{"--audit-anchor-key", "k"}, nil, "--audit-anchor-file and --audit-anchor-key go together"},
		{[]string{"--audit-anchor-file", "a", "--audit-anchor-key", "k", "--audit-anchor-interval", "10ms"}, nil, "--audit-anchor-interval"},
		{[]string{"--audit-anchor-file", "a", "--audit-anchor-key", "k", "--audit-anchor-id", "a b"}, nil, "--audit-anchor-id"},
	}
	for _, tt := range tests {
		_, err := parseConfig(tt.args, env(tt.env), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v %v: got %v, want an error with %q", tt.args, tt.env, err, tt.want)
		}
	}
	// Trusted proxies, from the environment as from flags.
	c, err = parseConfig(nil, env(map[string]string{"VEINKIOSK_TRUSTED_PROXIES": "10.0.0.0/24, 192.0.2.7", "VEINKIOSK_PROXY_PROTOCOL": "true"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if p := c.proxies(); len(p.Trusted) != 2 || p.Trusted[1].String() != "192.0.2.7/32" || !p.ProxyProtocol || p.ForwardedFor || p.HeaderTimeout != 5*time.Second {
		t.Fatalf("proxies: %+v", p)
	}
	// Several problems are reported together.
	_, err = parseConfig([]string{"--min-quality", "-2", "--kiosk-burst", "0"}, env(nil), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--min-quality") || !strings.Contains(err.Error(), "--kiosk-burst") {
		t.Fatalf("got %v", err)
	}
}

// calFile writes a calibration of model from 1,000,000 impostor
// comparisons: resolved down to 3e-5, thresholds 0.10 at 1e-1 rising by
// 0.01 per point.
func calFile(t *testing.T, dir, model string) string {
	t.Helper()
	return calFileAt(t, dir, model, &serverLevel)
}

// calFileAt is calFile measured at level (nil: a version 1 file, of single
// comparisons and without quality gates); its gates are 35 and 25.
func calFileAt(t *testing.T, dir, model string, level *calib.Level) string {
	t.Helper()
	n := 1_000_000
	f := &calib.File{Format: calib.Format, Version: calib.Version, ScannerModel: model, AlgorithmVersion: 1, ParamsHash: "0123abcd",
		Created: time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC), Data: calib.Data{Description: "test", Protocol: "test", Impostor: n},
		Level: level, QualityGates: &calib.QualityGates{Enrol: 35, Verify: 25, Rule: "test"}}
	if level == nil {
		f.Version, f.QualityGates = 1, nil
	}
	for i, target := range eval.CalibrationTargets {
		f.Points = append(f.Points, calib.NewPoint(target, 0.10+0.01*float64(i), int(target*float64(n)), n, 0.05))
	}
	var b bytes.Buffer
	if err := f.Encode(&b); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, model+".json")
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadCalibrations(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := func(args ...string) *config {
		c, err := parseConfig(args, func(string) string { return "" }, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	x := calFile(t, dir, "VS-X")
	// The default 1:N targets (dedup and identify 3e-6 per enrolled
	// finger) lie below what 1,000,000 impostors resolve; verification's
	// (1e-4 over 2 fingers) does not.
	if _, err := loadCalibrations(cfg("--calibration", x), log); !errors.Is(err, calib.ErrUnresolved) || !strings.Contains(err.Error(), "--calibration-unresolved=lowest") {
		t.Fatalf("unresolved targets: %v", err)
	}
	reg, err := loadCalibrations(cfg("--calibration", x, "--calibration-unresolved", "lowest"), log)
	if err != nil {
		t.Fatal(err)
	}
	th, err := reg.For("VS-X", 0x0123abcd)
	if err != nil || th.Verify.Mapped || th.Verify.TargetFMR != 5e-5 || !th.Dedup.Mapped || th.Dedup.InForceFMR != 3e-5 {
		t.Errorf("VS-X: %+v, %v", th, err)
	}
	if _, err := reg.For("VS-Y", 0x0123abcd); !errors.Is(err, calib.ErrUncalibrated) {
		t.Errorf("uncalibrated model: %v", err)
	}
	// Targets the file resolves need no mapping.
	reg, err = loadCalibrations(cfg("--calibration", x, "--verify-fmr", "2e-3", "--dedup-fmr", "1e-4", "--identify-fmr", "1e-4", "--calibration-fallback", "VS-X"), log)
	if err != nil {
		t.Fatal(err)
	}
	if th, err := reg.For("VS-Y", 0x0123abcd); err != nil || !th.Fallback || th.Verify.Mapped || th.Verify.Threshold != 0.14 {
		t.Errorf("fallback: %+v, %v", th, err)
	}
	// A file for the simulator's model replaces the built-in one.
	sim := calFile(t, dir, "VS-SIM-1")
	reg, err = loadCalibrations(cfg("--calibration", sim+","+x, "--calibration-unresolved", "lowest"), log)
	if err != nil {
		t.Fatal(err)
	}
	if th, err := reg.Model("VS-SIM-1"); err != nil || th.ParamsHash != "0123abcd" {
		t.Errorf("VS-SIM-1 from the file: %+v, %v", th, err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"points":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--calibration", bad},
		{"--calibration", x + "," + x, "--calibration-unresolved", "lowest"},
		{"--calibration", filepath.Join(dir, "none.json")},
		{"--calibration", x, "--calibration-unresolved", "lowest", "--calibration-fallback", "VS-Z"},
	} {
		if _, err := loadCalibrations(cfg(args...), log); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	if _, err := parseConfig([]string{"--calibration-unresolved", "guess"}, func(string) string { return "" }, io.Discard); err == nil {
		t.Error("--calibration-unresolved guess accepted")
	}
}

// TestLoadCalibrationsLevel: a calibration measured on single comparisons
// (written so, or a version 1 file) does not start a server that compares
// with the best of 3 enrolled samples; --calibration-level=adjust starts it
// with the targets divided by 3 and the mismatch marked.
func TestLoadCalibrationsLevel(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	cfg := func(args ...string) *config {
		c, err := parseConfig(append([]string{"--calibration-unresolved", "lowest"}, args...), func(string) string { return "" }, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	single := calFileAt(t, dir, "VS-SINGLE", &calib.Level{Comparison: calib.LevelSingle, Enrolled: 1})
	v1 := calFileAt(t, dir, "VS-V1", nil)
	for _, f := range []string{single, v1} {
		_, err := loadCalibrations(cfg("--calibration", f), log)
		if !errors.Is(err, calib.ErrLevel) || !strings.Contains(err.Error(), "--calibration-level=adjust") {
			t.Errorf("%s: %v, want the level refused", filepath.Base(f), err)
		}
	}
	reg, err := loadCalibrations(cfg("--calibration", single+","+v1, "--calibration-level", "adjust", "--verify-fmr", "6e-3", "--dedup-fmr", "3e-4", "--identify-fmr", "3e-4"), log)
	if err != nil {
		t.Fatal(err)
	}
	for model, gate := range map[string]int{"VS-SINGLE": 35, "VS-V1": defaultMinQuality} {
		th, err := reg.For(model, 0x0123abcd)
		if err != nil || !th.LevelMismatch || th.LevelFactor != 3 || math.Abs(th.Verify.TargetFMR-1e-3) > 1e-15 || math.Abs(th.Dedup.TargetFMR-1e-4) > 1e-15 || th.EnrolMinQuality != gate {
			t.Errorf("%s adjusted: %+v, %v", model, th, err)
		}
	}
	if !strings.Contains(logs.String(), "another comparison level") {
		t.Errorf("the adjustment is not logged: %s", logs.String())
	}
	// --min-quality is an explicit override of every model's gates.
	if c := cfg(); c.MinQuality != -1 {
		t.Errorf("--min-quality default %d, want -1 (the calibrations' gates)", c.MinQuality)
	}
	if _, err := parseConfig([]string{"--min-quality", "-1"}, func(string) string { return "" }, io.Discard); err != nil {
		t.Errorf("--min-quality -1: %v", err)
	}
}

// TestBuiltinCalibrationCurrent checks that the shipped simulator
// calibration was made for the pipeline the kiosk runs: after a change to
// extraction or comparison, regenerate it with
// scripts/simulator-calibration.sh.
func TestBuiltinCalibrationCurrent(t *testing.T) {
	fs, err := calib.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].ScannerModel != veinsim.DefaultModel || !fs[0].Synthetic {
		t.Fatalf("built-in calibrations: %d, want the simulator's %s", len(fs), veinsim.DefaultModel)
	}
	opt := extract.DefaultOptions()
	want := fmt.Sprintf("%08x", opt.Params(matcher.DefaultParams.ShiftRows, matcher.DefaultParams.ShiftCols).ParamsHash())
	if fs[0].ParamsHash != want {
		t.Errorf("the built-in %s calibration is for params hash %s, the kiosk's pipeline is %s: run scripts/simulator-calibration.sh", fs[0].ScannerModel, fs[0].ParamsHash, want)
	}
	if l := fs[0].ComparisonLevel(); l != serverLevel || fs[0].QualityGates == nil {
		t.Errorf("the built-in %s calibration is at level %s with gates %+v; centrald compares at %s: run scripts/simulator-calibration.sh", fs[0].ScannerModel, l, fs[0].QualityGates, serverLevel)
	}
	// With the default targets it must start without mapping anything.
	reg, err := calib.NewRegistry(fs, calib.Options{Policy: calib.DefaultPolicy, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("default targets: %v", err)
	}
	if len(reg.InForce()) != 1 {
		t.Fatal("not in force")
	}
}
