package eval

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/matcher/calib"
)

func TestEnrolmentScoresProtocol(t *testing.T) {
	r := policyReport(t, 3, 2, 5) // 6 fingers x 5 samples
	er, err := ScoreEnrolment(context.Background(), r, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	sc, notEnrolled := er.Scores, er.NotEnrolled
	// Each finger enrols samples 0-2 and is probed by samples 3 and 4;
	// each of the 30 images attacks the 5 other fingers' enrolments.
	if notEnrolled != 0 || len(sc.Genuine) != 6*2 || sc.GenuineFailed != 0 || len(sc.Impostor) != 30*5 {
		t.Fatalf("genuine %d (+%d), impostor %d, not enrolled %d; want 12, 150, 0", len(sc.Genuine), sc.GenuineFailed, len(sc.Impostor), notEnrolled)
	}
	// The score is what the server's verification computes: the best over
	// the enrolled templates (matcher.Gallery.Verify).
	gl := matcher.NewGallery(matcher.GalleryOptions{})
	for i := 0; i < 3; i++ {
		if err := gl.Add("finger0", 0, r.Templates[i]); err != nil {
			t.Fatal(err)
		}
	}
	for i, b := range []int{3, 4} {
		want, ok := gl.Verify("finger0", r.Templates[b])
		if !ok || sc.Genuine[i] != want {
			t.Errorf("genuine %d: %g, Gallery.Verify %g", b, sc.Genuine[i], want)
		}
	}
	var best float64
	for i := 0; i < 3; i++ {
		s, err := matcher.Compare(r.Templates[i], r.Templates[3])
		if err != nil {
			t.Fatal(err)
		}
		best = max(best, s)
	}
	if best != sc.Genuine[0] {
		t.Errorf("genuine score %g, best single comparison %g", sc.Genuine[0], best)
	}

	// Failures to extract: a failed enrolment sample is replaced by the
	// next usable one (so finger 0 has one probe left), a failed probe is
	// a rejection, a finger with no usable sample is not enrolled and all
	// its samples are rejections.
	broken := *r
	broken.Templates = append([]*matcher.Template(nil), r.Templates...)
	broken.Templates[1] = nil // finger 0: enrols 0, 2, 3; probes 1 (failed), 4
	broken.Templates[9] = nil // finger 1: probes 8, 9 (failed)
	for i := 10; i < 15; i++ {
		broken.Templates[i] = nil // finger 2: nothing usable
	}
	er, err = ScoreEnrolment(context.Background(), &broken, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	sc, notEnrolled = er.Scores, er.NotEnrolled
	if notEnrolled != 1 || len(sc.Genuine) != 1+1+3*2 || sc.GenuineFailed != 1+1+5 {
		t.Fatalf("broken: genuine %d (+%d), not enrolled %d; want 8 (+7), 1", len(sc.Genuine), sc.GenuineFailed, notEnrolled)
	}
	if want := (30 - 7) * 4; len(sc.Impostor) != want {
		t.Errorf("broken: %d impostor attempts, want %d (23 usable images x 4 other enrolled fingers)", len(sc.Impostor), want)
	}
	s := SummarizeEnrolment(er, 3)
	if len(s.Points) != len(EnrolmentTargets) || s.Points[0].Resolved || !(s.Points[0].FNMR >= 7.0/15) {
		t.Errorf("summary %+v: 92 impostors resolve nothing; the 7 lost genuine attempts of 15 are rejections", s)
	}
	if math.IsNaN(s.EER) || s.Genuine != 8 || s.GenuineFailed != 7 {
		t.Errorf("summary %+v", s)
	}
	if _, err := ScoreEnrolment(context.Background(), r, 0, 1); err == nil {
		t.Error("k = 0 accepted")
	}
	md := Report19795(Summary{Enrolment: s, EER: math.NaN()})
	if !strings.Contains(md, "against a finger's 3 enrolled samples") {
		t.Errorf("report lacks the enrolment protocol:\n%s", md)
	}
}

// TestEnrolmentSummaryJSON: a set whose fingers have no sample left after
// the enrolment has no genuine attempt; summary.json still encodes.
func TestEnrolmentSummaryJSON(t *testing.T) {
	r := policyReport(t, 2, 1, 3)
	er, err := ScoreEnrolment(context.Background(), r, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	e := SummarizeEnrolment(er, 3)
	if e.Genuine != 0 || !math.IsNaN(e.EER) {
		t.Fatalf("summary %+v", e)
	}
	name := filepath.Join(t.TempDir(), "summary.json")
	if err := writeJSON(name, Summary{Enrolment: e}); err != nil {
		t.Fatal(err)
	}
}

// TestEnrolmentRecapture: re-capturing probes below a gate removes them
// from the genuine attempts, at the threshold of all impostor attempts.
func TestEnrolmentRecapture(t *testing.T) {
	im := make([]float64, 10000)
	for i := range im {
		im[i] = 0.2 * float64(i) / float64(len(im)-1) // highest 0.2: FMR 1e-4 at 0.2
	}
	e := &Enrolment{Scores: Scores{Genuine: []float64{0.1, 0.3, 0.3, 0.3}, Impostor: im}, GenuineQuality: []int{10, 60, 60, 25}}
	s := SummarizeEnrolment(e, 3)
	want := map[int][2]float64{0: {0, 0.25}, 20: {0.25, 0}, 30: {0.5, 0}, 40: {0.5, 0}, 50: {0.5, 0}}
	if len(s.Recapture) != len(RecaptureGates) {
		t.Fatalf("recapture %+v", s.Recapture)
	}
	for _, r := range s.Recapture {
		if w := want[r.MinQuality]; r.ProbesBelow != w[0] || r.FNMRAtFMR1e4 != w[1] {
			t.Errorf("gate %d: below %g, FNMR %g; want %g, %g", r.MinQuality, r.ProbesBelow, r.FNMRAtFMR1e4, w[0], w[1])
		}
	}
}

// TestSingleThresholdsAtLevel: a resolved single-comparison point is
// measured against the enrolment level's impostor scores; unresolved ones
// are left out.
func TestSingleThresholdsAtLevel(t *testing.T) {
	e := &Enrolment{}
	for i := range 1000 {
		e.Scores.Impostor = append(e.Scores.Impostor, float64(i)/1000) // 0 .. 0.999
	}
	single := []calib.Point{
		calib.NewPoint(0.1, 0.95, 100, 1000, 0),
		calib.NewPoint(0.01, 0.99, 10, 1000, 0), // not resolved
	}
	rows := SingleThresholdsAtLevel(single, e)
	if len(rows) != 1 || rows[0].LevelErrors != 50 || rows[0].LevelFMR != 0.05 || rows[0].SingleFMR != 0.1 || !(rows[0].LevelCI95[0] < 0.05 && 0.05 < rows[0].LevelCI95[1]) {
		t.Errorf("rows %+v", rows)
	}
}
