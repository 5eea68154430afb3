package veinsim

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan/wire"
)

// ErrClosed is returned by a Conn after Close.
var ErrClosed = errors.New("veinsim: connection closed")

// Conn is one host connection to the device as a byte stream: the host
// writes request bytes and reads response bytes, exactly as over a serial
// line or a pair of USB bulk endpoints. Its Read and Write methods have the
// shape of devices/veinscan.Conn, so the driver uses it directly.
//
// The device parses the stream with wire.Splitter and answers each request
// while Write runs; Read returns the queued response bytes. After Unplug,
// Read and Write fail with an error wrapping wire.ErrDisconnected.
type Conn struct {
	d    *Device
	gen  int
	gone <-chan struct{}

	mu     sync.Mutex
	split  wire.Splitter
	out    []byte
	ready  chan struct{} // 1-buffered: data queued
	closed bool
}

// Connect opens a connection. It fails with wire.ErrDisconnected while the
// device is unplugged.
func (d *Device) Connect() (*Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.unplugged {
		return nil, fmt.Errorf("veinsim %s: %w", d.info.Serial, wire.ErrDisconnected)
	}
	return &Conn{d: d, gen: d.gen, gone: d.gone, ready: make(chan struct{}, 1)}, nil
}

func (c *Conn) alive() error {
	if c.closed {
		return ErrClosed
	}
	c.d.mu.Lock()
	dead := c.d.unplugged || c.d.gen != c.gen
	c.d.mu.Unlock()
	if dead {
		return fmt.Errorf("veinsim %s: %w", c.d.info.Serial, wire.ErrDisconnected)
	}
	return nil
}

// Write feeds request bytes to the device, which answers every complete
// request before Write returns.
func (c *Conn) Write(ctx context.Context, p []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.alive(); err != nil {
		return err
	}
	c.split.Write(p)
	for {
		f, err := c.split.Next()
		var resp []byte
		switch {
		case err != nil:
			var de *wire.DamagedFrameError
			if errors.As(err, &de) {
				resp = c.d.badCRC(de.Header)
			} else {
				resp = c.d.handle(f, err)
			}
		case f == nil:
			return nil
		default:
			resp = c.d.handle(f, nil)
		}
		if len(resp) > 0 {
			c.out = append(c.out, resp...)
			select {
			case c.ready <- struct{}{}:
			default:
			}
		}
	}
}

// Read returns response bytes, waiting until some are available, the
// context ends, or the device is unplugged.
func (c *Conn) Read(ctx context.Context, p []byte) (int, error) {
	for {
		n, err := c.TryRead(p)
		if n > 0 || err != nil {
			return n, err
		}
		select {
		case <-c.ready:
		case <-c.gone:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// TryRead is Read without waiting: it returns 0, nil when nothing is queued.
func (c *Conn) TryRead(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.alive(); err != nil {
		return 0, err
	}
	n := copy(p, c.out)
	c.out = c.out[:copy(c.out, c.out[n:])]
	return n, nil
}

// Close ends the connection. It never fails.
func (c *Conn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.out = nil
	c.mu.Unlock()
	return nil
}
