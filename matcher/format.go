package matcher

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// The binary template format is documented in docs/template-format.md.

// FormatVersion is the version of the binary template format written by
// MarshalBinary and the only one ParseTemplate accepts.
const FormatVersion = 1

// templateMagic opens every binary template.
const templateMagic = "QSVT"

const (
	headerSize  = 28
	trailerSize = 4 // CRC-32

	maskNone = 0 // no mask
	maskRaw  = 1 // bitmap, like the vein pattern
	maskRuns = 2 // per-row run lengths, uvarints
	maskBand = 3 // per-column [top, bottom) band, zigzag deltas
)

// Decoding errors. ParseTemplate wraps them with details.
var (
	// ErrCorrupt reports bytes that are not a well-formed template: bad
	// magic, truncated, bad checksum or inconsistent fields.
	ErrCorrupt = errors.New("matcher: corrupt template")
	// ErrFormatVersion reports a template in another format version.
	ErrFormatVersion = errors.New("matcher: unsupported template format version")
	// ErrAlgorithmVersion reports a well-formed template made by another
	// algorithm version; it cannot be compared with this version's templates.
	ErrAlgorithmVersion = errors.New("matcher: template made by another algorithm version")
)

// MarshalBinary encodes t in the binary template format.
func (t *Template) MarshalBinary() ([]byte, error) {
	return t.AppendBinary(nil)
}

// AppendBinary appends the binary encoding of t to b.
func (t *Template) AppendBinary(b []byte) ([]byte, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	w, h := t.Vein.W, t.Vein.H
	rowBytes := (w + 7) / 8
	var maskEnc byte
	var maskPayload []byte
	if t.Mask != nil {
		maskEnc, maskPayload = maskRuns, appendRuns(nil, t.Mask)
		if band, ok := appendBand(nil, t.Mask); ok && len(band) <= len(maskPayload) {
			maskEnc, maskPayload = maskBand, band
		}
		if len(maskPayload) >= rowBytes*h {
			maskEnc, maskPayload = maskRaw, appendBitmap(nil, t.Mask)
		}
	}
	start := len(b)
	b = append(b, templateMagic...)
	b = append(b, FormatVersion, maskEnc)
	b = binary.LittleEndian.AppendUint16(b, t.Algorithm)
	b = binary.LittleEndian.AppendUint32(b, t.ParamsHash)
	b = binary.LittleEndian.AppendUint16(b, uint16(w))
	b = binary.LittleEndian.AppendUint16(b, uint16(h))
	b = binary.LittleEndian.AppendUint16(b, uint16(t.ShiftRows))
	b = binary.LittleEndian.AppendUint16(b, uint16(t.ShiftCols))
	b = append(b, t.Quality, t.Finger, 0, 0)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(maskPayload)))
	b = appendBitmap(b, t.Vein)
	b = append(b, maskPayload...)
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:])), nil
}

// UnmarshalBinary decodes a template written by MarshalBinary into t.
func (t *Template) UnmarshalBinary(b []byte) error {
	u, err := ParseTemplate(b)
	if err != nil {
		return err
	}
	*t = *u
	return nil
}

// ParseTemplate decodes a binary template. It refuses other format
// versions (ErrFormatVersion), templates of other algorithm versions
// (ErrAlgorithmVersion) and anything malformed (ErrCorrupt). The result
// shares no memory with b.
func ParseTemplate(b []byte) (*Template, error) {
	if len(b) < 5 || string(b[:4]) != templateMagic {
		return nil, fmt.Errorf("%w: not a vein template (bad magic)", ErrCorrupt)
	}
	if b[4] != FormatVersion {
		return nil, fmt.Errorf("%w: version %d, this build reads %d", ErrFormatVersion, b[4], FormatVersion)
	}
	if len(b) < headerSize+trailerSize {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the header", ErrCorrupt, len(b))
	}
	body := b[:len(b)-trailerSize]
	if got, want := crc32.ChecksumIEEE(body), binary.LittleEndian.Uint32(b[len(body):]); got != want {
		return nil, fmt.Errorf("%w: checksum %08x, computed %08x", ErrCorrupt, want, got)
	}
	le := binary.LittleEndian
	maskEnc := b[5]
	t := &Template{
		Algorithm:  le.Uint16(b[6:]),
		ParamsHash: le.Uint32(b[8:]),
		ShiftRows:  int(le.Uint16(b[16:])),
		ShiftCols:  int(le.Uint16(b[18:])),
		Quality:    b[20],
		Finger:     b[21],
	}
	if t.Algorithm != AlgorithmVersion {
		return nil, fmt.Errorf("%w: made by version %d, this matcher is version %d",
			ErrAlgorithmVersion, t.Algorithm, AlgorithmVersion)
	}
	w, h := int(le.Uint16(b[12:])), int(le.Uint16(b[14:]))
	if w == 0 || h == 0 || w > MaxWidth || h > MaxHeight {
		return nil, fmt.Errorf("%w: geometry %dx%d", ErrCorrupt, w, h)
	}
	if b[22] != 0 || b[23] != 0 {
		return nil, fmt.Errorf("%w: reserved bytes set", ErrCorrupt)
	}
	maskLen := int(le.Uint32(b[24:]))
	veinLen := (w + 7) / 8 * h
	if rest := len(body) - headerSize; veinLen > rest || maskLen != rest-veinLen {
		return nil, fmt.Errorf("%w: %d payload bytes for a %dx%d pattern and a %d-byte mask",
			ErrCorrupt, len(body)-headerSize, w, h, maskLen)
	}
	vein, err := readBitmap(body[headerSize:headerSize+veinLen], w, h)
	if err != nil {
		return nil, fmt.Errorf("%w: vein: %w", ErrCorrupt, err)
	}
	t.Vein = vein
	mp := body[headerSize+veinLen:]
	switch maskEnc {
	case maskNone:
		if len(mp) != 0 {
			return nil, fmt.Errorf("%w: mask payload without a mask", ErrCorrupt)
		}
	case maskRaw:
		if len(mp) != veinLen {
			return nil, fmt.Errorf("%w: raw mask of %d bytes, want %d", ErrCorrupt, len(mp), veinLen)
		}
		if t.Mask, err = readBitmap(mp, w, h); err != nil {
			return nil, fmt.Errorf("%w: mask: %w", ErrCorrupt, err)
		}
	case maskRuns:
		if t.Mask, err = readRuns(mp, w, h); err != nil {
			return nil, fmt.Errorf("%w: mask: %w", ErrCorrupt, err)
		}
	case maskBand:
		if t.Mask, err = readBand(mp, w, h); err != nil {
			return nil, fmt.Errorf("%w: mask: %w", ErrCorrupt, err)
		}
	default:
		return nil, fmt.Errorf("%w: unknown mask encoding %d", ErrCorrupt, maskEnc)
	}
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return t, nil
}

// appendBitmap appends p as h rows of ceil(w/8) bytes, pixel x of a row in
// bit x%8 of byte x/8 (least significant first).
func appendBitmap(b []byte, p *Pattern) []byte {
	rowBytes := (p.W + 7) / 8
	for y := 0; y < p.H; y++ {
		row := p.Bits[y*p.Stride : (y+1)*p.Stride]
		for i := 0; i < rowBytes; i++ {
			b = append(b, byte(row[i/8]>>(8*uint(i%8))))
		}
	}
	return b
}

func readBitmap(b []byte, w, h int) (*Pattern, error) {
	p := NewPattern(w, h)
	rowBytes := (w + 7) / 8
	for y := 0; y < h; y++ {
		row := p.Bits[y*p.Stride : (y+1)*p.Stride]
		for i, c := range b[y*rowBytes : (y+1)*rowBytes] {
			row[i/8] |= uint64(c) << (8 * uint(i%8))
		}
	}
	if err := p.Validate(); err != nil { // padding bits
		return nil, err
	}
	return p, nil
}

// appendRuns appends p as run lengths: for every row, uvarints of
// alternating runs of 0 and 1 pixels, starting with a (possibly empty) run
// of 0, the runs of a row summing to the width.
func appendRuns(b []byte, p *Pattern) []byte {
	for y := 0; y < p.H; y++ {
		want, run := false, 0
		for x := 0; x < p.W; x++ {
			if p.At(x, y) != want {
				b = binary.AppendUvarint(b, uint64(run))
				want, run = !want, 0
			}
			run++
		}
		b = binary.AppendUvarint(b, uint64(run))
	}
	return b
}

func readRuns(b []byte, w, h int) (*Pattern, error) {
	p := NewPattern(w, h)
	for y := 0; y < h; y++ {
		x, one := 0, false
		for first := true; first || x < w; first = false {
			n, k := binary.Uvarint(b)
			if k <= 0 {
				return nil, fmt.Errorf("truncated run lengths in row %d", y)
			}
			b = b[k:]
			if n > uint64(w-x) || (n == 0 && !first) {
				return nil, fmt.Errorf("bad run length %d at column %d of row %d", n, x, y)
			}
			if one {
				for i := x; i < x+int(n); i++ {
					p.Bits[y*p.Stride+i>>6] |= 1 << (uint(i) & 63)
				}
			}
			x += int(n)
			one = !one
		}
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%d bytes after the last row", len(b))
	}
	return p, nil
}

// appendBand appends p as one band [top, bottom) of set pixels per column,
// the shape of a finger mask, as zigzag varint deltas from the previous
// column's top and bottom (an empty column is 0, 0). ok is false when a
// column is not a single band.
func appendBand(b []byte, p *Pattern) (_ []byte, ok bool) {
	prevTop, prevBot := 0, 0
	for x := 0; x < p.W; x++ {
		top, bot := 0, 0
		y := 0
		for y < p.H && !p.At(x, y) {
			y++
		}
		if y < p.H {
			top = y
			for y < p.H && p.At(x, y) {
				y++
			}
			bot = y
			for ; y < p.H; y++ {
				if p.At(x, y) {
					return b, false
				}
			}
		}
		b = binary.AppendVarint(b, int64(top-prevTop))
		b = binary.AppendVarint(b, int64(bot-prevBot))
		prevTop, prevBot = top, bot
	}
	return b, true
}

func readBand(b []byte, w, h int) (*Pattern, error) {
	p := NewPattern(w, h)
	top, bot := 0, 0
	for x := 0; x < w; x++ {
		dt, k := binary.Varint(b)
		if k <= 0 {
			return nil, fmt.Errorf("truncated band at column %d", x)
		}
		b = b[k:]
		db, k := binary.Varint(b)
		if k <= 0 {
			return nil, fmt.Errorf("truncated band at column %d", x)
		}
		b = b[k:]
		if dt < -int64(h) || dt > int64(h) || db < -int64(h) || db > int64(h) {
			return nil, fmt.Errorf("band delta out of range at column %d", x)
		}
		top, bot = top+int(dt), bot+int(db)
		if top < 0 || bot > h || top > bot || (top == bot && top != 0) {
			return nil, fmt.Errorf("bad band [%d, %d) at column %d", top, bot, x)
		}
		for y := top; y < bot; y++ {
			p.Bits[y*p.Stride+x>>6] |= 1 << (uint(x) & 63)
		}
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%d bytes after the last column", len(b))
	}
	return p, nil
}
