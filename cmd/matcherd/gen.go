package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"time"

	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/server/shard"
)

// synth makes the synthetic residents of the scale measurements
// (docs/scaling.md) cheaply: simulating every finger (matcher.SynthFinger,
// about 0.1-0.4 ms a sample) would take hours for ten million templates,
// so a pool of simulated fingers with four samples each is recombined: a
// resident's finger takes each of the three 64-bit column bands of its
// rows from a pool finger of its own choosing, with its own cyclic row
// shift, and sample i of the finger is made from sample i of those pool
// fingers. Samples 0-2 are enrolled; sample 3 is the probe of a returning
// resident. Two residents' fingers share a band only by chance (about one
// in pool x 64 per band), which gives a heavier impostor tail than real
// fingers: the figures measure time and memory, not accuracy.
type synth struct {
	seed   uint64
	params matcher.Params
	pool   [][4]*matcher.Pattern
}

func newSynth(seed uint64, poolSize int) *synth {
	s := &synth{seed: seed, params: matcher.DefaultParams}
	rng := rand.New(rand.NewPCG(seed, 0))
	for range poolSize {
		f := matcher.NewSynthFinger(rng, s.params.Width, s.params.Height)
		var ss [4]*matcher.Pattern
		for i := range ss {
			ss[i] = f.Sample(rng, 4, 12, 0.1)
		}
		s.pool = append(s.pool, ss)
	}
	return s
}

// fingers of every synthetic resident.
var synthFingers = [2]int{2, 7}

// sample returns sample i (0..3) of finger f of a resident.
func (s *synth) sample(resident int64, finger, i int) (*matcher.Template, error) {
	rng := rand.New(rand.NewPCG(s.seed, uint64(resident)<<4|uint64(finger)))
	p := s.pool[0][0]
	var src [3]*matcher.Pattern
	var dy [3]int
	for b := range src {
		src[b] = s.pool[rng.IntN(len(s.pool))][i]
		dy[b] = rng.IntN(p.H)
	}
	out := matcher.NewPattern(p.W, p.H)
	for y := 0; y < p.H; y++ {
		for w := 0; w < p.Stride; w++ {
			b := min(w, len(src)-1)
			out.Bits[y*p.Stride+w] = src[b].Bits[((y+dy[b])%p.H)*p.Stride+w]
		}
	}
	return matcher.NewTemplate(s.params, out, nil, 60, uint8(finger))
}

// residents returns the residents 1..n (internal ids) of a partition, in
// order: the partitions of a layout together hold residents 1..n, and the
// first residents of a file are a prefix of it (--residents of matcherd).
func residents(partition, partitions int, n int64) []int64 {
	var out []int64
	for id := int64(1); id <= n; id++ {
		if shard.PartitionOf(shard.Key(id), partitions) == partition {
			out = append(out, id)
		}
	}
	return out
}

func gen(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("matcherd gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "gallery file to write")
	n := fs.Int64("residents", 0, "residents 1..N of the layout; the partition's get 6 templates each (2 fingers x 3 samples)")
	partition := fs.Int("partition", 0, "partition")
	partitions := fs.Int("partitions", 1, "partitions")
	seed := fs.Uint64("seed", 1, "seed of the synthetic residents")
	pool := fs.Int("pool", 4000, "simulated fingers recombined into residents' fingers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || *n < 1 || *partitions < 1 || *partition < 0 || *partition >= *partitions || *pool < 1 {
		return errors.New("gen: give --out, --residents, --partition and --partitions")
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	start := time.Now()
	s := newSynth(*seed, *pool)
	log.Info("pool simulated", "fingers", *pool, "took", time.Since(start).Round(time.Millisecond))
	g := matcher.NewGallery(matcher.GalleryOptions{})
	for _, id := range residents(*partition, *partitions, *n) {
		for _, f := range synthFingers {
			for i := range 3 {
				t, err := s.sample(id, f, i)
				if err != nil {
					return err
				}
				if err := g.Add(shard.Key(id), f, t); err != nil {
					return err
				}
			}
		}
		if g.Len()%600_000 == 0 {
			log.Info("generating", "templates", g.Len(), "took", time.Since(start).Round(time.Second))
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	if err := g.WriteGalleryFile(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	log.Info("written", "file", *out, "templates", g.Len(), "took", time.Since(start).Round(time.Second))
	return nil
}

// loadFile serves a gallery file.
func loadFile(c *config, log *slog.Logger) (*shard.Shard, error) {
	start := time.Now()
	limit := 0
	if c.Residents > 0 {
		limit = 6 * len(residents(c.Partition, c.Partitions, c.Residents))
	}
	g, err := matcher.OpenGalleryFile(c.GalleryFile, matcher.GalleryOptions{}, limit)
	if err != nil {
		return nil, err
	}
	s, err := shard.NewFromGallery(c.Partition, c.Partitions, g, log)
	if err != nil {
		return nil, err
	}
	log.Info("gallery file mapped", "file", c.GalleryFile, "templates", g.Len(), "bytes_per_template", g.BytesPerTemplate(), "took", time.Since(start).Round(time.Millisecond))
	return s, nil
}
