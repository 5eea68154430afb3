// Command matcherd is a matcher shard: it holds one partition of the 1:N
// gallery and answers centrald's searches over NATS (docs/scaling.md).
//
//	matcherd --partition 0 --partitions 4 --nats nats://127.0.0.1:4222 --database-url postgres://... --keys FILE
//
// It loads the residents of its partition (FNV-1a of the resident's
// internal id, modulo --partitions) from PostgreSQL, follows the store's
// change log (the one centrald replicas follow: LISTEN/NOTIFY and a poll),
// and answers in its partition's queue group: run two or more per
// partition and they take over from each other. A lost NATS connection is
// reconnected for ever (no change is missed: they come from the log). A
// shard that has not followed the log for --max-lag answers every search
// with an error (centrald: search_incomplete) until it has caught up; a
// change log it could not read for half its retention makes it exit for
// its supervisor to restart it (reloading). For the scale measurements it
// serves a gallery file instead (--gallery-file, made by `matcherd gen`),
// memory-mapped.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/server/keyring"
	"github.com/qingshan-gov/veinkiosk/server/shard"
	"github.com/qingshan-gov/veinkiosk/server/store"
	"github.com/qingshan-gov/veinkiosk/server/store/postgres"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == "gen":
		err = gen(ctx, os.Args[2:], os.Stderr)
	case len(os.Args) > 1 && os.Args[1] == "bench":
		err = bench(ctx, os.Args[2:], os.Stdout, os.Stderr)
	default:
		err = run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "matcherd:", err)
		os.Exit(1)
	}
}

type config struct {
	Partition, Partitions int
	NATSURL, Prefix       string
	DatabaseURL, KeysFile string
	GalleryFile           string
	Residents             int64
	Workers               int
	MaxLag                time.Duration
	LogLevel              string
}

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("matcherd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.Partition, "partition", 0, "the partition this shard holds, 0..partitions-1")
	fs.IntVar(&c.Partitions, "partitions", 1, "partitions of the gallery (centrald's --shards)")
	fs.StringVar(&c.NATSURL, "nats", "nats://127.0.0.1:4222", "NATS server")
	fs.StringVar(&c.Prefix, "prefix", shard.DefaultPrefix, "NATS subject prefix (centrald's --shard-prefix)")
	fs.StringVar(&c.DatabaseURL, "database-url", "", "PostgreSQL URL of the store to load the partition from")
	fs.StringVar(&c.KeysFile, "keys", "", "key ring file of the store (else $VEINKIOSK_KEYS)")
	fs.StringVar(&c.GalleryFile, "gallery-file", "", "serve this gallery file (matcherd gen) memory-mapped instead of the store: for measurements")
	fs.Int64Var(&c.Residents, "residents", 0, "with --gallery-file of matcherd gen: serve only residents 1..N (0: all)")
	fs.IntVar(&c.Workers, "workers", 1, "searches answered at once")
	fs.DurationVar(&c.MaxLag, "max-lag", 10*time.Second, "with --database-url: a shard that has not followed the change log for longer answers searches with an error (centrald: search_incomplete) until it has caught up; more than 2s, the log's poll interval")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	var msgs []string
	for _, ch := range []struct {
		bad bool
		msg string
	}{
		{c.Partitions < 1 || c.Partitions > 1024, "--partitions must be 1..1024"},
		{c.Partition < 0 || c.Partition >= c.Partitions, "--partition must be 0..partitions-1"},
		{(c.DatabaseURL == "") == (c.GalleryFile == ""), "give either --database-url or --gallery-file"},
		{c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://"), "--database-url must start with postgres:// or postgresql://"},
		{c.Residents < 0 || (c.Residents > 0 && c.GalleryFile == ""), "--residents goes with --gallery-file and is not negative"},
		{c.Workers < 1, "--workers must be at least 1"},
		{c.MaxLag <= 2*time.Second || c.MaxLag > time.Hour, "--max-lag must be more than 2s and at most 1h"},
		{c.Prefix == "", "--prefix must not be empty"},
	} {
		if ch.bad {
			msgs = append(msgs, ch.msg)
		}
	}
	if len(msgs) > 0 {
		return nil, fmt.Errorf("invalid configuration:\n  %s", strings.Join(msgs, "\n  "))
	}
	return c, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	c, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})).With("partition", c.Partition)
	nc, err := nats.Connect(c.NATSURL, nats.Name(fmt.Sprintf("matcherd-%d-of-%d", c.Partition, c.Partitions)),
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { log.Warn("NATS connection lost; reconnecting", "err", err) }),
		nats.ReconnectHandler(func(*nats.Conn) { log.Info("NATS connection back") }))
	if err != nil {
		return fmt.Errorf("connecting to NATS: %w", err)
	}
	defer nc.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var s *shard.Shard
	loadErr := make(chan error, 1)
	if c.GalleryFile != "" {
		if s, err = loadFile(c, log); err != nil {
			return err
		}
		s.SetReady()
	} else {
		if s, err = shard.New(c.Partition, c.Partitions, matcher.GalleryOptions{}, log); err != nil {
			return err
		}
		s.SetMaxLag(c.MaxLag)
		ring, err := loadKeys(c, getenv)
		if err != nil {
			return err
		}
		st, err := postgres.Open(ctx, c.DatabaseURL, store.Options{Keyring: ring, Logger: log})
		if err != nil {
			return fmt.Errorf("opening the store: %w", err)
		}
		defer st.Close()
		feed, err := shard.NewLogFeed(ctx, st, log)
		if err != nil {
			return err
		}
		go func() { loadErr <- s.Load(ctx, st, feed) }()
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.Serve(ctx, nc, c.Prefix, c.Workers) }()
	log.Info("serving", "subject", shard.Subject(c.Prefix, c.Partitions, c.Partition))
	var first error
	select {
	case first = <-loadErr:
	case first = <-serveErr:
	}
	cancel()
	return first
}

func loadKeys(c *config, getenv func(string) string) (*keyring.Ring, error) {
	if c.KeysFile != "" {
		return keyring.LoadFile(c.KeysFile)
	}
	if v := getenv(keyring.EnvVar); v != "" {
		return keyring.Parse([]byte(v))
	}
	return nil, errors.New("no key ring: give --keys FILE or set VEINKIOSK_KEYS")
}
