package matcher_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/matcher/eval"
	"github.com/qingshan-gov/veinkiosk/matcher/extract"
)

// BenchmarkGalleryRealRepresentatives compares preselection by one
// representative per (subject, finger) with preselection by every template
// on the real FV-USM crops of ../shared/data (skipped when absent): the
// first three samples of each of the 240 fingers are enrolled, the other
// three are probes. For each kept count (groups; the per-template scan
// keeps three times as many templates, so both compare as many fully) it
// reports how often rank 1 equals the exhaustive search's and is the mate;
// the "cascade" metrics are the per-template preselection with the opt-in
// level-2 first stage (SearchOptions.CoarseFraction = -reps.coarse).
//
//	go test ./matcher -run XXX -bench BenchmarkGalleryRealRepresentatives -benchtime 1x [-reps.medoid] [-reps.coarse 0.25]
var (
	repsMedoid = flag.Bool("reps.medoid", false, "BenchmarkGalleryRealRepresentatives: enrol the medoid sample of each finger first")
	repsCoarse = flag.Float64("reps.coarse", 0.25, "BenchmarkGalleryRealRepresentatives: SearchOptions.CoarseFraction of the cascaded runs")
)

func BenchmarkGalleryRealRepresentatives(b *testing.B) {
	const manifest = "../../shared/data/fvusm-roi-dev/manifest.csv"
	if _, err := os.Stat(manifest); err != nil {
		b.Skip("real data absent:", err)
	}
	entries, err := eval.ReadManifest(manifest)
	if err != nil {
		b.Fatal(err)
	}
	rep, err := eval.Run(context.Background(), eval.Config{Entries: entries, Extract: extract.DefaultOptions(), ShiftRows: 8, ShiftCols: 24})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	gl := matcher.NewGallery(matcher.GalleryOptions{})
	type probe struct {
		key string
		t   *matcher.Template
	}
	var probes []probe
	seen := map[string]int{}
	// With -reps.medoid, each finger's enrolled sample that scores highest
	// against its other two is added first, so it is the representative.
	if *repsMedoid {
		byKey := map[string][]int{}
		for i, e := range entries {
			if rep.Templates[i] != nil {
				k := e.Subject + "/" + e.Finger
				byKey[k] = append(byKey[k], i)
			}
		}
		order := make([]int, 0, len(entries))
		done := map[string]bool{}
		for _, e := range entries {
			k := e.Subject + "/" + e.Finger
			if done[k] {
				continue
			}
			done[k] = true
			idx := byKey[k]
			g := idx[:min(3, len(idx))]
			best, bs := 0, -1.0
			for a := range g {
				pa, _ := matcher.NewProbe(rep.Templates[g[a]])
				sum := 0.0
				for c := range g {
					if c != a {
						sum += pa.Score(rep.Templates[g[c]])
					}
				}
				if sum > bs {
					best, bs = a, sum
				}
			}
			g[0], g[best] = g[best], g[0]
			order = append(order, idx...)
		}
		ne := make([]eval.Entry, len(order))
		nt := make([]*matcher.Template, len(order))
		for j, i := range order {
			ne[j], nt[j] = entries[i], rep.Templates[i]
		}
		entries, rep.Templates = ne, nt
	}
	for i, e := range entries {
		t := rep.Templates[i]
		if t == nil {
			continue
		}
		key := e.Subject + "/" + e.Finger
		if seen[key] < 3 {
			finger, err := strconv.Atoi(e.Finger)
			if err != nil || finger < 0 || finger > 10 {
				b.Fatalf("%s: finger %q is not a position 0..10", e.Path, e.Finger)
			}
			if err := gl.Add(e.Subject, finger, t); err != nil {
				b.Fatal(err)
			}
		} else {
			probes = append(probes, probe{e.Subject, t})
		}
		seen[key]++
	}
	ctx := context.Background()
	for _, keep := range []int{2, 5, 12} {
		b.Run(fmt.Sprintf("keep=%d", keep), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				var n, agreeT, agreeR, agreeC, mateF, mateT, mateR, mateC float64
				for _, p := range probes {
					full, err1 := gl.SearchWith(ctx, p.t, 1, matcher.SearchOptions{Preselect: -1})
					tm, err2 := gl.SearchWith(ctx, p.t, 1, matcher.SearchOptions{Preselect: 3 * keep, Representatives: -1, CoarseFraction: -1})
					tc, err4 := gl.SearchWith(ctx, p.t, 1, matcher.SearchOptions{Preselect: 3 * keep, Representatives: -1, CoarseFraction: *repsCoarse})
					rp, err3 := gl.SearchWith(ctx, p.t, 1, matcher.SearchOptions{Preselect: keep, Representatives: 1})
					if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
						b.Fatal(err1, err2, err3, err4)
					}
					n++
					agreeT += b2f(tm[0].Subject == full[0].Subject)
					agreeR += b2f(rp[0].Subject == full[0].Subject)
					agreeC += b2f(tc[0].Subject == full[0].Subject)
					mateC += b2f(tc[0].Subject == p.key)
					mateF += b2f(full[0].Subject == p.key)
					mateT += b2f(tm[0].Subject == p.key)
					mateR += b2f(rp[0].Subject == p.key)
				}
				b.ReportMetric(n, "probes")
				b.ReportMetric(agreeT/n, "agree-templates")
				b.ReportMetric(agreeR/n, "agree-representatives")
				b.ReportMetric(agreeC/n, "agree-templates-cascade")
				b.ReportMetric(mateC/n, "mate-templates-cascade")
				b.ReportMetric(mateF/n, "mate-exhaustive")
				b.ReportMetric(mateT/n, "mate-templates")
				b.ReportMetric(mateR/n, "mate-representatives")
			}
		})
	}
}

func b2f(ok bool) float64 {
	if ok {
		return 1
	}
	return 0
}
