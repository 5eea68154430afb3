package eval

import (
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
