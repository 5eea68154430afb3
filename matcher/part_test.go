package matcher

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestPartsMergeToWholeGallery is the property that makes sharding exact:
// for random galleries full of ties (the same template under several
// subjects, and under two fingers of one subject), random partitions by a
// hash of the subject, random worker counts and plans with and without
// preselection (by templates or by representatives, including cuts inside
// a crowd of tied scores), the merged parts are exactly what Search on the
// whole gallery returns.
func TestPartsMergeToWholeGallery(t *testing.T) {
	p := DefaultParams
	rng := rand.New(rand.NewPCG(41, 42))
	var pool []*Template
	for range 24 {
		f := NewSynthFinger(rng, p.Width, p.Height)
		for range 3 {
			pool = append(pool, mustTemplate(t, p, f.Sample(rng, 4, 12, 0.1)))
		}
	}
	ctx := context.Background()
	plans := []SearchOptions{
		{},                                   // exhaustive (small gallery)
		{Preselect: 3},                       // a cut of 3 templates, ties included
		{Preselect: 7, Representatives: 1},   // by groups
		{Preselect: 12, Representatives: -1}, // by templates
		{Preselect: 1},                       // the cut at the best score
	}
	for seed := range 12 {
		rng := rand.New(rand.NewPCG(uint64(seed), 7))
		type add struct {
			subj   string
			finger int
			t      *Template
		}
		var adds []add
		nSubj := 20 + rng.IntN(30)
		crowd := pool[rng.IntN(len(pool))] // one template many subjects share
		for s := range nSubj {
			subj := fmt.Sprintf("r%04d", rng.IntN(10000))
			for _, finger := range []int{2, 7}[:1+rng.IntN(2)] {
				for range 1 + rng.IntN(3) {
					tp := pool[rng.IntN(len(pool))]
					if s%3 == 0 {
						tp = crowd
					}
					adds = append(adds, add{subj, finger, tp})
				}
			}
		}
		nParts := 1 + rng.IntN(5)
		whole := NewGallery(GalleryOptions{Workers: 1 + rng.IntN(3)})
		parts := make([]*Gallery, nParts)
		for i := range parts {
			parts[i] = NewGallery(GalleryOptions{Workers: 1 + rng.IntN(3)})
		}
		for _, a := range adds {
			if err := whole.Add(a.subj, a.finger, a.t); err != nil {
				t.Fatal(err)
			}
			h := fnv.New32a()
			h.Write([]byte(a.subj))
			if err := parts[int(h.Sum32())%nParts].Add(a.subj, a.finger, a.t); err != nil {
				t.Fatal(err)
			}
		}
		// Removals reorder the packed gallery, differently in each.
		for _, s := range whole.Subjects()[:3] {
			whole.Remove(s)
			for _, g := range parts {
				g.Remove(s)
			}
		}
		n, groups := whole.Size()
		probes := []*Template{crowd, pool[rng.IntN(len(pool))], pool[rng.IntN(len(pool))]}
		for pi, probe := range probes {
			for _, so := range plans {
				k := 1 + rng.IntN(6)
				want, err := whole.SearchWith(ctx, probe, k, so)
				if err != nil {
					t.Fatal(err)
				}
				plan := GalleryOptions{}.Plan(so, n, groups)
				var ps []Part
				for _, g := range parts {
					part, err := g.SearchPart(ctx, probe, k, plan)
					if err != nil {
						t.Fatal(err)
					}
					ps = append(ps, part)
				}
				rng.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
				got, err := MergeParts(ps, k)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, want) {
					t.Errorf("seed %d, %d parts, probe %d, %+v, k %d:\nmerged %v\nwhole  %v", seed, nParts, pi, so, k, got, want)
				}
			}
		}
	}
}

// TestSearchTiesAreLayoutFree checks the tie rules the merge relies on: a
// subject's finger is the lowest among its equal best scores, and subjects
// with equal scores come in name order, whatever the order of enrolment.
func TestSearchTiesAreLayoutFree(t *testing.T) {
	p := DefaultParams
	rng := rand.New(rand.NewPCG(5, 6))
	f := NewSynthFinger(rng, p.Width, p.Height)
	tp := mustTemplate(t, p, f.Sample(rng, 4, 12, 0.1))
	other := mustTemplate(t, p, NewSynthFinger(rng, p.Width, p.Height).Sample(rng, 4, 12, 0.1))
	for _, order := range [][]string{{"c", "a", "b"}, {"b", "c", "a"}, {"a", "b", "c"}} {
		gl := NewGallery(GalleryOptions{Workers: 1})
		for _, s := range order {
			for _, finger := range []int{7, 3} {
				if err := gl.Add(s, finger, tp); err != nil {
					t.Fatal(err)
				}
			}
			if err := gl.Add(s, 1, other); err != nil {
				t.Fatal(err)
			}
		}
		for _, so := range []SearchOptions{{}, {Preselect: 1}} {
			got, err := gl.SearchWith(context.Background(), tp, 2, so)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || got[0].Subject != "a" || got[1].Subject != "b" || got[0].Finger != 3 || got[1].Finger != 3 || got[0].Score != got[1].Score {
				t.Errorf("order %v, %+v: %+v", order, so, got)
			}
		}
	}
}

// TestPreselectZeroCut: templates whose preselection score is 0 (no vein
// pixel in common with the probe at any displacement) are counted in the
// ranking but never compared fully, however many of them are at the cut,
// so they cannot turn a search exhaustive; ties above 0 are all kept.
func TestPreselectZeroCut(t *testing.T) {
	p := DefaultParams
	band := func(x0 int) *Template {
		v := NewPattern(p.Width, p.Height)
		for y := 10; y < 50; y++ {
			for x := x0; x < x0+12; x++ {
				v.Set(x, y, true)
			}
		}
		return mustTemplate(t, p, v)
	}
	left, right := band(30), band(110)
	gl := NewGallery(GalleryOptions{Workers: 2})
	for i := range 40 {
		if err := gl.Add(fmt.Sprintf("s%02d", i), 1, left); err != nil {
			t.Fatal(err)
		}
	}
	if err := gl.Add("z", 1, right); err != nil {
		t.Fatal(err)
	}
	n, g := gl.Size()
	ctx := context.Background()
	part, err := gl.SearchPart(ctx, right, 3, GalleryOptions{}.Plan(SearchOptions{Preselect: 5}, n, g))
	if err != nil {
		t.Fatal(err)
	}
	if len(part.Ranking) != 2 || part.Ranking[1] != (CoarseCount{0, 40}) || len(part.Candidates) != 1 || part.Candidates[0].Subject != "z" {
		t.Fatalf("ranking %+v, records %+v", part.Ranking, part.Candidates)
	}
	got, err := gl.SearchWith(ctx, right, 3, SearchOptions{Preselect: 5})
	if err != nil || len(got) != 1 || got[0].Subject != "z" {
		t.Fatalf("%v %v", got, err)
	}
	// Every tie above 0 is compared: 40 equal subjects for a cut of 5.
	got, err = gl.SearchWith(ctx, left, 40, SearchOptions{Preselect: 5})
	if err != nil || len(got) != 40 {
		t.Fatalf("%d candidates, %v", len(got), err)
	}
}
