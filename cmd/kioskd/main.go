// Command kioskd is the kiosk daemon: it drives the ID-card reader and the
// finger-vein scanner, serves the touchscreen UI on localhost and talks to
// the central server. See docs/kiosk.md.
//
//	kioskd -reader /dev/ttyUSB0 -scanner usb -server https://centrald:8443 \
//	       -key /etc/veinkiosk/kiosk.key -kiosk-id qs-01 -station qingshan-01
//
// With -scanner sim the daemon embeds the scanner simulator (for
// development) and serves its control API on -sim-control.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan"
	"github.com/qingshan-gov/veinkiosk/kiosk"
	"github.com/qingshan-gov/veinkiosk/simulators/veinsim"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "kioskd:", err)
		if errors.Is(err, kiosk.ErrConfig) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func run(args []string) error {
	// -sim-control is kioskd's own flag, split off before the kiosk config.
	simControl := "127.0.0.1:8091"
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-sim-control" || a == "--sim-control":
			if i+1 >= len(args) {
				return fmt.Errorf("%w: -sim-control needs an address", kiosk.ErrConfig)
			}
			simControl = args[i+1]
			i++
		case len(a) > 13 && (a[:13] == "-sim-control=" || a[:14] == "--sim-control="):
			simControl = a[len("-sim-control="):]
			if a[1] == '-' {
				simControl = a[len("--sim-control="):]
			}
		case a == "-h" || a == "-help" || a == "--help":
			_, err := kiosk.LoadConfig([]string{"-help"}, func(string) string { return "" })
			fmt.Fprintln(os.Stderr, err)
			fmt.Fprintln(os.Stderr, "  -sim-control string\n    \tcontrol API of the embedded scanner simulator with -scanner sim (default 127.0.0.1:8091)")
			return nil
		default:
			rest = append(rest, a)
		}
	}
	cfg, err := kiosk.LoadConfig(rest, os.Getenv)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	key, err := kiosk.LoadKey(cfg.KeyFile)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if cfg.ScannerSpec == "sim" {
		dev, err := veinsim.New(veinsim.Config{})
		if err != nil {
			return err
		}
		veinscan.RegisterTransport("sim", func(ctx context.Context, arg string, _ *veinscan.Options) (veinscan.Conn, error) {
			return dev.Connect()
		})
		ln, err := net.Listen("tcp", simControl)
		if err != nil {
			return fmt.Errorf("scanner simulator control: %w", err)
		}
		go http.Serve(ln, dev.Handler())
		log.Info("scanner simulator", "control", "http://"+ln.Addr().String())
	}

	d := kiosk.New(kiosk.Options{
		Config:      cfg,
		OpenReader:  kiosk.OpenIDCardReader(cfg.ReaderPort),
		OpenScanner: kiosk.OpenVeinScanner(cfg.ScannerSpec, nil),
		Server:      kiosk.NewAPIServer(cfg.ServerURL, cfg.KioskID, key, nil),
		Extractor:   kiosk.MatcherExtractor{},
		Logger:      log,
	})
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("UI listener: %w", err)
	}
	srv := &http.Server{Handler: d.Handler(), ReadHeaderTimeout: 5 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }} // ends the event streams on shutdown
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("kiosk UI", "url", "http://"+ln.Addr().String()+"/", "kiosk", cfg.KioskID, "station", cfg.StationID)
	runDone := make(chan error, 1)
	go func() { runDone <- d.Run(ctx) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		stop()
		<-runDone
		return fmt.Errorf("UI server: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	<-runDone
	log.Info("stopped")
	return nil
}
