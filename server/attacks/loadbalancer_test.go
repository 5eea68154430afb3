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
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/api"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/clientaddr"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// The documented load balancers, for real: HAProxy running
// docs/haproxy-replicas.cfg (as scripts/cluster.sh fills it in) and nginx
// running docs/nginx-replicas.conf, each in front of two replicas on one
// store. VEINKIOSK_REQUIRE_HAPROXY=1 and VEINKIOSK_REQUIRE_NGINX=1
// (scripts/test.sh) make a missing program a failure.

const (
	haproxyDoc = "../../docs/haproxy-replicas.cfg"
	nginxDoc   = "../../docs/nginx-replicas.conf"
)

func needProgram(t *testing.T, name, env, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv(env) == "1" {
			t.Fatalf("%s not found and %s=1 (%s)", name, env, install)
		}
		t.Skipf("%s not installed (%s; %s=1 makes this a failure)", name, install, env)
	}
	return p
}

// lbConfig is a documented configuration filled in as scripts/cluster.sh
// does: @LBPORT@, and the example "server" lines (those starting with
// serverPrefix) replaced by one per replica, made by server(i, address,
// the first example line). It also returns the address the proxy connects
// to the replicas from (the line whose first word is sourceWord), which the
// replicas must trust.
func lbConfig(t *testing.T, docPath string, lbPort int, replicas []string, serverPrefix, sourceWord string, server func(i int, addr, example string) string) (string, netip.Addr) {
	t.Helper()
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	var source netip.Addr
	example := ""
	for _, line := range strings.Split(strings.ReplaceAll(string(doc), "@LBPORT@", strconv.Itoa(lbPort)), "\n") {
		if strings.HasPrefix(line, serverPrefix) {
			if example == "" {
				example = line
				for i, r := range replicas {
					b.WriteString(server(i, r, example) + "\n")
				}
			}
			continue
		}
		if f := strings.Fields(line); len(f) == 2 && f[0] == sourceWord {
			if source, err = netip.ParseAddr(strings.TrimSuffix(f[1], ";")); err != nil {
				t.Fatalf("%s: %s line %q: %v", docPath, sourceWord, line, err)
			}
		}
		b.WriteString(line + "\n")
	}
	if !source.IsValid() || example == "" {
		t.Fatalf("%s has no %s line or no server line: the replicas would not know whom to trust", docPath, sourceWord)
	}
	return b.String(), source
}

func haproxyConfig(t *testing.T, lbPort int, replicas []string) (string, netip.Addr) {
	return lbConfig(t, haproxyDoc, lbPort, replicas, "    server ", "source", func(i int, addr, example string) string {
		// "    server centrald1 127.0.0.1:8081 check"
		f := strings.Fields(example)
		f[1], f[2] = fmt.Sprintf("centrald%d", i+1), addr
		return "    " + strings.Join(f, " ")
	})
}

func nginxConfig(t *testing.T, lbPort int, replicas []string) (string, netip.Addr) {
	return lbConfig(t, nginxDoc, lbPort, replicas, "        server ", "proxy_bind", func(i int, addr, example string) string {
		// "        server 127.0.0.1:8081 max_fails=1 fail_timeout=5s;"
		f := strings.Fields(example)
		f[1] = addr
		if len(f) == 2 {
			f[1] += ";"
		}
		return "        " + strings.Join(f, " ")
	})
}

// trustSource trusts the proxy's source address with the PROXY protocol.
func trustSource(source netip.Addr) func(*api.Config) {
	return func(c *api.Config) {
		c.Proxies = clientaddr.Config{Trusted: []netip.Prefix{netip.PrefixFrom(source, source.BitLen())}, ProxyProtocol: true}
	}
}

// startLB runs a load balancer (args after the binary) until the test ends,
// its output in logPath (shown when the test fails).
func startLB(t *testing.T, logPath string, bin string, args ...string) {
	t.Helper()
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
		if t.Failed() || os.Getenv("VEINKIOSK_LB_LOG") != "" {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s log:\n%s", filepath.Base(bin), b)
		}
	})
}

// fromAddr is an HTTP client whose connections come from src, one per
// request.
func fromAddr(src string) *http.Client {
	tr := &http.Transport{DisableKeepAlives: true, DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}).DialContext}
	return &http.Client{Timeout: 30 * time.Second, Transport: tr}
}

// clientAddressReaches: logins through the balancer at lb from 127.0.0.3
// and 127.0.0.4 (with a spoofed X-Forwarded-For) are audited with those
// addresses, never the proxy's; a client behind it that exhausts its login
// limit does not limit another.
func (tg *target) clientAddressReaches(lb string, proxy netip.Addr) {
	t := tg.t
	t.Helper()
	apiFrom := func(src string) *apiv1.Client {
		return &apiv1.Client{BaseURL: "http://" + lb, HTTP: fromAddr(src), Now: tg.clock.Now}
	}
	tg.loginStaff()
	if _, err := apiFrom("127.0.0.3").Login(tg.ctx(), loginUsers[0], pw); err != nil {
		t.Fatalf("login through the balancer: %v", err)
	}
	spoof := &apiv1.Client{BaseURL: "http://" + lb, HTTP: &http.Client{Timeout: 30 * time.Second, Transport: headerTransport{fromAddr("127.0.0.4").Transport, "203.0.113.9"}}, Now: tg.clock.Now}
	_, err := spoof.Login(tg.ctx(), loginUsers[1], "wrong password!")
	refused(t, err, http.StatusUnauthorized, apiv1.CodeBadCredentials)
	ips := tg.loginIPs()
	if ips["127.0.0.3"] != 1 || ips["127.0.0.4"] != 1 || ips[proxy.String()] != 0 || ips["203.0.113.9"] != 0 {
		t.Fatalf("audit ip details %v: want 127.0.0.3 and 127.0.0.4 once each (the clients), never the proxy's %s or the spoofed 203.0.113.9", ips, proxy)
	}
	tg.exhaustAddress(apiFrom("127.0.0.5"))
	_, err = apiFrom("127.0.0.6").Login(tg.ctx(), loginUsers[2], "wrong password!")
	refused(t, err, http.StatusUnauthorized, apiv1.CodeBadCredentials)
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
func (tg *target) replica(st store.Store, opts ...func(*api.Config)) (addr string, stop func()) {
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
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, time.Second) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				tg.t.Errorf("replica: %v", err)
			}
		})
	}
	tg.t.Cleanup(stop)
	return ln.Addr().String(), stop
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

// bothReached sends requests (get) until both replicas have answered some.
func bothReached(t *testing.T, direct *http.Client, get func() error, r1, r2 string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for healthzServed(t, direct, r1) == 0 || healthzServed(t, direct, r2) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the balancer did not spread requests over both replicas within 60 s (served %d and %d)", healthzServed(t, direct, r1), healthzServed(t, direct, r2))
		}
		if err := get(); err != nil {
			time.Sleep(100 * time.Millisecond) // the balancer starting
		}
	}
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
	bin := needProgram(t, "haproxy", "VEINKIOSK_REQUIRE_HAPROXY", "apt-get install haproxy")
	forEach(t, func(t *testing.T, tg *target) {
		lbPort := freePort(t)
		// The source address is in the document: read it before starting
		// anything that trusts it.
		_, source := haproxyConfig(t, lbPort, nil)
		// Two replicas on the target's store that trust the proxy (the
		// harness's own server stays out of the pool).
		flaky := &flakyStore{Store: tg.st}
		r1, _ := tg.replica(tg.st, trustSource(source))
		r2, _ := tg.replica(flaky, trustSource(source))
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
		startLB(t, logPath, bin, "-db", "-f", cfgPath)
		lb := "127.0.0.1:" + strconv.Itoa(lbPort)
		direct := &http.Client{Timeout: 10 * time.Second}
		healthz := fromAddr("127.0.0.3")
		get := func() error {
			resp, err := healthz.Get("http://" + lb + "/healthz")
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("GET /healthz through the balancer: %d", resp.StatusCode)
			}
			return nil
		}
		bothReached(t, direct, get, r1, r2)
		tg.clientAddressReaches(lb, source)

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

// TestNginxReplicas: docs/nginx-replicas.conf (the stream module with
// proxy_protocol, i.e. PROXY v1) in front of two replicas. The client's
// address reaches centrald as through HAProxy, and a replica that stops
// (connection refused) is skipped with no failed request: nginx's free
// version has passive health checks only.
func TestNginxReplicas(t *testing.T) {
	bin := needProgram(t, "nginx", "VEINKIOSK_REQUIRE_NGINX", "apt-get install nginx libnginx-mod-stream")
	forEach(t, func(t *testing.T, tg *target) {
		lbPort := freePort(t)
		_, source := nginxConfig(t, lbPort, nil)
		r1, _ := tg.replica(tg.st, trustSource(source))
		r2, stop2 := tg.replica(tg.st, trustSource(source))
		cfg, _ := nginxConfig(t, lbPort, []string{r1, r2})
		dir := t.TempDir()
		cfgPath := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		// One process (no master to outlive a killed test), its pid file in
		// the test's directory.
		global := fmt.Sprintf("daemon off; master_process off; pid %s;", filepath.Join(dir, "nginx.pid"))
		if out, err := exec.Command(bin, "-t", "-q", "-p", dir, "-c", cfgPath, "-g", global).CombinedOutput(); err != nil {
			t.Fatalf("nginx rejects the documented configuration: %v\n%s\n%s", err, out, cfg)
		}
		startLB(t, filepath.Join(dir, "nginx.log"), bin, "-p", dir, "-c", cfgPath, "-g", global)
		lb := "127.0.0.1:" + strconv.Itoa(lbPort)
		direct := &http.Client{Timeout: 10 * time.Second}
		healthz := fromAddr("127.0.0.3")
		get := func() error {
			resp, err := healthz.Get("http://" + lb + "/healthz")
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("GET /healthz through nginx: %d", resp.StatusCode)
			}
			return nil
		}
		bothReached(t, direct, get, r1, r2)
		tg.clientAddressReaches(lb, source)

		// Replica 2 stops: every request is answered, by replica 1.
		stop2()
		before := healthzServed(t, direct, r1)
		for i := 0; i < 20; i++ {
			if err := get(); err != nil {
				t.Fatalf("request %d after replica 2 stopped: %v", i, err)
			}
		}
		if n := healthzServed(t, direct, r1) - before; n != 20 {
			t.Fatalf("replica 1 answered %d of 20 requests after replica 2 stopped", n)
		}
	})
}
