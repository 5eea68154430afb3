package eval

import (
	"math/bits"

	"github.com/qingshan-gov/veinkiosk/matcher"
)

// probe holds the horizontally shifted copies of a probe pattern so that
// every (dy, dx) shift costs one AND + popcount per word.
type probe struct {
	w, h, stride, cw int
	// dil holds the shifted copies of the probe dilated by one pixel when
	// the comparison tolerates one pixel of deformation; nil otherwise.
	dil [][]uint64
	// shifted[dx+cw] row y is the probe row y moved so that its bit x is
	// the probe's bit x+dx (zero outside).
	shifted [][]uint64
}

func newProbe(p *matcher.Pattern, cw int) *probe {
	q := &probe{w: p.W, h: p.H, stride: p.Stride, cw: cw, shifted: make([][]uint64, 2*cw+1)}
	for dx := -cw; dx <= cw; dx++ {
		buf := make([]uint64, len(p.Bits))
		for y := 0; y < p.H; y++ {
			shiftRow(buf[y*p.Stride:(y+1)*p.Stride], p.Bits[y*p.Stride:(y+1)*p.Stride], dx)
		}
		q.shifted[dx+cw] = buf
	}
	return q
}

// dilate returns p grown by one pixel in the 8-neighbourhood.
func dilate(p *matcher.Pattern) *matcher.Pattern {
	q := matcher.NewPattern(p.W, p.H)
	st := p.Stride
	row := make([]uint64, st)
	tmp := make([]uint64, st)
	for y := 0; y < p.H; y++ {
		clear(row)
		for dy := -1; dy <= 1; dy++ {
			yy := y + dy
			if yy < 0 || yy >= p.H {
				continue
			}
			src := p.Bits[yy*st : (yy+1)*st]
			for i := range row {
				row[i] |= src[i]
			}
		}
		copy(tmp, row)
		dst := q.Bits[y*st : (y+1)*st]
		shiftRow(dst, tmp, 1)
		for i := range dst {
			dst[i] |= tmp[i]
		}
		shiftRow(row, tmp, -1)
		for i := range dst {
			dst[i] |= row[i]
		}
	}
	if r := p.W % 64; r != 0 {
		for y := 0; y < p.H; y++ {
			q.Bits[y*st+st-1] &= (1 << uint(r)) - 1
		}
	}
	return q
}

// shiftRow sets dst bit x to src bit x+dx.
func shiftRow(dst, src []uint64, dx int) {
	n := len(src)
	ws, bs := dx>>6, uint(dx&63) // floor division for negative dx too
	for i := range dst {
		j := i + ws
		var lo, hi uint64
		if j >= 0 && j < n {
			lo = src[j]
		}
		if j+1 >= 0 && j+1 < n {
			hi = src[j+1]
		}
		if bs == 0 {
			dst[i] = lo
		} else {
			dst[i] = lo>>bs | hi<<(64-bs)
		}
	}
}

// MiuraScore is Miura's matching score (the definition of
// matcher.ReferenceMiuraScore) computed on bit-packed rows: the enrolled
// pattern r cropped by ch rows and cw columns on each side is slid over the
// probe p; the score is the best overlap divided by the ones of the crop
// plus the ones of the probe window at the best shift.
func MiuraScore(r, p *matcher.Pattern, ch, cw int) float64 {
	ch = min(ch, (r.H-1)/2)
	cw = min(cw, (r.W-1)/2)
	return newProbe(p, cw).score(r, ch)
}

func (q *probe) score(r *matcher.Pattern, ch int) float64 {
	cw, st := q.cw, q.stride
	// Column mask of the crop [cw, W-cw).
	cm := make([]uint64, st)
	for x := cw; x < q.w-cw; x++ {
		cm[x>>6] |= 1 << (uint(x) & 63)
	}
	rows := q.h - 2*ch
	rc := make([]uint64, rows*st)
	rOnes := 0
	for y := 0; y < rows; y++ {
		for i := 0; i < st; i++ {
			v := r.Bits[(y+ch)*st+i] & cm[i]
			rc[y*st+i] = v
			rOnes += bits.OnesCount64(v)
		}
	}
	best, bt, bs := -1, 0, 0
	for t := 0; t <= 2*ch; t++ {
		for s := 0; s <= 2*cw; s++ {
			sh := q.shifted[s]
			if q.dil != nil {
				sh = q.dil[s]
			}
			nm := 0
			base := t * st
			for i, v := range rc {
				nm += bits.OnesCount64(v & sh[base+i])
			}
			if nm > best {
				best, bt, bs = nm, t, s
			}
		}
	}
	// The probe window at the best shift: rows [bt, bt+rows), the crop
	// columns moved by the shift, which is the shifted copy ANDed with cm.
	pOnes := 0
	sh := q.shifted[bs]
	for y := 0; y < rows; y++ {
		for i := 0; i < st; i++ {
			pOnes += bits.OnesCount64(sh[(y+bt)*st+i] & cm[i])
		}
	}
	if rOnes+pOnes == 0 {
		return 0
	}
	return float64(best) / float64(rOnes+pOnes)
}
