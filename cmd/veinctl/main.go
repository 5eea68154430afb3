// Command veinctl is the operator and hardware-developer CLI: reading ID
// cards, driving finger-vein scanners, extracting and evaluating templates,
// load-testing the server and verifying the audit chain.
//
// Each top-level command lives in its own file and registers itself with
// register; main only dispatches.
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

// command is one top-level veinctl command ("card", "scanner", ...).
type command struct {
	name    string
	summary string
	// run receives the arguments after the command name. It writes results
	// to stdout and diagnostics to stderr, and returns an error to exit 1.
	run func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{}

func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("veinctl: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// errUsage marks a usage error: main prints the usage and exits 2.
var errUsage = errors.New("usage")

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: veinctl COMMAND [SUBCOMMAND] [flags]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'veinctl COMMAND -h' for the flags of a command.")
}

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "veinctl: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := c.run(ctx, args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "veinctl %s: %v\n", c.name, err)
		return 2
	default:
		fmt.Fprintf(stderr, "veinctl %s: %v\n", c.name, err)
		return 1
	}
}
