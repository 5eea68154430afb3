package conformance

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan"
	"github.com/qingshan-gov/veinkiosk/devices/veinscan/wire"
)

// raw is the kit's own minimal client: it talks frames over the device's
// connection without the driver's retries and tolerance, so that whatever
// the device does wrong shows.
type raw struct {
	c     veinscan.Conn
	split wire.Splitter
	seq   uint16
	buf   []byte
}

func newRaw(c veinscan.Conn) *raw {
	return &raw{c: c, seq: 0x1000, buf: make([]byte, wire.MaxFrameSize)}
}

func (r *raw) nextSeq() uint16 { r.seq++; return r.seq }

func (r *raw) send(ctx context.Context, b []byte) error {
	return r.c.Write(ctx, b)
}

// exchange sends f (its Seq assigned unless keepSeq) and waits for the
// response carrying its sequence number. Any frame or byte the device sends
// that is not that response is a protocol violation reported as error.
func (r *raw) exchange(ctx context.Context, f *wire.Frame, keepSeq bool, timeout time.Duration) (*wire.Frame, time.Duration, error) {
	if !keepSeq {
		f.Seq = r.nextSeq()
	}
	b, err := wire.AppendFrame(nil, f)
	if err != nil {
		return nil, 0, err
	}
	return r.exchangeBytes(ctx, b, f.Seq, timeout)
}

func (r *raw) exchangeBytes(ctx context.Context, b []byte, seq uint16, timeout time.Duration) (*wire.Frame, time.Duration, error) {
	t0 := time.Now()
	if err := r.send(ctx, b); err != nil {
		return nil, 0, err
	}
	resp, err := r.next(ctx, timeout)
	el := time.Since(t0)
	if err != nil {
		return nil, el, err
	}
	if !resp.IsResponse() {
		return resp, el, fmt.Errorf("device sent a frame without the response flag (%v)", resp)
	}
	if resp.Seq != seq {
		return resp, el, fmt.Errorf("response carries sequence number %d, request had %d", resp.Seq, seq)
	}
	return resp, el, nil
}

// next waits for the next frame.
func (r *raw) next(ctx context.Context, timeout time.Duration) (*wire.Frame, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	skipped := r.split.Skipped
	for {
		f, err := r.split.Next()
		if err != nil {
			return nil, fmt.Errorf("damaged response frame: %w", err)
		}
		if f != nil {
			if r.split.Skipped != skipped {
				return f, fmt.Errorf("%d stray bytes before the response frame", r.split.Skipped-skipped)
			}
			return f, nil
		}
		n, err := r.c.Read(ctx, r.buf)
		if n > 0 {
			r.split.Write(r.buf[:n])
		}
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				if r.split.Buffered() > 0 {
					return nil, fmt.Errorf("no complete response within %v (%d bytes of an incomplete frame)", timeout, r.split.Buffered())
				}
				return nil, fmt.Errorf("no response within %v", timeout)
			}
			return nil, err
		}
	}
}

// drain discards whatever the device still sends within d, and reports
// how many bytes that was.
func (r *raw) drain(ctx context.Context, d time.Duration) int {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	n := r.split.Buffered()
	r.split.Reset()
	for {
		k, err := r.c.Read(ctx, r.buf)
		n += k
		if err != nil {
			return n
		}
	}
}

// call is exchange for a well-behaved command: it fails on error responses.
func (r *raw) call(ctx context.Context, cmd wire.Command, payload []byte, timeout time.Duration) (*wire.Frame, time.Duration, error) {
	f, el, err := r.exchange(ctx, &wire.Frame{Command: cmd, Payload: payload}, false, timeout)
	if err != nil {
		return nil, el, err
	}
	if f.Command != cmd {
		return nil, el, fmt.Errorf("%s answered with command %s", cmd, f.Command)
	}
	if f.IsError() {
		var de wire.DeviceError
		if err := de.UnmarshalBinary(f.Payload); err != nil {
			return nil, el, fmt.Errorf("%s: malformed error response: %w", cmd, err)
		}
		return nil, el, &de
	}
	return f, el, nil
}

// expectError sends f and checks that the answer is an error response with
// code and the request's sequence number and command.
func (r *raw) expectError(ctx context.Context, b []byte, seq uint16, cmd wire.Command, code wire.ErrorCode, timeout time.Duration) error {
	f, _, err := r.exchangeBytes(ctx, b, seq, timeout)
	if err != nil {
		return err
	}
	if !f.IsError() {
		return fmt.Errorf("got a normal %s response, want error %s", f.Command, code)
	}
	var de wire.DeviceError
	if err := de.UnmarshalBinary(f.Payload); err != nil {
		return fmt.Errorf("malformed error payload: %w", err)
	}
	if de.Code != code {
		return fmt.Errorf("error %s, want %s", de.Code, code)
	}
	if f.Command != cmd {
		return fmt.Errorf("error response carries command %s, want %s", f.Command, cmd)
	}
	return nil
}

// noClose hands the connection to a Scanner without letting it close it.
type noClose struct{ veinscan.Conn }

func (noClose) Close() error { return nil }
