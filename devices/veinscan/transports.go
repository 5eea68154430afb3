package veinscan

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/qingshan-gov/veinkiosk/devices/serialport"
	"github.com/qingshan-gov/veinkiosk/devices/veinscan/wire"
)

func init() {
	RegisterTransport("serial", openSerial)
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
