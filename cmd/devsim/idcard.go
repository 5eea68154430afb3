package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/simulators/deck"
	"github.com/qingshan-gov/veinkiosk/simulators/idcardsim"
)

func init() {
	register(simulator{
		name:    "idcard",
		summary: "SAM ID-card reader on a pseudo-terminal, with an HTTP control API and a console on stdin",
		run:     runIDCard,
	})
}

// consoleInput is where the idcard console reads its commands (tests swap it).
var consoleInput io.Reader = os.Stdin

// syncWriter serialises writes from the console and the plug callback.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

// serveControl starts a simulator's HTTP control API on addr (nothing
// when addr is empty) and returns once it listens, its URL printed to out;
// a failure after that arrives on errc.
func serveControl(ctx context.Context, wg *sync.WaitGroup, errc chan error, addr string, out io.Writer,
	serve func(ctx context.Context, addr string, listening func(addr string)) error) error {
	if addr == "" {
		return nil
	}
	ready := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		err := serve(ctx, addr, func(a string) {
			fmt.Fprintf(out, "control: http://%s\n", a)
			close(ready)
		})
		if err != nil {
			errc <- fmt.Errorf("control API: %w", err)
		}
	}()
	select {
	case <-ready:
		return nil
	case err := <-errc:
		return err
	}
}

func runIDCard(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("devsim idcard", flag.ContinueOnError)
	fs.SetOutput(stderr)
	deckPath := fs.String("deck", "", "resident deck JSON file (default: generate one from --seed and --residents)")
	seed := fs.Int64("seed", 42, "seed of the generated deck (the vein simulator's default is 42 too)")
	residents := fs.Int("residents", 200, "residents in the generated deck")
	control := fs.String("control", "127.0.0.1:0", "loopback address of the HTTP control API (empty: none)")
	insert := fs.String("insert", "first", "the card on the reader at start: a resident's ID number, \"first\" (the deck's first resident) or \"none\"")
	fast := fs.Bool("fast", false, "answer at once instead of with realistic reader timing")
	console := fs.Bool("console", true, "read commands from stdin (insert ID, remove, fault KIND [N], list, help)")
	writeDeck := fs.String("write-deck", "", "write the deck as JSON to this file")
	writeCSV := fs.String("write-csv", "", "write the deck as CSV for the server's resident import to this file")
	verbose := fs.Bool("v", false, "log every command to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var d *deck.Deck
	if *deckPath != "" {
		var err error
		if d, err = deck.LoadFile(*deckPath); err != nil {
			return err
		}
	} else {
		if *residents <= 0 {
			return fmt.Errorf("--residents %d: need at least one", *residents)
		}
		d = deck.Generate(*seed, *residents)
	}
	if *writeDeck != "" {
		if err := d.SaveFile(*writeDeck); err != nil {
			return err
		}
	}
	if *writeCSV != "" {
		f, err := os.Create(*writeCSV)
		if err != nil {
			return err
		}
		err = d.WriteCSV(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}

	out := &syncWriter{w: stdout}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	opts := idcardsim.Options{
		Timing: idcardsim.DefaultTiming(),
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
		// stdout's first line is the device, for scripts; a replug prints
		// the new one.
		OnPlug: func(path string) { fmt.Fprintf(out, "device: %s\n", path) },
	}
	if *fast {
		opts.Timing = idcardsim.FastTiming()
	}
	sim, err := idcardsim.Start(d, opts)
	if err != nil {
		return err
	}
	defer sim.Close()
	onReader := "no card on the reader"
	switch *insert {
	case "", "none":
	case "first":
		*insert = d.Residents[0].IDNumber
		fallthrough
	default:
		if err := sim.Insert(*insert); err != nil {
			return err
		}
		onReader = "on the reader: the card of " + identity.MaskIDNumber(*insert)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	errc := make(chan error, 2)
	if err := serveControl(ctx, &wg, errc, *control, out, sim.ServeHTTP); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "devsim idcard: %d residents, %s; read it with: go run ./cmd/veinctl card read --port %s --wait 10s --json\n", len(d.Residents), onReader, sim.Path())
	if *console {
		fmt.Fprintf(stderr, "devsim idcard: type here: insert ID, remove, list, fault KIND [N], help\n")
	}
	if *console {
		// The console goroutine may stay blocked on stdin after ctx ends;
		// the process exits right after, so it is not waited for.
		go func() {
			if err := sim.Console(ctx, consoleInput, out); err != nil && !errors.Is(err, context.Canceled) {
				fmt.Fprintf(stderr, "devsim idcard: console: %v\n", err)
			}
		}()
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-errc:
		return err
	}
}
