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

	"github.com/qingshan-gov/veinkiosk/simulators/printersim"
)

func init() {
	register(simulator{
		name:    "printer",
		summary: "ESC/POS receipt printer on a pseudo-terminal: receipts to PNG, paper-out and cover-open faults, HTTP control API and console",
		run:     runPrinter,
	})
}

func runPrinter(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("devsim printer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("out", "receipts", "directory for the printed receipts (receipt-NNN.png); empty: keep them in memory only")
	paper := fs.Int("paper-lines", 0, "lines of paper on the roll before it ends (0: endless)")
	control := fs.String("control", "127.0.0.1:0", "loopback address of the HTTP control API (empty: none)")
	console := fs.Bool("console", true, "read commands from stdin (paper out, paper in [LINES], cover open, cover closed, receipts, help)")
	verbose := fs.Bool("v", true, "log every printed line, QR payload and cut to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *dir != "" {
		if err := os.MkdirAll(*dir, 0o755); err != nil {
			return err
		}
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	sim, err := printersim.StartPTY(printersim.Options{Dir: *dir, PaperLines: *paper,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))})
	if err != nil {
		return err
	}
	defer sim.Close()
	out := &syncWriter{w: stdout}
	fmt.Fprintf(out, "device: %s\n", sim.Path())

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	errc := make(chan error, 1)
	if err := serveControl(ctx, &wg, errc, *control, out, sim.ServeHTTP); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "devsim printer: print to it with: kioskd -printer serial:%s (receipts in %q)\n", sim.Path(), *dir)
	if *console {
		fmt.Fprintf(stderr, "devsim printer: %s\n", printersim.ConsoleHelp)
		go func() {
			if err := sim.Console(ctx, consoleInput, out); err != nil && !errors.Is(err, context.Canceled) {
				fmt.Fprintf(stderr, "devsim printer: console: %v\n", err)
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
