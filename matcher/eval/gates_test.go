package eval

import (
	"strings"
	"testing"

	"github.com/qingshan-gov/veinkiosk/matcher"
)

// TestQualityGates: FTE per gate follows the kiosk's enrolment rule
// (3 captures of a finger among its first tries, 2 fingers, alternate
// fingers), the re-capture share and FNMR follow the probes' qualities,
// and the rule picks the highest gates within the bounds.
func TestQualityGates(t *testing.T) {
	params := matcher.DefaultParams
	full := matcher.NewPattern(params.Width, params.Height)
	r := &Report{Params: params}
	// Subject qualities per finger (3 fingers, 4 samples each).
	subjects := [][][]int{
		{{60, 60, 60, 60}, {60, 60, 60, 60}, {60, 60, 60, 60}}, // enrols at every gate up to 60
		{{45, 45, 45, 45}, {35, 60, 60, 60}, {60, 60, 60, 60}}, // fingers 2 and 3 at 40..60
		{{45, 45, 45, 45}, {45, 45, 10, 45}, {30, 30, 30, 30}}, // at 40 fingers 1 and 2; fails above 45
		{{20, 20, 20, 20}, {20, 20, 20, 20}, {20, 20, 20, 20}}, // fails above 20
	}
	for s, fingers := range subjects {
		for f, qs := range fingers {
			for k, q := range qs {
				tm, err := matcher.NewTemplate(params, full, full, uint8(q), 0)
				if err != nil {
					t.Fatal(err)
				}
				r.Entries = append(r.Entries, Entry{Subject: string(rune('a' + s)), Finger: string(rune('1' + f)), Sample: string(rune('1' + k))})
				r.Templates = append(r.Templates, tm)
			}
		}
	}
	// Ten genuine probes: qualities 10..100, the low ones scoring low.
	e := &Enrolment{}
	for i := range 10 {
		e.GenuineQuality = append(e.GenuineQuality, 10*(i+1))
		e.Scores.Genuine = append(e.Scores.Genuine, 0.05*float64(i+1)) // 0.05 .. 0.5
	}
	rule := GateRule{Gates: []int{0, 20, 30, 40, 50}, EnrolFingers: 2, EnrolCaptures: 3, MaxEnrolCaptures: 10, MaxFTE: 0.3, MaxRecapture: 0.25, MaxEnrol: 50, MaxVerify: 40}
	g, err := QualityGates(r, e, rule, 1e-3, 0.2)
	if err != nil {
		t.Fatal(err)
	}
	wantFTE := map[int]int{0: 0, 20: 0, 30: 1, 40: 1, 50: 2}
	wantRe := map[int]float64{0: 0, 20: 0.1, 30: 0.2, 40: 0.3, 50: 0.4}
	wantFNMR := map[int]float64{0: 0.3, 20: 2.0 / 9, 30: 1.0 / 8, 40: 0, 50: 0}
	for _, row := range g.Measured {
		if row.FTESubjects != wantFTE[row.Gate] || row.Subjects != 4 || row.FTE != float64(wantFTE[row.Gate])/4 ||
			abs(row.Recaptured-wantRe[row.Gate]) > 1e-12 || abs(row.FNMR-wantFNMR[row.Gate]) > 1e-12 {
			t.Errorf("gate %d: %+v", row.Gate, row)
		}
	}
	// FTE <= 0.3: 0..40 (1 of 4 = 0.25), not 50 (0.5): enrol 40. Re-capture
	// <= 0.25 up to 40: 30 (0.2).
	if g.Enrol != 40 || g.Verify != 30 || !strings.Contains(g.Rule, "FTE <= 0.3") || g.FNMRAtFMR != 1e-3 {
		t.Errorf("gates %+v", g)
	}
	// The kiosk's gates cap the choice.
	rule.MaxEnrol, rule.MaxVerify = 20, 20
	if g, _ := QualityGates(r, e, rule, 1e-3, 0.2); g.Enrol != 20 || g.Verify != 20 {
		t.Errorf("capped: %+v", g)
	}
	// Nothing within the bound: the lowest gate tried.
	rule.MaxEnrol, rule.MaxVerify, rule.Gates, rule.MaxRecapture = 50, 50, []int{30, 40}, 0.01
	if g, _ := QualityGates(r, e, rule, 1e-3, 0.2); g.Enrol != 40 || g.Verify != 30 {
		t.Errorf("no verification gate within the bound: %+v", g)
	}
	rule.Gates = []int{40, 30}
	if _, err := QualityGates(r, e, rule, 1e-3, 0.2); err == nil {
		t.Error("falling gates accepted")
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
