package matcher

import (
	"fmt"
	"sync"
)

// Comparison: Miura's normalised overlap (see ReferenceMiuraScore) computed
// on bit-packed rows with AND + popcount.
//
// The enrolled pattern r is used as stored: its crop is rows [ch, h-ch) and
// columns [cw, w-cw) in place. The probe p is prepared once: for every
// horizontal displacement d in [-cw, cw] a copy of p whose bit X holds
// p[X+d], masked to the crop columns. Nm at displacement (dy, dx) is then
// the AND + popcount of the crop rows of r with rows [ch+dy, h-ch+dy) of
// copy dx, one contiguous run of words. The denominators (ones of the probe
// window) of all displacements are tabulated at preparation.
//
// The same layout is built for two OR-pooled levels (2 x 2 and 4 x 4) that
// drive the coarse-to-fine search.

const nLevels = 3

// level is the geometry of one pyramid level (factor 1, 2 or 4).
type level struct {
	w, h, stride int
	r0, r1       int // crop rows of the enrolled pattern
	dy, dx       int // displacements [-dy, dy] x [-dx, dx]
	pad          int // zero rows above and below every probe copy
	colMask      []uint64
	copyRows     int // h + 2*pad
}

func (l *level) cropWords() int { return (l.r1 - l.r0) * l.stride }
func (l *level) nShifts() int   { return (2*l.dy + 1) * (2*l.dx + 1) }

// geometry is everything derived from (W, H, ch, cw).
type geometry struct {
	w, h, ch, cw int
	lv           [nLevels]level
	exhaustive   bool // so few shifts that coarse-to-fine is pointless
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func newGeometry(w, h, ch, cw int) *geometry {
	ch = min(ch, (h-1)/2)
	cw = min(cw, (w-1)/2)
	g := &geometry{w: w, h: h, ch: ch, cw: cw}
	for i := range g.lv {
		f := 1 << i
		l := &g.lv[i]
		l.w, l.h = ceilDiv(w, f), ceilDiv(h, f)
		l.stride = (l.w + 63) / 64
		if i == 0 {
			l.r0, l.r1, l.dy, l.dx = ch, h-ch, ch, cw
		} else {
			l.r0 = ch / f
			l.r1 = max(ceilDiv(h-ch, f), l.r0+1)
			l.dy, l.dx = ceilDiv(ch, f), ceilDiv(cw, f)
		}
		c0, c1 := cw/f, max(ceilDiv(w-cw, f), cw/f+1)
		if i == 0 {
			c0, c1 = cw, w-cw
		}
		// Four more zero rows than the displacements need on each side, so
		// that blocks of up to five displacements overlapping the range can
		// be computed without tests at the edges.
		l.pad = max(0, l.dy+4-l.r0, l.r1+l.dy+4-l.h)
		l.copyRows = l.h + 2*l.pad
		l.colMask = make([]uint64, l.stride)
		for x := c0; x < c1; x++ {
			l.colMask[x>>6] |= 1 << (uint(x) & 63)
		}
	}
	g.exhaustive = g.lv[0].nShifts() <= 64 || h < 16 || w < 16
	return g
}

// pyramidWords is the scratch needed to downsample one pattern to levels 1
// and 2.
func (g *geometry) pyramidWords() int {
	return g.lv[1].h*g.lv[1].stride + g.lv[2].h*g.lv[2].stride
}

// cand is an enrolled pattern ready for comparison: the crop rows of every
// level, and the count of its ones within the crop.
type cand struct {
	crop  [nLevels][]uint64
	ones0 int
}

// buildPyramid downsamples the full pattern bits (geometry g) into scratch
// and points c.crop at the crop rows of every level.
func (g *geometry) buildPyramid(c *cand, bits, scratch []uint64) {
	l0 := &g.lv[0]
	c.crop[0] = bits[l0.r0*l0.stride : l0.r1*l0.stride]
	c.ones0 = maskedCount(c.crop[0], l0.colMask)
	if g.exhaustive {
		return
	}
	l1, l2 := &g.lv[1], &g.lv[2]
	p1 := scratch[:l1.h*l1.stride]
	p2 := scratch[l1.h*l1.stride : l1.h*l1.stride+l2.h*l2.stride]
	down2(p1, bits, l0.w, l0.h, l0.stride)
	down2(p2, p1, l1.w, l1.h, l1.stride)
	c.crop[1] = p1[l1.r0*l1.stride : l1.r1*l1.stride]
	c.crop[2] = p2[l2.r0*l2.stride : l2.r1*l2.stride]
}

// probeLevel is the prepared probe at one level.
type probeLevel struct {
	copies []uint64 // 2dx+1 shifted copies of copyRows x stride words
	ones   []int32  // ones of the probe window, index (dy+DY)*(2dx+1) + dx+DX
	// lanes, for the coarsest level, holds the same windows transposed:
	// word k of the window of displacement i (i = (dx+DX)*(2dy+1) + dy+DY,
	// the scan order of the coarse search) at lanes[k*laneWidth+i], so
	// that a vector kernel computes eight displacements per instruction
	// without horizontal sums (andCountLanesArch). nil when too large.
	lanes     []uint64
	laneWidth int
}

// maxLaneWords bounds the transposed windows of a probe level.
const maxLaneWords = 1 << 14

// prepareLanes builds pl.lanes from pl.copies.
func (pl *probeLevel) prepareLanes(l *level) {
	n, nd := l.cropWords(), l.nShifts()
	w := (nd + 7) &^ 7
	if w > 256 || n*w > maxLaneWords {
		return
	}
	ny := 2*l.dy + 1
	cs := l.copyRows * l.stride
	base := (l.r0 - l.dy + l.pad) * l.stride
	pl.lanes, pl.laneWidth = make([]uint64, n*w), w
	for ix := 0; ix <= 2*l.dx; ix++ {
		for iy := 0; iy < ny; iy++ {
			win := pl.copies[ix*cs+base+iy*l.stride:]
			i := ix*ny + iy
			for k := 0; k < n; k++ {
				pl.lanes[k*w+i] = win[k]
			}
		}
	}
}

// window returns the probe words compared with the enrolled crop at
// displacement (dy, dx).
func (pl *probeLevel) window(l *level, dy, dx int) []uint64 {
	base := (dx + l.dx) * l.copyRows * l.stride
	start := base + (l.r0+dy+l.pad)*l.stride
	return pl.copies[start : start+l.cropWords()]
}

func (pl *probeLevel) prepare(l *level, bits []uint64) {
	nx := 2*l.dx + 1
	cs := l.copyRows * l.stride
	pl.copies = make([]uint64, nx*cs)
	for i := 0; i < nx; i++ {
		c := pl.copies[i*cs : (i+1)*cs]
		for y := 0; y < l.h; y++ {
			row := c[(y+l.pad)*l.stride : (y+l.pad+1)*l.stride]
			shiftRow(row, bits[y*l.stride:(y+1)*l.stride], i-l.dx)
			for k := range row {
				row[k] &= l.colMask[k]
			}
		}
	}
	pl.ones = make([]int32, l.nShifts())
	rowOnes := make([]int, l.copyRows+1) // prefix sums
	for dx := -l.dx; dx <= l.dx; dx++ {
		c := pl.copies[(dx+l.dx)*cs : (dx+l.dx+1)*cs]
		for y := 0; y < l.copyRows; y++ {
			rowOnes[y+1] = rowOnes[y] + onesCount(c[y*l.stride:(y+1)*l.stride])
		}
		for dy := -l.dy; dy <= l.dy; dy++ {
			a := l.r0 + dy + l.pad
			pl.ones[(dy+l.dy)*nx+dx+l.dx] = int32(rowOnes[a+l.r1-l.r0] - rowOnes[a])
		}
	}
}

// Probe is a template prepared for comparison against many enrolled
// templates. It is safe for concurrent use.
type Probe struct {
	t       *Template
	g       *geometry
	lv      [nLevels]probeLevel
	scratch sync.Pool // *[]uint64 for the pyramids of plain templates
}

// NewProbe prepares t for comparisons.
func NewProbe(t *Template) (*Probe, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	if t.Algorithm != AlgorithmVersion {
		return nil, fmt.Errorf("%w: algorithm version %d, this matcher is %d", ErrIncompatible, t.Algorithm, AlgorithmVersion)
	}
	g := newGeometry(t.Vein.W, t.Vein.H, t.ShiftRows, t.ShiftCols)
	return newProbe(t, g), nil
}

func newProbe(t *Template, g *geometry) *Probe {
	p := &Probe{t: t, g: g}
	bits := t.Vein.Bits
	p.lv[0].prepare(&g.lv[0], bits)
	if !g.exhaustive {
		pyr := make([]uint64, g.pyramidWords())
		l1 := &g.lv[1]
		p1, p2 := pyr[:l1.h*l1.stride], pyr[l1.h*l1.stride:]
		down2(p1, bits, g.w, g.h, g.lv[0].stride)
		down2(p2, p1, l1.w, l1.h, l1.stride)
		p.lv[1].prepare(l1, p1)
		p.lv[2].prepare(&g.lv[2], p2)
		p.lv[2].prepareLanes(&g.lv[2])
	}
	n := g.pyramidWords()
	p.scratch.New = func() any { s := make([]uint64, n); return &s }
	return p
}

// Template returns the template the probe was prepared from.
func (p *Probe) Template() *Template { return p.t }

// Compatible reports why c cannot be compared with the probe, or nil.
func (p *Probe) Compatible(c *Template) error { return compatible(c, p.t) }

// Score returns the comparison score of the enrolled template c against the
// probe, in [0, 0.5]: Miura's normalised overlap at the displacement found
// by the coarse-to-fine search (see docs/template-format.md). It is the
// score used for decisions everywhere (Compare, Gallery). It returns 0
// when c is not compatible with the probe (check with Compatible). Score
// allocates nothing and is safe for concurrent use.
func (p *Probe) Score(c *Template) float64 {
	return p.score(c, false)
}

// ScoreExact is Score with an exhaustive search over all displacements; it
// equals ReferenceMiuraScore(c.Vein, probe.Vein, ch, cw) exactly.
func (p *Probe) ScoreExact(c *Template) float64 {
	return p.score(c, true)
}

func (p *Probe) score(c *Template, exact bool) float64 {
	if compatible(c, p.t) != nil || c.Vein.Stride != p.g.lv[0].stride || len(c.Vein.Bits) != c.Vein.Stride*c.Vein.H {
		return 0
	}
	var cd cand
	if exact || p.g.exhaustive {
		l0 := &p.g.lv[0]
		cd.crop[0] = c.Vein.Bits[l0.r0*l0.stride : l0.r1*l0.stride]
		cd.ones0 = maskedCount(cd.crop[0], l0.colMask)
		return p.scoreExact(&cd)
	}
	sp := p.scratch.Get().(*[]uint64)
	p.g.buildPyramid(&cd, c.Vein.Bits, *sp)
	s := p.scoreCoarseToFine(&cd)
	p.scratch.Put(sp)
	return s
}

func (p *Probe) final(c *cand, nm, t, s int) float64 {
	l0 := &p.g.lv[0]
	den := c.ones0 + int(p.lv[0].ones[t*(2*l0.dx+1)+s])
	if den == 0 {
		return 0
	}
	return float64(nm) / float64(den)
}

// scoreExact tries every displacement.
func (p *Probe) scoreExact(c *cand) float64 {
	nm, t, s := p.exhaustive(c)
	return p.final(c, nm, t, s)
}

// exhaustive returns the largest Nm and its offset (t, s) = (dy+ch, dx+cw),
// the first in row-major order on a tie, as the reference does.
func (p *Probe) exhaustive(c *cand) (best, bt, bs int) {
	l := &p.g.lv[0]
	pl := &p.lv[0]
	r := c.crop[0]
	cs := l.copyRows * l.stride
	// Rounded up to a multiple of three for the three-window kernel; the
	// extra windows fall in the zero padding (pad > 2) and are ignored.
	ny := (2*l.dy + 3) / 3 * 3
	var buf [513]int32
	chunk := max(1, len(buf)/ny)
	best = -1
	base := (l.r0 - l.dy + l.pad) * l.stride
	for s0 := 0; s0 <= 2*l.dx; s0 += chunk {
		nx := min(chunk, 2*l.dx+1-s0)
		andCountGrid(r, pl.copies[s0*cs+base:], cs, nx, l.stride, ny, buf[:])
		for i := 0; i < nx; i++ {
			for t, n := range buf[i*ny : i*ny+2*l.dy+1] {
				if nm := int(n); nm > best || (nm == best && t < bt) {
					best, bt, bs = nm, t, s0+i
				}
			}
		}
	}
	return best, bt, bs
}

// Compare returns the score of the probe template against the enrolled one
// (see Probe.Score). It prepares the probe on every call: to compare one
// probe with many templates use NewProbe or a Gallery.
func Compare(enrolled, probe *Template) (float64, error) {
	p, err := prepareFor(enrolled, probe)
	if err != nil {
		return 0, err
	}
	return p.Score(enrolled), nil
}

// CompareExact is Compare with the exhaustive search (Probe.ScoreExact).
func CompareExact(enrolled, probe *Template) (float64, error) {
	p, err := prepareFor(enrolled, probe)
	if err != nil {
		return 0, err
	}
	return p.ScoreExact(enrolled), nil
}

func prepareFor(enrolled, probe *Template) (*Probe, error) {
	if err := enrolled.Validate(); err != nil {
		return nil, fmt.Errorf("enrolled: %w", err)
	}
	if err := probe.Validate(); err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	if err := compatible(enrolled, probe); err != nil {
		return nil, err
	}
	return NewProbe(probe)
}
