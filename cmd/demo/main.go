// Command demo runs the whole service on one machine: the central server on
// the embedded store, a synthetic population, the ID-card reader simulator
// on a pseudo-terminal, the finger-vein scanner simulator and the kiosk
// daemon, all in one process.
//
//	go run ./cmd/demo                 # interactive: prints the URLs; Ctrl-C stops
//	go run ./cmd/demo --scripted      # the full journey headless; exit 0 when it works
//
// See docs/kiosk.md ("Demo").
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

	"github.com/qingshan-gov/veinkiosk/kiosk"
	"github.com/qingshan-gov/veinkiosk/matcher/calib"
)

type options struct {
	data       string
	residents  int
	enrolNow   int
	scripted   bool
	kiosk      string
	server     string
	control    string
	verbose    bool
	fastReader bool
	// tests only: the simulator model's quality gates (nil: its
	// calibration's) and a change to the kiosk's configuration.
	simGates  *calib.QualityGates
	tuneKiosk func(*kiosk.Config)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.data, "data", "", "data directory of the embedded store (default: a temporary directory, removed at exit)")
	fs.IntVar(&o.residents, "residents", 1200, "synthetic residents imported from the deck (at least 1000 for the full demo)")
	fs.IntVar(&o.enrolNow, "enrol-now", 24, "residents enrolled before the kiosk opens; the rest are enrolled in the background")
	fs.BoolVar(&o.scripted, "scripted", false, "run the resident journey headless and exit (0 when every step worked)")
	fs.StringVar(&o.kiosk, "kiosk", "127.0.0.1:8090", "kiosk UI address (port 0: any free port)")
	fs.StringVar(&o.server, "server", "127.0.0.1:8080", "central server address (port 0: any free port)")
	fs.StringVar(&o.control, "control", "127.0.0.1:8092", "simulator control page address (port 0: any free port)")
	fs.BoolVar(&o.verbose, "v", false, "log every component to stderr")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.residents < 10 {
		return o, fmt.Errorf("--residents %d: at least 10", o.residents)
	}
	if o.enrolNow < 1 || o.enrolNow > o.residents {
		o.enrolNow = min(max(o.enrolNow, 1), o.residents)
	}
	if o.scripted {
		o.fastReader = true
		o.kiosk, o.server, o.control = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	logw := io.Discard
	if o.verbose {
		logw = stderr
	}
	log := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	say := func(format string, a ...any) { fmt.Fprintf(stdout, format+"\n", a...) }
	start := time.Now()
	w, err := startWorld(ctx, o, log, say)
	if err != nil {
		return err
	}
	defer w.close()
	say("ready in %s", time.Since(start).Round(100*time.Millisecond))

	if o.scripted {
		err := scripted(ctx, w, say)
		cancel()
		w.wait()
		if err != nil {
			return fmt.Errorf("scripted journey failed: %w", err)
		}
		say("PASS: every step of the journey worked")
		return nil
	}
	go w.enrolRest(ctx, say)
	say("")
	say("  kiosk screen:        %s/", w.kioskURL)
	say("  simulator control:   %s/   (insert a card, place a finger, inject faults)", w.controlURL)
	say("  back office:         %s/office   (officer %s / %s; admin %s / %s)", w.serverURL, officerUser, officerPass, adminUser, adminPass)
	var others []string
	for _, o := range unitOfficers {
		others = append(others, o.user)
	}
	say("  other units' officers: %s   (password %s)", strings.Join(others, ", "), unitOfficerPass)
	say("  station staff:       %s (kiosk PIN %s, office password %s)   supervisor: %s (PIN %s, password %s)", staffUser, staffPIN, staffPass, supervisorUser, supervisorPIN, supervisorPass)
	say("                       the kiosk's staff login: hold the station's name in the header for 2 s")
	say("  grid worker (phone): %s/office/grid   (%s / %s, grid cell %s)", w.serverURL, gridUser, gridPass, w.gridCell)
	say("  kiosk metrics:       %s/metrics", w.kioskURL)
	say("  scanner maker key:   %x (the simulators' TEST key, trusted by this demo's server as %s; docs/scanner-protocol.md, \"Test keys\")", []byte(w.vein.MakerPublicKey()), w.vein.Certificate().MakerID)
	say("")
	say("Ctrl-C stops everything.")
	<-ctx.Done()
	say("stopping…")
	w.wait()
	return nil
}
