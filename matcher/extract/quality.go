package extract

import (
	"math"

	"github.com/qingshan-gov/veinkiosk/matcher"
)

// Metrics are the measurements behind the quality score.
type Metrics struct {
	// Coverage is the fraction of the imaged frame, as mapped into the
	// template, that is valid finger (mask).
	Coverage float64 `json:"coverage"`
	// EdgeContrast is the mean step in grey levels at the finger edges
	// (raw images only; 0 when cropped).
	EdgeContrast float64 `json:"edge_contrast"`
	// VeinContrast is the mean curvature response on vein pixels relative
	// to the whole mask: how much the veins stand out.
	VeinContrast float64 `json:"vein_contrast"`
	// Density is the fraction of mask pixels that are vein.
	Density float64 `json:"density"`
	// Sharpness is the fine-detail energy of the normalised image relative
	// to its overall spread (low when blurred, high with sensor noise);
	// reported, not scored: its relation to matching differs by sensor.
	Sharpness float64 `json:"sharpness"`
	// Brightness is the mean grey level of the finger and Saturated the
	// fraction of its pixels at 250 or above.
	Brightness float64 `json:"brightness"`
	Saturated  float64 `json:"saturated"`
	// LocalContrast is the mean local standard deviation of the finger's
	// grey levels (veins and noise) after the illumination is removed.
	LocalContrast float64 `json:"local_contrast"`
	// Tilt is the absolute angle of the finger axis in degrees.
	Tilt float64 `json:"tilt"`
	// cropped records whether edge contrast is meaningful.
	cropped bool
}

// measure computes the quality metrics from the pipeline's intermediate
// images.
func measure(norm *Gray, emask []bool, gm *Gray, vein, mask *matcher.Pattern, r *Region, inFrame int, cropped bool) Metrics {
	m := Metrics{cropped: cropped}
	mc := mask.Count()
	if inFrame > 0 {
		n := 0
		for _, ok := range emask {
			if ok {
				n++
			}
		}
		m.Coverage = float64(n) / float64(inFrame)
	}
	if mc > 0 {
		m.Density = float64(vein.Count()) / float64(mc)
	}
	if !cropped {
		m.EdgeContrast = r.Contrast
	}
	m.Tilt = math.Abs(math.Atan(r.B)) * 180 / math.Pi

	var sAll, sVein float64
	var nAll, nVein int
	var mean, sq float64
	var detail float64
	w := norm.W
	for y := 1; y < norm.H-1; y++ {
		for x := 1; x < w-1; x++ {
			i := y*w + x
			if !emask[i] {
				continue
			}
			v := float64(norm.Pix[i])
			mean += v
			sq += v * v
			lap := 4*norm.Pix[i] - norm.Pix[i-1] - norm.Pix[i+1] - norm.Pix[i-w] - norm.Pix[i+w]
			detail += math.Abs(float64(lap))
			sAll += float64(gm.Pix[i])
			nAll++
			if vein.At(x/(w/vein.W), y/(norm.H/vein.H)) {
				sVein += float64(gm.Pix[i])
				nVein++
			}
		}
	}
	if nAll > 0 {
		mean /= float64(nAll)
		sd := math.Sqrt(max(0, sq/float64(nAll)-mean*mean))
		if sd > 0 {
			m.Sharpness = detail / float64(nAll) / sd
		}
		if nVein > 0 && sAll > 0 {
			m.VeinContrast = (sVein / float64(nVein)) / (sAll / float64(nAll))
		}
	}
	return m
}

// Score maps the metrics to 0-100. The factors and their limits were chosen
// on real captures (docs/matcher.md): how visible the veins are (local
// contrast on a log scale, and how strongly the detected veins stand out of
// the rest of the finger), scaled down when the finger covers little of the
// imaged frame, is tilted, has almost no vein pixels or barely stands out
// from the background.
func (m Metrics) Score() int {
	vis := 0.5*ramp(math.Log(max(m.LocalContrast, 1e-3)), math.Log(2.5), math.Log(18)) +
		0.5*ramp(m.VeinContrast, 2.4, 3.0)
	q := vis * ramp(m.Coverage, 0.3, 0.6) * (1 - ramp(m.Tilt, 4, 20)) * ramp(m.Density, 0.03, 0.08)
	if !m.cropped {
		q *= ramp(m.EdgeContrast, 3, 12)
	}
	if math.IsNaN(q) {
		return 0
	}
	return int(math.Round(100 * q))
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
