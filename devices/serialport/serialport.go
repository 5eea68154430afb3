// Package serialport opens serial devices (RS-232 adapters, USB CDC-ACM
// readers, pseudo-terminals of the simulators) through github.com/tarm/serial
// with a read timeout that drivers can rely on.
//
// tarm/serial has two traps that this package hides:
//
//   - ReadTimeout 0 makes every Read block until a byte arrives, forever, so a
//     hung device hangs its driver. Open never does that unless asked to
//     (Options.Blocking).
//   - A positive ReadTimeout is truncated to tenths of a second (VTIME, 0.1 to
//     25.5 s) and an expired timeout comes back as a zero-length read, which
//     os.File reports as io.EOF: indistinguishable from a device that went
//     away. Port.Read turns it into ErrTimeout, or into ErrDisconnected when
//     the device node has vanished or been replaced (USB unplug, a simulator
//     closing its pty).
//
// A Port satisfies the small interfaces that drivers declare (io.ReadWriter
// plus Flush and Close).
package serialport

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/tarm/serial"
)

// Read timeouts the hardware (VTIME) can express.
const (
	MinReadTimeout     = 100 * time.Millisecond
	MaxReadTimeout     = 25500 * time.Millisecond
	DefaultReadTimeout = 100 * time.Millisecond
	DefaultBaud        = 115200
)

// Options configure Open.
type Options struct {
	// Port is the device path, e.g. /dev/ttyUSB0, /dev/ttyACM0 or /dev/pts/3.
	Port string
	// Baud is the line speed; 0 means DefaultBaud (115200). Serial ID-card
	// readers use 115200, some older ones 9600.
	Baud int
	// ReadTimeout bounds one Read: after it a Read with no data returns
	// ErrTimeout, so drivers can check deadlines and contexts. It is
	// truncated to tenths of a second and clamped up to MinReadTimeout;
	// above MaxReadTimeout Open fails. 0 means DefaultReadTimeout. A short
	// timeout costs nothing (the read returns as soon as a byte arrives); it
	// only sets how quickly a driver notices a deadline.
	ReadTimeout time.Duration
	// Blocking makes Read wait for data forever (tarm/serial ReadTimeout 0).
	// Only for tools that really want it: a hung device then hangs the
	// reader, and Close does not unblock a pending Read.
	Blocking bool
}

// DefaultOptions returns options for port at 115200 8N1 with a 100 ms read
// timeout.
func DefaultOptions(port string) Options {
	return Options{Port: port, Baud: DefaultBaud, ReadTimeout: DefaultReadTimeout}
}

var (
	// ErrTimeout is returned by Read when no byte arrived within the read
	// timeout. errors.Is(err, os.ErrDeadlineExceeded) is true for it, as for
	// the timeouts of os and net, and it has a Timeout method.
	ErrTimeout error = timeoutError{}
	// ErrDisconnected is returned (wrapped) when the device is gone: it was
	// unplugged, its node disappeared, or the terminal was hung up. The
	// caller must Close the port and open it again.
	ErrDisconnected = errors.New("serial device disconnected")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("serial port closed")
)

type timeoutError struct{}

func (timeoutError) Error() string        { return "serial read timeout" }
func (timeoutError) Timeout() bool        { return true }
func (timeoutError) Temporary() bool      { return true }
func (timeoutError) Is(target error) bool { return target == os.ErrDeadlineExceeded }

// Port is an open serial port. Read and Write may be called from different
// goroutines; Close may be called at any time.
type Port struct {
	port    *serial.Port
	path    string
	timeout time.Duration
	ident   devIdent

	mu     sync.Mutex
	closed bool
	gone   bool
	fast   fastZeros
}

// fastZeros spots a hung-up terminal whose device node stays in place: its
// reads return nothing at once, while a real timeout takes the whole VTIME.
type fastZeros struct{ n int }

// hangupRun is how many immediate empty reads in a row mean a hangup.
const hangupRun = 3

// observe records an empty read that took elapsed of a timeout and reports
// whether the line looks hung up.
func (f *fastZeros) observe(elapsed, timeout time.Duration) bool {
	if elapsed >= timeout/2 {
		f.n = 0
		return false
	}
	f.n++
	return f.n >= hangupRun
}

// devIdent identifies the device node that was opened, so that a new device
// appearing under the same path (replug) is not mistaken for the old one.
type devIdent struct {
	rdev, ino uint64
}

func identify(path string) (devIdent, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return devIdent{}, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	return devIdent{rdev: uint64(st.Rdev), ino: uint64(st.Ino)}, nil
}

// Open opens the serial port described by opts, 8 data bits, no parity, one
// stop bit.
func Open(opts Options) (*Port, error) {
	if opts.Port == "" {
		return nil, errors.New("serialport: no port given")
	}
	if opts.Baud == 0 {
		opts.Baud = DefaultBaud
	}
	if opts.Baud < 0 {
		return nil, fmt.Errorf("serialport: invalid baud rate %d", opts.Baud)
	}
	timeout := opts.ReadTimeout
	switch {
	case opts.Blocking:
		timeout = 0
	case timeout == 0:
		timeout = DefaultReadTimeout
	case timeout < 0:
		return nil, fmt.Errorf("serialport: negative read timeout %v", timeout)
	case timeout < MinReadTimeout:
		timeout = MinReadTimeout
	case timeout > MaxReadTimeout:
		return nil, fmt.Errorf("serialport: read timeout %v above the maximum %v", timeout, MaxReadTimeout)
	default:
		timeout = timeout.Truncate(100 * time.Millisecond)
	}
	ident, err := identify(opts.Port)
	if err != nil {
		return nil, fmt.Errorf("serialport: %w", err)
	}
	sp, err := serial.OpenPort(&serial.Config{
		Name:        opts.Port,
		Baud:        opts.Baud,
		ReadTimeout: timeout,
		Size:        8,
		Parity:      serial.ParityNone,
		StopBits:    serial.Stop1,
	})
	if err != nil {
		return nil, fmt.Errorf("serialport: open %s at %d baud: %w", opts.Port, opts.Baud, err)
	}
	return &Port{port: sp, path: opts.Port, timeout: timeout, ident: ident}, nil
}

// Path returns the device path.
func (p *Port) Path() string { return p.path }

// ReadTimeout returns the effective read timeout (0 when blocking).
func (p *Port) ReadTimeout() time.Duration { return p.timeout }

// String describes the port for logs.
func (p *Port) String() string { return "serial " + p.path }

// Read reads available bytes. With no data within the read timeout it
// returns 0 and ErrTimeout; when the device is gone it returns an error
// wrapping ErrDisconnected.
func (p *Port) Read(b []byte) (int, error) {
	if err := p.state(); err != nil {
		return 0, err
	}
	if len(b) == 0 {
		return 0, nil
	}
	start := time.Now()
	n, err := p.port.Read(b)
	if n > 0 {
		// Data first; a concurrent error will show up on the next call.
		p.mu.Lock()
		p.fast.n = 0
		p.mu.Unlock()
		return n, nil
	}
	if err == nil || err == io.EOF {
		// tarm/serial's timeout, or a hung-up terminal: Linux reports both
		// as a zero-length read. The device node tells them apart, and so
		// does the time the read took.
		if !p.stillThere() || p.timeout == 0 {
			// Gone, or a blocking read that returned nothing: a hangup.
			return 0, p.disconnected(io.EOF)
		}
		p.mu.Lock()
		hungUp := p.fast.observe(time.Since(start), p.timeout)
		p.mu.Unlock()
		if hungUp {
			return 0, p.disconnected(fmt.Errorf("%d empty reads in a row without waiting", hangupRun))
		}
		return 0, ErrTimeout
	}
	return 0, p.classify(err)
}

// Write writes b to the device.
func (p *Port) Write(b []byte) (int, error) {
	if err := p.state(); err != nil {
		return 0, err
	}
	n, err := p.port.Write(b)
	if err != nil {
		return n, p.classify(err)
	}
	return n, nil
}

// Flush discards bytes received but not read and bytes written but not yet
// sent: drivers call it before a command so that stale or garbage input
// cannot be taken for the answer.
func (p *Port) Flush() error {
	if err := p.state(); err != nil {
		return err
	}
	if err := p.port.Flush(); err != nil {
		return p.classify(err)
	}
	return nil
}

// Close closes the port. A Read in progress returns within the read timeout.
func (p *Port) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	return p.port.Close()
}

func (p *Port) state() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed:
		return ErrClosed
	case p.gone:
		return fmt.Errorf("%s: %w", p.path, ErrDisconnected)
	}
	return nil
}

func (p *Port) stillThere() bool {
	id, err := identify(p.path)
	return err == nil && id == p.ident
}

func (p *Port) disconnected(cause error) error {
	p.mu.Lock()
	closed := p.closed
	p.gone = true
	p.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return fmt.Errorf("%s: %w (%v)", p.path, ErrDisconnected, cause)
}

// classify maps an I/O error of the device to ErrDisconnected or ErrClosed.
func (p *Port) classify(err error) error {
	if errors.Is(err, os.ErrClosed) {
		return ErrClosed
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno {
		case syscall.EIO, syscall.ENXIO, syscall.ENODEV, syscall.EBADF, syscall.EPIPE:
			return p.disconnected(err)
		}
	}
	return fmt.Errorf("%s: %w", p.path, err)
}
