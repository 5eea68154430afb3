package main

import (
	"math"
	"testing"

	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/matcher/extract"
	"github.com/qingshan-gov/veinkiosk/simulators/fingerimg"
)

// TestCoarseToFineOnRenderedCaptures checks the production coarse-to-fine
// search against the exhaustive one on templates extracted from rendered
// scanner captures (simulators/fingerimg: placement, blur, noise), harder
// than matcher.SynthFinger's patterns. It lives here because matcher may
// not import the simulators. On genuine pairs the coarse-to-fine score must
// be the exhaustive one almost always and never far from it; on impostor
// pairs (no true alignment) it may stop at another local maximum (a little
// lower, or, as the normalisation's denominator differs at another offset,
// a little higher: docs/template-format.md) but never far away.
func TestCoarseToFineOnRenderedCaptures(t *testing.T) {
	fingers, samples := 16, 3
	if testing.Short() {
		fingers = 6
	}
	opt := extract.DefaultOptions()
	params := opt.Params(matcher.DefaultParams.ShiftRows, matcher.DefaultParams.ShiftCols)
	ts := make([][]*matcher.Template, fingers)
	for f := range fingers {
		finger := fingerimg.NewFinger(uint64(4000 + f))
		for s := range samples {
			c := fingerimg.DefaultConditions()
			c.Seed = uint64(100*f + s)
			if s == 2 {
				c.Placement = fingerimg.Moved // motion blur
			}
			res, err := extract.Extract(finger.Capture(c), opt)
			if err != nil {
				t.Fatalf("finger %d sample %d: %v", f, s, err)
			}
			tm, err := res.Template(params, 0)
			if err != nil {
				t.Fatal(err)
			}
			ts[f] = append(ts[f], tm)
		}
	}
	type stats struct {
		n, equal, higher int
		maxLoss, maxGain float64
	}
	var gen, imp stats
	add := func(st *stats, p *matcher.Probe, e *matcher.Template) {
		c2f, ex := p.Score(e), p.ScoreExact(e)
		if c2f > ex {
			st.higher++
			st.maxGain = math.Max(st.maxGain, c2f-ex)
		}
		st.n++
		if c2f == ex {
			st.equal++
		}
		st.maxLoss = math.Max(st.maxLoss, ex-c2f)
	}
	for f := range fingers {
		for b := 1; b < samples; b++ {
			p, err := matcher.NewProbe(ts[f][b])
			if err != nil {
				t.Fatal(err)
			}
			for a := range b {
				add(&gen, p, ts[f][a])
			}
			if f > 0 {
				add(&imp, p, ts[f-1][0])
			}
		}
	}
	t.Logf("genuine: %d/%d equal, %d higher (by up to %.4f), largest loss %.4f; impostor: %d/%d equal, %d higher (by up to %.4f), largest loss %.4f",
		gen.equal, gen.n, gen.higher, gen.maxGain, gen.maxLoss, imp.equal, imp.n, imp.higher, imp.maxGain, imp.maxLoss)
	if float64(gen.equal) < 0.9*float64(gen.n) || gen.maxLoss > 0.05 || gen.maxGain > 0.01 {
		t.Errorf("genuine pairs: %d/%d equal, largest loss %.4f, gain %.4f; want >= 90 %% equal, loss <= 0.05, gain <= 0.01", gen.equal, gen.n, gen.maxLoss, gen.maxGain)
	}
	if imp.maxLoss > 0.05 || imp.maxGain > 0.01 {
		t.Errorf("impostor pairs: largest loss %.4f, gain %.4f; want <= 0.05 and <= 0.01", imp.maxLoss, imp.maxGain)
	}
}
