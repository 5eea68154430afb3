// Package usb is the USB transport of the finger-vein scanner driver: it
// finds scanners by VID:PID, claims their vendor-specific interface and
// moves protocol bytes over its bulk OUT and bulk IN endpoints with
// github.com/google/gousb (libusb).
//
// Importing it registers the "usb" transport and USB discovery with
// package veinscan (init), so only programs that drive real USB hardware
// import it (cmd/kioskd; cmd/veinctl built with -tags usb); the driver
// itself, the demo and the server never link libusb.
//
// gousb needs cgo and libusb-1.0 (Debian: pkg-config libusb-1.0-0-dev):
// the implementation is built with "cgo && !nousb"; other builds get a stub
// whose errors say how to rebuild.
package usb

import (
	"context"
	"errors"
	"fmt"
	"os/user"
	"strings"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan"
)

func init() {
	veinscan.RegisterTransport("usb", openTransport)
	veinscan.RegisterUSBDiscovery(discover)
}

// discover is Discover as veinscan reports it: without cgo it fails with
// veinscan.ErrUnsupported.
func discover(ids []ID) ([]Device, error) {
	d, err := Discover(ids)
	if errors.Is(err, ErrNoCgo) {
		return nil, fmt.Errorf("%w: %w", veinscan.ErrUnsupported, err)
	}
	return d, err
}

// openTransport handles the device specs "usb" and "usb:VID:PID".
func openTransport(ctx context.Context, arg string, o *veinscan.Options) (veinscan.Conn, error) {
	ids := o.USBIDs
	if ids == nil {
		ids = Known
	}
	if arg != "" {
		id, err := ParseID(arg)
		if err != nil {
			return nil, fmt.Errorf("veinscan: device usb:%s: %w", arg, err)
		}
		ids = []ID{id}
	}
	c, err := Open(ctx, ids, "")
	switch {
	case err == nil:
		return c, nil
	case errors.Is(err, ErrPermission):
		return nil, fmt.Errorf("%w: %w", veinscan.ErrPermission, err)
	case errors.Is(err, ErrNotFound):
		return nil, fmt.Errorf("%w: %w", veinscan.ErrNotFound, err)
	case errors.Is(err, ErrNoCgo):
		return nil, fmt.Errorf("%w: %w", veinscan.ErrUnsupported, err)
	}
	return nil, err
}

// ID is a USB vendor and product ID.
type ID = veinscan.USBID

// ParseID parses "VVVV:PPPP" (hexadecimal).
func ParseID(s string) (ID, error) { return veinscan.ParseUSBID(s) }

// Known are the scanners the driver looks for by default
// (veinscan.KnownUSBIDs).
var Known = veinscan.KnownUSBIDs

// The interface a scanner exposes: vendor-specific class with the
// protocol's subclass and protocol numbers, one bulk OUT and one bulk IN
// endpoint.
const (
	InterfaceClass    = 0xFF
	InterfaceSubClass = 0x56 // 'V'
	InterfaceProtocol = 0x01 // protocol version 1
)

// Errors.
var (
	ErrNotFound   = errors.New("no scanner found")
	ErrPermission = errors.New("permission denied")
	// ErrNoCgo: this binary was built without the USB transport.
	ErrNoCgo = errors.New("USB support not built in: rebuild with CGO_ENABLED=1, libusb-1.0-0-dev and pkg-config installed, and without -tags nousb")
	// ErrBadInterface: the device has no interface with one bulk OUT and
	// one bulk IN endpoint.
	ErrBadInterface = errors.New("no scanner interface (vendor class with one bulk OUT and one bulk IN endpoint)")
)

// Device describes an attached scanner found by Discover.
type Device = veinscan.USBDevice

func devPath(bus, addr int) string { return fmt.Sprintf("/dev/bus/usb/%03d/%03d", bus, addr) }

// UdevRule returns the udev rule for scanners with these IDs.
func UdevRule(ids []ID) string { return veinscan.UdevRule(ids) }

// PermissionHelp explains how to make dev usable.
func PermissionHelp(dev Device, ids []ID) string {
	who := "this user"
	if u, err := user.Current(); err == nil {
		who = "user " + u.Username
	}
	return fmt.Sprintf(`scanner %s is attached but %s may not open %s.
Install the udev rule and replug the scanner:

%s
  sudo install -m 644 udev/70-veinscan.rules /etc/udev/rules.d/
  sudo udevadm control --reload-rules && sudo udevadm trigger
  sudo usermod -aG plugdev $USER   # then log in again (kiosks: the service user)`, dev.ID, who, dev.Path, indent(UdevRule(ids)))
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = "  " + lines[i]
	}
	return strings.Join(lines, "\n")
}
