package escpos

import (
	"fmt"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// Builder writes a print job. Methods chain; the first error sticks and
// Bytes returns it, so a job is either complete or refused.
//
//	var b escpos.Builder
//	b.Init().Align(escpos.Center).Size(2, 2).Line("受理回执").Size(1, 1)
//	b.QR("QS-20261206-0001", 6, escpos.ECMedium).Feed(3).Cut()
//	job, err := b.Bytes()
type Builder struct {
	buf []byte
	err error
}

func (b *Builder) fail(err error) *Builder {
	if b.err == nil {
		b.err = err
	}
	return b
}

// Bytes returns the job, or the first error.
func (b *Builder) Bytes() ([]byte, error) {
	if b.err != nil {
		return nil, b.err
	}
	return b.buf, nil
}

// Raw appends bytes as they are (for a command this builder lacks).
func (b *Builder) Raw(p ...byte) *Builder { b.buf = append(b.buf, p...); return b }

// Init resets the printer's modes (ESC @) and selects Chinese mode (FS &):
// a GB18030 printer starts in it, but a reset one may not.
func (b *Builder) Init() *Builder { return b.Raw(ESC, '@', FS, '&') }

// Align sets the justification of the lines that follow (ESC a n).
func (b *Builder) Align(a Align) *Builder {
	if a > Right {
		return b.fail(fmt.Errorf("%w: align %d", ErrBadArgument, a))
	}
	return b.Raw(ESC, 'a', byte(a))
}

// Bold turns emphasis on or off (ESC E n).
func (b *Builder) Bold(on bool) *Builder {
	return b.Raw(ESC, 'E', boolByte(on))
}

// Size sets the character magnification, 1..8 each way (GS ! n).
func (b *Builder) Size(w, h int) *Builder {
	if w < 1 || w > 8 || h < 1 || h > 8 {
		return b.fail(fmt.Errorf("%w: size %dx%d", ErrBadArgument, w, h))
	}
	return b.Raw(GS, '!', byte((w-1)<<4|(h-1)))
}

// Text appends s in GB18030. Control characters are refused (they would
// be commands: text from elsewhere must not drive the printer); use Line
// or LF for new lines.
func (b *Builder) Text(s string) *Builder {
	if !utf8.ValidString(s) {
		return b.fail(fmt.Errorf("%w: not UTF-8", ErrBadText))
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return b.fail(fmt.Errorf("%w: control character %U", ErrBadText, r))
		}
	}
	enc, err := simplifiedchinese.GB18030.NewEncoder().String(s)
	if err != nil {
		return b.fail(fmt.Errorf("%w: %v", ErrBadText, err))
	}
	b.buf = append(b.buf, enc...)
	return b
}

// LF prints the line buffer and feeds one line.
func (b *Builder) LF() *Builder { return b.Raw(LF) }

// Line is Text(s) then LF.
func (b *Builder) Line(s string) *Builder { return b.Text(s).LF() }

// Feed prints and feeds n lines (ESC d n).
func (b *Builder) Feed(n int) *Builder {
	if n < 0 || n > 255 {
		return b.fail(fmt.Errorf("%w: feed %d", ErrBadArgument, n))
	}
	return b.Raw(ESC, 'd', byte(n))
}

// Cut feeds to the cutter and cuts, leaving a hinge (GS V 66 0).
func (b *Builder) Cut() *Builder { return b.Raw(GS, 'V', 66, 0) }

// QR prints data as a QR code (model 2) with modules of size dots (1..16)
// at error-correction level ec: GS ( k functions 65, 67, 69, 80 and 81.
func (b *Builder) QR(data string, size int, ec ECLevel) *Builder {
	switch {
	case size < 1 || size > 16:
		return b.fail(fmt.Errorf("%w: QR module size %d", ErrBadArgument, size))
	case ec < ECLow || ec > ECHigh:
		return b.fail(fmt.Errorf("%w: QR error correction %d", ErrBadArgument, ec))
	case len(data) == 0:
		return b.fail(fmt.Errorf("%w: empty QR data", ErrBadArgument))
	case len(data) > MaxQRData:
		return b.fail(fmt.Errorf("%w: QR data of %d bytes", ErrTooLong, len(data)))
	}
	b.gsk(65, 50, 0) // model 2
	b.gsk(67, byte(size))
	b.gsk(69, byte(ec))
	b.gsk(80, append([]byte{'0'}, data...)...)
	return b.gsk(81, '0')
}

// gsk appends GS ( k pL pH cn=49 fn params.
func (b *Builder) gsk(fn byte, params ...byte) *Builder {
	n := len(params) + 2
	b.buf = append(b.buf, GS, '(', 'k', byte(n), byte(n>>8), 49, fn)
	b.buf = append(b.buf, params...)
	return b
}

func boolByte(on bool) byte {
	if on {
		return 1
	}
	return 0
}
