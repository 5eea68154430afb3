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
	// Left and Right bound the finger along its axis: columns outside are
	// background (beyond the finger tip, or an empty end of the image).
	Left, Right float32
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
// finger below) and smallest at the lower edge. Edges are then median
// filtered along x, which removes isolated mistakes.
func leeEdges(g *Gray, smoothX float64, d int, near bool) (*Region, error) {
	k, _, _ := gaussianKernels(smoothX, 2.5)
	s := NewGray(g.W, g.H)
	convRows(s, g, k)
	w, h := g.W, g.H
	up := make([]float32, w)
	lo := make([]float32, w)
	upResp := make([]float32, w)
	loResp := make([]float32, w)
	// Where to search: near the ends of the finger's foreground run in
	// every column (fingerRuns), so that a vein or the edge of a
	// neighbouring finger across a dark gap is not taken for the finger's;
	// columns without a run (beyond the tip) search the halves above and
	// below the centre.
	// Only where the background is clearly dark: in a finger that fills
	// the image, the foreground split is the finger's own shading, and
	// the fixed halves (Lee) are kept.
	thr := otsu(s)
	runs := make([]int, w)
	var top, bot []int
	cy := h / 2
	if near && darkFrame(s, thr) {
		top, bot, runs = fingerRuns(s, thr)
		if c := centreRow(top, bot, runs); c >= 0 {
			cy = c
		}
	}
	m := max(3, h/16)
	// A run much longer than the median one has merged with a touching
	// neighbour or shading: that column searches its whole half.
	longRun := h
	if rs := slices.DeleteFunc(slices.Clone(runs), func(r int) bool { return r == 0 }); len(rs) > 0 {
		slices.Sort(rs)
		longRun = rs[len(rs)/2] * 5 / 4
	}
	at := func(x, y int) float32 { return s.Pix[min(max(y, 0), h-1)*w+x] }
	for x := 0; x < w; x++ {
		bestUp, bestLo := float32(math.Inf(-1)), float32(math.Inf(1))
		bu, bl := 0, h-1
		mid := cy
		ua, ub, la, lb := 1, cy, cy, h-1
		if runs[x] > 0 && runs[x] <= longRun {
			mid = (top[x] + bot[x] + 1) / 2
			ua, ub = max(1, top[x]-m), min(mid, top[x]+m+1)
			la, lb = max(mid, bot[x]-m), min(h-1, bot[x]+m+1)
		}
		for y := 1; y < h-1; y++ {
			if (y < ua || y >= ub) && (y < la || y >= lb) {
				continue
			}
			var a, b float32
			for i := 1; i <= d; i++ {
				a += at(x, y-i)
				b += at(x, y+i)
			}
			diff := (b - a) / float32(d)
			if y < mid && y >= ua && y < ub {
				if diff > bestUp {
					bestUp, bu = diff, y
				}
			} else if y >= la && y < lb && diff < bestLo {
				bestLo, bl = diff, y
			}
		}
		up[x], lo[x] = float32(bu), float32(bl)
		upResp[x], loResp[x] = bestUp, -bestLo
	}
	// An edge step much weaker than the strongest ones is a vein or
	// shading, not the finger boundary: there the finger reaches past the
	// image border. Such columns take the border (or, if most columns have
	// an edge, the interpolation of their neighbours).
	ref := max(p90(upResp), p90(loResp))
	fixWeak(up, upResp, ref/3, 0)
	fixWeak(lo, loResp, ref/3, float32(h-1))
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
	r.Left, r.Right = fingerEnds(g, r)
	return r, nil
}

// centreRow is the median middle row of the columns that have a run, or -1.
func centreRow(top, bot, runs []int) int {
	var mids []int
	for x, r := range runs {
		if r > 0 {
			mids = append(mids, (top[x]+bot[x]+1)/2)
		}
	}
	if len(mids) == 0 {
		return -1
	}
	slices.Sort(mids)
	return mids[len(mids)/2]
}

// fingerEnds finds where the finger stops along its axis (the tip, or the
// end of the finger in the picture): the mean grey level of each column
// between the edges is compared with the finger's level (90th percentile) and the
// darkest level of the image; columns at either end below 35 % of the way from
// the dark level to the finger level are background. Without a clear contrast the whole length is
// finger.
func fingerEnds(g *Gray, r *Region) (left, right float32) {
	w := g.W
	prof := make([]float32, w)
	var dark float32 = 255
	for x := 0; x < w; x++ {
		a := int(r.Upper[x]+0.5) + int(0.15*r.Width)
		b := int(r.Lower[x]+0.5) - int(0.15*r.Width)
		a, b = max(0, a), min(g.H-1, b)
		if b < a {
			a, b = min(max(int(r.A), 0), g.H-1), min(max(int(r.A), 0), g.H-1)
		}
		var s float32
		for y := a; y <= b; y++ {
			v := g.Pix[y*w+x]
			s += v
			dark = min(dark, v)
		}
		prof[x] = s / float32(b-a+1)
	}
	sorted := slices.Clone(prof)
	slices.Sort(sorted)
	finger := sorted[len(sorted)*9/10]
	left, right = 0, float32(w-1)
	if finger-dark < 20 {
		return left, right
	}
	cut := dark + (finger-dark)*0.35
	for x := 0; x < w && prof[x] < cut; x++ {
		left = float32(x + 1)
	}
	for x := w - 1; x >= 0 && prof[x] < cut; x-- {
		right = float32(x - 1)
	}
	return left, right
}

func p90(v []float32) float32 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)*9/10]
}

// fixWeak replaces the edges whose response is under thr (a third of the
// strongest edge responses of the image): by linear interpolation between
// strong neighbours when at least a third of the columns are strong, else
// by the border.
func fixWeak(edge, resp []float32, thr, border float32) {
	strong := 0
	for _, r := range resp {
		if r >= thr {
			strong++
		}
	}
	if thr <= 0 || strong < len(resp)/3 {
		for i := range edge {
			edge[i] = border
		}
		return
	}
	prev := -1
	for i := 0; i <= len(edge); i++ {
		if i < len(edge) && resp[i] < thr {
			continue
		}
		// columns prev+1 .. i-1 are weak
		for j := prev + 1; j < i; j++ {
			switch {
			case prev < 0 && i < len(edge):
				edge[j] = edge[i]
			case prev >= 0 && i >= len(edge):
				edge[j] = edge[prev]
			case prev >= 0:
				t := float32(j-prev) / float32(i-prev)
				edge[j] = edge[prev]*(1-t) + edge[i]*t
			default:
				edge[j] = border
			}
		}
		prev = i
	}
}

// croppedRegion is the region of an image already cropped to the finger:
// the whole height, with a horizontal midline.
func croppedRegion(w, h int) *Region {
	r := &Region{Upper: make([]float32, w), Lower: make([]float32, w)}
	for x := range r.Lower {
		r.Lower[x] = float32(h - 1)
	}
	r.A, r.Width = float64(h-1)/2, float64(h-1)
	r.Left, r.Right = 0, float32(w-1)
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
	// One robust pass: refit without the columns whose midpoint lies far
	// from the line (a neighbouring finger or a misplaced edge).
	res := make([]float64, 0, x1-x0)
	for x := x0; x < x1; x++ {
		res = append(res, math.Abs(float64(r.Upper[x]+r.Lower[x])/2-r.A-r.B*float64(x)))
	}
	sr := slices.Clone(res)
	slices.Sort(sr)
	lim := max(2, 3*sr[len(sr)/2])
	sx, sy, sxx, sxy, n = 0, 0, 0, 0, 0
	for x := x0; x < x1; x++ {
		if res[x-x0] > lim {
			continue
		}
		m := float64(r.Upper[x]+r.Lower[x]) / 2
		fx := float64(x)
		sx += fx
		sy += m
		sxx += fx * fx
		sxy += fx * m
		n++
	}
	if den := n*sxx - sx*sx; n >= 2 && den != 0 {
		r.B = (n*sxy - sx*sy) / den
		r.A = (sy - r.B*sx) / n
	}
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
