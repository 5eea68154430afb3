//go:build cgo && !nousb

// Package umockusb attaches a simulated finger-vein scanner
// (simulators/veinsim) to umockdev as an emulated USB device, so that the
// driver's real gousb/libusb code path runs without hardware or kernel
// support. The program must run under umockdev-wrapper (which preloads
// libumockdev-preload); tests tagged "umockdev" do, through scripts/test.sh:
//
//	go test -tags umockdev -exec umockdev-wrapper ./cmd/veinctl
//
// The emulated device is VID:PID 1209:0001 (veinsim.USBVendorID and
// USBProductID) with one vendor-specific interface (class FF, subclass 56,
// protocol 01), bulk OUT endpoint 0x01 and bulk IN endpoint 0x81, 512-byte
// packets (high speed), and string descriptors for manufacturer, product
// and serial number. Unplugging the veinsim.Device makes every usbfs call
// fail with ENODEV, which libusb reports as a disconnection.
package umockusb

/*
#cgo pkg-config: umockdev-1.0 glib-2.0
#include <stdlib.h>
#include "umockusb.h"
*/
import "C"

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/cgo"
	"strings"
	"sync"
	"unicode/utf16"
	"unsafe"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan/wire"
	"github.com/qingshan-gov/veinkiosk/simulators/veinsim"
)

// ErrNotInMockEnvironment: the process does not run under umockdev-wrapper.
var ErrNotInMockEnvironment = errors.New("umockusb: not running under umockdev-wrapper (LD_PRELOAD lacks libumockdev-preload)")

// InMockEnvironment reports whether libumockdev-preload is loaded. (umockdev's
// own umockdev_in_mock_environment is unreliable under umockdev-wrapper.)
func InMockEnvironment() bool {
	return strings.Contains(os.Getenv("LD_PRELOAD"), "libumockdev-preload")
}

var (
	attachMu sync.Mutex
	nextAddr = 2
)

// Emulation is one emulated scanner.
type Emulation struct {
	dev     *veinsim.Device
	handle  cgo.Handle
	Bus     int
	Address int
	DevNode string // /dev/bus/usb/BBB/DDD as libusb sees it
	root    string // testbed root directory

	mu   sync.Mutex
	conn *veinsim.Conn
}

// Attach emulates dev as a USB device in this process's umockdev testbed.
// There is no detach: unplug the veinsim.Device instead.
//
// Programs that open the device must run with libumockdev-preload: this
// process under umockdev-wrapper (tests), or another process with
// UMOCKDEV_DIR=TestbedDir() and LD_PRELOAD=libumockdev-preload.so.0
// ("devsim vein --usb" prints the line).
func Attach(dev *veinsim.Device) (*Emulation, error) {
	attachMu.Lock()
	defer attachMu.Unlock()
	e := &Emulation{dev: dev, Bus: 1, Address: nextAddr}
	e.DevNode = fmt.Sprintf("/dev/bus/usb/%03d/%03d", e.Bus, e.Address)
	e.handle = cgo.NewHandle(e)
	descr := description(dev.Info(), e.Bus, e.Address)
	cd, cn := C.CString(descr), C.CString(e.DevNode)
	defer C.free(unsafe.Pointer(cd))
	defer C.free(unsafe.Pointer(cn))
	var cerr *C.char
	if C.vs_attach(C.uintptr_t(e.handle), cd, cn, &cerr) == nil {
		e.handle.Delete()
		msg := C.GoString(cerr)
		C.vs_free(cerr)
		return nil, fmt.Errorf("umockusb: attaching %s: %s", e.DevNode, msg)
	}
	var root *C.char
	if C.vs_testbed(&root, &cerr) == 0 {
		e.root = C.GoString(root)
		C.vs_free(root)
	}
	nextAddr++
	return e, nil
}

// RemoveTestbed deletes the testbed directory. Call it once, when the
// program is about to exit: the emulated devices vanish with it.
func RemoveTestbed() {
	attachMu.Lock()
	defer attachMu.Unlock()
	C.vs_remove_testbed()
}

// TestbedDir is the umockdev testbed directory (UMOCKDEV_DIR for other
// processes).
func (e *Emulation) TestbedDir() string { return e.root }

// NodePath returns the testbed file behind DevNode (for tests that change
// its permissions to exercise the driver's diagnosis).
func (e *Emulation) NodePath() string { return filepath.Join(e.root, e.DevNode) }

// conn returns the current connection to the device model, opening a new
// one after a replug.
func (e *Emulation) connection() (*veinsim.Conn, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conn != nil {
		if _, err := e.conn.TryRead(nil); err == nil {
			return e.conn, nil
		}
	}
	c, err := e.dev.Connect()
	if err != nil {
		return nil, err
	}
	e.conn = c
	return c, nil
}

func fromHandle(h C.uintptr_t) *Emulation { return cgo.Handle(h).Value().(*Emulation) }

//export vsGoPlugged
func vsGoPlugged(h C.uintptr_t) C.int {
	if fromHandle(h).dev.Plugged() {
		return 1
	}
	return 0
}

//export vsGoReset
func vsGoReset(h C.uintptr_t) {
	e := fromHandle(h)
	e.mu.Lock()
	if e.conn != nil {
		e.conn.Close()
		e.conn = nil
	}
	e.mu.Unlock()
}

const errNoDev = -19 // -ENODEV

//export vsGoOut
func vsGoOut(h C.uintptr_t, ep C.uchar, buf *C.uchar, n C.int) C.int {
	e := fromHandle(h)
	c, err := e.connection()
	if err != nil {
		return errNoDev
	}
	p := C.GoBytes(unsafe.Pointer(buf), n)
	if err := c.Write(context.Background(), p); err != nil {
		if errors.Is(err, wire.ErrDisconnected) {
			return errNoDev
		}
		return -5 // -EIO
	}
	return n
}

//export vsGoIn
func vsGoIn(h C.uintptr_t, ep C.uchar, buf *C.uchar, capacity C.int) C.int {
	e := fromHandle(h)
	c, err := e.connection()
	if err != nil || capacity <= 0 {
		return -1
	}
	dst := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(capacity))
	n, err := c.TryRead(dst)
	if err != nil || n == 0 {
		return -1 // keep the URB waiting; an unplug is seen by the next ioctl
	}
	return C.int(n)
}

// vsGoControl answers a control URB: buf holds the 8-byte setup packet and
// room for the data stage. It returns the data length or a negative errno.
//
//export vsGoControl
func vsGoControl(h C.uintptr_t, buf *C.uchar, n C.int) C.int {
	e := fromHandle(h)
	b := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(n))
	reqType, req := b[0], b[1]
	value := binary.LittleEndian.Uint16(b[2:])
	length := int(binary.LittleEndian.Uint16(b[6:]))
	const getDescriptor, stringDesc = 6, 3
	if reqType != 0x80 || req != getDescriptor || value>>8 != stringDesc {
		return -32 // -EPIPE: stall, as a device does for requests it does not know
	}
	info := e.dev.Info()
	var s []uint16
	switch value & 0xff {
	case 0:
		s = []uint16{0x0409} // language IDs: English (US)
	case 1:
		s = utf16.Encode([]rune(info.Vendor))
	case 2:
		s = utf16.Encode([]rune(info.Model))
	case 3:
		s = utf16.Encode([]rune(info.Serial))
	default:
		return -32
	}
	d := []byte{byte(2 + 2*len(s)), stringDesc}
	for _, u := range s {
		d = binary.LittleEndian.AppendUint16(d, u)
	}
	k := min(len(d), length, int(n)-8)
	copy(b[8:], d[:k])
	return C.int(k)
}

// descriptors returns the device and configuration descriptors.
func descriptors() []byte {
	dev := []byte{18, 1, 0x00, 0x02, 0, 0, 0, 64,
		veinsim.USBVendorID & 0xff, veinsim.USBVendorID >> 8,
		veinsim.USBProductID & 0xff, veinsim.USBProductID >> 8,
		0x00, 0x01, 1, 2, 3, 1}
	cfg := []byte{9, 2, 32, 0, 1, 1, 0, 0x80, 50}
	intf := []byte{9, 4, 0, 0, 2, 0xFF, 0x56, 0x01, 0}
	out := []byte{7, 5, 0x01, 2, 0x00, 0x02, 0}
	in := []byte{7, 5, 0x81, 2, 0x00, 0x02, 0}
	var b []byte
	for _, p := range [][]byte{dev, cfg, intf, out, in} {
		b = append(b, p...)
	}
	return b
}

// description is the umockdev device description (the format of
// umockdev-record) of the emulated scanner.
func description(info wire.DeviceInfo, bus, addr int) string {
	hex := fmt.Sprintf("%X", descriptors())
	var b strings.Builder
	fmt.Fprintf(&b, "P: /devices/pci0000:00/0000:00:14.0/usb%d/%d-%d\n", bus, bus, addr)
	fmt.Fprintf(&b, "N: bus/usb/%03d/%03d=%s\n", bus, addr, hex)
	fmt.Fprintf(&b, "E: DEVNAME=/dev/bus/usb/%03d/%03d\n", bus, addr)
	b.WriteString("E: DEVTYPE=usb_device\nE: DRIVER=usb\n")
	fmt.Fprintf(&b, "E: PRODUCT=%x/%x/100\nE: TYPE=0/0/0\n", veinsim.USBVendorID, veinsim.USBProductID)
	fmt.Fprintf(&b, "E: BUSNUM=%03d\nE: DEVNUM=%03d\nE: MAJOR=189\nE: MINOR=%d\n", bus, addr, (bus-1)*128+addr-1)
	fmt.Fprintf(&b, "E: SUBSYSTEM=usb\nE: ID_VENDOR_ID=%04x\nE: ID_MODEL_ID=%04x\nE: ID_SERIAL_SHORT=%s\nE: ID_BUS=usb\n",
		veinsim.USBVendorID, veinsim.USBProductID, info.Serial)
	b.WriteString("A: authorized=1\nA: bConfigurationValue=1\nA: bDeviceClass=00\nA: bDeviceProtocol=00\nA: bDeviceSubClass=00\n")
	b.WriteString("A: bMaxPacketSize0=64\nA: bNumConfigurations=1\nA: bNumInterfaces= 1\nA: bcdDevice=0100\nA: bmAttributes=80\n")
	fmt.Fprintf(&b, "A: busnum=%d\\n\n", bus)
	fmt.Fprintf(&b, "H: descriptors=%s\n", hex)
	fmt.Fprintf(&b, "A: dev=189:%d\nA: devnum=%d\\n\nA: devpath=%d\n", (bus-1)*128+addr-1, addr, addr)
	fmt.Fprintf(&b, "A: idProduct=%04x\nA: idVendor=%04x\n", veinsim.USBProductID, veinsim.USBVendorID)
	fmt.Fprintf(&b, "A: manufacturer=%s\nA: product=%s\nA: serial=%s\n", info.Vendor, info.Model, info.Serial)
	b.WriteString("A: speed=480\nA: version= 2.00\n")
	return b.String()
}
