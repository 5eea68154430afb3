package matcher

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestCheckConsistency: samples of one synthetic finger are consistent; a
// sample of another finger among them disagrees, and so does each group
// of a mix of two fingers, however the captures are ordered; no links at
// all make every sample disagree; the scores are those of Compare (later
// sample as the probe).
func TestCheckConsistency(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 3))
	p := DefaultParams
	a := NewSynthFinger(rng, p.Width, p.Height)
	b := NewSynthFinger(rng, p.Width, p.Height)
	c := NewSynthFinger(rng, p.Width, p.Height)
	sample := func(f *SynthFinger) *Template {
		return mustTemplate(t, p, f.Sample(rng, p.ShiftRows/2, p.ShiftCols/2, 0.1))
	}
	A := []*Template{sample(a), sample(a), sample(a), sample(a)}
	B := []*Template{sample(b), sample(b), sample(b)}
	C := sample(c)
	// A threshold between the synthetic fingers' genuine and impostor
	// scores (both measured here, so the test cannot pass vacuously).
	gen, _ := Compare(A[0], A[1])
	imp, _ := Compare(A[0], B[0])
	if !(gen > imp+0.05) {
		t.Fatalf("synthetic genuine %.3f, impostor %.3f: no margin to test with", gen, imp)
	}
	th := (gen + imp) / 2
	for _, tc := range []struct {
		name     string
		samples  []*Template
		disagree []int
	}{
		{"one finger, 3", A[:3], nil},
		{"one finger, 4", A, nil},
		{"another finger last", []*Template{A[0], A[1], B[0]}, []int{2}},
		{"another finger first", []*Template{B[0], A[0], A[1]}, []int{0}},
		{"another finger between", []*Template{A[0], B[0], A[1]}, []int{1}},
		{"two and two", []*Template{A[0], A[1], B[0], B[1]}, []int{2, 3}},
		{"two and two, interleaved", []*Template{B[0], A[0], B[1], A[1]}, []int{1, 3}},
		{"one and three", []*Template{A[0], B[0], B[1], B[2]}, []int{0}},
		{"three fingers", []*Template{A[0], B[0], C}, []int{0, 1, 2}},
		{"two", []*Template{A[0], A[1]}, nil},
		{"two of two fingers", []*Template{A[0], B[0]}, []int{0, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CheckConsistency(tc.samples, th)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Disagree, tc.disagree) || got.OK() != (tc.disagree == nil) {
				t.Errorf("disagree %v (ok %v), want %v; scores %v", got.Disagree, got.OK(), tc.disagree, got.Scores)
			}
			for i := range tc.samples {
				for j := range i {
					want, _ := Compare(tc.samples[j], tc.samples[i])
					if got.Scores[i][j] != want {
						t.Errorf("score %d vs %d: %v, Compare %v", i, j, got.Scores[i][j], want)
					}
					if got.Best[i] < want || got.Best[j] < want {
						t.Errorf("best of %d or %d below their score %v: %v", i, j, want, got.Best)
					}
				}
			}
		})
	}
	// The threshold decides: above every genuine score nothing links.
	got, err := CheckConsistency(A[:3], 0.5)
	if err != nil || len(got.Disagree) != 3 {
		t.Errorf("threshold 0.5: %+v, %v", got, err)
	}
}

func TestCheckConsistencyErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	a := mustTemplate(t, DefaultParams, randomPattern(rng, 192, 64, 0.15))
	if _, err := CheckConsistency([]*Template{a}, 0.2); !errors.Is(err, ErrTooFewSamples) {
		t.Errorf("one sample: %v", err)
	}
	for _, th := range []float64{0, -1} {
		if _, err := CheckConsistency([]*Template{a, a}, th); err == nil {
			t.Errorf("threshold %v accepted", th)
		}
	}
	small := Params{Width: 128, Height: 64, ShiftRows: 8, ShiftCols: 24}
	b := mustTemplate(t, small, randomPattern(rng, 128, 64, 0.15))
	if _, err := CheckConsistency([]*Template{a, b}, 0.2); !errors.Is(err, ErrIncompatible) {
		t.Errorf("different geometry: %v, want ErrIncompatible", err)
	}
}

// BenchmarkCheckConsistency: the check of one finger's 3 enrolment
// captures (3 probe preparations, 3 comparisons), beside the server's
// extraction of each capture (about 11 ms of CPU).
func BenchmarkCheckConsistency(b *testing.B) {
	rng := rand.New(rand.NewPCG(9, 9))
	f := NewSynthFinger(rng, DefaultParams.Width, DefaultParams.Height)
	var ts []*Template
	for range 3 {
		ts = append(ts, mustTemplate(b, DefaultParams, f.Sample(rng, 4, 12, 0.1)))
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CheckConsistency(ts, 0.2); err != nil {
			b.Fatal(err)
		}
	}
}
