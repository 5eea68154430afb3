package eval

import (
	"fmt"
	"slices"

	"github.com/qingshan-gov/veinkiosk/matcher/calib"
)

// GateRule measures the capture quality gates of a scanner model and
// picks them (docs/evaluation.md, "Quality gates per scanner model"):
//
//   - enrolment gate: the highest gate tried, at most MaxEnrol, whose FTE
//     (subjects who cannot enrol under the kiosk's rule with captures of
//     at least that quality) is at most MaxFTE;
//   - verification gate: the highest gate tried, at most the enrolment
//     gate and MaxVerify, that asks again for at most MaxRecapture of the
//     genuine probes.
//
// A higher gate gives better templates; the bounds keep what it costs
// residents (failures to enrol, captures asked for again) small. When no
// gate meets a bound the lowest gate tried is taken.
type GateRule struct {
	// Gates tried, rising.
	Gates []int
	// The kiosk's enrolment rule: EnrolFingers fingers with EnrolCaptures
	// captures each among a finger's first MaxEnrolCaptures, a finger that
	// cannot give them replaced by the subject's next one.
	EnrolFingers, EnrolCaptures, MaxEnrolCaptures int
	MaxFTE, MaxRecapture                          float64
	// MaxEnrol and MaxVerify cap the gates (the kiosk's own gates: a
	// server gate above the kiosk's turns captures the kiosk accepted
	// into refusals).
	MaxEnrol, MaxVerify int
}

// DefaultGates are the gates tried by default.
var DefaultGates = []int{0, 10, 20, 30, 40, 50}

// String describes the rule for the calibration file.
func (g GateRule) String() string {
	return fmt.Sprintf("enrol: the highest gate of %v up to %d with FTE <= %g (%d fingers x %d captures among the first %d, alternate fingers); verify: the highest gate up to min(enrol, %d) asking again for <= %g of the genuine probes",
		g.Gates, g.MaxEnrol, g.MaxFTE, g.EnrolFingers, g.EnrolCaptures, g.MaxEnrolCaptures, g.MaxVerify, g.MaxRecapture)
}

// QualityGates measures every gate of the rule on the report (FTE) and on
// the enrolment protocol's genuine probes (share below the gate, FNMR of
// the others at threshold, the threshold of target FMR fnmrAtFMR) and
// picks the gates.
func QualityGates(r *Report, e *Enrolment, rule GateRule, fnmrAtFMR, threshold float64) (*calib.QualityGates, error) {
	if len(rule.Gates) == 0 || !slices.IsSorted(rule.Gates) || rule.EnrolFingers <= 0 || rule.EnrolCaptures <= 0 || rule.MaxEnrolCaptures < rule.EnrolCaptures {
		return nil, fmt.Errorf("eval: quality gate rule %+v", rule)
	}
	// Subjects, their fingers and samples in manifest order.
	type subject struct{ fingers [][]int }
	var subs []*subject
	bySub := map[string]*subject{}
	fingerIdx := map[string]int{}
	for i, en := range r.Entries {
		s := bySub[en.Subject]
		if s == nil {
			s = &subject{}
			bySub[en.Subject] = s
			subs = append(subs, s)
		}
		fi, ok := fingerIdx[en.Key()]
		if !ok {
			fi = len(s.fingers)
			fingerIdx[en.Key()] = fi
			s.fingers = append(s.fingers, nil)
		}
		s.fingers[fi] = append(s.fingers[fi], i)
	}
	out := &calib.QualityGates{Rule: rule.String(), FNMRAtFMR: fnmrAtFMR}
	for _, gate := range rule.Gates {
		row := calib.GateRow{Gate: gate, Subjects: len(subs)}
		for _, s := range subs {
			want := min(rule.EnrolFingers, len(s.fingers))
			got := 0
			for _, samples := range s.fingers {
				ok := 0
				for _, i := range samples[:min(len(samples), rule.MaxEnrolCaptures)] {
					if t := r.Templates[i]; t != nil && int(t.Quality) >= gate {
						ok++
					}
				}
				if ok >= rule.EnrolCaptures {
					got++
				}
			}
			if got < want || want == 0 {
				row.FTESubjects++
			}
		}
		if row.Subjects > 0 {
			row.FTE = float64(row.FTESubjects) / float64(row.Subjects)
		}
		var below, kept, fails int
		for i, g := range e.Scores.Genuine {
			if e.GenuineQuality[i] < gate {
				below++
				continue
			}
			kept++
			if g < threshold {
				fails++
			}
		}
		if n := len(e.Scores.Genuine); n > 0 {
			row.Recaptured = float64(below) / float64(n)
		}
		if kept > 0 {
			row.FNMR = float64(fails) / float64(kept)
		}
		out.Measured = append(out.Measured, row)
	}
	out.Enrol, out.Verify = rule.Gates[0], rule.Gates[0]
	for _, row := range out.Measured {
		if row.Gate <= rule.MaxEnrol && row.FTE <= rule.MaxFTE {
			out.Enrol = row.Gate
		}
	}
	for _, row := range out.Measured {
		if row.Gate <= out.Enrol && row.Gate <= rule.MaxVerify && row.Recaptured <= rule.MaxRecapture {
			out.Verify = row.Gate
		}
	}
	return out, nil
}
