package main

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The control page's switch cuts the kiosk's calls to the server and
// restores them; the server itself is untouched.
func TestNetworkSwitch(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer backend.Close()
	n := &netSwitch{next: http.DefaultTransport}
	c := &http.Client{Transport: n}
	ctl := httptest.NewServer(http.HandlerFunc(n.handle))
	defer ctl.Close()
	get := func() error {
		resp, err := c.Get(backend.URL)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(); err != nil {
		t.Fatalf("switch up: %v", err)
	}
	for _, tc := range []struct {
		body string
		down bool
	}{{`{"down": true}`, true}, {`{"down": false}`, false}} {
		resp, err := http.Post(ctl.URL, "application/json", strings.NewReader(tc.body))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("switch %s: %v", tc.body, err)
		}
		resp.Body.Close()
		err = get()
		if tc.down != (err != nil) || tc.down && !errors.Is(err, errNetworkDown) {
			t.Fatalf("after %s: %v", tc.body, err)
		}
	}
	resp, err := http.Post(ctl.URL, "application/json", strings.NewReader(`nonsense`))
	if err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad body: %v %v", err, resp.Status)
	}
}
