// Package sam is the wire codec of resident ID-card readers with a SAM
// (secure access module), shared by the driver (devices/idcard) and the
// reader simulator (simulators/idcardsim). Of this module it imports only
// the identity domain (package identity), whose Card it decodes and encodes.
//
// A command frame (host to reader) and a response frame (reader to host) are
//
//	AA AA AA 96 69 | LEN_hi LEN_lo | CMD PARA [data...]    | CHK
//	AA AA AA 96 69 | LEN_hi LEN_lo | SW1 SW2 SW3 [data...] | CHK
//
// LEN is big-endian and counts every byte after itself, CHK included; CHK is
// the XOR of the LEN bytes and the body. The package also decodes and encodes
// the 256-byte card text block of the three card types (resident ID card,
// foreign permanent resident card, Hong Kong/Macao/Taiwan residence permit)
// into an identity.Card and back. The identity rules (GB 11643 ID numbers,
// GB 3304 nations, GB/T 2261.1 genders, validity periods) are package
// identity's, not this package's. See docs/idcard-protocol.md.
package sam

import (
	"bytes"
	"errors"
	"fmt"
)

// Preamble starts every frame.
var Preamble = [5]byte{0xAA, 0xAA, 0xAA, 0x96, 0x69}

const (
	// HeaderLen is the preamble plus the two LEN bytes.
	HeaderLen = 7
	// MinCommandLen and MinResponseLen are the smallest valid LEN values:
	// CMD PARA CHK, and SW1 SW2 SW3 CHK.
	MinCommandLen  = 3
	MinResponseLen = 4
	// MaxLen is the largest LEN this package accepts. The largest real
	// frame is the 30 10 read response (LEN 0x090A, 2314); anything much
	// larger is line noise, and accepting it would make a reader wait for
	// kilobytes that never come.
	MaxLen = 0x1000
)

// Frame errors. They are wrapped with details; compare with errors.Is.
var (
	ErrChecksum  = errors.New("sam: frame checksum mismatch")
	ErrLength    = errors.New("sam: invalid frame length")
	ErrPreamble  = errors.New("sam: frame does not start with AA AA AA 96 69")
	ErrTruncated = errors.New("sam: truncated frame")
)

// Checksum returns the XOR of b.
func Checksum(b []byte) byte {
	var c byte
	for _, x := range b {
		c ^= x
	}
	return c
}

// AppendFrame appends a complete frame carrying body (CMD PARA data, or SW1
// SW2 SW3 data) to dst.
func AppendFrame(dst, body []byte) ([]byte, error) {
	n := len(body) + 1
	if n > MaxLen {
		return dst, fmt.Errorf("%w: body of %d bytes exceeds LEN %#x", ErrLength, len(body), MaxLen)
	}
	dst = append(dst, Preamble[:]...)
	start := len(dst)
	dst = append(dst, byte(n>>8), byte(n))
	dst = append(dst, body...)
	return append(dst, Checksum(dst[start:])), nil
}

// SplitFrame checks a complete frame (preamble through CHK) and returns its
// body (the bytes between LEN and CHK), which aliases frame.
func SplitFrame(frame []byte) ([]byte, error) {
	if len(frame) < HeaderLen || !bytes.Equal(frame[:5], Preamble[:]) {
		if len(frame) < 5 || !bytes.Equal(frame[:5], Preamble[:]) {
			return nil, ErrPreamble
		}
		return nil, fmt.Errorf("%w: %d bytes", ErrTruncated, len(frame))
	}
	n := int(frame[5])<<8 | int(frame[6])
	if n < MinCommandLen || n > MaxLen {
		return nil, fmt.Errorf("%w: LEN %#04x", ErrLength, n)
	}
	switch {
	case len(frame) < HeaderLen+n:
		return nil, fmt.Errorf("%w: LEN %#04x needs %d bytes, have %d", ErrTruncated, n, HeaderLen+n, len(frame))
	case len(frame) > HeaderLen+n:
		return nil, fmt.Errorf("%w: LEN %#04x but %d bytes follow the header", ErrLength, n, len(frame)-HeaderLen)
	}
	if got, want := frame[len(frame)-1], Checksum(frame[5:len(frame)-1]); got != want {
		return nil, fmt.Errorf("%w: got %#02x, computed %#02x", ErrChecksum, got, want)
	}
	return frame[HeaderLen : len(frame)-1], nil
}

// Op is a command: CMD in the high byte, PARA in the low byte.
type Op uint16

// The commands of SAM readers.
const (
	OpResetSAM       Op = 0x10FF // reset the SAM (one SDK says 01 FF)
	OpSAMStatus      Op = 0x11FF // SAM self-check
	OpReadSAMID      Op = 0x12FF // 16 bytes of SAM id
	OpFindCard       Op = 0x2001 // is a card in the field? 9F / 80
	OpSelectCard     Op = 0x2002 // select the found card: 90 / 81
	OpReadText       Op = 0x3001 // text (256) + photo (1024)
	OpReadNewAddress Op = 0x3003 // additional (newer) address, 91 when none
	OpReadTextFinger Op = 0x3010 // text + photo + fingerprint (1024)
	OpSetMaxRFBytes  Op = 0x61FF // set the RF frame size (some readers)
)

// NewOp builds an Op from CMD and PARA.
func NewOp(cmd, para byte) Op { return Op(cmd)<<8 | Op(para) }

// Cmd returns the CMD byte.
func (o Op) Cmd() byte { return byte(o >> 8) }

// Para returns the PARA byte.
func (o Op) Para() byte { return byte(o) }

var opNames = map[Op]string{
	OpResetSAM:       "reset SAM",
	OpSAMStatus:      "SAM status",
	OpReadSAMID:      "read SAM id",
	OpFindCard:       "find card",
	OpSelectCard:     "select card",
	OpReadText:       "read text+photo",
	OpReadNewAddress: "read new address",
	OpReadTextFinger: "read text+photo+fingerprint",
	OpSetMaxRFBytes:  "set max RF bytes",
}

func (o Op) String() string {
	if s, ok := opNames[o]; ok {
		return fmt.Sprintf("%s (%02X %02X)", s, o.Cmd(), o.Para())
	}
	return fmt.Sprintf("command %02X %02X", o.Cmd(), o.Para())
}

// Command is a host-to-reader message.
type Command struct {
	Op   Op
	Data []byte
}

// Append appends the command's frame to dst.
func (c Command) Append(dst []byte) ([]byte, error) {
	body := make([]byte, 0, 2+len(c.Data))
	body = append(body, c.Op.Cmd(), c.Op.Para())
	body = append(body, c.Data...)
	return AppendFrame(dst, body)
}

// DecodeCommand decodes one complete command frame. Data aliases frame.
func DecodeCommand(frame []byte) (Command, error) {
	body, err := SplitFrame(frame)
	if err != nil {
		return Command{}, err
	}
	if len(body) < 2 {
		return Command{}, fmt.Errorf("%w: command body of %d bytes", ErrLength, len(body))
	}
	c := Command{Op: NewOp(body[0], body[1])}
	if len(body) > 2 {
		c.Data = body[2:]
	}
	return c, nil
}

// Response is a reader-to-host message.
type Response struct {
	SW1, SW2 byte // 00 00 in practice
	Status   Status
	Data     []byte
}

// Append appends the response's frame to dst.
func (r Response) Append(dst []byte) ([]byte, error) {
	body := make([]byte, 0, 3+len(r.Data))
	body = append(body, r.SW1, r.SW2, byte(r.Status))
	body = append(body, r.Data...)
	return AppendFrame(dst, body)
}

// DecodeResponse decodes one complete response frame. Data aliases frame.
func DecodeResponse(frame []byte) (Response, error) {
	body, err := SplitFrame(frame)
	if err != nil {
		return Response{}, err
	}
	if len(body) < 3 {
		return Response{}, fmt.Errorf("%w: response body of %d bytes", ErrLength, len(body))
	}
	r := Response{SW1: body[0], SW2: body[1], Status: Status(body[2])}
	if len(body) > 3 {
		r.Data = body[3:]
	}
	return r, nil
}

// Err returns nil when the response reports success (90 or 9F) and a
// *StatusError otherwise.
func (r Response) Err() error {
	return r.Status.Err()
}
