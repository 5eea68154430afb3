package matcher

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestGalleryRepresentatives checks that preselection by one representative
// per (subject, finger) group finds the mate in a gallery of three samples
// per finger, compares every sample of the kept groups (the rank-1 score
// is the exhaustive one) and agrees with the exhaustive search.
func TestGalleryRepresentatives(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	p := DefaultParams
	gl := NewGallery(GalleryOptions{Workers: 2})
	type mate struct {
		subj   string
		finger int
		probe  *Template
	}
	var mates []mate
	const nSubj = 120
	for s := 0; s < nSubj; s++ {
		subj := fmt.Sprintf("subject-%03d", s)
		for _, finger := range []int{2, 3} {
			f := NewSynthFinger(rng, p.Width, p.Height)
			for i := 0; i < 3; i++ {
				if err := gl.Add(subj, finger, mustTemplate(t, p, f.Sample(rng, 4, 12, 0.1))); err != nil {
					t.Fatal(err)
				}
			}
			if (2*s+finger)%7 == 0 {
				mates = append(mates, mate{subj, finger, mustTemplate(t, p, f.Sample(rng, 4, 12, 0.1))})
			}
		}
	}
	if gl.Len() != 6*nSubj || gl.Groups() != 2*nSubj {
		t.Fatalf("Len %d, Groups %d", gl.Len(), gl.Groups())
	}
	ctx := context.Background()
	const keep = 6 // groups, 2.5 % of the gallery
	for _, m := range mates {
		full, err := gl.SearchWith(ctx, m.probe, 3, SearchOptions{Preselect: -1})
		if err != nil {
			t.Fatal(err)
		}
		reps, err := gl.SearchWith(ctx, m.probe, 3, SearchOptions{Preselect: keep, Representatives: 1})
		if err != nil {
			t.Fatal(err)
		}
		all, err := gl.SearchWith(ctx, m.probe, 3, SearchOptions{Preselect: 3 * keep, Representatives: -1})
		if err != nil {
			t.Fatal(err)
		}
		if full[0].Subject != m.subj || full[0].Finger != m.finger {
			t.Fatalf("%s/%d: exhaustive rank 1 is %+v", m.subj, m.finger, full[0])
		}
		if reps[0] != full[0] {
			t.Errorf("%s/%d: representatives rank 1 %+v, exhaustive %+v", m.subj, m.finger, reps[0], full[0])
		}
		if all[0].Subject != m.subj {
			t.Errorf("%s/%d: per-template preselection rank 1 %+v", m.subj, m.finger, all[0])
		}
	}
	if len(mates) < 30 {
		t.Fatalf("only %d mated probes", len(mates))
	}

	// Groups stay counted through removals and re-enrolment, and a removed
	// subject's representatives are gone.
	gl.Remove(mates[0].subj)
	if gl.Groups() != 2*nSubj-2 || gl.Len() != 6*nSubj-6 {
		t.Fatalf("after Remove: Len %d, Groups %d", gl.Len(), gl.Groups())
	}
	got, err := gl.SearchWith(ctx, mates[1].probe, 1, SearchOptions{Preselect: keep, Representatives: 1})
	if err != nil || got[0].Subject != mates[1].subj {
		t.Errorf("after Remove: %+v, %v", got, err)
	}
	for i := 0; i < 2; i++ {
		if err := gl.Add(mates[0].subj, mates[0].finger, mates[0].probe); err != nil {
			t.Fatal(err)
		}
	}
	if gl.Groups() != 2*nSubj-1 {
		t.Fatalf("after re-adding: Groups %d", gl.Groups())
	}
	got, err = gl.SearchWith(ctx, mates[0].probe, 1, SearchOptions{Preselect: keep, Representatives: 1})
	if err != nil || got[0].Subject != mates[0].subj {
		t.Errorf("re-added subject: %+v, %v", got, err)
	}
}

// TestGalleryPreselectCount checks that the kept count follows the groups
// with representatives and the templates without.
func TestGalleryPreselectCount(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	p := DefaultParams
	f := NewSynthFinger(rng, p.Width, p.Height)
	tp := mustTemplate(t, p, f.Sample(rng, 4, 12, 0.1))
	for _, tc := range []struct {
		reps int
		want int
	}{{1, 10}, {-1, 30}, {0, 30}} {
		gl := NewGallery(GalleryOptions{Preselect: 1, PreselectFraction: 0.01, PreselectRepresentatives: tc.reps})
		for s := 0; s < 500; s++ {
			for i := 0; i < 3; i++ {
				if err := gl.Add(fmt.Sprint(s), 1+s%2, tp); err != nil {
					t.Fatal(err)
				}
			}
		}
		for s := 0; s < 500; s++ { // a second finger of each subject
			for i := 0; i < 3; i++ {
				if err := gl.Add(fmt.Sprint(s), 5, tp); err != nil {
					t.Fatal(err)
				}
			}
		}
		if got := gl.PreselectCount(); got != tc.want {
			t.Errorf("reps %d: PreselectCount %d, want %d", tc.reps, got, tc.want)
		}
	}
}

// TestGalleryCascade checks the opt-in level-2 first stage of the
// preselection: the cut lets about the asked fraction through, the search
// still finds every mate with the exhaustive search's rank-1 score, and
// the cascade is skipped when it would keep too few.
func TestGalleryCascade(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	p := DefaultParams
	gl := NewGallery(GalleryOptions{Workers: 2})
	var probes []*Template
	var mates []string
	const n = 3000
	for s := 0; s < n; s++ {
		f := NewSynthFinger(rng, p.Width, p.Height)
		subj := fmt.Sprintf("s%04d", s)
		if err := gl.Add(subj, 1, mustTemplate(t, p, f.Sample(rng, 4, 12, 0.2))); err != nil {
			t.Fatal(err)
		}
		if s%100 == 0 {
			probes = append(probes, mustTemplate(t, p, f.Sample(rng, 4, 12, 0.2)))
			mates = append(mates, subj)
		}
	}
	pr := newProbe(probes[0], gl.g)
	for _, frac := range []float64{0.1, 0.25, 0.5} {
		cut := gl.coarseCut(pr, false, frac, 30)
		pass := 0
		for i := range gl.entries {
			s := gl.slot2(i)
			if pr.coarseScore(pr.coarseBest(s[gl.lens[1]:]), int(gl.entries[i].ones2)) >= cut {
				pass++
			}
		}
		if got := float64(pass) / n; got < frac-0.03 || got > frac+0.03 {
			t.Errorf("fraction %.2f: %.3f of the gallery passes the cut %.4f", frac, got, cut)
		}
	}
	if cut := gl.coarseCut(pr, false, 0.01, 30); cut != -1 {
		t.Errorf("a cascade keeping 30 of 3000 for a preselection of 30: cut %v, want off (-1)", cut)
	}
	if cut := gl.coarseCut(pr, false, 0, 30); cut != -1 {
		t.Errorf("fraction 0: cut %v, want off", cut)
	}
	ctx := context.Background()
	for i, probe := range probes {
		full, err := gl.SearchWith(ctx, probe, 1, SearchOptions{Preselect: -1})
		if err != nil {
			t.Fatal(err)
		}
		casc, err := gl.SearchWith(ctx, probe, 1, SearchOptions{Preselect: 30, CoarseFraction: 0.25})
		if err != nil {
			t.Fatal(err)
		}
		if full[0].Subject != mates[i] || casc[0] != full[0] {
			t.Errorf("probe %d (%s): exhaustive %+v, cascade %+v", i, mates[i], full[0], casc[0])
		}
	}
}
