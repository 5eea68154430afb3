package matcher

import (
	"errors"
	"fmt"
	"math"
)

// ErrTooFewSamples: a consistency check needs at least two samples.
var ErrTooFewSamples = errors.New("matcher: a consistency check needs at least 2 samples")

// Consistency is the outcome of CheckConsistency: whether the samples of
// one enrolled finger match each other.
//
// The rule: two samples are linked when the later one (as the probe)
// scores at or above the threshold against the earlier one (as the
// enrolled template), which is how a verification compares a new capture
// with the enrolment. The samples are consistent when the links join them
// all into one group. Every sample then matches another sample of the
// finger at the threshold, and no sample stands in a separate group (two
// people's captures mixed into one finger make two groups, however many of
// each there are). When they are not consistent, the main group is the
// largest (of equal ones, the one holding the earliest sample) and every
// sample outside it disagrees; when no two samples are linked at all,
// every sample disagrees.
type Consistency struct {
	Threshold float64
	// Scores[i][j], j < i: sample i as the probe against sample j.
	Scores [][]float64
	// Best is each sample's best score against any other sample.
	Best []float64
	// Disagree lists the samples outside the main group, in order; empty
	// when the samples are consistent.
	Disagree []int
}

// OK reports whether the samples are consistent.
func (c *Consistency) OK() bool { return len(c.Disagree) == 0 }

// CheckConsistency compares every pair of samples (of one finger, in the
// order they were captured) and applies the rule of Consistency at
// threshold. It costs n(n-1)/2 comparisons and n probe preparations.
// Samples that cannot be compared with each other (another algorithm or
// geometry) are an error wrapping ErrIncompatible.
func CheckConsistency(samples []*Template, threshold float64) (*Consistency, error) {
	n := len(samples)
	if n < 2 {
		return nil, fmt.Errorf("%w (got %d)", ErrTooFewSamples, n)
	}
	if math.IsNaN(threshold) || threshold <= 0 {
		return nil, fmt.Errorf("matcher: consistency threshold %v is not a positive score", threshold)
	}
	c := &Consistency{Threshold: threshold, Scores: make([][]float64, n), Best: make([]float64, n)}
	parent := make([]int, n)
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	for i, t := range samples {
		p, err := NewProbe(t)
		if err != nil {
			return nil, fmt.Errorf("matcher: sample %d: %w", i, err)
		}
		c.Scores[i] = make([]float64, i)
		for j := range i {
			if err := p.Compatible(samples[j]); err != nil {
				return nil, fmt.Errorf("matcher: samples %d and %d: %w", j, i, err)
			}
			s := p.Score(samples[j])
			c.Scores[i][j] = s
			c.Best[i], c.Best[j] = max(c.Best[i], s), max(c.Best[j], s)
			if s >= threshold {
				if a, b := find(i), find(j); a != b {
					parent[max(a, b)] = min(a, b) // a group's root is its earliest sample
				}
			}
		}
	}
	size := make([]int, n)
	for i := range n {
		size[find(i)]++
	}
	main := 0 // roots are earliest samples: the first largest group wins ties
	for r := range n {
		if size[r] > size[main] {
			main = r
		}
	}
	if size[main] == n {
		return c, nil
	}
	for i := range n {
		if size[main] == 1 || find(i) != main {
			c.Disagree = append(c.Disagree, i)
		}
	}
	return c, nil
}
