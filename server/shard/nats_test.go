package shard

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// natsBinary finds nats-server. Outside CI a machine without it skips the
// tests that need it; in CI (CI or VEINKIOSK_REQUIRE_NATS set) that fails.
func natsBinary(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"nats-server", "/usr/sbin/nats-server", "/usr/bin/nats-server"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" || os.Getenv("VEINKIOSK_REQUIRE_NATS") != "" {
		t.Fatal("nats-server not found (apt-get install nats-server; scripts/test.sh installs it)")
	}
	t.Skip("nats-server not installed")
	return ""
}

// startNATS starts a nats-server of its own on a free loopback port and
// returns its URL; it is killed when the test ends.
func startNATS(t testing.TB) string {
	t.Helper()
	bin := natsBinary(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	conf := filepath.Join(dir, "nats.conf")
	// Replies of large partitions carry their preselection ranking
	// (docs/scaling.md): more than the default 1 MB.
	if err := os.WriteFile(conf, []byte("max_payload: 8MB\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", conf, "-a", "127.0.0.1", "-p", strconv.Itoa(port))
	logf, err := os.Create(filepath.Join(dir, "nats.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
	})
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	for i := 0; ; i++ {
		nc, err := nats.Connect(url)
		if err == nil {
			nc.Close()
			return url
		}
		if i == 100 {
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("nats-server did not start: %v\n%s", err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func connect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// child is a shard process started by the fault test: the test binary
// itself, with the partition in its environment.
func runChild() {
	p, _ := strconv.Atoi(os.Getenv("SHARD_TEST_PARTITION"))
	n, _ := strconv.Atoi(os.Getenv("SHARD_TEST_PARTITIONS"))
	nc, err := nats.Connect(os.Getenv("SHARD_TEST_NATS"))
	if err != nil {
		fmt.Println("connect:", err)
		os.Exit(2)
	}
	s, err := New(p, n, testOptions, nil)
	if err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	snap, _ := testGallery(faultSeed, faultSubjects)
	if err := s.Load(context.Background(), snap, nil); err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		// The parent closes stdin to stop a child gently.
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		cancel()
	}()
	go func() {
		for !s.ready.Load() {
			time.Sleep(time.Millisecond)
		}
		fmt.Println("ready")
	}()
	if err := s.Serve(ctx, nc, DefaultPrefix, 2); err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	os.Exit(0)
}

func TestMain(m *testing.M) {
	if os.Getenv("SHARD_TEST_PARTITION") != "" {
		runChild()
	}
	os.Exit(m.Run())
}

// startChild starts a shard process and waits until it serves.
func startChild(t *testing.T, url string, p, n int) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SHARD_TEST_NATS="+url, "SHARD_TEST_PARTITION="+strconv.Itoa(p), "SHARD_TEST_PARTITIONS="+strconv.Itoa(n))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		t.Fatalf("shard %d: %q %v", p, line, err)
	}
	return cmd
}
