package veinscan

import (
	"image"
	"math"
)

// QualityMetrics are the inputs of the driver's capture-quality score, a
// device-side measure of whether an image is worth sending to the matcher.
// (Programs that link the matcher should use its quality function through
// Options.Quality; veinctl does.) The finger region is the part brighter
// than Otsu's threshold.
//
//   - Coverage: fraction of the frame the finger covers. Full marks from
//     0.45, nothing below 0.15 (a finger pushed only half in).
//   - Mean (exposure): mean grey level of the finger; full marks in 70..190,
//     nothing below 25 or above 235.
//   - Saturation: fraction of finger pixels at >= 250; full marks up to 1 %,
//     nothing from 15 %.
//   - Contrast: (finger mean - background mean) / finger mean: is there a
//     lit finger at all. Full marks from 0.6, nothing below 0.35 (no finger:
//     the threshold only splits noise).
//   - Sharpness: the RMS of a band-pass (3x3 mean minus 13x13 mean) over the
//     finger interior (pixels whose 17x17 and 25x25 means are above the
//     midpoint of threshold and finger mean), relative to the finger mean: the contrast at vein
//     scale, which motion and defocus blur wash out. Full marks from 0.06,
//     nothing below 0.03.
//
// Score is 100 times the product of the five factors, so one bad aspect is
// enough to ask for another capture. The limits were set on simulated
// captures (fingerimg normal versus moved, dark, saturated, partial and
// absent; docs/scanner-protocol.md, "Capture quality").
type QualityMetrics struct {
	Coverage   float64 `json:"coverage"`
	Mean       float64 `json:"mean"`
	Saturation float64 `json:"saturation"`
	Contrast   float64 `json:"contrast"`
	Sharpness  float64 `json:"sharpness"`
	Score      int     `json:"score"`
}

// AssessQuality computes QualityMetrics of img.
func AssessQuality(img *image.Gray) QualityMetrics {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	var q QualityMetrics
	if w < 32 || h < 32 {
		return q
	}
	var hist [256]int
	for y := 0; y < h; y++ {
		for _, v := range img.Pix[y*img.Stride : y*img.Stride+w] {
			hist[v]++
		}
	}
	t := otsu(&hist)
	ii := make([]float64, (w+1)*(h+1)) // integral image
	for y := 0; y < h; y++ {
		var row float64
		for x, v := range img.Pix[y*img.Stride : y*img.Stride+w] {
			row += float64(v)
			ii[(y+1)*(w+1)+x+1] = ii[y*(w+1)+x+1] + row
		}
	}
	box := func(x, y, r int) float64 {
		x0, y0, x1, y1 := max(0, x-r), max(0, y-r), min(w, x+r+1), min(h, y+r+1)
		s := ii[y1*(w+1)+x1] - ii[y0*(w+1)+x1] - ii[y1*(w+1)+x0] + ii[y0*(w+1)+x0]
		return s / float64((x1-x0)*(y1-y0))
	}
	var nF, nB, sat int
	var sumF, sumB float64
	for y := 0; y < h; y++ {
		for _, v := range img.Pix[y*img.Stride : y*img.Stride+w] {
			if int(v) <= t {
				nB++
				sumB += float64(v)
				continue
			}
			nF++
			sumF += float64(v)
			if v >= 250 {
				sat++
			}
		}
	}
	// interior: 17x17 and 25x25 neighbourhoods well inside the finger
	var bp2, sumI float64
	var inner int
	if nF > 0 {
		thrI := (float64(t) + sumF/float64(nF)) / 2
		for y := 12; y < h-12; y++ {
			for x := 12; x < w-12; x++ {
				if box(x, y, 8) <= thrI || box(x, y, 12) <= thrI {
					continue
				}
				m := box(x, y, 6)
				d := box(x, y, 1) - m
				bp2 += d * d
				sumI += m
				inner++
			}
		}
	}
	q.Coverage = float64(nF) / float64(w*h)
	if nF == 0 {
		return q
	}
	q.Mean = sumF / float64(nF)
	q.Saturation = float64(sat) / float64(nF)
	meanB := 0.0
	if nB > 0 {
		meanB = sumB / float64(nB)
	}
	q.Contrast = (q.Mean - meanB) / math.Max(q.Mean, 1)
	if inner > 0 && sumI > 0 {
		q.Sharpness = math.Sqrt(bp2/float64(inner)) / (sumI / float64(inner))
	}
	s := ramp(q.Coverage, 0.15, 0.45) *
		ramp(q.Mean, 25, 70) * (1 - ramp(q.Mean, 190, 235)) *
		(1 - ramp(q.Saturation, 0.01, 0.15)) *
		ramp(q.Contrast, 0.35, 0.6) *
		ramp(q.Sharpness, 0.03, 0.06)
	if !math.IsNaN(s) {
		q.Score = int(math.Round(100 * s))
	}
	return q
}

// ramp is 0 below lo, 1 above hi and linear between.
func ramp(v, lo, hi float64) float64 {
	switch {
	case v <= lo:
		return 0
	case v >= hi:
		return 1
	}
	return (v - lo) / (hi - lo)
}
