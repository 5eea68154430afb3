package loopback

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestListenLoopbackOnly attacks the one defence of the control channels:
// an address another machine could reach is refused.
func TestListenLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:0", "example.com:0", "nonsense"} {
		ln, err := Listen("sim", addr)
		if err == nil {
			ln.Close()
			t.Errorf("%s accepted", addr)
		} else if !strings.HasPrefix(err.Error(), "sim: control address") {
			t.Errorf("%s: error %q does not name the simulator and the address", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0", "localhost:0"} {
		ln, err := Listen("sim", addr)
		if err != nil {
			if strings.Contains(addr, "::1") && !strings.Contains(err.Error(), "not loopback") {
				continue // no IPv6 on this machine
			}
			t.Errorf("%s: %v", addr, err)
			continue
		}
		ln.Close()
	}
}

// TestServe: the handler answers on the address given to ready, and Serve
// returns nil when its context ends.
func TestServe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan string, 1)
	done := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	go func() { done <- Serve(ctx, "sim", "127.0.0.1:0", h, func(a string) { got <- a }) }()
	resp, err := http.Get("http://" + <-got + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ok" {
		t.Errorf("body %q", b)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve after cancel = %v", err)
	}
	if err := Serve(context.Background(), "sim", "0.0.0.0:0", h, nil); err == nil {
		t.Error("Serve on 0.0.0.0 accepted")
	}
}
