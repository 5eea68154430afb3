package matcher

import (
	"cmp"
	"context"
	"errors"
	"math"
	"slices"
)

// A gallery split by subject into partitions (one per matcher shard)
// answers a search with one Part per partition; MergeParts turns the parts
// into exactly the candidates that Search returns on the whole gallery,
// ties included. Search itself is one part, merged.
//
// Without preselection a part is the partition's top k. With preselection
// the whole gallery keeps every template whose preselection score is at or
// above the m-th best (ties at that cut included, see cutOf), so a part
// holds the partition's ranking (each preselection score down to its own
// m-th best, with how many templates have it) and its records: in ranking
// order, every fully compared template that entered the running top k of
// subjects. The merged ranking fixes the cut, and the records above it
// hold the top k of the templates above it.

// Plan is how one search runs, decided from the size of the whole gallery
// (every partition) and the options; every partition runs the same plan.
type Plan struct {
	// Preselect is the preselection count m; 0 compares every template.
	Preselect int
	// Reps ranks one representative per (subject, finger) group.
	Reps bool
	// CoarseFraction is the cascade (GalleryOptions.CoarseFraction). Its
	// cut is placed on a sample of each partition, so a partitioned search
	// with it is not exactly the whole gallery's.
	CoarseFraction float64
}

// Plan returns the plan of a search with options so over a gallery of the
// given numbers of templates and (subject, finger) groups.
func (o GalleryOptions) Plan(so SearchOptions, templates, groups int) Plan {
	reps := o.representatives()
	if so.Representatives != 0 {
		reps = so.Representatives > 0
	}
	m := so.Preselect
	if m == 0 {
		above := cmp.Or(o.PreselectAbove, DefaultPreselectAbove)
		if above >= 0 && templates >= above {
			m = o.preselectCount(reps, templates, groups)
		}
	}
	units := templates
	if reps {
		units = groups
	}
	if m <= 0 || m >= units {
		return Plan{}
	}
	return Plan{Preselect: m, Reps: reps, CoarseFraction: cmp.Or(so.CoarseFraction, o.CoarseFraction)}
}

// CoarseCount is a preselection score and the number of templates (groups)
// that have it.
type CoarseCount struct {
	Score float64
	Count int
}

// PartCandidate is a candidate of a part, with the preselection score of
// its template (0 without preselection).
type PartCandidate struct {
	Candidate
	Coarse float64
}

// Part is one partition's answer to a search.
type Part struct {
	// Templates and Groups are the partition's size when it answered.
	Templates, Groups int
	// Preselect is the m the part ranked for (max(k, Plan.Preselect)); 0
	// without preselection.
	Preselect int
	// Ranking is the partition's preselection scores, best first, down to
	// its m-th best.
	Ranking []CoarseCount
	// Candidates: without preselection the partition's top k in result
	// order; with it the records in ranking order.
	Candidates []PartCandidate
}

// ErrPartsDisagree reports parts that ran different plans.
var ErrPartsDisagree = errors.New("matcher: the parts of a search ran different plans")

// Size returns the numbers of templates and (subject, finger) groups.
func (gl *Gallery) Size() (templates, groups int) {
	gl.mu.RLock()
	defer gl.mu.RUnlock()
	return len(gl.entries), gl.nGroups
}

// SearchPart searches this gallery as one partition of a larger one with
// the plan of the whole (GalleryOptions.Plan of the total size).
func (gl *Gallery) SearchPart(ctx context.Context, probe *Template, k int, plan Plan) (Part, error) {
	if err := probe.Validate(); err != nil {
		return Part{}, err
	}
	gl.mu.RLock()
	defer gl.mu.RUnlock()
	part := Part{Templates: len(gl.entries), Groups: gl.nGroups}
	if k <= 0 || len(gl.entries) == 0 {
		if plan.Preselect > 0 {
			part.Preselect = max(k, plan.Preselect)
		}
		return part, nil
	}
	if err := compatible(gl.ref, probe); err != nil {
		return Part{}, err
	}
	p := newProbe(probe, gl.g)
	if plan.Preselect > 0 && !gl.g.exhaustive {
		r, err := gl.preselectPart(ctx, p, k, max(k, plan.Preselect), plan.Reps, plan.CoarseFraction)
		r.Templates, r.Groups = part.Templates, part.Groups
		return r, err
	}
	cands, err := gl.searchAll(ctx, p, k)
	if err != nil {
		return Part{}, err
	}
	for _, c := range cands {
		part.Candidates = append(part.Candidates, PartCandidate{Candidate: c})
	}
	return part, nil
}

// MergeParts returns the k best candidates of the parts of every partition
// of a gallery: what Search returns on the whole gallery.
func MergeParts(parts []Part, k int) ([]Candidate, error) {
	m := -1
	var ranking []CoarseCount
	for _, p := range parts {
		if p.Templates == 0 && len(p.Candidates) == 0 {
			continue
		}
		if m >= 0 && p.Preselect != m {
			return nil, ErrPartsDisagree
		}
		m = p.Preselect
		ranking = append(ranking, p.Ranking...)
	}
	floor, strict := math.Inf(-1), false
	if m > 0 {
		slices.SortFunc(ranking, func(a, b CoarseCount) int { return cmp.Compare(b.Score, a.Score) })
		merged := ranking[:0]
		for _, c := range ranking {
			if n := len(merged); n > 0 && merged[n-1].Score == c.Score {
				merged[n-1].Count += c.Count
			} else {
				merged = append(merged, c)
			}
		}
		floor, strict = cutOf(merged, m)
	}
	best := map[string]Candidate{}
	for _, p := range parts {
		for _, c := range p.Candidates {
			if m > 0 && (c.Coarse < floor || (strict && c.Coarse == floor)) {
				continue
			}
			if b, ok := best[c.Subject]; !ok || beats(c.Candidate, b) {
				best[c.Subject] = c.Candidate
			}
		}
	}
	out := make([]Candidate, 0, len(best))
	for _, c := range best {
		out = append(out, c)
	}
	slices.SortFunc(out, candidateOrder)
	return out[:min(k, len(out))], nil
}

// cutOf returns the cut of a ranking (best first, distinct scores) for m:
// the m-th best score (the lowest when there are fewer), every template at
// or above it kept, ties included, so that the cut depends on the scores
// alone and not on the gallery's layout. A cut at score 0 keeps only the
// scores above 0 (strict): a template whose preselection score is 0 shares
// no vein pixel with the probe at its best displacement, and a crowd of
// them must not turn a search exhaustive.
func cutOf(ranking []CoarseCount, m int) (floor float64, strict bool) {
	if len(ranking) == 0 {
		return math.Inf(-1), false
	}
	above := 0
	for _, c := range ranking {
		above += c.Count
		floor = c.Score
		if above >= m {
			break
		}
	}
	return floor, floor == 0
}

// beats says whether c is a better best for its subject than b: a higher
// score, or the same with a lower finger position.
func beats(c, b Candidate) bool {
	return c.Score > b.Score || (c.Score == b.Score && c.Finger < b.Finger)
}

// recordTop is the running top k of subjects over a sequence of
// templates, telling which templates entered it.
type recordTop struct {
	k    int
	best map[string]Candidate
	top  []Candidate
}

func (r *recordTop) init(k int) {
	r.k, r.best, r.top = k, map[string]Candidate{}, make([]Candidate, 0, k)
}

// add takes the next template's candidate and says whether it is a record:
// it improved its subject's best and the subject is then in the top k.
func (r *recordTop) add(c Candidate) bool {
	if b, ok := r.best[c.Subject]; ok && !beats(c, b) {
		return false
	}
	r.best[c.Subject] = c
	switch i := slices.IndexFunc(r.top, func(t Candidate) bool { return t.Subject == c.Subject }); {
	case i >= 0:
		r.top[i] = c
	case len(r.top) < r.k:
		r.top = append(r.top, c)
	case candidateOrder(c, r.top[len(r.top)-1]) < 0:
		r.top[len(r.top)-1] = c
	default:
		return false
	}
	slices.SortFunc(r.top, candidateOrder)
	return true
}
