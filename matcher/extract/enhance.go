package extract

import "math"

// flatten removes the slowly varying illumination of the finger and
// equalises local contrast: inside the mask, each pixel becomes its
// difference from the local mean divided by the local standard deviation,
// both taken with a Gaussian window of the given sigma and normalised by
// the mask (so the dark background does not bleed in at the edges). The
// result is mapped from [-clip, clip] standard deviations to [0, 1]. This
// is a smooth form of local histogram equalisation (CLAHE) that keeps the
// grey-level order, which the curvature needs.
//
// It returns the mean local standard deviation over the mask, in grey
// levels: how much texture (veins, and noise) the finger shows.
func flatten(g *Gray, mask []bool, sigma, clip float64) (localSD float64) {
	return flattenTo(g, mask, sigma, clip, true)
}

// flattenTo is flatten; it leaves g unchanged when write is false (only the
// mean local deviation is wanted).
func flattenTo(g *Gray, mask []bool, sigma, clip float64, write bool) (localSD float64) {
	w, h := g.W, g.H
	m := getGray(w, h, true)
	gm := getGray(w, h, true)
	for i, ok := range mask {
		if ok {
			m.Pix[i] = 1
			gm.Pix[i] = g.Pix[i]
		}
	}
	bm := boxBlur3(m, sigma)
	bg := boxBlur3(gm, sigma)
	d := getGray(w, h, false) // read only where written below
	for i := range d.Pix {
		if mask[i] && bm.Pix[i] > 1e-3 {
			v := g.Pix[i] - bg.Pix[i]/bm.Pix[i]
			d.Pix[i] = v
			gm.Pix[i] = v * v
		} else {
			gm.Pix[i] = 0
		}
	}
	bv := boxBlur3(gm, sigma)
	defer putGray(m, gm, d, bm, bg, bv)
	scale := float32(0.5 / clip)
	var sum float64
	var n int
	for i := range g.Pix {
		if !mask[i] || bm.Pix[i] <= 1e-3 {
			if write {
				g.Pix[i] = 0.5
			}
			continue
		}
		sd := float32(math.Sqrt(float64(bv.Pix[i]/bm.Pix[i]))) + 1e-3
		sum += float64(sd)
		n++
		if write {
			g.Pix[i] = max(0, min(1, 0.5+d.Pix[i]/sd*scale))
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// QualitySigma is the window (extraction pixels) of the local contrast
// quality metric; it is fixed so the metric does not move with Flatten.
const QualitySigma = 12

// localDeviation returns the mean over the mask of the local standard
// deviation of g around its local mean (Gaussian window sigma, masked), in
// grey levels, without changing g.
func localDeviation(g *Gray, mask []bool, sigma float64) float64 {
	return flattenTo(g, mask, sigma, 1, false)
}
