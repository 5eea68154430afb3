//go:build !cgo || nousb

// Package umockusb attaches a simulated scanner to umockdev as an emulated
// USB device. This build has no cgo (or was built with -tags nousb), so
// Attach always fails; rebuild with CGO_ENABLED=1 and libumockdev-dev.
package umockusb

import (
	"errors"

	"github.com/qingshan-gov/veinkiosk/simulators/veinsim"
)

// ErrNotInMockEnvironment: the process does not run under umockdev-wrapper.
var ErrNotInMockEnvironment = errors.New("umockusb: not running under umockdev-wrapper")

// ErrNoCgo: this build cannot emulate USB.
var ErrNoCgo = errors.New("umockusb: built without cgo or with -tags nousb: rebuild with CGO_ENABLED=1, libumockdev-dev and pkg-config")

// InMockEnvironment is always false in this build.
func InMockEnvironment() bool { return false }

// Emulation is the stub of an emulated scanner.
type Emulation struct {
	Bus, Address int
	DevNode      string
}

// Attach fails: no USB emulation in this build.
func Attach(dev *veinsim.Device) (*Emulation, error) { return nil, ErrNoCgo }

// RemoveTestbed does nothing in this build.
func RemoveTestbed() {}

// TestbedDir is empty in this build.
func (e *Emulation) TestbedDir() string { return "" }

// NodePath is empty in this build.
func (e *Emulation) NodePath() string { return "" }
