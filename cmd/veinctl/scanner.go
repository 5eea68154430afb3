package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan"
	"github.com/qingshan-gov/veinkiosk/devices/veinscan/conformance"
	"github.com/qingshan-gov/veinkiosk/devices/veinscan/evidence"
	"github.com/qingshan-gov/veinkiosk/devices/veinscan/wire"
	"github.com/qingshan-gov/veinkiosk/matcher/extract"
	"github.com/qingshan-gov/veinkiosk/simulators/deck"
	"github.com/qingshan-gov/veinkiosk/simulators/veinsim"
)

func init() {
	register(command{
		name:    "scanner",
		summary: "finger-vein scanner: list, info, status, capture, conformance, udev",
		run:     runScanner,
	})
	// "sim" opens the in-process simulator that the running command set up
	// (drivers never import simulators, so the binary wires it in here).
	veinscan.RegisterTransport("sim", func(ctx context.Context, arg string, _ *veinscan.Options) (veinscan.Conn, error) {
		scanSimMu.Lock()
		d := scanSimDev
		scanSimMu.Unlock()
		if d == nil {
			return nil, errors.New("no in-process simulator set up")
		}
		return d.Connect()
	})
}

var (
	scanSimMu  sync.Mutex
	scanSimDev *veinsim.Device
)

func scannerUsage(w io.Writer) {
	fmt.Fprint(w, `usage: veinctl scanner SUBCOMMAND [flags]

subcommands:
  list          attached USB scanners (and how to fix unusable ones)
  info          device description and certificate
  status        finger status
  capture       capture an image with automatic exposure (PNG + attestation; --evidence: a bundle beside the PNG)
  verify        re-verify a capture's evidence bundle offline
  conformance   check a device against docs/scanner-protocol.md
  udev          print the udev rule for the known VID:PIDs

DEVICE is usb, usb:VID:PID, serial:PATH or sim (in-process simulator).
`)
}

func runScanner(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		scannerUsage(stderr)
		return fmt.Errorf("%w: missing subcommand", errUsage)
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "list":
		return scannerList(ctx, rest, stdout, stderr)
	case "info":
		return scannerInfo(ctx, rest, stdout, stderr)
	case "status":
		return scannerStatus(ctx, rest, stdout, stderr)
	case "capture":
		return scannerCapture(ctx, rest, stdout, stderr)
	case "conformance":
		return scannerConformance(ctx, rest, stdout, stderr)
	case "verify":
		return scannerVerify(ctx, rest, stdout, stderr)
	case "udev":
		fmt.Fprint(stdout, veinscan.UdevRule(veinscan.KnownUSBIDs))
		return nil
	case "-h", "--help", "help":
		scannerUsage(stdout)
		return nil
	}
	scannerUsage(stderr)
	return fmt.Errorf("%w: unknown subcommand %q", errUsage, sub)
}

// scanDeviceFlags are the flags every subcommand that opens a device shares.
type scanDeviceFlags struct {
	device    string
	baud      int
	usbIDs    scanMultiFlag
	makerKeys scanMultiFlag
	timeout   time.Duration
	verbose   bool
	sim       scanSimFlags
}

type scanMultiFlag []string

func (m *scanMultiFlag) String() string     { return strings.Join(*m, ",") }
func (m *scanMultiFlag) Set(v string) error { *m = append(*m, v); return nil }

func (d *scanDeviceFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&d.device, "device", "usb", "DEVICE: usb, usb:VID:PID, serial:PATH or sim")
	fs.IntVar(&d.baud, "baud", 921600, "serial line rate")
	fs.Var(&d.usbIDs, "usb-id", "VID:PID to look for with --device usb (repeatable; default the known IDs)")
	fs.Var(&d.makerKeys, "maker-key", "file with a trusted maker Ed25519 public key, hex or base64 (repeatable); \"sim\": the simulators' test maker key (devsim vein), never for real devices")
	fs.DurationVar(&d.timeout, "timeout", 30*time.Second, "overall time limit")
	fs.BoolVar(&d.verbose, "v", false, "log protocol exchanges to stderr")
	d.sim.register(fs)
}

func (d *scanDeviceFlags) options(stderr io.Writer) (*veinscan.Options, error) {
	o := veinscan.DefaultOptions()
	o.Baud = d.baud
	for _, s := range d.usbIDs {
		id, err := veinscan.ParseUSBID(s)
		if err != nil {
			return nil, err
		}
		o.USBIDs = append(o.USBIDs, id)
	}
	for _, p := range d.makerKeys {
		if p == "sim" {
			o.MakerKeys = append(o.MakerKeys, veinsim.TestMakerPublicKey())
			continue
		}
		k, err := scanReadPublicKey(p)
		if err != nil {
			return nil, err
		}
		o.MakerKeys = append(o.MakerKeys, k)
	}
	if d.device == "sim" {
		o.MakerKeys = append(o.MakerKeys, veinsim.TestMakerPublicKey())
	}
	if d.verbose {
		o.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	o.Quality = scanMatcherQuality
	return o, nil
}

// scanMatcherQuality is the matcher's quality score (matcher/extract), the one
// enrolment and verification use.
func scanMatcherQuality(img *image.Gray) (int, error) {
	r, err := extract.Extract(img, extract.DefaultOptions())
	if err != nil {
		return 0, err
	}
	return r.Quality, nil
}

// scanReadPublicKey reads a 32-byte Ed25519 public key written as hex or base64.
func scanReadPublicKey(path string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s := strings.TrimSpace(string(b))
	if k, err := hex.DecodeString(s); err == nil && len(k) == ed25519.PublicKeySize {
		return k, nil
	}
	if k, err := base64.StdEncoding.DecodeString(s); err == nil && len(k) == ed25519.PublicKeySize {
		return k, nil
	}
	return nil, fmt.Errorf("%s: not a 32-byte Ed25519 public key in hex or base64", path)
}

// open opens the device, setting up the in-process simulator for "sim".
func (d *scanDeviceFlags) open(ctx context.Context, stderr io.Writer) (*veinscan.Scanner, *veinsim.Device, error) {
	o, err := d.options(stderr)
	if err != nil {
		return nil, nil, err
	}
	var sim *veinsim.Device
	if d.device == "sim" || strings.HasPrefix(d.device, "sim:") {
		if sim, err = d.sim.build(); err != nil {
			return nil, nil, err
		}
		scanSimMu.Lock()
		scanSimDev = sim
		scanSimMu.Unlock()
	}
	s, err := veinscan.Open(ctx, d.device, o)
	if err != nil {
		return nil, nil, scanExplainOpen(err)
	}
	return s, sim, nil
}

// scanExplainOpen adds what the user can do about a failed open.
func scanExplainOpen(err error) error {
	switch {
	case errors.Is(err, veinscan.ErrPermission):
		return err // the text carries the udev rule
	case errors.Is(err, veinscan.ErrNotFound):
		return fmt.Errorf("%w\n(run 'veinctl scanner list'; for a simulator: 'go run ./cmd/devsim vein --serial' and --device serial:PATH, or --device sim)", err)
	}
	return err
}

func scannerList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("scanner list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var df scanDeviceFlags
	df.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o, err := df.options(stderr)
	if err != nil {
		return err
	}
	devs, err := veinscan.Discover(o.USBIDs)
	if err != nil {
		return err
	}
	if *asJSON {
		if devs == nil {
			devs = []veinscan.USBDevice{}
		}
		return json.NewEncoder(stdout).Encode(devs)
	}
	if len(devs) == 0 {
		fmt.Fprintf(stdout, "no USB scanner with IDs %v attached\n", scanOrKnown(o.USBIDs))
		return nil
	}
	unusable := false
	for _, d := range devs {
		fmt.Fprintln(stdout, d)
		unusable = unusable || !d.Usable
	}
	if unusable {
		fmt.Fprintf(stdout, "\nTo use the scanners marked unusable, install this rule (udev/70-veinscan.rules) and replug:\n\n%s", veinscan.UdevRule(scanOrKnown(o.USBIDs)))
	}
	return nil
}

func scanOrKnown(ids []veinscan.USBID) []veinscan.USBID {
	if len(ids) == 0 {
		return veinscan.KnownUSBIDs
	}
	return ids
}

// scanInfoJSON is the JSON of "scanner info".
type scanInfoJSON struct {
	Device             string   `json:"device"`
	Vendor             string   `json:"vendor"`
	Model              string   `json:"model"`
	Serial             string   `json:"serial"`
	Firmware           string   `json:"firmware"`
	ProtocolVersion    int      `json:"protocol_version"`
	Width              int      `json:"width"`
	Height             int      `json:"height"`
	BitDepth           int      `json:"bit_depth"`
	LEDCount           int      `json:"led_count"`
	Features           []string `json:"features"`
	ChunkSize          int      `json:"chunk_size"`
	MaxCaptureMs       int      `json:"max_capture_ms"`
	MakerID            string   `json:"maker_id,omitempty"`
	DevicePublicKey    string   `json:"device_public_key,omitempty"`
	CertificateTrusted bool     `json:"certificate_trusted"`
}

func scannerInfo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("scanner info", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var df scanDeviceFlags
	df.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, df.timeout)
	defer cancel()
	s, _, err := df.open(ctx, stderr)
	if err != nil {
		return err
	}
	defer s.Close()
	in := s.Info()
	j := scanInfoJSON{Device: df.device, Vendor: in.Vendor, Model: in.Model, Serial: in.Serial, Firmware: in.Firmware,
		ProtocolVersion: int(in.ProtocolVersion), Width: int(in.Width), Height: int(in.Height), BitDepth: int(in.BitDepth),
		LEDCount: int(in.LEDCount), ChunkSize: int(in.ChunkSize), MaxCaptureMs: int(in.MaxCaptureMs),
		CertificateTrusted: s.CertificateTrusted(), Features: []string{}}
	for _, f := range wire.FeatureNames {
		if in.Features&f.Bit != 0 {
			j.Features = append(j.Features, f.Name)
		}
	}
	if c := s.Certificate(); c != nil {
		j.MakerID = c.MakerID
		j.DevicePublicKey = hex.EncodeToString(c.PublicKey)
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(j)
	}
	fmt.Fprintf(stdout, "%s %s, serial %s, firmware %s, protocol %d\n", j.Vendor, j.Model, j.Serial, j.Firmware, j.ProtocolVersion)
	fmt.Fprintf(stdout, "image %dx%d, %d bit; %d LEDs; chunk %d bytes; capture <= %d ms\n", j.Width, j.Height, j.BitDepth, j.LEDCount, j.ChunkSize, j.MaxCaptureMs)
	fmt.Fprintf(stdout, "features: %s\n", strings.Join(j.Features, ", "))
	if j.MakerID != "" {
		fmt.Fprintf(stdout, "certificate: maker %s, device key %s, trusted %v\n", j.MakerID, j.DevicePublicKey, j.CertificateTrusted)
	}
	return nil
}

func scannerStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("scanner status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var df scanDeviceFlags
	df.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, df.timeout)
	defer cancel()
	s, sim, err := df.open(ctx, stderr)
	if err != nil {
		return err
	}
	defer s.Close()
	if sim != nil && df.sim.resident != "" {
		if err := df.sim.placeFinger(sim, stderr); err != nil {
			return err
		}
	}
	st, err := s.FingerStatus(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		state := map[byte]string{wire.FingerAbsent: "absent", wire.FingerPresent: "present", wire.FingerMoving: "moving"}[st.State]
		return json.NewEncoder(stdout).Encode(map[string]any{"finger": state, "coverage": st.Coverage})
	}
	fmt.Fprintf(stdout, "finger %v\n", st)
	return nil
}

// scanCaptureJSON is the JSON of "scanner capture" (a contract checked by tools
// outside the project: keep the field names).
type scanCaptureJSON struct {
	Width              int                     `json:"width"`
	Height             int                     `json:"height"`
	DeviceSerial       string                  `json:"device_serial"`
	DeviceModel        string                  `json:"device_model"`
	Quality            int                     `json:"quality"`
	QualitySource      string                  `json:"quality_source"`
	QualityMetrics     veinscan.QualityMetrics `json:"quality_metrics"`
	SignatureValid     bool                    `json:"signature_valid"`
	SignatureError     string                  `json:"signature_error,omitempty"`
	CertificateTrusted bool                    `json:"certificate_trusted"`
	Counter            uint64                  `json:"counter"`
	CounterIncreased   bool                    `json:"counter_increased"`
	TimestampMs        int64                   `json:"timestamp_ms"`
	Nonce              string                  `json:"nonce"`
	ImageSHA256        string                  `json:"image_sha256"`
	Attestation        string                  `json:"attestation"` // base64 of the binary attestation
	LED                []int                   `json:"led"`
	ExposureOK         bool                    `json:"exposure_ok"`
	Exposure           veinscan.ExposureStats  `json:"exposure"`
	Attempts           int                     `json:"attempts"`
	TimingMs           map[string]float64      `json:"timing_ms"`
	Out                string                  `json:"out,omitempty"`
	Evidence           string                  `json:"evidence,omitempty"`
}

func scannerCapture(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("scanner capture", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var df scanDeviceFlags
	df.register(fs)
	out := fs.String("out", "", "write the image to this PNG file (8-bit grayscale)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	nonceHex := fs.String("nonce", "", "32-byte nonce in hex (default random; a kiosk uses the server's)")
	wait := fs.Duration("wait", 10*time.Second, "how long to wait for a finger")
	withEvidence := fs.Bool("evidence", false, "also write the evidence bundle (certificate, attestation, nonce, verification result) beside the PNG as NAME.evidence.json; needs --out and a trusted maker key")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %v", errUsage, fs.Args())
	}
	if *withEvidence && *out == "" {
		return fmt.Errorf("%w: --evidence writes beside the PNG: give --out", errUsage)
	}
	var nonce [32]byte
	if *nonceHex != "" {
		b, err := hex.DecodeString(*nonceHex)
		if err != nil || len(b) != 32 {
			return fmt.Errorf("%w: --nonce must be 64 hexadecimal digits", errUsage)
		}
		copy(nonce[:], b)
	} else if _, err := rand.Read(nonce[:]); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, df.timeout)
	defer cancel()
	s, sim, err := df.open(ctx, stderr)
	if err != nil {
		return err
	}
	defer s.Close()
	if sim != nil {
		if err := df.sim.placeFinger(sim, stderr); err != nil {
			return err
		}
	}
	wctx, wcancel := context.WithTimeout(ctx, *wait)
	_, err = s.WaitFinger(wctx, 100*time.Millisecond)
	wcancel()
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return fmt.Errorf("no finger on the scanner within %v", *wait)
		}
		return err
	}
	r, err := s.Capture(ctx, nonce)
	if err != nil {
		return err
	}
	var bundle []byte
	if *withEvidence {
		o, err := df.options(stderr)
		if err != nil {
			return err
		}
		b, err := evidence.New(r.Image, filepath.Base(*out), nonce, s.Certificate(), r.AttestationBytes, o.MakerKeys)
		if errors.Is(err, evidence.ErrUntrusted) {
			return fmt.Errorf("%w (give the maker's key with --maker-key: evidence is for captures that verify)", err)
		} else if err != nil {
			return err
		}
		if bundle, err = b.Marshal(); err != nil {
			return err
		}
	}
	if *out != "" {
		if err := scanWritePNG(*out, r.Image); err != nil {
			return err
		}
	}
	evidencePath := ""
	if bundle != nil {
		evidencePath = evidence.Name(*out)
		if err := scanWriteFile(evidencePath, bundle); err != nil {
			return err
		}
	}
	b := r.Image.Bounds()
	j := scanCaptureJSON{
		Width: b.Dx(), Height: b.Dy(), DeviceSerial: s.Info().Serial, DeviceModel: s.Info().Model,
		Quality: r.Quality, QualitySource: "matcher/extract", QualityMetrics: r.QualityInfo,
		SignatureValid: r.SignatureValid && (r.CertificateTrusted || len(df.makerKeys) == 0 && df.device != "sim"),
		SignatureError: r.SignatureError, CertificateTrusted: r.CertificateTrusted,
		Counter: r.Attestation.Counter, CounterIncreased: r.CounterIncreased, TimestampMs: r.Attestation.TimestampMs,
		Nonce: hex.EncodeToString(nonce[:]), ImageSHA256: hex.EncodeToString(r.Attestation.ImageSHA256[:]),
		Attestation: base64.StdEncoding.EncodeToString(r.AttestationBytes),
		ExposureOK:  r.ExposureOK, Exposure: r.Exposure, Attempts: r.Attempts, Out: *out, Evidence: evidencePath,
		TimingMs: map[string]float64{"total": scanMs(r.Timing.Total), "capture": scanMs(r.Timing.Capture), "transfer": scanMs(r.Timing.Transfer)},
	}
	if r.SignatureValid && !r.CertificateTrusted && j.SignatureError == "" {
		j.SignatureError = "device certificate not verified: no trusted maker key (--maker-key)"
	}
	for _, v := range r.LED {
		j.LED = append(j.LED, int(v))
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(j)
	}
	fmt.Fprintf(stdout, "captured %dx%d from %s (serial %s) in %d attempt(s), %v\n", j.Width, j.Height, j.DeviceModel, j.DeviceSerial, j.Attempts, r.Timing.Total.Round(time.Millisecond))
	fmt.Fprintf(stdout, "LEDs %v, exposure ok %v (finger mean %.0f), quality %d\n", j.LED, j.ExposureOK, r.Exposure.Mean, j.Quality)
	fmt.Fprintf(stdout, "attestation: counter %d, signature valid %v, certificate trusted %v\n", j.Counter, r.SignatureValid, j.CertificateTrusted)
	if *out != "" {
		fmt.Fprintf(stdout, "image written to %s\n", *out)
	}
	if evidencePath != "" {
		fmt.Fprintf(stdout, "evidence written to %s (check it with: veinctl scanner verify --maker-key KEY %s)\n", evidencePath, evidencePath)
	}
	return nil
}

// scannerVerify re-verifies evidence bundles offline.
func scannerVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("scanner verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var makerKeys scanMultiFlag
	fs.Var(&makerKeys, "maker-key", "file with a trusted maker Ed25519 public key, hex or base64 (repeatable; required); \"sim\": the simulators' test maker key")
	asJSON := fs.Bool("json", false, "print one JSON object per bundle")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: veinctl scanner verify --maker-key KEY [--json] NAME.evidence.json ...\n\nChecks each bundle and the PNG it names beside it; exits 1 unless all verify.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return fmt.Errorf("%w: name the evidence bundle(s)", errUsage)
	}
	if len(makerKeys) == 0 {
		return fmt.Errorf("%w: --maker-key is required: a bundle proves its origin only under a maker key you trust", errUsage)
	}
	df := scanDeviceFlags{makerKeys: makerKeys, device: "verify"}
	o, err := df.options(stderr)
	if err != nil {
		return err
	}
	failed := 0
	for _, p := range fs.Args() {
		b, err := evidence.VerifyFile(p, o.MakerKeys)
		if *asJSON {
			j := map[string]any{"bundle": p, "valid": err == nil}
			if err != nil {
				j["error"] = err.Error()
			}
			if b != nil {
				j["serial"], j["model"], j["counter"], j["maker_id"], j["image"] = b.Serial, b.Model, b.Counter, b.MakerID, b.Image
			}
			if jerr := json.NewEncoder(stdout).Encode(j); jerr != nil {
				return jerr
			}
		} else if err != nil {
			fmt.Fprintf(stdout, "FAIL %s: %v\n", p, err)
		} else {
			fmt.Fprintf(stdout, "OK   %s: %s from a %s (serial %s, maker %s), capture %d\n", p, b.Image, b.Model, b.Serial, b.MakerID, b.Counter)
		}
		if err != nil {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d bundles do not verify", failed, fs.NArg())
	}
	return nil
}

// scanWriteFile writes data to path atomically, readable by the owner only.
func scanWriteFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".evidence-*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	if err := errors.Join(werr, tmp.Close()); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func scanMs(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// scanWritePNG writes img as an 8-bit grayscale PNG, atomically.
func scanWritePNG(path string, img *image.Gray) error {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".capture-*.png")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func scannerConformance(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("scanner conformance", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var df scanDeviceFlags
	df.register(fs)
	asJSON := fs.Bool("json", false, "print one JSON object per requirement")
	fault := fs.String("fault", "none", "sim only: inject this fault (one of "+strings.Join(scanFaultNames(), ", ")+")")
	fingerWait := fs.Duration("finger-wait", 30*time.Second, "real devices: how long the operator has to place or lift a finger")
	slack := fs.Duration("timing-slack", 0, "add this to every time limit (only to check behaviour on a loaded machine)")
	simControl := fs.String("sim-control", "", "a simulator on serial: or usb: (devsim vein): its control channel URL, to lift and place the finger instead of asking the operator")
	if err := fs.Parse(args); err != nil {
		return err
	}
	timeoutSet := false
	fs.Visit(func(f *flag.Flag) { timeoutSet = timeoutSet || f.Name == "timeout" })
	if !timeoutSet {
		df.timeout = 10 * time.Minute // an operator places and lifts fingers
	}
	ctx, cancel := context.WithTimeout(ctx, df.timeout)
	defer cancel()
	o, err := df.options(stderr)
	if err != nil {
		return err
	}
	copts := conformance.Options{MakerKeys: o.MakerKeys, Driver: *o, TimingSlack: *slack}
	var conn veinscan.Conn
	if df.device == "sim" {
		f, err := veinsim.ParseFault(*fault)
		if err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		sim, err := df.sim.build()
		if err != nil {
			return err
		}
		if err := df.sim.placeFinger(sim, io.Discard); err != nil {
			return err
		}
		copts.Finger = scanSimFinger(sim)
		copts.FingerWait = time.Second
		if err := sim.SetFault(f); err != nil {
			return err
		}
		c, err := sim.Connect()
		if err != nil {
			// an unplugged device fails every requirement
			return scanPrintConformance(stdout, *asJSON, scanFailAll(err))
		}
		conn = c
	} else {
		if *fault != "none" {
			return fmt.Errorf("%w: --fault works only with --device sim", errUsage)
		}
		conn, err = veinscan.Dial(ctx, df.device, o)
		if err != nil {
			return scanExplainOpen(err)
		}
		copts.Finger = conformance.Prompt{W: stderr, Wait: *fingerWait}
		copts.FingerWait = *fingerWait
		if *simControl != "" {
			fc, err := scanHTTPFingerControl(ctx, *simControl)
			if err != nil {
				conn.Close()
				return err
			}
			copts.Finger = fc
			if !scanFlagSet(fs, "finger-wait") {
				copts.FingerWait = 5 * time.Second
			}
		}
		if strings.HasPrefix(df.device, "serial:") {
			copts.LinkBytesPerSecond = df.baud / 10
		}
	}
	defer conn.Close()
	return scanPrintConformance(stdout, *asJSON, conformance.Run(ctx, conn, copts))
}

// scanSimFinger lifts the simulator's finger and puts the same one back.
func scanSimFinger(d *veinsim.Device) conformance.FingerControl { return &scanLiftFinger{d: d} }

type scanLiftFinger struct {
	d      *veinsim.Device
	lifted bool
}

func (f *scanLiftFinger) Place(context.Context) error {
	if f.lifted {
		f.d.PutBackFinger()
		f.lifted = false
	}
	return nil
}

func (f *scanLiftFinger) Remove(context.Context) error {
	f.d.LiftFinger()
	f.lifted = true
	return nil
}

// scanHTTPFinger lifts and places the finger of a simulator in another
// process (devsim vein) through its control channel.
type scanHTTPFinger struct {
	base   string
	lifted bool
}

func scanHTTPFingerControl(ctx context.Context, base string) (*scanHTTPFinger, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%w: --sim-control wants the control channel's http://127.0.0.1:PORT", errUsage)
	}
	f := &scanHTTPFinger{base: strings.TrimSuffix(base, "/")}
	if err := f.do(ctx, http.MethodGet, "/status", ""); err != nil {
		return nil, fmt.Errorf("--sim-control: %w", err)
	}
	return f, nil
}

func (f *scanHTTPFinger) do(ctx context.Context, method, path, body string) error {
	req, err := http.NewRequestWithContext(ctx, method, f.base+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(b)))
	}
	return nil
}

// Remove lifts the finger (the simulator remembers it).
func (f *scanHTTPFinger) Remove(ctx context.Context) error {
	if err := f.do(ctx, http.MethodDelete, "/finger", ""); err != nil {
		return err
	}
	f.lifted = true
	return nil
}

// Place puts the finger it lifted back; the finger placed before the kit
// started stays as it is.
func (f *scanHTTPFinger) Place(ctx context.Context) error {
	if !f.lifted {
		return nil
	}
	if err := f.do(ctx, http.MethodPost, "/finger", `{"again":true}`); err != nil {
		return err
	}
	f.lifted = false
	return nil
}

func scanFlagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func scanFailAll(err error) []conformance.Result {
	var out []conformance.Result
	for _, r := range conformance.Requirements() {
		out = append(out, conformance.Result{ID: r.ID, Title: r.Title, Status: conformance.Fail, Detail: err.Error()})
	}
	return out
}

func scanPrintConformance(stdout io.Writer, asJSON bool, rs []conformance.Result) error {
	pass, fail, skip := 0, 0, 0
	for _, r := range rs {
		switch r.Status {
		case conformance.Pass:
			pass++
		case conformance.Fail:
			fail++
		default:
			skip++
		}
		if asJSON {
			if err := json.NewEncoder(stdout).Encode(r); err != nil {
				return err
			}
		} else {
			fmt.Fprintln(stdout, r)
		}
	}
	if !asJSON {
		fmt.Fprintf(stdout, "%d passed, %d failed, %d skipped\n", pass, fail, skip)
	}
	if fail > 0 {
		return fmt.Errorf("%d of %d requirements failed", fail, len(rs))
	}
	return nil
}

func scanFaultNames() []string {
	names := []string{"none"}
	for _, f := range veinsim.Faults() {
		names = append(names, f.String())
	}
	return names
}

// scanSimFlags configure the in-process simulator of --device sim; devsim vein
// has the same flags and defaults.
type scanSimFlags struct {
	deckPath string
	deckSeed int64
	deckSize int
	resident string
	finger   int
	serial   string
	quality  float64
	seed     uint64

	deck *deck.Deck
}

func (f *scanSimFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.deckPath, "deck", "", "sim: resident deck JSON file (default: the generated deck of --seed and --residents)")
	fs.Int64Var(&f.deckSeed, "seed", veinsim.DefaultDeckSeed, "sim: seed of the generated resident deck (as devsim's)")
	fs.IntVar(&f.deckSize, "residents", veinsim.DefaultDeckSize, "sim: residents in the generated deck")
	fs.StringVar(&f.resident, "resident", "", "sim: ID number of the resident whose finger is placed (default: the deck's first resident)")
	fs.IntVar(&f.finger, "finger", 2, "sim: ISO finger position 1..10 (2 = right index)")
	fs.StringVar(&f.serial, "sim-serial", veinsim.DefaultSerial, "sim: device serial number")
	fs.Float64Var(&f.quality, "sim-quality", 0, "sim: image quality 0..1 (default fingerimg's)")
	fs.Uint64Var(&f.seed, "sim-seed", 0, "sim: seed of capture-to-capture variation")
}

func (f *scanSimFlags) build() (*veinsim.Device, error) {
	d, err := veinsim.LoadDeck(f.deckPath, f.deckSeed, f.deckSize)
	if err != nil {
		return nil, err
	}
	f.deck = d
	return veinsim.New(veinsim.Config{Serial: f.serial, Residents: veinsim.DeckResidents{Deck: d}, Quality: f.quality, Seed: f.seed})
}

// placeFinger puts the chosen resident's finger on the simulator.
func (f *scanSimFlags) placeFinger(d *veinsim.Device, stderr io.Writer) error {
	id := f.resident
	if id == "" {
		if f.deck == nil || len(f.deck.Residents) == 0 {
			return errors.New("sim: the deck has no residents")
		}
		id = f.deck.Residents[0].IDNumber
		fmt.Fprintf(stderr, "sim: no --resident given; placing finger %d of the deck's first resident\n", f.finger)
	}
	if err := d.PlaceResident(id, f.finger); err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	return nil
}
