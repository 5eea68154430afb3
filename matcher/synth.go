package matcher

import (
	"math"
	"math/rand/v2"
)

// SynthFinger is a synthetic finger for tests and benchmarks: a set of
// smooth, mostly longitudinal curves (3 pixels wide, with branches) that
// look like an extracted vein pattern at a density of about 10-20 %. Each
// Sample renders it again displaced, slightly deformed and with noise, as a
// new presentation of the same finger would be. It is not a model of real
// vein images; evaluation uses real data (matcher/eval).
type SynthFinger struct {
	w, h   int
	curves [][]point
}

type point struct{ x, y float64 }

// NewSynthFinger draws a new random finger for w x h templates.
func NewSynthFinger(rng *rand.Rand, w, h int) *SynthFinger {
	f := &SynthFinger{w: w, h: h}
	target := 0.10 + 0.10*rng.Float64()
	covered := 0.0
	for len(f.curves) < 40 && covered < target*float64(w*h) {
		c := f.randomCurve(rng)
		f.curves = append(f.curves, c)
		covered += 3 * float64(len(c))
		if rng.IntN(3) == 0 && len(c) > 10 { // a branch
			f.curves = append(f.curves, f.branch(rng, c[rng.IntN(len(c))]))
			covered += 3 * float64(len(f.curves[len(f.curves)-1]))
		}
	}
	return f
}

func (f *SynthFinger) randomCurve(rng *rand.Rand) []point {
	x := rng.Float64()*float64(f.w+40) - 20
	y := rng.Float64() * float64(f.h)
	theta := rng.NormFloat64() * 0.35
	if rng.IntN(4) == 0 {
		theta = (0.6 + 0.6*rng.Float64()) * float64(1-2*rng.IntN(2))
	}
	if rng.IntN(2) == 0 {
		theta += math.Pi
	}
	return f.walk(rng, x, y, theta, 30+rng.IntN(f.w))
}

func (f *SynthFinger) branch(rng *rand.Rand, from point) []point {
	theta := (0.4 + 0.8*rng.Float64()) * float64(1-2*rng.IntN(2))
	if rng.IntN(2) == 0 {
		theta += math.Pi
	}
	return f.walk(rng, from.x, from.y, theta, 15+rng.IntN(f.w/2+1))
}

func (f *SynthFinger) walk(rng *rand.Rand, x, y, theta float64, n int) []point {
	pts := make([]point, 0, n)
	turn := 0.0
	dx, dy := math.Cos(theta), math.Sin(theta)
	for i := 0; i < n; i++ {
		pts = append(pts, point{x, y})
		turn = 0.8*turn + 0.04*rng.NormFloat64()
		// Rotate the unit direction by turn (small: third-order series).
		c, s := 1-turn*turn/2, turn-turn*turn*turn/6
		dx, dy = dx*c-dy*s, dx*s+dy*c
		x += dx
		y += dy
		if x < -30 || x > float64(f.w+30) || y < -10 || y > float64(f.h+10) {
			break
		}
	}
	return pts
}

// Sample renders a presentation of the finger displaced by up to
// ±maxDy rows and ±maxDx columns, with a smooth deformation of about a
// pixel, a fraction noise of the vein pixels dropped and as many spurious
// pixels added in short segments, and the borders outside a wavy finger
// mask cleared.
func (f *SynthFinger) Sample(rng *rand.Rand, maxDy, maxDx int, noise float64) *Pattern {
	p := NewPattern(f.w, f.h)
	dy := float64(rng.IntN(2*maxDy+1) - maxDy)
	dx := float64(rng.IntN(2*maxDx+1) - maxDx)
	ax, ay := 0.8*rng.Float64(), 0.8*rng.Float64()
	px, py := rng.Float64()*6, rng.Float64()*6
	rot := rng.NormFloat64() * 0.01
	cx, cy := float64(f.w)/2, float64(f.h)/2
	// The smooth deformation, tabulated: a horizontal offset by row and a
	// vertical one by column (curves stay within 30 pixels of the image).
	offX := make([]float64, f.h+61)
	for i := range offX {
		y := float64(i - 30)
		offX[i] = ax*math.Sin(y/9+px) - rot*(y-cy)
	}
	offY := make([]float64, f.w+61)
	for i := range offY {
		x := float64(i - 30)
		offY[i] = ay*math.Sin(x/23+py) + rot*(x-cx)
	}
	for _, c := range f.curves {
		for _, q := range c {
			x := q.x + dx + offX[min(max(int(q.y)+30, 0), len(offX)-1)]
			y := q.y + dy + offY[min(max(int(q.x)+30, 0), len(offY)-1)]
			if noise > 0 && rng.Float64() < noise {
				continue
			}
			brush(p, int(math.Round(x)), int(math.Round(y)))
		}
	}
	// Spurious short segments.
	extra := int(noise * float64(p.Count()) / 9)
	for i := 0; i < extra; i++ {
		x, y := rng.IntN(f.w), rng.IntN(f.h)
		th := rng.Float64() * math.Pi
		for k := 0; k < 3; k++ {
			brush(p, x+int(math.Round(float64(k)*math.Cos(th))), y+int(math.Round(float64(k)*math.Sin(th))))
		}
	}
	// Finger mask: a band with wavy edges.
	top := 1 + rng.Float64()*2
	bot := float64(f.h) - 2 - rng.Float64()*2
	ph := rng.Float64() * 6
	for x := 0; x < f.w; x++ {
		t := top + 1.2*math.Sin(float64(x)/30+ph)
		b := bot + 1.2*math.Sin(float64(x)/27+ph)
		bit := uint64(1) << (uint(x) & 63)
		for y := 0; y < f.h && float64(y) < t; y++ {
			p.Bits[y*p.Stride+x>>6] &^= bit
		}
		for y := f.h - 1; y >= 0 && float64(y) > b; y-- {
			p.Bits[y*p.Stride+x>>6] &^= bit
		}
	}
	return p
}

// brush sets a plus-shaped 3-pixel-wide dot at (x, y), clipped.
func brush(p *Pattern, x, y int) {
	for _, d := range [5][2]int{{0, 0}, {1, 0}, {-1, 0}, {0, 1}, {0, -1}} {
		if u, v := x+d[0], y+d[1]; u >= 0 && v >= 0 && u < p.W && v < p.H {
			p.Bits[v*p.Stride+u>>6] |= 1 << (uint(u) & 63)
		}
	}
}
