package matcher

import (
	"math"
	"math/rand/v2"
	"testing"
)

// agreement compares the coarse-to-fine score with the exhaustive one on
// synthetic genuine and impostor pairs.
type agreement struct {
	n, equal     int
	maxDiff      float64
	sumDiff      float64
	within001    int
	higherThanEx int
}

func (a *agreement) add(c2f, ex float64) {
	a.n++
	d := ex - c2f
	if d == 0 {
		a.equal++
	}
	if d < 0 {
		a.higherThanEx++
	}
	if math.Abs(d) <= 0.01 {
		a.within001++
	}
	a.maxDiff = max(a.maxDiff, math.Abs(d))
	a.sumDiff += math.Abs(d)
}

func measureAgreement(t testing.TB, n int, seed uint64, noise float64) (gen, imp agreement) {
	rng := rand.New(rand.NewPCG(seed, 17))
	p := DefaultParams
	var prev *Template
	for i := 0; i < n; i++ {
		f := NewSynthFinger(rng, p.Width, p.Height)
		a := mustTemplate(t, p, f.Sample(rng, p.ShiftRows/2, p.ShiftCols/2, noise))
		b := mustTemplate(t, p, f.Sample(rng, p.ShiftRows/2, p.ShiftCols/2, noise))
		pb, err := NewProbe(b)
		if err != nil {
			t.Fatal(err)
		}
		gen.add(pb.Score(a), pb.ScoreExact(a))
		if prev != nil {
			imp.add(pb.Score(prev), pb.ScoreExact(prev))
		}
		prev = a
	}
	return gen, imp
}

// TestCoarseToFineAgreement checks the coarse-to-fine search against the
// exhaustive one. Documented tolerance (docs/template-format.md): on
// genuine pairs at least 97 % of the scores are identical and every score
// is within 0.05 of the exhaustive one; on impostor pairs (no true
// alignment, flat correlation surface) at least 60 % are within 0.01.
func TestCoarseToFineAgreement(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 60
	}
	gen, imp := measureAgreement(t, n, 5, 0.1)
	hgen, _ := measureAgreement(t, n, 6, 0.3)
	for _, r := range []struct {
		name string
		a    agreement
	}{{"genuine", gen}, {"impostor", imp}, {"genuine, 30 % noise", hgen}} {
		t.Logf("%s: %d pairs, %.1f%% equal, %.1f%% within 0.01, mean |diff| %.4f, max |diff| %.4f, %d above exhaustive",
			r.name, r.a.n, 100*float64(r.a.equal)/float64(r.a.n), 100*float64(r.a.within001)/float64(r.a.n),
			r.a.sumDiff/float64(r.a.n), r.a.maxDiff, r.a.higherThanEx)
	}
	if float64(gen.equal) < 0.97*float64(gen.n) || gen.maxDiff > 0.05 ||
		float64(hgen.equal) < 0.90*float64(hgen.n) {
		t.Errorf("genuine agreement below tolerance: %d/%d equal, max diff %.4f", gen.equal, gen.n, gen.maxDiff)
	}
	if float64(imp.within001) < 0.60*float64(imp.n) {
		t.Errorf("impostor agreement below tolerance: %d/%d within 0.01", imp.within001, imp.n)
	}
}
