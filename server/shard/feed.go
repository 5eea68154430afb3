package shard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/store"
)

// ChangeSource is what a LogFeed reads: the store's change log (written in
// the transaction of every enrolment, re-enrolment, approved replacement
// and deletion) and a resident's active templates (store.Store has both).
type ChangeSource interface {
	store.ChangeLog
	GetResidentByID(ctx context.Context, id int64) (store.Resident, error)
	ResidentEnrolments(ctx context.Context, idNumber string) ([]store.Enrolment, error)
}

// LogFeed is the Feed of the store's change log, the one centrald replicas
// follow too (store.ChangeCursor: sequence order, PostgreSQL's NOTIFY as
// the prompt, a poll as the safety net, a missing sequence number held for
// GapWait). A change that was committed is in the log, so a shard that was
// down, starting or not notified when it was made still applies it. Each
// change reloads the resident's active templates from the store, so
// applying one twice or late is harmless.
type LogFeed struct {
	Source ChangeSource
	// From is where the log stood before the shard read its snapshot
	// (NewLogFeed reads it): every change after it is applied.
	From int64
	// Poll is the poll interval (0: 2 s); GapWait how long a missing
	// sequence number holds the position (0: 30 s).
	Poll, GapWait time.Duration
	Log           *slog.Logger
	// fromAt is when From was read (NewLogFeed): the snapshot read after
	// it holds every change committed before.
	fromAt time.Time
}

// NewLogFeed reads where the change log stands: call it before the
// shard's snapshot is read (Shard.Load), so that nothing committed while
// the snapshot is read is missed.
func NewLogFeed(ctx context.Context, src ChangeSource, log *slog.Logger) (*LogFeed, error) {
	at := time.Now()
	from, err := src.LastChange(ctx)
	if err != nil {
		return nil, fmt.Errorf("shard: reading the change log: %w", err)
	}
	return &LogFeed{Source: src, From: from, Log: log, fromAt: at}, nil
}

// Follow implements Feed: fn gets a Change per resident change, and one
// with no resident after each read of the log (Through, and FreshAt when
// the read was complete). It
// returns ctx's error, a change fn refused, or store.ErrFollowStale when
// the log could not be read for half its retention (the shard must reload).
func (f *LogFeed) Follow(ctx context.Context, fn func(Change) error) error {
	poll, gap, log := f.Poll, f.GapWait, f.Log
	if poll <= 0 {
		poll = 2 * time.Second
	}
	if gap <= 0 {
		gap = 30 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cur := store.NewChangeCursor(f.From, gap)
	if err := fn(Change{Through: f.From, FreshAt: f.fromAt}); err != nil {
		return err
	}
	var refused error
	apply := func(c store.Change) error {
		if c.Kind != store.ChangeResident {
			return nil
		}
		id, err := strconv.ParseInt(c.Subject, 10, 64)
		if err != nil {
			log.Warn("shard: change with a bad resident id skipped", "seq", c.Seq)
			return nil
		}
		ch, err := f.load(ctx, id)
		if err != nil {
			return err // the database: read the change again next time
		}
		ch.Through = cur.Cursor()
		if err := fn(ch); err != nil {
			refused = err
			return err
		}
		return nil
	}
	return cur.Follow(ctx, f.Source, poll, log, apply, func(pollErr error) error {
		if refused != nil {
			return refused
		}
		ch := Change{Through: cur.Cursor()}
		if pollErr == nil {
			// A complete read: every change committed before it began
			// is applied.
			ch.FreshAt = cur.LastRead()
		}
		return fn(ch)
	})
}

// load reads a resident's active templates (none when the resident is
// gone).
func (f *LogFeed) load(ctx context.Context, id int64) (Change, error) {
	ch := Change{ResidentID: id}
	res, err := f.Source.GetResidentByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return ch, nil
	} else if err != nil {
		return ch, err
	}
	es, err := f.Source.ResidentEnrolments(ctx, res.IDNumber)
	if err != nil {
		return ch, err
	}
	for _, e := range es {
		for _, s := range e.Samples {
			ch.Templates = append(ch.Templates, Template{Finger: e.Finger, Data: s.Template})
		}
	}
	return ch, nil
}
