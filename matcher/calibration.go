package matcher

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// CalibrationPoint is a decision threshold and the false match rate
// measured at it: impostor comparisons scoring >= Threshold happened with
// frequency FMR.
type CalibrationPoint struct {
	FMR       float64
	Threshold float64
}

// Calibration maps a target false match rate to a score threshold, from
// an impostor score distribution measured on real data (ISO/IEC 19795-1).
type Calibration struct {
	// Points, in any order; higher thresholds must have lower FMR.
	Points []CalibrationPoint
	// Source describes the measurement: data set, protocol, impostor
	// comparison count, date, AlgorithmVersion and params.
	Source string
	// Provisional marks a table not measured on real data.
	Provisional bool
}

// ErrCalibration reports an unusable calibration or a target outside it.
var ErrCalibration = errors.New("matcher: calibration")

// DefaultCalibration is PROVISIONAL: estimated from the published range of
// Miura scores of Maximum Curvature patterns (impostors rarely above 0.15,
// genuine pairs mostly 0.2-0.4), not measured on this algorithm version.
// matcher/eval replaces it with figures measured on the evaluation data;
// until then no FMR claim may be made from it.
var DefaultCalibration = Calibration{
	Points: []CalibrationPoint{
		{FMR: 1e-1, Threshold: 0.100},
		{FMR: 1e-2, Threshold: 0.125},
		{FMR: 1e-3, Threshold: 0.145},
		{FMR: 1e-4, Threshold: 0.165},
		{FMR: 1e-5, Threshold: 0.185},
		{FMR: 1e-6, Threshold: 0.205},
	},
	Source:      "PROVISIONAL: estimated from published Maximum Curvature + Miura score ranges, not measured; to be replaced by matcher/eval",
	Provisional: true,
}

// Validate checks that the points are usable: FMR in (0, 1], thresholds in
// [0, 0.5], and a lower FMR never at a lower threshold.
func (c Calibration) Validate() error {
	if len(c.Points) == 0 {
		return fmt.Errorf("%w: no points", ErrCalibration)
	}
	pts := c.sorted()
	for i, p := range pts {
		if !(p.FMR > 0 && p.FMR <= 1) || !(p.Threshold >= 0 && p.Threshold <= 0.5) {
			return fmt.Errorf("%w: point FMR %g threshold %g out of range", ErrCalibration, p.FMR, p.Threshold)
		}
		if i > 0 && (p.FMR == pts[i-1].FMR || p.Threshold > pts[i-1].Threshold) {
			return fmt.Errorf("%w: FMR %g at threshold %g against FMR %g at %g: not monotone",
				ErrCalibration, pts[i-1].FMR, pts[i-1].Threshold, p.FMR, p.Threshold)
		}
	}
	return nil
}

func (c Calibration) sorted() []CalibrationPoint {
	pts := slices.Clone(c.Points)
	slices.SortFunc(pts, func(a, b CalibrationPoint) int {
		switch {
		case a.FMR < b.FMR:
			return -1
		case a.FMR > b.FMR:
			return 1
		}
		return 0
	})
	return pts
}

// Threshold returns the score threshold for the target false match rate,
// interpolating linearly in log(FMR) between calibrated points. A target
// below the lowest calibrated FMR is an error: the calibration cannot
// promise it. A target above the highest returns the threshold of the
// highest point (a lower FMR than asked for).
func (c Calibration) Threshold(fmr float64) (float64, error) {
	if err := c.Validate(); err != nil {
		return 0, err
	}
	if !(fmr > 0 && fmr < 1) {
		return 0, fmt.Errorf("%w: target FMR %g outside (0, 1)", ErrCalibration, fmr)
	}
	pts := c.sorted()
	if fmr < pts[0].FMR {
		return 0, fmt.Errorf("%w: target FMR %g below the lowest calibrated %g", ErrCalibration, fmr, pts[0].FMR)
	}
	for i := 1; i < len(pts); i++ {
		a, b := pts[i-1], pts[i]
		if fmr <= b.FMR {
			f := (math.Log(fmr) - math.Log(a.FMR)) / (math.Log(b.FMR) - math.Log(a.FMR))
			return a.Threshold + f*(b.Threshold-a.Threshold), nil
		}
	}
	return pts[len(pts)-1].Threshold, nil
}
