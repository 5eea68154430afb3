package extract

import (
	"math"
	"slices"
)

// Placement: where the finger lies in the input frame, found from the
// image content before the finger region is traced. A kiosk sees fingers
// placed every way: along either image axis, pointing either way, anywhere
// in a frame larger than the finger, beside a neighbouring finger.
//
// On a small copy of the image the finger is the bright foreground (Otsu's
// threshold). Its axis is the principal axis of the bright pixels; the
// finger itself is the band of bright runs through the brightest row band
// (a neighbouring finger, separated by a dark gap, is another run and is left
// out); its tip is the end that stops inside the frame (background beyond it)
// while the other end leaves the frame, or, when both or neither do, the
// narrower end (fingers taper towards the tip). The image is then turned by
// quarter turns so that the finger runs along x with its tip on the right
// (the orientation of most scanners' ROI images), and cropped to the finger
// with a margin, so that the rest of the pipeline sees the finger at the
// same scale wherever it was in the frame.

// placeSide is the longest side of the image placement is decided on.
const placeSide = 160

// taperMin is the least relative difference of width between the two ends
// of the finger that decides which end is the tip when the frame does not.
const taperMin = 0.06

// placement is the outcome of locate.
type placement struct {
	// turns is the number of quarter turns counter-clockwise that bring
	// the finger axis along x with the tip on the right.
	turns int
	// x0, y0, x1, y1 is the finger's box with margin in the turned
	// full-resolution image, [x0, x1) x [y0, y1).
	x0, y0, x1, y1 int
	// found is false when no finger band stands out (the box is then the
	// whole frame).
	found bool
	// tipCue says how the direction was decided: "frame", "taper" or ""
	// (undecided: the input direction is kept).
	tipCue string
}

// rotate returns g turned by turns quarter turns counter-clockwise.
func rotate(g *Gray, turns int) *Gray {
	turns &= 3
	if turns == 0 {
		return g
	}
	w, h := g.W, g.H
	var out *Gray
	switch turns {
	case 1: // out(x, y) = in(w-1-y, x)
		out = NewGray(h, w)
		for y := 0; y < out.H; y++ {
			row := out.Row(y)
			for x := range row {
				row[x] = g.Pix[x*w+w-1-y]
			}
		}
	case 2: // out(x, y) = in(w-1-x, h-1-y)
		out = NewGray(w, h)
		n := len(g.Pix)
		for i, v := range g.Pix {
			out.Pix[n-1-i] = v
		}
	case 3: // out(x, y) = in(y, h-1-x)
		out = NewGray(h, w)
		for y := 0; y < out.H; y++ {
			row := out.Row(y)
			for x := range row {
				row[x] = g.Pix[(h-1-x)*w+y]
			}
		}
	}
	return out
}

// crop returns the part [x0, x1) x [y0, y1) of g (a copy).
func crop(g *Gray, x0, y0, x1, y1 int) *Gray {
	if x0 == 0 && y0 == 0 && x1 == g.W && y1 == g.H {
		return g
	}
	out := NewGray(x1-x0, y1-y0)
	for y := y0; y < y1; y++ {
		copy(out.Row(y-y0), g.Pix[y*g.W+x0:y*g.W+x1])
	}
	return out
}

// otsu returns the threshold that best separates the values of g into two
// classes (Otsu 1979), over a 256-bin histogram of [0, 255].
func otsu(g *Gray) float32 {
	var hist [256]float64
	for _, v := range g.Pix {
		hist[int(max(0, min(255, v)))]++
	}
	n := float64(len(g.Pix))
	var sum float64
	for i, c := range hist {
		sum += float64(i) * c
	}
	var wb, sb, best float64
	t := 0
	for i, c := range hist {
		wb += c
		if wb == 0 {
			continue
		}
		wf := n - wb
		if wf == 0 {
			break
		}
		sb += float64(i) * c
		mb, mf := sb/wb, (sum-sb)/wf
		if v := wb * wf * (mb - mf) * (mb - mf); v > best {
			best, t = v, i
		}
	}
	return float32(t) + 0.5
}

// fingerRuns finds the finger in every column of g (finger axis along x):
// the run of foreground pixels through the finger's centre row. Foreground is brighter than a
// level a third of the way from the background's mean to thr (Otsu's
// threshold), so dark veins inside the finger do not cut it, and gaps of a
// few pixels are bridged; the dark gap to a neighbouring finger is wider.
// Of the bands of foreground across the image, the finger is the one of
// largest area.
// Columns without foreground at the centre row have runs[x] = 0.
func fingerRuns(g *Gray, thr float32) (top, bot, runs []int) {
	var bg, nb float64
	for _, v := range g.Pix {
		if v <= thr {
			bg += float64(v)
			nb++
		}
	}
	low := thr
	if nb > 0 {
		bg /= nb
		low = float32(bg + (float64(thr)-bg)/3)
	}
	gap := max(1, g.H/40)
	fg := func(x, y int) bool { return g.Pix[y*g.W+x] > low }
	// through fills the runs through row cy and returns their total length
	// (the area of the foreground band through cy).
	through := func(cy int, top, bot, runs []int) (area int) {
		for x := 0; x < g.W; x++ {
			top[x], bot[x], runs[x] = -1, -1, 0
			if !fg(x, cy) {
				continue
			}
			t, dark := cy, 0
			for y := cy - 1; y >= 0 && dark <= gap; y-- {
				if fg(x, y) {
					t, dark = y, 0
				} else {
					dark++
				}
			}
			b := cy
			dark = 0
			for y := cy + 1; y < g.H && dark <= gap; y++ {
				if fg(x, y) {
					b, dark = y, 0
				} else {
					dark++
				}
			}
			top[x], bot[x], runs[x] = t, b, b-t+1
			area += b - t + 1
		}
		return area
	}
	// The finger is the band of largest area (a neighbouring finger shows
	// only in part); candidate centre rows every sixteenth of the height.
	top, bot, runs = make([]int, g.W), make([]int, g.W), make([]int, g.W)
	t2, b2, r2 := make([]int, g.W), make([]int, g.W), make([]int, g.W)
	best := -1
	step := max(1, g.H/16)
	for cy := step / 2; cy < g.H; cy += step {
		if a := through(cy, t2, b2, r2); a > best {
			best = a
			copy(top, t2)
			copy(bot, b2)
			copy(runs, r2)
		}
	}
	return top, bot, runs
}

// locate finds the finger's axis and its box in g. o fixes the axis when it
// is not Auto. The direction along the axis is decided later, on the
// traced region (tipOnLeft).
//
// The axis is the direction of the strongest edges: a finger's long edges
// run along it, so the gradient energy across the axis dominates; when
// neither direction dominates by three times, the long side of the frame is
// taken, as before placement was found from content. The box is the
// finger's band of foreground (fingerRuns) with a margin of a quarter of
// its width, but only where the background is clearly darker than the
// finger, the box covers at most half of the frame and almost nothing
// bright lies outside it (5 %: no neighbouring finger); otherwise
// the whole frame is kept, so that images of a finger filling the frame
// are processed as they were.
func locate(g *Gray, o Orientation) placement {
	s := min(1, placeSide/float64(max(g.W, g.H)))
	sw, sh := max(8, int(math.Round(float64(g.W)*s))), max(8, int(math.Round(float64(g.H)*s)))
	sm := resizeArea(g, sw, sh)
	auto := o == Auto || o == Any
	vertical := o == Vertical || (auto && g.H > g.W)
	if auto {
		var sxx, syy float64
		for y := 1; y < sm.H-1; y++ {
			for x := 1; x < sm.W-1; x++ {
				i := y*sm.W + x
				gx := float64(sm.Pix[i+1] - sm.Pix[i-1])
				gy := float64(sm.Pix[i+sm.W] - sm.Pix[i-sm.W])
				sxx += gx * gx
				syy += gy * gy
			}
		}
		switch {
		case syy > axisDominance*sxx:
			vertical = false
		case sxx > axisDominance*syy:
			vertical = true
		}
	}
	p := placement{x1: g.W, y1: g.H}
	if vertical {
		p.turns, p.x1, p.y1 = 3, g.H, g.W
		sm = rotate(sm, 3)
	}
	if lo, hi := spread(sm); hi-lo < MinContrast {
		return p
	}
	thr := otsu(sm)
	if !darkFrame(sm, thr) {
		return p // no clearly dark background: the finger fills the frame
	}
	top, bot, runs := fingerRuns(sm, thr)
	var lens []int
	for _, r := range runs {
		if r > 0 {
			lens = append(lens, r)
		}
	}
	if len(lens) < sm.W/5 {
		return p
	}
	slices.Sort(lens)
	med := lens[len(lens)/2]
	// The finger's extent along the axis: the first to the last column
	// whose run is at least a third of the median run.
	bl, br := -1, -1
	for x := 0; x < sm.W; x++ {
		if runs[x]*3 >= med {
			if bl < 0 {
				bl = x
			}
			br = x
		}
	}
	if br < 0 {
		return p
	}
	y0, y1 := sm.H, 0
	for x := bl; x <= br; x++ {
		if runs[x] > 0 {
			y0, y1 = min(y0, top[x]), max(y1, bot[x]+1)
		}
	}
	m := float64(med) / 4
	bx0, bx1 := float64(bl)-m, float64(br+1)+m
	by0, by1 := float64(y0)-m, float64(y1)+m
	if (min(bx1, float64(sm.W))-max(bx0, 0))*(min(by1, float64(sm.H))-max(by0, 0)) > cropBelow*float64(sm.W*sm.H) {
		return p // the finger fills much of the frame: keep it whole
	}
	// Everything outside the box must be background: a box that leaves
	// part of the finger out (a dark stretch of the finger cut the runs)
	// is not trusted.
	var out, outFg int
	for y := 0; y < sm.H; y++ {
		for x := 0; x < sm.W; x++ {
			if fx, fy := float64(x)+0.5, float64(y)+0.5; fx >= bx0 && fx < bx1 && fy >= by0 && fy < by1 {
				continue
			}
			out++
			if sm.Pix[y*sm.W+x] > thr {
				outFg++
			}
		}
	}
	if outFg*outsideFg > out {
		return p
	}
	kx, ky := float64(p.x1)/float64(sm.W), float64(p.y1)/float64(sm.H)
	p.x0, p.x1 = max(0, int(math.Floor(bx0*kx))), min(p.x1, int(math.Ceil(bx1*kx)))
	p.y0, p.y1 = max(0, int(math.Floor(by0*ky))), min(p.y1, int(math.Ceil(by1*ky)))
	p.found = true
	return p
}

// darkFrame says whether the pixels under Otsu's threshold thr are a
// clearly dark background (mean at most darkBackground of the mean above).
func darkFrame(g *Gray, thr float32) bool {
	var fgm, bgm, nf, nb float64
	for _, v := range g.Pix {
		if v > thr {
			fgm += float64(v)
			nf++
		} else {
			bgm += float64(v)
			nb++
		}
	}
	return nf > 0 && nb > 0 && bgm/nb <= darkBackground*fgm/nf
}

// Placement constants (see locate).
const (
	axisDominance  = 3    // gradient energy ratio that decides the axis
	darkBackground = 0.45 // background mean at most this fraction of the finger's
	cropBelow      = 0.5  // crop only when the box covers less of the frame
	outsideFg      = 20   // and less than 1/outsideFg of the rest is foreground
)

// tipOnLeft says whether the finger traced in the working image g (axis
// along x) has its tip on the left, and what decided it: "frame" when one
// end of the finger stops inside the image (background beyond it) and the
// other leaves it, "taper" when both stop inside and the left end is
// clearly narrower (a rounded tip against a cut base), "" when nothing
// decides (the direction of the input is then kept).
//
// leftFrame and rightFrame say whether the image's left and right borders
// are the borders of the input frame; a border made by cropping to the
// finger is background beyond the finger, so an end there is open.
func tipOnLeft(g *Gray, r *Region, leftFrame, rightFrame bool) (bool, string) {
	// An end is open when a clear stretch of background (a sixth of the
	// finger width) lies beyond it, closed when it reaches the border.
	edge, gap := float32(max(1, g.W/50)), float32(r.Width/6)
	lg, rg := r.Left, float32(g.W-1)-r.Right
	if !leftFrame {
		lg = max(lg, gap+1)
	}
	if !rightFrame {
		rg = max(rg, gap+1)
	}
	switch {
	case lg > gap && rg <= edge:
		return true, "frame"
	case rg > gap && lg <= edge:
		return false, "frame"
	case lg <= gap || rg <= gap:
		return false, ""
	}
	// Both ends inside the frame: the tip is rounded, so the finger is
	// narrower near it than near the cut base.
	width := func(a, b float64) float64 {
		var ws []float32
		for x := max(0, int(a)); x <= min(len(r.Upper)-1, int(b)); x++ {
			ws = append(ws, r.Lower[x]-r.Upper[x])
		}
		if len(ws) == 0 {
			return 0
		}
		slices.Sort(ws)
		return float64(ws[len(ws)/2])
	}
	w := r.Width
	wl := width(float64(r.Left)+0.1*w, float64(r.Left)+0.3*w)
	wr := width(float64(r.Right)-0.3*w, float64(r.Right)-0.1*w)
	switch {
	case wl < wr*(1-taperMin):
		return true, "taper"
	case wr < wl*(1-taperMin):
		return false, "taper"
	}
	return false, ""
}
