// Package matcher is the biometric core: vein-pattern templates, their
// comparison (Miura's normalised overlap, computed with AND + popcount on
// bit-packed rows), 1:N search and score calibration. It is pure Go, does no
// I/O of its own and imports nothing else of this module.
package matcher

import (
	"errors"
	"fmt"
	"math/bits"
)

// Pattern is a binary image of W x H pixels, packed row-major: row y occupies
// words [y*Stride, (y+1)*Stride) of Bits, and pixel x of that row is bit
// x%64 (least significant first) of word x/64. Stride is (W+63)/64. Bits
// past W in the last word of a row are always zero.
//
// A vein pattern has 1 where a vein is; a mask has 1 where the finger is.
type Pattern struct {
	W, H, Stride int
	Bits         []uint64
}

// ErrGeometry reports a pattern whose dimensions or storage do not agree.
var ErrGeometry = errors.New("matcher: bad pattern geometry")

// NewPattern returns an all-zero pattern of w x h pixels.
func NewPattern(w, h int) *Pattern {
	if w <= 0 || h <= 0 {
		panic(fmt.Sprintf("matcher: NewPattern(%d, %d)", w, h))
	}
	stride := (w + 63) / 64
	return &Pattern{W: w, H: h, Stride: stride, Bits: make([]uint64, stride*h)}
}

// Validate checks the geometry and that padding bits are clear.
func (p *Pattern) Validate() error {
	if p == nil || p.W <= 0 || p.H <= 0 {
		return fmt.Errorf("%w: empty pattern", ErrGeometry)
	}
	if p.Stride != (p.W+63)/64 {
		return fmt.Errorf("%w: stride %d for width %d", ErrGeometry, p.Stride, p.W)
	}
	if len(p.Bits) != p.Stride*p.H {
		return fmt.Errorf("%w: %d words for %dx%d", ErrGeometry, len(p.Bits), p.W, p.H)
	}
	if r := p.W % 64; r != 0 {
		pad := ^uint64(0) << uint(r)
		for y := 0; y < p.H; y++ {
			if p.Bits[y*p.Stride+p.Stride-1]&pad != 0 {
				return fmt.Errorf("%w: padding bits set in row %d", ErrGeometry, y)
			}
		}
	}
	return nil
}

// At reports whether pixel (x, y) is set. Out-of-range pixels are unset.
func (p *Pattern) At(x, y int) bool {
	if x < 0 || y < 0 || x >= p.W || y >= p.H {
		return false
	}
	return p.Bits[y*p.Stride+x>>6]>>(uint(x)&63)&1 == 1
}

// Set sets pixel (x, y) to v. It panics when (x, y) is out of range.
func (p *Pattern) Set(x, y int, v bool) {
	if x < 0 || y < 0 || x >= p.W || y >= p.H {
		panic(fmt.Sprintf("matcher: Set(%d, %d) outside %dx%d", x, y, p.W, p.H))
	}
	i, b := y*p.Stride+x>>6, uint64(1)<<(uint(x)&63)
	if v {
		p.Bits[i] |= b
	} else {
		p.Bits[i] &^= b
	}
}

// Count returns the number of set pixels.
func (p *Pattern) Count() int {
	n := 0
	for _, w := range p.Bits {
		n += bits.OnesCount64(w)
	}
	return n
}

// Clone returns a deep copy.
func (p *Pattern) Clone() *Pattern {
	q := *p
	q.Bits = append([]uint64(nil), p.Bits...)
	return &q
}
