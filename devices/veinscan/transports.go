package veinscan

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/qingshan-gov/veinkiosk/devices/serialport"
	"github.com/qingshan-gov/veinkiosk/devices/veinscan/usb"
	"github.com/qingshan-gov/veinkiosk/devices/veinscan/wire"
)

// USBID is a USB vendor and product ID.
type USBID = usb.ID

// KnownUSBIDs are the VID:PIDs "usb" looks for by default (pid.codes'
// 1209:0001 test PID, used by the simulator and development boards).
var KnownUSBIDs = usb.Known

// ParseUSBID parses "VVVV:PPPP" (hexadecimal).
func ParseUSBID(s string) (USBID, error) { return usb.ParseID(s) }

// UdevRule returns the udev rule that grants access to scanners with ids.
func UdevRule(ids []USBID) string { return usb.UdevRule(ids) }

// USBDevice describes an attached USB scanner (see Discover).
type USBDevice = usb.Device

// Discover lists attached USB scanners with one of the IDs (nil:
// KnownUSBIDs), including those this user cannot open (Usable false,
// Problem says why). Without USB support built in it fails with
// ErrUnsupported.
func Discover(ids []USBID) ([]USBDevice, error) {
	if ids == nil {
		ids = KnownUSBIDs
	}
	d, err := usb.Discover(ids)
	if errors.Is(err, usb.ErrNoCgo) {
		return nil, fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	return d, err
}

func init() {
	RegisterTransport("usb", openUSB)
	RegisterTransport("serial", openSerial)
}

// openUSB handles "usb" and "usb:VID:PID".
func openUSB(ctx context.Context, arg string, o *Options) (Conn, error) {
	ids := o.USBIDs
	if ids == nil {
		ids = KnownUSBIDs
	}
	if arg != "" {
		id, err := usb.ParseID(arg)
		if err != nil {
			return nil, fmt.Errorf("veinscan: device usb:%s: %w", arg, err)
		}
		ids = []USBID{id}
	}
	c, err := usb.Open(ctx, ids, "")
	switch {
	case err == nil:
		return c, nil
	case errors.Is(err, usb.ErrPermission):
		return nil, fmt.Errorf("%w: %w", ErrPermission, err)
	case errors.Is(err, usb.ErrNotFound):
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	case errors.Is(err, usb.ErrNoCgo):
		return nil, fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	return nil, err
}

// serialConn adapts a serialport.Port (blocking reads with a 100 ms
// timeout) to Conn: Read polls until data, the context's end or a
// disconnection.
type serialConn struct {
	p *serialport.Port
}

// openSerial handles "serial:PATH".
func openSerial(ctx context.Context, arg string, o *Options) (Conn, error) {
	if arg == "" {
		return nil, errors.New("veinscan: serial needs a path: serial:/dev/ttyACM0")
	}
	opts := serialport.DefaultOptions(arg)
	opts.Baud = o.Baud
	opts.ReadTimeout = serialport.MinReadTimeout
	p, err := serialport.Open(opts)
	if err != nil {
		switch {
		case errors.Is(err, os.ErrPermission) || strings.Contains(err.Error(), "permission denied"):
			return nil, fmt.Errorf("%w: %w (add the user to the dialout group)", ErrPermission, err)
		case errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("%w: no serial device at %s: %w", ErrNotFound, arg, err)
		}
		return nil, err
	}
	return &serialConn{p: p}, nil
}

func (c *serialConn) Write(ctx context.Context, p []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for len(p) > 0 {
		n, err := c.p.Write(p)
		if err != nil {
			return c.mapErr(err)
		}
		p = p[n:]
	}
	return nil
}

func (c *serialConn) Read(ctx context.Context, p []byte) (int, error) {
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		n, err := c.p.Read(p)
		if n > 0 {
			return n, nil
		}
		if err != nil && !errors.Is(err, serialport.ErrTimeout) {
			return 0, c.mapErr(err)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= 0 {
			return 0, context.DeadlineExceeded
		}
	}
}

func (c *serialConn) mapErr(err error) error {
	if errors.Is(err, serialport.ErrDisconnected) {
		return fmt.Errorf("%w: %w", wire.ErrDisconnected, err)
	}
	return err
}

func (c *serialConn) Close() error { return c.p.Close() }
