package veinscan

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// USB scanners are named by VID:PID. The transport itself (libusb through
// gousb, cgo) lives in devices/veinscan/usb, which registers "usb" and USB
// discovery from its init: only programs that drive real USB hardware
// import it, so nothing else needs libusb to build.

// USBID is a USB vendor and product ID.
type USBID struct{ Vendor, Product uint16 }

func (id USBID) String() string { return fmt.Sprintf("%04x:%04x", id.Vendor, id.Product) }

// ParseUSBID parses "VVVV:PPPP" (hexadecimal).
func ParseUSBID(s string) (USBID, error) {
	v, p, ok := strings.Cut(s, ":")
	if !ok {
		return USBID{}, fmt.Errorf("usb: bad VID:PID %q", s)
	}
	vi, err1 := strconv.ParseUint(v, 16, 16)
	pi, err2 := strconv.ParseUint(p, 16, 16)
	if err1 != nil || err2 != nil {
		return USBID{}, fmt.Errorf("usb: bad VID:PID %q (want hexadecimal like 1209:0001)", s)
	}
	return USBID{uint16(vi), uint16(pi)}, nil
}

// KnownUSBIDs are the VID:PIDs "usb" looks for by default: the project's
// simulator and development boards on pid.codes' test PID 1209:0001. A
// maker adds its own registered VID:PID (docs/scanner-protocol.md, "USB").
var KnownUSBIDs = []USBID{{0x1209, 0x0001}}

// UdevRule returns the udev rule that gives the console user and the
// plugdev group access to scanners with these IDs (udev/70-veinscan.rules
// holds the same for KnownUSBIDs).
func UdevRule(ids []USBID) string {
	var b strings.Builder
	b.WriteString("# /etc/udev/rules.d/70-veinscan.rules: finger-vein scanners (veinkiosk scanner protocol)\n")
	for _, id := range ids {
		fmt.Fprintf(&b, "SUBSYSTEM==\"usb\", ATTRS{idVendor}==\"%04x\", ATTRS{idProduct}==\"%04x\", MODE=\"0660\", GROUP=\"plugdev\", TAG+=\"uaccess\"\n", id.Vendor, id.Product)
	}
	return b.String()
}

// USBDevice describes an attached USB scanner found by Discover.
type USBDevice struct {
	ID           USBID  `json:"id"`
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

func (d USBDevice) String() string {
	s := fmt.Sprintf("%s at %s", d.ID, d.Path)
	if d.Product != "" {
		s += fmt.Sprintf(" (%s %s, serial %s)", d.Manufacturer, d.Product, d.Serial)
	}
	if !d.Usable {
		s += ": " + d.Problem
	}
	return s
}

// ErrNoUSB: the program does not link the USB transport
// (devices/veinscan/usb). It wraps ErrUnsupported.
var ErrNoUSB = fmt.Errorf("%w: this program is built without the USB transport (it links devices/veinscan/usb only where real USB is driven: kioskd, or veinctl built with -tags usb; install pkg-config and libusb-1.0-0-dev first)", ErrUnsupported)

var (
	usbMu       sync.RWMutex
	usbDiscover func(ids []USBID) ([]USBDevice, error)
)

// RegisterUSBDiscovery installs the function Discover calls; the USB
// transport package registers it from init.
func RegisterUSBDiscovery(f func(ids []USBID) ([]USBDevice, error)) {
	if f == nil {
		panic("veinscan: nil USB discovery")
	}
	usbMu.Lock()
	usbDiscover = f
	usbMu.Unlock()
}

// Discover lists attached USB scanners with one of the IDs (nil:
// KnownUSBIDs), including those this user cannot open (Usable false,
// Problem says why). Without the USB transport linked in it fails with
// ErrNoUSB (which wraps ErrUnsupported).
func Discover(ids []USBID) ([]USBDevice, error) {
	if ids == nil {
		ids = KnownUSBIDs
	}
	usbMu.RLock()
	f := usbDiscover
	usbMu.RUnlock()
	if f == nil {
		return nil, ErrNoUSB
	}
	return f(ids)
}
