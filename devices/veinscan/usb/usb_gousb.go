//go:build cgo && !nousb

package usb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"

	"github.com/google/gousb"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan/wire"
)

func matchID(ids []ID, desc *gousb.DeviceDesc) bool {
	for _, id := range ids {
		if uint16(desc.Vendor) == id.Vendor && uint16(desc.Product) == id.Product {
			return true
		}
	}
	return false
}

func describe(desc *gousb.DeviceDesc) Device {
	return Device{ID: ID{Vendor: uint16(desc.Vendor), Product: uint16(desc.Product)}, Bus: desc.Bus, Address: desc.Address,
		Path: devPath(desc.Bus, desc.Address)}
}

// readStrings fills the string descriptors; devices that do not answer
// control requests keep them empty.
func readStrings(d *gousb.Device, out *Device) {
	out.Manufacturer, _ = d.Manufacturer()
	out.Product, _ = d.Product()
	out.Serial, _ = d.SerialNumber()
}

// openAll opens every attached device with a matching ID. It returns the
// opened devices and a description of every match, opened or not.
func openAll(uctx *gousb.Context, ids []ID) ([]*gousb.Device, []Device, error) {
	var found []Device
	devs, err := uctx.OpenDevices(func(desc *gousb.DeviceDesc) bool {
		if !matchID(ids, desc) {
			return false
		}
		found = append(found, describe(desc))
		return true
	})
	for i := range found {
		found[i].Problem = "cannot be opened"
		if err != nil {
			found[i].Problem = problem(found[i], err)
		}
	}
	for _, d := range devs {
		for i := range found {
			if found[i].Bus == d.Desc.Bus && found[i].Address == d.Desc.Address {
				found[i].Usable, found[i].Problem = true, ""
			}
		}
	}
	sort.Slice(found, func(i, j int) bool {
		if found[i].Bus != found[j].Bus {
			return found[i].Bus < found[j].Bus
		}
		return found[i].Address < found[j].Address
	})
	return devs, found, err
}

func problem(d Device, err error) string {
	if errors.Is(err, gousb.ErrorAccess) {
		return "permission denied (install the udev rule: veinctl scanner list prints it)"
	}
	if errors.Is(err, gousb.ErrorBusy) {
		return "busy: another program has claimed it"
	}
	return err.Error()
}

// Discover lists attached devices with one of ids, usable or not.
func Discover(ids []ID) ([]Device, error) {
	uctx := gousb.NewContext()
	defer uctx.Close()
	devs, found, err := openAll(uctx, ids)
	for _, d := range devs {
		for i := range found {
			if found[i].Bus == d.Desc.Bus && found[i].Address == d.Desc.Address {
				readStrings(d, &found[i])
			}
		}
		d.Close()
	}
	if len(found) == 0 && err != nil {
		return nil, fmt.Errorf("usb: enumerating devices: %w", err)
	}
	return found, nil
}

// Conn is an open scanner: its interface claimed, bulk endpoints ready.
// It implements devices/veinscan.Conn.
type Conn struct {
	uctx *gousb.Context
	dev  *gousb.Device
	cfg  *gousb.Config
	intf *gousb.Interface
	out  *gousb.OutEndpoint
	in   *gousb.InEndpoint
	info Device

	rmu      sync.Mutex
	rbuf     []byte
	pending  []byte
	closeMu  sync.Mutex
	closed   bool
	gone     bool
	readSize int
}

// Open opens the first attached scanner with one of ids (and this USB
// serial number, when serial is not empty) and claims its interface.
func Open(ctx context.Context, ids []ID, serial string) (*Conn, error) {
	if len(ids) == 0 {
		ids = Known
	}
	uctx := gousb.NewContext()
	devs, found, oerr := openAll(uctx, ids)
	var chosen *gousb.Device
	var info Device
	for _, d := range devs {
		di := describe(d.Desc)
		if chosen == nil && serial != "" {
			readStrings(d, &di)
		}
		if chosen == nil && (serial == "" || di.Serial == serial) {
			chosen, info = d, di
			continue
		}
		d.Close()
	}
	if chosen == nil {
		uctx.Close()
		for _, f := range found {
			if !f.Usable && errors.Is(oerr, gousb.ErrorAccess) {
				f.Problem = "permission denied"
				return nil, fmt.Errorf("usb: %w: %s", ErrPermission, PermissionHelp(f, ids))
			}
		}
		if len(found) > 0 {
			return nil, fmt.Errorf("usb: %w: %v found but unusable: %v", ErrNotFound, found, oerr)
		}
		return nil, fmt.Errorf("usb: %w with IDs %v (is it plugged in? lsusb lists attached devices)", ErrNotFound, ids)
	}
	c := &Conn{uctx: uctx, dev: chosen, info: info}
	info.Usable = true
	readStrings(chosen, &c.info)
	if err := c.claim(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// claim finds the scanner interface: vendor class, preferably with the
// protocol's subclass, with one bulk OUT and one bulk IN endpoint.
func (c *Conn) claim() error {
	type cand struct {
		cfg, intf, alt int
		out, in        gousb.EndpointDesc
		rank           int
	}
	var best *cand
	for _, cfg := range c.dev.Desc.Configs {
		for _, id := range cfg.Interfaces {
			for _, alt := range id.AltSettings {
				var outs, ins []gousb.EndpointDesc
				for _, ep := range alt.Endpoints {
					if ep.TransferType != gousb.TransferTypeBulk {
						continue
					}
					if ep.Direction == gousb.EndpointDirectionIn {
						ins = append(ins, ep)
					} else {
						outs = append(outs, ep)
					}
				}
				if len(outs) != 1 || len(ins) != 1 || alt.Class != gousb.ClassVendorSpec {
					continue
				}
				k := cand{cfg: cfg.Number, intf: alt.Number, alt: alt.Alternate, out: outs[0], in: ins[0]}
				if alt.SubClass == InterfaceSubClass && alt.Protocol == InterfaceProtocol {
					k.rank = 1
				}
				if best == nil || k.rank > best.rank {
					best = &k
				}
			}
		}
	}
	if best == nil {
		return fmt.Errorf("usb: %s: %w", c.info.ID, ErrBadInterface)
	}
	var err error
	if c.cfg, err = c.dev.Config(best.cfg); err != nil {
		return fmt.Errorf("usb: %s: configuration %d: %w", c.info.ID, best.cfg, c.mapErr(context.Background(), err))
	}
	if c.intf, err = c.cfg.Interface(best.intf, best.alt); err != nil {
		if errors.Is(err, gousb.ErrorBusy) {
			return fmt.Errorf("usb: %s: interface %d is claimed by another program: %w", c.info.ID, best.intf, err)
		}
		return fmt.Errorf("usb: %s: claiming interface %d: %w", c.info.ID, best.intf, c.mapErr(context.Background(), err))
	}
	if c.out, err = c.intf.OutEndpoint(best.out.Number); err != nil {
		return fmt.Errorf("usb: %s: %w", c.info.ID, err)
	}
	if c.in, err = c.intf.InEndpoint(best.in.Number); err != nil {
		return fmt.Errorf("usb: %s: %w", c.info.ID, err)
	}
	mps := max(best.in.MaxPacketSize, 8)
	c.readSize = max(mps, (wire.MaxFrameSize/mps)*mps)
	c.rbuf = make([]byte, c.readSize)
	return nil
}

// Device describes the open device.
func (c *Conn) Device() Device { return c.info }

// Write sends p on the bulk OUT endpoint.
func (c *Conn) Write(ctx context.Context, p []byte) error {
	if err := c.state(); err != nil {
		return err
	}
	for len(p) > 0 {
		n, err := c.out.WriteContext(ctx, p)
		if err != nil {
			return c.mapErr(ctx, err)
		}
		p = p[n:]
	}
	return nil
}

// Read reads from the bulk IN endpoint. A bulk transfer may carry more
// than p holds; the rest is returned by the next Read.
func (c *Conn) Read(ctx context.Context, p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	if err := c.state(); err != nil {
		return 0, err
	}
	for {
		n, err := c.in.ReadContext(ctx, c.rbuf)
		if err != nil && n == 0 {
			return 0, c.mapErr(ctx, err)
		}
		if n == 0 {
			continue // zero-length packet
		}
		k := copy(p, c.rbuf[:n])
		c.pending = append(c.pending[:0], c.rbuf[k:n]...)
		return k, nil
	}
}

func (c *Conn) state() error {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	switch {
	case c.closed:
		return errors.New("usb: connection closed")
	case c.gone:
		return fmt.Errorf("usb %s: %w", c.info.Path, wire.ErrDisconnected)
	}
	return nil
}

// mapErr turns libusb errors into the driver's: a vanished device becomes
// wire.ErrDisconnected, a cancelled transfer the context's error.
func (c *Conn) mapErr(ctx context.Context, err error) error {
	if ctx.Err() != nil && (errors.Is(err, gousb.TransferCancelled) || errors.Is(err, ctx.Err())) {
		return ctx.Err()
	}
	disconnected := errors.Is(err, gousb.ErrorNoDevice) || errors.Is(err, gousb.TransferNoDevice)
	if !disconnected && (errors.Is(err, gousb.ErrorIO) || errors.Is(err, gousb.TransferError)) && c.info.Path != "" {
		if _, serr := os.Stat(c.info.Path); errors.Is(serr, os.ErrNotExist) {
			disconnected = true
		}
	}
	if disconnected {
		c.closeMu.Lock()
		c.gone = true
		c.closeMu.Unlock()
		return fmt.Errorf("usb %s: %w (%v)", c.info.Path, wire.ErrDisconnected, err)
	}
	if errors.Is(err, gousb.TransferStall) {
		return fmt.Errorf("usb %s: endpoint stalled: %w", c.info.Path, err)
	}
	return fmt.Errorf("usb %s: %w", c.info.Path, err)
}

// Close releases the interface, the device and the libusb context (and
// with it gousb's event goroutine).
func (c *Conn) Close() error {
	c.closeMu.Lock()
	if c.closed {
		c.closeMu.Unlock()
		return nil
	}
	c.closed = true
	c.closeMu.Unlock()
	if c.intf != nil {
		c.intf.Close()
	}
	if c.cfg != nil {
		c.cfg.Close()
	}
	if c.dev != nil {
		c.dev.Close()
	}
	return c.uctx.Close()
}
