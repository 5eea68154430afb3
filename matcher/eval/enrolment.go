package eval

import (
	"context"
	"fmt"
	"math"
	"runtime"

	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/matcher/calib"
)

// The enrolment protocol scores what one verification attempt meets: a
// probe compared with one enrolled finger, that is with the k samples the
// kiosk enrolled for it, the score being the best of the k (what
// matcher.Gallery.Verify computes over a resident's templates). It sits
// between the FVC protocol's single pairs and the kiosk's transactions
// (several fingers, several attempts; EvaluatePolicy).
//
//   - enrolment: each finger's first k samples in manifest order that
//     extracted (fewer when the finger has fewer);
//   - genuine: every other sample of the finger against its enrolment; a
//     sample that failed to extract is a rejection at every threshold, and
//     so is every sample of a finger none of whose samples extracted;
//   - impostor: every usable image against the enrolment of every other
//     finger (images x fingers attempts; they share images and
//     enrolments, so their errors are not independent and intervals
//     computed as if they were are too narrow).

// EnrolmentSummary is the enrolment protocol's part of summary.json.
type EnrolmentSummary struct {
	Samples            int            `json:"enrolled_samples_per_finger"`
	Fusion             string         `json:"fusion"`
	Genuine            int            `json:"genuine"`
	GenuineFailed      int            `json:"genuine_lost_to_fte"`
	Impostor           int            `json:"impostor"`
	EER                float64        `json:"eer"`
	EERThreshold       float64        `json:"eer_threshold"`
	Points             []EnrolmentRow `json:"points"`
	FingersNotEnrolled int            `json:"fingers_not_enrolled"`
	// Calibration is the calibration table at this level (CalibrationTargets):
	// what a calibration file at level best_of_enrolled holds.
	Calibration []calib.Point `json:"calibration"`
	// SingleAtLevel is what the thresholds of the single-comparison
	// calibration (Summary.Calibration) give at this level: the false
	// match rate a server comparing with the best of the enrolled samples
	// meets at a threshold labelled by single pairs (SingleThresholdsAtLevel).
	SingleAtLevel []LevelRow `json:"single_thresholds_at_this_level,omitempty"`
	// Single is the same protocol against the first enrolled sample
	// only (one template per finger): EER and FNMR at the same targets.
	Single *EnrolmentLevel `json:"single_sample"`
	// Consistency is the enrolment consistency check's work (omitted
	// without it).
	Consistency *ConsistencyReport `json:"consistency,omitempty"`
	// Recapture is what asking again for probes below a quality gate
	// would buy: per gate, the share of genuine probes below it and the
	// FNMR of those at or above it at the FMR 1e-4 threshold of all
	// impostor attempts.
	Recapture []RecaptureRow `json:"recapture"`
}

// LevelRow is one single-comparison threshold measured at the enrolment
// level.
type LevelRow struct {
	TargetFMR float64 `json:"target_fmr"`
	Threshold float64 `json:"threshold"`
	// SingleFMR is the single-comparison FMR at Threshold; LevelFMR and
	// LevelErrors the enrolment level's, with its interval.
	SingleFMR   float64    `json:"single_fmr"`
	LevelErrors int        `json:"level_impostor_errors"`
	LevelFMR    float64    `json:"level_fmr"`
	LevelCI95   [2]float64 `json:"level_fmr_ci95"`
}

// SingleThresholdsAtLevel measures the resolved points of a single-
// comparison calibration table at the enrolment level of e.
func SingleThresholdsAtLevel(single []calib.Point, e *Enrolment) []LevelRow {
	_, im := e.Scores.sorted()
	var out []LevelRow
	for _, p := range single {
		if !p.Resolved || math.IsNaN(p.Threshold) || len(im) == 0 {
			continue
		}
		r := LevelRow{TargetFMR: p.TargetFMR, Threshold: p.Threshold, SingleFMR: p.FMR, LevelErrors: impostorErrors(im, p.Threshold)}
		r.LevelFMR = float64(r.LevelErrors) / float64(len(im))
		r.LevelCI95[0], r.LevelCI95[1] = calib.ClopperPearson(r.LevelErrors, len(im), 0.95)
		out = append(out, r)
	}
	return out
}

// EnrolmentLevel is EER and FNMR at EnrolmentTargets of one scoring.
type EnrolmentLevel struct {
	EER          float64        `json:"eer"`
	EERThreshold float64        `json:"eer_threshold"`
	Points       []EnrolmentRow `json:"points"`
}

func enrolmentLevel(sc Scores) *EnrolmentLevel {
	l := &EnrolmentLevel{}
	l.EER, l.EERThreshold = sc.EER()
	_, im := sc.sorted()
	for _, t := range EnrolmentTargets {
		op, resolved := sc.AtFMR(t)
		row := EnrolmentRow{TargetFMR: t, Threshold: op.Threshold, FMR: op.FMR, FNMR: op.FNMR, Resolved: resolved}
		row.ImpostorErrors = impostorErrors(im, op.Threshold)
		row.FMRCI95[0], row.FMRCI95[1] = calib.ClopperPearson(row.ImpostorErrors, len(im), 0.95)
		l.Points = append(l.Points, row)
	}
	return l
}

// RecaptureRow is one probe quality gate of EnrolmentSummary.Recapture.
type RecaptureRow struct {
	MinQuality   int     `json:"min_quality"`
	ProbesBelow  float64 `json:"probes_below"`
	FNMRAtFMR1e4 float64 `json:"fnmr_at_fmr_1e-4"`
}

// RecaptureGates are the probe quality gates of EnrolmentSummary.Recapture.
var RecaptureGates = []int{0, 20, 30, 40, 50}

// Enrolment is the outcome of ScoreEnrolment.
type Enrolment struct {
	Scores Scores
	// GenuineQuality is the quality of the probe of each Scores.Genuine.
	GenuineQuality []int
	// NotEnrolled counts fingers none of whose samples extracted (or, with
	// the consistency check, that it left without enough samples).
	NotEnrolled int
	// Single is the same probes against the first enrolled sample only
	// (one template per finger).
	Single Scores
	// Consistency is the check's work (nil without it).
	Consistency *ConsistencyReport
}

// EnrolmentRow is one target FMR of the enrolment protocol.
type EnrolmentRow struct {
	TargetFMR      float64    `json:"target_fmr"`
	Threshold      float64    `json:"threshold"`
	ImpostorErrors int        `json:"impostor_errors"`
	FMR            float64    `json:"fmr"`
	FMRCI95        [2]float64 `json:"fmr_ci95"`
	FNMR           float64    `json:"fnmr"`
	Resolved       bool       `json:"resolved"`
}

// EnrolmentTargets are the FMRs reported by the enrolment protocol.
var EnrolmentTargets = []float64{1e-2, 1e-3, 1e-4}

// ScoreEnrolment scores the enrolment protocol with k enrolled samples
// per finger over the report's templates.
func ScoreEnrolment(ctx context.Context, r *Report, k, workers int) (*Enrolment, error) {
	return ScoreEnrolmentChecked(ctx, r, k, workers, 0)
}

// ScoreEnrolmentChecked is ScoreEnrolment with the server's enrolment
// consistency check at threshold (0: none): the k samples a finger enrols
// must be consistent (matcher.CheckConsistency); the disagreeing ones are
// dropped, as the kiosk drops them, and the finger's next usable samples
// take their place. Dropped samples are neither enrolled nor probes (at
// the kiosk they were enrolment captures, taken again); a finger whose
// samples run out before k consistent ones is not enrolled, and its
// remaining samples count as rejections.
func ScoreEnrolmentChecked(ctx context.Context, r *Report, k, workers int, threshold float64) (*Enrolment, error) {
	if k <= 0 || !(threshold >= 0) {
		return nil, fmt.Errorf("eval: %d enrolled samples, consistency threshold %v", k, threshold)
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	type finger struct {
		enrolled []int
		probes   []int // samples of the finger after the enrolment, usable or not
	}
	var fingers []*finger
	var samples [][]int // per finger, in manifest order
	byKey := map[string]int{}
	fingerOf := make([]int, len(r.Entries))
	for i, e := range r.Entries {
		fi, ok := byKey[e.Key()]
		if !ok {
			fi = len(fingers)
			byKey[e.Key()] = fi
			fingers = append(fingers, &finger{})
			samples = append(samples, nil)
		}
		fingerOf[i] = fi
		samples[fi] = append(samples[fi], i)
	}
	cons := &ConsistencyReport{Threshold: threshold}
	for fi, f := range fingers {
		ss := samples[fi]
		used := 0
		next := func() (int, bool) { // the next sample that extracted; the others are probes
			for used < len(ss) {
				i := ss[used]
				used++
				if r.Templates[i] != nil {
					return i, true
				}
				f.probes = append(f.probes, i)
			}
			return 0, false
		}
		// A finger with fewer than k usable samples enrols what it has.
		usable := 0
		for _, i := range ss {
			if r.Templates[i] != nil {
				usable++
			}
		}
		enrolled, err := enrolConsistent(r.Templates, min(k, usable), next, cons)
		if err != nil {
			return nil, fmt.Errorf("eval: consistency of %s: %w", r.Entries[ss[0]].Key(), err)
		}
		f.enrolled = enrolled
		f.probes = append(f.probes, ss[used:]...)
	}
	var sc Scores
	notEnrolled := 0
	for _, f := range fingers {
		if len(f.enrolled) == 0 {
			notEnrolled++
		}
		for _, i := range f.probes {
			if r.Templates[i] == nil || len(f.enrolled) == 0 {
				sc.GenuineFailed++
			}
		}
	}
	n := len(r.Entries)
	gen, gen1 := make([][]float64, n), make([][]float64, n)
	imp, imp1 := make([][]float64, n), make([][]float64, n)
	var prepErr error
	errs := make([]error, n)
	parallel(ctx, workers, n, func(b int) {
		t := r.Templates[b]
		if t == nil {
			return
		}
		p, err := matcher.NewProbe(t)
		if err != nil {
			errs[b] = err
			return
		}
		own := fingerOf[b]
		for fi, f := range fingers {
			if len(f.enrolled) == 0 {
				continue
			}
			if fi == own {
				if !contains(f.probes, b) {
					continue
				}
			}
			best, first := 0.0, 0.0
			for j, a := range f.enrolled {
				sc := p.Score(r.Templates[a])
				best = max(best, sc)
				if j == 0 {
					first = sc
				}
			}
			if fi == own {
				gen[b] = append(gen[b], best)
				gen1[b] = append(gen1[b], first)
			} else {
				imp[b] = append(imp[b], best)
				imp1[b] = append(imp1[b], first)
			}
		}
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, err := range errs {
		if err != nil && prepErr == nil {
			prepErr = err
		}
	}
	if prepErr != nil {
		return nil, prepErr
	}
	e := &Enrolment{NotEnrolled: notEnrolled}
	if threshold > 0 {
		e.Consistency = cons
	}
	e.Single.GenuineFailed = sc.GenuineFailed
	for b := range n {
		sc.Genuine = append(sc.Genuine, gen[b]...)
		sc.Impostor = append(sc.Impostor, imp[b]...)
		e.Single.Genuine = append(e.Single.Genuine, gen1[b]...)
		e.Single.Impostor = append(e.Single.Impostor, imp1[b]...)
		for range gen[b] {
			e.GenuineQuality = append(e.GenuineQuality, int(r.Templates[b].Quality))
		}
	}
	e.Scores = sc
	return e, nil
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// SummarizeEnrolment computes the enrolment protocol's summary.
func SummarizeEnrolment(e *Enrolment, k int) *EnrolmentSummary {
	sc, notEnrolled := e.Scores, e.NotEnrolled
	s := &EnrolmentSummary{Samples: k, Fusion: "best score of the enrolled samples (matcher.Gallery.Verify)",
		Genuine: len(sc.Genuine), GenuineFailed: sc.GenuineFailed, Impostor: len(sc.Impostor), FingersNotEnrolled: notEnrolled}
	l := enrolmentLevel(sc)
	s.EER, s.EERThreshold, s.Points = l.EER, l.EERThreshold, l.Points
	s.Single = enrolmentLevel(e.Single)
	s.Consistency = e.Consistency
	s.Calibration = sc.Calibration(CalibrationTargets)
	op, _ := sc.AtFMR(1e-4)
	for _, q := range RecaptureGates {
		var below, kept, fails int
		for i, g := range sc.Genuine {
			if e.GenuineQuality[i] < q {
				below++
				continue
			}
			kept++
			if g < op.Threshold {
				fails++
			}
		}
		row := RecaptureRow{MinQuality: q, FNMRAtFMR1e4: math.NaN()}
		if n := len(sc.Genuine); n > 0 {
			row.ProbesBelow = float64(below) / float64(n)
		}
		if kept > 0 {
			row.FNMRAtFMR1e4 = float64(fails) / float64(kept)
		}
		s.Recapture = append(s.Recapture, row)
	}
	return s
}
