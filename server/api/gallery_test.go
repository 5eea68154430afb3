package api

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/qingshan-gov/veinkiosk/matcher"
)

// TestGalleryConcurrentReplace replaces one resident's templates from many
// goroutines while searching: the resident must end with exactly one set.
func TestGalleryConcurrentReplace(t *testing.T) {
	g := NewGallery()
	p := matcher.DefaultParams
	rng := rand.New(rand.NewPCG(3, 4))
	sf := matcher.NewSynthFinger(rng, p.Width, p.Height)
	var sets [][]*matcher.Template
	for i := 0; i < 8; i++ {
		var ts []*matcher.Template
		for j := 0; j < 3; j++ {
			tm, err := matcher.NewTemplate(p, sf.Sample(rng, 3, 6, 0.05), nil, 80, 2)
			if err != nil {
				t.Fatal(err)
			}
			ts = append(ts, tm)
		}
		sets = append(sets, ts)
	}
	var wg sync.WaitGroup
	for i := range sets {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := g.set(7, []int{2, 2, 2}, sets[i]); err != nil {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			if _, err := g.Search(context.Background(), sets[0][0], 3, 0.1); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if g.Len() != 3 || g.Residents() != 1 {
		t.Fatalf("gallery: %d templates, %d residents", g.Len(), g.Residents())
	}
	g.Remove(7)
	if g.Len() != 0 || g.Residents() != 0 {
		t.Fatalf("after remove: %d templates, %d residents", g.Len(), g.Residents())
	}
}

func TestGalleryVerifyIncompatible(t *testing.T) {
	g := NewGallery()
	p := matcher.DefaultParams
	rng := rand.New(rand.NewPCG(5, 6))
	sf := matcher.NewSynthFinger(rng, p.Width, p.Height)
	tm, err := matcher.NewTemplate(p, sf.Sample(rng, 3, 6, 0.05), nil, 80, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.set(1, []int{2}, []*matcher.Template{tm}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := g.Verify(1, tm); !ok || err != nil {
		t.Fatalf("same template: ok %v err %v", ok, err)
	}
	if _, ok, err := g.Verify(2, tm); ok || err != nil {
		t.Fatalf("not enrolled: ok %v err %v", ok, err)
	}
	q := p
	q.ShiftCols = 10
	other, err := matcher.NewTemplate(q, sf.Sample(rng, 3, 6, 0.05), nil, 80, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := g.Verify(1, other); !errors.Is(err, matcher.ErrIncompatible) {
		t.Fatalf("incompatible probe: %v", err)
	}
}
