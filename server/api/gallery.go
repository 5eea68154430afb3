package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// Gallery is the server's in-memory 1:N gallery: a matcher.Gallery whose
// subjects are residents' internal ids (never ID numbers), loaded from the
// store at start and kept in sync on enrolment and deletion.
type Gallery struct {
	g        *matcher.Gallery
	opts     matcher.GalleryOptions
	remote   Remote // the matcher shards, when centrald runs with them
	nResid   atomic.Int64
	progress int // log every this many templates while loading
	// wmu serialises the replacement of a resident's templates (remove,
	// then add), so two enrolments of one resident cannot interleave;
	// searches do not take it.
	wmu sync.Mutex
	// smu serialises the reloads of residents' templates from the store
	// (Sync) with the other writers (Remove, SetTemplates): a reload reads
	// and applies under it, so the last state applied is the last read,
	// and a reload that read before a commit cannot overwrite what was
	// applied after it. The request path (its own enrolments) and the
	// change follower (other replicas' enrolments) both reload a resident.
	smu sync.Mutex
	ref atomic.Pointer[matcher.Template] // a template of the gallery, for compatibility checks
}

// Remote is the 1:N gallery split over matcher shards (server/shard,
// plugged in by centrald): Search is the whole gallery's search (an error
// that has a PartialResult method when a partition did not answer). The
// shards follow the store's change log themselves (shard.LogFeed), as
// replicas do: the gallery publishes nothing to them.
type Remote interface {
	Search(ctx context.Context, probe *matcher.Template, k int, so matcher.SearchOptions) ([]matcher.Candidate, error)
}

// partialResult is a Remote's error for a search some partitions did not
// answer.
type partialResult interface{ PartialResult() []int }

// ErrSearchIncomplete wraps a Remote's partial result: the search decided
// nothing (search_incomplete).
var ErrSearchIncomplete = errors.New("api: the 1:N search did not reach every partition")

// UseRemote makes the matcher shards answer the gallery's 1:N searches.
// The local gallery still answers 1:1 verifications.
func (g *Gallery) UseRemote(r Remote) { g.remote = r }

// NewGallery returns an empty gallery.
func NewGallery() *Gallery { return NewGalleryWith(matcher.GalleryOptions{}) }

// NewGalleryWith returns an empty gallery with matcher options.
func NewGalleryWith(opts matcher.GalleryOptions) *Gallery {
	return &Gallery{g: matcher.NewGallery(opts), opts: opts, progress: 20000}
}

func subject(residentID int64) string { return strconv.FormatInt(residentID, 10) }

// Len returns the number of templates.
func (g *Gallery) Len() int {
	if g == nil {
		return 0
	}
	return g.g.Len()
}

// Residents returns the number of residents with templates.
func (g *Gallery) Residents() int {
	if g == nil {
		return 0
	}
	return int(g.nResid.Load())
}

// Load adds every active template of the store, in pages, logging progress.
// Templates that do not parse or are not compatible (another algorithm
// version) are skipped and counted in the log.
func (g *Gallery) Load(ctx context.Context, st store.Store, log *slog.Logger) (int, error) {
	start := time.Now()
	seen := map[int64]bool{}
	n, skipped := 0, 0
	err := st.ScanTemplates(ctx, 0, func(r store.TemplateRecord) error {
		t, err := matcher.ParseTemplate(r.Template)
		if err == nil {
			err = g.g.Add(subject(r.ResidentID), r.Finger, t)
		}
		if err == nil {
			g.ref.CompareAndSwap(nil, t)
		}
		if err != nil {
			skipped++
			if skipped <= 10 {
				log.Warn("gallery: template skipped", "sample", r.SampleID, "resident", r.ResidentID, "err", err)
			}
			return nil
		}
		seen[r.ResidentID] = true
		n++
		if n%g.progress == 0 {
			log.Info("gallery loading", "templates", n, "residents", len(seen), "elapsed", time.Since(start).Round(time.Millisecond))
		}
		return ctx.Err()
	})
	g.nResid.Store(int64(len(g.g.Subjects())))
	if skipped > 0 {
		log.Warn("gallery: templates skipped while loading", "skipped", skipped)
	}
	return n, err
}

// Replace makes templates the resident's complete set (after an enrolment:
// the store's active enrolments of the resident).
func (g *Gallery) Replace(residentID int64, enrolments []store.Enrolment) error {
	var ts []*matcher.Template
	var fingers []int
	for _, e := range enrolments {
		for _, s := range e.Samples {
			t, err := matcher.ParseTemplate(s.Template)
			if err != nil {
				return fmt.Errorf("gallery: resident %d sample %d: %w", residentID, s.ID, err)
			}
			ts = append(ts, t)
			fingers = append(fingers, e.Finger)
		}
	}
	return g.set(residentID, fingers, ts)
}

func (g *Gallery) set(residentID int64, fingers []int, ts []*matcher.Template) error {
	g.wmu.Lock()
	defer g.wmu.Unlock()
	sub := subject(residentID)
	if g.g.Remove(sub) > 0 {
		g.nResid.Add(-1)
	}
	if len(ts) == 0 {
		return nil
	}
	var errs []error
	for i, t := range ts {
		if err := g.g.Add(sub, fingers[i], t); err != nil {
			errs = append(errs, err)
		} else {
			g.ref.CompareAndSwap(nil, t)
		}
	}
	g.nResid.Add(1)
	return errors.Join(errs...)
}

// Sync makes the resident's templates the ones load returns (the store's
// active enrolments of the resident, read while the gallery's reload lock
// is held: see smu).
func (g *Gallery) Sync(residentID int64, load func() ([]store.Enrolment, error)) error {
	g.smu.Lock()
	defer g.smu.Unlock()
	es, err := load()
	if err != nil {
		return err
	}
	return g.Replace(residentID, es)
}

// SetTemplates makes ts (finger positions in fingers) the resident's
// complete set, as Sync does with templates already parsed.
func (g *Gallery) SetTemplates(residentID int64, fingers []int, ts []*matcher.Template) error {
	g.smu.Lock()
	defer g.smu.Unlock()
	return g.set(residentID, fingers, ts)
}

// Remove drops every template of a resident.
func (g *Gallery) Remove(residentID int64) {
	g.smu.Lock()
	defer g.smu.Unlock()
	g.wmu.Lock()
	defer g.wmu.Unlock()
	if g.g.Remove(subject(residentID)) > 0 {
		g.nResid.Add(-1)
	}
}

// Verify returns the best score of probe against the resident's templates;
// ok is false when the resident has none. A probe that cannot be compared
// with the gallery's templates (another algorithm version, parameters or
// geometry) is an error wrapping matcher.ErrIncompatible.
func (g *Gallery) Verify(residentID int64, probe *matcher.Template) (score float64, ok bool, err error) {
	score, ok = g.g.Verify(subject(residentID), probe)
	if ok {
		return score, true, nil
	}
	return 0, false, g.compatible(probe)
}

// compatible checks that probe can be compared with the gallery's
// templates (nil for an empty gallery).
func (g *Gallery) compatible(probe *matcher.Template) error {
	if ref := g.ref.Load(); ref != nil {
		p, err := matcher.NewProbe(probe)
		if err != nil {
			return err
		}
		return p.Compatible(ref)
	}
	return nil
}

// Hit is a 1:N search result.
type Hit struct {
	ResidentID int64
	Finger     int
	Score      float64
}

// Search returns up to k residents scoring at least minScore, best first.
func (g *Gallery) Search(ctx context.Context, probe *matcher.Template, k int, minScore float64) ([]Hit, error) {
	var cands []matcher.Candidate
	var err error
	if g.remote != nil {
		cands, err = g.remote.Search(ctx, probe, k, matcher.SearchOptions{})
	} else {
		cands, err = g.g.Search(ctx, probe, k)
	}
	if pr := partialResult(nil); errors.As(err, &pr) {
		return nil, fmt.Errorf("%w: %w", ErrSearchIncomplete, err)
	}
	if err != nil {
		return nil, err
	}
	var hits []Hit
	for _, c := range cands {
		if c.Score < minScore {
			continue
		}
		id, err := strconv.ParseInt(c.Subject, 10, 64)
		if err != nil {
			continue
		}
		hits = append(hits, Hit{ResidentID: id, Finger: c.Finger, Score: c.Score})
	}
	return hits, nil
}
