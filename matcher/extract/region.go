package extract

import (
	"fmt"
	"math"
	"slices"
)

// Region is the finger found in a working image whose finger axis runs
// along x: the upper and lower edge row of every column, and the straight
// midline y = A + B*x fitted through the edge midpoints (Huang).
type Region struct {
	Upper, Lower []float32
	A, B         float64
	// Width is the median finger width in working pixels.
	Width float64
	// Contrast is the mean of the edge responses, in grey levels: how
	// clearly the finger stands out of the background (0 for pre-cropped
	// images).
	Contrast float64
}

// leeEdges finds the finger edges as Lee et al. do: the image is smoothed
// along the finger axis (the long side of Lee's 4 x 40 mask), then in every
// column the difference between the mean of the d rows below and the d rows
// above a pixel is largest at the upper edge (dark background above, bright
// finger below) and smallest at the lower edge. The upper edge is searched
// in the top half, the lower one in the bottom half. Edges are then median
// filtered along x, which removes isolated mistakes.
func leeEdges(g *Gray, smoothX float64, d int) (*Region, error) {
	k, _, _ := gaussianKernels(smoothX, 2.5)
	s := NewGray(g.W, g.H)
	convRows(s, g, k)
	w, h := g.W, g.H
	up := make([]float32, w)
	lo := make([]float32, w)
	upResp := make([]float32, w)
	loResp := make([]float32, w)
	margin := d
	mid := h / 2
	for x := 0; x < w; x++ {
		bestUp, bestLo := float32(math.Inf(-1)), float32(math.Inf(1))
		bu, bl := margin, h-1-margin
		for y := margin; y < h-margin; y++ {
			var a, b float32
			for i := 1; i <= d; i++ {
				a += s.Pix[(y-i)*w+x]
				b += s.Pix[(y+i)*w+x]
			}
			diff := (b - a) / float32(d)
			if y < mid {
				if diff > bestUp {
					bestUp, bu = diff, y
				}
			} else if diff < bestLo {
				bestLo, bl = diff, y
			}
		}
		up[x], lo[x] = float32(bu), float32(bl)
		upResp[x], loResp[x] = bestUp, -bestLo
	}
	win := max(3, w/24|1)
	up = medianFilter(up, win)
	lo = medianFilter(lo, win)
	r := &Region{Upper: up, Lower: lo}
	var c float64
	for x := range upResp {
		c += float64(upResp[x]+loResp[x]) / 2
	}
	r.Contrast = c / float64(w)
	if err := r.fit(); err != nil {
		return nil, err
	}
	return r, nil
}

// croppedRegion is the region of an image already cropped to the finger:
// the whole height, with a horizontal midline.
func croppedRegion(w, h int) *Region {
	r := &Region{Upper: make([]float32, w), Lower: make([]float32, w)}
	for x := range r.Lower {
		r.Lower[x] = float32(h - 1)
	}
	r.A, r.Width = float64(h-1)/2, float64(h-1)
	return r
}

// fit computes the midline by least squares over the central 80 % of the
// columns (the ends are where edges are least reliable) and the median width.
func (r *Region) fit() error {
	w := len(r.Upper)
	x0, x1 := w/10, w-w/10
	var sx, sy, sxx, sxy, n float64
	widths := make([]float32, 0, w)
	for x := x0; x < x1; x++ {
		m := float64(r.Upper[x]+r.Lower[x]) / 2
		fx := float64(x)
		sx += fx
		sy += m
		sxx += fx * fx
		sxy += fx * m
		n++
		widths = append(widths, r.Lower[x]-r.Upper[x])
	}
	den := n*sxx - sx*sx
	if n < 2 || den == 0 {
		return fmt.Errorf("%w: image too narrow", ErrNoFinger)
	}
	r.B = (n*sxy - sx*sy) / den
	r.A = (sy - r.B*sx) / n
	slices.Sort(widths)
	r.Width = float64(widths[len(widths)/2])
	return nil
}

// medianFilter returns v filtered by a running median of odd window win,
// shrinking the window at the ends.
func medianFilter(v []float32, win int) []float32 {
	out := make([]float32, len(v))
	buf := make([]float32, 0, win)
	r := win / 2
	for i := range v {
		a, b := max(0, i-r), min(len(v), i+r+1)
		buf = append(buf[:0], v[a:b]...)
		slices.Sort(buf)
		out[i] = buf[len(buf)/2]
	}
	return out
}
