// Package idcard drives resident ID-card readers that speak the SAM serial
// protocol (GA 467 style; see docs/idcard-protocol.md): find card, select
// card, read text and photo (and fingerprints), SAM id and reset, with
// retries, resynchronisation after line noise and clear errors for a kiosk.
//
// The driver takes a ready connection (Port): usually a serial port opened
// with Open (devices/serialport, github.com/tarm/serial), or a
// conntest.Playback in tests. It starts no goroutines.
//
//	dev, err := idcard.Open(idcard.Options{Port: "/dev/ttyUSB0"})
//	...
//	defer dev.Close()
//	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
//	defer cancel()
//	card, err := dev.Read(ctx) // polls until a card is on the reader
//	if p, ok := sam.Explain(err); ok {
//		show(p.Chinese) // "未检测到身份证，请将身份证放在读卡区", ...
//	}
//
// Errors: status errors of the reader are *sam.StatusError (errors.Is
// sam.ErrNoCard, sam.ErrCardAuth, ...); a reader that does not answer is
// ErrTimeout; a corrupted answer that retries did not cure is ErrBadFrame
// (also wrapping sam.ErrChecksum, sam.ErrLength or sam.ErrTruncated); a
// reader that went away is ErrDisconnected: close the device and open it
// again. Each of these is a *sam.Problem with a message for the resident.
package idcard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/qingshan-gov/veinkiosk/devices/idcard/sam"
	"github.com/qingshan-gov/veinkiosk/devices/serialport"
	"github.com/qingshan-gov/veinkiosk/identity"
)

// Port is the connection the driver needs. Read must return within a
// bounded time when no data comes, with an error for which
// errors.Is(err, os.ErrDeadlineExceeded) holds (serialport.Port and
// conntest.Playback do); any other read error means the device is gone.
type Port interface {
	io.ReadWriter
	// Flush discards received bytes that were not read yet.
	Flush() error
}

// Options configure the driver.
type Options struct {
	// Port and Baud are used by Open only.
	Port string
	Baud int
	// CommandTimeout bounds the wait for the answer to find, select and
	// SAM commands (real readers answer in tens of milliseconds).
	CommandTimeout time.Duration
	// ReadTimeout bounds the wait for the answer to a card read (30 01,
	// 30 10), which takes 0.5-1.5 s of RF exchange and authentication.
	ReadTimeout time.Duration
	// Retries is how many times a command is sent again after a timeout
	// or a corrupted answer.
	Retries int
	// PollInterval is the pause between two find attempts in Read.
	PollInterval time.Duration
	// Fingerprint makes Read use 30 10 (text, photo and fingerprint)
	// instead of 30 01.
	Fingerprint bool
	// Logger receives debug lines per command (never card contents).
	Logger *slog.Logger
}

// DefaultOptions are sensible for USB and RS-232 readers at 115200 baud.
var DefaultOptions = Options{
	Baud:           serialport.DefaultBaud,
	CommandTimeout: 1 * time.Second,
	ReadTimeout:    4 * time.Second,
	Retries:        2,
	PollInterval:   200 * time.Millisecond,
}

func (o *Options) fill() {
	d := DefaultOptions
	if o.Baud == 0 {
		o.Baud = d.Baud
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = d.CommandTimeout
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = d.ReadTimeout
	}
	if o.Retries < 0 {
		o.Retries = 0
	}
	if o.PollInterval <= 0 {
		o.PollInterval = d.PollInterval
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Driver errors. Each is a *sam.Problem with messages for the resident.
var (
	ErrTimeout = &sam.Problem{Code: "reader_timeout",
		Chinese: "读卡器无响应，请联系工作人员",
		English: "reader not responding"}
	ErrDisconnected = &sam.Problem{Code: "reader_disconnected",
		Chinese: "读卡器已断开连接，请联系工作人员",
		English: "device disconnected"}
	ErrBadFrame = &sam.Problem{Code: "reader_bad_frame",
		Chinese: "读卡器通信错误，请重新放置身份证",
		English: "corrupted answer from the reader"}
)

// Stats counts what the driver had to cope with.
type Stats struct {
	Commands  int   // commands sent, retries included
	Retries   int   // commands sent again
	BadFrames int   // answers with a bad checksum, length or truncated
	Timeouts  int   // commands with no answer in time
	Stale     int   // well-formed answers that did not fit the command (late answers to earlier commands)
	Discarded int64 // bytes skipped while resynchronising on the preamble
}

// Dev is a reader. Its methods may be called from several goroutines; they
// run one at a time.
type Dev struct {
	opts  Options
	port  Port
	owned io.Closer // the port, when Open opened it

	mu    sync.Mutex
	fr    *sam.FrameReader
	stats Stats
}

// New returns a driver on an open port. The caller keeps ownership of the
// port; Close does not close it.
func New(port Port, opts *Options) (*Dev, error) {
	if port == nil {
		return nil, errors.New("idcard: nil port")
	}
	o := DefaultOptions
	if opts != nil {
		o = *opts
	}
	o.fill()
	return &Dev{opts: o, port: port, fr: sam.NewFrameReader(port, 0)}, nil
}

// Open opens opts.Port with devices/serialport and returns a driver that
// owns it.
func Open(opts Options) (*Dev, error) {
	opts.fill()
	p, err := serialport.Open(serialport.Options{Port: opts.Port, Baud: opts.Baud, ReadTimeout: serialport.MinReadTimeout})
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENODEV) || errors.Is(err, syscall.ENXIO) {
			// No device at that path: the reader is not plugged in.
			return nil, fmt.Errorf("idcard: %w: %w", ErrDisconnected, err)
		}
		return nil, fmt.Errorf("idcard: %w", err)
	}
	d, err := New(p, &opts)
	if err != nil {
		p.Close()
		return nil, err
	}
	d.owned = p
	return d, nil
}

// Close closes the port if Open opened it.
func (d *Dev) Close() error {
	if d.owned != nil {
		return d.owned.Close()
	}
	return nil
}

func (d *Dev) String() string {
	if d.opts.Port != "" {
		return "SAM ID-card reader on " + d.opts.Port
	}
	return "SAM ID-card reader"
}

// Stats returns the counters.
func (d *Dev) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.stats
	s.Discarded = d.fr.Discarded()
	return s
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &t) && t.Timeout())
}

// Command sends one command and returns the reader's answer, retrying after
// timeouts and corrupted answers. A non-success status is not an error here:
// check resp.Err().
func (d *Dev) Command(ctx context.Context, cmd sam.Command) (sam.Response, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	timeout := d.opts.CommandTimeout
	if cmd.Op == sam.OpReadText || cmd.Op == sam.OpReadTextFinger {
		timeout = d.opts.ReadTimeout
	}
	return d.transact(ctx, cmd, timeout)
}

func (d *Dev) transact(ctx context.Context, cmd sam.Command, timeout time.Duration) (sam.Response, error) {
	frame, err := cmd.Append(nil)
	if err != nil {
		return sam.Response{}, err
	}
	var last error
	for attempt := 0; attempt <= d.opts.Retries; attempt++ {
		if err := ctx.Err(); err != nil {
			return sam.Response{}, err
		}
		if attempt > 0 {
			d.stats.Retries++
			d.opts.Logger.Debug("idcard: retry", "op", cmd.Op.String(), "attempt", attempt, "after", last)
		}
		d.stats.Commands++
		// Stale bytes (a late answer to an earlier command, noise) must
		// not be taken for this command's answer.
		if err := d.port.Flush(); err != nil && !isTimeout(err) {
			return sam.Response{}, d.gone(err)
		}
		d.fr.Reset()
		if _, err := d.port.Write(frame); err != nil {
			return sam.Response{}, d.gone(err)
		}
		resp, err := d.receive(ctx, time.Now().Add(timeout), cmd.Op, frame)
		switch {
		case err == nil && resp.Status == sam.StatusCommandChecksum:
			// The reader got our command garbled: send it again.
			last = fmt.Errorf("idcard: %v: %w", cmd.Op, &sam.StatusError{Status: resp.Status, Op: cmd.Op})
			continue
		case err == nil:
			d.opts.Logger.Debug("idcard: command", "op", cmd.Op.String(), "status", resp.Status.String())
			return resp, nil
		case errors.Is(err, ErrBadFrame):
			d.stats.BadFrames++
		case errors.Is(err, ErrTimeout):
			d.stats.Timeouts++
		default: // disconnected, context done
			return sam.Response{}, err
		}
		last = fmt.Errorf("idcard: %v: %w", cmd.Op, err)
	}
	if d.opts.Retries > 0 {
		return sam.Response{}, fmt.Errorf("%w (after %d attempts)", last, d.opts.Retries+1)
	}
	return sam.Response{}, last
}

func (d *Dev) gone(err error) error {
	return fmt.Errorf("%w: %w", ErrDisconnected, err)
}

// errUnexpected is why an answer was skipped as not fitting the command.
var errUnexpected = errors.New("answer does not fit the command")

// fits reports whether resp can be the answer to op. The protocol has no
// sequence numbers: after a timeout the answer to the earlier attempt (or
// to the command before) may still arrive, late, after the flush, and must
// not be taken for this command's answer. Success answers differ in shape
// per command (find 9F with 4 bytes, select 90 with 8, SAM id 16, reads
// their length header); error statuses carry no data and are accepted.
func fits(op sam.Op, resp sam.Response) error {
	st, n := resp.Status, len(resp.Data)
	switch {
	case !st.Success():
		return nil
	case op == sam.OpFindCard:
		if st != sam.StatusFindOK || n > 4 {
			return fmt.Errorf("%w: status %v with %d bytes to %v", errUnexpected, st, n, op)
		}
	case st == sam.StatusFindOK:
		return fmt.Errorf("%w: find status %v to %v", errUnexpected, st, op)
	case op == sam.OpSelectCard:
		if n > 8 {
			return fmt.Errorf("%w: %d bytes to %v", errUnexpected, n, op)
		}
	case op == sam.OpReadSAMID:
		if n != len(sam.SAMID{}) {
			return fmt.Errorf("%w: %d bytes to %v", errUnexpected, n, op)
		}
	case op == sam.OpReadText, op == sam.OpReadTextFinger:
		if _, err := sam.DecodeReadData(op, resp.Data); err != nil {
			return fmt.Errorf("%w: %w", errUnexpected, err)
		}
	}
	return nil
}

// receive reads the next response frame to op until deadline. A copy of
// the command just sent (a line that echoes) and answers that do not fit
// op (late answers to earlier commands) are skipped.
func (d *Dev) receive(ctx context.Context, deadline time.Time, op sam.Op, sent []byte) (sam.Response, error) {
	var skipped error
	for {
		frame, err := d.fr.Next()
		switch {
		case err == nil && bytes.Equal(frame, sent):
			d.opts.Logger.Debug("idcard: skipped an echo of the command")
		case err == nil:
			resp, err := sam.DecodeResponse(frame)
			if err != nil {
				return sam.Response{}, fmt.Errorf("%w: %w", ErrBadFrame, err)
			}
			if err := fits(op, resp); err != nil {
				d.stats.Stale++
				skipped = err
				d.opts.Logger.Debug("idcard: skipped an answer", "op", op.String(), "why", err)
				continue
			}
			return resp, nil
		case sam.IsFrameError(err):
			return sam.Response{}, fmt.Errorf("%w: %w", ErrBadFrame, err)
		case isTimeout(err), errors.Is(err, io.ErrNoProgress):
			if errors.Is(err, io.ErrNoProgress) {
				time.Sleep(5 * time.Millisecond) // a port that returns 0, nil
			}
			if err := ctx.Err(); err != nil {
				return sam.Response{}, err
			}
			if time.Now().After(deadline) {
				if d.fr.Partial() {
					return sam.Response{}, fmt.Errorf("%w: %w", ErrBadFrame, sam.ErrTruncated)
				}
				if skipped != nil {
					// Only answers to earlier commands came: a reader
					// that lags behind is one that does not answer in
					// time.
					return sam.Response{}, fmt.Errorf("%w (skipped: %w)", ErrTimeout, skipped)
				}
				return sam.Response{}, ErrTimeout
			}
		default:
			return sam.Response{}, d.gone(err)
		}
	}
}

// do sends op and turns a non-success status into an error.
func (d *Dev) do(ctx context.Context, op sam.Op) (sam.Response, error) {
	resp, err := d.Command(ctx, sam.Command{Op: op})
	if err != nil {
		return resp, err
	}
	if resp.Status.Success() {
		return resp, nil
	}
	return resp, &sam.StatusError{Status: resp.Status, Op: op}
}

// FindCard asks whether a card is in the field. It returns nil when one is,
// and an error matching sam.ErrNoCard when the field is empty.
func (d *Dev) FindCard(ctx context.Context) error {
	_, err := d.do(ctx, sam.OpFindCard)
	return err
}

// SelectCard selects the card found by FindCard.
func (d *Dev) SelectCard(ctx context.Context) error {
	_, err := d.do(ctx, sam.OpSelectCard)
	return err
}

// ReadText reads the text and photo of the selected card (30 01).
func (d *Dev) ReadText(ctx context.Context) (*identity.Card, error) {
	return d.read(ctx, sam.OpReadText)
}

// ReadTextFingerprint reads text, photo and fingerprint data (30 10).
func (d *Dev) ReadTextFingerprint(ctx context.Context) (*identity.Card, error) {
	return d.read(ctx, sam.OpReadTextFinger)
}

func (d *Dev) read(ctx context.Context, op sam.Op) (*identity.Card, error) {
	resp, err := d.do(ctx, op)
	if err != nil {
		return nil, err
	}
	c, err := sam.DecodeCard(op, resp.Data)
	if err != nil {
		return nil, fmt.Errorf("idcard: %v: %w", op, err)
	}
	return c, nil
}

// ReadNewAddress reads the additional (newer) address of the selected card
// (30 03). A card without one gives an error matching sam.ErrNoItem.
func (d *Dev) ReadNewAddress(ctx context.Context) (string, error) {
	resp, err := d.do(ctx, sam.OpReadNewAddress)
	if err != nil {
		return "", err
	}
	return sam.DecodeAddress(resp.Data)
}

// ReadSAMID reads the id of the reader's SAM (12 FF).
func (d *Dev) ReadSAMID(ctx context.Context) (sam.SAMID, error) {
	resp, err := d.do(ctx, sam.OpReadSAMID)
	if err != nil {
		return sam.SAMID{}, err
	}
	return sam.DecodeSAMID(resp.Data)
}

// ResetSAM resets the SAM (10 FF); a card must be found again afterwards.
func (d *Dev) ResetSAM(ctx context.Context) error {
	_, err := d.do(ctx, sam.OpResetSAM)
	return err
}

// SAMStatus runs the SAM self-check (11 FF).
func (d *Dev) SAMStatus(ctx context.Context) error {
	_, err := d.do(ctx, sam.OpSAMStatus)
	return err
}

// ReadOnce makes one find, select, read attempt.
func (d *Dev) ReadOnce(ctx context.Context) (*identity.Card, error) {
	if err := d.FindCard(ctx); err != nil {
		return nil, err
	}
	if err := d.SelectCard(ctx); err != nil {
		return nil, err
	}
	if d.opts.Fingerprint {
		return d.ReadTextFingerprint(ctx)
	}
	return d.ReadText(ctx)
}

// Read polls (find, select, read) until a card is on the reader and returns
// it, or until ctx is done: then the error matches sam.ErrNoCard and the
// context's error. Errors other than an empty field (authentication, read
// failure, timeout, disconnection) end the polling at once.
func (d *Dev) Read(ctx context.Context) (*identity.Card, error) {
	var last error
	for {
		c, err := d.ReadOnce(ctx)
		switch {
		case err == nil:
			return c, nil
		case errors.Is(err, sam.ErrNoCard), errors.Is(err, sam.ErrSelectCard):
			last = err
		case ctx.Err() != nil && last != nil:
			return nil, fmt.Errorf("%w: %w", last, ctx.Err())
		default:
			return nil, err
		}
		t := time.NewTimer(d.opts.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w: %w", last, ctx.Err())
		case <-t.C:
		}
	}
}
