package shard

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

var testOptions = matcher.GalleryOptions{Workers: 2}

const (
	faultSeed     = 3
	faultSubjects = 60
)

type memSnapshot []store.TemplateRecord

func (m memSnapshot) ScanTemplates(ctx context.Context, after int64, fn func(store.TemplateRecord) error) error {
	for _, r := range m {
		if r.SampleID > after {
			if err := fn(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// testGallery is a deterministic synthetic gallery (as a store snapshot)
// with ties: every fifth resident shares one template. It returns probes
// too: new samples of enrolled fingers, and the shared template.
func testGallery(seed uint64, nRes int) (memSnapshot, []*matcher.Template) {
	rng := rand.New(rand.NewPCG(seed, 99))
	p := matcher.DefaultParams
	tmpl := func(f *matcher.SynthFinger) *matcher.Template {
		t, err := matcher.NewTemplate(p, f.Sample(rng, 4, 12, 0.1), nil, 50, 2)
		if err != nil {
			panic(err)
		}
		return t
	}
	shared := tmpl(matcher.NewSynthFinger(rng, p.Width, p.Height))
	sharedB, _ := shared.MarshalBinary()
	var snap memSnapshot
	probes := []*matcher.Template{shared}
	id := int64(0)
	for r := range nRes {
		resident := int64(1000 + 7*r)
		for _, finger := range []int{2, 7} {
			f := matcher.NewSynthFinger(rng, p.Width, p.Height)
			for s := range 2 {
				b, _ := tmpl(f).MarshalBinary()
				if r%5 == 0 && s == 1 {
					b = sharedB
				}
				id++
				snap = append(snap, store.TemplateRecord{SampleID: id, ResidentID: resident, Finger: finger, Template: b})
			}
			if r%4 == 0 {
				probes = append(probes, tmpl(f))
			}
		}
	}
	return snap, probes
}

func wholeGallery(t testing.TB, snap memSnapshot) *matcher.Gallery {
	g := matcher.NewGallery(testOptions)
	for _, r := range snap {
		tp, err := matcher.ParseTemplate(r.Template)
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Add(Key(r.ResidentID), r.Finger, tp); err != nil {
			t.Fatal(err)
		}
	}
	return g
}

func TestPartitionOfIsStable(t *testing.T) {
	// Golden values: the partition of a key must never change.
	for key, want := range map[string]int{"1": 0, "1000": 0, "504200": 2, "9223372036854775807": 3} {
		if got := PartitionOf(key, 4); got != want {
			t.Errorf("PartitionOf(%q, 4) = %d, want %d", key, got, want)
		}
	}
}

// TestShardedSearchIsExact: three partitions served over NATS answer every
// search exactly as one gallery holding them all, with and without
// preselection, ties included.
func TestShardedSearchIsExact(t *testing.T) {
	url := startNATS(t)
	snap, probes := testGallery(1, 50)
	whole := wholeGallery(t, snap)
	const n = 3
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for p := range n {
		s, err := New(p, n, testOptions, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Load(ctx, snap, nil); err != nil {
			t.Fatal(err)
		}
		go func() { _ = s.Serve(ctx, connect(t, url), DefaultPrefix, 2) }()
	}
	c, err := NewClient(connect(t, url), ClientConfig{Partitions: n, Options: testOptions})
	if err != nil {
		t.Fatal(err)
	}
	waitServing(t, c, probes[0])
	for i, probe := range probes {
		for _, so := range []matcher.SearchOptions{{}, {Preselect: 4}, {Preselect: 9, Representatives: 1}} {
			k := 1 + i%5
			want, err := whole.SearchWith(ctx, probe, k, so)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Search(ctx, probe, k, so)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("probe %d %+v k %d:\nsharded %v\nwhole   %v", i, so, k, got, want)
			}
		}
	}
	if v := c.Applied(); slices.ContainsFunc(v, func(x uint64) bool { return x != 0 }) {
		t.Errorf("applied %v; want 0 (no change log)", v)
	}
}

func waitServing(t testing.TB, c *Client, probe *matcher.Template) {
	t.Helper()
	for i := 0; ; i++ {
		_, err := c.Search(context.Background(), probe, 1, matcher.SearchOptions{})
		if err == nil {
			return
		}
		if i == 750 {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPartialResult: a partition nobody serves, one whose shard is late,
// and one still loading each make the search fail with ErrPartial naming
// it, never a result without it.
func TestPartialResult(t *testing.T) {
	url := startNATS(t)
	snap, probes := testGallery(2, 12)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const n = 3
	s0, _ := New(0, n, testOptions, nil)
	if err := s0.Load(ctx, snap, nil); err != nil {
		t.Fatal(err)
	}
	go func() { _ = s0.Serve(ctx, connect(t, url), DefaultPrefix, 1) }()
	// Partition 1 is loading (never ready).
	s1, _ := New(1, n, testOptions, nil)
	go func() { _ = s1.Serve(ctx, connect(t, url), DefaultPrefix, 1) }()
	c, err := NewClient(connect(t, url), ClientConfig{Partitions: n, Options: testOptions, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	matches := func(err error, want map[int]string) bool {
		var pe *PartialError
		if !errors.Is(err, ErrPartial) || !errors.As(err, &pe) || len(pe.Missing) != len(want) {
			return false
		}
		for i, p := range pe.Missing {
			if cause, ok := want[p]; !ok || !strings.Contains(pe.Causes[i], cause) {
				return false
			}
		}
		return true
	}
	check := func(want map[int]string) {
		t.Helper()
		var err error
		for range 300 { // until every subscription is in
			if _, err = c.Search(ctx, probes[1], 2, matcher.SearchOptions{}); matches(err, want) {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("got %v, want a partial result missing %v", err, want)
	}
	check(map[int]string{1: "loading", 2: "no shard serves it"})
	// A late shard for partition 2: it takes the request and never answers.
	nc := connect(t, url)
	if _, err := nc.QueueSubscribe(Subject(DefaultPrefix, n, 2), Subject(DefaultPrefix, n, 2), func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	_ = nc.Flush()
	check(map[int]string{1: "loading", 2: "no answer in time"})
}

// TestFaultKillShard runs two partitions as separate processes, with a
// standby replica for partition 0, kills (SIGKILL) one replica of
// partition 0 during a stream of searches, and checks that every search
// either returns exactly the whole gallery's answer or fails with
// ErrPartial (never a wrong or missing match), and that service comes
// back; it logs how long searches failed.
func TestFaultKillShard(t *testing.T) {
	url := startNATS(t)
	snap, probes := testGallery(faultSeed, faultSubjects)
	whole := wholeGallery(t, snap)
	const n = 2
	primary := startChild(t, url, 0, n)
	startChild(t, url, 0, n) // the standby
	startChild(t, url, 1, n)
	c, err := NewClient(connect(t, url), ClientConfig{Partitions: n, Options: testOptions, Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	waitServing(t, c, probes[0])
	want := make([][]matcher.Candidate, len(probes))
	for i, p := range probes {
		if want[i], err = whole.Search(ctx, p, 3); err != nil {
			t.Fatal(err)
		}
	}
	var (
		ok, partial   int
		killed        time.Time
		back          time.Duration
		afterKillOK   int
		deadline      = time.Now().Add(60 * time.Second)
		searchesAfter = 30
	)
	for i := 0; time.Now().Before(deadline); i++ {
		if i == 40 {
			if err := primary.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = time.Now()
		}
		pi := i % len(probes)
		got, err := c.Search(ctx, probes[pi], 3, matcher.SearchOptions{})
		switch {
		case errors.Is(err, ErrPartial):
			partial++
			continue
		case err != nil:
			t.Fatalf("search %d: %v", i, err)
		case !slices.Equal(got, want[pi]):
			t.Fatalf("search %d: %v, want %v", i, got, want[pi])
		}
		ok++
		if !killed.IsZero() {
			if afterKillOK == 0 {
				back = time.Since(killed)
			}
			afterKillOK++
			if afterKillOK == searchesAfter {
				break
			}
		}
	}
	if afterKillOK < searchesAfter {
		t.Fatalf("service did not come back after the kill: %d exact, %d partial", ok, partial)
	}
	t.Logf("%d exact answers, %d partial-result errors; first exact answer %v after the kill", ok, partial, back.Round(time.Millisecond))
}

// memLog is a store's change log and residents in memory, without
// notifications (every change is read by the poll, as when a shard's
// listening connection is lost or a NOTIFY is missed).
type memLog struct {
	mu      sync.Mutex
	changes []store.Change
	res     map[int64][]Template
	cut     bool // reads of the log fail (a lost database connection)
}

func (m *memLog) commit(id int64, ts ...Template) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.res == nil {
		m.res = map[int64][]Template{}
	}
	if len(ts) == 0 {
		delete(m.res, id)
	} else {
		m.res[id] = ts
	}
	seq := int64(len(m.changes) + 1)
	m.changes = append(m.changes, store.Change{Seq: seq, Kind: store.ChangeResident, Subject: Key(id)})
	return seq
}

func (m *memLog) setCut(cut bool) { m.mu.Lock(); m.cut = cut; m.mu.Unlock() }

func (m *memLog) ChangesAfter(_ context.Context, after int64, limit int) ([]store.Change, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cut {
		return nil, errors.New("fault: the connection to the database is cut")
	}
	var out []store.Change
	for _, c := range m.changes {
		if c.Seq > after && len(out) < limit {
			out = append(out, c)
		}
	}
	return out, nil
}

func (m *memLog) LastChange(context.Context) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return int64(len(m.changes)), nil
}

func (m *memLog) ListenChanges(context.Context, func()) error { return errors.ErrUnsupported }

func (m *memLog) GetResidentByID(_ context.Context, id int64) (store.Resident, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.res[id]; !ok {
		return store.Resident{}, store.ErrNotFound
	}
	return store.Resident{ID: id, IDNumber: Key(id)}, nil
}

func (m *memLog) ResidentEnrolments(_ context.Context, idNumber string) ([]store.Enrolment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, _ := strconv.ParseInt(idNumber, 10, 64)
	var es []store.Enrolment
	for i, t := range m.res[id] {
		es = append(es, store.Enrolment{Finger: t.Finger, Samples: []store.Sample{{ID: int64(i + 1), Template: t.Data}}})
	}
	return es, nil
}

// TestFollowChanges: shards follow the store's change log (LogFeed). A
// change committed after the log's position was read but missing from the
// snapshot (the shard started while it was made) is applied after the
// snapshot; changes made while the shards run reach them without any
// notification (the poll); every reply names the log position applied.
func TestFollowChanges(t *testing.T) {
	url := startNATS(t)
	snap, probes := testGallery(4, 10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const n = 2
	newcomer, _ := probes[1].MarshalBinary()
	const id = 999_999
	early := int64(888_888) // a resident of partition 0
	for PartitionOf(Key(early), n) != 0 {
		early++
	}
	lg := &memLog{}
	lg.commit(1) // a change before the shards start: in their snapshot
	for p := range n {
		s, _ := New(p, n, testOptions, nil)
		feed, err := NewLogFeed(ctx, lg, nil)
		if err != nil {
			t.Fatal(err)
		}
		feed.Poll = 10 * time.Millisecond
		if p == 0 {
			// Committed after this shard read the log's position and not
			// in its snapshot (read later): the log must bring it.
			lg.commit(early, Template{Finger: 4, Data: newcomer})
		}
		nc := connect(t, url)
		go func() { _ = s.Load(ctx, snap, feed) }()
		go func() { _ = s.Serve(ctx, nc, DefaultPrefix, 1) }()
	}
	c, _ := NewClient(connect(t, url), ClientConfig{Partitions: n, Options: testOptions})
	waitServing(t, c, probes[0])
	search := func() []matcher.Candidate {
		got, err := c.Search(ctx, probes[1], 3, matcher.SearchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	wait := func(what string, ok func([]matcher.Candidate) bool) {
		t.Helper()
		for range 500 {
			if ok(search()) {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("%s: %v", what, search())
	}
	has := func(key string, finger int) func([]matcher.Candidate) bool {
		return func(cs []matcher.Candidate) bool {
			return slices.ContainsFunc(cs, func(c matcher.Candidate) bool { return c.Subject == key && c.Finger == finger })
		}
	}
	wait("the change made while the shard started", has(Key(early), 4))
	lg.commit(id, Template{Finger: 3, Data: newcomer})
	wait("the change made while serving", has(Key(id), 3))
	last := lg.commit(id)
	wait("the deletion", func(cs []matcher.Candidate) bool { return !has(Key(id), 3)(cs) })
	for range 500 {
		search()
		if !slices.ContainsFunc(c.Applied(), func(x uint64) bool { return x != uint64(last) }) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("applied positions %v; want %d everywhere", c.Applied(), last)
}

// TestStaleShardRefuses: shards whose change log is cut off stop
// answering once they lag more than their bound (SetMaxLag), so a search
// fails with ErrPartial naming them stale rather than answering from a
// partition that misses the enrolment committed meanwhile; when the log
// is back they catch up by themselves and the enrolment is found.
func TestStaleShardRefuses(t *testing.T) {
	url := startNATS(t)
	snap, probes := testGallery(5, 10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const n, bound = 2, 300 * time.Millisecond
	lg := &memLog{}
	shards := make([]*Shard, n)
	for p := range n {
		s, _ := New(p, n, testOptions, nil)
		s.SetMaxLag(bound)
		feed, err := NewLogFeed(ctx, lg, nil)
		if err != nil {
			t.Fatal(err)
		}
		feed.Poll = 10 * time.Millisecond
		nc := connect(t, url)
		go func() { _ = s.Load(ctx, snap, feed) }()
		go func() { _ = s.Serve(ctx, nc, DefaultPrefix, 1) }()
		shards[p] = s
	}
	c, _ := NewClient(connect(t, url), ClientConfig{Partitions: n, Options: testOptions, Timeout: 2 * time.Second})
	waitServing(t, c, probes[0])
	if lag := shards[0].Lag(); lag <= 0 || lag > bound {
		t.Errorf("lag while following: %v; want within (0, %v]", lag, bound)
	}

	lg.setCut(true)
	newcomer, _ := probes[1].MarshalBinary()
	const id = 777_777
	lg.commit(id, Template{Finger: 3, Data: newcomer})
	cutAt := time.Now()
	for {
		got, err := c.Search(ctx, probes[1], 3, matcher.SearchOptions{})
		var pe *PartialError
		if errors.As(err, &pe) && len(pe.Missing) == n && strings.Contains(pe.Causes[0], "stale") && strings.Contains(pe.Causes[1], "stale") {
			break
		}
		if err == nil && time.Since(cutAt) > bound+100*time.Millisecond {
			// (the last read began before the cut, at most a poll earlier)
			t.Fatalf("%v after the cut: answered %v; want the stale shards to refuse", time.Since(cutAt).Round(time.Millisecond), got)
		}
		if time.Since(cutAt) > 30*time.Second {
			t.Fatalf("not refused as stale within 30 s: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}

	lg.setCut(false)
	for i := 0; ; i++ {
		got, err := c.Search(ctx, probes[1], 3, matcher.SearchOptions{})
		if err == nil {
			if !slices.ContainsFunc(got, func(c matcher.Candidate) bool { return c.Subject == Key(id) }) {
				t.Fatalf("answering again without the enrolment committed while cut off: %v", got)
			}
			break
		}
		if i == 3000 {
			t.Fatalf("still refusing after the log came back: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
