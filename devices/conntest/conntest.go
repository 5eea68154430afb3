// Package conntest records the byte stream between a driver and a device
// and plays it back, so that a driver can be tested against a session
// recorded once on real hardware (as periph.io's conntest does for buses).
//
// A Recorder wraps the real connection and logs every write and read. Its
// log is saved in a text format that people can read and edit:
//
//	# veinkiosk conntest v1
//	# reader: /dev/ttyUSB0, card read on 2026-11-27
//	w AAAAAA9669000320 0122
//	r AAAAAA96690008 00009F00000000 97
//	t
//	r AAAAAA966905080000900100
//	  0400...
//	x device disconnected
//
// One operation a line: "w" bytes the driver wrote, "r" bytes the device
// returned, "t" a read that timed out (kept only with
// Recorder.KeepTimeouts), "x" a read error (the device went away). Hex may
// contain spaces; a line starting with a space or tab continues the data of
// the line before; "#" starts a comment.
//
// A Playback replays such a log: it checks that the driver writes exactly
// the recorded bytes, returns the recorded reads, and reports through Done
// any unexpected write or operation left unused.
package conntest

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
)

// Kind is the type of a recorded operation.
type Kind byte

// Operation kinds, as written in the file.
const (
	Write   Kind = 'w'
	Read    Kind = 'r'
	Timeout Kind = 't'
	Error   Kind = 'x'
)

// Op is one recorded operation.
type Op struct {
	Kind Kind
	Data []byte // Write, Read
	Msg  string // Error: the error text
}

func (o Op) String() string {
	switch o.Kind {
	case Write, Read:
		return fmt.Sprintf("%c % X", o.Kind, o.Data)
	case Error:
		return "x " + o.Msg
	}
	return string(o.Kind)
}

// ErrTimeout is returned by Playback reads for a recorded timeout and when
// the device has nothing (more) to say. errors.Is(err, os.ErrDeadlineExceeded)
// holds for it, as for real serial and network timeouts, and it has a
// Timeout method.
var ErrTimeout error = timeoutError{}

type timeoutError struct{}

func (timeoutError) Error() string        { return "conntest: read timeout" }
func (timeoutError) Timeout() bool        { return true }
func (timeoutError) Is(target error) bool { return target == os.ErrDeadlineExceeded }

// ErrMismatch is wrapped by Playback errors for writes that differ from the
// recording.
var ErrMismatch = errors.New("conntest: playback mismatch")

// ErrDeviceGone is wrapped by the error a Playback returns for a recorded
// read error ("x"); it also wraps io.EOF.
var ErrDeviceGone = errors.New("conntest: recorded device error")

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &t) && t.Timeout())
}

// Recorder wraps a connection and logs its traffic. It is safe for
// concurrent use.
type Recorder struct {
	// Conn is the real connection. Flush and Close are passed on to it
	// when it has them.
	Conn io.ReadWriter
	// KeepTimeouts records read timeouts as "t". They are left out by
	// default: how many timeouts a driver sees depends on timing, not on
	// the device.
	KeepTimeouts bool

	mu  sync.Mutex
	ops []Op
}

// NewRecorder returns a Recorder on conn.
func NewRecorder(conn io.ReadWriter) *Recorder { return &Recorder{Conn: conn} }

func (r *Recorder) add(k Kind, data []byte, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// Adjacent reads (or writes) are one stream: merge them.
	if n := len(r.ops); n > 0 && (k == Read || k == Write) && r.ops[n-1].Kind == k {
		r.ops[n-1].Data = append(r.ops[n-1].Data, data...)
		return
	}
	r.ops = append(r.ops, Op{Kind: k, Data: bytes.Clone(data), Msg: msg})
}

// Read reads from Conn and logs what it returned.
func (r *Recorder) Read(b []byte) (int, error) {
	n, err := r.Conn.Read(b)
	if n > 0 {
		r.add(Read, b[:n], "")
	}
	switch {
	case err == nil:
	case isTimeout(err):
		if r.KeepTimeouts {
			r.add(Timeout, nil, "")
		}
	default:
		r.add(Error, nil, strings.ReplaceAll(err.Error(), "\n", " "))
	}
	return n, err
}

// Write writes to Conn and logs the bytes written.
func (r *Recorder) Write(b []byte) (int, error) {
	n, err := r.Conn.Write(b)
	if n > 0 {
		r.add(Write, b[:n], "")
	}
	return n, err
}

// Flush calls Conn's Flush, if it has one.
func (r *Recorder) Flush() error {
	if f, ok := r.Conn.(interface{ Flush() error }); ok {
		return f.Flush()
	}
	return nil
}

// Close calls Conn's Close, if it has one.
func (r *Recorder) Close() error {
	if c, ok := r.Conn.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// Ops returns a copy of the operations recorded so far.
func (r *Recorder) Ops() []Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Op, len(r.ops))
	for i, o := range r.ops {
		out[i] = Op{Kind: o.Kind, Data: bytes.Clone(o.Data), Msg: o.Msg}
	}
	return out
}

// Save writes the recording in the text format; comment lines (may be
// empty) go at the top.
func (r *Recorder) Save(w io.Writer, comment string) error {
	_, err := w.Write(Marshal(r.Ops(), comment))
	return err
}

// WriteFile saves the recording to path.
func (r *Recorder) WriteFile(path, comment string) error {
	return os.WriteFile(path, Marshal(r.Ops(), comment), 0o644)
}

const header = "# veinkiosk conntest v1"

// bytesPerLine is how much data one line holds before a continuation line.
const bytesPerLine = 32

// Marshal encodes ops in the text format.
func Marshal(ops []Op, comment string) []byte {
	var b bytes.Buffer
	b.WriteString(header + "\n")
	if comment != "" {
		for _, l := range strings.Split(strings.TrimRight(comment, "\n"), "\n") {
			b.WriteString("# " + l + "\n")
		}
	}
	for _, o := range ops {
		switch o.Kind {
		case Write, Read:
			for i := 0; i == 0 || i < len(o.Data); i += bytesPerLine {
				if i == 0 {
					b.WriteByte(byte(o.Kind))
				} else {
					b.WriteByte(' ')
				}
				b.WriteByte(' ')
				b.WriteString(strings.ToUpper(hex.EncodeToString(o.Data[i:min(i+bytesPerLine, len(o.Data))])))
				b.WriteByte('\n')
			}
		case Error:
			b.WriteString("x " + strings.ReplaceAll(o.Msg, "\n", " ") + "\n")
		default:
			b.WriteString(string(o.Kind) + "\n")
		}
	}
	return b.Bytes()
}

// Parse decodes the text format.
func Parse(data []byte) ([]Op, error) {
	var ops []Op
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		l := strings.TrimRight(sc.Text(), " \t\r")
		if strings.TrimSpace(l) == "" || strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		if l[0] == ' ' || l[0] == '\t' {
			if len(ops) == 0 || (ops[len(ops)-1].Kind != Read && ops[len(ops)-1].Kind != Write) {
				return nil, fmt.Errorf("conntest: line %d: continuation without a w or r line", line)
			}
			b, err := parseHex(l)
			if err != nil {
				return nil, fmt.Errorf("conntest: line %d: %w", line, err)
			}
			ops[len(ops)-1].Data = append(ops[len(ops)-1].Data, b...)
			continue
		}
		k := Kind(l[0])
		if len(l) > 1 && l[1] != ' ' && l[1] != '\t' {
			return nil, fmt.Errorf("conntest: line %d: unknown operation %q", line, strings.Fields(l)[0])
		}
		rest := ""
		if len(l) > 1 {
			rest = l[2:]
		}
		switch k {
		case Write, Read:
			b, err := parseHex(rest)
			if err != nil {
				return nil, fmt.Errorf("conntest: line %d: %w", line, err)
			}
			ops = append(ops, Op{Kind: k, Data: b})
		case Timeout:
			if strings.TrimSpace(rest) != "" {
				return nil, fmt.Errorf("conntest: line %d: t takes no data", line)
			}
			ops = append(ops, Op{Kind: k})
		case Error:
			ops = append(ops, Op{Kind: k, Msg: strings.TrimSpace(rest)})
		default:
			return nil, fmt.Errorf("conntest: line %d: unknown operation %q", line, string(k))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("conntest: %w", err)
	}
	for i, o := range ops {
		if (o.Kind == Read || o.Kind == Write) && len(o.Data) == 0 {
			return nil, fmt.Errorf("conntest: operation %d (%c) has no data", i+1, o.Kind)
		}
	}
	return ops, nil
}

func parseHex(s string) ([]byte, error) {
	s = strings.Join(strings.Fields(s), "")
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("bad hex: %w", err)
	}
	return b, nil
}

// ReadFile parses the recording at path.
func ReadFile(path string) ([]Op, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data)
}

// Playback replays recorded operations as a connection. It is safe for
// concurrent use.
type Playback struct {
	mu     sync.Mutex
	ops    []Op
	pos    int // index of the current op
	off    int // bytes of ops[pos] consumed
	err    error
	closed bool
}

// NewPlayback returns a Playback of ops.
func NewPlayback(ops []Op) *Playback { return &Playback{ops: ops} }

func (p *Playback) fail(format string, args ...any) error {
	if p.err == nil {
		p.err = fmt.Errorf("%w: "+format, append([]any{ErrMismatch}, args...)...)
	}
	return p.err
}

func (p *Playback) advance(n int) {
	p.off += n
	if p.off >= len(p.ops[p.pos].Data) {
		p.pos++
		p.off = 0
	}
}

// Read returns the next recorded read data. When the next operation is a
// write, or the recording is used up, it returns ErrTimeout, as a silent
// device would.
func (p *Playback) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, os.ErrClosed
	}
	if p.err != nil {
		return 0, p.err
	}
	if len(b) == 0 {
		return 0, nil
	}
	if p.pos >= len(p.ops) {
		return 0, ErrTimeout
	}
	switch o := p.ops[p.pos]; o.Kind {
	case Read:
		n := copy(b, o.Data[p.off:])
		p.advance(n)
		return n, nil
	case Timeout:
		p.pos++
		return 0, ErrTimeout
	case Error:
		p.pos++
		return 0, fmt.Errorf("%w: %s: %w", ErrDeviceGone, o.Msg, io.EOF)
	}
	return 0, ErrTimeout
}

// Write checks b against the recorded writes.
func (p *Playback) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, os.ErrClosed
	}
	if p.err != nil {
		return 0, p.err
	}
	done := 0
	for done < len(b) {
		if p.pos >= len(p.ops) {
			return done, p.fail("write % X after the end of the recording", b[done:])
		}
		o := p.ops[p.pos]
		if o.Kind != Write {
			return done, p.fail("write % X where the recording has %s (operation %d)", b[done:], clip(o), p.pos+1)
		}
		want := o.Data[p.off:]
		n := min(len(want), len(b)-done)
		if !bytes.Equal(b[done:done+n], want[:n]) {
			return done, p.fail("operation %d: wrote % X, recorded % X", p.pos+1, b[done:done+n], want[:n])
		}
		p.advance(n)
		done += n
	}
	return done, nil
}

func clip(o Op) string {
	s := o.String()
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

// Flush does nothing: bytes a driver discards were never recorded.
func (p *Playback) Flush() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return os.ErrClosed
	}
	return nil
}

// Close marks the playback closed. It does not check Done.
func (p *Playback) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	return nil
}

// Done returns the first mismatch, or an error naming the first operation
// that was not used, or nil when the whole recording was replayed.
// Trailing timeouts do not count as unused.
func (p *Playback) Done() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	for i := p.pos; i < len(p.ops); i++ {
		if p.ops[i].Kind != Timeout {
			return fmt.Errorf("%w: operation %d of %d not used: %s", ErrMismatch, i+1, len(p.ops), clip(p.ops[i]))
		}
	}
	return nil
}
