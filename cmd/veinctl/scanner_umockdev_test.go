//go:build umockdev

package main

// These tests run the driver's real gousb/libusb code path against the
// simulator emulated as a USB device by umockdev. scripts/test.sh runs them
// with: go test -tags umockdev -exec umockdev-wrapper ./cmd/veinctl
// With VEINKIOSK_REQUIRE_USB=1 they fail instead of skipping when the
// emulation cannot run.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan"
	"github.com/qingshan-gov/veinkiosk/devices/veinscan/conformance"
	_ "github.com/qingshan-gov/veinkiosk/devices/veinscan/usb" // the transport under test
	"github.com/qingshan-gov/veinkiosk/simulators/veinsim"
	"github.com/qingshan-gov/veinkiosk/simulators/veinsim/umockusb"
)

// emulated is the one emulated scanner of this test binary (a testbed
// device cannot be removed, so the tests share it).
var emulated struct {
	dev *veinsim.Device
	emu *umockusb.Emulation
	err error
}

// TestMain removes the umockdev testbed directory when the tests are done.
// (This file is built only with -tags umockdev; no other TestMain may exist
// in the package under that tag.)
func TestMain(m *testing.M) {
	code := m.Run()
	umockusb.RemoveTestbed()
	os.Exit(code)
}

func usbScanner(t *testing.T) (*veinsim.Device, *umockusb.Emulation) {
	t.Helper()
	if emulated.dev == nil && emulated.err == nil {
		emulated.dev, emulated.err = veinsim.New(veinsim.Config{Serial: "USB-0000042", Counter: 1000})
		if emulated.err == nil && !umockusb.InMockEnvironment() {
			emulated.err = umockusb.ErrNotInMockEnvironment
		}
		if emulated.err == nil {
			emulated.emu, emulated.err = umockusb.Attach(emulated.dev)
		}
	}
	if emulated.err != nil {
		if os.Getenv("VEINKIOSK_REQUIRE_USB") == "1" {
			t.Fatalf("USB emulation required (VEINKIOSK_REQUIRE_USB=1) but unavailable: %v", emulated.err)
		}
		t.Skipf("USB emulation unavailable (run under umockdev-wrapper): %v", emulated.err)
	}
	d := emulated.dev
	d.SetFault(veinsim.FaultNone)
	d.Replug()
	d.PlaceFinger(11)
	return d, emulated.emu
}

func TestUSBCapture(t *testing.T) {
	d, emu := usbScanner(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	devs, err := veinscan.Discover(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 1 || !devs[0].Usable || devs[0].Path != emu.DevNode || devs[0].Serial != "USB-0000042" {
		t.Fatalf("Discover = %+v", devs)
	}

	for _, spec := range []string{"usb", "usb:1209:0001"} {
		s, err := veinscan.Open(ctx, spec, &veinscan.Options{MakerKeys: []ed25519.PublicKey{veinsim.TestMakerPublicKey()}})
		if err != nil {
			t.Fatalf("Open(%s): %v", spec, err)
		}
		if got := s.Info().Serial; got != "USB-0000042" {
			t.Fatalf("serial %q", got)
		}
		st, err := s.FingerStatus(ctx)
		if err != nil || st.State != 1 {
			t.Fatalf("FingerStatus = %v, %v", st, err)
		}
		r, err := s.Capture(ctx, [32]byte{7})
		if err != nil {
			t.Fatal(err)
		}
		if !r.SignatureValid || !r.CertificateTrusted || !r.CounterIncreased || !r.ExposureOK {
			t.Fatalf("capture over USB: %+v", r)
		}
		if b := r.Image.Bounds(); b.Dx() != 500 || b.Dy() != 200 {
			t.Fatalf("image %v", b)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	_ = d
}

func TestUSBConformance(t *testing.T) {
	d, _ := usbScanner(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	c, err := veinscan.Dial(ctx, "usb", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rs := conformance.Run(ctx, c, conformance.Options{Finger: &scanLiftFinger{d: d}, FingerWait: time.Second,
		MakerKeys: []ed25519.PublicKey{veinsim.TestMakerPublicKey()}, TimingSlack: 30 * time.Second})
	for _, r := range rs {
		if r.Status != conformance.Pass {
			t.Errorf("%v", r)
		}
	}
}

// TestUSBUnplug unplugs the emulated device in the middle of use: the
// driver reports ErrDisconnected, leaks no goroutine, and the device can be
// opened again after the replug.
func TestUSBUnplug(t *testing.T) {
	d, _ := usbScanner(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := runtime.NumGoroutine()
	for round := 0; round < 3; round++ {
		s, err := veinscan.Open(ctx, "usb", nil)
		if err != nil {
			t.Fatalf("round %d: Open: %v", round, err)
		}
		if _, err := s.FingerStatus(ctx); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		d.Unplug()
		_, err = s.Capture(ctx, [32]byte{1})
		if !errors.Is(err, veinscan.ErrDisconnected) {
			t.Fatalf("round %d: Capture after unplug: %v, want ErrDisconnected", round, err)
		}
		if _, err := s.FingerStatus(ctx); !errors.Is(err, veinscan.ErrDisconnected) {
			t.Fatalf("round %d: sticky disconnection: %v", round, err)
		}
		s.Close()
		d.Replug()
		d.PlaceFinger(11)
	}
	waitGoroutines(t, base)
}

func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		buf := make([]byte, 1<<16)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("%d goroutines after close, %d before:\n%s", n, base, buf)
	}
}

// TestUSBPermissionDiagnosis makes the device node unreadable: Open must say
// the scanner is present but not accessible, and print the udev rule.
//
// Root ignores file permissions through CAP_DAC_OVERRIDE (CI containers
// often run as root): then the test drops that capability, and
// CAP_DAC_READ_SEARCH, from the effective set of its own OS thread for the
// duration; libusb opens the node from the calling thread.
func TestUSBPermissionDiagnosis(t *testing.T) {
	_, emu := usbScanner(t)
	if err := os.Chmod(emu.NodePath(), 0); err != nil {
		t.Fatalf("chmod %s: %v", emu.NodePath(), err)
	}
	defer os.Chmod(emu.NodePath(), 0o666)
	if os.Geteuid() == 0 {
		runtime.LockOSThread()
		restore, err := dropDACOverride()
		if err != nil {
			t.Fatalf("root: cannot drop CAP_DAC_OVERRIDE to test the diagnosis: %v", err)
		}
		defer func() {
			if restore() == nil {
				runtime.UnlockOSThread() // else the thread ends with the test's goroutine
			}
		}()
		if f, err := os.Open(emu.NodePath()); err == nil {
			f.Close()
			t.Fatal("the node is still readable after dropping CAP_DAC_OVERRIDE")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := veinscan.Open(ctx, "usb", nil)
	if !errors.Is(err, veinscan.ErrPermission) {
		t.Fatalf("Open = %v, want ErrPermission", err)
	}
	for _, want := range []string{"1209:0001", "ATTRS{idVendor}==\"1209\"", "udevadm"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("diagnosis lacks %q:\n%v", want, err)
		}
	}
	devs, err := veinscan.Discover(nil)
	if err != nil || len(devs) != 1 || devs[0].Usable {
		t.Fatalf("Discover = %+v, %v; want one unusable device", devs, err)
	}
	var out bytes.Buffer
	if code := realMain([]string{"scanner", "list"}, &out, &out); code != 0 || !strings.Contains(out.String(), "install this rule") {
		t.Fatalf("scanner list (%d):\n%s", code, out.String())
	}
}

// BenchmarkUSBCapture measures one automatically exposed capture through
// gousb/libusb and umockdev (rendering included).
func BenchmarkUSBCapture(b *testing.B) {
	if !umockusb.InMockEnvironment() {
		b.Skip("run under umockdev-wrapper")
	}
	if emulated.dev == nil {
		emulated.dev, emulated.err = veinsim.New(veinsim.Config{Serial: "USB-0000042", Counter: 1000})
		if emulated.err == nil {
			emulated.emu, emulated.err = umockusb.Attach(emulated.dev)
		}
	}
	if emulated.err != nil {
		b.Fatal(emulated.err)
	}
	emulated.dev.PlaceFinger(3)
	ctx := context.Background()
	s, err := veinscan.Open(ctx, "usb", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
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

// dropDACOverride removes CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the
// effective capabilities of the calling OS thread (lock it first) and
// returns a function that puts them back.
func dropDACOverride() (restore func() error, err error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return nil, err
	}
	saved := data
	data[0].Effective &^= 1<<unix.CAP_DAC_OVERRIDE | 1<<unix.CAP_DAC_READ_SEARCH
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return nil, err
	}
	return func() error { return unix.Capset(&hdr, &saved[0]) }, nil
}
