package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// ChangeCursor reads the change log in sequence order for one follower (a
// centrald replica's gallery, a matcher shard's partition) and tracks how
// far every change has been applied. Sequence numbers are taken in write
// order, not commit order, and a rolled-back transaction leaves one unused:
// a number missing below one already read holds the cursor for GapWait
// (longer than any write transaction) while the changes after it are
// applied at once, then is skipped. It is not safe for concurrent use.
type ChangeCursor struct {
	// GapWait is how long a missing sequence number holds the cursor.
	GapWait time.Duration
	cursor  int64
	// applied are the changes above cursor already applied; missing are the
	// sequence numbers above cursor not seen yet, with when they were first
	// missed (a transaction that took its number earlier may still commit).
	applied  map[int64]bool
	missing  map[int64]time.Time
	lastRead time.Time
}

// NewChangeCursor returns a cursor after sequence number from (the
// LastChange read before the follower loaded its memory from the store).
func NewChangeCursor(from int64, gapWait time.Duration) *ChangeCursor {
	return &ChangeCursor{GapWait: gapWait, cursor: from, applied: map[int64]bool{}, missing: map[int64]time.Time{}, lastRead: time.Now()}
}

// Cursor returns the sequence number up to which every change has been
// applied (or skipped as a gap that never filled).
func (c *ChangeCursor) Cursor() int64 { return c.cursor }

// LastRead returns when the log was last read successfully.
func (c *ChangeCursor) LastRead() time.Time { return c.lastRead }

// changePage is the number of changes read per query.
const changePage = 500

// Poll reads the changes after the cursor, calls apply for each one not
// applied yet, in sequence order, then moves the cursor over what is done.
// An error of apply stops the poll; that change is read again next time.
func (c *ChangeCursor) Poll(ctx context.Context, log ChangeLog, apply func(Change) error) error {
	now := time.Now()
	after := c.cursor
	for {
		cs, err := log.ChangesAfter(ctx, after, changePage)
		if err != nil {
			return err
		}
		c.lastRead = now
		for _, ch := range cs {
			if !c.applied[ch.Seq] {
				if err := apply(ch); err != nil {
					return fmt.Errorf("change %d (%s): %w", ch.Seq, ch.Kind, err)
				}
				c.applied[ch.Seq] = true
				delete(c.missing, ch.Seq)
			}
			for seq := after + 1; seq < ch.Seq; seq++ {
				if _, seen := c.missing[seq]; !seen && !c.applied[seq] {
					c.missing[seq] = now
				}
			}
			after = ch.Seq
		}
		if len(cs) < changePage {
			break
		}
	}
	for {
		next := c.cursor + 1
		if c.applied[next] {
			delete(c.applied, next)
		} else if since, ok := c.missing[next]; ok && now.Sub(since) >= c.GapWait {
			// A number taken by a transaction that rolled back, or one
			// that never committed in time: nothing to apply.
			delete(c.missing, next)
		} else {
			break
		}
		c.cursor = next
	}
	return nil
}

// ErrFollowStale is returned by ChangeCursor.Follow when the log was not
// read for longer than half its retention: changes may have been purged
// before they were read, so the follower's memory can no longer be trusted
// and must be reloaded from the store (the process restarts).
var ErrFollowStale = errors.New("store: the change log was not read for longer than half its retention; reload")

// Follow polls the log (Poll with apply) until ctx is done: at once, at
// every notification (ListenChanges, kept up with a backoff up to 30 s),
// and every poll as the safety net. After each poll it calls after with the
// poll's error (nil when the log was read): a non-nil return stops Follow
// with it; a poll error is otherwise logged and the poll retried. It
// returns ctx's error, after's, or ErrFollowStale.
func (c *ChangeCursor) Follow(ctx context.Context, cl ChangeLog, poll time.Duration, log *slog.Logger, apply func(Change) error, after func(error) error) error {
	pokes := make(chan struct{}, 1)
	poke := func() {
		select {
		case pokes <- struct{}{}:
		default:
		}
	}
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	if cl != nil {
		go listenChanges(lctx, cl, poll, log, poke)
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		err := c.Poll(ctx, cl, apply)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			log.Warn("following the change log", "err", err)
		}
		if after != nil {
			if err := after(err); err != nil {
				return err
			}
		}
		if time.Since(c.lastRead) > ChangeRetention/2 {
			return ErrFollowStale
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-pokes:
		case <-tick.C:
		}
	}
}

// listenChanges keeps a notification listener up, reconnecting with a
// backoff; the poll covers the time it is down.
func listenChanges(ctx context.Context, cl ChangeLog, poll time.Duration, log *slog.Logger, poke func()) {
	backoff := time.Second
	for {
		start := time.Now()
		err := cl.ListenChanges(ctx, poke)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errors.ErrUnsupported) {
			log.Info("the store has no change notifications: polling the change log", "every", poll)
			return
		}
		if time.Since(start) > time.Minute {
			backoff = time.Second
		}
		log.Warn("change notifications lost; polling until they are back", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}
