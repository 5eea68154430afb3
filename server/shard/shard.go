// Package shard splits the 1:N gallery over matcher shards reached through
// NATS request/reply (docs/scaling.md). A Shard holds one partition of the
// gallery (the residents whose key hashes to it, PartitionOf) and answers
// searches on the subject of its partition in a queue group, so that two
// or more processes per partition are replicas that take over from each
// other. A Client fans a search out to every partition and merges the
// parts (matcher.MergeParts) into exactly what one gallery holding every
// partition returns; a partition that does not answer in time makes the
// whole search fail with ErrPartial, never a result without it.
package shard

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/server/shardwire"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// DefaultPrefix is the NATS subject prefix of shard searches.
const DefaultPrefix = "veinkiosk.shard"

// Subject is the NATS subject of partition p of a layout of n partitions:
// the layout is part of the subject, so a shard started for another layout
// never answers (and the search reports the partition missing).
func Subject(prefix string, n, p int) string {
	return fmt.Sprintf("%s.search.%d.%d", prefix, n, p)
}

// Key is a resident's key in the gallery (its internal id in decimal,
// never the ID number): the subject of its templates and what the
// partition is a hash of.
func Key(residentID int64) string { return strconv.FormatInt(residentID, 10) }

// PartitionOf returns the partition of a gallery key in a layout of n
// partitions: FNV-1a (64 bits) of the key, modulo n. It is stable across
// processes, versions and machines.
func PartitionOf(key string, n int) int {
	h := fnv.New64a()
	h.Write([]byte(key))
	return int(h.Sum64() % uint64(n))
}

// Template is one active template of a resident.
type Template struct {
	Finger int
	Data   []byte // matcher format
}

// Change is a resident's complete set of active templates after a change
// in the store; none means the resident left the gallery. Applying it is
// idempotent, so a shard can apply a change it already loaded. Through is
// the change-log sequence number up to which every change is applied once
// this one is; a Change with no ResidentID only moves that position.
type Change struct {
	ResidentID int64
	Templates  []Template
	Through    int64
	// FreshAt, when set, is a time before which every committed change
	// is applied once this one is: the start of the feed's last complete
	// read of the log (the staleness rule, Shard.SetMaxLag).
	FreshAt time.Time
}

// Snapshot is where a shard loads its partition from at start: every
// active template in sample order (store.Store has it).
type Snapshot interface {
	ScanTemplates(ctx context.Context, afterSampleID int64, fn func(store.TemplateRecord) error) error
}

// Feed is the change feed a shard follows after loading: Follow calls fn
// for every change from the position it was created at until ctx ends,
// and returns why it stopped. LogFeed, the store's change log, is the
// feed centrald replicas follow too.
type Feed interface {
	Follow(ctx context.Context, fn func(Change) error) error
}

// Shard is one partition of the gallery.
type Shard struct {
	partition, partitions int
	g                     *matcher.Gallery
	applied               atomic.Int64 // the change-log position applied (Change.Through)
	// freshAt is the latest Change.FreshAt applied (Unix nanoseconds; 0:
	// the feed said none); maxLag the staleness bound (0: none).
	freshAt atomic.Int64
	maxLag  atomic.Int64
	ready   atomic.Bool
	wmu     sync.Mutex
	log     *slog.Logger
}

// New returns an empty shard for partition p of n.
func New(p, n int, opts matcher.GalleryOptions, log *slog.Logger) (*Shard, error) {
	if n < 1 || p < 0 || p >= n {
		return nil, fmt.Errorf("shard: partition %d of %d", p, n)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Shard{partition: p, partitions: n, g: matcher.NewGallery(opts), log: log}, nil
}

// NewFromGallery returns a shard for partition p of n serving g (a gallery
// file's, for measurements): every subject of g must belong to p.
func NewFromGallery(p, n int, g *matcher.Gallery, log *slog.Logger) (*Shard, error) {
	s, err := New(p, n, matcher.GalleryOptions{}, log)
	if err != nil {
		return nil, err
	}
	for _, key := range g.Subjects() {
		if !s.Owns(key) {
			return nil, fmt.Errorf("shard: subject %s of the gallery is not in partition %d of %d", key, p, n)
		}
	}
	s.g = g
	return s, nil
}

// Owns says whether a gallery key belongs to this shard's partition.
func (s *Shard) Owns(key string) bool { return PartitionOf(key, s.partitions) == s.partition }

// Applied returns the change-log sequence number up to which the shard has
// applied every change (0: it follows no log, e.g. a gallery file).
func (s *Shard) Applied() int64 { return s.applied.Load() }

// SetMaxLag sets the staleness rule: once its feed has said how fresh the
// shard is (Change.FreshAt), a shard whose partition does not hold every
// change committed more than d ago (the change log lost, or its changes
// not applied) answers every search with an error, which the client
// reports as a partial result, rather than from a gallery that may miss an
// enrolment; it answers again once the feed has caught up. 0: no bound.
func (s *Shard) SetMaxLag(d time.Duration) { s.maxLag.Store(int64(d)) }

// Lag returns how long ago the shard was last known to hold every
// committed change (0 when its feed says nothing of it).
func (s *Shard) Lag() time.Duration {
	at := s.freshAt.Load()
	if at == 0 {
		return 0
	}
	return max(0, time.Since(time.Unix(0, at)))
}

// SetReady marks the shard loaded: it answers searches from then on.
func (s *Shard) SetReady() { s.ready.Store(true) }

// Add adds one template of key to the shard (loading); keys of other
// partitions are ignored.
func (s *Shard) Add(key string, finger int, data []byte) error {
	if !s.Owns(key) {
		return nil
	}
	t, err := matcher.ParseTemplate(data)
	if err != nil {
		return err
	}
	return s.g.Add(key, finger, t)
}

// Apply makes a change's templates the resident's set, if the resident is
// in this partition, and moves the applied position to c.Through.
func (s *Shard) Apply(c Change) error {
	defer s.advance(c.Through)
	if !c.FreshAt.IsZero() {
		defer s.fresh(c.FreshAt)
	}
	key := Key(c.ResidentID)
	if c.ResidentID == 0 || !s.Owns(key) {
		return nil
	}
	ts := make([]*matcher.Template, len(c.Templates))
	for i, t := range c.Templates {
		var err error
		if ts[i], err = matcher.ParseTemplate(t.Data); err != nil {
			return fmt.Errorf("shard: resident %d: %w", c.ResidentID, err)
		}
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.g.Remove(key)
	var errs []error
	for i, t := range ts {
		errs = append(errs, s.g.Add(key, c.Templates[i].Finger, t))
	}
	return errors.Join(errs...)
}

func (s *Shard) fresh(at time.Time) {
	for {
		old := s.freshAt.Load()
		if at.UnixNano() <= old || s.freshAt.CompareAndSwap(old, at.UnixNano()) {
			return
		}
	}
}

func (s *Shard) advance(through int64) {
	for {
		old := s.applied.Load()
		if through <= old || s.applied.CompareAndSwap(old, through) {
			return
		}
	}
}

// Load fills the shard from a snapshot and then follows the feed (nil: no
// feed) until ctx ends. The feed is subscribed before the snapshot is read
// and its changes are applied after it, so nothing between the two is
// lost. The shard is ready once the snapshot is in.
func (s *Shard) Load(ctx context.Context, snap Snapshot, feed Feed) error {
	var (
		mu      sync.Mutex
		pending []Change
		loaded  bool
		feedErr = make(chan error, 1)
	)
	if feed != nil {
		go func() {
			feedErr <- feed.Follow(ctx, func(c Change) error {
				mu.Lock()
				if !loaded {
					pending = append(pending, c)
					mu.Unlock()
					return nil
				}
				mu.Unlock()
				if err := s.Apply(c); err != nil {
					// Templates the gallery cannot take: holding the feed
					// would stop every later change.
					s.log.Warn("shard: change not applied", "resident", c.ResidentID, "err", err)
				}
				return nil
			})
		}()
	}
	n, skipped := 0, 0
	err := snap.ScanTemplates(ctx, 0, func(r store.TemplateRecord) error {
		key := Key(r.ResidentID)
		if !s.Owns(key) {
			return nil
		}
		if err := s.Add(key, r.Finger, r.Template); err != nil {
			skipped++
			if skipped <= 10 {
				s.log.Warn("shard: template skipped", "sample", r.SampleID, "err", err)
			}
			return nil
		}
		n++
		return ctx.Err()
	})
	if err != nil {
		return fmt.Errorf("shard: loading partition %d: %w", s.partition, err)
	}
	mu.Lock()
	for _, c := range pending {
		if err := s.Apply(c); err != nil {
			s.log.Warn("shard: change not applied", "err", err)
		}
	}
	pending, loaded = nil, true
	mu.Unlock()
	s.SetReady()
	s.log.Info("shard loaded", "partition", s.partition, "of", s.partitions, "templates", n, "skipped", skipped)
	if feed == nil {
		return nil
	}
	return <-feedErr
}

// Serve answers the partition's searches on nc in the partition's queue
// group until ctx ends; at most workers searches run at once (0: 1).
func (s *Shard) Serve(ctx context.Context, nc *nats.Conn, prefix string, workers int) error {
	sem := make(chan struct{}, max(1, workers))
	subj := Subject(prefix, s.partitions, s.partition)
	sub, err := nc.QueueSubscribe(subj, subj, func(m *nats.Msg) {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			b, err := s.answer(ctx, m.Data).MarshalBinary()
			if err != nil {
				s.log.Error("shard: reply does not encode", "err", err)
				return
			}
			if err := m.Respond(b); err != nil {
				s.log.Warn("shard: reply not sent", "err", err)
			}
		}()
	})
	if err != nil {
		return fmt.Errorf("shard: subscribing %s: %w", subj, err)
	}
	if err := nc.Flush(); err != nil {
		return err
	}
	<-ctx.Done()
	return sub.Drain()
}

func (s *Shard) answer(ctx context.Context, data []byte) *shardwire.Reply {
	var q shardwire.Request
	rep := &shardwire.Reply{Partition: s.partition, Applied: uint64(max(0, s.applied.Load()))}
	if err := q.UnmarshalBinary(data); err != nil {
		rep.Err = err.Error()
		return rep
	}
	rep.ID = q.ID
	fail := func(format string, args ...any) *shardwire.Reply {
		rep.Err = fmt.Sprintf("partition %d: ", s.partition) + fmt.Sprintf(format, args...)
		return rep
	}
	if q.Partition != s.partition {
		return fail("asked for partition %d", q.Partition)
	}
	if !s.ready.Load() {
		return fail("loading")
	}
	if lag, bound := s.Lag(), time.Duration(s.maxLag.Load()); bound > 0 && lag > bound {
		return fail("stale: the change log not followed for %v (bound %v)", lag.Round(time.Millisecond), bound)
	}
	probe, err := matcher.ParseTemplate(q.Probe)
	if err != nil {
		return fail("probe: %v", err)
	}
	rep.Applied = uint64(max(0, s.applied.Load()))
	part, err := s.g.SearchPart(ctx, probe, q.K, matcher.Plan{Preselect: q.Preselect, Reps: q.Reps, CoarseFraction: q.CoarseFraction})
	if err != nil {
		return fail("%v", err)
	}
	rep.Templates, rep.Groups, rep.Preselect = part.Templates, part.Groups, part.Preselect
	for _, r := range part.Ranking {
		rep.Ranking = append(rep.Ranking, shardwire.Ranked{Score: r.Score, Count: r.Count})
	}
	for _, c := range part.Candidates {
		rep.Cands = append(rep.Cands, shardwire.Candidate{Subject: c.Subject, Finger: c.Finger, Score: c.Score, Coarse: c.Coarse})
	}
	return rep
}
