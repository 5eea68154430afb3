package api

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

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
	s.followedAt.Store(time.Now().UnixNano())
	defer s.followedAt.Store(0)
	var cl store.ChangeLog = s.st
	if s.noListen {
		cl = pollOnly{s.st}
	}
	err := f.Follow(ctx, cl, s.cfg.ChangePoll, s.log,
		func(c store.Change) error { return s.applyLogged(ctx, c) },
		func(pollErr error) error {
			if pollErr == nil {
				s.followedAt.Store(time.Now().UnixNano())
			}
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

// pollOnly is a change log without notifications (tests: a lost listener).
type pollOnly struct{ store.ChangeLog }

func (pollOnly) ListenChanges(context.Context, func()) error { return errors.ErrUnsupported }

// followBehind is how long the change log has not been read beyond the
// tolerance of 10 polls (0: following, or not a follower).
func (s *Server) followBehind() time.Duration {
	at := s.followedAt.Load()
	if at == 0 {
		return 0
	}
	if d := time.Since(time.Unix(0, at)); d > 10*s.cfg.ChangePoll {
		return d
	}
	return 0
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
