// Package printer drives ESC/POS receipt printers (devices/escpos) over a
// serial line or the Linux USB printer class device (usblp, /dev/usb/lpN):
// real-time status through DLE EOT (paper end, cover open, offline, errors)
// before and after each job, so the kiosk can tell the resident that the
// receipt was not printed and offer to print it again.
//
//	p, err := printer.Open("serial:/dev/ttyUSB1", printer.Options{})
//	...
//	defer p.Close()
//	err = p.Print(ctx, job) // errors.Is(err, printer.ErrPaperOut), ...
//
// The driver starts no goroutines; its methods run one at a time.
package printer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/qingshan-gov/veinkiosk/devices/escpos"
	"github.com/qingshan-gov/veinkiosk/devices/serialport"
)

// Errors. Faults wrap ErrNotReady as well, so a caller can say "the
// printer cannot print now" without listing them.
var (
	ErrNotReady     = errors.New("printer: not ready")
	ErrPaperOut     = fmt.Errorf("%w: paper out", ErrNotReady)
	ErrCoverOpen    = fmt.Errorf("%w: cover open", ErrNotReady)
	ErrFault        = fmt.Errorf("%w: printer error", ErrNotReady) // offline, cutter or unrecoverable error
	ErrTimeout      = errors.New("printer: no answer to a status query")
	ErrDisconnected = errors.New("printer: disconnected")
	// ErrIncomplete is joined to a fault found after a job was sent: the
	// receipt may be partly printed.
	ErrIncomplete = errors.New("printer: job interrupted")
)

// Port is the connection: Read returns within a bounded time with an error
// for which errors.Is(err, os.ErrDeadlineExceeded) holds when no byte came
// (serialport.Port does; so does the usblp transport here).
type Port interface {
	io.ReadWriter
	Flush() error
}

// Options configure the driver.
type Options struct {
	Baud          int           // serial only; 0: 115200
	StatusTimeout time.Duration // wait for one status byte; 0: 1 s
	// JobTimeout is added to StatusTimeout for the status query that
	// follows a job: a printer (or the simulator) that answers in order
	// answers it once it has taken in the job. 0: 10 s.
	JobTimeout time.Duration
	Logger     *slog.Logger
}

func (o *Options) fill() {
	if o.Baud == 0 {
		o.Baud = serialport.DefaultBaud
	}
	if o.StatusTimeout <= 0 {
		o.StatusTimeout = time.Second
	}
	if o.JobTimeout <= 0 {
		o.JobTimeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Printer is one receipt printer.
type Printer struct {
	opt   Options
	name  string
	port  Port
	owned io.Closer
	mu    sync.Mutex
}

// Open opens the printer named by spec: "serial:PATH" (or a bare PATH) for
// a serial line, "usblp:PATH" for the kernel's USB printer class device.
func Open(spec string, opt Options) (*Printer, error) {
	opt.fill()
	kind, path, ok := strings.Cut(spec, ":")
	if !ok {
		kind, path = "serial", spec
	}
	switch kind {
	case "serial":
		sp, err := serialport.Open(serialport.Options{Port: path, Baud: opt.Baud, ReadTimeout: serialport.DefaultReadTimeout})
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrDisconnected, err)
		}
		p := New(sp, "serial "+path, opt)
		p.owned = sp
		return p, nil
	case "usblp":
		f, err := openLP(path)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrDisconnected, err)
		}
		p := New(f, "usblp "+path, opt)
		p.owned = f
		return p, nil
	}
	return nil, fmt.Errorf("printer: unknown transport %q in %q (want serial:PATH or usblp:PATH)", kind, spec)
}

// New drives a printer on an open port.
func New(port Port, name string, opt Options) *Printer {
	opt.fill()
	return &Printer{opt: opt, name: name, port: port}
}

func (p *Printer) String() string { return "ESC/POS printer on " + p.name }

// Close closes the port if Open opened it.
func (p *Printer) Close() error {
	if p.owned != nil {
		return p.owned.Close()
	}
	return nil
}

// Status asks DLE EOT 1, 2 and 4 (and 3 when 2 reports an error).
func (p *Printer) Status(ctx context.Context) (escpos.Status, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status(ctx, true, p.opt.StatusTimeout)
}

// status asks the printer; flush drops stale input first (and, on a
// serial port, output not yet sent: never right after a job).
func (p *Printer) status(ctx context.Context, flush bool, timeout time.Duration) (escpos.Status, error) {
	var s escpos.Status
	if flush {
		if err := p.port.Flush(); err != nil {
			return s, p.ioErr(err)
		}
	}
	for _, n := range []byte{escpos.StatusPrinter, escpos.StatusOffline, escpos.StatusPaper, escpos.StatusError} {
		if n == escpos.StatusError && !s.Error {
			continue
		}
		b, err := p.query(ctx, n, timeout)
		if err != nil {
			return s, err
		}
		if err := s.Merge(n, b); err != nil {
			return s, fmt.Errorf("%w: answer to DLE EOT %d: %v", ErrTimeout, n, err)
		}
	}
	return s, nil
}

func (p *Printer) query(ctx context.Context, n byte, timeout time.Duration) (byte, error) {
	if _, err := p.port.Write(escpos.StatusQuery(n)); err != nil {
		return 0, p.ioErr(err)
	}
	deadline := time.Now().Add(timeout)
	var buf [1]byte
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		k, err := p.port.Read(buf[:])
		if k == 1 {
			return buf[0], nil
		}
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return 0, p.ioErr(err)
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%w: DLE EOT %d on %s", ErrTimeout, n, p.name)
		}
	}
}

func (p *Printer) ioErr(err error) error {
	return fmt.Errorf("%w: %s: %v", ErrDisconnected, p.name, err)
}

// fault maps a status to the error the kiosk acts on (nil when ready).
func fault(s escpos.Status) error {
	switch {
	case s.CoverOpen:
		return ErrCoverOpen
	case s.PaperEnd, s.PaperStop:
		return ErrPaperOut
	case !s.Ready():
		return fmt.Errorf("%w (%+v)", ErrFault, s)
	}
	return nil
}

// chunk is how much of a job is written between context checks.
const chunk = 512

// Print checks the printer is ready, sends the job, and checks again: a
// fault found after the job joins ErrIncomplete (the paper ran out or the
// cover was opened while it printed).
func (p *Printer) Print(ctx context.Context, job []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, err := p.status(ctx, true, p.opt.StatusTimeout)
	if err != nil {
		return err
	}
	if err := fault(s); err != nil {
		return err
	}
	if s.PaperNearEnd {
		p.opt.Logger.Warn("printer paper near end", "printer", p.name)
	}
	for off := 0; off < len(job); off += chunk {
		if err := ctx.Err(); err != nil {
			return errors.Join(ErrIncomplete, err)
		}
		if _, err := p.port.Write(job[off:min(off+chunk, len(job))]); err != nil {
			return errors.Join(ErrIncomplete, p.ioErr(err))
		}
	}
	// The status queries follow the job on the same line. The simulator
	// answers them after the job; a real printer answers DLE EOT as it
	// receives it, so this sees a fault that happened while the job was
	// being received (docs/printer-protocol.md, "Limits").
	s, err = p.status(ctx, false, p.opt.StatusTimeout+p.opt.JobTimeout)
	if err != nil {
		return errors.Join(ErrIncomplete, err)
	}
	if err := fault(s); err != nil {
		return errors.Join(ErrIncomplete, err)
	}
	return nil
}

// lpFile is the usblp character device: reads time out through the
// runtime poller (the device supports poll), writes block until the
// printer took the data.
type lpFile struct {
	f *os.File
}

func openLP(path string) (*lpFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	return &lpFile{f: f}, nil
}

func (l *lpFile) Read(b []byte) (int, error) {
	if err := l.f.SetReadDeadline(time.Now().Add(100 * time.Millisecond)); err != nil {
		return 0, fmt.Errorf("usblp device cannot time out reads: %w", err)
	}
	return l.f.Read(b)
}

func (l *lpFile) Write(b []byte) (int, error) { return l.f.Write(b) }
func (l *lpFile) Close() error                { return l.f.Close() }

// Flush drops bytes not read yet.
func (l *lpFile) Flush() error {
	var buf [64]byte
	for {
		if err := l.f.SetReadDeadline(time.Now().Add(time.Millisecond)); err != nil {
			return err
		}
		n, err := l.f.Read(buf[:])
		if n == 0 || err != nil {
			if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				return err
			}
			return nil
		}
	}
}
