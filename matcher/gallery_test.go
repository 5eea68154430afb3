package matcher

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// testGallery enrols nSubj subjects with two fingers and two templates per
// finger, and returns a probe sample per (subject, finger).
func testGallery(t testing.TB, opts GalleryOptions, nSubj int) (*Gallery, map[string][]*Template, map[string]*Template) {
	t.Helper()
	rng := rand.New(rand.NewPCG(21, 22))
	p := DefaultParams
	gl := NewGallery(opts)
	enrolled := map[string][]*Template{}
	probes := map[string]*Template{}
	for s := 0; s < nSubj; s++ {
		subj := fmt.Sprintf("subject-%03d", s)
		for _, finger := range []int{2, 7} {
			f := NewSynthFinger(rng, p.Width, p.Height)
			for i := 0; i < 2; i++ {
				tp := mustTemplate(t, p, f.Sample(rng, 4, 12, 0.1))
				if err := gl.Add(subj, finger, tp); err != nil {
					t.Fatal(err)
				}
				enrolled[subj] = append(enrolled[subj], tp)
			}
			probes[fmt.Sprintf("%s/%d", subj, finger)] = mustTemplate(t, p, f.Sample(rng, 4, 12, 0.1))
		}
	}
	return gl, enrolled, probes
}

func TestGallerySearchAndVerify(t *testing.T) {
	gl, enrolled, probes := testGallery(t, GalleryOptions{}, 40)
	if gl.Len() != 160 || len(gl.Subjects()) != 40 {
		t.Fatalf("Len %d, %d subjects", gl.Len(), len(gl.Subjects()))
	}
	ctx := context.Background()
	for key, pr := range probes {
		subj := key[:len("subject-000")]
		var finger int
		if _, err := fmt.Sscanf(key[len(subj)+1:], "%d", &finger); err != nil {
			t.Fatal(err)
		}
		got, err := gl.Search(ctx, pr, 5)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 5 {
			t.Fatalf("%s: %d candidates", key, len(got))
		}
		if got[0].Subject != subj || got[0].Finger != finger {
			t.Errorf("%s: rank 1 is %+v", key, got[0])
		}
		seen := map[string]bool{}
		for i, c := range got {
			if seen[c.Subject] {
				t.Errorf("%s: subject %s twice", key, c.Subject)
			}
			seen[c.Subject] = true
			if i > 0 && c.Score > got[i-1].Score {
				t.Errorf("%s: not sorted", key)
			}
		}
		// The gallery's packed data scores as the templates themselves.
		p, err := NewProbe(pr)
		if err != nil {
			t.Fatal(err)
		}
		want := 0.0
		for _, tp := range enrolled[subj] {
			want = max(want, p.Score(tp))
		}
		if got[0].Score != want {
			t.Errorf("%s: gallery score %v, direct %v", key, got[0].Score, want)
		}
		if v, ok := gl.Verify(subj, pr); !ok || v != want {
			t.Errorf("%s: Verify = %v, %v; want %v", key, v, ok, want)
		}
		// Forced preselection finds the same rank 1.
		pre, err := gl.SearchWith(ctx, pr, 5, SearchOptions{Preselect: 20})
		if err != nil {
			t.Fatal(err)
		}
		if pre[0] != got[0] {
			t.Errorf("%s: preselected rank 1 %+v, full %+v", key, pre[0], got[0])
		}
	}
	if _, ok := gl.Verify("nobody", probes["subject-000/2"]); ok {
		t.Error("Verify of an unknown subject is ok")
	}
}

func TestGalleryRemove(t *testing.T) {
	gl, _, probes := testGallery(t, GalleryOptions{}, 12)
	ctx := context.Background()
	before := map[string]float64{}
	for _, s := range gl.Subjects() {
		before[s], _ = gl.Verify(s, probes["subject-005/7"])
	}
	for _, s := range []string{"subject-000", "subject-005", "subject-011"} {
		if n := gl.Remove(s); n != 4 {
			t.Errorf("Remove(%s) = %d, want 4", s, n)
		}
	}
	if n := gl.Remove("subject-005"); n != 0 {
		t.Errorf("second Remove = %d", n)
	}
	if gl.Len() != 36 || len(gl.Subjects()) != 9 {
		t.Errorf("after removal: Len %d, %d subjects", gl.Len(), len(gl.Subjects()))
	}
	got, err := gl.Search(ctx, probes["subject-005/7"], 20)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 9 {
		t.Errorf("%d candidates from 9 subjects", len(got))
	}
	for _, c := range got {
		if c.Subject == "subject-005" {
			t.Error("removed subject found")
		}
		if c.Score != before[c.Subject] {
			t.Errorf("%s: score %v after removals, %v before", c.Subject, c.Score, before[c.Subject])
		}
	}
	// Re-adding reuses the freed slots.
	if err := gl.Add("subject-005", 7, probes["subject-005/7"]); err != nil {
		t.Fatal(err)
	}
	got, _ = gl.Search(ctx, probes["subject-005/7"], 1)
	if got[0].Subject != "subject-005" || got[0].Score < 0.49 {
		t.Errorf("re-added subject: %+v", got[0])
	}
}

func TestGalleryErrors(t *testing.T) {
	gl, _, probes := testGallery(t, GalleryOptions{}, 2)
	other := Params{Width: 128, Height: 64, ShiftRows: 8, ShiftCols: 24}
	bad := mustTemplate(t, other, NewPattern(128, 64))
	if err := gl.Add("x", 1, bad); !errors.Is(err, ErrIncompatible) {
		t.Errorf("Add incompatible: %v", err)
	}
	if _, err := gl.Search(context.Background(), bad, 1); !errors.Is(err, ErrIncompatible) {
		t.Errorf("Search incompatible: %v", err)
	}
	if err := gl.Add("x", 11, probes["subject-000/2"]); !errors.Is(err, ErrFinger) {
		t.Errorf("Add finger 11: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	big := NewGallery(GalleryOptions{Workers: 2})
	tp := probes["subject-000/2"]
	for i := 0; i < 5000; i++ {
		if err := big.Add(fmt.Sprint(i), 1, tp); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := big.Search(ctx, tp, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled search: %v", err)
	}
	if got, err := NewGallery(GalleryOptions{}).Search(context.Background(), tp, 3); err != nil || len(got) != 0 {
		t.Errorf("empty gallery: %v, %v", got, err)
	}
}

// TestGalleryConcurrent adds and removes while searching; run with -race.
func TestGalleryConcurrent(t *testing.T) {
	for _, reps := range []int{-1, 1} {
		t.Run(fmt.Sprintf("representatives=%d", reps), func(t *testing.T) {
			testGalleryConcurrent(t, GalleryOptions{Workers: 2, PreselectAbove: 50, Preselect: 10, PreselectRepresentatives: reps})
		})
	}
}

func testGalleryConcurrent(t *testing.T, opts GalleryOptions) {
	gl, _, probes := testGallery(t, opts, 20)
	pr := probes["subject-003/2"]
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 30; i++ {
				got, err := gl.Search(ctx, pr, 3)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 || got[0].Subject != "subject-003" {
					t.Errorf("search during updates: %+v", got)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 30; i++ {
			s := fmt.Sprintf("temp-%d", i)
			if err := gl.Add(s, 1, probes["subject-010/7"]); err != nil {
				t.Error(err)
				return
			}
			if i%2 == 0 {
				gl.Remove(s)
			}
			gl.Subjects()
		}
	}()
	wg.Wait()
}
