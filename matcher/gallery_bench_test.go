package matcher

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
)

var (
	dedupResidents = flag.Int("dedup.residents", 100_000, "residents (2 fingers x 3 samples) in the BenchmarkGalleryDedup gallery")
	dedupNoise     = flag.Float64("dedup.noise", 0.1, "noise of the BenchmarkGalleryDedup samples")
	dedupOnce      sync.Once
	dedupGallery   *Gallery
	dedupProbes    [][2]*Template // per probed resident: a fresh sample of each finger
	dedupMates     []string
)

// dedupSetup builds the server-shaped gallery: every resident has two
// fingers of three samples each; 32 residents get a fresh probe sample of
// each finger.
func dedupSetup(b *testing.B) {
	dedupOnce.Do(func() {
		p := DefaultParams
		n := *dedupResidents
		gl := NewGallery(GalleryOptions{})
		probed := map[int]bool{}
		for r := 0; len(probed) < min(32, n); r++ {
			probed[rand.New(rand.NewPCG(7, uint64(r))).IntN(n)] = true
		}
		nw := runtime.GOMAXPROCS(0)
		var mu sync.Mutex
		var wg sync.WaitGroup
		for w := 0; w < nw; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := w; r < n; r += nw {
					rng := rand.New(rand.NewPCG(8, uint64(r)))
					subj := fmt.Sprintf("r%07d", r)
					var pr [2]*Template
					for fi, finger := range []int{2, 3} {
						f := NewSynthFinger(rng, p.Width, p.Height)
						for i := 0; i < 3; i++ {
							t, err := NewTemplate(p, f.Sample(rng, 3, 6, *dedupNoise), nil, 80, uint8(finger))
							if err == nil {
								err = gl.Add(subj, finger, t)
							}
							if err != nil {
								panic(err)
							}
						}
						if probed[r] {
							pr[fi], _ = NewTemplate(p, f.Sample(rng, 3, 6, *dedupNoise), nil, 80, uint8(finger))
						}
					}
					if probed[r] {
						mu.Lock()
						dedupProbes, dedupMates = append(dedupProbes, pr), append(dedupMates, subj)
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		dedupGallery = gl
	})
	if dedupGallery == nil {
		b.Fatal("no gallery")
	}
}

// BenchmarkGalleryDedup measures an enrolment deduplication as the server
// runs it: the two fingers' probes searched at once (k = 5), preselecting
// by every template or by one representative per (subject, finger).
//
//	go test -run XXX -bench BenchmarkGalleryDedup -benchtime 10x ./matcher
func BenchmarkGalleryDedup(b *testing.B) {
	dedupSetup(b)
	ctx := context.Background()
	for _, mode := range []struct {
		name   string
		reps   int
		coarse float64
	}{
		{"preselect=templates", -1, 0},
		{"preselect=templates/cascade=0.25", -1, 0.25},
		{"preselect=representatives", 1, 0},
	} {
		b.Run(mode.name, func(b *testing.B) {
			so := SearchOptions{Representatives: mode.reps, CoarseFraction: mode.coarse}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				pr := dedupProbes[i%len(dedupProbes)]
				var wg sync.WaitGroup
				for _, p := range pr {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if _, err := dedupGallery.SearchWith(ctx, p, 5, so); err != nil {
							b.Error(err)
						}
					}()
				}
				wg.Wait()
			}
		})
	}
}

// BenchmarkGalleryDedupRecall reports, over the probes of the dedup
// gallery, how often each preselection's rank 1 agrees with the
// exhaustive search's and is the mate (run with -benchtime 1x; the
// exhaustive searches take seconds each): by every template, by every
// template with the level-2 cascade (CoarseFraction 0.25), by
// representatives.
func BenchmarkGalleryDedupRecall(b *testing.B) {
	dedupSetup(b)
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		var n, agreeT, agreeC, agreeR, mateT, mateC, mateR, mateF float64
		for j, pr := range dedupProbes {
			for _, p := range pr {
				full, err1 := dedupGallery.SearchWith(ctx, p, 5, SearchOptions{Preselect: -1})
				tm, err2 := dedupGallery.SearchWith(ctx, p, 5, SearchOptions{Representatives: -1})
				rp, err3 := dedupGallery.SearchWith(ctx, p, 5, SearchOptions{Representatives: 1})
				tc, err4 := dedupGallery.SearchWith(ctx, p, 5, SearchOptions{Representatives: -1, CoarseFraction: 0.25})
				if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
					b.Fatal(err1, err2, err3, err4)
				}
				agreeC += b2f(tc[0] == full[0])
				mateC += b2f(tc[0].Subject == dedupMates[j])
				n++
				agreeT += b2f(tm[0] == full[0])
				agreeR += b2f(rp[0] == full[0])
				mateF += b2f(full[0].Subject == dedupMates[j])
				mateT += b2f(tm[0].Subject == dedupMates[j])
				mateR += b2f(rp[0].Subject == dedupMates[j])
			}
		}
		b.ReportMetric(n, "probes")
		b.ReportMetric(agreeT/n, "agree-templates")
		b.ReportMetric(agreeC/n, "agree-cascade")
		b.ReportMetric(agreeR/n, "agree-representatives")
		b.ReportMetric(mateF/n, "mate-exhaustive")
		b.ReportMetric(mateT/n, "mate-templates")
		b.ReportMetric(mateC/n, "mate-cascade")
		b.ReportMetric(mateR/n, "mate-representatives")
	}
}

func b2f(ok bool) float64 {
	if ok {
		return 1
	}
	return 0
}
