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

// DefaultCalibration was measured with `veinctl eval` on the FV-USM ROI
// development set (../shared/data/fvusm-roi-dev: 240 fingers, 1,440 images,
// 28,680 impostor and 3,600 genuine comparisons, FVC protocol), with the
// default extraction (params hash 2df77bf3) and this AlgorithmVersion, on
// 2026-11-27. The points at FMR 1e-1 to 1e-4 are measured (1e-4 rests on
// three impostor scores: treat it as rough). 1e-5 and 1e-6 lie beyond what
// 28,680 impostor pairs can show: they are a log-linear extrapolation of
// the measured tail (1e-2 to 1e-4, about 0.019 per decade), which is
// conservative for the lighter-than-exponential tails that Miura scores
// show. The highest impostor score seen was 0.210. docs/evaluation.md has
// the whole table and the command; re-measure on a licensed, larger set
// before claiming rates below 1e-4.
var DefaultCalibration = Calibration{
	Points: []CalibrationPoint{
		{FMR: 1e-1, Threshold: 0.1334},
		{FMR: 1e-2, Threshold: 0.1546},
		{FMR: 1e-3, Threshold: 0.1736},
		{FMR: 1e-4, Threshold: 0.1927},
		{FMR: 1e-5, Threshold: 0.2116},
		{FMR: 1e-6, Threshold: 0.2304},
	},
	Source: "veinctl eval on fvusm-roi-dev (28,680 impostor / 3,600 genuine, FVC protocol, params 2df77bf3), 2026-11-27; " +
		"1e-1..1e-4 measured, 1e-5 and 1e-6 extrapolated from the measured tail",
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
