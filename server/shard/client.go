package shard

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/server/shardwire"
)

// ErrPartial reports a search that some partition did not answer (down,
// late, loading or failing): its result would miss that partition's
// residents, so there is none.
var ErrPartial = errors.New("shard: partial result")

// PartialError says which partitions did not answer and why.
type PartialError struct {
	Missing []int    // partitions, ascending
	Causes  []string // one per missing partition
}

func (e *PartialError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "shard: partial result: %d partition(s) did not answer:", len(e.Missing))
	for i, p := range e.Missing {
		fmt.Fprintf(&b, " %d (%s)", p, e.Causes[i])
	}
	return b.String()
}

func (e *PartialError) Is(target error) bool { return target == ErrPartial }

// PartialResult returns the partitions that did not answer (server/api
// recognises a partial result by this method).
func (e *PartialError) PartialResult() []int { return e.Missing }

// ClientConfig configures a Client.
type ClientConfig struct {
	Partitions int
	Prefix     string        // "" means DefaultPrefix
	Timeout    time.Duration // per search; 0 means 5 s
	// Gallery options of the whole gallery (preselection), as one
	// process would run them.
	Options matcher.GalleryOptions
}

// Client fans searches out to the shards.
type Client struct {
	nc  *nats.Conn
	cfg ClientConfig
	// The whole gallery's size as of the last complete search, for the
	// next search's plan; a search whose parts show another plan is run
	// again with it.
	size    atomic.Pointer[[2]int]
	applied []atomic.Uint64
}

// NewClient returns a client on nc.
func NewClient(nc *nats.Conn, cfg ClientConfig) (*Client, error) {
	if cfg.Partitions < 1 {
		return nil, fmt.Errorf("shard: %d partitions", cfg.Partitions)
	}
	if cfg.Options.CoarseFraction > 0 && cfg.Options.CoarseFraction < 1 {
		return nil, errors.New("shard: the preselection cascade (CoarseFraction) is not exact across partitions")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	c := &Client{nc: nc, cfg: cfg, applied: make([]atomic.Uint64, cfg.Partitions)}
	c.size.Store(&[2]int{})
	return c, nil
}

// Applied returns the change-log position each partition last answered
// with (shardwire.Reply.Applied).
func (c *Client) Applied() []uint64 {
	out := make([]uint64, len(c.applied))
	for i := range c.applied {
		out[i] = c.applied[i].Load()
	}
	return out
}

// Search returns the k best candidates of the whole gallery, exactly as
// matcher.Gallery.SearchWith on one gallery holding every partition; an
// error wrapping ErrPartial when a partition did not answer.
func (c *Client) Search(ctx context.Context, probe *matcher.Template, k int, so matcher.SearchOptions) ([]matcher.Candidate, error) {
	if err := probe.Validate(); err != nil {
		return nil, err
	}
	if k <= 0 {
		return nil, nil
	}
	data, err := probe.MarshalBinary()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	sz := c.size.Load()
	plan := c.cfg.Options.Plan(so, sz[0], sz[1])
	for try := 0; ; try++ {
		parts, err := c.fanOut(ctx, data, k, plan)
		if err != nil {
			return nil, err
		}
		var n, groups int
		for _, p := range parts {
			n, groups = n+p.Templates, groups+p.Groups
		}
		c.size.Store(&[2]int{n, groups})
		// The plan must be the one of the gallery that answered.
		if now := c.cfg.Options.Plan(so, n, groups); now != plan && try < 2 {
			plan = now
			continue
		}
		return matcher.MergeParts(parts, k)
	}
}

func (c *Client) fanOut(ctx context.Context, data []byte, k int, plan matcher.Plan) ([]matcher.Part, error) {
	n := c.cfg.Partitions
	parts := make([]matcher.Part, n)
	causes := make([]string, n)
	id := rand.Uint64()
	var wg sync.WaitGroup
	for p := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := shardwire.Request{ID: id, Partition: p, K: k, Preselect: plan.Preselect, Reps: plan.Reps, CoarseFraction: plan.CoarseFraction, Probe: data}
			var err error
			parts[p], err = c.ask(ctx, &q)
			if err != nil {
				causes[p] = err.Error()
			}
		}()
	}
	wg.Wait()
	var pe PartialError
	for p, cause := range causes {
		if cause != "" {
			pe.Missing = append(pe.Missing, p)
			pe.Causes = append(pe.Causes, cause)
		}
	}
	if len(pe.Missing) > 0 {
		return nil, &pe
	}
	return parts, nil
}

func (c *Client) ask(ctx context.Context, q *shardwire.Request) (matcher.Part, error) {
	b, err := q.MarshalBinary()
	if err != nil {
		return matcher.Part{}, err
	}
	m, err := c.nc.RequestWithContext(ctx, Subject(c.cfg.Prefix, c.cfg.Partitions, q.Partition), b)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return matcher.Part{}, errors.New("no shard serves it")
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout):
		return matcher.Part{}, errors.New("no answer in time")
	case err != nil:
		return matcher.Part{}, err
	}
	var r shardwire.Reply
	if err := r.UnmarshalBinary(m.Data); err != nil {
		return matcher.Part{}, err
	}
	switch {
	case r.Err != "":
		return matcher.Part{}, errors.New(r.Err)
	case r.Partition != q.Partition || r.ID != q.ID:
		return matcher.Part{}, fmt.Errorf("answer for partition %d (search %x)", r.Partition, r.ID)
	}
	c.applied[q.Partition].Store(r.Applied)
	part := matcher.Part{Templates: r.Templates, Groups: r.Groups, Preselect: r.Preselect}
	for _, x := range r.Ranking {
		part.Ranking = append(part.Ranking, matcher.CoarseCount{Score: x.Score, Count: x.Count})
	}
	for _, x := range r.Cands {
		part.Candidates = append(part.Candidates, matcher.PartCandidate{Candidate: matcher.Candidate{Subject: x.Subject, Finger: x.Finger, Score: x.Score}, Coarse: x.Coarse})
	}
	return part, nil
}
