// Package veinscan drives finger-vein scanners that speak the project's
// scanner protocol (docs/scanner-protocol.md) over USB bulk endpoints or a
// serial line.
//
//	s, err := veinscan.Open(ctx, "usb", nil) // or "usb:1209:0001", "serial:/dev/ttyACM0", "sim"
//	if err != nil { ... }                     // errors.Is(err, veinscan.ErrPermission): print err, it holds the udev rule
//	defer s.Close()
//	info := s.Info()
//	st, err := s.FingerStatus(ctx)
//	res, err := s.Capture(ctx, nonce)         // automatic exposure, attested image
//	if errors.Is(err, veinscan.ErrDisconnected) { reopen }
//
// The driver owns no goroutines: every call runs in the caller's goroutine
// and honours its context, so an unplugged device or an abandoned call
// leaks nothing.
//
// Transports are opened by name through a registry; "serial" is built in,
// programs that drive real USB import devices/veinscan/usb (cgo, libusb),
// which registers "usb", and programs that embed the simulator register
// "sim" (drivers never import simulators).
package veinscan

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan/wire"
)

// Conn is a byte-stream connection to a scanner: request frames go out with
// Write, response bytes come back with Read. Frames may arrive split or
// merged arbitrarily. Implementations return an error wrapping
// ErrDisconnected when the device is gone, and the context's error when it
// ends. Read returns at least one byte or an error.
type Conn interface {
	Write(ctx context.Context, p []byte) error
	Read(ctx context.Context, p []byte) (int, error)
	Close() error
}

// Errors of the driver. Device error responses are *wire.DeviceError and
// match wire's sentinels (wire.ErrNoFinger, ...).
var (
	// ErrDisconnected: the device went away. Close the Scanner and Open
	// again (the same spec) when it is back.
	ErrDisconnected = wire.ErrDisconnected
	// ErrTimeout: the device did not answer within the command's limit.
	ErrTimeout = errors.New("veinscan: device did not answer in time")
	// ErrProtocol: the device answered with something the protocol does
	// not allow (wrong command, bad payload, inconsistent capture).
	ErrProtocol = errors.New("veinscan: protocol violation")
	// ErrNotFound: no scanner matches the device spec.
	ErrNotFound = errors.New("veinscan: no scanner found")
	// ErrPermission: a scanner is attached but this user may not open it.
	// The error text includes the udev rule to install.
	ErrPermission = errors.New("veinscan: permission denied")
	// ErrUnsupported: the transport is not available in this build or the
	// device lacks a feature.
	ErrUnsupported = errors.New("veinscan: not supported")
	// ErrClosed: the Scanner was closed.
	ErrClosed = errors.New("veinscan: scanner closed")
	// ErrNoFinger: no finger on the window (also matches wire.ErrNoFinger).
	ErrNoFinger = wire.ErrNoFinger
	// ErrIntegrity: a capture's image, nonce, serial or counter does not
	// agree with its attestation.
	ErrIntegrity = errors.New("veinscan: capture integrity check failed")
)

// TransportFactory opens a Conn. arg is the part of the device spec after
// "NAME:" (empty for a bare "NAME").
type TransportFactory func(ctx context.Context, arg string, opts *Options) (Conn, error)

var (
	transportsMu sync.RWMutex
	transports   = map[string]TransportFactory{}
)

// RegisterTransport makes Open accept "name" and "name:ARG" device specs.
// Registering a name twice replaces the earlier factory (tests swap
// simulators); an empty name or nil factory panics.
func RegisterTransport(name string, f TransportFactory) {
	if name == "" || f == nil || strings.Contains(name, ":") {
		panic("veinscan: bad transport registration " + name)
	}
	transportsMu.Lock()
	transports[name] = f
	transportsMu.Unlock()
}

// Transports lists the registered transport names.
func Transports() []string {
	transportsMu.RLock()
	defer transportsMu.RUnlock()
	names := make([]string, 0, len(transports))
	for n := range transports {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Dial opens the transport of a device spec without talking to the device.
func Dial(ctx context.Context, spec string, opts *Options) (Conn, error) {
	opts = opts.withDefaults()
	name, arg, _ := strings.Cut(spec, ":")
	transportsMu.RLock()
	f, ok := transports[name]
	transportsMu.RUnlock()
	if !ok && name == "usb" {
		return nil, fmt.Errorf("veinscan: device %q: %w", spec, ErrNoUSB)
	}
	if !ok {
		return nil, fmt.Errorf("veinscan: unknown device %q (want usb, usb:VID:PID, serial:PATH or one of %v)", spec, Transports())
	}
	return f(ctx, arg, opts)
}

// Open opens the scanner named by spec and performs the handshake
// (GET_INFO, and GET_CERTIFICATE when the device attests). Specs:
//
//	usb             the first attached scanner with a known VID:PID (Options.USBIDs)
//	usb:VID:PID     the first attached device with this hexadecimal VID:PID
//	serial:PATH     a serial port, e.g. serial:/dev/ttyACM0 (Options.Baud)
//	sim             the in-process simulator, when the program registered it
func Open(ctx context.Context, spec string, opts *Options) (*Scanner, error) {
	c, err := Dial(ctx, spec, opts)
	if err != nil {
		return nil, err
	}
	s, err := New(ctx, c, opts)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("veinscan: %s: %w", spec, err)
	}
	s.spec = spec
	return s, nil
}
