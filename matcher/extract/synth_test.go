package extract

import (
	"image"
	"math"
	"math/rand/v2"
)

// vein is a synthetic vein: a dark sinusoidal curve across part of the
// finger, in finger coordinates (u along the axis in [0, 1], v across in
// [-1, 1]).
type vein struct {
	v0, amp, freq, phase, u0, u1, width, depth float64
}

// fingerSpec describes a synthetic near-infrared finger image.
type fingerSpec struct {
	w, h     int     // image size
	vertical bool    // finger axis along y
	width    float64 // finger width in pixels
	angle    float64 // tilt of the axis in radians
	dy       float64 // offset of the axis from the image middle
	veins    []vein
	noise    float64
	seed     uint64
	// tip, when positive, ends the finger inside the frame: its rounded
	// tip lies at this fraction of the frame length (along the axis).
	tip float64
	// taper narrows the finger linearly towards the tip end: the width
	// there is (1 - taper) times the width at the other end.
	taper float64
}

func randomVeins(seed uint64, n int) []vein {
	r := rand.New(rand.NewPCG(seed, 7))
	vs := make([]vein, n)
	for i := range vs {
		u0 := r.Float64() * 0.3
		vs[i] = vein{
			v0:    r.Float64()*1.2 - 0.6,
			amp:   0.1 + r.Float64()*0.3,
			freq:  0.5 + r.Float64()*2,
			phase: r.Float64() * 2 * math.Pi,
			u0:    u0, u1: u0 + 0.5 + r.Float64()*0.5,
			width: 2 + r.Float64()*2.5,
			depth: 25 + r.Float64()*25,
		}
	}
	return vs
}

// draw renders the finger: a bright band with soft edges on a dark
// background, brighter in the middle, with the veins as dark Gaussian
// valleys, and noise.
func (f fingerSpec) draw() *image.Gray {
	img := image.NewGray(image.Rect(0, 0, f.w, f.h))
	r := rand.New(rand.NewPCG(f.seed, 11))
	long, across := f.w, f.h
	if f.vertical {
		long, across = f.h, f.w
	}
	cos, sin := math.Cos(f.angle), math.Sin(f.angle)
	for j := 0; j < f.h; j++ {
		for i := 0; i < f.w; i++ {
			x, y := float64(i), float64(j)
			if f.vertical {
				x, y = float64(j), float64(i)
			}
			// finger coordinates
			px, py := x-float64(long)/2, y-float64(across)/2-f.dy
			t := px*cos + py*sin
			n := -px*sin + py*cos
			u := t/float64(long) + 0.5
			half := f.width / 2 * (1 - f.taper*u)
			if f.tip > 0 {
				// Rounded tip: a half disc ending at u = tip.
				if d := t - (f.tip-0.5)*float64(long) + half; d > 0 {
					half *= math.Sqrt(max(0, 1-(d/half)*(d/half)))
				}
			}
			v := n / max(half, 1e-6)
			val := 20.0
			if math.Abs(v) < 1.15 {
				edge := 1 / (1 + math.Exp((math.Abs(v)-1)*25))
				body := 120 + 60*(1-v*v)
				val = 20 + edge*(body-20)
				for _, vn := range f.veins {
					if u < vn.u0 || u > vn.u1 {
						continue
					}
					c := vn.v0 + vn.amp*math.Sin(2*math.Pi*vn.freq*u+vn.phase)
					d := (v - c) * half / vn.width
					val -= edge * vn.depth * math.Exp(-d*d/2)
				}
			}
			val += r.NormFloat64() * f.noise
			img.Pix[j*img.Stride+i] = uint8(max(0, min(255, val)))
		}
	}
	return img
}
