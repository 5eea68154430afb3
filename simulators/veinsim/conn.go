package veinsim

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

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
//
// A request that is not complete when the host falls silent for the
// device's partial-frame time-out (Config.PartialFrameTimeout) is given up
// as docs/scanner-protocol.md ("Receiving") says: its first byte is
// skipped and the bytes after it searched again for frames, so a truncated
// request or a stray header declaring thousands of bytes delays the
// requests after it by the time-out and no more.
type Conn struct {
	d    *Device
	gen  int
	gone <-chan struct{}

	mu     sync.Mutex
	split  wire.Splitter
	out    []byte
	ready  chan struct{} // 1-buffered: data queued
	closed bool
	rx     uint64      // counts Writes: a pending time-out of an older one is void
	timer  *time.Timer // the partial-frame time-out, while a frame is incomplete
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
	c.answer(false)
	c.rx++
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	if c.split.Buffered() > 0 {
		rx := c.rx
		c.timer = time.AfterFunc(c.d.cfg.PartialFrameTimeout, func() { c.partialTimeout(rx) })
	}
	return nil
}

// answer handles every complete request buffered, with c.mu held. With
// giveUp, bytes that do not complete a frame are given up one at a time
// (the partial-frame time-out passed) until none are left.
func (c *Conn) answer(giveUp bool) {
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
			if !giveUp || c.split.Buffered() == 0 {
				return
			}
			c.split.Resync()
			continue
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

// partialTimeout runs when the host has sent nothing for the partial-frame
// time-out since Write number rx left an incomplete frame.
func (c *Conn) partialTimeout(rx uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || rx != c.rx || c.split.Buffered() == 0 || c.alive() != nil {
		return
	}
	if !c.d.partialTimedOut() {
		return // FaultKeepPartial (or a stall): the device waits for ever
	}
	c.answer(true)
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
	if c.timer != nil {
		c.timer.Stop()
	}
	c.closed = true
	c.out = nil
	c.mu.Unlock()
	return nil
}
