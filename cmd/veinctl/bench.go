package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/qingshan-gov/veinkiosk/matcher"
)

func init() {
	register(command{
		name:    "bench",
		summary: "measure the matcher: 1:N identification on a synthetic gallery",
		run:     runBench,
	})
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, "usage: veinctl bench identify --gallery N [--k 10] [--queries Q] [--json]")
		if len(args) == 0 {
			return fmt.Errorf("%w: missing sub-command", errUsage)
		}
		return flag.ErrHelp
	}
	switch args[0] {
	case "identify":
		return runBenchIdentify(ctx, args[1:], stdout, stderr)
	default:
		return fmt.Errorf("%w: unknown sub-command %q", errUsage, args[0])
	}
}

// identifyReport is the result of "bench identify" (--json).
type identifyReport struct {
	Gallery          int     `json:"gallery"`
	Queries          int     `json:"queries"`
	FullQueries      int     `json:"full_queries"`
	K                int     `json:"k"`
	Workers          int     `json:"workers"`
	Width            int     `json:"width"`
	Height           int     `json:"height"`
	ShiftRows        int     `json:"shift_rows"`
	ShiftCols        int     `json:"shift_cols"`
	BytesPerTemplate int     `json:"bytes_per_template"`
	EncodedBytes     int     `json:"encoded_template_bytes"`
	BuildSeconds     float64 `json:"build_seconds"`
	Preselect        int     `json:"preselect"`
	DefaultMode      string  `json:"default_mode"`

	FullCPUMs        float64 `json:"full_cpu_ms_mean"`
	PreCPUMs         float64 `json:"preselect_cpu_ms_mean"`
	LoadNote         string  `json:"note"`
	FullP50Ms        float64 `json:"full_p50_ms"`
	FullP99Ms        float64 `json:"full_p99_ms"`
	FullCmpPerSec    float64 `json:"full_comparisons_per_second"`
	PreP50Ms         float64 `json:"preselect_p50_ms"`
	PreP99Ms         float64 `json:"preselect_p99_ms"`
	PreScanPerSec    float64 `json:"preselect_templates_per_second"`
	Rank1Agreement   float64 `json:"rank1_agreement"`
	Rank1CorrectFull float64 `json:"rank1_correct_full"`
	Rank1CorrectPre  float64 `json:"rank1_correct_preselect"`
}

func runBenchIdentify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench identify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("gallery", 10000, "templates in the synthetic gallery (one finger each)")
	k := fs.Int("k", 10, "candidates per search")
	q := fs.Int("queries", 20, "searches (mated: a fresh sample of a gallery finger)")
	fq := fs.Int("full-queries", -1, "of the queries, how many also run the full search for the agreement (-1: all)")
	pre := fs.Int("preselect", matcher.DefaultPreselect, "least number of templates kept by preselection")
	frac := fs.Float64("preselect-fraction", matcher.DefaultPreselectFraction, "fraction of the gallery kept by preselection when more than --preselect")
	workers := fs.Int("workers", 0, "search goroutines (0: GOMAXPROCS)")
	seed := fs.Uint64("seed", 1, "seed of the synthetic data")
	noise := fs.Float64("noise", 0.1, "fraction of vein pixels dropped (and as many spurious ones added) per sample")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n <= 0 || *q <= 0 || *k <= 0 || fs.NArg() != 0 {
		return fmt.Errorf("%w: --gallery, --queries and --k must be positive", errUsage)
	}
	params := matcher.DefaultParams
	params.Extraction = "synthetic"
	r := identifyReport{
		Gallery: *n, Queries: *q, K: *k, Width: params.Width, Height: params.Height,
		ShiftRows: params.ShiftRows, ShiftCols: params.ShiftCols, Preselect: *pre,
		Workers: *workers,
	}
	if r.Workers == 0 {
		r.Workers = runtime.GOMAXPROCS(0)
	}
	gl := matcher.NewGallery(matcher.GalleryOptions{Workers: *workers, Preselect: *pre, PreselectFraction: *frac})
	r.DefaultMode = "full"
	if *n >= matcher.DefaultPreselectAbove {
		r.DefaultMode = "preselect"
	}

	// The gallery: one finger per subject; the query fingers are kept to
	// sample the probes from.
	start := time.Now()
	rng := rand.New(rand.NewPCG(*seed, 1))
	queryOf := map[int]int{} // gallery index -> query number
	for len(queryOf) < min(*q, *n) {
		if i := rng.IntN(*n); !hasKey(queryOf, i) {
			queryOf[i] = len(queryOf)
		}
	}
	queryFingers := make([]*matcher.SynthFinger, len(queryOf))
	subjects := make([]string, len(queryOf))
	nw := runtime.GOMAXPROCS(0)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for w := 0; w < nw; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < *n; i += nw {
				if i%4096 == 0 && ctx.Err() != nil {
					return
				}
				rg := rand.New(rand.NewPCG(*seed, uint64(i)+2))
				f := matcher.NewSynthFinger(rg, params.Width, params.Height)
				t, err := matcher.NewTemplate(params, f.Sample(rg, params.ShiftRows/2, params.ShiftCols/2, *noise), nil, 80, 2)
				subj := fmt.Sprintf("s%08d", i)
				if err == nil {
					err = gl.Add(subj, 2, t)
				}
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if j, ok := queryOf[i]; ok {
					queryFingers[j], subjects[j] = f, subj
					if r.EncodedBytes == 0 {
						b, _ := t.MarshalBinary()
						r.EncodedBytes = len(b)
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r.BuildSeconds = time.Since(start).Seconds()
	r.BytesPerTemplate = gl.BytesPerTemplate()
	r.Preselect = gl.PreselectCount()
	if !*asJSON {
		fmt.Fprintf(stderr, "gallery of %d templates built in %.1f s\n", *n, r.BuildSeconds)
	}

	var full, presel []time.Duration
	agree, okFull, okPre := 0, 0, 0
	var cpuFull, cpuPre time.Duration
	for j, f := range queryFingers {
		probe, err := matcher.NewTemplate(params, f.Sample(rng, params.ShiftRows/2, params.ShiftCols/2, *noise), nil, 80, 2)
		if err != nil {
			return err
		}
		c1, t1 := processCPU(), time.Now()
		cp, err := gl.SearchWith(ctx, probe, *k, matcher.SearchOptions{Preselect: r.Preselect})
		if err != nil {
			return err
		}
		c2, t2 := processCPU(), time.Now()
		cpuPre += c2 - c1
		presel = append(presel, t2.Sub(t1))
		if *fq < 0 || j < *fq {
			c0, t0 := processCPU(), time.Now()
			cf, err := gl.SearchWith(ctx, probe, *k, matcher.SearchOptions{Preselect: -1})
			if err != nil {
				return err
			}
			c1, t1 := processCPU(), time.Now()
			cpuFull += c1 - c0
			full = append(full, t1.Sub(t0))
			if len(cf) > 0 && len(cp) > 0 && cf[0].Subject == cp[0].Subject {
				agree++
			}
			if len(cf) > 0 && cf[0].Subject == subjects[j] {
				okFull++
			}
		}
		if len(cp) > 0 && cp[0].Subject == subjects[j] {
			okPre++
		}
	}
	nq, nf := float64(len(queryFingers)), float64(max(1, len(full)))
	r.Queries, r.FullQueries = len(queryFingers), len(full)
	r.FullP50Ms, r.FullP99Ms = percentileMs(full, 0.50), percentileMs(full, 0.99)
	r.PreP50Ms, r.PreP99Ms = percentileMs(presel, 0.50), percentileMs(presel, 0.99)
	r.FullCmpPerSec = float64(*n) / (r.FullP50Ms / 1000)
	r.PreScanPerSec = float64(*n) / (r.PreP50Ms / 1000)
	r.FullCPUMs = float64(cpuFull.Microseconds()) / 1000 / nf
	r.PreCPUMs = float64(cpuPre.Microseconds()) / 1000 / nq
	r.LoadNote = "latencies are wall clock; cpu_ms is the CPU time of all search goroutines (robust to other load on a shared machine)"
	r.Rank1Agreement = float64(agree) / nf
	r.Rank1CorrectFull = float64(okFull) / nf
	r.Rank1CorrectPre = float64(okPre) / nq

	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	fmt.Fprintf(stdout, "gallery %d templates of %dx%d (shifts ±%d rows, ±%d cols), %d B each in memory, %d B encoded; %d workers\n",
		r.Gallery, r.Width, r.Height, r.ShiftRows, r.ShiftCols, r.BytesPerTemplate, r.EncodedBytes, r.Workers)
	fmt.Fprintf(stdout, "full search:      p50 %8.2f ms  p99 %8.2f ms  %12.0f comparisons/s  cpu %8.2f ms/search\n", r.FullP50Ms, r.FullP99Ms, r.FullCmpPerSec, r.FullCPUMs)
	fmt.Fprintf(stdout, "preselect %6d: p50 %8.2f ms  p99 %8.2f ms  %12.0f templates/s   cpu %8.2f ms/search\n", r.Preselect, r.PreP50Ms, r.PreP99Ms, r.PreScanPerSec, r.PreCPUMs)
	fmt.Fprintf(stdout, "rank-1 agreement preselect vs full: %.2f %% of %d queries; rank-1 correct: full %.2f %% of %d, preselect %.2f %% of %d\n",
		100*r.Rank1Agreement, r.FullQueries, 100*r.Rank1CorrectFull, r.FullQueries, 100*r.Rank1CorrectPre, r.Queries)
	fmt.Fprintf(stdout, "default search at this size: %s\n", r.DefaultMode)
	return nil
}

func percentileMs(d []time.Duration, p float64) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	i := min(len(s)-1, int(p*float64(len(s))))
	return float64(s[i].Microseconds()) / 1000
}

// processCPU returns the CPU time (user + system) of the process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func hasKey(m map[int]int, k int) bool {
	_, ok := m[k]
	return ok
}
