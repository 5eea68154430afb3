package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"
)

// Frame layout (all integers big-endian), identical on USB bulk endpoints
// and on serial lines:
//
//	off len field
//	0   2   magic 'V' 'S' (0x56 0x53)
//	2   1   protocol version (1)
//	3   1   flags: bit0 response, bit1 error; other bits 0
//	4   2   sequence number (the response echoes the request's)
//	6   1   command
//	7   1   reserved, 0
//	8   4   payload length N (0..MaxPayload)
//	12  N   payload
//	12+N 4  CRC-32C (Castagnoli) of bytes 0..12+N
const (
	Magic0        = 0x56 // 'V'
	Magic1        = 0x53 // 'S'
	Version       = 1
	HeaderSize    = 12
	TrailerSize   = 4
	Overhead      = HeaderSize + TrailerSize
	MaxPayload    = 32 * 1024
	MaxFrameSize  = Overhead + MaxPayload
	MaxChunkBytes = 16 * 1024 // largest image chunk a device may send
)

// Partial-frame time-out (docs/scanner-protocol.md, "Partial-frame
// time-out"): a device gives up an incomplete request frame when no byte
// of it has arrived for a while, at the latest after
// PartialFrameTimeoutMax and never before PartialFrameTimeoutMin; a host
// sends the bytes of one frame without a pause of HostMaxGap or more.
const (
	PartialFrameTimeoutMin = 50 * time.Millisecond
	PartialFrameTimeoutMax = 200 * time.Millisecond
	HostMaxGap             = 20 * time.Millisecond
)

// Frame flags.
const (
	FlagResponse = 0x01
	FlagError    = 0x02
	flagsKnown   = FlagResponse | FlagError
)

// Framing errors.
var (
	ErrBadMagic      = errors.New("veinscan: bad frame magic")
	ErrBadVersion    = errors.New("veinscan: unsupported protocol version")
	ErrBadCRC        = errors.New("veinscan: frame CRC mismatch")
	ErrFrameTooLarge = errors.New("veinscan: frame payload too large")
	ErrShortFrame    = errors.New("veinscan: truncated frame")
	ErrBadHeader     = errors.New("veinscan: bad frame header")
	// ErrDisconnected is returned by transports (and the driver) when the
	// device went away: unplugged, port closed, simulator unplugged. The
	// caller may reopen the device.
	ErrDisconnected = errors.New("veinscan: device disconnected")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CRC32C returns the CRC-32C (Castagnoli, reflected, init and xorout
// 0xFFFFFFFF; check value of "123456789" is 0xE3069283) of b.
func CRC32C(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// Frame is one protocol frame.
type Frame struct {
	Version byte // 0 means Version when encoding
	Flags   byte
	Seq     uint16
	Command Command
	Payload []byte
}

// IsResponse reports whether the frame is a device-to-host response.
func (f *Frame) IsResponse() bool { return f.Flags&FlagResponse != 0 }

// IsError reports whether the frame is an error response.
func (f *Frame) IsError() bool { return f.Flags&FlagError != 0 }

func (f *Frame) String() string {
	kind := "req"
	switch {
	case f.IsError():
		kind = "err"
	case f.IsResponse():
		kind = "resp"
	}
	return fmt.Sprintf("%s %s seq=%d len=%d", kind, f.Command, f.Seq, len(f.Payload))
}

// AppendFrame appends the encoding of f to dst.
func AppendFrame(dst []byte, f *Frame) ([]byte, error) {
	if len(f.Payload) > MaxPayload {
		return dst, fmt.Errorf("%w: %d bytes", ErrFrameTooLarge, len(f.Payload))
	}
	v := f.Version
	if v == 0 {
		v = Version
	}
	start := len(dst)
	dst = append(dst, Magic0, Magic1, v, f.Flags)
	dst = binary.BigEndian.AppendUint16(dst, f.Seq)
	dst = append(dst, byte(f.Command), 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(f.Payload)))
	dst = append(dst, f.Payload...)
	return binary.BigEndian.AppendUint32(dst, CRC32C(dst[start:])), nil
}

// Header is the fixed part of a frame, decoded before the payload arrives.
type Header struct {
	Version byte
	Flags   byte
	Seq     uint16
	Command Command
	Length  uint32
}

// ParseHeader decodes and checks the 12-byte header at the start of b.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: %d header bytes", ErrShortFrame, len(b))
	}
	if b[0] != Magic0 || b[1] != Magic1 {
		return Header{}, fmt.Errorf("%w: % x", ErrBadMagic, b[:2])
	}
	h := Header{
		Version: b[2],
		Flags:   b[3],
		Seq:     binary.BigEndian.Uint16(b[4:6]),
		Command: Command(b[6]),
		Length:  binary.BigEndian.Uint32(b[8:12]),
	}
	if h.Length > MaxPayload {
		return h, fmt.Errorf("%w: header says %d bytes", ErrFrameTooLarge, h.Length)
	}
	if h.Flags&^flagsKnown != 0 || b[7] != 0 {
		return h, fmt.Errorf("%w: flags %#02x reserved %#02x", ErrBadHeader, h.Flags, b[7])
	}
	return h, nil
}

// DecodeFrame decodes exactly one frame occupying all of b. A frame whose
// version is not Version decodes with ErrBadVersion together with the
// frame (so a device can answer with the right sequence number).
func DecodeFrame(b []byte) (*Frame, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return nil, err
	}
	n := HeaderSize + int(h.Length) + TrailerSize
	if len(b) < n {
		return nil, fmt.Errorf("%w: %d of %d bytes", ErrShortFrame, len(b), n)
	}
	if len(b) > n {
		return nil, fmt.Errorf("%w: %d bytes after the frame", ErrBadHeader, len(b)-n)
	}
	if got, want := CRC32C(b[:n-TrailerSize]), binary.BigEndian.Uint32(b[n-TrailerSize:]); got != want {
		return nil, fmt.Errorf("%w: computed %08x, frame says %08x", ErrBadCRC, got, want)
	}
	f := &Frame{Version: h.Version, Flags: h.Flags, Seq: h.Seq, Command: h.Command,
		Payload: append([]byte(nil), b[HeaderSize:n-TrailerSize]...)}
	if h.Version != Version {
		return f, fmt.Errorf("%w: %d", ErrBadVersion, h.Version)
	}
	return f, nil
}

// DamagedFrameError reports a frame whose header was plausible but whose
// CRC did not match; Header lets a device answer with the right sequence
// number.
type DamagedFrameError struct {
	Header Header
	Err    error
}

func (e *DamagedFrameError) Error() string {
	return fmt.Sprintf("frame seq=%d cmd=%s: %v", e.Header.Seq, e.Header.Command, e.Err)
}

func (e *DamagedFrameError) Unwrap() error { return e.Err }

// Splitter extracts frames from a byte stream (serial line or a sequence of
// USB bulk transfers). Feed it bytes with Write; call Next until it reports
// no complete frame. It resynchronises after garbage: bytes that cannot
// start a frame are skipped and counted, and a frame with a bad CRC is
// reported once and then skipped by one byte so a frame hidden inside it
// is still found.
type Splitter struct {
	buf     []byte
	Skipped int // bytes discarded while searching for a frame start
}

// Write appends stream bytes. It never fails.
func (s *Splitter) Write(p []byte) (int, error) {
	s.buf = append(s.buf, p...)
	return len(p), nil
}

// Buffered returns the number of bytes waiting.
func (s *Splitter) Buffered() int { return len(s.buf) }

// Resync gives up on the frame at the head of the buffer (its header
// looked plausible but the rest never came, e.g. after a truncated frame
// or a corrupted length): it skips one byte so that the search for the
// next frame start resumes. Receivers call it after a timeout.
func (s *Splitter) Resync() {
	if len(s.buf) > 0 {
		s.Skipped++
		s.drop(1)
	}
}

// Reset drops everything buffered.
func (s *Splitter) Reset() { s.buf = s.buf[:0] }

// Next returns the next frame. It returns (nil, nil) when more bytes are
// needed. A non-nil error describes a damaged frame that was dropped (the
// caller may report it; the stream stays usable). With ErrBadVersion the
// frame is returned as well.
func (s *Splitter) Next() (*Frame, error) {
	for {
		// find magic
		i := 0
		for i < len(s.buf) && !(s.buf[i] == Magic0 && (i+1 == len(s.buf) || s.buf[i+1] == Magic1)) {
			i++
		}
		if i > 0 {
			s.Skipped += i
			s.drop(i)
		}
		if len(s.buf) < HeaderSize {
			return nil, nil
		}
		h, err := ParseHeader(s.buf)
		if err != nil {
			// not a plausible header: skip this magic and keep looking
			s.Skipped++
			s.drop(1)
			continue
		}
		n := HeaderSize + int(h.Length) + TrailerSize
		if len(s.buf) < n {
			return nil, nil
		}
		f, err := DecodeFrame(s.buf[:n])
		if errors.Is(err, ErrBadCRC) {
			s.Skipped++
			s.drop(1)
			return nil, &DamagedFrameError{Header: h, Err: err}
		}
		s.drop(n)
		return f, err
	}
}

func (s *Splitter) drop(n int) {
	k := copy(s.buf, s.buf[n:])
	s.buf = s.buf[:k]
}
