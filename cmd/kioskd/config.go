package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan"
	"github.com/qingshan-gov/veinkiosk/kiosk"
)

// parseConfig fills the kiosk's Config from, in order (a later source wins):
// kiosk.DefaultConfig, the JSON file of -config (or VEINKIOSK_CONFIG), the
// VEINKIOSK_* environment, the flags. The library validates the result; on
// top of that the scanner spec must name a transport this binary links.
// -h prints the flags to stderr and returns flag.ErrHelp.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (kiosk.Config, error) {
	cfg := kiosk.DefaultConfig()
	fs := flag.NewFlagSet("kioskd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", getenv("VEINKIOSK_CONFIG"), "JSON configuration file (env VEINKIOSK_CONFIG)")
	var f kiosk.Config
	fs.StringVar(&f.ReaderPort, "reader", "", "ID-card reader serial port, e.g. /dev/ttyUSB0 (env VEINKIOSK_READER)")
	fs.StringVar(&f.ScannerSpec, "scanner", "", fmt.Sprintf("finger-vein scanner: one of %s; default usb (env VEINKIOSK_SCANNER)", specHelp()))
	fs.StringVar(&f.PrinterSpec, "printer", "", "receipt printer: serial:/dev/ttyUSB1 or usblp:/dev/usb/lp0; empty: none (env VEINKIOSK_PRINTER)")
	fs.StringVar(&f.ServerURL, "server", "", "central server URL; several, comma-separated, to fail over in order (env VEINKIOSK_SERVER)")
	fs.StringVar(&f.KeyFile, "key", "", "kiosk Ed25519 private key file, PEM PKCS#8 (env VEINKIOSK_KEY)")
	fs.StringVar(&f.ServerCA, "server-ca", "", "PEM CA bundle to trust for the server's TLS certificate (env VEINKIOSK_SERVER_CA)")
	fs.StringVar(&f.TLSCert, "tls-cert", "", "the kiosk's TLS client certificate, PEM, common name = kiosk id (env VEINKIOSK_TLS_CERT)")
	fs.StringVar(&f.TLSKey, "tls-key", "", "its private key, PEM, mode 0600 (env VEINKIOSK_TLS_KEY)")
	fs.StringVar(&f.KioskID, "kiosk-id", "", "kiosk id registered at the server (env VEINKIOSK_KIOSK_ID)")
	fs.StringVar(&f.StationID, "station", "", "service station id (env VEINKIOSK_STATION)")
	fs.StringVar(&f.Lang, "lang", "", "UI language: zh or en (env VEINKIOSK_LANG)")
	fs.StringVar(&f.Listen, "listen", "", "UI listen address, loopback (env VEINKIOSK_LISTEN)")
	fs.StringVar(&f.LogLevel, "log-level", "", "debug, info, warn or error (env VEINKIOSK_LOG_LEVEL)")
	fs.BoolVar(&f.AllowRemote, "allow-remote", false, "allow a non-loopback listen address (env VEINKIOSK_ALLOW_REMOTE)")
	fs.IntVar(&f.MaxTries, "max-tries", 0, "finger attempts per session (env VEINKIOSK_MAX_TRIES)")
	idle := fs.Duration("idle-timeout", 0, "walk-away timeout (env VEINKIOSK_IDLE_TIMEOUT)")
	capt := fs.Duration("capture-timeout", 0, "how long one capture waits for a finger (env VEINKIOSK_CAPTURE_TIMEOUT)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, err
		}
		return cfg, fmt.Errorf("%w: %v", kiosk.ErrConfig, err)
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("%w: unexpected argument %q", kiosk.ErrConfig, fs.Arg(0))
	}
	if *file != "" {
		b, err := os.ReadFile(*file)
		if err != nil {
			return cfg, fmt.Errorf("%w: %v", kiosk.ErrConfig, err)
		}
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cfg); err != nil {
			return cfg, fmt.Errorf("%w: %s: %v", kiosk.ErrConfig, *file, err)
		}
	}
	if err := applyEnv(&cfg, getenv); err != nil {
		return cfg, err
	}
	// Flags win.
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "reader":
			cfg.ReaderPort = f.ReaderPort
		case "scanner":
			cfg.ScannerSpec = f.ScannerSpec
		case "printer":
			cfg.PrinterSpec = f.PrinterSpec
		case "server":
			cfg.ServerURL = f.ServerURL
		case "key":
			cfg.KeyFile = f.KeyFile
		case "server-ca":
			cfg.ServerCA = f.ServerCA
		case "tls-cert":
			cfg.TLSCert = f.TLSCert
		case "tls-key":
			cfg.TLSKey = f.TLSKey
		case "kiosk-id":
			cfg.KioskID = f.KioskID
		case "station":
			cfg.StationID = f.StationID
		case "lang":
			cfg.Lang = f.Lang
		case "listen":
			cfg.Listen = f.Listen
		case "log-level":
			cfg.LogLevel = f.LogLevel
		case "allow-remote":
			cfg.AllowRemote = f.AllowRemote
		case "max-tries":
			cfg.MaxTries = f.MaxTries
		case "idle-timeout":
			cfg.IdleTimeout = kiosk.Duration(*idle)
		case "capture-timeout":
			cfg.CaptureTimeout = kiosk.Duration(*capt)
		}
	})
	err := cfg.Validate()
	if name, _, _ := strings.Cut(cfg.ScannerSpec, ":"); name != "" && !slices.Contains(veinscan.Transports(), name) {
		// The simulated scanner is not part of the kiosk daemon: it runs
		// in the demo, or as devsim on a pseudo-terminal (-scanner serial:PATH).
		msg := fmt.Errorf("%w: scanner %q: kioskd has the transports %s (a simulated scanner: go run ./cmd/devsim vein --serial, then -scanner serial:PATH)",
			kiosk.ErrConfig, cfg.ScannerSpec, specHelp())
		err = errors.Join(err, msg)
	}
	return cfg, err
}

func specHelp() string {
	var s []string
	for _, t := range veinscan.Transports() {
		switch t {
		case "usb":
			s = append(s, "usb", "usb:VID:PID")
		case "serial":
			s = append(s, "serial:PATH")
		default:
			s = append(s, t)
		}
	}
	return strings.Join(s, ", ")
}

// applyEnv overrides cfg with the VEINKIOSK_* variables that are set.
func applyEnv(cfg *kiosk.Config, getenv func(string) string) error {
	for _, e := range []struct {
		name string
		dst  *string
	}{
		{"VEINKIOSK_READER", &cfg.ReaderPort}, {"VEINKIOSK_SCANNER", &cfg.ScannerSpec}, {"VEINKIOSK_PRINTER", &cfg.PrinterSpec},
		{"VEINKIOSK_SERVER", &cfg.ServerURL}, {"VEINKIOSK_KEY", &cfg.KeyFile},
		{"VEINKIOSK_KIOSK_ID", &cfg.KioskID}, {"VEINKIOSK_STATION", &cfg.StationID},
		{"VEINKIOSK_LANG", &cfg.Lang}, {"VEINKIOSK_LISTEN", &cfg.Listen},
		{"VEINKIOSK_LOG_LEVEL", &cfg.LogLevel},
		{"VEINKIOSK_SERVER_CA", &cfg.ServerCA}, {"VEINKIOSK_TLS_CERT", &cfg.TLSCert}, {"VEINKIOSK_TLS_KEY", &cfg.TLSKey},
	} {
		if v := getenv(e.name); v != "" {
			*e.dst = v
		}
	}
	if v := getenv("VEINKIOSK_ALLOW_REMOTE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%w: VEINKIOSK_ALLOW_REMOTE=%q: want true or false", kiosk.ErrConfig, v)
		}
		cfg.AllowRemote = b
	}
	if v := getenv("VEINKIOSK_MAX_TRIES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%w: VEINKIOSK_MAX_TRIES=%q: want a number", kiosk.ErrConfig, v)
		}
		cfg.MaxTries = n
	}
	for _, e := range []struct {
		name string
		dst  *kiosk.Duration
	}{{"VEINKIOSK_IDLE_TIMEOUT", &cfg.IdleTimeout}, {"VEINKIOSK_CAPTURE_TIMEOUT", &cfg.CaptureTimeout}} {
		if v := getenv(e.name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("%w: %s=%q: want a duration such as 90s", kiosk.ErrConfig, e.name, v)
			}
			*e.dst = kiosk.Duration(d)
		}
	}
	return nil
}
