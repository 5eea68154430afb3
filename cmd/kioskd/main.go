// Command kioskd is the kiosk daemon: it drives the ID-card reader and the
// finger-vein scanner, serves the touchscreen UI on localhost and talks to
// the central server. See docs/kiosk.md.
//
//	kioskd -reader /dev/ttyUSB0 -scanner usb -server https://centrald:8443 \
//	       -key /etc/veinkiosk/kiosk.key -kiosk-id qs-01 -station qingshan-01
//
// kioskd drives real devices only: it links the USB transport
// (devices/veinscan/usb: cgo and libusb-1.0, so build it after
// "apt install pkg-config libusb-1.0-0-dev") and no simulator. To develop
// without hardware, run the devices as simulators on pseudo-terminals
// (go run ./cmd/devsim idcard; go run ./cmd/devsim vein --serial) and give
// -reader /dev/pts/N -scanner serial:/dev/pts/M, or run the whole service
// with go run ./cmd/demo.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	_ "github.com/qingshan-gov/veinkiosk/devices/veinscan/usb" // the "usb" scanner transport
	"github.com/qingshan-gov/veinkiosk/kiosk"
	"github.com/qingshan-gov/veinkiosk/kiosk/hwdev"
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
	cfg, err := parseConfig(args, os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
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
	hc, err := cfg.HTTPClient()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var openPrinter func(context.Context) (kiosk.ReceiptPrinter, error)
	if cfg.PrinterSpec != "" {
		openPrinter = hwdev.OpenReceiptPrinter(cfg.PrinterSpec)
	}
	d := kiosk.New(kiosk.Options{
		OpenPrinter: openPrinter,
		Config:      cfg,
		OpenReader:  hwdev.OpenIDCardReader(cfg.ReaderPort),
		OpenScanner: hwdev.OpenVeinScanner(cfg.ScannerSpec, nil),
		Server:      kiosk.NewServerClient(cfg.ServerURL, cfg.KioskID, key, hc).WithFailover(time.Duration(cfg.ServerTimeout)/2, log),
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
