package extract

import (
	"math"
	"slices"
)

// mcScratch holds the derivative images of maximumCurvature.
type mcScratch struct {
	fx, fy, fxx, fxy, fyy *Gray
}

// maximumCurvature is Miura's Maximum Curvature method (2007) on f (values
// in [0, 1]) restricted to mask: the curvature k = f”/(1+f'^2)^1.5 of the
// Gaussian-smoothed image is taken along the four directions 0, 90, 45 and
// -45 degrees; in every run of positive curvature along a scan line of that
// direction, the peak pixel scores (peak curvature x run length); the
// scores of all directions are summed into V. Vein centres are then joined
// along each direction with C = min(max(V[+1], V[+2]), max(V[-1], V[-2])),
// and G = max of the four C is returned. A vein is dark, so its cross
// section is a valley and its curvature positive.
func maximumCurvature(f *Gray, mask []bool, sigma float64) *Gray {
	w, h := f.W, f.H
	g, d1, d2 := gaussianKernels(sigma, 3)
	rg, rd1, rd2 := NewGray(w, h), NewGray(w, h), NewGray(w, h)
	convRows(rg, f, g)
	convRows(rd1, f, d1)
	convRows(rd2, f, d2)
	s := mcScratch{NewGray(w, h), NewGray(w, h), NewGray(w, h), NewGray(w, h), NewGray(w, h)}
	convCols(s.fx, rd1, g)
	convCols(s.fy, rg, d1)
	convCols(s.fxx, rd2, g)
	convCols(s.fxy, rd1, d1)
	convCols(s.fyy, rg, d2)

	v := NewGray(w, h)
	k := make([]float32, max(w, h)*2)
	idx := make([]int, 0, max(w, h)*2)
	const r2 = 0.70710678
	// direction: step (dx, dy); curvature from the directional derivatives.
	dirs := []struct{ dx, dy int }{{1, 0}, {0, 1}, {1, 1}, {1, -1}}
	for di, d := range dirs {
		curv := func(i int) float32 {
			var d1v, d2v float32
			switch di {
			case 0:
				d1v, d2v = s.fx.Pix[i], s.fxx.Pix[i]
			case 1:
				d1v, d2v = s.fy.Pix[i], s.fyy.Pix[i]
			case 2:
				d1v = (s.fx.Pix[i] + s.fy.Pix[i]) * r2
				d2v = (s.fxx.Pix[i] + 2*s.fxy.Pix[i] + s.fyy.Pix[i]) / 2
			case 3:
				d1v = (s.fx.Pix[i] - s.fy.Pix[i]) * r2
				d2v = (s.fxx.Pix[i] - 2*s.fxy.Pix[i] + s.fyy.Pix[i]) / 2
			}
			q := 1 + d1v*d1v
			return d2v / (q * float32(math.Sqrt(float64(q))))
		}
		forEachLine(w, h, d.dx, d.dy, func(x0, y0 int) {
			idx = idx[:0]
			for x, y := x0, y0; x >= 0 && y >= 0 && x < w && y < h; x, y = x+d.dx, y+d.dy {
				idx = append(idx, y*w+x)
			}
			kk := k[:len(idx)]
			for j, i := range idx {
				if mask[i] {
					kk[j] = curv(i)
				} else {
					kk[j] = 0
				}
			}
			scoreRuns(kk, idx, v.Pix)
		})
	}

	// Connection of centres, per direction, on V.
	out := NewGray(w, h)
	at := func(x, y int) float32 {
		if x < 0 || y < 0 || x >= w || y >= h {
			return 0
		}
		return v.Pix[y*w+x]
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var best float32
			for _, d := range dirs {
				a := max(at(x+d.dx, y+d.dy), at(x+2*d.dx, y+2*d.dy))
				b := max(at(x-d.dx, y-d.dy), at(x-2*d.dx, y-2*d.dy))
				best = max(best, min(a, b))
			}
			out.Pix[y*w+x] = best
		}
	}
	return out
}

// scoreRuns adds, for every run of positive values in k, the run's peak
// value times its length to acc at the image index of the peak.
func scoreRuns(k []float32, idx []int, acc []float32) {
	n := len(k)
	for j := 0; j < n; {
		if k[j] <= 0 {
			j++
			continue
		}
		start, peak := j, j
		for j < n && k[j] > 0 {
			if k[j] > k[peak] {
				peak = j
			}
			j++
		}
		acc[idx[peak]] += k[peak] * float32(j-start)
	}
}

// forEachLine calls fn with the start of every scan line of direction
// (dx, dy) in a w x h grid: rows for (1, 0), columns for (0, 1), and the
// diagonals for (1, 1) and (1, -1).
func forEachLine(w, h, dx, dy int, fn func(x0, y0 int)) {
	switch {
	case dy == 0:
		for y := 0; y < h; y++ {
			fn(0, y)
		}
	case dx == 0:
		for x := 0; x < w; x++ {
			fn(x, 0)
		}
	case dy > 0: // down-right diagonals start on the top row or left column
		for y := h - 1; y > 0; y-- {
			fn(0, y)
		}
		for x := 0; x < w; x++ {
			fn(x, 0)
		}
	default: // up-right diagonals start on the bottom row or left column
		for y := 0; y < h-1; y++ {
			fn(0, y)
		}
		for x := 0; x < w; x++ {
			fn(x, h-1)
		}
	}
}

// medianPositive returns the median of the positive values of g where mask
// is set, or 0 if there are none.
func medianPositive(g *Gray, mask []bool) float32 {
	vals := make([]float32, 0, len(g.Pix)/2)
	for i, v := range g.Pix {
		if v > 0 && mask[i] {
			vals = append(vals, v)
		}
	}
	if len(vals) == 0 {
		return 0
	}
	slices.Sort(vals)
	return vals[len(vals)/2]
}

// principalCurvature is the larger eigenvalue of the Hessian of the image
// smoothed at sigma, clamped at 0 and set to 0 outside the mask: large on
// dark lines of any direction (Choi et al. 2009), cheaper than Maximum
// Curvature and less sensitive to noise on broad, faint veins.
func principalCurvature(f *Gray, mask []bool, sigma float64) *Gray {
	w, h := f.W, f.H
	g, d1, d2 := gaussianKernels(sigma, 3)
	rg, rd1, rd2 := getGray(w, h, false), getGray(w, h, false), getGray(w, h, false)
	defer putGray(rg, rd1, rd2)
	convRows(rg, f, g)
	convRows(rd1, f, d1)
	convRows(rd2, f, d2)
	// The second derivatives one row at a time (the same sums as whole
	// convCols images, in the same order), consumed while in cache.
	buf := make([]float32, 3*w)
	fxx, fxy, fyy := buf[:w], buf[w:2*w], buf[2*w:]
	out := NewGray(w, h)
	for y := 0; y < h; y++ {
		convColsRow(fxx, rd2, g, y)
		convColsRow(fxy, rd1, d1, y)
		convColsRow(fyy, rg, d2, y)
		m, o := mask[y*w:(y+1)*w], out.Row(y)
		for x, ok := range m {
			if !ok {
				continue
			}
			a, b, c := fxx[x], fxy[x], fyy[x]
			d := (a - c) * (a - c)
			l := (a + c + float32(math.Sqrt(float64(d+4*b*b)))) / 2
			o[x] = max(0, l)
		}
	}
	return out
}

// darkness is how much darker than its surroundings each pixel of the
// flattened image f is (0.5 is the local mean), after a light smoothing.
func darkness(f *Gray, mask []bool, sigma float64) *Gray {
	k, _, _ := gaussianKernels(sigma, 3)
	s := separable(f, k, k, nil)
	for i := range s.Pix {
		if mask[i] {
			s.Pix[i] = max(0, 0.5-s.Pix[i])
		} else {
			s.Pix[i] = 0
		}
	}
	return s
}

// quantile returns the q-quantile of the values of g where mask is set.
func quantile(g *Gray, mask []bool, q float64) float32 {
	vals := make([]float32, 0, len(g.Pix))
	for i, v := range g.Pix {
		if mask[i] {
			vals = append(vals, v)
		}
	}
	if len(vals) == 0 {
		return 0
	}
	slices.Sort(vals)
	return vals[min(len(vals)-1, int(q*float64(len(vals))))]
}
