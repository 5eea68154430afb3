package attacks

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pires/go-proxyproto"

	"github.com/qingshan-gov/veinkiosk/server/api"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/clientaddr"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// Behind a load balancer (docs/security.md, "behind a proxy"). The trusted
// proxy of these attacks is 127.0.0.10; the harness's own clients, and the
// attacker, connect from 127.0.0.1 (or 127.0.0.2), which is not trusted.

const proxyAddr = "127.0.0.10"

// withProxies trusts 127.0.0.10 with the PROXY protocol and/or
// X-Forwarded-For; the PROXY header must arrive within 1 s.
func withProxies(proxyProtocol, forwardedFor bool) func(*api.Config) {
	return func(c *api.Config) {
		c.Proxies = clientaddr.Config{
			Trusted:       []netip.Prefix{netip.MustParsePrefix(proxyAddr + "/32")},
			ProxyProtocol: proxyProtocol, ForwardedFor: forwardedFor,
			HeaderTimeout: time.Second,
		}
	}
}

// dialFrom connects to the target from a loopback address of the caller's
// choice.
func (tg *target) dialFrom(from string) net.Conn {
	tg.t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", tg.addr)
	if err != nil {
		tg.t.Fatal(err)
	}
	tg.t.Cleanup(func() { c.Close() })
	return c
}

// proxyV1 and proxyV2 are the PROXY headers a proxy sends for a client at
// src (port 4711).
func proxyV1(src string) []byte {
	return []byte(fmt.Sprintf("PROXY TCP4 %s 127.0.0.1 4711 8080\r\n", src))
}

func proxyV2(src string) []byte {
	h := proxyproto.HeaderProxyFromAddrs(2, &net.TCPAddr{IP: net.ParseIP(src), Port: 4711}, &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 8080})
	b, err := h.Format()
	if err != nil {
		panic(err)
	}
	return b
}

// via is an API client whose connections come from the given loopback
// address, each opened with header (nil: none) and carrying X-Forwarded-For
// xff (empty: none); one connection per request.
func (tg *target) via(from string, header []byte, xff string) *apiv1.Client {
	tr := &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
		c, err := d.DialContext(ctx, network, addr)
		if err == nil && header != nil {
			_, err = c.Write(header)
		}
		return c, err
	}}
	tg.t.Cleanup(tr.CloseIdleConnections)
	var rt http.RoundTripper = tr
	if xff != "" {
		rt = headerTransport{rt, xff}
	}
	return &apiv1.Client{BaseURL: tg.base, HTTP: &http.Client{Timeout: 30 * time.Second, Transport: rt}, Now: tg.clock.Now}
}

type headerTransport struct {
	rt  http.RoundTripper
	xff string
}

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", h.xff)
	return h.rt.RoundTrip(r)
}

// loginUsers are staff accounts (cheap hashes) whose wrong passwords spend
// a client address's login allowance (burst 30) without reaching any one
// username's (burst 10): at most 8 attempts each in exhaustAddress.
var loginUsers = func() []string {
	var u []string
	for i := 1; i <= 20; i++ {
		u = append(u, fmt.Sprintf("u%d", i))
	}
	return u
}()

// exhaustAddress sends wrong passwords through c (rotating the usernames)
// until the limit per client address answers 429; it fails the test when
// 150 attempts were not refused (the username limits are never reached by
// then, so the 429 is the address's). It returns when the first 429 came.
func (tg *target) exhaustAddress(c *apiv1.Client) time.Time {
	tg.t.Helper()
	var (
		mu      sync.Mutex
		n       int
		limited bool
		at      time.Time
		wg      sync.WaitGroup
	)
	// Sixteen at once (below the connection cap of 32): one at a time, an
	// attempt taking a second or more under -race on a busy machine would
	// let the bucket (1 attempt per second) keep up.
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if limited || n >= 150 {
					mu.Unlock()
					return
				}
				u := loginUsers[n%len(loginUsers)]
				n++
				mu.Unlock()
				_, err := c.Login(tg.ctx(), u, "wrong password!")
				switch apiv1.ErrorCode(err) {
				case apiv1.CodeRateLimited:
					mu.Lock()
					if !limited {
						limited, at = true, time.Now()
					}
					mu.Unlock()
				case apiv1.CodeBadCredentials:
				default:
					tg.t.Errorf("login attempt: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if !limited {
		tg.t.Fatalf("the login limit per address did not answer within %d attempts", n)
	}
	return at
}

// loginIPs are the "ip" details of the failed-login audit records.
func (tg *target) loginIPs() map[string]int {
	tg.t.Helper()
	recs, err := tg.st.ListAudit(tg.ctx(), 0, 10000)
	if err != nil {
		tg.t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range recs {
		if r.Action == "staff.login_failed" || r.Action == "staff.login" {
			out[r.Details["ip"]]++
		}
	}
	return out
}

func (tg *target) loginStaff() {
	for _, u := range loginUsers {
		tg.staffInStore(u, store.RoleDepartmentOfficer, "civil_affairs", "")
	}
}

// spoofedAttempts sends n wrong passwords at once, each through a client
// made by mk(i), after the address's limit answered at limited; it returns
// how many were evaluated (answered 401 bad_credentials, not 429 or
// nothing) and the time since limited. An honest limit lets at most one per
// second of that time (plus one) through; a fresh limit per spoofed address
// would let them all.
func (tg *target) spoofedAttempts(limited time.Time, n int, mk func(i int) *apiv1.Client) (int, time.Duration) {
	var through atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := mk(i).Login(tg.ctx(), loginUsers[i%len(loginUsers)], "wrong password!")
			if err == nil || apiv1.ErrorCode(err) == apiv1.CodeBadCredentials {
				through.Add(1)
			}
		}()
	}
	wg.Wait()
	return int(through.Load()), time.Since(limited)
}

func checkSpoof(t *testing.T, through int, took time.Duration, how string) {
	t.Helper()
	if allowed := int(took/time.Second) + 1; through > allowed {
		t.Fatalf("ATTACK SUCCEEDED: %s: %d of 10 attempts passed a login limit exhausted %v before (at most %d refills)", how, through, took, allowed)
	}
}

// TestAttackForwardedForSpoof: a client not at a trusted proxy's address
// writes X-Forwarded-For (a new address each attempt) to escape the login
// limit per address: the header is ignored, the limit holds, and the audit
// records its real address.
func TestAttackForwardedForSpoof(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		tg.loginStaff()
		limited := tg.exhaustAddress(tg.via("127.0.0.1", nil, "203.0.113.1"))
		through, took := tg.spoofedAttempts(limited, 10, func(i int) *apiv1.Client {
			return tg.via("127.0.0.1", nil, fmt.Sprintf("203.0.113.%d, %s", 10+i, proxyAddr))
		})
		checkSpoof(t, through, took, "X-Forwarded-For from an untrusted peer")
		for ip := range tg.loginIPs() {
			if ip != "127.0.0.1" {
				t.Fatalf("ATTACK SUCCEEDED: an audit record names the spoofed address %q", ip)
			}
		}
	}, withProxies(false, true))
}

// TestAttackProxyHeaderSpoof: a client not at a trusted proxy's address
// opens its connections with a PROXY header (v1 or v2) naming another
// address: the connection is closed unanswered (docs/security.md), so
// the header buys nothing; without one the limit holds as before.
func TestAttackProxyHeaderSpoof(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		tg.loginStaff()
		for _, h := range [][]byte{proxyV1("203.0.113.5"), proxyV2("203.0.113.6")} {
			_, err := tg.via("127.0.0.1", h, "").Login(tg.ctx(), loginUsers[0], pw)
			var ae *apiv1.Error
			if err == nil || errors.As(err, &ae) {
				t.Fatalf("ATTACK SUCCEEDED: a PROXY header from an untrusted peer was answered: %v", err)
			}
		}
		limited := tg.exhaustAddress(tg.client())
		through, _ := tg.spoofedAttempts(limited, 10, func(i int) *apiv1.Client {
			return tg.via("127.0.0.1", proxyV1(fmt.Sprintf("203.0.113.%d", 10+i)), "")
		})
		if through != 0 {
			t.Fatalf("ATTACK SUCCEEDED: %d logins evaluated through PROXY headers from an untrusted peer", through)
		}
		for ip := range tg.loginIPs() {
			if ip != "127.0.0.1" {
				t.Fatalf("ATTACK SUCCEEDED: an audit record names the spoofed address %q", ip)
			}
		}
	}, withProxies(true, false))
}

// TestProxyClientsLimitedApart: behind a trusted proxy each client has its
// own login limit and connection cap, and the audit records its address:
// one client spending its allowance does not lock out the others, nor the
// proxy's other clients out of their connections. With the PROXY protocol
// (v1 and v2) and with X-Forwarded-For.
func TestProxyClientsLimitedApart(t *testing.T) {
	t.Run("proxy-protocol", func(t *testing.T) {
		forEach(t, func(t *testing.T, tg *target) {
			tg.loginStaff()
			limited := tg.exhaustAddress(tg.via(proxyAddr, proxyV1("192.0.2.1"), ""))
			through, took := tg.spoofedAttempts(limited, 10, func(int) *apiv1.Client { return tg.via(proxyAddr, proxyV1("192.0.2.1"), "") })
			checkSpoof(t, through, took, "the exhausted client again")
			// Another client of the same proxy, by v2 and v1, and the
			// harness's own address: their own limits.
			_, err := tg.via(proxyAddr, proxyV2("192.0.2.2"), "").Login(tg.ctx(), loginUsers[0], "wrong password!")
			refused(t, err, http.StatusUnauthorized, apiv1.CodeBadCredentials)
			if _, err := tg.via(proxyAddr, proxyV1("192.0.2.3"), "").Login(tg.ctx(), loginUsers[1], pw); err != nil {
				t.Fatalf("another client behind the proxy: %v", err)
			}
			tg.login("admin")
			ips := tg.loginIPs()
			if ips["192.0.2.1"] < 30 || ips["192.0.2.2"] != 1 || ips["192.0.2.3"] != 1 || ips[proxyAddr] != 0 {
				t.Fatalf("audit ip details %v: want the clients' addresses, never the proxy's", ips)
			}

			// The connection cap counts clients, not the proxy: 32 held
			// for one client, the 33rd refused, another client served.
			open := func(src string) (net.Conn, int) {
				c := tg.dialFrom(proxyAddr)
				c.SetDeadline(time.Now().Add(10 * time.Second))
				c.Write(proxyV2(src))
				fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					t.Fatalf("from %s behind the proxy: %v", src, err)
				}
				io.ReadAll(resp.Body)
				resp.Body.Close()
				return c, resp.StatusCode
			}
			for i := 0; i < 32; i++ {
				if _, status := open("192.0.2.50"); status != http.StatusOK {
					t.Fatalf("connection %d of one client: %d", i, status)
				}
			}
			if c, status := open("192.0.2.50"); status != http.StatusTooManyRequests {
				t.Fatalf("ATTACK SUCCEEDED: connection 33 of one client behind the proxy: %d", status)
			} else {
				c.Close()
			}
			if _, status := open("192.0.2.51"); status != http.StatusOK {
				t.Fatalf("another client behind the proxy shut out by the first one's connections: %d", status)
			}
		}, withProxies(true, false))
	})
	t.Run("forwarded-for", func(t *testing.T) {
		forEach(t, func(t *testing.T, tg *target) {
			tg.loginStaff()
			// The client lies to the left; the proxy appends its real address.
			limited := tg.exhaustAddress(tg.via(proxyAddr, nil, "198.51.100.77, 192.0.2.1"))
			through, took := tg.spoofedAttempts(limited, 10, func(i int) *apiv1.Client {
				return tg.via(proxyAddr, nil, fmt.Sprintf("198.51.100.%d, 192.0.2.1", 100+i))
			})
			checkSpoof(t, through, took, "the exhausted client with another lie")
			_, err := tg.via(proxyAddr, nil, "192.0.2.2").Login(tg.ctx(), loginUsers[0], "wrong password!")
			refused(t, err, http.StatusUnauthorized, apiv1.CodeBadCredentials)
			ips := tg.loginIPs()
			if ips["192.0.2.1"] < 30 || ips["192.0.2.2"] != 1 || ips[proxyAddr] != 0 || ips["198.51.100.77"] != 0 {
				t.Fatalf("audit ip details %v: want the clients' addresses, never the proxy's or a lie", ips)
			}
		}, withProxies(false, true))
	})
}

// closedUnanswered asserts that the server closes c without an HTTP
// answer, within limit.
func closedUnanswered(t *testing.T, c net.Conn, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(limit))
	b, err := io.ReadAll(c)
	if len(b) > 0 {
		t.Fatalf("ATTACK SUCCEEDED: the connection was answered: %.200q", b)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("ATTACK SUCCEEDED: the connection was still open after %v", limit)
	}
	return time.Since(start)
}

// TestAttackMalformedProxyHeader: a trusted proxy's address sends broken
// PROXY headers (or none, or a header of the wrong transport): each
// connection is closed unanswered, and the server goes on serving.
func TestAttackMalformedProxyHeader(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		v2 := proxyV2("192.0.2.9")
		udp := append([]byte(nil), v2...)
		udp[13] = 0x12 // IPv4 over UDP
		for _, tc := range []struct {
			name string
			data []byte
		}{
			{"no header", []byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")},
			{"bad address", []byte("PROXY TCP4 192.0.2.999 127.0.0.1 4711 8080\r\n")},
			{"bad port", []byte("PROXY TCP4 192.0.2.9 127.0.0.1 471100 8080\r\n")},
			{"family mismatch", []byte("PROXY TCP4 2001:db8::1 127.0.0.1 4711 8080\r\n")},
			{"missing fields", []byte("PROXY TCP4 192.0.2.9\r\n")},
			{"no CRLF in 200 bytes", []byte("PROXY TCP4 192.0.2.9 127.0.0.1 4711 8080 " + strings.Repeat("A", 200))},
			{"v2 bad version", append(append([]byte(nil), v2[:12]...), 0x31, 0x11, 0, 12)},
			{"v2 length beyond the data", append(append([]byte(nil), v2[:14]...), 0xff, 0xff, 1, 2, 3)},
			{"v2 UDP", udp},
			{"v2 length too short for the family", append(append([]byte(nil), v2[:14]...), 0, 4, 192, 0, 2, 9)},
			{"binary garbage", []byte("\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00")},
		} {
			c := tg.dialFrom(proxyAddr)
			c.Write(tc.data)
			if tc.name != "no CRLF in 200 bytes" && tc.name != "binary garbage" && tc.name != "v2 length beyond the data" {
				c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
			}
			closedUnanswered(t, c, 10*time.Second)
			c.Close()
		}
		// An untrusted peer's valid header is refused as well.
		c := tg.dialFrom("127.0.0.2")
		c.Write(append(proxyV1("192.0.2.9"), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"...))
		closedUnanswered(t, c, 10*time.Second)
		// Still serving: the harness's clients (untrusted, no header) and
		// the proxy's.
		if r := tg.do(tg.request("GET", "/healthz", nil)); r.status != http.StatusOK {
			t.Fatalf("after the malformed headers: /healthz %d", r.status)
		}
		if _, err := tg.via(proxyAddr, proxyV2("192.0.2.9"), "").Login(tg.ctx(), "admin", pw); err != nil {
			t.Fatalf("a well-formed header after the malformed ones: %v", err)
		}
	}, withProxies(true, false))
}

// TestAttackSlowProxyHeader: slowloris on the PROXY header, from the
// proxy's address: a header sent a byte at a time, and a connection that
// sends nothing, are both cut at the header deadline (1 s here), long
// before the request read timeout (30 s); meanwhile other connections are
// served.
func TestAttackSlowProxyHeader(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		silent := tg.dialFrom(proxyAddr)
		slow := tg.dialFrom(proxyAddr)
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			h := proxyV1("192.0.2.9")
			for i := 0; i < len(h); i++ {
				select {
				case <-stop:
					return
				case <-time.After(200 * time.Millisecond):
				}
				if _, err := slow.Write(h[i : i+1]); err != nil {
					return
				}
			}
		}()
		// Served while the two hang.
		if _, err := tg.via(proxyAddr, proxyV2("192.0.2.8"), "").Login(tg.ctx(), "admin", pw); err != nil {
			t.Fatalf("served while a header is slow: %v", err)
		}
		for name, c := range map[string]net.Conn{"silent": silent, "byte by byte": slow} {
			if took := closedUnanswered(t, c, 15*time.Second); took > 15*time.Second {
				t.Fatalf("%s: closed after %v", name, took)
			}
		}
	}, withProxies(true, false))
}

// TestProxyOfficeLoopbackRule: the back office's plain-HTTP-on-loopback
// rule looks at the replica's own socket, not at the address the client
// reached at the proxy (a PROXY header's destination, which the proxy's
// peer could name freely).
func TestProxyOfficeLoopbackRule(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		for _, dst := range []string{"192.0.2.80", "127.0.0.1"} {
			c := tg.dialFrom(proxyAddr)
			c.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(c, "PROXY TCP4 192.0.2.9 %s 4711 80\r\nGET /office HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", dst)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /office on loopback through a proxy (destination %s): %d", dst, resp.StatusCode)
			}
		}
	}, withProxies(true, false))
}

// TestAttackIdleConnectionFloodWithProxyProtocol: with the PROXY protocol
// on, an untrusted address's connections count for the cap from the
// moment they are accepted, not once their first byte arrives (the check
// that they send no PROXY header waits for it): 32 connections that send
// nothing shut the address's 33rd out. (Counted only after that wait, idle
// connections from one address could hold every server worker for the
// header timeout.)
func TestAttackIdleConnectionFloodWithProxyProtocol(t *testing.T) {
	// Alone (forEachSerial): run in parallel with the rest of the suite
	// under -race on a loaded machine, its probes kept getting 200 for 60 s
	// (twice; the cause is not understood), while it passes alone.
	forEachSerial(t, func(t *testing.T, tg *target) {
		for i := 0; i < 32; i++ {
			tg.dialFrom("127.0.0.2")
		}
		// The server sees the idle connections when its workers first read
		// them, which a loaded machine can delay by seconds.
		deadline := time.Now().Add(60 * time.Second)
		for {
			c := tg.dialFrom("127.0.0.2")
			c.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			c.Close()
			if resp.StatusCode == http.StatusTooManyRequests {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("ATTACK SUCCEEDED: 32 idle connections from one address, and its next connection still got %d", resp.StatusCode)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}, func(c *api.Config) {
		withProxies(true, false)(c)
		c.Proxies.HeaderTimeout = 5 * time.Minute // longer than the test
	})
}
