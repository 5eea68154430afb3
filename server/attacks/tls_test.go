package attacks

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	kioskpkg "github.com/qingshan-gov/veinkiosk/kiosk"
	"github.com/qingshan-gov/veinkiosk/server/api"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// Attack 7 of issue 11 (a network attacker between the office's browsers
// and centrald) and the transport: TLS, kiosk client certificates, the
// Secure cookie and the back office refused over plain HTTP.

// pki is a test CA with the files centrald reads.
type pki struct {
	dir      string
	ca       *x509.Certificate
	caKey    *ecdsa.PrivateKey
	pool     *x509.CertPool
	certFile string
	keyFile  string
	caFile   string
}

func newPKI(t *testing.T, hosts ...string) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir()}
	p.caKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "veinkiosk test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &p.caKey.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	p.ca, _ = x509.ParseCertificate(der)
	p.pool = x509.NewCertPool()
	p.pool.AddCert(p.ca)
	p.caFile = p.write(t, "ca.pem", "CERTIFICATE", der)
	srv := p.issue(t, "centrald", hosts, x509.ExtKeyUsageServerAuth)
	p.certFile = p.write(t, "cert.pem", "CERTIFICATE", srv.Certificate[0])
	kb, _ := x509.MarshalECPrivateKey(srv.PrivateKey.(*ecdsa.PrivateKey))
	p.keyFile = p.write(t, "key.pem", "EC PRIVATE KEY", kb)
	return p
}

func (p *pki) write(t *testing.T, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// issue makes a certificate signed by the CA (server: hosts as SANs;
// client: cn is the kiosk id).
func (p *pki) issue(t *testing.T, cn string, hosts []string, usage x509.ExtKeyUsage) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sn, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: sn, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// clientFor is an HTTP client trusting the CA, presenting cert if given.
func (p *pki) clientFor(cert *tls.Certificate) *http.Client {
	tc := &tls.Config{RootCAs: p.pool, MinVersion: tls.VersionTLS12}
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
}

func tlsConfig(p *pki, clientCA bool) func(*api.Config) {
	return func(c *api.Config) {
		c.TLSCertFile, c.TLSKeyFile = p.certFile, p.keyFile
		if clientCA {
			c.KioskClientCAFile = p.caFile
		}
	}
}

// TestAttackOfficeCookieNotSecure (issue 11 item 7, fixed): the office
// session cookie is Secure by default, so a browser never sends it over
// plain HTTP where a network attacker reads it.
func TestAttackOfficeCookieNotSecure(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		c, _ := tg.officeLogin("admin")
		if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
			t.Fatalf("ATTACK SUCCEEDED: the office session cookie is %+v (want Secure, HttpOnly, SameSite=Strict)", c)
		}
	})
}

// fakeLocal makes a listener's connections report a non-loopback local
// address, as a server bound to a LAN address sees them.
type fakeLocal struct{ net.Listener }
type fakeLocalConn struct{ net.Conn }

func (l fakeLocal) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return fakeLocalConn{c}, nil
}
func (fakeLocalConn) LocalAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 80), Port: 8080}
}

// lanAddress is a non-loopback IPv4 address of this machine, if any.
func lanAddress() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() {
			return ipn.IP.String()
		}
	}
	return ""
}

// TestAttackOfficeOverPlainHTTP (issue 11 item 7, fixed): the back office
// is refused over plain HTTP on a non-loopback address, so passwords and
// cookies never cross the network in clear; --insecure-office overrides;
// over TLS it is served.
func TestAttackOfficeOverPlainHTTP(t *testing.T) {
	t.Parallel()
	listeners := map[string]func() (net.Listener, error){
		"a LAN address (simulated)": func() (net.Listener, error) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			return fakeLocal{ln}, err
		},
	}
	if lan := lanAddress(); lan != "" {
		listeners["this machine's LAN address "+lan] = func() (net.Listener, error) { return net.Listen("tcp", net.JoinHostPort(lan, "0")) }
	}
	for name, listen := range listeners {
		t.Run(name, func(t *testing.T) {
			tg := startWith(t, "sqlite", setup{listen: listen})
			r := tg.office("GET", "/office", nil, "")
			if r.status != http.StatusForbidden || !strings.Contains(r.body, apiv1.CodeTLSRequired) {
				t.Fatalf("ATTACK SUCCEEDED: /office over plain HTTP on a LAN address: %d %.200s", r.status, r.body)
			}
			r = tg.office("POST", "/office/login", url.Values{"username": {"admin"}, "password": {pw}}, "")
			if r.status != http.StatusForbidden || len(r.resp.Cookies()) != 0 {
				t.Fatalf("ATTACK SUCCEEDED: office login over plain HTTP on a LAN address: %d, cookies %v", r.status, r.resp.Cookies())
			}
			// The kiosk API (signed requests) and the staff API (bearer
			// tokens) are not the office: clients there pin TLS themselves.
			tg.do(tg.request("GET", "/healthz", nil)).want(t, http.StatusOK, "")
		})
	}
	t.Run("explicit override", func(t *testing.T) {
		tg := startWith(t, "sqlite", setup{listen: listeners["a LAN address (simulated)"], cfg: []func(*api.Config){func(c *api.Config) { c.InsecureOffice = true }}})
		if r := tg.office("GET", "/office", nil, ""); r.status != http.StatusOK {
			t.Fatalf("--insecure-office: %d", r.status)
		}
	})
	t.Run("over TLS", func(t *testing.T) {
		p := newPKI(t, "127.0.0.1")
		tg := startWith(t, "sqlite", setup{listen: listeners["a LAN address (simulated)"], clientTLS: &tls.Config{RootCAs: p.pool}, cfg: []func(*api.Config){tlsConfig(p, false)}})
		c, r := tg.officeLogin("admin")
		if r.status != http.StatusSeeOther || !c.Secure {
			t.Fatalf("office over TLS: %d, cookie %+v", r.status, c)
		}
	})
}

// TestTLS: centrald serves HTTPS with its certificate; a client that does
// not trust it, or speaks plain HTTP, gets nothing.
func TestTLS(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		p := tg.pki
		if !strings.HasPrefix(tg.base, "https://") {
			t.Fatalf("base %s", tg.base)
		}
		s := tg.enrolledStation("kiosk-01") // signed kiosk requests over TLS
		mustV[*apiv1.VerifyResponse](t)(s.k.Verify(tg.ctx(), tg.verifyRequest(s.k, s.p, s.p.fingers[apiv1.RightIndex])))
		if _, err := (&http.Client{Timeout: 5 * time.Second}).Get(tg.base + "/healthz"); err == nil {
			t.Fatal("a client that does not trust the CA connected")
		}
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + tg.addr + "/healthz")
		if err == nil && resp.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP answered on the TLS port")
		}
		if r, err := p.clientFor(nil).Get(tg.base + "/healthz"); err != nil || r.StatusCode != 200 {
			t.Fatalf("healthz over TLS: %v", err)
		}
	}, withTLS(false))
}

// withTLS marks a target to be started with TLS (forEach passes it on).
func withTLS(clientCA bool) func(*api.Config) {
	return func(c *api.Config) {
		c.TLSCertFile = tlsMarker
		c.KioskClientCAFile = map[bool]string{true: tlsMarker}[clientCA]
	}
}

const tlsMarker = "\x00tls"

// TestAttackKioskWithoutClientCert: with kiosk client certificates on, a
// stolen kiosk key alone (or another kiosk's certificate) is not enough.
func TestAttackKioskWithoutClientCert(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		p := tg.pki
		mine := p.issue(t, "kiosk-01", nil, x509.ExtKeyUsageClientAuth)
		other := p.issue(t, "kiosk-02", nil, x509.ExtKeyUsageClientAuth)
		k0 := tg.newKiosk("kiosk-01")
		with := func(cert *tls.Certificate) *kiosk {
			c := *k0.Client
			c.HTTP = p.clientFor(cert)
			return &kiosk{Client: &c, tg: tg, scanner: k0.scanner}
		}
		tg.staffInStore("zhang", store.RoleStationStaff, "", tg.station)
		s := &station{k: with(&mine), p: tg.newPerson("李明", false)}
		s.staff = s.k.staffAt("zhang")
		tg.enrol(s.staff, s.p)
		_, err := with(nil).Nonce(tg.ctx())
		refused(t, err, http.StatusUnauthorized, apiv1.CodeClientCertRequired)
		_, err = with(&other).Nonce(tg.ctx())
		refused(t, err, http.StatusUnauthorized, apiv1.CodeClientCertRequired)
		rogueCA := newPKI(t, "127.0.0.1")
		rogue := rogueCA.issue(t, "kiosk-01", nil, x509.ExtKeyUsageClientAuth)
		if _, err = with(&rogue).Nonce(tg.ctx()); err == nil {
			t.Fatal("ATTACK SUCCEEDED: a client certificate from another CA was accepted")
		}
		k := with(&mine)
		mustV[*apiv1.VerifyResponse](t)(k.Verify(tg.ctx(), tg.verifyRequest(k, s.p, s.p.fingers[apiv1.RightIndex])))
		// Staff browsers have no client certificate and still log in.
		tg.staffInStore("li", store.RoleDepartmentOfficer, "civil_affairs", "")
		tg.login("li")
	}, withTLS(true))
}

// TestKioskdClientCertificate: the kiosk daemon's own HTTP client
// (kiosk.Config.HTTPClient, from -server-ca, -tls-cert and -tls-key) talks
// to a centrald that requires kiosk client certificates.
func TestKioskdClientCertificate(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		p := tg.pki
		k := tg.newKiosk("kiosk-01")
		cert := p.issue(t, "kiosk-01", nil, x509.ExtKeyUsageClientAuth)
		kb, err := x509.MarshalECPrivateKey(cert.PrivateKey.(*ecdsa.PrivateKey))
		if err != nil {
			t.Fatal(err)
		}
		cfg := kioskpkg.Config{ServerCA: p.caFile, TLSCert: p.write(t, "kiosk-01.pem", "CERTIFICATE", cert.Certificate[0]), TLSKey: p.write(t, "kiosk-01.key", "EC PRIVATE KEY", kb)}
		hc, err := cfg.HTTPClient()
		if err != nil {
			t.Fatal(err)
		}
		c := *k.Client
		c.HTTP = hc
		mustV[*apiv1.NonceResponse](t)(c.Nonce(tg.ctx()))
		// Without the certificate the same daemon is refused.
		hc, err = kioskpkg.Config{ServerCA: p.caFile}.HTTPClient()
		if err != nil {
			t.Fatal(err)
		}
		c.HTTP = hc
		_, err = c.Nonce(tg.ctx())
		refused(t, err, http.StatusUnauthorized, apiv1.CodeClientCertRequired)
		// A key file others can read is not loaded.
		if err := os.Chmod(cfg.TLSKey, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := cfg.HTTPClient(); err == nil {
			t.Fatal("a world-readable TLS key was loaded")
		}
	}, withTLS(true))
}
