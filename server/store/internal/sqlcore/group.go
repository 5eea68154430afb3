package sqlcore

import (
	"context"
	"sync"

	"github.com/qingshan-gov/veinkiosk/server/store"
)

// WriteReq is one caller's write transaction waiting for a group commit.
// The backend's batch function runs Fn (without Ctx's cancellation) and
// sends exactly one answer on Done.
type WriteReq struct {
	Ctx  context.Context
	Fn   func(Q) error
	Done chan error
}

// GroupQueue is the queue in front of a backend's group committer: callers
// submit write transactions with Do; streams goroutines each take the
// requests waiting when they start a batch (at most maxBatch) and hand them
// to run, which executes them in one database transaction and answers each
// request. How a batch runs is the backend's business; the queueing, the
// waiting and the orderly shutdown are the same for every backend.
type GroupQueue struct {
	run      func([]*WriteReq)
	maxBatch int
	reqs     chan *WriteReq
	stop     chan struct{}
	wg       sync.WaitGroup

	mu     sync.RWMutex // held for reading while submitting; for writing by Close
	closed bool
}

// NewGroupQueue starts streams batch goroutines (at least one), each
// handing batches of at most maxBatch requests (at least one) to run.
func NewGroupQueue(streams, maxBatch int, run func([]*WriteReq)) *GroupQueue {
	g := &GroupQueue{run: run, maxBatch: max(1, maxBatch), reqs: make(chan *WriteReq, 1024), stop: make(chan struct{})}
	for i := 0; i < max(1, streams); i++ {
		g.wg.Add(1)
		go g.loop()
	}
	return g
}

var donePool = sync.Pool{New: func() any { return make(chan error, 1) }}

// Do runs fn in a write transaction (possibly shared with others) and
// returns fn's error or the commit's. It returns store.ErrClosed after
// Close, and ctx's error when ctx is done before fn was queued.
func (g *GroupQueue) Do(ctx context.Context, fn func(Q) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &WriteReq{Ctx: ctx, Fn: fn, Done: donePool.Get().(chan error)}
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return store.ErrClosed
	}
	g.reqs <- r
	g.mu.RUnlock()
	// Wait for the answer even if ctx ends: once queued, fn may run, and
	// the caller must not believe a write failed that then commits.
	err := <-r.Done
	donePool.Put(r.Done)
	return err
}

// Close refuses new requests, runs the ones already queued, and waits for
// the batch goroutines to end. It reports whether this call closed the
// queue (false when it was closed already).
func (g *GroupQueue) Close() bool {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return false
	}
	g.closed = true
	close(g.stop)
	g.mu.Unlock()
	g.wg.Wait()
	return true
}

func (g *GroupQueue) loop() {
	defer g.wg.Done()
	batch := make([]*WriteReq, 0, g.maxBatch)
	for {
		var first *WriteReq
		select {
		case first = <-g.reqs:
		case <-g.stop:
			// Requests queued before Close still run.
			for {
				select {
				case r := <-g.reqs:
					g.run([]*WriteReq{r})
				default:
					return
				}
			}
		}
		batch = append(batch[:0], first)
	fill:
		for len(batch) < g.maxBatch {
			select {
			case r := <-g.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		g.run(batch)
		clear(batch)
	}
}
