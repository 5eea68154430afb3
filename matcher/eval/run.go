package eval

import (
	"context"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/matcher/extract"
)

// Config is one evaluation.
type Config struct {
	Entries []Entry
	Extract extract.Options
	// ShiftRows and ShiftCols bound the search of the best alignment in
	// template pixels (Miura's ch and cw).
	ShiftRows, ShiftCols int
	// Tolerance selects the experimental ToleranceComparator.
	Tolerance bool
	// Exact uses the exhaustive displacement search.
	Exact bool
	// Finger is stored in the templates (ISO/IEC 19794 position, 0 unknown).
	Finger uint8
	// AllImpostors compares every two images of different fingers as
	// impostors (about images²/2 comparisons, to resolve low FMRs for a
	// calibration) instead of the FVC protocol's first samples. Those
	// scores are kept in Scores.Impostor only, not in Comparisons.
	AllImpostors bool
	// Workers is the number of goroutines (default GOMAXPROCS).
	Workers int
	// Progress, if set, receives progress lines.
	Progress io.Writer
}

// Comparison is one scored pair: Enrolled and Probe index Config.Entries.
type Comparison struct {
	Enrolled, Probe int
	Genuine         bool
	Score           float64
}

// Failure is an image that could not be turned into a template.
type Failure struct {
	Index int
	Err   string
}

// Report is the outcome of Run.
type Report struct {
	Entries     []Entry
	Results     []*extract.Result // nil where extraction failed
	Templates   []*matcher.Template
	Params      matcher.Params
	ExtractTime []time.Duration // per image, wall time while all workers ran
	Failures    []Failure
	Comparisons []Comparison
	Scores      Scores
	// CompareTime is the time of single comparisons measured on one
	// goroutine after the run (preparing the probe included).
	CompareTime []time.Duration
	// ScoreTime is the part of CompareTime spent scoring with an already
	// prepared probe (the cost per candidate of a 1:N search).
	ScoreTime []time.Duration
	Fingers   int
	// ImpostorProtocol is ImpostorsFVC or ImpostorsAll.
	ImpostorProtocol string
}

// The impostor protocols.
const (
	ImpostorsFVC = "fvc-first-samples"
	ImpostorsAll = "all-cross-finger-pairs"
)

// Comparator turns a probe template into a function scoring enrolled
// templates; Prepare is called once per probe image.
type Comparator interface {
	Prepare(probe *matcher.Template) (func(enrolled *matcher.Template) float64, error)
}

// MatcherComparator is the production comparison: matcher.Probe.Score
// (coarse-to-fine search), or with Exact the exhaustive ScoreExact.
type MatcherComparator struct{ Exact bool }

// Prepare implements Comparator.
func (m MatcherComparator) Prepare(t *matcher.Template) (func(*matcher.Template) float64, error) {
	p, err := matcher.NewProbe(t)
	if err != nil {
		return nil, err
	}
	if m.Exact {
		return p.ScoreExact, nil
	}
	return p.Score, nil
}

// ToleranceComparator is an experimental variant of Miura's score, not the
// production one: a vein pixel of the enrolled pattern counts as matched
// when the probe has a vein within one pixel of it.
type ToleranceComparator struct{}

// Prepare implements Comparator.
func (ToleranceComparator) Prepare(t *matcher.Template) (func(*matcher.Template) float64, error) {
	cw := min(t.ShiftCols, (t.Vein.W-1)/2)
	ch := min(t.ShiftRows, (t.Vein.H-1)/2)
	q := newProbe(t.Vein, cw)
	q.dil = newProbe(dilate(t.Vein), cw).shifted
	return func(e *matcher.Template) float64 { return q.score(e.Vein, ch) }, nil
}

// Pairs returns the FVC protocol over entries: genuine comparisons between
// every two samples of a finger, impostor comparisons between the first
// samples of every two fingers, in manifest order. ok[i] false excludes
// image i (failed extraction); a finger's first sample is then its first
// usable one. The earlier image is the enrolled one.
func Pairs(entries []Entry, ok []bool) (pairs []Comparison, fingers int) {
	byFinger := map[string][]int{}
	var order []string
	for i, e := range entries {
		k := e.Key()
		if _, seen := byFinger[k]; !seen {
			order = append(order, k)
		}
		if ok == nil || ok[i] {
			byFinger[k] = append(byFinger[k], i)
		} else if byFinger[k] == nil {
			byFinger[k] = []int{}
		}
	}
	var firsts []int
	for _, k := range order {
		s := byFinger[k]
		for a := 0; a < len(s); a++ {
			for b := a + 1; b < len(s); b++ {
				pairs = append(pairs, Comparison{Enrolled: s[a], Probe: s[b], Genuine: true})
			}
		}
		if len(s) > 0 {
			firsts = append(firsts, s[0])
		}
	}
	for a := 0; a < len(firsts); a++ {
		for b := a + 1; b < len(firsts); b++ {
			pairs = append(pairs, Comparison{Enrolled: firsts[a], Probe: firsts[b]})
		}
	}
	return pairs, len(order)
}

// Run extracts every image and scores the protocol's pairs with the
// production comparison (matcher.Probe.Score), on all cores.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	var c Comparator = MatcherComparator{Exact: cfg.Exact}
	if cfg.Tolerance {
		c = ToleranceComparator{}
	}
	return RunWith(ctx, cfg, c)
}

// RunWith is Run with another comparator.
func RunWith(ctx context.Context, cfg Config, cmp Comparator) (*Report, error) {
	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	n := len(cfg.Entries)
	params := cfg.Extract.Params(cfg.ShiftRows, cfg.ShiftCols)
	if err := params.Validate(); err != nil {
		return nil, err
	}
	rep := &Report{Entries: cfg.Entries, Results: make([]*extract.Result, n), Templates: make([]*matcher.Template, n),
		ExtractTime: make([]time.Duration, n), Params: params, ImpostorProtocol: ImpostorsFVC}
	if cfg.AllImpostors {
		rep.ImpostorProtocol = ImpostorsAll
	}
	errs := make([]error, n)
	start := time.Now()
	var done atomic.Int64
	progress := func(stage string, d, total int64) {
		if cfg.Progress != nil && (d%50 == 0 || d == total) {
			fmt.Fprintf(cfg.Progress, "\r%s %d/%d  %.0fs", stage, d, total, time.Since(start).Seconds())
			if d == total {
				fmt.Fprintln(cfg.Progress)
			}
		}
	}
	parallel(ctx, workers, n, func(i int) {
		img, err := LoadImage(cfg.Entries[i].Path)
		if err == nil {
			t1 := time.Now()
			rep.Results[i], err = extract.Extract(img, cfg.Extract)
			rep.ExtractTime[i] = time.Since(t1)
		}
		if err == nil {
			rep.Templates[i], err = rep.Results[i].Template(params, cfg.Finger)
		}
		errs[i] = err
		progress("extract", done.Add(1), int64(n))
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ok := make([]bool, n)
	for i, err := range errs {
		ok[i] = err == nil
		if err != nil {
			rep.Failures = append(rep.Failures, Failure{i, err.Error()})
		}
	}
	pairs, fingers := Pairs(cfg.Entries, ok)
	rep.Fingers = fingers
	full, _ := Pairs(cfg.Entries, nil)
	for _, p := range full {
		if p.Genuine && !(ok[p.Enrolled] && ok[p.Probe]) {
			rep.Scores.GenuineFailed++
		}
	}
	if cfg.AllImpostors {
		pairs = slices.DeleteFunc(pairs, func(c Comparison) bool { return !c.Genuine })
	}
	// Group by probe so each probe is prepared once.
	byProbe := map[int][]int{}
	var probes []int
	for pi, p := range pairs {
		if _, seen := byProbe[p.Probe]; !seen {
			probes = append(probes, p.Probe)
		}
		byProbe[p.Probe] = append(byProbe[p.Probe], pi)
	}
	done.Store(0)
	total := int64(len(pairs))
	var prepErr atomic.Pointer[error]
	parallel(ctx, workers, len(probes), func(j int) {
		b := probes[j]
		sc, err := cmp.Prepare(rep.Templates[b])
		if err != nil {
			prepErr.CompareAndSwap(nil, &err)
			return
		}
		for _, pi := range byProbe[b] {
			pairs[pi].Score = sc(rep.Templates[pairs[pi].Enrolled])
			if d := done.Add(1); d%2000 == 0 || d == total {
				progress("compare", d, total)
			}
		}
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if e := prepErr.Load(); e != nil {
		return nil, *e
	}
	if cfg.AllImpostors {
		im, err := allImpostors(ctx, cfg, cmp, rep.Templates, ok, workers, start)
		if err != nil {
			return nil, err
		}
		rep.Scores.Impostor = im
	}
	rep.Comparisons = pairs
	for _, p := range pairs {
		if p.Genuine {
			rep.Scores.Genuine = append(rep.Scores.Genuine, p.Score)
		} else {
			rep.Scores.Impostor = append(rep.Scores.Impostor, p.Score)
		}
	}
	// One-core timing of single 1:1 comparisons, probe preparation included.
	step := max(1, len(pairs)/1000)
	for i := 0; i < len(pairs); i += step {
		p := pairs[i]
		t0 := time.Now()
		sc, err := cmp.Prepare(rep.Templates[p.Probe])
		if err != nil {
			return nil, err
		}
		t1 := time.Now()
		_ = sc(rep.Templates[p.Enrolled])
		t2 := time.Now()
		rep.CompareTime = append(rep.CompareTime, t2.Sub(t0))
		rep.ScoreTime = append(rep.ScoreTime, t2.Sub(t1))
	}
	return rep, nil
}

// allImpostors scores every two usable images of different fingers, the
// later image as the probe.
func allImpostors(ctx context.Context, cfg Config, cmp Comparator, ts []*matcher.Template, ok []bool, workers int, start time.Time) ([]float64, error) {
	n := len(ts)
	per := make([][]float64, n)
	var total int64
	for b := range n {
		for a := range b {
			if ok[a] && ok[b] && cfg.Entries[a].Key() != cfg.Entries[b].Key() {
				total++
			}
		}
	}
	var done atomic.Int64
	var prepErr atomic.Pointer[error]
	var mu sync.Mutex
	parallel(ctx, workers, n, func(b int) {
		if !ok[b] {
			return
		}
		sc, err := cmp.Prepare(ts[b])
		if err != nil {
			prepErr.CompareAndSwap(nil, &err)
			return
		}
		kb := cfg.Entries[b].Key()
		for a := range b {
			if ok[a] && cfg.Entries[a].Key() != kb {
				per[b] = append(per[b], sc(ts[a]))
			}
		}
		if d := done.Add(int64(len(per[b]))); cfg.Progress != nil && (d/200000 != (d-int64(len(per[b])))/200000 || d == total) {
			mu.Lock()
			fmt.Fprintf(cfg.Progress, "\rimpostors %d/%d  %.0fs", d, total, time.Since(start).Seconds())
			if d == total {
				fmt.Fprintln(cfg.Progress)
			}
			mu.Unlock()
		}
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if e := prepErr.Load(); e != nil {
		return nil, *e
	}
	out := make([]float64, 0, total)
	for _, p := range per {
		out = append(out, p...)
	}
	return out, nil
}

// parallel runs fn(0..n-1) on workers goroutines, stopping early when ctx
// is cancelled.
func parallel(ctx context.Context, workers, n int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// durationsP50 returns the median of d in the given unit.
func durationsP50(d []time.Duration, unit time.Duration) float64 {
	if len(d) == 0 {
		return math.NaN()
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return float64(s[len(s)/2]) / float64(unit)
}
