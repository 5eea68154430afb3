package api

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/clientaddr"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// The transport: TLS, per-client connection caps and body admission, the
// defences that act before a request reaches a handler (docs/security.md,
// "a hostile client" and "a network attacker").
//
// Memory. fasthttp reads a whole request body before any handler runs, so a
// limit checked in a handler comes too late. The body limit is therefore
// decided from the request header (fasthttp's HeaderReceived hook), before
// the body is read:
//   - every route: BodyLimit.Default (256 KiB);
//   - kiosk routes: BodyLimit.Kiosk (4 MiB), only when the request names a
//     registered, active kiosk (X-Veinkiosk-Kiosk-Id);
//   - bulk administration routes: their own limit (up to BodyLimit.Bulk),
//     only with the bearer token of a live session whose role may use the
//     route.
// An oversized Content-Length is refused from the header (413) without
// reading the body; a chunked body is cut off at the limit. With at most
// MaxConnsPerIP connections from one client address and MaxConns in all,
// what one client can make the server hold is MaxConnsPerIP x the limit it
// is admitted to.

// Transport defaults.
const (
	defaultMaxConnsPerIP = 32
	defaultMaxConns      = 1024
)

// admission is the body limit of one route, decided from its header.
type admission struct {
	limit int
	kiosk bool         // the kiosk limit only for a registered, active kiosk
	roles []store.Role // the route's limit only for a session with one of these roles
}

// buildAdmission records the routes whose body limit is above the default.
func (s *Server) buildAdmission() {
	s.admit = map[string]admission{}
	for _, r := range s.routes {
		key := r.method + " " + r.path
		switch {
		case r.auth == authKiosk || r.auth == authKioskStaff:
			limit := r.limit
			if limit == 0 {
				limit = s.cfg.BodyLimit.Kiosk
			}
			if limit > s.cfg.BodyLimit.Default {
				s.admit[key] = admission{limit: limit, kiosk: true}
			}
		case r.auth == authStaff && r.limit > s.cfg.BodyLimit.Default:
			s.admit[key] = admission{limit: min(r.limit, s.cfg.BodyLimit.Bulk), roles: r.roles}
		}
	}
	s.app.Server().HeaderReceived = s.headerReceived
}

// headerReceived decides the body limit of a request from its header.
func (s *Server) headerReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	path, _, _ := strings.Cut(string(h.RequestURI()), "?")
	a, ok := s.admit[string(h.Method())+" "+path]
	if !ok {
		return fasthttp.RequestConfig{}
	}
	if a.kiosk {
		id := string(h.Peek(apiv1.HeaderKioskID))
		if id == "" || len(id) > 64 || !s.ready.Load() {
			return fasthttp.RequestConfig{}
		}
		now := s.now()
		k, ok := s.kiosks.get(id, now)
		if !ok {
			// Not s.kiosk: an unknown kiosk is counted once, by kioskAuth.
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			var err error
			if k, err = s.st.GetKiosk(ctx, id); err != nil {
				return fasthttp.RequestConfig{}
			}
			s.kiosks.put(k, now)
		}
		if k.Status != store.DeviceActive {
			return fasthttp.RequestConfig{}
		}
		return fasthttp.RequestConfig{MaxRequestBodySize: a.limit}
	}
	auth := string(h.Peek(fiber.HeaderAuthorization))
	if len(auth) <= 7 || !strings.EqualFold(auth[:7], "bearer ") {
		return fasthttp.RequestConfig{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	sess, ok, err := s.sessions.get(ctx, strings.TrimSpace(auth[7:]), s.now())
	if err != nil || !ok || sessionScope(sess, authStaff, nil) != "" || !slices.Contains(a.roles, sess.role) {
		return fasthttp.RequestConfig{}
	}
	return fasthttp.RequestConfig{MaxRequestBodySize: a.limit}
}

// Serve serves on ln (wrapped in the per-client connection caps and, when
// configured, TLS) until ctx is done, then shuts down within grace. It runs
// the periodic housekeeping.
func (s *Server) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	ln, err := s.WrapListener(ln)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- s.app.Listener(ln) }()
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	var anchorTick <-chan time.Time
	if s.cfg.AuditAnchorer != nil {
		s.anchor(ctx)
		t := time.NewTicker(s.cfg.AuditAnchorInterval)
		defer t.Stop()
		anchorTick = t.C
	}
	for {
		select {
		case err := <-errc:
			return err
		case <-tick.C:
			s.Housekeep(ctx)
		case <-anchorTick:
			s.anchor(ctx)
		case <-ctx.Done():
			s.ready.Store(false)
			s.log.Info("shutting down", "grace", grace)
			err := s.app.ShutdownWithTimeout(grace)
			if s.cfg.AuditAnchorer != nil {
				// The last anchor covers the last requests served.
				actx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				s.anchor(actx)
				cancel()
			}
			if err != nil {
				return fmt.Errorf("api: shutdown: %w", err)
			}
			return nil
		}
	}
}

// WrapListener applies the PROXY protocol (when configured), the
// connection caps and TLS to a listener.
func (s *Server) WrapListener(ln net.Listener) (net.Listener, error) {
	ln = &capListener{Listener: s.proxies.Listener(ln), proxies: s.proxies, perIP: s.cfg.MaxConnsPerIP, n: map[string]int{}, refused: s.metrics.connRefused}
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls)
	}
	return ln, nil
}

// TLS reports whether the server serves TLS.
func (s *Server) TLS() bool { return s.tls != nil }

// loadTLS builds the TLS configuration from the certificate, key and kiosk
// client CA files.
func loadTLS(c *Config) (*tls.Config, error) {
	if c.TLSCertFile == "" && c.TLSKeyFile == "" {
		if c.KioskClientCAFile != "" {
			return nil, errors.New("api: kiosk client certificates need TLS (a certificate and key)")
		}
		return nil, nil
	}
	if c.TLSCertFile == "" || c.TLSKeyFile == "" {
		return nil, errors.New("api: TLS needs both a certificate file and a key file")
	}
	cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("api: TLS certificate: %w", err)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if c.KioskClientCAFile != "" {
		pem, err := os.ReadFile(c.KioskClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("api: kiosk client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("api: kiosk client CA %s holds no PEM certificate", c.KioskClientCAFile)
		}
		// Staff browsers have no client certificate: it is verified when
		// given and required on kiosk routes (kioskClientCert).
		tc.ClientCAs, tc.ClientAuth = pool, tls.VerifyClientCertIfGiven
	}
	return tc, nil
}

// kioskClientCert requires, when kiosk client certificates are configured,
// a verified client certificate whose common name is the kiosk's id.
func (s *Server) kioskClientCert(c *fiber.Ctx) error {
	if s.cfg.KioskClientCAFile == "" {
		return c.Next()
	}
	cs := c.Context().TLSConnectionState()
	if cs == nil || len(cs.VerifiedChains) == 0 {
		s.metrics.authFailures.WithLabelValues("client_cert").Inc()
		return errf(apiv1.CodeClientCertRequired, "kiosk requests need the kiosk's TLS client certificate")
	}
	if cn := cs.VerifiedChains[0][0].Subject.CommonName; cn != c.Get(apiv1.HeaderKioskID) {
		s.metrics.authFailures.WithLabelValues("client_cert").Inc()
		return errf(apiv1.CodeClientCertRequired, "the TLS client certificate is not this kiosk's")
	}
	return c.Next()
}

// officeTransport refuses the back office over plain HTTP on a non-loopback
// address (the session cookie and passwords would cross the network in
// clear), unless Config.InsecureOffice. Behind a TLS-terminating proxy on the
// same host the connection is loopback and allowed.
func (s *Server) officeTransport(c *fiber.Ctx) error {
	if s.cfg.InsecureOffice || c.Context().IsTLS() || localConn(c.Context().LocalAddr()) {
		return c.Next()
	}
	return errf(apiv1.CodeTLSRequired, "the back office is served over TLS only (or on a loopback address behind a TLS proxy)")
}

// localConn reports whether a connection's local address is loopback. A
// unix socket is local; an unspecified address is only seen on in-memory
// connections (fiber's app.Test), never on an accepted TCP connection.
func localConn(a net.Addr) bool {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.IP.IsLoopback() || a.IP.IsUnspecified()
	case *net.UnixAddr:
		return true
	}
	return false
}

// capListener caps the concurrent connections of one client address
// (clientaddr.Key: an IPv4 address, or an IPv6 /64). From a trusted proxy
// the client's address is its PROXY header's source, so a connection is
// admitted by its first Read, in its own goroutine: Accept never waits for
// a peer. Any other peer's connection takes its slot in Accept (before the
// check that it sends no PROXY header, which waits for its first byte), so
// idle connections count. A connection over the cap gets a 429 and is
// closed; one whose PROXY header is refused is closed.
type capListener struct {
	net.Listener
	proxies *clientaddr.Resolver
	perIP   int
	refused *prometheus.CounterVec // by reason
	mu      sync.Mutex
	n       map[string]int
}

var tooManyConns = func() []byte {
	body := `{"error":{"code":"` + apiv1.CodeRateLimited + `","message":"too many connections from this address"}}`
	return []byte(fmt.Sprintf("HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body))
}()

// errConnRefused ends a connection that was not admitted.
var errConnRefused = errors.New("api: connection not admitted")

func (l *capListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	cc := &capConn{Conn: c, l: l, proxied: true}
	// A peer that is not a trusted proxy is the client itself: its
	// connection takes its slot here, in the accept loop, so idle
	// connections count before any worker reads them. A trusted proxy's
	// connection takes the client's slot after its PROXY header
	// (admission).
	if peer := clientaddr.Addr(clientaddr.Raw(c).RemoteAddr()); !l.proxies.Trusted(peer) { // Raw: the PROXY conn would wait for its header
		cc.proxied = false
		cc.takeSlot(peer)
	}
	return cc, nil
}

type capConn struct {
	net.Conn
	l     *capListener
	admit sync.Once
	state atomic.Int32 // connPending, connAdmitted or connRefused
	err   error        // why refused, set before state
	// proxied: the peer is a trusted proxy (set at accept).
	proxied bool
	mu      sync.Mutex
	key     string // the client's address key while the connection holds its slot (under mu)
}

const (
	connPending = iota
	connAdmitted
	connRefused
)

// takeSlot takes a slot of peer's address, or refuses the connection with a
// 429 when its address has none left.
func (c *capConn) takeSlot(peer netip.Addr) {
	key := clientaddr.Key(peer)
	c.l.mu.Lock()
	if c.l.n[key] >= c.l.perIP {
		c.l.mu.Unlock()
		c.l.refused.WithLabelValues("per_address").Inc()
		raw := clientaddr.Raw(c.Conn)
		raw.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		raw.Write(tooManyConns)
		c.refuse(fmt.Errorf("%w: too many connections from one address", errConnRefused))
		return
	}
	c.l.n[key]++
	c.l.mu.Unlock()
	c.mu.Lock()
	c.key = key
	c.mu.Unlock()
}

// releaseSlot gives the connection's slot back, once.
func (c *capConn) releaseSlot() {
	c.mu.Lock()
	key := c.key
	c.key = ""
	c.mu.Unlock()
	if key != "" {
		c.l.release(key)
	}
}

// admission, on the first read: a trusted proxy's connection reads its
// PROXY header and takes the client's slot; any other connection (its slot
// taken at accept) is checked for a PROXY header it may not send.
func (c *capConn) admission() {
	if c.state.Load() == connRefused {
		return
	}
	if c.proxied {
		if err := clientaddr.Handshake(c.Conn); err != nil {
			c.refuseHeader(err)
			return
		}
		if c.takeSlot(clientaddr.Addr(c.Conn.RemoteAddr())); c.state.Load() == connRefused {
			return
		}
	} else if err := clientaddr.Handshake(c.Conn); err != nil { // an untrusted peer's PROXY header
		c.releaseSlot()
		c.refuseHeader(err)
		return
	}
	c.state.Store(connAdmitted)
}

func (c *capConn) refuseHeader(err error) {
	c.l.refused.WithLabelValues("proxy_header").Inc()
	c.refuse(fmt.Errorf("%w: %w", errConnRefused, err))
}

func (l *capListener) release(key string) {
	l.mu.Lock()
	if l.n[key]--; l.n[key] <= 0 {
		delete(l.n, key)
	}
	l.mu.Unlock()
}

func (c *capConn) refuse(err error) {
	c.err = err
	c.state.Store(connRefused)
}

func (c *capConn) Read(b []byte) (int, error) {
	c.admit.Do(c.admission)
	if c.state.Load() == connRefused {
		return 0, c.err
	}
	return c.Conn.Read(b)
}

// Write before admission (fasthttp's "too busy" answer, written from its
// accept loop) goes to the raw connection: it must not wait for a PROXY
// header. A refused connection writes nothing more (fasthttp answers a
// failed first read with an error response; the peer gets the 429 or, for
// a refused PROXY header, nothing).
func (c *capConn) Write(b []byte) (int, error) {
	switch c.state.Load() {
	case connPending:
		return clientaddr.Raw(c.Conn).Write(b)
	case connRefused:
		return 0, c.err
	}
	return c.Conn.Write(b)
}

// LocalAddr is the socket's own address, not a PROXY header's destination
// (the address the client reached at the proxy): officeTransport's
// loopback rule is about this connection.
func (c *capConn) LocalAddr() net.Addr { return clientaddr.Raw(c.Conn).LocalAddr() }

func (c *capConn) Close() error {
	c.releaseSlot()
	return c.Conn.Close()
}
