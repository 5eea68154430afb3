package api

import (
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
)

// The transport's behaviour is attacked over real listeners in
// server/attacks; these are its configuration and keying rules.

func TestTLSConfigRefused(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	tests := []struct {
		name string
		cfg  func(*Config)
		want string
	}{
		{"certificate without key", func(c *Config) { c.TLSCertFile = missing }, "both a certificate file and a key file"},
		{"client CA without TLS", func(c *Config) { c.KioskClientCAFile = missing }, "need TLS"},
		{"unreadable certificate", func(c *Config) { c.TLSCertFile, c.TLSKeyFile = missing, missing }, "TLS certificate"},
		{"trusted proxies for nothing", func(c *Config) { c.Proxies.Trusted = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} }, "need the PROXY protocol, X-Forwarded-For or both"},
		{"X-Forwarded-For from nobody", func(c *Config) { c.Proxies.ForwardedFor = true }, "need trusted proxies"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			cfg := e.srv.cfg
			tt.cfg(&cfg)
			if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func TestLocalConn(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1": true, "::1": true, "0.0.0.0": true, "192.0.2.2": false, "fd00::2": false} {
		if got := localConn(&net.TCPAddr{IP: net.ParseIP(addr)}); got != want {
			t.Errorf("localConn(%s) = %v, want %v", addr, got, want)
		}
	}
}
