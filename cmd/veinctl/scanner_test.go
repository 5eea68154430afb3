package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"image"
	"image/png"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan"
	"github.com/qingshan-gov/veinkiosk/devices/veinscan/conformance"
	"github.com/qingshan-gov/veinkiosk/devices/veinscan/wire"
	"github.com/qingshan-gov/veinkiosk/simulators/fingerimg"
	"github.com/qingshan-gov/veinkiosk/simulators/veinsim"
)

func newSim(t *testing.T) *veinsim.Device {
	t.Helper()
	d, err := veinsim.New(veinsim.Config{Serial: "TEST-0001", Counter: 500})
	if err != nil {
		t.Fatal(err)
	}
	d.PlaceFinger(3)
	return d
}

func runConformance(t *testing.T, d *veinsim.Device) []conformance.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := d.Connect()
	if err != nil {
		return scanFailAll(err)
	}
	defer c.Close()
	return conformance.Run(ctx, c, conformance.Options{
		Finger: scanSimFinger(d), FingerWait: 500 * time.Millisecond,
		MakerKeys: []ed25519.PublicKey{veinsim.TestMakerPublicKey()},
		// behaviour, not speed: the machine running the tests may be busy
		TimingSlack: 30 * time.Second,
	})
}

// slowConn answers GET_LED late: a device that misses the time limit.
type slowConn struct {
	veinscan.Conn
	delay time.Duration
	slow  bool
}

func (c *slowConn) Write(ctx context.Context, p []byte) error {
	c.slow = len(p) > 6 && wire.Command(p[6]) == wire.CmdGetLED
	return c.Conn.Write(ctx, p)
}

func (c *slowConn) Read(ctx context.Context, p []byte) (int, error) {
	if c.slow {
		c.slow = false
		select {
		case <-time.After(c.delay):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return c.Conn.Read(ctx, p)
}

// TestConformanceTiming: a device that answers GET_LED 300 ms late fails
// the command timing requirement (the limit is 200 ms).
func TestConformanceTiming(t *testing.T) {
	d := newSim(t)
	c, _ := d.Connect()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	rs := conformance.Run(ctx, &slowConn{Conn: c, delay: 300 * time.Millisecond}, conformance.Options{Finger: scanSimFinger(d), FingerWait: time.Second})
	if r, _ := conformance.Find(rs, "timing.commands"); r.Status != conformance.Fail {
		t.Fatalf("timing.commands: %v", r)
	}
	if r, _ := conformance.Find(rs, "framing.info"); r.Status != conformance.Pass {
		t.Fatalf("framing.info: %v", r)
	}
}

func TestConformanceSimulatorPasses(t *testing.T) {
	rs := runConformance(t, newSim(t))
	if len(rs) != len(conformance.Requirements()) {
		t.Fatalf("%d results for %d requirements", len(rs), len(conformance.Requirements()))
	}
	for _, r := range rs {
		if r.Status != conformance.Pass {
			t.Errorf("%v", r)
		}
	}
}

// TestConformanceFaults: each fault the simulator can show makes the
// requirement it breaks fail.
func TestConformanceFaults(t *testing.T) {
	breaks := map[veinsim.Fault][]string{
		veinsim.FaultUnplug:           {"framing.info"},
		veinsim.FaultStall:            {"framing.info"},
		veinsim.FaultCorruptFrame:     {"framing.info"},
		veinsim.FaultTruncateFrame:    {"framing.info"},
		veinsim.FaultWrongLength:      {"framing.info"},
		veinsim.FaultNoFinger:         {"cmd.finger-present", "cmd.capture"},
		veinsim.FaultFingerMoved:      {"cmd.finger-present"},
		veinsim.FaultOverExposure:     {"image.exposure"},
		veinsim.FaultUnderExposure:    {"image.exposure"},
		veinsim.FaultBadSignature:     {"attest.signature", "attest.command"},
		veinsim.FaultCounterBackwards: {"attest.counter"},
		veinsim.FaultKeepPartial:      {"framing.partial-timeout"},
	}
	for _, f := range veinsim.Faults() {
		want, ok := breaks[f]
		if !ok {
			t.Errorf("fault %v has no expected failure in this table", f)
			continue
		}
		t.Run(f.String(), func(t *testing.T) {
			t.Parallel()
			d := newSim(t)
			if err := d.SetFault(f); err != nil {
				t.Fatal(err)
			}
			rs := runConformance(t, d)
			if !conformance.Failed(rs) {
				t.Fatalf("conformance passes with fault %v", f)
			}
			for _, id := range want {
				r, ok := conformance.Find(rs, id)
				if !ok || r.Status != conformance.Fail {
					t.Errorf("%s: %v, want FAIL", id, r)
				}
			}
		})
	}
}

func TestConformanceCLI(t *testing.T) {
	var out, errb bytes.Buffer
	if code := realMain([]string{"scanner", "conformance", "--device", "sim", "--timing-slack", "30s"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(conformance.Requirements())+1 {
		t.Fatalf("%d lines:\n%s", len(lines), out.String())
	}
	for _, l := range lines[:len(lines)-1] {
		if !strings.HasPrefix(l, "PASS ") {
			t.Errorf("not PASS: %s", l)
		}
	}
	out.Reset()
	errb.Reset()
	if code := realMain([]string{"scanner", "conformance", "--device", "sim", "--fault", "bad-signature"}, &out, &errb); code != 1 {
		t.Fatalf("exit %d with a fault, want 1\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "FAIL attest.signature") {
		t.Fatalf("output lacks the failed requirement:\n%s", out.String())
	}
	if code := realMain([]string{"scanner", "conformance", "--device", "sim", "--fault", "bogus"}, &out, &errb); code != 2 {
		t.Fatalf("unknown fault: exit %d, want 2", code)
	}
}

// TestCaptureCLI checks the capture command's contract (PNG + one JSON
// object) for --device sim.
func TestCaptureCLI(t *testing.T) {
	deck, err := veinsim.LoadDeck("", veinsim.DefaultDeckSeed, veinsim.DefaultDeckSize)
	if err != nil {
		t.Fatal(err)
	}
	id := deck.Residents[5].IDNumber
	png1 := filepath.Join(t.TempDir(), "a.png")
	var out, errb bytes.Buffer
	code := realMain([]string{"scanner", "capture", "--device", "sim", "--resident", id, "--finger", "3", "--out", png1, "--json"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var j map[string]any
	dec := json.NewDecoder(&out)
	if err := dec.Decode(&j); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, out.String())
	}
	if dec.More() {
		t.Fatal("more than one JSON value on stdout")
	}
	for _, k := range []string{"width", "height", "device_serial", "quality", "signature_valid", "led"} {
		if _, ok := j[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	if j["width"] != 500.0 || j["height"] != 200.0 || j["device_serial"] != veinsim.DefaultSerial || j["signature_valid"] != true {
		t.Errorf("JSON %v", j)
	}
	if q, ok := j["quality"].(float64); !ok || q < 0 || q > 100 {
		t.Errorf("quality %v", j["quality"])
	}
	if led, ok := j["led"].([]any); !ok || len(led) != veinsim.DefaultLEDCount {
		t.Errorf("led %v", j["led"])
	}
	f, err := os.Open(png1)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	g, ok := img.(*image.Gray)
	if !ok || g.Bounds().Dx() != 500 || g.Bounds().Dy() != 200 {
		t.Fatalf("PNG is %T %v, want 8-bit gray 500x200", img, img.Bounds())
	}
	// the PNG is exactly the attested image
	att, _ := base64.StdEncoding.DecodeString(j["attestation"].(string))
	var a wire.Attestation
	if err := a.UnmarshalBinary(att); err != nil {
		t.Fatal(err)
	}
	if err := a.VerifyImage(g.Pix); err != nil {
		t.Fatalf("PNG pixels: %v", err)
	}
	if hex.EncodeToString(a.ImageSHA256[:]) != j["image_sha256"] {
		t.Error("image_sha256 differs from the attestation")
	}

	// an ID number that is not valid is refused (any valid one has a
	// finger: TestCaptureEvidence)
	if code := realMain([]string{"scanner", "capture", "--device", "sim", "--resident", "000000000000000000", "--json"}, &out, &errb); code != 1 {
		t.Fatalf("invalid ID number: exit %d", code)
	}
	if !strings.Contains(errb.String(), "not a valid ID number") {
		t.Fatalf("stderr: %s", errb.String())
	}
}

func TestInfoCLI(t *testing.T) {
	var out, errb bytes.Buffer
	if code := realMain([]string{"scanner", "info", "--device", "sim", "--json"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var j scanInfoJSON
	if err := json.Unmarshal(out.Bytes(), &j); err != nil {
		t.Fatal(err)
	}
	if j.Serial != veinsim.DefaultSerial || j.Width != 500 || j.LEDCount != 4 || !j.CertificateTrusted || len(j.Features) != 3 {
		t.Fatalf("%+v", j)
	}
	if code := realMain([]string{"scanner", "info", "--device", "nosuch"}, &out, &errb); code != 1 {
		t.Fatalf("unknown device: exit %d", code)
	}
	if code := realMain([]string{"scanner", "frobnicate"}, &out, &errb); code != 2 {
		t.Fatalf("unknown subcommand: exit %d", code)
	}
}

// TestInProcessUnplug: unplugging during use gives ErrDisconnected, the
// caller reopens after the replug, and nothing leaks.
func TestInProcessUnplug(t *testing.T) {
	d := newSim(t)
	scanSimMu.Lock()
	scanSimDev = d
	scanSimMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	base := runtime.NumGoroutine()
	for round := range 3 {
		s, err := veinscan.Open(ctx, "sim", nil)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if _, err := s.Capture(ctx, [32]byte{byte(round)}); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		d.Unplug()
		if _, err := s.FingerStatus(ctx); !errors.Is(err, veinscan.ErrDisconnected) {
			t.Fatalf("round %d: after unplug: %v", round, err)
		}
		if _, err := veinscan.Open(ctx, "sim", nil); !errors.Is(err, veinscan.ErrDisconnected) {
			t.Fatalf("round %d: open while unplugged: %v", round, err)
		}
		s.Close()
		d.Replug()
	}
	if n := runtime.NumGoroutine(); n > base {
		t.Fatalf("%d goroutines, %d before", n, base)
	}
}

// TestDriverRecovers: a link that corrupts frames for a while makes calls
// fail with a CRC error; once it heals the same Scanner works again.
func TestDriverRecovers(t *testing.T) {
	d := newSim(t)
	c, _ := d.Connect()
	ctx := context.Background()
	s, err := veinscan.New(ctx, c, &veinscan.Options{CommandTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, f := range []veinsim.Fault{veinsim.FaultCorruptFrame, veinsim.FaultTruncateFrame, veinsim.FaultWrongLength, veinsim.FaultStall} {
		d.SetFault(f)
		if _, err := s.FingerStatus(ctx); err == nil {
			t.Fatalf("%v: no error", f)
		} else if errors.Is(err, veinscan.ErrDisconnected) {
			t.Fatalf("%v: %v", f, err)
		}
		d.SetFault(veinsim.FaultNone)
		if _, err := s.Capture(ctx, [32]byte{9}); err != nil {
			t.Fatalf("after %v healed: %v", f, err)
		}
	}
	if st := s.Stats(); st.Retries == 0 || st.DamagedFrames == 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestSerialPTY runs the driver on the simulator over a pseudo-terminal,
// including an unplug (the terminal vanishes) and a replug (a new one).
func TestSerialPTY(t *testing.T) {
	d := newSim(t)
	ctx, cancel := context.WithCancel(context.Background())
	paths := make(chan string, 4)
	done := make(chan error, 1)
	go func() { done <- d.ServePTY(ctx, func(p string) { paths <- p }) }()
	defer func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("ServePTY: %v", err)
		}
	}()
	for round := range 2 {
		var path string
		select {
		case path = <-paths:
		case <-time.After(5 * time.Second):
			t.Fatal("no pty")
		}
		octx, ocancel := context.WithTimeout(ctx, 20*time.Second)
		s, err := veinscan.Open(octx, "serial:"+path, &veinscan.Options{MakerKeys: []ed25519.PublicKey{veinsim.TestMakerPublicKey()}})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		r, err := s.Capture(octx, [32]byte{1, 2, 3})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if !r.SignatureValid || !r.CertificateTrusted || r.Image.Bounds().Dx() != 500 {
			t.Fatalf("round %d: %+v", round, r)
		}
		d.Unplug()
		var gone error
		for range 50 {
			if _, gone = s.FingerStatus(octx); errors.Is(gone, veinscan.ErrDisconnected) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if !errors.Is(gone, veinscan.ErrDisconnected) {
			t.Fatalf("round %d: after unplug: %v", round, gone)
		}
		s.Close()
		ocancel()
		d.Replug()
	}
}

// TestConformanceOverPTY runs the conformance kit through the serial
// transport: the requirements hold over a real byte stream too.
func TestConformanceOverPTY(t *testing.T) {
	d := newSim(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	paths := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- d.ServePTY(ctx, func(p string) { paths <- p }) }()
	defer func() { cancel(); <-done }()
	c, err := veinscan.Dial(ctx, "serial:"+<-paths, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rs := conformance.Run(ctx, c, conformance.Options{Finger: scanSimFinger(d), FingerWait: 500 * time.Millisecond,
		MakerKeys: []ed25519.PublicKey{veinsim.TestMakerPublicKey()}, TimingSlack: 30 * time.Second})
	for _, r := range rs {
		if r.Status != conformance.Pass {
			t.Errorf("%v", r)
		}
	}
}

// TestQualityMeasure checks the driver's own quality measure on synthetic
// captures: a still finger scores higher than a moving one, no finger
// scores 0, a saturated image scores low.
func TestQualityMeasure(t *testing.T) {
	score := func(seed uint64, pl fingerimg.Placement, led uint8) int {
		c := fingerimg.DefaultConditions()
		c.LED = []uint8{led, led, led, led}
		c.Seed = seed
		c.Placement = pl
		return veinscan.AssessQuality(fingerimg.NewFinger(seed).Capture(c)).Score
	}
	sharp := func(seed uint64, pl fingerimg.Placement) float64 {
		c := fingerimg.DefaultConditions()
		c.LED = []uint8{100, 100, 100, 100}
		c.Seed = seed
		c.Placement = pl
		return veinscan.AssessQuality(fingerimg.NewFinger(seed).Capture(c)).Sharpness
	}
	var still, moved int
	for seed := uint64(1); seed <= 8; seed++ {
		still += score(seed, fingerimg.Normal, 100)
		moved += score(seed, fingerimg.Moved, 100)
		if s, m := sharp(seed, fingerimg.Normal), sharp(seed, fingerimg.Moved); m >= s {
			t.Errorf("seed %d: sharpness still %.3f, moved %.3f", seed, s, m)
		}
		if s := score(seed, fingerimg.Absent, 128); s != 0 {
			t.Errorf("seed %d: no finger scores %d", seed, s)
		}
		if s := score(seed, fingerimg.Normal, 255); s > 20 {
			t.Errorf("seed %d: saturated image scores %d", seed, s)
		}
	}
	// motion blur is not always strong enough to matter; on average it must
	if still < 8*80 || moved > still-8*15 {
		t.Fatalf("mean quality still %d, moved %d (of 8 captures)", still/8, moved/8)
	}
}

// BenchmarkCapture measures one automatically exposed capture (the
// simulator's rendering included) in-process and over a pseudo-terminal;
// transfer-ms is the READ_CHUNK part (100 000 bytes).
func BenchmarkCapture(b *testing.B) {
	run := func(b *testing.B, s *veinscan.Scanner) {
		ctx := context.Background()
		var transfer, total time.Duration
		for b.Loop() {
			r, err := s.Capture(ctx, [32]byte{1})
			if err != nil {
				b.Fatal(err)
			}
			transfer += r.Timing.Transfer
			total += r.Timing.Total
		}
		b.ReportMetric(float64(transfer.Microseconds())/1000/float64(b.N), "transfer-ms/op")
		b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "capture-ms/op")
	}
	b.Run("inprocess", func(b *testing.B) {
		d, _ := veinsim.New(veinsim.Config{})
		d.PlaceFinger(3)
		c, _ := d.Connect()
		s, err := veinscan.New(context.Background(), c, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		run(b, s)
	})
	b.Run("pty", func(b *testing.B) {
		d, _ := veinsim.New(veinsim.Config{})
		d.PlaceFinger(3)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		paths := make(chan string, 1)
		go d.ServePTY(ctx, func(p string) { paths <- p })
		s, err := veinscan.Open(ctx, "serial:"+<-paths, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		run(b, s)
	})
}

// TestConformanceCLIOverPTYWithSimControl: the kit run from the command line
// against a simulator in another process (as devsim vein --serial): with
// --sim-control it lifts and places the finger through the control channel
// instead of asking the operator, so the simulator passes; an injected
// fault fails the requirement it breaks.
func TestConformanceCLIOverPTYWithSimControl(t *testing.T) {
	d := newSim(t)
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	paths := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- d.ServePTY(ctx, func(p string) { paths <- p }) }()
	defer func() { cancel(); <-done }()
	var path string
	select {
	case path = <-paths:
	case <-time.After(10 * time.Second):
		t.Fatal("no pty")
	}
	keyFile := filepath.Join(t.TempDir(), "maker.pub")
	if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(veinsim.TestMakerPublicKey())), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"scanner", "conformance", "--device", "serial:" + path, "--sim-control", srv.URL,
		"--maker-key", keyFile, "--timing-slack", "30s", "--finger-wait", "1s"}
	var out, errb bytes.Buffer
	if code := realMain(args, &out, &errb); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	if strings.Contains(errb.String(), ">>>") || strings.Count(out.String(), "PASS ") != len(conformance.Requirements()) {
		t.Fatalf("not all PASS without an operator:\n%s\n%s", out.String(), errb.String())
	}
	if err := d.SetFault(veinsim.FaultNoFinger); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errb.Reset()
	if code := realMain(args, &out, &errb); code != 1 || !strings.Contains(out.String(), "FAIL cmd.finger-present") {
		t.Fatalf("no-finger fault: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	d.SetFault(veinsim.FaultNone)
	// the simulators' test maker key by name, for info and capture too
	out.Reset()
	if code := realMain([]string{"scanner", "info", "--device", "serial:" + path, "--maker-key", "sim", "--json"}, &out, &errb); code != 0 || !strings.Contains(out.String(), `"certificate_trusted":true`) {
		t.Fatalf("info --maker-key sim: exit %d %s", code, out.String())
	}
	out.Reset()
	if code := realMain([]string{"scanner", "info", "--device", "serial:" + path, "--json"}, &out, &errb); code != 0 || !strings.Contains(out.String(), `"certificate_trusted":false`) {
		t.Fatalf("info without a maker key: exit %d %s", code, out.String())
	}
	for _, bad := range []string{"ftp://x", "http://127.0.0.1:1"} {
		if code := realMain([]string{"scanner", "conformance", "--device", "serial:" + path, "--sim-control", bad}, &out, &errb); code == 0 {
			t.Errorf("--sim-control %s: exit 0", bad)
		}
	}
}

// TestCaptureEvidence: a capture saved with its evidence re-verifies
// offline, and does not once a byte of the bundle or of the PNG changes
// (every byte of both: devices/veinscan/evidence; here one per field).
func TestCaptureEvidence(t *testing.T) {
	dir := t.TempDir()
	png := filepath.Join(dir, "f.png")
	var out, errb bytes.Buffer
	if code := realMain([]string{"scanner", "capture", "--device", "sim", "--resident", "110101190001010006", "--out", png, "--evidence", "--json"}, &out, &errb); code != 0 {
		t.Fatalf("capture: %d %s %s", code, out.String(), errb.String())
	}
	var j scanCaptureJSON
	if err := json.Unmarshal(out.Bytes(), &j); err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(dir, "f.evidence.json")
	if j.Evidence != bundle {
		t.Fatalf("evidence %q, want %q", j.Evidence, bundle)
	}
	verify := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := realMain(append([]string{"scanner", "verify"}, args...), &out, &errb)
		return code, out.String() + errb.String()
	}
	if code, msg := verify("--maker-key", "sim", bundle); code != 0 || !strings.Contains(msg, "OK ") {
		t.Fatalf("verify: %d %s", code, msg)
	}
	if code, msg := verify(bundle); code != 2 || !strings.Contains(msg, "--maker-key is required") {
		t.Fatalf("verify without a maker key: %d %s", code, msg)
	}
	other := filepath.Join(dir, "other.key")
	os.WriteFile(other, []byte(hex.EncodeToString(make([]byte, 32))), 0o600)
	if code, msg := verify("--maker-key", other, bundle); code != 1 || !strings.Contains(msg, "not among the trusted keys") {
		t.Fatalf("verify under another maker key: %d %s", code, msg)
	}
	orig, _ := os.ReadFile(bundle)
	for _, field := range []string{`"image": "`, `"width": `, `"image_sha256": "`, `"nonce": "`, `"certificate": "`, `"attestation": "`,
		`"serial": "`, `"model": "`, `"counter": `, `"timestamp_ms": `, `"maker_id": "`, `"maker_public_key": "`, `"image_matches": `} {
		i := bytes.Index(orig, []byte(field))
		if i < 0 {
			t.Fatalf("no %s in the bundle", field)
		}
		b := bytes.Clone(orig)
		b[i+len(field)+1] ^= 0x01
		os.WriteFile(bundle, b, 0o600)
		if code, msg := verify("--maker-key", "sim", bundle); code != 1 {
			t.Errorf("bundle with %s changed: %d %s", field, code, msg)
		}
	}
	os.WriteFile(bundle, orig, 0o600)
	img, _ := os.ReadFile(png)
	for _, i := range []int{0, 20, len(img) / 2, len(img) - 5} {
		b := bytes.Clone(img)
		b[i] ^= 0x01
		os.WriteFile(png, b, 0o600)
		if code, msg := verify("--maker-key", "sim", "--json", bundle); code != 1 || !strings.Contains(msg, `"valid":false`) {
			t.Errorf("PNG byte %d changed: %d %s", i, code, msg)
		}
	}
	os.WriteFile(png, img, 0o600)
	if code, msg := verify("--maker-key", "sim", bundle); code != 0 {
		t.Fatalf("restored: %d %s", code, msg)
	}
	// evidence needs a trusted key and a PNG
	if code := realMain([]string{"scanner", "capture", "--device", "sim", "--evidence"}, &out, &errb); code != 2 {
		t.Errorf("--evidence without --out: %d", code)
	}
}
