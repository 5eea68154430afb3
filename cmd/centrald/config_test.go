package main

import (
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	c, err := parseConfig(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "centrald-data" || c.MakersFile != "centrald-data/makers" || c.Listen != "127.0.0.1:8080" {
		t.Fatalf("defaults: %+v", c)
	}
	// The environment fills flags not given; flags win.
	c, err = parseConfig([]string{"--listen", ":9000"}, env(map[string]string{
		"VEINKIOSK_LISTEN": ":1", "VEINKIOSK_DATABASE_URL": "postgres://x@localhost/db", "VEINKIOSK_TOKEN_TTL": "2m", "VEINKIOSK_IDENTIFY": "true",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":9000" || c.DatabaseURL == "" || c.DataDir != "" || c.TokenTTL != 2*time.Minute || !c.Identify || c.MakersFile != "" {
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
		{[]string{"--token-ttl", "2h"}, nil, "--token-ttl"},
		{[]string{"--log-level", "loud"}, nil, "--log-level"},
		{nil, map[string]string{"VEINKIOSK_MAX_FAILURES": "many"}, "VEINKIOSK_MAX_FAILURES"},
		{[]string{"extra"}, nil, "unexpected"},
	}
	for _, tt := range tests {
		_, err := parseConfig(tt.args, env(tt.env), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v %v: got %v, want an error with %q", tt.args, tt.env, err, tt.want)
		}
	}
	// Several problems are reported together.
	_, err = parseConfig([]string{"--min-quality", "-1", "--kiosk-burst", "0"}, env(nil), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--min-quality") || !strings.Contains(err.Error(), "--kiosk-burst") {
		t.Fatalf("got %v", err)
	}
}

func TestLoadCalibration(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := dir + "/" + name
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cal, err := loadCalibration(write("ok.json", `{"points":[{"fmr":1e-2,"threshold":0.3},{"fmr":1e-4,"threshold":0.4}],"source":"test"}`))
	if err != nil {
		t.Fatal(err)
	}
	if th, err := cal.Threshold(1e-3); err != nil || th < 0.34 || th > 0.36 {
		t.Fatalf("threshold %v %v", th, err)
	}
	for name, s := range map[string]string{
		"empty.json":   `{"points":[]}`,
		"nonmono.json": `{"points":[{"fmr":1e-2,"threshold":0.4},{"fmr":1e-4,"threshold":0.3}]}`,
		"unknown.json": `{"pts":[]}`,
		"garbage.json": `{`,
	} {
		if _, err := loadCalibration(write(name, s)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
