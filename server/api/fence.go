package api

import (
	"context"
	"errors"
	"fmt"

	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// The dedup fence (docs/replicas.md#deduplication-across-replicas). The 1:N
// duplicate search runs on the gallery in memory, which holds every change
// up to a position of the store's change log; an enrolment committed after
// that position (through this process an instant ago, or through another
// replica) is not in it. Two enrolments of one person's fingers under two
// ID numbers, sent at once, would both pass their searches. So the commit
// that makes templates active goes through store.EnrolFirst with a Fence: under the
// store's dedup lock (one for every replica sharing the database), the
// probes are compared again with the enrolments committed after the
// search's position, at the same dedup thresholds, and a match refuses the
// commit as the search would have. The search does the bulk of the work
// (the whole gallery, sharded or not); the fence compares with the few
// enrolments of the last moments, so the lock is held briefly.

// dedupPosition returns a change-log position up to which the gallery
// holds every committed change, read before a search: a following
// replica's applied cursor; on a server that does not follow (one process,
// whose gallery only it writes), the head of the log read while none of
// its own commits is between the store and the gallery (activeMu).
func (s *Server) dedupPosition(ctx context.Context) (int64, error) {
	if s.following.Load() {
		return s.appliedSeq.Load(), nil
	}
	s.activeMu.Lock()
	defer s.activeMu.Unlock()
	seq, err := s.st.LastChange(ctx)
	if err != nil {
		return 0, storeErr(err, "change log")
	}
	return seq, nil
}

// fenceHit is the fence's refusal: probe at of the enrolment matched an
// enrolment committed after the search's position.
type fenceHit struct {
	at  int
	hit Hit
}

func (h *fenceHit) Error() string {
	return fmt.Sprintf("dedup fence: probe %d matches resident %d", h.at, h.hit.ResidentID)
}

// dedupFence returns the fence for probes searched at position after: the
// check compares each probe (nil ones skipped) with the newer enrolments at
// its dedup threshold, ignoring the resident an overridden case allows, and
// refuses with a *fenceHit for the first probe, in order, that matches.
func (s *Server) dedupFence(after int64, probes []*matcher.Template, models []string, override *store.DedupCase) store.DedupFence {
	return store.DedupFence{After: after, Check: func(ctx context.Context, newer []store.Enrolment) error {
		if len(newer) == 0 {
			return nil
		}
		byResident := map[int64][]store.Enrolment{}
		idNumbers := map[int64]string{}
		for _, e := range newer {
			byResident[e.ResidentID] = append(byResident[e.ResidentID], e)
			idNumbers[e.ResidentID] = e.IDNumber
		}
		g := NewGalleryWith(s.gallery.opts)
		for rid, es := range byResident {
			if err := g.Replace(rid, es); err != nil {
				// As Gallery.Load: templates the gallery cannot take are
				// not in the search either.
				s.log.Warn("dedup fence: a resident's templates were not all compared", "resident", rid, "err", err)
			}
		}
		for i, p := range probes {
			if p == nil {
				continue
			}
			th, err := s.thresholds(models[i], p)
			if err != nil {
				return err
			}
			hits, err := g.Search(ctx, p, 5, th.Dedup.Threshold)
			if errors.Is(err, matcher.ErrIncompatible) {
				continue // not comparable with what the search compared it with either
			} else if err != nil {
				return err
			}
			for _, h := range hits {
				if override != nil && idNumbers[h.ResidentID] == override.MatchedIDNumber {
					continue
				}
				s.metrics.fenceHits.Inc()
				return &fenceHit{at: i, hit: h}
			}
		}
		return nil
	}}
}
