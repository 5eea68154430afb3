package api

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// This file keeps a replica's memory in step with the database when several
// centrald processes share one PostgreSQL (docs/replicas.md). Each replica
// updates its own memory on the changes it makes (enrol.go, replace.go,
// admin.go); the follower applies the changes the other replicas made, read
// from the store's change log (store.ChangeLog) by sequence number: a
// resident's active templates (the 1:N gallery), a kiosk's record (the
// kiosk cache). PostgreSQL pokes the follower at each commit
// (LISTEN/NOTIFY); a poll every Config.ChangePoll is the safety net for a
// lost listening connection. Applying a change reloads its subject from the
// store, so applying one twice, or late, is harmless.

// errFollowStale is returned by FollowChanges when the replica could not
// read the change log for so long that changes may have been purged before
// it read them: its memory can no longer be trusted, so the process must
// restart (and reload the gallery).
var errFollowStale = errors.New("api: the change log was not read for longer than half its retention; restart to reload the gallery")

// FollowChanges applies the store's change log to this replica's memory
// until ctx is done: changes committed through other replicas after the
// gallery was loaded (LoadGallery records where the log stood before it
// read the templates). It returns ctx's error, or an error when the
// replica's memory can no longer follow the database (the caller should
// exit so that the process restarts). Run it in a goroutine after
// LoadGallery on a store shared by several processes; a single process on
// the embedded store has no need of it.
func (s *Server) FollowChanges(ctx context.Context) error {
	f := store.NewChangeCursor(s.followFrom.Load(), s.cfg.ChangeGapWait)
	// The gallery holds what was committed before LoadGallery read the
	// log's position; from now on it is stale unless the log is read.
	s.freshAt.Store(s.loadedAt.Load())
	s.appliedSeq.Store(f.Cursor())
	s.following.Store(true)
	var cl store.ChangeLog = s.st
	if s.faultLog != nil {
		cl = s.faultLog
	}
	if s.noListen {
		cl = pollOnly{cl}
	}
	err := f.Follow(ctx, cl, s.cfg.ChangePoll, s.log,
		func(c store.Change) error { return s.applyLogged(ctx, c) },
		func(pollErr error) error {
			if pollErr == nil {
				// A complete read: every change committed before it
				// began is applied (LastRead is its start).
				s.markFresh(f.LastRead())
			}
			s.appliedSeq.Store(f.Cursor())
			if changed, err := s.makers.Reload(); err != nil {
				s.log.Warn("re-reading the maker keys", "err", err)
			} else if changed {
				s.log.Info("maker keys re-read from their file", "makers", len(s.makers.list()))
			}
			return nil
		})
	if errors.Is(err, store.ErrFollowStale) {
		return errFollowStale
	}
	return err
}

// markFresh records that the gallery holds every change committed before
// at, logging the return from staleness.
func (s *Server) markFresh(at time.Time) {
	wasStale := s.galleryStale()
	s.freshAt.Store(at.UnixNano())
	if wasStale && !s.galleryStale() {
		s.log.Info("gallery: caught up with the change log; answering 1:N searches again")
	}
}

// pollOnly is a change log without notifications (tests: a lost listener).
type pollOnly struct{ store.ChangeLog }

func (pollOnly) ListenChanges(context.Context, func()) error { return errors.ErrUnsupported }

// The staleness rule (docs/replicas.md#a-stale-gallery-answers-no-1n-search).
// A replica following the change log knows the time as of which its
// gallery holds every committed change: the start of its last complete
// read of the log. When that is older than Config.GalleryMaxLag (the
// listening connection lost and the poll failing, or the changes read but
// not applied), its gallery may miss an enrolment made through another
// replica (a deduplication would pass the duplicate) or still hold a
// deleted or replaced one. Such a replica
//   - answers no 1:N search: deduplication (so no enrolment) and
//     card-less identification fail with gallery_stale (503), before any
//     capture nonce is consumed, so the kiosk's client retries them at the
//     next server;
//   - verifies 1:1 against the resident's templates read from the
//     database (verify1to1), which are never stale;
//   - answers /readyz with 503, so a load balancer drains it;
//   - recovers by itself: the next complete read of the log makes it fresh.
// A server that does not follow (one process on the embedded store, whose
// gallery is the only writer's) is never stale.

// galleryLag is how long ago the gallery was last known to hold every
// committed change (0 when the server does not follow the change log).
func (s *Server) galleryLag() time.Duration {
	if !s.following.Load() {
		return 0
	}
	return max(0, time.Since(time.Unix(0, s.freshAt.Load())))
}

// galleryStale applies the rule.
func (s *Server) galleryStale() bool { return s.galleryLag() > s.cfg.GalleryMaxLag }

// fresh1N refuses a 1:N search on a stale gallery: gallery_stale, with a
// retry after one poll interval.
func (s *Server) fresh1N() error {
	lag := s.galleryLag()
	if lag <= s.cfg.GalleryMaxLag {
		return nil
	}
	s.metrics.staleRefusals.Inc()
	return errf(apiv1.CodeGalleryStale, "this server's gallery has not followed the database for %v (bound %v): no 1:N search here; retry, another server may answer",
		lag.Round(time.Second), s.cfg.GalleryMaxLag).retryAfter(max(1, int(s.cfg.ChangePoll/time.Second)))
}

// verify1to1 compares probe with the resident's enrolled templates: those
// of the gallery, or, while the gallery is stale, those read from the
// database (the same comparison, on templates as fresh as the database), so
// that a stale replica neither verifies against a deleted or replaced
// enrolment nor refuses one made through another replica.
func (s *Server) verify1to1(ctx context.Context, res store.Resident, probe *matcher.Template) (score float64, ok bool, err error) {
	if !s.galleryStale() {
		return s.gallery.Verify(res.ID, probe)
	}
	es, err := s.st.ResidentEnrolments(ctx, res.IDNumber)
	if err != nil {
		return 0, false, storeErr(err, "enrolments")
	}
	s.metrics.staleVerifies.Inc()
	g := NewGalleryWith(s.gallery.opts)
	if err := g.Replace(res.ID, es); err != nil {
		return 0, false, err
	}
	if g.Len() == 0 {
		// Not enrolled (whatever the stale gallery holds); compatibility
		// is checked against the gallery, as Verify does.
		return 0, false, s.gallery.compatible(probe)
	}
	return g.Verify(res.ID, probe)
}

// applyLogged applies one change and counts it.
func (s *Server) applyLogged(ctx context.Context, c store.Change) error {
	if err := s.applyChange(ctx, c); err != nil {
		return err
	}
	s.metrics.changes.WithLabelValues(string(c.Kind)).Inc()
	if !c.At.IsZero() {
		s.metrics.changeLag.Observe(time.Since(c.At).Seconds())
	}
	return nil
}

// applyChange brings this replica's memory up to date with one change.
func (s *Server) applyChange(ctx context.Context, c store.Change) error {
	switch c.Kind {
	case store.ChangeResident:
		id, err := strconv.ParseInt(c.Subject, 10, 64)
		if err != nil {
			return fmt.Errorf("resident id %q: %w", c.Subject, err)
		}
		var loadErr error
		err = s.gallery.Sync(id, func() ([]store.Enrolment, error) {
			res, err := s.st.GetResidentByID(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				return nil, nil
			} else if err != nil {
				loadErr = err
				return nil, err
			}
			es, err := s.st.ResidentEnrolments(ctx, res.IDNumber)
			loadErr = err
			return es, err
		})
		if loadErr != nil {
			return loadErr // the database: read the change again next time
		}
		if err != nil {
			// Templates the gallery cannot take (as Gallery.Load skips
			// them): retrying would not help, and holding the cursor
			// would stop every later change.
			s.log.Warn("gallery: a changed resident's templates were not all applied", "seq", c.Seq, "resident", id, "err", err)
		}
		return nil
	case store.ChangeKiosk:
		s.kiosks.drop(c.Subject)
		return nil
	}
	// A kind written by a newer version: nothing this one keeps.
	return nil
}
