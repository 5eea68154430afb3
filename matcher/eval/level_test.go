package eval

import (
	"context"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/matcher/calib"
)

// synthReport is fingers x samples synthetic templates (matcher.SynthFinger;
// one finger per subject) drawn from seed.
func synthReport(t *testing.T, seed uint64, fingers, samples int) *Report {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 0x1e7e1))
	params := matcher.DefaultParams
	full := matcher.NewPattern(params.Width, params.Height)
	for y := range params.Height {
		for x := range params.Width {
			full.Set(x, y, true)
		}
	}
	r := &Report{Params: params}
	for f := range fingers {
		sf := matcher.NewSynthFinger(rng, params.Width, params.Height)
		for k := range samples {
			tm, err := matcher.NewTemplate(params, sf.Sample(rng, 2, 4, 0.05), full, uint8(30+rng.IntN(60)), 0)
			if err != nil {
				t.Fatal(err)
			}
			r.Entries = append(r.Entries, Entry{Subject: strconv.Itoa(f), Finger: "1", Sample: strconv.Itoa(k)})
			r.Templates = append(r.Templates, tm)
		}
	}
	return r
}

// singleScores is every two templates, scored once (the single-comparison
// level): genuine pairs of one finger, impostor pairs of different ones.
func singleScores(t *testing.T, r *Report) Scores {
	t.Helper()
	var out Scores
	for b, tb := range r.Templates {
		p, err := matcher.NewProbe(tb)
		if err != nil {
			t.Fatal(err)
		}
		for a := range b {
			if r.Entries[a].Key() != r.Entries[b].Key() {
				out.Impostor = append(out.Impostor, p.Score(r.Templates[a]))
			} else {
				out.Genuine = append(out.Genuine, p.Score(r.Templates[a]))
			}
		}
	}
	return out
}

// serverImpostors plays the server's decision rule on r: each finger
// enrolled in a matcher.Gallery with its first k samples, every template
// of another finger verified against it (Gallery.Verify: the best of the
// k), accepted at threshold. It returns the accepts and the attempts.
func serverImpostors(t *testing.T, r *Report, k int, threshold float64) (accepts, attempts int) {
	t.Helper()
	g := matcher.NewGallery(matcher.GalleryOptions{})
	n := map[string]int{}
	for i, e := range r.Entries {
		if n[e.Key()] < k {
			if err := g.Add(e.Key(), 1, r.Templates[i]); err != nil {
				t.Fatal(err)
			}
			n[e.Key()]++
		}
	}
	for _, subject := range g.Subjects() {
		for i, e := range r.Entries {
			if e.Key() == subject {
				continue
			}
			score, ok := g.Verify(subject, r.Templates[i])
			if !ok {
				t.Fatalf("verify %s", subject)
			}
			attempts++
			if score >= threshold {
				accepts++
			}
		}
	}
	return accepts, attempts
}

// TestCalibrationLevelHoldsAtServer measures a calibration on synthetic
// fingers at the level centrald compares (the best of 3 enrolled samples)
// and checks it on other synthetic fingers with the server's decision rule
// (matcher.Gallery.Verify at the threshold calib.ResolveThresholds derives):
// the false match rate met there is within what the calibration states.
// The thresholds of a single-comparison calibration of the same fingers,
// used as before (as if a per-comparison FMR were the server's), give a
// false match rate measurably above their label.
//
// What is asserted is a statistical agreement between two independent
// samples of synthetic fingers (matcher.SynthFinger, not a model of real
// veins): the 99.9 % Clopper-Pearson interval of the check set's rate must
// meet the calibration's 95 % interval. The seeds are fixed, so the test
// is deterministic.
func TestCalibrationLevelHoldsAtServer(t *testing.T) {
	if testing.Short() {
		t.Skip("scores 200,000 comparisons")
	}
	if raceDetector {
		// CPU-bound scoring that the race detector slows about sevenfold
		// (5 min instead of 40 s); scripts/test.sh runs the
		// matcher's tests again without -race (-tags purego), where it runs.
		t.Skip("statistical check of 200,000 comparisons: runs without -race")
	}
	const fingers, samples, k = 100, 4, 3
	const target = 1e-2
	cal := synthReport(t, 1, fingers, samples)
	check := synthReport(t, 2, fingers, samples)

	// The calibration at the server's level, through the code veinctl
	// eval runs.
	e, err := ScoreEnrolment(context.Background(), cal, k, 2)
	if err != nil {
		t.Fatal(err)
	}
	s := Summary{Images: len(cal.Entries), Subjects: fingers, Fingers: fingers, Params: cal.Params, ParamsHash: "0123abcd", Enrolment: SummarizeEnrolment(e, k),
		QualityGates: &calib.QualityGates{Enrol: 0, Verify: 0, Rule: "test"}}
	f, err := s.CalibrationFile("VS-SYNTH", "synthetic test fingers", true, time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if l := f.ComparisonLevel(); l.Comparison != calib.LevelBestOfEnrolled || l.Enrolled != k || f.Data.Impostor != fingers*samples*(fingers-1) {
		t.Fatalf("level %v, %d impostor attempts", l, f.Data.Impostor)
	}
	policy := calib.Policy{VerifyFMR: 2 * target, Fingers: 2, Level: calib.Level{Comparison: calib.LevelBestOfEnrolled, Enrolled: k}, DedupFMR: target, IdentifyFMR: target}
	th, err := calib.ResolveThresholds(f, policy, false, false)
	if err != nil {
		t.Fatal(err)
	}
	var point calib.Point
	for _, p := range f.Points {
		if p.TargetFMR == target {
			point = p
		}
	}
	if !point.Resolved || th.Verify.TargetFMR != target || th.Verify.Threshold != point.Threshold {
		t.Fatalf("point %+v, thresholds %+v", point, th.Verify)
	}
	acc, att := serverImpostors(t, check, k, th.Verify.Threshold)
	lo, hi := calib.ClopperPearson(acc, att, 0.999)
	t.Logf("best-of-%d calibration: threshold %.4f for FMR %g (%d of %d, 95 %% [%.4f, %.4f]); the server's rule on other fingers: %d of %d = %.4f (99.9 %% [%.4f, %.4f])",
		k, th.Verify.Threshold, target, point.ImpostorErrors, point.Impostors, point.FMRCI95[0], point.FMRCI95[1], acc, att, float64(acc)/float64(att), lo, hi)
	if hi < point.FMRCI95[0] || lo > point.FMRCI95[1] {
		t.Errorf("the server's FMR at the threshold in force, %d of %d, disagrees with the calibration's interval %v", acc, att, point.FMRCI95)
	}

	// The single-comparison calibration of the same fingers.
	single := singleScores(t, cal)
	sp := single.Calibration([]float64{target})[0]
	acc1, att1 := serverImpostors(t, check, k, sp.Threshold)
	lo1, hi1 := calib.ClopperPearson(acc1, att1, 0.999)
	t.Logf("single calibration: threshold %.4f for FMR %g (95 %% [%.4f, %.4f]); the server's rule at it: %d of %d = %.4f (99.9 %% [%.4f, %.4f])",
		sp.Threshold, target, sp.FMRCI95[0], sp.FMRCI95[1], acc1, att1, float64(acc1)/float64(att1), lo1, hi1)
	if !(sp.Threshold < th.Verify.Threshold) {
		t.Errorf("the single-comparison threshold %.4f is not below the best-of-%d one %.4f", sp.Threshold, k, th.Verify.Threshold)
	}
	if lo1 <= sp.FMRCI95[1] {
		t.Errorf("the single-comparison threshold labelled FMR %g gives the server's rule %d of %d: not measurably above its label %v", target, acc1, att1, sp.FMRCI95)
	}
}
