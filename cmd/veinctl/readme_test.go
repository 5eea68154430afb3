package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan/conformance"
)

// TestReadmeConformanceAgainstDevsim runs the scanner conformance command
// as README.md prints it against the real "devsim vein --serial" (built
// and started as its own process), filling in the device path and the
// control URL devsim prints: every requirement passes, no operator needed.
// Only --timing-slack is added (behaviour, not speed, on a busy test
// machine).
func TestReadmeConformanceAgainstDevsim(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs devsim")
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile("go run ./cmd/veinctl (scanner conformance [^`\n]*)").FindSubmatch(readme)
	if line == nil {
		t.Fatal("README.md shows no scanner conformance command")
	}
	bin := filepath.Join(t.TempDir(), "devsim")
	if out, err := exec.Command("go", "build", "-o", bin, "../devsim").CombinedOutput(); err != nil {
		t.Fatalf("building devsim: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "vein", "--serial")
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	path, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("devsim printed no device: %v", err)
	}
	path = strings.TrimSpace(path)
	// the control URL is on stderr, in the command devsim suggests
	var control string
	sc := bufio.NewScanner(stderr)
	for control == "" && sc.Scan() {
		if m := regexp.MustCompile(`--sim-control (http://127\.0\.0\.1:\d+)`).FindStringSubmatch(sc.Text()); m != nil {
			control = m[1]
		}
	}
	if control == "" {
		t.Fatal("devsim printed no control URL")
	}
	go func() {
		for sc.Scan() {
		}
	}()
	cmdline := string(line[1])
	cmdline = strings.ReplaceAll(cmdline, "/dev/pts/N", path)
	cmdline = strings.ReplaceAll(cmdline, "http://127.0.0.1:PORT", control)
	args := append(strings.Fields(cmdline), "--timing-slack", "30s")
	var out, errb bytes.Buffer
	if code := realMain(args, &out, &errb); code != 0 {
		t.Fatalf("%s: exit %d\n%s\n%s", cmdline, code, out.String(), errb.String())
	}
	if n := strings.Count(out.String(), "PASS "); n != len(conformance.Requirements()) || strings.Contains(errb.String(), ">>>") {
		t.Fatalf("%d of %d pass, operator prompts: %v\n%s", n, len(conformance.Requirements()), strings.Contains(errb.String(), ">>>"), out.String())
	}
}
