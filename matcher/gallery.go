package matcher

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"unsafe"
)

// GalleryOptions tune a Gallery. The zero value is ready to use.
type GalleryOptions struct {
	// Workers is the number of goroutines a search uses; 0 means
	// runtime.GOMAXPROCS(0).
	Workers int
	// PreselectAbove is the gallery size (templates) from which a search
	// first ranks every template by the cheap 4 x 4 pooled score and then
	// compares only the best Preselect of them fully. 0 means
	// DefaultPreselectAbove; a negative value disables preselection.
	PreselectAbove int
	// Preselect is the least number of templates kept by preselection; 0
	// means DefaultPreselect.
	Preselect int
	// PreselectFraction is the fraction of the gallery kept by
	// preselection when that is more than Preselect; 0 means
	// DefaultPreselectFraction, a negative value none. The rank of the
	// true mate in the preselection ranking grows with the gallery, so a
	// fixed count would lose recall as the gallery grows.
	PreselectFraction float64
	// PreselectRepresentatives chooses what the preselection scan ranks:
	// 0 means DefaultPreselectRepresentatives, > 0 one representative
	// template per (subject, finger) group (its first-added sample), after
	// which every sample of the kept groups is compared fully; < 0 every
	// template. With representatives, Preselect and PreselectFraction
	// count groups instead of templates. With three samples per finger the
	// scan is three times shorter for the same number of full comparisons.
	PreselectRepresentatives int
	// CoarseFraction, opt-in, makes the preselection a cascade: only the
	// share CoarseFraction of the templates (groups, with representatives)
	// with the best level-2 score (a cheaper first stage) get the
	// preselection score at all. 0 (the default), a negative value or 1
	// mean no cascade. The cut is placed per search on a sample of the
	// gallery. At 0.25 it makes a preselecting search about a quarter
	// cheaper but lost the exhaustive search's rank 1 for 1 of 720 real
	// FV-USM probes that the plain preselection kept
	// (docs/template-format.md), so it is off by default.
	CoarseFraction float64
	// Exact scores with the exhaustive search (Probe.ScoreExact) instead
	// of the coarse-to-fine one; about 20 times slower.
	Exact bool
}

// Defaults of GalleryOptions.
const (
	DefaultPreselectAbove    = 200_000
	DefaultPreselect         = 512
	DefaultPreselectFraction = 0.02
	// DefaultPreselectRepresentatives: off. Preselection by one
	// representative per (subject, finger) group is three times cheaper
	// with three samples per finger and lost no rank-1 result on synthetic
	// galleries, but on real FV-USM crops it lost about 5 % of the rank-1
	// agreement with the exhaustive search (docs/template-format.md), so it
	// is opt-in.
	DefaultPreselectRepresentatives = false
)

// coarseSample is about the number of templates whose level-2 score a
// cascaded preselection computes first to place its cut.
const coarseSample = 8192

// Candidate is a search result: a subject, the finger of its best-scoring
// template and that score.
type Candidate struct {
	Subject string
	Finger  int
	Score   float64
}

// ErrFinger reports a finger position outside 0..10.
var ErrFinger = errors.New("matcher: finger position outside 0..10")

// entry is the metadata of one template in the gallery.
type entry struct {
	subj   int32
	finger uint8
	rep    bool  // the representative of its (subject, finger) group
	ones0  int32 // ones of the level-0 crop
	ones1  int32 // ones of the level-1 crop
	ones2  int32 // ones of the level-2 crop
}

const chunkEntries = 4096

// Gallery is an in-memory 1:N gallery. Templates of all subjects must be
// compatible with each other (same algorithm, parameters and geometry);
// the first one added fixes them. The comparison data of all templates is
// packed in large contiguous chunks (only the enrolled crop rows of the
// three pyramid levels: about 1.6 KiB for a 192 x 64 template). Add, Remove
// and searches may run concurrently.
type Gallery struct {
	opts GalleryOptions

	mu        sync.RWMutex
	ref       *Template // parameters of the gallery (nil until the first Add)
	g         *geometry
	slotWords int
	lens      [nLevels]int
	chunks    [][]uint64
	entries   []entry
	subjName  []string
	subjID    map[string]int32
	subjSlots [][]int32
	freeSubj  []int32
	nSubj     int
	nGroups   int // (subject, finger) groups, i.e. representatives
	scratch   []uint64
}

// NewGallery returns an empty gallery.
func NewGallery(opts GalleryOptions) *Gallery {
	return &Gallery{opts: opts, subjID: map[string]int32{}}
}

// setRef makes t's parameters and geometry the gallery's.
func (gl *Gallery) setRef(t *Template) {
	ref := *t
	ref.Vein, ref.Mask = nil, nil
	gl.ref = &ref
	gl.ref.Vein = NewPattern(t.Vein.W, t.Vein.H)
	gl.g = newGeometry(t.Vein.W, t.Vein.H, t.ShiftRows, t.ShiftCols)
	gl.slotWords = 0
	for l := range gl.lens {
		if l == 0 || !gl.g.exhaustive {
			gl.lens[l] = gl.g.lv[l].cropWords()
		}
		gl.slotWords += gl.lens[l]
	}
	gl.scratch = make([]uint64, gl.g.pyramidWords())
}

// A chunk holds chunkEntries templates: first the level-0 crops of each
// (slot), then, contiguous for the preselection scan, the level-1 and
// level-2 crops of each (slot2).

func (gl *Gallery) slot(i int) []uint64 {
	c := gl.chunks[i/chunkEntries]
	n := gl.lens[0]
	o := (i % chunkEntries) * n
	return c[o : o+n]
}

func (gl *Gallery) slot2(i int) []uint64 {
	c := gl.chunks[i/chunkEntries]
	n := gl.lens[1] + gl.lens[2]
	o := chunkEntries*gl.lens[0] + (i%chunkEntries)*n
	return c[o : o+n]
}

func (gl *Gallery) candAt(i int, c *cand) {
	c.crop[0] = gl.slot(i)
	s := gl.slot2(i)
	c.crop[1] = s[:gl.lens[1]]
	c.crop[2] = s[gl.lens[1]:]
	c.ones0 = int(gl.entries[i].ones0)
}

// Add enrols template t for the finger of subject. A subject may have
// several fingers and several templates per finger.
func (gl *Gallery) Add(subject string, finger int, t *Template) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if finger < 0 || finger > 10 {
		return fmt.Errorf("%w: %d", ErrFinger, finger)
	}
	if subject == "" {
		return errors.New("matcher: empty subject")
	}
	gl.mu.Lock()
	defer gl.mu.Unlock()
	if gl.ref == nil {
		if t.Algorithm != AlgorithmVersion {
			return fmt.Errorf("%w: algorithm version %d, this matcher is %d", ErrIncompatible, t.Algorithm, AlgorithmVersion)
		}
		gl.setRef(t)
	}
	if err := compatible(gl.ref, t); err != nil {
		return err
	}
	var c cand
	gl.g.buildPyramid(&c, t.Vein.Bits, gl.scratch)
	ones1, ones2 := 0, 0
	if !gl.g.exhaustive {
		ones1 = maskedCount(c.crop[1], gl.g.lv[1].colMask)
		ones2 = maskedCount(c.crop[2], gl.g.lv[2].colMask)
	}
	i := len(gl.entries)
	if i/chunkEntries == len(gl.chunks) {
		gl.chunks = append(gl.chunks, make([]uint64, chunkEntries*gl.slotWords))
	}
	copy(gl.slot(i), c.crop[0])
	s := gl.slot2(i)
	copy(s, c.crop[1])
	copy(s[gl.lens[1]:], c.crop[2])
	id, ok := gl.subjID[subject]
	if !ok {
		if n := len(gl.freeSubj); n > 0 {
			id, gl.freeSubj = gl.freeSubj[n-1], gl.freeSubj[:n-1]
			gl.subjName[id] = subject
		} else {
			id = int32(len(gl.subjName))
			gl.subjName = append(gl.subjName, subject)
			gl.subjSlots = append(gl.subjSlots, nil)
		}
		gl.subjID[subject] = id
		gl.nSubj++
	}
	rep := true
	for _, j := range gl.subjSlots[id] {
		if gl.entries[j].finger == uint8(finger) {
			rep = false
			break
		}
	}
	if rep {
		gl.nGroups++
	}
	gl.entries = append(gl.entries, entry{subj: id, finger: uint8(finger), rep: rep, ones0: int32(c.ones0), ones1: int32(ones1), ones2: int32(ones2)})
	gl.subjSlots[id] = append(gl.subjSlots[id], int32(i))
	return nil
}

// Remove deletes every template of subject and returns how many there were.
func (gl *Gallery) Remove(subject string) int {
	gl.mu.Lock()
	defer gl.mu.Unlock()
	id, ok := gl.subjID[subject]
	if !ok {
		return 0
	}
	slots := slices.Clone(gl.subjSlots[id])
	slices.Sort(slots)
	for _, i := range slots {
		if gl.entries[i].rep {
			gl.nGroups--
		}
	}
	for k := len(slots) - 1; k >= 0; k-- {
		i, last := int(slots[k]), len(gl.entries)-1
		if i != last {
			copy(gl.slot(i), gl.slot(last))
			copy(gl.slot2(i), gl.slot2(last))
			e := gl.entries[last]
			gl.entries[i] = e
			if e.subj != id {
				ss := gl.subjSlots[e.subj]
				ss[slices.Index(ss, int32(last))] = int32(i)
			}
		}
		gl.entries = gl.entries[:last]
		if last%chunkEntries == 0 {
			gl.chunks[len(gl.chunks)-1] = nil
			gl.chunks = gl.chunks[:len(gl.chunks)-1]
		}
	}
	delete(gl.subjID, subject)
	gl.subjSlots[id] = nil
	gl.subjName[id] = ""
	gl.freeSubj = append(gl.freeSubj, id)
	gl.nSubj--
	return len(slots)
}

// Len returns the number of templates.
func (gl *Gallery) Len() int {
	gl.mu.RLock()
	defer gl.mu.RUnlock()
	return len(gl.entries)
}

// Subjects returns the enrolled subjects, sorted.
func (gl *Gallery) Subjects() []string {
	gl.mu.RLock()
	out := make([]string, 0, gl.nSubj)
	for s := range gl.subjID {
		out = append(out, s)
	}
	gl.mu.RUnlock()
	slices.Sort(out)
	return out
}

// Verify compares probe with every template of subject (1:1) and returns
// the best score. ok is false when the subject is not enrolled or the probe
// is not compatible with the gallery.
func (gl *Gallery) Verify(subject string, probe *Template) (score float64, ok bool) {
	gl.mu.RLock()
	defer gl.mu.RUnlock()
	id, found := gl.subjID[subject]
	if !found || probe.Validate() != nil || compatible(gl.ref, probe) != nil {
		return 0, false
	}
	p := newProbe(probe, gl.g)
	var c cand
	for _, i := range gl.subjSlots[id] {
		gl.candAt(int(i), &c)
		score = max(score, gl.scoreCand(p, &c))
	}
	return score, true
}

func (gl *Gallery) scoreCand(p *Probe, c *cand) float64 {
	if gl.opts.Exact || gl.g.exhaustive {
		return p.scoreExact(c)
	}
	return p.scoreCoarseToFine(c)
}

// Search returns the k subjects whose templates score highest against the
// probe, best first; a subject's score is the maximum over its templates
// (all fingers). From GalleryOptions.PreselectAbove templates on it ranks
// all templates by a cheap coarse score first and compares only the best
// GalleryOptions.Preselect fully (see docs/template-format.md for the
// measured agreement with the exhaustive search).
func (gl *Gallery) Search(ctx context.Context, probe *Template, k int) ([]Candidate, error) {
	return gl.SearchWith(ctx, probe, k, SearchOptions{})
}

// SearchOptions override the gallery's preselection for one search.
type SearchOptions struct {
	// Preselect: 0 follows GalleryOptions; n > 0 preselects n templates
	// (n groups with representatives) whatever the gallery size; n < 0
	// compares every template fully.
	Preselect int
	// Representatives: 0 follows GalleryOptions.PreselectRepresentatives,
	// > 0 preselects by one representative per (subject, finger) group,
	// < 0 by every template.
	Representatives int
	// CoarseFraction: 0 follows GalleryOptions.CoarseFraction, > 0 sets it
	// for this search, < 0 turns the cascade off.
	CoarseFraction float64
}

// SearchWith is Search with per-search options; for measuring the
// preselection against the full search, and for audits. It is SearchPart
// over the whole gallery, merged (MergeParts): a gallery split into
// partitions by subject returns the same candidates.
func (gl *Gallery) SearchWith(ctx context.Context, probe *Template, k int, so SearchOptions) ([]Candidate, error) {
	if err := probe.Validate(); err != nil {
		return nil, err
	}
	if k <= 0 {
		return nil, nil
	}
	n, groups := gl.Size()
	part, err := gl.SearchPart(ctx, probe, k, gl.opts.Plan(so, n, groups))
	if err != nil {
		return nil, err
	}
	return MergeParts([]Part{part}, k)
}

// PreselectCount is the number of templates (of (subject, finger) groups
// when the gallery preselects by representatives) a preselecting search
// keeps at the gallery's current size.
func (gl *Gallery) PreselectCount() int {
	gl.mu.RLock()
	defer gl.mu.RUnlock()
	return gl.preselectCount(gl.representatives())
}

// Groups returns the number of (subject, finger) groups.
func (gl *Gallery) Groups() int {
	gl.mu.RLock()
	defer gl.mu.RUnlock()
	return gl.nGroups
}

func (gl *Gallery) representatives() bool { return gl.opts.representatives() }

func (o GalleryOptions) representatives() bool {
	if r := o.PreselectRepresentatives; r != 0 {
		return r > 0
	}
	return DefaultPreselectRepresentatives
}

func (gl *Gallery) preselectCount(reps bool) int {
	return gl.opts.preselectCount(reps, len(gl.entries), gl.nGroups)
}

func (o GalleryOptions) preselectCount(reps bool, templates, groups int) int {
	n := templates
	if reps {
		n = groups
	}
	m := cmp.Or(o.Preselect, DefaultPreselect)
	if f := cmp.Or(o.PreselectFraction, DefaultPreselectFraction); f > 0 {
		m = max(m, int(math.Ceil(f*float64(n))))
	}
	return m
}

func (gl *Gallery) workers(n int) int {
	w := cmp.Or(gl.opts.Workers, runtime.GOMAXPROCS(0))
	return max(1, min(w, n/256))
}

// parallel runs fn over [0, n) split into nw contiguous shards.
func parallel(n, nw int, fn func(w, lo, hi int)) {
	var wg sync.WaitGroup
	for w := 0; w < nw; w++ {
		lo, hi := n*w/nw, n*(w+1)/nw
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(w, lo, hi)
		}()
	}
	wg.Wait()
}

const ctxCheckEvery = 1024

// prefetchAhead is how many templates ahead the preselection scan asks for
// the next crops: one template's scoring is longer than the CPU's
// out-of-order window, so without it every template starts with a miss.
const prefetchAhead = 4

// prefetchFull is the same for the full comparisons of the preselected
// templates, which are scattered over the gallery.
const prefetchFull = 2

func (gl *Gallery) searchAll(ctx context.Context, p *Probe, k int) ([]Candidate, error) {
	n := len(gl.entries)
	tops := make([]subjTop, gl.workers(n))
	errs := make([]error, len(tops))
	parallel(n, len(tops), func(w, lo, hi int) {
		top := &tops[w]
		top.init(k, gl.subjName)
		var c cand
		for i := lo; i < hi; i++ {
			if (i-lo)%ctxCheckEvery == ctxCheckEvery-1 && ctx.Err() != nil {
				errs[w] = ctx.Err()
				return
			}
			gl.candAt(i, &c)
			top.add(gl.entries[i], gl.scoreCand(p, &c))
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return gl.merge(tops, k), nil
}

// preselectPart ranks the templates (with reps, only the representatives)
// by the cheap score, keeps those at or above the m-th best score (ties at
// the cut included, see cutOf) and compares them (with reps, every sample
// of their groups) fully. With 0 < coarse < 1 the cheap score is a
// cascade: only the templates whose level-2 score is among the best
// fraction coarse of the gallery (a cut placed on a sample) get the
// preselection score.
func (gl *Gallery) preselectPart(ctx context.Context, p *Probe, k, m int, reps bool, coarse float64) (Part, error) {
	n := len(gl.entries)
	cut := gl.coarseCut(p, reps, coarse, m)
	heaps := make([]minHeap, gl.workers(n))
	l1 := gl.lens[1]
	errs := make([]error, len(heaps))
	parallel(n, len(heaps), func(w, lo, hi int) {
		h := &heaps[w]
		h.items = make([]scored, 0, m)
		for i := lo; i < hi; i++ {
			if (i-lo)%ctxCheckEvery == ctxCheckEvery-1 && ctx.Err() != nil {
				errs[w] = ctx.Err()
				return
			}
			e := &gl.entries[i]
			if reps && !e.rep {
				continue
			}
			if j := i + prefetchAhead; j < hi {
				prefetch(gl.slot2(j))
			}
			s := gl.slot2(i)
			best := p.coarseBest(s[l1:])
			if cut >= 0 && p.coarseScore(best, int(e.ones2)) < cut {
				continue
			}
			h.push(m, scored{p.refine1(s[:l1], int(e.ones1), best), int32(i)})
		}
	})
	if err := errors.Join(errs...); err != nil {
		return Part{}, err
	}
	// The local ranking: every kept score with its count (ties a worker
	// counted but did not keep included), best first, down to the m-th.
	counts := map[float64]int{}
	var all []scored
	for _, h := range heaps {
		all = append(all, h.items...)
		for _, s := range h.items {
			counts[s.score]++
		}
		if h.dropped > 0 {
			counts[h.items[0].score] += h.dropped
		}
	}
	hist := make([]CoarseCount, 0, len(counts))
	for v, c := range counts {
		hist = append(hist, CoarseCount{Score: v, Count: c})
	}
	slices.SortFunc(hist, func(a, b CoarseCount) int { return cmp.Compare(b.Score, a.Score) })
	floor, strict := cutOf(hist, m)
	hist = slices.DeleteFunc(hist, func(c CoarseCount) bool { return c.Score < floor })
	all = slices.DeleteFunc(all, func(s scored) bool { return s.score < floor || (strict && s.score == floor) })
	slices.SortFunc(all, func(a, b scored) int { return cmp.Or(cmp.Compare(b.score, a.score), cmp.Compare(a.i, b.i)) })
	// What to compare fully, in ranking order.
	type full struct {
		i      int32
		coarse float64
		score  float64
	}
	fs := make([]full, 0, len(all))
	for _, s := range all {
		e := gl.entries[s.i]
		if !reps {
			fs = append(fs, full{i: s.i, coarse: s.score})
			continue
		}
		for _, j := range gl.subjSlots[e.subj] {
			if gl.entries[j].finger == e.finger {
				fs = append(fs, full{i: j, coarse: s.score})
			}
		}
	}
	nw := max(1, min(cmp.Or(gl.opts.Workers, runtime.GOMAXPROCS(0)), len(fs)/32))
	parallel(len(fs), nw, func(w, lo, hi int) {
		var c cand
		for j := lo; j < hi; j++ {
			if j+prefetchFull < hi {
				n := int(fs[j+prefetchFull].i)
				prefetch(gl.slot(n))
				prefetch(gl.slot2(n))
			}
			gl.candAt(int(fs[j].i), &c)
			fs[j].score = gl.scoreCand(p, &c)
		}
	})
	// The records: in ranking order, the templates that enter the running
	// top k of subjects. For any cut of the ranking at a score, the top k
	// of the templates above it are among these (MergeParts).
	var run recordTop
	run.init(k)
	var cands []PartCandidate
	for _, f := range fs {
		e := gl.entries[f.i]
		c := PartCandidate{Candidate: Candidate{Subject: gl.subjName[e.subj], Finger: int(e.finger), Score: f.score}, Coarse: f.coarse}
		if run.add(c.Candidate) {
			cands = append(cands, c)
		}
	}
	return Part{Preselect: m, Ranking: hist, Candidates: cands}, nil
}

// coarseCut returns the level-2 score from which a template enters the
// preselection ranking: the score of rank fraction x units on an even
// sample of about coarseSample templates (groups with reps), so that about
// that fraction passes. It is -1 (everything passes) when the cascade is
// off or would keep fewer than 4m.
func (gl *Gallery) coarseCut(p *Probe, reps bool, fraction float64, m int) float64 {
	units := len(gl.entries)
	if reps {
		units = gl.nGroups
	}
	if fraction <= 0 || fraction >= 1 || fraction*float64(units) < float64(4*m) {
		return -1
	}
	step := max(1, len(gl.entries)/coarseSample)
	l1 := gl.lens[1]
	var sample []float64
	for i := 0; i < len(gl.entries); i += step {
		e := &gl.entries[i]
		if reps && !e.rep {
			continue
		}
		s := gl.slot2(i)
		sample = append(sample, p.coarseScore(p.coarseBest(s[l1:]), int(e.ones2)))
	}
	if len(sample) == 0 {
		return -1
	}
	slices.Sort(sample)
	// The cut is the lowest score of the best fraction of the sample.
	keep := int(math.Ceil(fraction * float64(len(sample))))
	return sample[len(sample)-min(max(keep, 1), len(sample))]
}

func (gl *Gallery) merge(tops []subjTop, k int) []Candidate {
	best := map[int32]subjScore{}
	for _, t := range tops {
		for _, s := range t.items {
			if b, ok := best[s.subj]; !ok || s.beats(b) {
				best[s.subj] = s
			}
		}
	}
	out := make([]Candidate, 0, len(best))
	for _, s := range best {
		out = append(out, Candidate{Subject: gl.subjName[s.subj], Finger: int(s.finger), Score: s.score})
	}
	slices.SortFunc(out, candidateOrder)
	return out[:min(k, len(out))]
}

// candidateOrder is the order of search results: best score first, then
// subject, so that ties come out the same whatever the gallery's layout.
func candidateOrder(a, b Candidate) int {
	return cmp.Or(cmp.Compare(b.Score, a.Score), cmp.Compare(a.Subject, b.Subject))
}

// subjScore is the best score of a subject seen by one worker.
type subjScore struct {
	subj   int32
	finger uint8
	score  float64
}

// beats says whether s is a better best for its subject than b: a higher
// score, or the same with a lower finger position.
func (s subjScore) beats(b subjScore) bool {
	return s.score > b.score || (s.score == b.score && s.finger < b.finger)
}

// subjTop keeps the k best distinct subjects, in candidateOrder.
type subjTop struct {
	k     int
	names []string
	items []subjScore
	worst int // index of the last item in candidateOrder when full
}

func (t *subjTop) init(k int, names []string) {
	t.k, t.names, t.items, t.worst = k, names, make([]subjScore, 0, min(k, 1024)), -1
}

// after says whether a comes after b in candidateOrder.
func (t *subjTop) after(a, b subjScore) bool {
	return a.score < b.score || (a.score == b.score && t.names[a.subj] > t.names[b.subj])
}

func (t *subjTop) add(e entry, score float64) {
	s := subjScore{e.subj, e.finger, score}
	if len(t.items) == t.k && t.after(s, t.items[t.worst]) {
		return
	}
	for i := range t.items {
		if t.items[i].subj == e.subj {
			if s.beats(t.items[i]) {
				t.items[i] = s
				t.reworst()
			}
			return
		}
	}
	if len(t.items) < t.k {
		t.items = append(t.items, s)
		t.reworst()
		return
	}
	t.items[t.worst] = s
	t.reworst()
}

func (t *subjTop) reworst() {
	if len(t.items) < t.k {
		t.worst = -1
		return
	}
	t.worst = 0
	for i := range t.items[1:] {
		if t.after(t.items[i+1], t.items[t.worst]) {
			t.worst = i + 1
		}
	}
}

// scored is a template index with its preselection score.
type scored struct {
	score float64
	i     int32
}

// minHeap keeps the m best scored items, the worst at the root, and the
// items tied with the root that did not fit (from index heapLen on); ties
// at score 0 are only counted in dropped (a cut at 0 keeps none, see
// cutOf).
type minHeap struct {
	items   []scored
	heapLen int
	dropped int
}

func (h *minHeap) push(m int, s scored) {
	if h.heapLen < m {
		h.items = append(h.items, s)
		h.heapLen++
		it := h.items
		for i := len(it) - 1; i > 0; {
			p := (i - 1) / 2
			if it[p].score <= it[i].score {
				break
			}
			it[p], it[i] = it[i], it[p]
			i = p
		}
		return
	}
	root := h.items[0].score
	switch {
	case s.score < root:
		return
	case s.score == root:
		h.tie(s)
		return
	}
	old := h.items[0]
	h.items[0] = s
	h.down(0)
	if h.items[0].score == old.score {
		h.tie(old)
		return
	}
	h.items = h.items[:h.heapLen]
	h.dropped = 0
}

func (h *minHeap) tie(s scored) {
	if s.score == 0 {
		h.dropped++
		return
	}
	h.items = append(h.items, s)
}

func (h *minHeap) down(i int) {
	it := h.items[:h.heapLen]
	for {
		l := 2*i + 1
		if l >= len(it) {
			return
		}
		if r := l + 1; r < len(it) && it[r].score < it[l].score {
			l = r
		}
		if it[i].score <= it[l].score {
			return
		}
		it[i], it[l] = it[l], it[i]
		i = l
	}
}

// BytesPerTemplate is the memory one template takes in the gallery: its
// packed comparison data and its metadata (not counting subject names).
func (gl *Gallery) BytesPerTemplate() int {
	gl.mu.RLock()
	defer gl.mu.RUnlock()
	return gl.slotWords*8 + int(unsafe.Sizeof(entry{})) + 4 // + its index in the subject's list
}
