// Command devsim runs device simulators that speak the real wire protocols:
// "devsim idcard" plays a SAM ID-card reader on a pseudo-terminal and
// "devsim vein" plays a finger-vein scanner. Each simulator lives in its own
// file and registers itself with register.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

type simulator struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var simulators = map[string]simulator{}

func register(s simulator) {
	if _, dup := simulators[s.name]; dup {
		panic("devsim: simulator registered twice: " + s.name)
	}
	simulators[s.name] = s
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: devsim SIMULATOR [flags]")
	fmt.Fprintln(w, "\nsimulators:")
	names := make([]string, 0, len(simulators))
	for n := range simulators {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, simulators[n].summary)
	}
}

func main() {
	args := os.Args[1:]
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		usage(os.Stderr)
		os.Exit(2)
	}
	s, ok := simulators[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "devsim: unknown simulator %q\n", args[0])
		usage(os.Stderr)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := s.run(ctx, args[1:], os.Stdout, os.Stderr); err != nil && !errors.Is(err, flag.ErrHelp) && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(os.Stderr, "devsim %s: %v\n", s.name, err)
		os.Exit(1)
	}
}
