package fingerimg

import (
	"math"
	"math/rand/v2"
)

// The finger model lives in "reference pixels": the pixels of a 500 x 200
// sensor. Captures at other sizes scale it by min(Height/refHeight,
// Width/refWidth).
//
// Finger coordinates: u is the distance along the finger axis from the tip
// (u = 0) towards the hand (u > 0); v is the signed distance across the
// finger from its centre line (positive downwards in the image).
const (
	tipLUT     = 4096
	tipPowMax  = 2.0
	tipRootMax = 24.0 // > 2 * tipPowMax^3.4

	refHeight = 200.0
	refWidth  = 500.0
	// lutLen is how far (in reference pixels from the tip) the finger's
	// per-u tables and its veins reach. A 500-wide frame shows at most
	// about 480 of it; the rest covers shifted and wider frames.
	lutLen = 900
)

// veinPoint is one sample of a vessel's centre line.
type veinPoint struct {
	u, v float32 // finger coordinates, reference pixels
	w    float32 // vessel diameter, reference pixels
	d    float32 // depth below the camera-side skin, 0 (shallow) .. 1 (deep)
}

type vein struct {
	pts   []veinPoint
	level int // 0 trunk, 1 branch, 2 sub-branch, 3 fine vessel
}

type joint struct {
	u, sigma, gain float64
}

// Finger is one synthetic finger identity. It is immutable after NewFinger
// and safe for concurrent captures.
type Finger struct {
	seed uint64

	hw        float64 // nominal half width, reference pixels
	tipR      float64 // length of the rounded tip, reference pixels
	tipN      float64 // super-ellipse exponent of the tip (2 round .. 3.5 square)
	tipMargin float64 // nominal distance from the tip to the right frame edge
	rim       float64 // how much brighter the thin edges are than the centre (log)
	mu        float64 // vessel optical density per reference pixel of chord
	transmit  float64 // overall tissue transmittance (thin, pale fingers > 1)
	texAmp    float64 // amplitude of the tissue texture
	habit     float64 // how inconsistently the owner places the finger (1 typical)
	haloAmp   float64 // glow around the finger relative to its brightness
	haloLen   float64 // decay length of the glow, reference pixels
	boneAmp   float64 // darkening of the centre line by the phalanges
	boneWidth float64 // their half-width relative to the finger's

	joints []joint
	h      []float32 // half width per u (index = u in reference pixels)
	c      []float32 // centre-line offset per u
	lum    []float32 // longitudinal transmission (thickness) per u
	jnt    []float32 // extra transmission of the joints per u (at the centre line)
	bone   []float32 // 1 where a phalanx lies under the centre line, 0 in joint gaps and the tip
	hb     []float32 // half width per u without the tip rounding
	// tipPow and tipRoot tabulate x^tipN on [0, tipPowMax] and
	// y^(1/tipN) on [0, tipRootMax] for the tip silhouette.
	tipPow, tipRoot []float32

	veins []vein
}

// splitmix64 finaliser: spreads seeds so that nearby seeds give unrelated
// streams.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func newRand(a, b uint64) *rand.Rand {
	return rand.New(rand.NewPCG(mix64(a), mix64(b^0x5851f42d4c957f2d)))
}

func uniform(r *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }

// clamp limits x to [lo, hi]; NaN becomes lo.
func clamp(x, lo, hi float64) float64 {
	if x > hi {
		return hi
	}
	if x >= lo {
		return x
	}
	return lo
}

// NewFinger returns the finger identity of seed. The same seed always gives
// the same finger.
func NewFinger(seed uint64) *Finger {
	r := newRand(seed, 0x66696e676572) // "finger"
	f := &Finger{seed: seed}
	f.hw = uniform(r, 50, 72)
	f.tipR = f.hw * uniform(r, 0.75, 1.1)
	f.tipN = uniform(r, 2.2, 3.4)
	f.tipMargin = uniform(r, 22, 50)
	f.rim = uniform(r, 0.4, 1.1)
	f.mu = uniform(r, 0.035, 0.060)
	f.transmit = math.Exp(r.NormFloat64() * 0.12)
	f.texAmp = uniform(r, 0.6, 1.4)
	// Some people place their finger much less consistently than others
	// (the "goats" of the biometric menagerie).
	f.habit = clamp(math.Exp(r.NormFloat64()*0.35), 0.5, 2.2)
	f.haloAmp = uniform(r, 0.04, 0.1)
	f.haloLen = uniform(r, 6, 14)
	f.boneAmp = uniform(r, 0.05, 0.16)
	f.boneWidth = uniform(r, 0.3, 0.5)

	// Joints: the distal interphalangeal joint about 2.5 finger half-widths
	// from the tip, the proximal one a middle phalanx further.
	dip := f.hw * uniform(r, 2.4, 3.0)
	pip := dip + f.hw*uniform(r, 2.6, 3.3)
	f.joints = []joint{
		{u: dip, sigma: f.hw * uniform(r, 0.4, 0.6), gain: uniform(r, 0.12, 0.35)},
		{u: pip, sigma: f.hw * uniform(r, 0.45, 0.65), gain: uniform(r, 0.1, 0.3)},
	}

	f.buildProfiles(r)
	f.tipPow = make([]float32, tipLUT+1)
	f.tipRoot = make([]float32, tipLUT+1)
	for i := range tipLUT + 1 {
		f.tipPow[i] = float32(math.Pow(float64(i)/tipLUT*tipPowMax, f.tipN))
		f.tipRoot[i] = float32(math.Pow(float64(i)/tipLUT*tipRootMax, 1/f.tipN))
	}
	f.growVeins(r)
	return f
}

// Seed returns the seed the finger was made from.
func (f *Finger) Seed() uint64 { return f.seed }

// buildProfiles fills the per-u tables: half width with taper, joint bulges
// and a little waviness; centre-line bend; longitudinal transmission.
func (f *Finger) buildProfiles(r *rand.Rand) {
	f.h = make([]float32, lutLen)
	f.hb = make([]float32, lutLen)
	f.c = make([]float32, lutLen)
	f.lum = make([]float32, lutLen)
	f.jnt = make([]float32, lutLen)
	f.bone = make([]float32, lutLen)

	taper := uniform(r, 0.02, 0.10) // relative widening per 100 px towards the hand
	type wave struct{ amp, period, phase float64 }
	waves := make([]wave, 3)
	for i := range waves {
		waves[i] = wave{amp: uniform(r, 0.004, 0.014), period: uniform(r, 90, 400), phase: uniform(r, 0, 2*math.Pi)}
	}
	bend := r.NormFloat64() * 0.05 * f.hw // centre-line sag over 400 px
	tilt := r.NormFloat64() * 0.015       // centre-line slope (finger not straight)
	thick := uniform(r, 0.05, 0.2)        // log-transmission loss per 100 px towards the hand
	lumWaves := make([]wave, 2)
	for i := range lumWaves {
		lumWaves[i] = wave{amp: uniform(r, 0.02, 0.06), period: uniform(r, 120, 500), phase: uniform(r, 0, 2*math.Pi)}
	}

	for i := range lutLen {
		u := float64(i)
		s := 1 + taper*u/100
		for _, w := range waves {
			s += w.amp * math.Sin(2*math.Pi*u/w.period+w.phase)
		}
		lg := -thick * u / 100
		jg := 0.0
		for _, w := range lumWaves {
			lg += w.amp * math.Sin(2*math.Pi*u/w.period+w.phase)
		}
		for _, j := range f.joints {
			g := math.Exp(-0.5 * sq((u-j.u)/j.sigma))
			s += 0.035 * g
			jg += j.gain * g
		}
		h := f.hw * s
		f.hb[i] = float32(h)
		if u < f.tipR {
			// super-ellipse tip: |(tipR-u)/tipR|^n + |v/h|^n = 1
			a := (f.tipR - u) / f.tipR
			h *= math.Pow(math.Max(0, 1-math.Pow(a, f.tipN)), 1/f.tipN)
		}
		f.h[i] = float32(h)
		f.c[i] = float32(bend*sq(u/400) + tilt*u)
		f.lum[i] = float32(math.Exp(lg))
		f.jnt[i] = float32(jg)
		// phalanges from half a tip length behind the tip, with gaps at
		// the joints
		b := clamp((u-0.4*f.tipR)/(0.3*f.tipR), 0, 1)
		for _, j := range f.joints {
			b *= 1 - math.Exp(-0.5*sq((u-j.u)/(0.6*j.sigma)))
		}
		f.bone[i] = float32(b)
	}
}

func sq(x float64) float64 { return x * x }

// table interpolates a table of n+1 samples over [0, max] at x (clamped).
func table(t []float32, max, x float64) float64 {
	return lookup(t, x*float64(len(t)-1)/max)
}

// lookup interpolates a per-u table at u (clamped to its range).
func lookup(t []float32, u float64) float64 {
	if u <= 0 {
		return float64(t[0])
	}
	n := len(t) - 1
	if u >= float64(n) {
		return float64(t[n])
	}
	i := int(u)
	fr := float32(u - float64(i))
	return float64(t[i] + (t[i+1]-t[i])*fr)
}

// occupancy is a coarse grid of which vessel passes where, used to join
// branches into the vessel they run into (anastomoses).
type occupancy struct {
	cell  float64
	w, h  int
	owner []int32
	v0    float64
}

func newOccupancy(cell, vmax float64) *occupancy {
	o := &occupancy{cell: cell, v0: vmax}
	o.w = int(lutLen/cell) + 1
	o.h = int(2*vmax/cell) + 1
	o.owner = make([]int32, o.w*o.h)
	for i := range o.owner {
		o.owner[i] = -1
	}
	return o
}

func (o *occupancy) index(u, v float64) int {
	x, y := int(u/o.cell), int((v+o.v0)/o.cell)
	if u < 0 || x >= o.w || y < 0 || y >= o.h {
		return -1
	}
	return y*o.w + x
}

// growVeins grows the vessel network: two to four trunks running from the
// hand towards the tip, branching at shallow angles; branches either relax
// into longitudinal vessels or cross over and join a neighbour, which gives
// the net-like topology of palmar finger veins. Fine, deep vessels add
// low-contrast clutter.
func (f *Finger) growVeins(r *rand.Rand) {
	type walker struct {
		u, v, psi, w, d float64
		d0              float64 // depth the vessel returns to
		target          float64 // heading the walker relaxes towards
		budget          float64
		level, parent   int
		stop            float64 // u at which it ends (trunks)
	}
	occ := newOccupancy(4, f.hw*1.6)
	var queue []walker
	nTrunks := 2 + r.IntN(3)
	for i := range nTrunks {
		pos := (float64(i)+0.5+0.5*(r.Float64()-0.5))/float64(nTrunks)*2 - 1
		queue = append(queue, walker{
			u:      lutLen - 1,
			v:      pos * 0.6 * f.hw * 1.2,
			psi:    r.NormFloat64() * 0.08,
			target: r.NormFloat64() * 0.06,
			w:      uniform(r, 9, 16),
			d:      uniform(r, 0.05, 0.85),
			budget: 2 * lutLen,
			level:  0, parent: -1,
			stop: f.tipR*0.7 + uniform(r, 0, f.hw),
		})
	}
	const ds = 2.0
	branchP := [...]float64{0.022, 0.012, 0}
	for len(queue) > 0 {
		wk := queue[0]
		queue = queue[1:]
		wk.d0 = wk.d
		id := len(f.veins)
		vn := vein{level: wk.level}
		traveled := 0.0
		for traveled < wk.budget {
			h := lookup(f.h, wk.u)
			if h < 4 {
				break
			}
			t := wk.v / h
			wk.psi += r.NormFloat64()*0.045 + (wk.target-wk.psi)*0.04
			if t > 0.6 {
				wk.psi -= 0.05 * (t - 0.6) / 0.1
			} else if t < -0.6 {
				wk.psi += 0.05 * (-0.6 - t) / 0.1
			}
			wk.psi = clamp(wk.psi, -1.2, 1.2)
			wk.u -= math.Cos(wk.psi) * ds
			wk.v += math.Sin(wk.psi) * ds
			traveled += ds
			if wk.u < wk.stop || math.Abs(wk.v) > 0.92*lookup(f.h, wk.u) {
				break
			}
			wk.w *= 0.9992 * math.Exp(r.NormFloat64()*0.01)
			if wk.u < f.tipR*2 {
				wk.w *= 0.98 // distal vessels are fine
			}
			if wk.w < 1.2 {
				break
			}
			// Vessels dive and surface along their course, so their
			// visibility changes along them.
			wk.d = clamp(wk.d+0.04*(wk.d0-wk.d)+r.NormFloat64()*0.045, 0, 1)
			vn.pts = append(vn.pts, veinPoint{u: float32(wk.u), v: float32(wk.v), w: float32(wk.w), d: float32(wk.d)})

			if wk.level < 3 {
				if k := occ.index(wk.u, wk.v); k >= 0 {
					o := occ.owner[k]
					if o >= 0 && int(o) != id && int(o) != wk.parent && traveled > 16 && wk.level > 0 {
						break // joined another vessel
					}
					if o < 0 {
						occ.owner[k] = int32(id)
					}
				}
			}
			if wk.level < 2 && r.Float64() < branchP[wk.level] {
				side := 1.0
				if r.IntN(2) == 0 {
					side = -1
				}
				b := walker{
					u: wk.u, v: wk.v,
					psi:   wk.psi + side*uniform(r, 0.35, 0.9),
					w:     wk.w * uniform(r, 0.5, 0.8),
					d:     clamp(wk.d+r.NormFloat64()*0.2, 0, 1),
					level: wk.level + 1, parent: id,
					stop: f.tipR * 0.5,
				}
				if r.IntN(2) == 0 {
					b.target = side * uniform(r, 0, 0.15) // becomes a longitudinal vessel
				} else {
					b.target = b.psi // connector: crosses until it meets a vessel
				}
				b.budget = uniform(r, 40, 240)
				if wk.level > 0 {
					b.budget *= 0.6
				}
				queue = append(queue, b)
			}
		}
		if len(vn.pts) >= 2 {
			f.veins = append(f.veins, vn)
		} else {
			f.veins = append(f.veins, vein{level: wk.level}) // keep ids aligned
		}
	}
	// Fine, deep vessels.
	n := 8 + r.IntN(14)
	for range n {
		u := uniform(r, f.tipR, lutLen-50)
		h := lookup(f.h, u)
		v := uniform(r, -0.75, 0.75) * h
		psi := r.NormFloat64() * 0.5
		w := uniform(r, 1.5, 3.5)
		d := uniform(r, 0.4, 1)
		vn := vein{level: 3}
		length := uniform(r, 16, 70)
		for l := 0.0; l < length; l += ds {
			psi += r.NormFloat64() * 0.08
			u -= math.Cos(psi) * ds
			v += math.Sin(psi) * ds
			if u < f.tipR || math.Abs(v) > 0.9*lookup(f.h, u) {
				break
			}
			vn.pts = append(vn.pts, veinPoint{u: float32(u), v: float32(v), w: float32(w), d: float32(d)})
		}
		if len(vn.pts) >= 2 {
			f.veins = append(f.veins, vn)
		}
	}
}
