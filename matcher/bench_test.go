package matcher

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
)

// synthTemplates returns n synthetic templates of DefaultParams geometry,
// one per finger, and probes: fresh samples of the first q fingers.
func synthTemplates(tb testing.TB, seed uint64, n, q int) (gallery, probes []*Template) {
	tb.Helper()
	rng := rand.New(rand.NewPCG(seed, 99))
	p := DefaultParams
	for i := 0; i < n; i++ {
		f := NewSynthFinger(rng, p.Width, p.Height)
		gallery = append(gallery, mustTemplate(tb, p, f.Sample(rng, p.ShiftRows/2, p.ShiftCols/2, 0.1)))
		if i < q {
			probes = append(probes, mustTemplate(tb, p, f.Sample(rng, p.ShiftRows/2, p.ShiftCols/2, 0.1)))
		}
	}
	return gallery, probes
}

func benchPair(b *testing.B) (*Probe, *Template) {
	g, pr := synthTemplates(b, 7, 1, 1)
	p, err := NewProbe(pr[0])
	if err != nil {
		b.Fatal(err)
	}
	return p, g[0]
}

func BenchmarkScoreCoarseToFine(b *testing.B) {
	p, c := benchPair(b)
	cpuLoop(b, func() { p.Score(c) })
}

func BenchmarkScoreExact(b *testing.B) {
	p, c := benchPair(b)
	cpuLoop(b, func() { p.ScoreExact(c) })
}

func BenchmarkReferenceMiuraScore(b *testing.B) {
	p, c := benchPair(b)
	cpuLoop(b, func() { ReferenceMiuraScore(c.Vein, p.t.Vein, 8, 24) })
}

func BenchmarkNewProbe(b *testing.B) {
	_, pr := synthTemplates(b, 7, 1, 1)
	cpuLoop(b, func() {
		if _, err := NewProbe(pr[0]); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkGalleryScan measures the per-template cost inside a gallery
// (pyramids precomputed), on one goroutine.
func BenchmarkGalleryScan(b *testing.B) {
	g, pr := synthTemplates(b, 8, 1000, 1)
	gl := NewGallery(GalleryOptions{Workers: 1, PreselectAbove: -1})
	for i, t := range g {
		if err := gl.Add(fmt.Sprint(i), 1, t); err != nil {
			b.Fatal(err)
		}
	}
	p := newProbe(pr[0], gl.g)
	var c cand
	b.Run("coarse-to-fine", func(b *testing.B) {
		i := 0
		cpuLoop(b, func() {
			gl.candAt(i%1000, &c)
			p.scoreCoarseToFine(&c)
			i++
		})
	})
	b.Run("preselect", func(b *testing.B) {
		i := 0
		cpuLoop(b, func() {
			j := i % 1000
			s := gl.slot2(j)
			p.refine1(s[:gl.lens[1]], int(gl.entries[j].ones1), p.coarseBest(s[gl.lens[1]:]))
			i++
		})
	})
}

var galleryCache = map[int]*Gallery{}

func benchGallery(b *testing.B, n int) (*Gallery, []*Template) {
	g, pr := synthTemplates(b, 11, n, 16)
	gl := galleryCache[n]
	if gl == nil {
		gl = NewGallery(GalleryOptions{})
		for i, t := range g {
			if err := gl.Add(fmt.Sprint(i), 1, t); err != nil {
				b.Fatal(err)
			}
		}
		galleryCache[n] = gl
	}
	return gl, pr
}

func BenchmarkSearch(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("full/N=%d", n), func(b *testing.B) {
			gl, pr := benchGallery(b, n)
			benchSearch(b, gl, pr, n, SearchOptions{Preselect: -1})
		})
		b.Run(fmt.Sprintf("preselect/N=%d", n), func(b *testing.B) {
			gl, pr := benchGallery(b, n)
			benchSearch(b, gl, pr, n, SearchOptions{Preselect: gl.PreselectCount()})
		})
	}
}

// benchSearch reports wall time per search, the CPU time of the whole
// process per search (all search goroutines) and templates per second.
func benchSearch(b *testing.B, gl *Gallery, pr []*Template, n int, so SearchOptions) {
	i := 0
	start := processCPUTime()
	for b.Loop() {
		if _, err := gl.SearchWith(context.Background(), pr[i%len(pr)], 10, so); err != nil {
			b.Fatal(err)
		}
		i++
	}
	if d := processCPUTime() - start; d > 0 {
		b.ReportMetric(float64(d.Nanoseconds())/float64(i), "cpu-ns/op")
	}
	b.ReportMetric(float64(n)*float64(i)/b.Elapsed().Seconds(), "templates/s")
}
