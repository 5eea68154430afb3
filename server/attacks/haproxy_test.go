package attacks

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/api"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/clientaddr"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// The documented load balancer, for real: HAProxy running
// docs/haproxy-replicas.cfg (as scripts/cluster.sh fills it in) in front of
// two replicas on one store. VEINKIOSK_REQUIRE_HAPROXY=1 (scripts/test.sh)
// makes a missing haproxy a failure.

const haproxyDoc = "../../docs/haproxy-replicas.cfg"

func needHAProxy(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("haproxy")
	if err != nil {
		if os.Getenv("VEINKIOSK_REQUIRE_HAPROXY") == "1" {
			t.Fatal("haproxy not found and VEINKIOSK_REQUIRE_HAPROXY=1 (apt-get install haproxy)")
		}
		t.Skip("haproxy not installed (apt-get install haproxy; VEINKIOSK_REQUIRE_HAPROXY=1 makes this a failure)")
	}
	return p
}

// haproxyConfig is the documented configuration as scripts/cluster.sh
// makes it: @LBPORT@ filled in, the example "server" lines replaced by one
// per replica. It also returns the address the proxy connects from (its
// "source" line), which the replicas must trust.
func haproxyConfig(t *testing.T, lbPort int, replicas []string) (string, netip.Addr) {
	t.Helper()
	doc, err := os.ReadFile(haproxyDoc)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	var source netip.Addr
	for _, line := range strings.Split(strings.ReplaceAll(string(doc), "@LBPORT@", strconv.Itoa(lbPort)), "\n") {
		if strings.HasPrefix(line, "    server ") {
			continue
		}
		if f := strings.Fields(line); len(f) == 2 && f[0] == "source" {
			if source, err = netip.ParseAddr(f[1]); err != nil {
				t.Fatalf("%s: source line %q: %v", haproxyDoc, line, err)
			}
		}
		b.WriteString(line + "\n")
	}
	if !source.IsValid() {
		t.Fatalf("%s has no source line: the replicas would not know whom to trust", haproxyDoc)
	}
	for i, r := range replicas {
		fmt.Fprintf(&b, "    server centrald%d %s check\n", i+1, r)
	}
	return b.String(), source
}

// flakyStore is a replica's store whose database "stops answering" the
// readiness probe on demand (the replica's /readyz then answers 503).
type flakyStore struct {
	store.Store
	down atomic.Bool
}

func (f *flakyStore) AuditHead(ctx context.Context) (int64, audit.Hash, error) {
	if f.down.Load() {
		return 0, audit.Hash{}, errors.New("test: the database does not answer")
	}
	return f.Store.AuditHead(ctx)
}

// replica starts a second server on the target's store (wrapped), on its
// own loopback port.
func (tg *target) replica(st store.Store, opts ...func(*api.Config)) string {
	tg.t.Helper()
	cfg := api.Config{
		Store: st, Logger: quiet(), Now: tg.clock.Now,
		VerifyThreshold: testThreshold, DedupThreshold: testThreshold, IdentifyThreshold: testThreshold, MinQuality: 40,
		KioskRate: 1000, KioskBurst: 1000, RequestTimeout: time.Minute,
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := api.New(cfg)
	if err != nil {
		tg.t.Fatal(err)
	}
	if err := srv.LoadGallery(tg.ctx()); err != nil {
		tg.t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tg.t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, time.Second) }()
	tg.t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			tg.t.Errorf("replica: %v", err)
		}
	})
	return ln.Addr().String()
}

// healthzServed is how many GET /healthz a replica answered 200 (read from
// its /metrics, directly).
func healthzServed(t *testing.T, hc *http.Client, addr string) int {
	t.Helper()
	resp, err := hc.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	re := regexp.MustCompile(`^veinkiosk_http_request_duration_seconds_count\{method="GET",route="/healthz",status="200"\} (\d+)`)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			n, _ := strconv.Atoi(m[1])
			return n
		}
	}
	return 0
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestHAProxyReplicas: docs/haproxy-replicas.cfg in front of two replicas
// with the PROXY protocol (send-proxy-v2). The client's address reaches
// centrald (audit "ip", each client its own login limit, a client's
// X-Forwarded-For ignored), and a replica whose /readyz fails is drained by
// the health checks, with no failed request, and taken back when it
// recovers.
func TestHAProxyReplicas(t *testing.T) {
	bin := needHAProxy(t)
	forEach(t, func(t *testing.T, tg *target) {
		lbPort := freePort(t)
		// The source address is in the document: read it before starting
		// anything that trusts it.
		_, source := haproxyConfig(t, lbPort, nil)
		trust := func(c *api.Config) {
			c.Proxies = clientaddr.Config{Trusted: []netip.Prefix{netip.PrefixFrom(source, source.BitLen())}, ProxyProtocol: true}
		}
		// Two replicas on the target's store that trust the proxy (the
		// harness's own server stays out of the pool).
		flaky := &flakyStore{Store: tg.st}
		r1 := tg.replica(tg.st, trust)
		r2 := tg.replica(flaky, trust)
		cfg, _ := haproxyConfig(t, lbPort, []string{r1, r2})
		dir := t.TempDir()
		cfgPath := filepath.Join(dir, "haproxy.cfg")
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(bin, "-c", "-q", "-f", cfgPath).CombinedOutput(); err != nil {
			t.Fatalf("haproxy rejects the documented configuration: %v\n%s\n%s", err, out, cfg)
		}
		logPath := filepath.Join(dir, "haproxy.log")
		logf, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-db", "-f", cfgPath)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
			logf.Close()
			if t.Failed() || os.Getenv("VEINKIOSK_HAPROXY_LOG") != "" {
				b, _ := os.ReadFile(logPath)
				t.Logf("haproxy log:\n%s", b)
			}
		})
		lb := "127.0.0.1:" + strconv.Itoa(lbPort)
		direct := &http.Client{Timeout: 10 * time.Second}
		// Clients of the balancer, each from its own loopback address.
		from := func(src string) *http.Client {
			tr := &http.Transport{DisableKeepAlives: true, DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}).DialContext}
			return &http.Client{Timeout: 30 * time.Second, Transport: tr}
		}
		apiFrom := func(src string) *apiv1.Client {
			return &apiv1.Client{BaseURL: "http://" + lb, HTTP: from(src), Now: tg.clock.Now}
		}
		healthz := from("127.0.0.3")
		get := func() error {
			resp, err := healthz.Get("http://" + lb + "/healthz")
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("GET /healthz through HAProxy: %d", resp.StatusCode)
			}
			return nil
		}
		// Both replicas in the pool: requests reach each.
		deadline := time.Now().Add(60 * time.Second)
		for healthzServed(t, direct, r1) == 0 || healthzServed(t, direct, r2) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("HAProxy did not spread requests over both replicas within 60 s (served %d and %d)", healthzServed(t, direct, r1), healthzServed(t, direct, r2))
			}
			if err := get(); err != nil {
				time.Sleep(100 * time.Millisecond) // HAProxy starting
			}
		}

		// The client's address reaches centrald.
		tg.loginStaff()
		if _, err := apiFrom("127.0.0.3").Login(tg.ctx(), loginUsers[0], pw); err != nil {
			t.Fatalf("login through HAProxy: %v", err)
		}
		spoof := &apiv1.Client{BaseURL: "http://" + lb, HTTP: &http.Client{Timeout: 30 * time.Second, Transport: headerTransport{from("127.0.0.4").Transport, "203.0.113.9"}}, Now: tg.clock.Now}
		_, err = spoof.Login(tg.ctx(), loginUsers[1], "wrong password!")
		refused(t, err, http.StatusUnauthorized, apiv1.CodeBadCredentials)
		ips := tg.loginIPs()
		if ips["127.0.0.3"] != 1 || ips["127.0.0.4"] != 1 || ips[source.String()] != 0 || ips["203.0.113.9"] != 0 {
			t.Fatalf("audit ip details %v: want 127.0.0.3 and 127.0.0.4 once each (the clients), never the proxy's %s or the spoofed 203.0.113.9", ips, source)
		}
		// Each client behind the proxy has its own login limit.
		tg.exhaustAddress(apiFrom("127.0.0.5"))
		_, err = apiFrom("127.0.0.6").Login(tg.ctx(), loginUsers[2], "wrong password!")
		refused(t, err, http.StatusUnauthorized, apiv1.CodeBadCredentials)

		// Draining: replica 2's database stops answering its readiness
		// probe; the checks take it out (two failures a second apart)
		// while every request is answered; then it recovers and is taken
		// back (two good checks). HAProxy logs each state change.
		failures := 0
		load := func(n int) (toR2 int) {
			for i := 0; i < n; i++ {
				before := healthzServed(t, direct, r2)
				if err := get(); err != nil {
					failures++
					t.Logf("through HAProxy: %v", err)
				}
				toR2 += healthzServed(t, direct, r2) - before
			}
			return toR2
		}
		waitLog := func(what string) time.Duration {
			start := time.Now()
			for {
				b, _ := os.ReadFile(logPath)
				if strings.Contains(string(b), what) {
					return time.Since(start)
				}
				if time.Since(start) > 60*time.Second {
					t.Fatalf("HAProxy did not log %q within 60 s", what)
				}
				load(1)
			}
		}
		flaky.down.Store(true)
		drained := waitLog("Server replicas/centrald2 is DOWN")
		if n := load(20); n != 0 {
			t.Fatalf("%d of 20 requests reached the drained replica", n)
		}
		flaky.down.Store(false)
		back := waitLog("Server replicas/centrald2 is UP")
		if n := load(20); n == 0 {
			t.Fatal("no request of 20 reached the replica taken back")
		}
		if failures > 0 {
			t.Fatalf("%d requests through HAProxy failed while a replica was drained and taken back", failures)
		}
		t.Logf("HAPROXY %s: replica with /readyz 503 drained in %v, taken back %v after it recovered, 0 failed requests", tg.backend, drained.Round(10*time.Millisecond), back.Round(10*time.Millisecond))
	})
}
