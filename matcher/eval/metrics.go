package eval

import (
	"math"
	"slices"

	"github.com/qingshan-gov/veinkiosk/matcher/calib"
)

// Scores are the genuine and impostor comparison scores of an evaluation;
// higher means more similar.
type Scores struct {
	Genuine, Impostor []float64
	// GenuineFailed are genuine comparisons the protocol asked for that
	// could not be made because an image failed to extract: rejections at
	// every threshold (ISO/IEC 19795-1 counts them in FNMR).
	GenuineFailed int
}

// sorted returns sorted copies.
func (s Scores) sorted() (g, im []float64) {
	g = slices.Clone(s.Genuine)
	im = slices.Clone(s.Impostor)
	slices.Sort(g)
	slices.Sort(im)
	return g, im
}

// FMR is the fraction of impostor scores >= t; FNMR the fraction of genuine
// scores < t (sorted inputs).
func fmrAt(im []float64, t float64) float64 {
	if len(im) == 0 {
		return 0
	}
	i, _ := slices.BinarySearch(im, t) // first >= t
	return float64(len(im)-i) / float64(len(im))
}

func fnmrAt(g []float64, failed int, t float64) float64 {
	if len(g)+failed == 0 {
		return 0
	}
	i, _ := slices.BinarySearch(g, t)
	return float64(i+failed) / float64(len(g)+failed)
}

// impostorErrors is the number of impostor scores >= t (sorted input).
func impostorErrors(im []float64, t float64) int {
	i, _ := slices.BinarySearch(im, t)
	return len(im) - i
}

// thresholds returns every distinct score plus one above the maximum, the
// only thresholds at which FMR or FNMR change.
func thresholds(g, im []float64) []float64 {
	all := make([]float64, 0, len(g)+len(im)+1)
	all = append(all, g...)
	all = append(all, im...)
	slices.Sort(all)
	all = slices.Compact(all)
	if len(all) > 0 {
		all = append(all, math.Nextafter(all[len(all)-1], math.Inf(1)))
	}
	return all
}

// OperatingPoint is an accept threshold and its error rates.
type OperatingPoint struct {
	Threshold float64 `json:"threshold"`
	FMR       float64 `json:"fmr"`
	FNMR      float64 `json:"fnmr"`
}

// EER returns the equal error rate: where the FMR and FNMR curves cross,
// taken as the mean of the two rates at the threshold where they are
// closest, with that threshold.
func (s Scores) EER() (eer, threshold float64) {
	g, im := s.sorted()
	if len(g) == 0 || len(im) == 0 {
		return math.NaN(), math.NaN()
	}
	best := math.Inf(1)
	for _, t := range thresholds(g, im) {
		a, b := fmrAt(im, t), fnmrAt(g, s.GenuineFailed, t)
		if d := math.Abs(a - b); d < best {
			best, eer, threshold = d, (a+b)/2, t
		}
	}
	return eer, threshold
}

// AtFMR returns the operating point with the lowest threshold whose FMR is at
// most target. Resolved is false when fewer than calib.RuleOf30 impostor
// errors are expected at target (the rule of 30): the FMR is then known
// only within its confidence interval, and with fewer than 1/target
// impostor scores the threshold is just above the highest impostor score
// and the FMR measured is 0.
func (s Scores) AtFMR(target float64) (op OperatingPoint, resolved bool) {
	g, im := s.sorted()
	if len(g) == 0 || len(im) == 0 {
		return OperatingPoint{math.NaN(), math.NaN(), math.NaN()}, false
	}
	for _, t := range thresholds(g, im) {
		if f := fmrAt(im, t); f <= target {
			return OperatingPoint{t, f, fnmrAt(g, s.GenuineFailed, t)}, calib.Resolves(target, len(im))
		}
	}
	t := math.Nextafter(im[len(im)-1], math.Inf(1))
	return OperatingPoint{t, 0, fnmrAt(g, s.GenuineFailed, t)}, false
}

// DET returns the (FMR, FNMR) curve at every distinct threshold.
func (s Scores) DET() []OperatingPoint {
	g, im := s.sorted()
	ts := thresholds(g, im)
	out := make([]OperatingPoint, 0, len(ts))
	for _, t := range ts {
		out = append(out, OperatingPoint{t, fmrAt(im, t), fnmrAt(g, s.GenuineFailed, t)})
	}
	return out
}

// Calibration returns the thresholds for the given target FMRs (highest
// first) with their impostor error counts, Clopper-Pearson intervals and
// FNMR (failures to extract included), resolved by the rule of 30.
func (s Scores) Calibration(targets []float64) []calib.Point {
	_, im := s.sorted()
	out := make([]calib.Point, 0, len(targets))
	for _, t := range targets {
		op, _ := s.AtFMR(t)
		out = append(out, calib.NewPoint(t, op.Threshold, impostorErrors(im, op.Threshold), len(im), op.FNMR))
	}
	return out
}

// Spearman returns the rank correlation of x and y (NaN for fewer than 3
// pairs or constant input).
func Spearman(x, y []float64) float64 {
	if len(x) != len(y) || len(x) < 3 {
		return math.NaN()
	}
	rx, ry := ranks(x), ranks(y)
	var mx, my float64
	for i := range rx {
		mx += rx[i]
		my += ry[i]
	}
	n := float64(len(rx))
	mx, my = mx/n, my/n
	var sxy, sxx, syy float64
	for i := range rx {
		a, b := rx[i]-mx, ry[i]-my
		sxy += a * b
		sxx += a * a
		syy += b * b
	}
	if sxx == 0 || syy == 0 {
		return math.NaN()
	}
	return sxy / math.Sqrt(sxx*syy)
}

// ranks returns 1-based ranks with ties averaged.
func ranks(v []float64) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case v[a] < v[b]:
			return -1
		case v[a] > v[b]:
			return 1
		}
		return 0
	})
	r := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && v[idx[j+1]] == v[idx[i]] {
			j++
		}
		avg := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			r[idx[k]] = avg
		}
		i = j + 1
	}
	return r
}

// percentile returns the p-th percentile (0-100) of v by nearest rank.
func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}
