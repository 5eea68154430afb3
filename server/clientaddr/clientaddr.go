// Package clientaddr finds the address of the client behind trusted proxies,
// the one rule every per-address decision of centrald uses (the connection
// cap, the login limit per address, the "ip" of audit records):
//
//   - the PROXY protocol, versions 1 and 2 (HAProxy's send-proxy and
//     send-proxy-v2, nginx's proxy_protocol), read on the listener through
//     github.com/pires/go-proxyproto: a trusted peer must open every
//     connection with a header (the protocol forbids guessing), and its
//     source address is the connection's client; a connection from any
//     other peer that opens with a header is refused;
//   - X-Forwarded-For, per request: walking the list from the right, each
//     entry is believed while the address it came from is trusted; the
//     first untrusted address is the client (proxies append, so entries a
//     client wrote itself sit to the left of the ones trusted proxies added).
//
// A peer is trusted when its address lies in one of the configured prefixes
// (docs/security.md, "behind a proxy"). With no prefixes nothing a peer
// says about other addresses is believed.
package clientaddr

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/pires/go-proxyproto"
)

// DefaultHeaderTimeout bounds the reading of a PROXY header.
const DefaultHeaderTimeout = 5 * time.Second

// Errors.
var (
	// ErrPrefix: an entry of the trusted-proxy list is not an address or
	// a CIDR prefix.
	ErrPrefix = errors.New("clientaddr: not an IP address or CIDR prefix")
	// ErrHeader: a PROXY header was refused (from an untrusted peer, missing
	// from a trusted one, malformed, or of a transport other than TCP).
	ErrHeader = errors.New("clientaddr: PROXY header refused")
)

// Config says whom to believe.
type Config struct {
	// Trusted are the proxies' addresses.
	Trusted []netip.Prefix
	// ProxyProtocol makes trusted peers open each connection with a PROXY
	// header (v1 or v2).
	ProxyProtocol bool
	// ForwardedFor believes X-Forwarded-For from trusted peers.
	ForwardedFor bool
	// HeaderTimeout bounds the reading of a PROXY header (a peer that sends
	// it slowly, or not at all, is cut off); default DefaultHeaderTimeout.
	HeaderTimeout time.Duration
}

// Validate checks that the settings make sense together.
func (c Config) Validate() error {
	switch {
	case len(c.Trusted) == 0 && (c.ProxyProtocol || c.ForwardedFor):
		return errors.New("clientaddr: the PROXY protocol and X-Forwarded-For need trusted proxies")
	case len(c.Trusted) > 0 && !c.ProxyProtocol && !c.ForwardedFor:
		return errors.New("clientaddr: trusted proxies need the PROXY protocol, X-Forwarded-For or both")
	case c.HeaderTimeout < 0:
		return errors.New("clientaddr: negative PROXY header timeout")
	}
	return nil
}

// ParsePrefixes parses a comma-separated list of CIDR prefixes and single
// addresses ("10.0.0.0/24, 192.0.2.7, fd00::/64"); an empty list is none.
func ParsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var errs []error
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				errs = append(errs, fmt.Errorf("%w: %q", ErrPrefix, f))
				continue
			}
			out = append(out, netip.PrefixFrom(p.Addr().Unmap(), unmappedBits(p)).Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil || a.Zone() != "" {
			errs = append(errs, fmt.Errorf("%w: %q", ErrPrefix, f))
			continue
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, errors.Join(errs...)
}

// unmappedBits is a prefix's length once an IPv4-mapped IPv6 address is
// written as IPv4 (::ffff:10.0.0.0/104 is 10.0.0.0/8).
func unmappedBits(p netip.Prefix) int {
	if p.Addr().Is4In6() {
		return max(p.Bits()-96, 0)
	}
	return p.Bits()
}

// Resolver applies a Config.
type Resolver struct {
	cfg Config
}

// New builds a resolver; see Config.Validate.
func New(cfg Config) (*Resolver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.HeaderTimeout == 0 {
		cfg.HeaderTimeout = DefaultHeaderTimeout
	}
	return &Resolver{cfg: cfg}, nil
}

// Trusted reports whether a is a trusted proxy's address.
func (r *Resolver) Trusted(a netip.Addr) bool {
	if r == nil || !a.IsValid() {
		return false
	}
	a = a.Unmap()
	for _, p := range r.cfg.Trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Listener wraps ln to read PROXY headers when the PROXY protocol is on:
// the header is read by the first Read of a connection (in its own
// goroutine, never in Accept) or by Handshake, within HeaderTimeout. Without
// it ln is returned as it is.
func (r *Resolver) Listener(ln net.Listener) net.Listener {
	if r == nil || !r.cfg.ProxyProtocol {
		return ln
	}
	return &proxyproto.Listener{
		Listener: ln,
		ConnPolicy: func(o proxyproto.ConnPolicyOptions) (proxyproto.Policy, error) {
			if r.Trusted(Addr(o.Upstream)) {
				return proxyproto.REQUIRE, nil
			}
			return proxyproto.REJECT, nil
		},
		ValidateHeader:    validHeader,
		ReadHeaderTimeout: r.cfg.HeaderTimeout,
	}
}

// validHeader accepts headers that carry a TCP connection's addresses, and
// LOCAL ones (a proxy's own health check: the peer is the client).
func validHeader(h *proxyproto.Header) error {
	if h.Command.IsLocal() {
		return nil
	}
	if !h.TransportProtocol.IsStream() || !(h.TransportProtocol.IsIPv4() || h.TransportProtocol.IsIPv6()) {
		return fmt.Errorf("%w: transport %#x is not TCP", ErrHeader, byte(h.TransportProtocol))
	}
	if !Addr(h.SourceAddr).IsValid() {
		return fmt.Errorf("%w: no source address", ErrHeader)
	}
	return nil
}

// Handshake reads the PROXY header of a connection accepted through
// Listener, if it has one to read, and reports why it was refused: it
// returns nil for any other connection. After it, c.RemoteAddr() is the
// client's address. It blocks for at most HeaderTimeout (the peer's
// slowness); call it from the connection's goroutine, not from Accept.
func Handshake(c net.Conn) error {
	pc, ok := c.(*proxyproto.Conn)
	if !ok {
		return nil
	}
	// A read of nothing runs the header processing once (and returns its
	// error every time after); it consumes no data.
	if _, err := pc.Read(nil); err != nil {
		return fmt.Errorf("%w: %w", ErrHeader, err)
	}
	return nil
}

// Raw is the connection under the PROXY protocol reader (to write to it
// before the header was read), or c.
func Raw(c net.Conn) net.Conn {
	if pc, ok := c.(*proxyproto.Conn); ok {
		return pc.Raw()
	}
	return c
}

// Client is the client's address of a request that came over a connection
// from conn (after Handshake, the PROXY header's source) carrying the
// X-Forwarded-For header values forwardedFor (in order): with
// ForwardedFor, the right-most entry not added by a trusted proxy. It is
// conn's address otherwise, and the zero Addr when conn is not an IP
// address.
func (r *Resolver) Client(conn net.Addr, forwardedFor [][]byte) netip.Addr {
	a := Addr(conn)
	if r == nil || !r.cfg.ForwardedFor || !r.Trusted(a) || len(forwardedFor) == 0 {
		return a
	}
	entries := bytes.Split(bytes.Join(forwardedFor, []byte(",")), []byte(","))
	for i := len(entries) - 1; i >= 0 && r.Trusted(a); i-- {
		e, ok := parseEntry(string(entries[i]))
		if !ok {
			// Not an address: nothing further left can be believed, and
			// the last trusted hop is all that is known.
			return a
		}
		a = e
	}
	return a
}

// parseEntry parses one X-Forwarded-For entry: an address, possibly with a
// port ("192.0.2.1:4711", "[2001:db8::1]:4711").
func parseEntry(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Zone() == "" {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// Addr is a TCP (or UDP) address's IP, IPv4-mapped IPv6 written as IPv4;
// the zero Addr for any other kind of address.
func Addr(a net.Addr) netip.Addr {
	var ip net.IP
	switch a := a.(type) {
	case *net.TCPAddr:
		ip = a.IP
	case *net.UDPAddr:
		ip = a.IP
	default:
		return netip.Addr{}
	}
	na, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}
	}
	return na.Unmap()
}

// Key is the key under which per-address limits count a client: an IPv4
// address, or an IPv6 address's /64 (one subscriber's network: a client
// cannot escape a limit by changing the low bits). An invalid address
// (not IP: a unix socket, an in-memory connection) is "local"; an
// IPv4-mapped IPv6 address counts as its IPv4 address.
func Key(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case !a.IsValid():
		return "local"
	case a.Is4():
		return a.String()
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}
