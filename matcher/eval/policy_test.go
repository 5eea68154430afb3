package eval

import (
	"context"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/qingshan-gov/veinkiosk/matcher"
)

// policyReport builds a report of subjects x fingers x samples synthetic
// templates (matcher.SynthFinger), quality 80, two sessions of equal size.
func policyReport(t *testing.T, subjects, fingers, samples int) *Report {
	t.Helper()
	rng := rand.New(rand.NewPCG(12, 95))
	params := matcher.DefaultParams
	r := &Report{Params: params}
	full := matcher.NewPattern(params.Width, params.Height)
	for y := range params.Height {
		for x := range params.Width {
			full.Set(x, y, true)
		}
	}
	for s := range subjects {
		for f := range fingers {
			sf := matcher.NewSynthFinger(rng, params.Width, params.Height)
			for k := range samples {
				tm, err := matcher.NewTemplate(params, sf.Sample(rng, 2, 4, 0.05), full, 80, 0)
				if err != nil {
					t.Fatal(err)
				}
				r.Entries = append(r.Entries, Entry{Subject: strconv.Itoa(s), Finger: strconv.Itoa(f), Sample: strconv.Itoa(k), Session: strconv.Itoa(1 + 2*k/samples)})
				r.Templates = append(r.Templates, tm)
			}
		}
	}
	return r
}

var kioskPolicy = Policy{EnrolFingers: 2, EnrolCaptures: 3, MaxEnrolCaptures: 10, EnrolMinQuality: 50, VerifyMinQuality: 40, ServerMinQuality: 40, MaxTries: 3, Bootstrap: 200, Seed: 1}

func TestEvaluatePolicyCounts(t *testing.T) {
	r := policyReport(t, 5, 3, 6)
	p := kioskPolicy
	p.VerifyThreshold = 0.2
	rep, err := EvaluatePolicy(r, p)
	if err != nil {
		t.Fatal(err)
	}
	// 5 subjects enrol fingers 0 and 1 with samples 0-2; samples 3-5 make
	// one genuine transaction per enrolled finger; every finger (3) of
	// every other subject (4) attacks each subject once.
	if rep.FTE.Errors != 0 || rep.FTE.Trials != 5 || rep.FingersEnrolled != 2 || rep.FNMR.Trials != 10 || rep.FMR.Trials != 5*4*3 || rep.FTA.Errors != 0 || rep.LeftoverSamples != 0 {
		t.Fatalf("report %+v", rep)
	}
	// Synthetic fingers are easy: at 0.2 all genuine transactions pass at
	// once and no impostor does.
	if rep.FNMR.Errors != 0 || rep.FMR.Errors != 0 || rep.FTA.Trials != 10 {
		t.Errorf("at 0.2: FNMR %+v FMR %+v FTA %+v", rep.FNMR, rep.FMR, rep.FTA)
	}
	// Sessions: samples 0-2 are session 1 (enrolment), 3-5 session 2.
	if rep.CrossSession == nil || rep.CrossSession.Trials != 10 || rep.SameSession.Trials != 0 {
		t.Errorf("sessions: same %+v cross %+v", rep.SameSession, rep.CrossSession)
	}
	if rep.FMR.CI95[1] < 0.04 || rep.FMR.CI95[1] > 0.07 {
		t.Errorf("0 of 60: upper bound %g, want 1-0.025^(1/60) = 0.06", rep.FMR.CI95[1])
	}
}

// TestEvaluatePolicyBites moves one thing at a time and checks the rate
// it must move.
func TestEvaluatePolicyBites(t *testing.T) {
	r := policyReport(t, 4, 2, 9)
	base := kioskPolicy
	base.VerifyThreshold = 0.2
	run := func(p Policy, r *Report) *PolicyReport {
		t.Helper()
		rep, err := EvaluatePolicy(r, p)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	rep := run(base, r)
	if rep.FNMR.Trials != 4*2*2 || rep.FNMR.Errors != 0 {
		t.Fatalf("base: %+v", rep.FNMR)
	}
	// A threshold above every score: every genuine transaction fails
	// after MaxTries compared attempts, no impostor passes.
	p := base
	p.VerifyThreshold = 0.9
	rep = run(p, r)
	if rep.FNMR.Rate != 1 || rep.FMR.Errors != 0 || rep.AttemptFNMR.Trials != 16*3 {
		t.Errorf("threshold 0.9: FNMR %+v attempts %+v", rep.FNMR, rep.AttemptFNMR)
	}
	// A threshold below every score: every transaction passes at its
	// first attempt, impostors included.
	p.VerifyThreshold = 1e-9
	rep = run(p, r)
	if rep.FNMR.Errors != 0 || rep.FMR.Rate != 1 {
		t.Errorf("threshold 1e-9: FNMR %+v FMR %+v", rep.FNMR, rep.FMR)
	}
	// A verification gate above every capture: all attempts fail to
	// acquire, and those transactions are rejections.
	p = base
	p.VerifyMinQuality = 81
	rep = run(p, r)
	if rep.FTA.Rate != 1 || rep.FNMR.Rate != 1 || rep.AttemptFNMR.Trials != 0 {
		t.Errorf("quality gate 81: FTA %+v FNMR %+v", rep.FTA, rep.FNMR)
	}
	// An enrolment gate above every capture: every subject fails to enrol.
	p = base
	p.EnrolMinQuality = 81
	rep = run(p, r)
	if rep.FTE.Rate != 1 || rep.FNMR.Trials != 0 {
		t.Errorf("enrolment gate 81: FTE %+v FNMR %+v", rep.FTE, rep.FNMR)
	}
	// Failed extractions: subject 0's finger 0 loses its first sample
	// (enrolment takes samples 1-3, leaving 4-8: one transaction and two
	// samples over) and sample 4, the first attempt of that transaction,
	// becomes an FTA.
	broken := *r
	broken.Templates = append([]*matcher.Template(nil), r.Templates...)
	broken.Templates[0], broken.Templates[4] = nil, nil
	rep = run(base, &broken)
	if rep.FTA.Errors != 1 || rep.FNMR.Trials != 4*2*2-1 || rep.LeftoverSamples != 2 {
		t.Errorf("failed extractions: FTA %+v FNMR %+v leftover %d", rep.FTA, rep.FNMR, rep.LeftoverSamples)
	}
	// A subject with too few good captures for its second finger fails
	// enrolment (only two fingers, no alternate).
	for k := 0; k < 7; k++ {
		broken.Templates[9+k] = nil
	}
	rep = run(base, &broken)
	if rep.FTE.Errors != 1 {
		t.Errorf("finger without 3 captures in 10: FTE %+v", rep.FTE)
	}
	if rep.FTE.BootstrapCI[1] <= 0 || rep.FTE.BootstrapCI[0] > 0.25 {
		t.Errorf("FTE bootstrap interval %v", rep.FTE.BootstrapCI)
	}
	md := Report19795(Summary{Policy: rep, EER: math.NaN()})
	for _, want := range []string{"transaction FNMR", "FTE (subjects)", "bootstrap over 4 subjects"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}

// TestEvaluatePolicyConsistency: with the server's consistency check, an
// enrolment capture of another finger is refused and taken again from the
// finger's next sample (not used as a probe either), and a finger none of
// whose captures match is given up for the next finger; without the check
// both are enrolled as captured. The same rule gives the enrolment
// protocol's enrolments.
func TestEvaluatePolicyConsistency(t *testing.T) {
	r := policyReport(t, 3, 3, 9)
	params := matcher.DefaultParams
	rng := rand.New(rand.NewPCG(7, 7))
	// Subject 0, finger 0: its second sample is subject 1's finger 0.
	r.Templates[1] = r.Templates[27]
	// Subject 2, finger 0: every sample another, new finger.
	for k := range 9 {
		sf := matcher.NewSynthFinger(rng, params.Width, params.Height)
		r.Templates[54+k] = mustTemplateOf(t, params, sf.Sample(rng, 2, 4, 0.05))
	}
	base := kioskPolicy
	base.VerifyThreshold = 0.2
	off, err := EvaluatePolicy(r, base)
	if err != nil {
		t.Fatal(err)
	}
	on := base
	on.ConsistencyThreshold = 0.2
	rep, err := EvaluatePolicy(r, on)
	if err != nil {
		t.Fatal(err)
	}
	if off.Consistency != nil || off.LeftoverSamples != 0 || off.FNMR.Trials != 12 {
		t.Errorf("without the check: %+v", off)
	}
	// Subject 2's finger 0 fails: 9 captures, refused until they run out
	// (3 refusals of all three); fingers 1 and 2 enrol instead.
	want := ConsistencyReport{Threshold: 0.2, Refusals: 1 + 3, FingersRefused: 2, Retaken: 1 + 9, FingersFailed: 1}
	if rep.Consistency == nil || *rep.Consistency != want {
		t.Fatalf("consistency %+v, want %+v", rep.Consistency, want)
	}
	// Subject 0's finger 0 keeps 5 samples for transactions: 1 and 2 left
	// over; subject 2 enrols fingers 1 and 2, whose transactions all pass.
	if rep.FTE.Errors != 0 || rep.FNMR.Trials != 11 || rep.LeftoverSamples != 2 || rep.FNMR.Errors != 0 {
		t.Errorf("with the check: FTE %+v FNMR %+v leftover %d", rep.FTE, rep.FNMR, rep.LeftoverSamples)
	}

	e0, err := ScoreEnrolmentChecked(context.Background(), r, 3, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	e1, err := ScoreEnrolmentChecked(context.Background(), r, 3, 1, 0.2)
	if err != nil {
		t.Fatal(err)
	}
	// Without the check 9 fingers x 6 probes; with it subject 0's finger 0
	// loses the dropped sample (5 probes), subject 2's finger 0 is not enrolled (its
	// 9 samples were all dropped: none is a probe).
	if n := len(e0.Scores.Genuine); n != 54 || e0.Consistency != nil || e0.NotEnrolled != 0 {
		t.Errorf("without the check: %d genuine, %+v", n, e0.Consistency)
	}
	if n := len(e1.Scores.Genuine); n != 47 || e1.NotEnrolled != 1 || e1.Scores.GenuineFailed != 0 || e1.Consistency.FingersFailed != 1 {
		t.Errorf("with the check: %d genuine, %d lost, %d not enrolled, %+v", n, e1.Scores.GenuineFailed, e1.NotEnrolled, e1.Consistency)
	}
	if len(e1.Single.Genuine) != len(e1.Scores.Genuine) || len(e1.Single.Impostor) != len(e1.Scores.Impostor) {
		t.Errorf("single-sample scores: %d/%d", len(e1.Single.Genuine), len(e1.Single.Impostor))
	}
	for i, g := range e1.Single.Genuine {
		if g > e1.Scores.Genuine[i] {
			t.Fatalf("genuine %d: the first sample's score %v above the best of 3 %v", i, g, e1.Scores.Genuine[i])
		}
	}
}

func mustTemplateOf(t *testing.T, params matcher.Params, vein *matcher.Pattern) *matcher.Template {
	t.Helper()
	full := matcher.NewPattern(params.Width, params.Height)
	for y := range params.Height {
		for x := range params.Width {
			full.Set(x, y, true)
		}
	}
	tm, err := matcher.NewTemplate(params, vein, full, 80, 0)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}
