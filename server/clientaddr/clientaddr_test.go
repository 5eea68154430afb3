package clientaddr

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pires/go-proxyproto"
)

func mustResolver(t testing.TB, cfg Config) *Resolver {
	t.Helper()
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func prefixes(t testing.TB, s string) []netip.Prefix {
	t.Helper()
	p, err := ParsePrefixes(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParsePrefixes(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want: the prefixes, space-separated
		bad      bool
	}{
		{"", "", false},
		{" , ", "", false},
		{"10.0.0.0/8", "10.0.0.0/8", false},
		{"10.1.2.3/8", "10.0.0.0/8", false}, // masked
		{"192.0.2.7", "192.0.2.7/32", false},
		{"192.0.2.7, fd00::/64,2001:db8::1", "192.0.2.7/32 fd00::/64 2001:db8::1/128", false},
		{"::ffff:10.0.0.0/104", "10.0.0.0/8", false},
		{"::ffff:192.0.2.1", "192.0.2.1/32", false},
		{"10.0.0.0/33", "", true},
		{"example.com", "", true},
		{"10.0.0.1,nonsense", "", true},
		{"fe80::1%eth0", "", true},
	} {
		got, err := ParsePrefixes(tc.in)
		if tc.bad {
			if !errors.Is(err, ErrPrefix) {
				t.Errorf("%q: err %v, want ErrPrefix", tc.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		var s []string
		for _, p := range got {
			s = append(s, p.String())
		}
		if strings.Join(s, " ") != tc.want {
			t.Errorf("%q: %q, want %q", tc.in, strings.Join(s, " "), tc.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	p := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"nothing", Config{}, true},
		{"proxy protocol", Config{Trusted: p, ProxyProtocol: true}, true},
		{"forwarded for", Config{Trusted: p, ForwardedFor: true}, true},
		{"both", Config{Trusted: p, ProxyProtocol: true, ForwardedFor: true}, true},
		{"trusted for nothing", Config{Trusted: p}, false},
		{"proxy protocol without proxies", Config{ProxyProtocol: true}, false},
		{"forwarded for without proxies", Config{ForwardedFor: true}, false},
		{"negative timeout", Config{Trusted: p, ProxyProtocol: true, HeaderTimeout: -1}, false},
	} {
		if err := tc.cfg.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func tcp(s string) net.Addr { return net.TCPAddrFromAddrPort(netip.MustParseAddrPort(s)) }

// TestClient: the right-most address that no trusted proxy added.
func TestClient(t *testing.T) {
	r := mustResolver(t, Config{Trusted: prefixes(t, "10.0.0.0/8, 2001:db8:ff::/48"), ForwardedFor: true})
	for _, tc := range []struct {
		name string
		peer string
		xff  []string
		want string
	}{
		{"untrusted peer, no header", "192.0.2.9:1000", nil, "192.0.2.9"},
		{"untrusted peer spoofs", "192.0.2.9:1000", []string{"198.51.100.1"}, "192.0.2.9"},
		{"trusted peer, no header", "10.0.0.1:1000", nil, "10.0.0.1"},
		{"trusted peer forwards", "10.0.0.1:1000", []string{"192.0.2.9"}, "192.0.2.9"},
		{"client prepends a lie", "10.0.0.1:1000", []string{"198.51.100.1, 192.0.2.9"}, "192.0.2.9"},
		{"two trusted hops", "10.0.0.1:1000", []string{"192.0.2.9, 10.0.0.2"}, "192.0.2.9"},
		{"lie, client, two hops, split over headers", "10.0.0.1:1000", []string{"198.51.100.1", "192.0.2.9,10.0.0.3", "10.0.0.2"}, "192.0.2.9"},
		{"all trusted: the left-most", "10.0.0.1:1000", []string{"10.0.0.3, 10.0.0.2"}, "10.0.0.3"},
		{"entry with a port", "10.0.0.1:1000", []string{"192.0.2.9:4711"}, "192.0.2.9"},
		{"IPv6 entry with a port", "10.0.0.1:1000", []string{"[2001:db8::5]:4711"}, "2001:db8::5"},
		{"mapped entry", "10.0.0.1:1000", []string{"::ffff:192.0.2.9"}, "192.0.2.9"},
		{"mapped peer", "[::ffff:10.0.0.1]:1000", []string{"192.0.2.9"}, "192.0.2.9"},
		{"IPv6 proxy", "[2001:db8:ff::1]:1000", []string{"192.0.2.9"}, "192.0.2.9"},
		{"garbage right-most: the proxy", "10.0.0.1:1000", []string{"192.0.2.9, unknown"}, "10.0.0.1"},
		{"garbage left of the client", "10.0.0.1:1000", []string{"<script>, 192.0.2.9"}, "192.0.2.9"},
		{"empty entry", "10.0.0.1:1000", []string{"192.0.2.9, "}, "10.0.0.1"},
		{"zone", "10.0.0.1:1000", []string{"fe80::1%eth0"}, "10.0.0.1"},
	} {
		var xff [][]byte
		for _, h := range tc.xff {
			xff = append(xff, []byte(h))
		}
		if got := r.Client(tcp(tc.peer), xff); got.String() != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	// Without ForwardedFor the header is never read, even from a proxy.
	off := mustResolver(t, Config{Trusted: prefixes(t, "10.0.0.0/8"), ProxyProtocol: true})
	if got := off.Client(tcp("10.0.0.1:1000"), [][]byte{[]byte("192.0.2.9")}); got.String() != "10.0.0.1" {
		t.Errorf("X-Forwarded-For believed without ForwardedFor: %s", got)
	}
	var none *Resolver
	if got := none.Client(tcp("10.0.0.1:1000"), [][]byte{[]byte("192.0.2.9")}); got.String() != "10.0.0.1" {
		t.Errorf("nil resolver: %s", got)
	}
	if got := r.Client(&net.UnixAddr{Name: "/x", Net: "unix"}, nil); got.IsValid() {
		t.Errorf("unix peer: %s", got)
	}
}

func TestKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.9":                 "192.0.2.9",
		"::ffff:192.0.2.9":          "192.0.2.9",
		"2001:db8:1:2:aaaa::1":      "2001:db8:1:2::/64",
		"2001:db8:1:2:bbbb::7":      "2001:db8:1:2::/64",
		"2001:db8:1:3::1":           "2001:db8:1:3::/64",
		"fe80::1%eth0":              "fe80::/64",
		"2001:db8:1:2:ffff:ffff::1": "2001:db8:1:2::/64",
	} {
		if got := Key(netip.MustParseAddr(in)); got != want {
			t.Errorf("Key(%s) = %s, want %s", in, got, want)
		}
	}
	if got := Key(netip.Addr{}); got != "local" {
		t.Errorf("Key(invalid) = %s", got)
	}
	if got := Key(Addr(tcp("[::ffff:192.0.2.9]:1"))); got != "192.0.2.9" {
		t.Errorf("mapped peer key %s", got)
	}
}

// proxyListener listens on 127.0.0.1 with the PROXY protocol trusted from
// 127.0.0.1 only (connections from 127.0.0.2 are untrusted), and hands
// every accepted connection to the returned channel.
func proxyListener(t *testing.T, timeout time.Duration) (string, <-chan net.Conn) {
	t.Helper()
	r := mustResolver(t, Config{Trusted: prefixes(t, "127.0.0.1"), ProxyProtocol: true, HeaderTimeout: timeout})
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := r.Listener(raw)
	t.Cleanup(func() { ln.Close() })
	conns := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(conns)
				return
			}
			t.Cleanup(func() { c.Close() })
			conns <- c
		}
	}()
	return raw.Addr().String(), conns
}

func dialFrom(t *testing.T, from, to string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", to)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func v2Header(t *testing.T, src, dst string) []byte {
	t.Helper()
	h := proxyproto.HeaderProxyFromAddrs(2, tcp(src), tcp(dst))
	b, err := h.Format()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestListener: what each peer may say at the start of a connection.
func TestListener(t *testing.T) {
	addr, conns := proxyListener(t, 2*time.Second)
	local := v2Header(t, "127.0.0.1:1", "127.0.0.1:2")
	local[12] = 0x20 // version 2, LOCAL
	for _, tc := range []struct {
		name, from string
		send       []byte
		wantAddr   string // the client's address after Handshake
		wantErr    bool
		wantData   string // what the first Read gives after the header
	}{
		{"v1 from the proxy", "127.0.0.1", []byte("PROXY TCP4 192.0.2.9 127.0.0.1 4711 80\r\nGET /"), "192.0.2.9", false, "GET /"},
		{"v1 IPv6 from the proxy", "127.0.0.1", []byte("PROXY TCP6 2001:db8::9 ::1 4711 80\r\nGET /"), "2001:db8::9", false, "GET /"},
		{"v2 from the proxy", "127.0.0.1", append(v2Header(t, "192.0.2.10:4711", "127.0.0.1:80"), "GET /"...), "192.0.2.10", false, "GET /"},
		{"v2 LOCAL (a health check)", "127.0.0.1", append(local, "GET /"...), "127.0.0.1", false, "GET /"},
		{"v1 UNKNOWN", "127.0.0.1", []byte("PROXY UNKNOWN\r\nGET /"), "127.0.0.1", false, "GET /"},
		{"no header from the proxy", "127.0.0.1", []byte("GET / HTTP/1.1\r\n\r\n"), "", true, ""},
		{"malformed v1", "127.0.0.1", []byte("PROXY TCP4 999.0.2.9 127.0.0.1 4711 80\r\n"), "", true, ""},
		{"v1 without CRLF", "127.0.0.1", []byte("PROXY TCP4 192.0.2.9 127.0.0.1 4711 80\n" + strings.Repeat("x", 200)), "", true, ""},
		{"v2 truncated length", "127.0.0.1", append(v2Header(t, "192.0.2.10:4711", "127.0.0.1:80")[:14], 0xff, 0xff), "", true, ""},
		{"header from an untrusted peer", "127.0.0.2", []byte("PROXY TCP4 192.0.2.9 127.0.0.1 4711 80\r\nGET /"), "", true, ""},
		{"v2 from an untrusted peer", "127.0.0.2", v2Header(t, "192.0.2.10:4711", "127.0.0.1:80"), "", true, ""},
		{"plain request from an untrusted peer", "127.0.0.2", []byte("GET / HTTP/1.1\r\n"), "127.0.0.2", false, "GET / HTTP/1.1\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialFrom(t, tc.from, addr)
			if _, err := c.Write(tc.send); err != nil {
				t.Fatal(err)
			}
			sc := <-conns
			err := Handshake(sc)
			if tc.wantErr {
				if !errors.Is(err, ErrHeader) {
					t.Fatalf("Handshake: %v, want ErrHeader", err)
				}
				if _, err := sc.Read(make([]byte, 10)); err == nil {
					t.Fatal("a refused connection still reads")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := Addr(sc.RemoteAddr()).String(); got != tc.wantAddr {
				t.Errorf("client %s, want %s", got, tc.wantAddr)
			}
			buf := make([]byte, len(tc.wantData))
			if _, err := io.ReadFull(sc, buf); err != nil || string(buf) != tc.wantData {
				t.Errorf("data after the header: %q, %v", buf, err)
			}
		})
	}
}

// TestListenerSlowHeader: a proxy (or someone at its address) that sends
// the header byte by byte is cut off after the timeout; Accept is never
// held up meanwhile.
func TestListenerSlowHeader(t *testing.T) {
	addr, conns := proxyListener(t, 300*time.Millisecond)
	slow := dialFrom(t, "127.0.0.1", addr)
	slow.Write([]byte("PRO"))
	sc := <-conns
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- Handshake(sc) }()
	// Another connection is accepted while the slow one's header is read.
	fast := dialFrom(t, "127.0.0.1", addr)
	fast.Write([]byte("PROXY TCP4 192.0.2.9 127.0.0.1 1 2\r\n"))
	select {
	case fc := <-conns:
		if err := Handshake(fc); err != nil || Addr(fc.RemoteAddr()).String() != "192.0.2.9" {
			t.Errorf("the fast connection: %v, %v", err, fc.RemoteAddr())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Accept blocked by a slow header")
	}
	for i := 0; i < 5; i++ {
		time.Sleep(20 * time.Millisecond)
		slow.Write([]byte("X"))
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrHeader) {
			t.Fatalf("slow header: %v", err)
		}
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("cut off after %v", el)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a slow header was not cut off")
	}
}

// TestListenerOff: without the PROXY protocol the listener is untouched.
func TestListenerOff(t *testing.T) {
	r := mustResolver(t, Config{Trusted: prefixes(t, "127.0.0.1"), ForwardedFor: true})
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if r.Listener(raw) != raw {
		t.Error("the listener was wrapped without the PROXY protocol")
	}
	var none *Resolver
	if none.Listener(raw) != raw {
		t.Error("a nil resolver wrapped the listener")
	}
	if err := Handshake(&net.TCPConn{}); err != nil {
		t.Errorf("Handshake of a plain connection: %v", err)
	}
}

// FuzzHeader feeds arbitrary first bytes from a trusted proxy: the
// connection is either refused with ErrHeader or accepted with an IP client
// address (the proxy's own for LOCAL/UNKNOWN), never a panic or a non-IP
// address.
func FuzzHeader(f *testing.F) {
	f.Add([]byte("PROXY TCP4 192.0.2.9 127.0.0.1 4711 80\r\nGET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte("PROXY TCP6 2001:db8::9 ::1 4711 80\r\n"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add([]byte("PROXY TCP4 192.0.2.9 127.0.0.1 4711\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte("\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c\xc0\x00\x02\x09\x7f\x00\x00\x01\x12\x67\x00\x50"))
	f.Add([]byte("\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00"))
	f.Add([]byte("\r\n\r\n\x00\r\nQUIT\n\x21\x12\x00\x0c\xc0\x00\x02\x09\x7f\x00\x00\x01\x12\x67\x00\x50")) // UDP
	f.Add([]byte("\r\n\r\n\x00\r\nQUIT\n\x21\x31\x00\xd8"))                                                 // unix, short
	f.Add([]byte("\r\n\r\n\x00\r\nQUIT\n\x21\x11\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		go func() {
			a.Write(data)
			a.Close()
		}()
		pc := proxyproto.NewConn(pipeConn{b}, proxyproto.WithPolicy(proxyproto.REQUIRE), proxyproto.ValidateHeader(validHeader), proxyproto.SetReadHeaderTimeout(time.Second))
		if err := Handshake(pc); err != nil {
			if !errors.Is(err, ErrHeader) {
				t.Fatalf("error without ErrHeader: %v", err)
			}
			return
		}
		if !Addr(pc.RemoteAddr()).IsValid() {
			t.Fatalf("accepted header %q with client %v", data, pc.RemoteAddr())
		}
		bufio.NewReader(pc).Peek(1)
	})
}

// pipeConn gives a net.Pipe end TCP addresses (127.0.0.1), as an accepted
// connection from the proxy has.
type pipeConn struct{ net.Conn }

func (pipeConn) RemoteAddr() net.Addr { return tcp("127.0.0.1:40000") }
func (pipeConn) LocalAddr() net.Addr  { return tcp("127.0.0.1:80") }

// FuzzClient: whatever X-Forwarded-For says, the client is the peer or an
// address the header named, and an untrusted peer is always itself.
func FuzzClient(f *testing.F) {
	f.Add("192.0.2.9", true)
	f.Add("198.51.100.1, 192.0.2.9, 10.0.0.2", true)
	f.Add("[2001:db8::5]:4711, 10.0.0.3", true)
	f.Add("unknown, ,,", true)
	f.Add("192.0.2.9", false)
	r := mustResolver(f, Config{Trusted: prefixes(f, "10.0.0.0/8"), ForwardedFor: true})
	f.Fuzz(func(t *testing.T, xff string, fromProxy bool) {
		peer := "192.0.2.200:1"
		if fromProxy {
			peer = "10.0.0.1:1"
		}
		got := r.Client(tcp(peer), [][]byte{[]byte(xff)})
		if !got.IsValid() {
			t.Fatalf("invalid client for %q", xff)
		}
		if !fromProxy && got.String() != "192.0.2.200" {
			t.Fatalf("untrusted peer became %s through %q", got, xff)
		}
		if got.String() != "10.0.0.1" && got.String() != "192.0.2.200" && !strings.Contains(xff, strings.TrimPrefix(got.String(), "::ffff:")) {
			// The string form may differ (leading zeros, case): re-parse.
			found := false
			for _, e := range strings.Split(xff, ",") {
				if a, ok := parseEntry(e); ok && a == got {
					found = true
				}
			}
			if !found {
				t.Fatalf("client %s is not in %q", got, xff)
			}
		}
	})
}
