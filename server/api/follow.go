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

// follower is the state of FollowChanges.
type follower struct {
	s *Server
	// cursor: every change up to it was applied (or skipped as a gap that
	// never filled).
	cursor int64
	// applied are the changes above cursor already applied; missing are the
	// sequence numbers above cursor not seen yet, with when they were first
	// missed (a transaction that took its number earlier may still commit).
	applied  map[int64]bool
	missing  map[int64]time.Time
	lastRead time.Time
}

// FollowChanges applies the store's change log to this replica's memory
// until ctx is done: changes committed through other replicas after the
// gallery was loaded (LoadGallery records where the log stood before it
// read the templates). It returns ctx's error, or an error when the
// replica's memory can no longer follow the database (the caller should
// exit so that the process restarts). Run it in a goroutine after
// LoadGallery on a store shared by several processes; a single process on
// the embedded store has no need of it.
func (s *Server) FollowChanges(ctx context.Context) error {
	f := &follower{s: s, cursor: s.followFrom.Load(), applied: map[int64]bool{}, missing: map[int64]time.Time{}, lastRead: time.Now()}
	s.followedAt.Store(time.Now().UnixNano())
	defer s.followedAt.Store(0)
	pokes := make(chan struct{}, 1)
	poke := func() {
		select {
		case pokes <- struct{}{}:
		default:
		}
	}
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	if !s.noListen {
		go s.listenChanges(lctx, poke)
	}
	tick := time.NewTicker(s.cfg.ChangePoll)
	defer tick.Stop()
	for {
		if err := f.poll(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.log.Warn("following the change log", "err", err)
		} else {
			s.followedAt.Store(time.Now().UnixNano())
		}
		if changed, err := s.makers.Reload(); err != nil {
			s.log.Warn("re-reading the maker keys", "err", err)
		} else if changed {
			s.log.Info("maker keys re-read from their file", "makers", len(s.makers.list()))
		}
		if time.Since(f.lastRead) > store.ChangeRetention/2 {
			return errFollowStale
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-pokes:
		case <-tick.C:
		}
	}
}

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

// listenChanges keeps a notification listener up, reconnecting with a
// backoff; the poll covers the time it is down.
func (s *Server) listenChanges(ctx context.Context, poke func()) {
	backoff := time.Second
	for {
		start := time.Now()
		err := s.st.ListenChanges(ctx, poke)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errors.ErrUnsupported) {
			s.log.Info("the store has no change notifications: polling the change log", "every", s.cfg.ChangePoll)
			return
		}
		if time.Since(start) > time.Minute {
			backoff = time.Second
		}
		s.log.Warn("change notifications lost; polling until they are back", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// followPage is the number of changes read per query.
const followPage = 500

// poll reads the changes after the cursor and applies those not applied
// yet, then moves the cursor over what is done.
func (f *follower) poll(ctx context.Context) error {
	now := time.Now()
	after := f.cursor
	for {
		cs, err := f.s.st.ChangesAfter(ctx, after, followPage)
		if err != nil {
			return err
		}
		f.lastRead = now
		for _, c := range cs {
			if !f.applied[c.Seq] {
				if err := f.s.applyChange(ctx, c); err != nil {
					return fmt.Errorf("change %d (%s): %w", c.Seq, c.Kind, err)
				}
				f.applied[c.Seq] = true
				delete(f.missing, c.Seq)
				f.s.metrics.changes.WithLabelValues(string(c.Kind)).Inc()
				if !c.At.IsZero() {
					f.s.metrics.changeLag.Observe(time.Since(c.At).Seconds())
				}
			}
			for seq := after + 1; seq < c.Seq; seq++ {
				if _, seen := f.missing[seq]; !seen && !f.applied[seq] {
					f.missing[seq] = now
				}
			}
			after = c.Seq
		}
		if len(cs) < followPage {
			break
		}
	}
	for {
		next := f.cursor + 1
		if f.applied[next] {
			delete(f.applied, next)
		} else if since, ok := f.missing[next]; ok && now.Sub(since) >= f.s.cfg.ChangeGapWait {
			// A number taken by a transaction that rolled back, or one
			// that never committed in time: nothing to apply.
			delete(f.missing, next)
		} else {
			break
		}
		f.cursor = next
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
