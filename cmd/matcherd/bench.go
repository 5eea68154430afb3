package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/server/shard"
)

// bench measures 1:N identification (one search, k 2) and enrolment
// deduplication (the two fingers' searches at once, k 5, as centrald's
// dedupAll) against shards serving matcherd gen's residents 1..N, and
// optionally checks every answer against one in-process gallery holding
// the same residents (--whole, a gallery file of one partition).
func bench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("matcherd bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("nats", "nats://127.0.0.1:4222", "NATS server")
	partitions := fs.Int("partitions", 1, "partitions served")
	residentsN := fs.Int64("residents", 0, "the shards serve residents 1..N")
	searches := fs.Int("searches", 20, "searches of each kind")
	seed := fs.Uint64("seed", 1, "seed of matcherd gen")
	pool := fs.Int("pool", 4000, "pool of matcherd gen")
	whole := fs.String("whole", "", "gallery file of the same residents in one partition: check every answer against it and time it in this process")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *residentsN < 1 {
		return errors.New("bench: give --residents")
	}
	s := newSynth(*seed, *pool)
	nc, err := nats.Connect(*url)
	if err != nil {
		return err
	}
	defer nc.Close()
	cl, err := shard.NewClient(nc, shard.ClientConfig{Partitions: *partitions, Timeout: 5 * time.Minute})
	if err != nil {
		return err
	}
	var wg *matcher.Gallery
	if *whole != "" {
		if wg, err = matcher.OpenGalleryFile(*whole, matcher.GalleryOptions{}, 6*int(*residentsN)); err != nil {
			return err
		}
	}
	rng := rand.New(rand.NewPCG(*seed, 77))
	type result struct {
		Kind       string    `json:"kind"`
		Searches   int       `json:"searches"`
		MeanMS     float64   `json:"mean_ms"`
		P50MS      float64   `json:"p50_ms"`
		P90MS      float64   `json:"p90_ms"`
		MaxMS      float64   `json:"max_ms"`
		Rank1      int       `json:"rank1_returning"`
		Exact      int       `json:"exact_vs_whole,omitempty"`
		WholeP50MS float64   `json:"whole_p50_ms,omitempty"`
		Lat        []float64 `json:"-"`
	}
	stats := func(r *result, whole []float64) {
		l := slices.Clone(r.Lat)
		slices.Sort(l)
		for _, v := range l {
			r.MeanMS += v / float64(len(l))
		}
		r.P50MS, r.P90MS, r.MaxMS = l[len(l)/2], l[len(l)*9/10], l[len(l)-1]
		if len(whole) > 0 {
			slices.Sort(whole)
			r.WholeP50MS = whole[len(whole)/2]
		}
	}
	probe := func(i int) (int64, int, *matcher.Template, error) {
		// Half returning residents (a fourth sample), half newcomers.
		id := 1 + rng.Int64N(*residentsN)
		if i%2 == 1 {
			id = *residentsN + 1 + rng.Int64N(1<<40)
		}
		f := synthFingers[rng.IntN(2)]
		t, err := s.sample(id, f, 3)
		return id, f, t, err
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	// Wait for every shard, then warm up (fault the mapped galleries in).
	_, _, t0, err := probe(0)
	if err != nil {
		return err
	}
	for deadline := time.Now().Add(10 * time.Minute); ; {
		_, err := cl.Search(ctx, t0, 2, matcher.SearchOptions{})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(time.Second)
	}
	for range 3 {
		if _, err := cl.Search(ctx, t0, 2, matcher.SearchOptions{}); err != nil {
			return err
		}
	}
	ident := result{Kind: "identify", Searches: *searches}
	var wholeLat []float64
	for i := range *searches {
		id, _, t, err := probe(i)
		if err != nil {
			return err
		}
		start := time.Now()
		got, err := cl.Search(ctx, t, 2, matcher.SearchOptions{})
		if err != nil {
			return err
		}
		ident.Lat = append(ident.Lat, ms(time.Since(start)))
		if len(got) > 0 && got[0].Subject == shard.Key(id) {
			ident.Rank1++
		}
		if wg != nil {
			start := time.Now()
			want, err := wg.Search(ctx, t, 2)
			if err != nil {
				return err
			}
			wholeLat = append(wholeLat, ms(time.Since(start)))
			if slices.Equal(got, want) {
				ident.Exact++
			} else {
				fmt.Fprintf(stderr, "search %d: sharded %v, whole %v\n", i, got, want)
			}
		}
	}
	stats(&ident, wholeLat)
	dedup := result{Kind: "dedup", Searches: *searches}
	for i := range *searches {
		id := *residentsN + 1 + rng.Int64N(1<<40) // a newcomer: no early stop
		if i%2 == 0 {
			id = 1 + rng.Int64N(*residentsN) // enrolled already: a duplicate
		}
		var ts [2]*matcher.Template
		for j, f := range synthFingers {
			if ts[j], err = s.sample(id, f, 3); err != nil {
				return err
			}
		}
		start := time.Now()
		var w sync.WaitGroup
		var errs [2]error
		var hits [2][]matcher.Candidate
		for j := range ts {
			w.Add(1)
			go func() {
				defer w.Done()
				hits[j], errs[j] = cl.Search(ctx, ts[j], 5, matcher.SearchOptions{})
			}()
		}
		w.Wait()
		if err := errors.Join(errs[:]...); err != nil {
			return err
		}
		dedup.Lat = append(dedup.Lat, ms(time.Since(start)))
		if i%2 == 0 && len(hits[0]) > 0 && hits[0][0].Subject == shard.Key(id) {
			dedup.Rank1++
		}
	}
	stats(&dedup, nil)
	enc := json.NewEncoder(stdout)
	for _, r := range []result{ident, dedup} {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}
