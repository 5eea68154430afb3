// Package usb is the USB transport of the finger-vein scanner driver: it
// finds scanners by VID:PID, claims their vendor-specific interface and
// moves protocol bytes over its bulk OUT and bulk IN endpoints with
// github.com/google/gousb (libusb).
//
// gousb needs cgo and libusb-1.0: the implementation is built with
// "cgo && !nousb"; other builds get a stub whose errors say how to rebuild.
package usb

import (
	"errors"
	"fmt"
	"os/user"
	"strconv"
	"strings"
)

// ID is a USB vendor and product ID.
type ID struct{ Vendor, Product uint16 }

func (id ID) String() string { return fmt.Sprintf("%04x:%04x", id.Vendor, id.Product) }

// ParseID parses "VVVV:PPPP" (hexadecimal).
func ParseID(s string) (ID, error) {
	v, p, ok := strings.Cut(s, ":")
	if !ok {
		return ID{}, fmt.Errorf("usb: bad VID:PID %q", s)
	}
	vi, err1 := strconv.ParseUint(v, 16, 16)
	pi, err2 := strconv.ParseUint(p, 16, 16)
	if err1 != nil || err2 != nil {
		return ID{}, fmt.Errorf("usb: bad VID:PID %q (want hexadecimal like 1209:0001)", s)
	}
	return ID{uint16(vi), uint16(pi)}, nil
}

// Known are the scanners the driver looks for by default: the project's
// simulator and development boards on pid.codes' test PID. A maker adds its
// own registered VID:PID (docs/scanner-protocol.md, "USB").
var Known = []ID{{0x1209, 0x0001}}

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
type Device struct {
	ID           ID     `json:"id"`
	Bus          int    `json:"bus"`
	Address      int    `json:"address"`
	Path         string `json:"path"` // /dev/bus/usb/BBB/DDD
	Manufacturer string `json:"manufacturer,omitempty"`
	Product      string `json:"product,omitempty"`
	Serial       string `json:"serial,omitempty"`
	// Usable is false when the device is present but cannot be opened;
	// Problem says why (permissions: see UdevRule).
	Usable  bool   `json:"usable"`
	Problem string `json:"problem,omitempty"`
}

func (d Device) String() string {
	s := fmt.Sprintf("%s at %s", d.ID, d.Path)
	if d.Product != "" {
		s += fmt.Sprintf(" (%s %s, serial %s)", d.Manufacturer, d.Product, d.Serial)
	}
	if !d.Usable {
		s += ": " + d.Problem
	}
	return s
}

func devPath(bus, addr int) string { return fmt.Sprintf("/dev/bus/usb/%03d/%03d", bus, addr) }

// UdevRule returns the udev rule that gives the console user and the
// plugdev group access to scanners with these IDs (udev/70-veinscan.rules
// holds the same for Known).
func UdevRule(ids []ID) string {
	var b strings.Builder
	b.WriteString("# /etc/udev/rules.d/70-veinscan.rules: finger-vein scanners (veinkiosk scanner protocol)\n")
	for _, id := range ids {
		fmt.Fprintf(&b, "SUBSYSTEM==\"usb\", ATTRS{idVendor}==\"%04x\", ATTRS{idProduct}==\"%04x\", MODE=\"0660\", GROUP=\"plugdev\", TAG+=\"uaccess\"\n", id.Vendor, id.Product)
	}
	return b.String()
}

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
