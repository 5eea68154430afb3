package api

import (
	"net"
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

func TestClientKey(t *testing.T) {
	tests := []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 1}, "192.0.2.7"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.7"), Port: 2}, "192.0.2.7"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:aaaa::1"), Port: 3}, "2001:db8:1:2::/64"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:bbbb::9"), Port: 4}, "2001:db8:1:2::/64"},
	}
	for _, tt := range tests {
		if got := clientKey(tt.addr); got != tt.want {
			t.Errorf("clientKey(%v) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}

func TestLocalConn(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1": true, "::1": true, "0.0.0.0": true, "192.0.2.2": false, "fd00::2": false} {
		if got := localConn(&net.TCPAddr{IP: net.ParseIP(addr)}); got != want {
			t.Errorf("localConn(%s) = %v, want %v", addr, got, want)
		}
	}
}
