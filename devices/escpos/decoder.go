package escpos

import (
	"fmt"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// Op names a decoded command.
type Op uint8

const (
	OpText        Op = iota + 1 // Text: printable characters
	OpLF                        // LF: print the line, feed one line
	OpInit                      // ESC @
	OpAlign                     // ESC a n: N is the Align
	OpBold                      // ESC E n: N is 0 or 1
	OpSize                      // GS ! n: N width, M height (1..8)
	OpChinese                   // FS & (N=1), FS . (N=0)
	OpFeed                      // ESC d n: N lines
	OpLineSpacing               // ESC 2 (N=-1, default) or ESC 3 n (N dots)
	OpCodeTable                 // ESC t n: N
	OpCut                       // GS V m [n]: N is m, M the feed n (or 0)
	OpQRModel                   // GS ( k fn 65: N the model (49 or 50)
	OpQRSize                    // GS ( k fn 67: N the module size
	OpQRLevel                   // GS ( k fn 69: N the ECLevel
	OpQRStore                   // GS ( k fn 80: Data
	OpQRPrint                   // GS ( k fn 81
	OpStatus                    // DLE EOT n: N is n; answer at once
	OpInvalid                   // Err says why; Data holds the bytes skipped (at most 16)
)

var opNames = [...]string{"", "text", "lf", "init", "align", "bold", "size", "chinese", "feed", "line_spacing",
	"code_table", "cut", "qr_model", "qr_size", "qr_level", "qr_store", "qr_print", "status", "invalid"}

func (o Op) String() string {
	if int(o) < len(opNames) && o != 0 {
		return opNames[o]
	}
	return fmt.Sprintf("op(%d)", o)
}

// Command is one decoded command.
type Command struct {
	Op   Op
	N, M int
	Text string // OpText
	Data []byte // OpQRStore; OpInvalid: the skipped bytes
	Err  error  // OpInvalid
}

// Decoder reads a printer's input stream. Feed it what arrives, in chunks
// of any size: a command split across chunks waits for its remaining bytes
// (Pending), text is returned as it is complete (a line may come as several
// OpText commands; OpLF ends it). Bad input never stops the decoder: it is
// reported as OpInvalid and decoding goes on after it. Memory stays bounded:
// at most one command is held (the longest is a QR store of MaxQRData
// bytes; a longer declared length is skipped without being held).
type Decoder struct {
	ascii bool // Chinese mode cancelled (FS .): single bytes in code page 437
	pend  []byte
	skip  int // bytes of a refused command still to discard
}

// NewDecoder returns a decoder in Chinese (GB18030) mode, as a Chinese
// printer starts.
func NewDecoder() *Decoder { return &Decoder{} }

// Pending is the number of bytes held for an incomplete command.
func (d *Decoder) Pending() int { return len(d.pend) }

// Chinese reports whether text is read as GB18030 (FS &) or as code page
// 437 (after FS .).
func (d *Decoder) Chinese() bool { return !d.ascii }

// Decode consumes p and returns the commands it completes.
func (d *Decoder) Decode(p []byte) []Command {
	if d.skip > 0 {
		n := min(d.skip, len(p))
		d.skip -= n
		p = p[n:]
	}
	buf := append(d.pend, p...)
	var out []Command
	i := 0
	for i < len(buf) {
		cmds, n := d.next(buf[i:])
		if n == 0 {
			break // incomplete: wait for more
		}
		out = append(out, cmds...)
		i += n
		if d.skip > 0 {
			k := min(d.skip, len(buf)-i)
			d.skip -= k
			i += k
		}
	}
	d.pend = append(d.pend[:0:0], buf[i:]...)
	return out
}

func invalid(err error, raw []byte) Command {
	return Command{Op: OpInvalid, Err: err, Data: append([]byte(nil), raw[:min(len(raw), 16)]...)}
}

// next decodes one command from the start of b; n == 0 means b holds an
// incomplete command.
func (d *Decoder) next(b []byte) (cmds []Command, n int) {
	one := func(c Command, n int) ([]Command, int) { return []Command{c}, n }
	switch c := b[0]; {
	case c == LF:
		return one(Command{Op: OpLF}, 1)
	case c == CR:
		return nil, 1 // ignored, as by most printers with auto line feed off
	case c == ESC:
		return d.esc(b)
	case c == GS:
		return d.gs(b)
	case c == FS:
		if len(b) < 2 {
			return nil, 0
		}
		switch b[1] {
		case '&':
			d.ascii = false
			return one(Command{Op: OpChinese, N: 1}, 2)
		case '.':
			d.ascii = true
			return one(Command{Op: OpChinese, N: 0}, 2)
		}
		return one(invalid(fmt.Errorf("%w: FS %#02x", ErrUnknownCommand, b[1]), b[:2]), 2)
	case c == DLE:
		if len(b) < 3 {
			if len(b) == 2 && b[1] != EOT {
				return one(invalid(fmt.Errorf("%w: DLE %#02x", ErrUnknownCommand, b[1]), b[:2]), 2)
			}
			return nil, 0
		}
		if b[1] != EOT {
			return one(invalid(fmt.Errorf("%w: DLE %#02x", ErrUnknownCommand, b[1]), b[:2]), 2)
		}
		if b[2] < StatusPrinter || b[2] > StatusPaper {
			return one(invalid(fmt.Errorf("%w: DLE EOT %d", ErrBadArgument, b[2]), b[:3]), 3)
		}
		return one(Command{Op: OpStatus, N: int(b[2])}, 3)
	case c < 0x20 && c != HT, c == 0x7f:
		return one(invalid(fmt.Errorf("%w: control byte %#02x", ErrUnknownCommand, c), b[:1]), 1)
	}
	return d.text(b)
}

// text reads printable characters up to the next control byte.
func (d *Decoder) text(b []byte) ([]Command, int) {
	i := 0
	for i < len(b) {
		c := b[i]
		if c < 0x20 && c != HT || c == 0x7f {
			break
		}
		if c < 0x80 {
			i++
			continue
		}
		if d.ascii {
			i++
			continue
		}
		n, ok := gbLen(b[i:])
		if !ok {
			if i > 0 {
				break // return the good text first
			}
			return []Command{invalid(fmt.Errorf("%w: byte %#02x", ErrBadText, c), b[:1])}, 1
		}
		if n == 0 {
			break // incomplete character
		}
		i += n
	}
	if i == 0 {
		return nil, 0
	}
	var s string
	if d.ascii {
		s, _ = charmap.CodePage437.NewDecoder().String(string(b[:i]))
	} else {
		// Every sequence was checked by gbLen: decoding cannot fail.
		s, _ = simplifiedchinese.GB18030.NewDecoder().String(string(b[:i]))
	}
	for j := range len(s) {
		if s[j] == HT {
			s = s[:j] + " " + s[j+1:] // a tab prints as a space here
		}
	}
	return []Command{{Op: OpText, Text: s}}, i
}

// gbLen is the length of the GB18030 character at the start of b (b[0] >=
// 0x80): 2 or 4, 0 when b ends inside it, !ok when it is not GB18030.
func gbLen(b []byte) (n int, ok bool) {
	if b[0] == 0x80 || b[0] == 0xff {
		return 0, false
	}
	if len(b) < 2 {
		return 0, true
	}
	switch c := b[1]; {
	case c >= 0x40 && c <= 0x7e, c >= 0x80 && c <= 0xfe:
		return 2, true
	case c >= 0x30 && c <= 0x39:
		if len(b) < 3 {
			return 0, true
		}
		if b[2] < 0x81 || b[2] > 0xfe {
			return 0, false
		}
		if len(b) < 4 {
			return 0, true
		}
		if b[3] < 0x30 || b[3] > 0x39 {
			return 0, false
		}
		return 4, true
	}
	return 0, false
}

func (d *Decoder) esc(b []byte) ([]Command, int) {
	if len(b) < 2 {
		return nil, 0
	}
	one := func(c Command, n int) ([]Command, int) { return []Command{c}, n }
	arg := func(op Op, check func(byte) bool) ([]Command, int) {
		if len(b) < 3 {
			return nil, 0
		}
		if check != nil && !check(b[2]) {
			return one(invalid(fmt.Errorf("%w: ESC %c %d", ErrBadArgument, b[1], b[2]), b[:3]), 3)
		}
		return one(Command{Op: op, N: int(b[2])}, 3)
	}
	switch b[1] {
	case '@':
		d.ascii = false // a Chinese printer's default
		return one(Command{Op: OpInit}, 2)
	case '2':
		return one(Command{Op: OpLineSpacing, N: -1}, 2)
	case '3':
		return arg(OpLineSpacing, nil)
	case 'a':
		if len(b) < 3 {
			return nil, 0
		}
		a := b[2]
		if a >= '0' && a <= '2' {
			a -= '0'
		}
		if a > 2 {
			return one(invalid(fmt.Errorf("%w: ESC a %d", ErrBadArgument, b[2]), b[:3]), 3)
		}
		return one(Command{Op: OpAlign, N: int(a)}, 3)
	case 'E':
		if len(b) < 3 {
			return nil, 0
		}
		return one(Command{Op: OpBold, N: int(b[2] & 1)}, 3) // only bit 0 counts
	case 'd':
		return arg(OpFeed, nil)
	case 't':
		return arg(OpCodeTable, nil)
	}
	return one(invalid(fmt.Errorf("%w: ESC %#02x", ErrUnknownCommand, b[1]), b[:2]), 2)
}

func (d *Decoder) gs(b []byte) ([]Command, int) {
	if len(b) < 2 {
		return nil, 0
	}
	one := func(c Command, n int) ([]Command, int) { return []Command{c}, n }
	switch b[1] {
	case '!':
		if len(b) < 3 {
			return nil, 0
		}
		n := b[2]
		if n&0x88 != 0 {
			return one(invalid(fmt.Errorf("%w: GS ! %#02x", ErrBadArgument, n), b[:3]), 3)
		}
		return one(Command{Op: OpSize, N: int(n>>4) + 1, M: int(n&7) + 1}, 3)
	case 'V':
		if len(b) < 3 {
			return nil, 0
		}
		switch m := b[2]; m {
		case 0, 1, 48, 49:
			return one(Command{Op: OpCut, N: int(m)}, 3)
		case 65, 66:
			if len(b) < 4 {
				return nil, 0
			}
			return one(Command{Op: OpCut, N: int(m), M: int(b[3])}, 4)
		}
		return one(invalid(fmt.Errorf("%w: GS V %d", ErrBadArgument, b[2]), b[:3]), 3)
	case '(':
		if len(b) < 3 {
			return nil, 0
		}
		if b[2] != 'k' {
			return one(invalid(fmt.Errorf("%w: GS ( %#02x", ErrUnknownCommand, b[2]), b[:3]), 3)
		}
		return d.gsk(b)
	}
	return one(invalid(fmt.Errorf("%w: GS %#02x", ErrUnknownCommand, b[1]), b[:2]), 2)
}

// gsk decodes GS ( k pL pH cn fn [parameters].
func (d *Decoder) gsk(b []byte) ([]Command, int) {
	if len(b) < 5 {
		return nil, 0
	}
	one := func(c Command, n int) ([]Command, int) { return []Command{c}, n }
	size := int(b[3]) | int(b[4])<<8 // cn, fn and parameters
	if size < 2 || size > MaxQRData+3 {
		// Declared too long (or too short to hold cn fn): discard the
		// declared bytes without holding them.
		d.skip = size
		return one(invalid(fmt.Errorf("%w: GS ( k of %d bytes", ErrBadArgument, size), b[:5]), 5)
	}
	total := 5 + size
	if len(b) < total {
		return nil, 0
	}
	cn, fn, params := b[5], b[6], b[7:total]
	bad := func(err error) ([]Command, int) { return one(invalid(err, b[:min(total, 16)]), total) }
	if cn != 49 {
		return bad(fmt.Errorf("%w: GS ( k symbol %d (only QR, 49)", ErrUnknownCommand, cn))
	}
	byteArg := func(op Op, ok func(byte) bool) ([]Command, int) {
		if len(params) != 1 || !ok(params[0]) {
			return bad(fmt.Errorf("%w: GS ( k fn %d %v", ErrBadArgument, fn, params))
		}
		return one(Command{Op: op, N: int(params[0])}, total)
	}
	switch fn {
	case 65:
		if len(params) != 2 || (params[0] != 49 && params[0] != 50) {
			return bad(fmt.Errorf("%w: GS ( k fn 65 %v", ErrBadArgument, params))
		}
		return one(Command{Op: OpQRModel, N: int(params[0])}, total)
	case 67:
		return byteArg(OpQRSize, func(n byte) bool { return n >= 1 && n <= 16 })
	case 69:
		return byteArg(OpQRLevel, func(n byte) bool { return n >= byte(ECLow) && n <= byte(ECHigh) })
	case 80:
		if len(params) < 1 || params[0] != '0' {
			return bad(fmt.Errorf("%w: GS ( k fn 80 m", ErrBadArgument))
		}
		return one(Command{Op: OpQRStore, Data: append([]byte(nil), params[1:]...)}, total)
	case 81:
		return byteArg(OpQRPrint, func(n byte) bool { return n == '0' })
	}
	return bad(fmt.Errorf("%w: GS ( k fn %d", ErrUnknownCommand, fn))
}
