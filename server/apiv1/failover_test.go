package apiv1

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeServer answers every request with status (and an API error body for
// non-2xx), or hangs until the request's context ends when hang is set,
// and records the request nonces and bodies it saw.
type fakeServer struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	code   string // the error code of a non-2xx answer; "" means "e<status>"
	hang   bool
	nonces []string
	bodies []string
}

func newFakeServer(t *testing.T, status int) *fakeServer {
	fs := &fakeServer{status: status}
	fs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fs.mu.Lock()
		fs.nonces = append(fs.nonces, r.Header.Get(HeaderNonce))
		fs.bodies = append(fs.bodies, string(b))
		status, hang, code := fs.status, fs.hang, fs.code
		fs.mu.Unlock()
		if hang {
			<-r.Context().Done()
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if status >= 300 {
			if code == "" {
				code = fmt.Sprintf("e%d", status)
			}
			fmt.Fprintf(w, `{"error":{"code":%q,"message":"status %d"}}`, code, status)
			return
		}
		fmt.Fprintf(w, `{"reference":%q}`, fs.URL)
	}))
	t.Cleanup(fs.Close)
	return fs
}

func (fs *fakeServer) hits() int { fs.mu.Lock(); defer fs.mu.Unlock(); return len(fs.nonces) }

// deadURL is an address nothing listens on (connection refused).
func deadURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func TestFailover(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	type filed struct {
		Reference string `json:"reference"`
	}
	call := func(c *Client, ctx context.Context) (string, error) {
		var out filed
		err := c.Do(ctx, http.MethodPost, PathKioskFilings, map[string]string{"idempotency_key": "k-1"}, &out)
		return out.Reference, err
	}
	newClient := func(bases ...string) (*Client, *[]string) {
		var moves []string
		c := &Client{BaseURL: strings.Join(bases, ","), KioskID: "K-1", KioskKey: key, HTTP: &http.Client{Timeout: 10 * time.Second},
			OnFailover: func(from, to string, err error) { moves = append(moves, from+" -> "+to) }}
		return c, &moves
	}

	t.Run("refused, then stays on the server that answered", func(t *testing.T) {
		dead, b := deadURL(t), newFakeServer(t, 201)
		c, moves := newClient(dead, b.URL)
		for i := 0; i < 3; i++ {
			got, err := call(c, context.Background())
			if err != nil || got != b.URL {
				t.Fatalf("call %d: %q, %v; want B's answer", i, got, err)
			}
		}
		if len(*moves) != 1 || b.hits() != 3 {
			t.Errorf("failovers %v, B hits %d; want one failover, then every call on B", *moves, b.hits())
		}
	})

	t.Run("5xx moves on, with a fresh signature and the same body", func(t *testing.T) {
		a, b := newFakeServer(t, 503), newFakeServer(t, 201)
		c, _ := newClient(a.URL, b.URL)
		if got, err := call(c, context.Background()); err != nil || got != b.URL {
			t.Fatalf("got %q, %v; want B's answer", got, err)
		}
		if a.hits() != 1 || b.hits() != 1 || a.nonces[0] == b.nonces[0] || a.bodies[0] != b.bodies[0] {
			t.Errorf("A saw %v %v, B saw %v %v; want one attempt each, the same body, two request nonces", a.nonces, a.bodies, b.nonces, b.bodies)
		}
	})

	t.Run("4xx is final", func(t *testing.T) {
		a, b := newFakeServer(t, 409), newFakeServer(t, 201)
		c, _ := newClient(a.URL, b.URL)
		_, err := call(c, context.Background())
		if ErrorCode(err) != "e409" || b.hits() != 0 {
			t.Errorf("got %v, B hits %d; want A's 409 and B untouched", err, b.hits())
		}
	})

	t.Run("search_incomplete is final, gallery_stale moves on", func(t *testing.T) {
		// Every replica asks the same matcher shards, and the first one
		// consumed the captures: another attempt could only answer
		// nonce_unknown. A stale replica consumed nothing.
		a, b := newFakeServer(t, 503), newFakeServer(t, 201)
		a.code = CodeSearchIncomplete
		c, _ := newClient(a.URL, b.URL)
		if _, err := call(c, context.Background()); ErrorCode(err) != CodeSearchIncomplete || b.hits() != 0 {
			t.Errorf("got %v, B hits %d; want A's search_incomplete and B untouched", err, b.hits())
		}
		a.code = CodeGalleryStale
		c, _ = newClient(a.URL, b.URL)
		if got, err := call(c, context.Background()); err != nil || got != b.URL {
			t.Errorf("after gallery_stale: %q, %v; want B's answer", got, err)
		}
	})

	t.Run("a hung server times out per attempt", func(t *testing.T) {
		a, b := newFakeServer(t, 201), newFakeServer(t, 201)
		a.hang = true
		c, _ := newClient(a.URL, b.URL)
		c.AttemptTimeout = 200 * time.Millisecond
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if got, err := call(c, ctx); err != nil || got != b.URL {
			t.Fatalf("got %q, %v; want B's answer after A's attempt timed out", got, err)
		}
	})

	t.Run("the caller's deadline ends the tries", func(t *testing.T) {
		a, b := newFakeServer(t, 201), newFakeServer(t, 201)
		a.hang = true
		c, _ := newClient(a.URL, b.URL)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if _, err := call(c, ctx); !errors.Is(err, context.DeadlineExceeded) || b.hits() != 0 {
			t.Errorf("got %v, B hits %d; want the deadline's error and no attempt on B", err, b.hits())
		}
	})

	t.Run("every server down: the last error", func(t *testing.T) {
		a, b := newFakeServer(t, 500), newFakeServer(t, 502)
		c, moves := newClient(a.URL, b.URL)
		_, err := call(c, context.Background())
		if ErrorCode(err) != "e502" || len(*moves) != 1 {
			t.Errorf("got %v after failovers %v; want B's 502 after one failover", err, *moves)
		}
	})

	t.Run("one server: no retry", func(t *testing.T) {
		a := newFakeServer(t, 503)
		c, _ := newClient(a.URL)
		if _, err := call(c, context.Background()); ErrorCode(err) != "e503" || a.hits() != 1 {
			t.Errorf("got %v with %d hits; want one attempt", err, a.hits())
		}
	})
}

func TestBaseURLs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"https://a:8443", []string{"https://a:8443"}},
		{"https://a:8443/, https://b:8443", []string{"https://a:8443", "https://b:8443"}},
		{"", []string{""}},
		{" , ", []string{""}},
	} {
		if got := BaseURLs(tc.in); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("BaseURLs(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}
