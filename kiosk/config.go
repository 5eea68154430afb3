package kiosk

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/qingshan-gov/veinkiosk/kiosk/session"
)

// Config is the daemon's configuration. It is read from an optional JSON
// file (-config), then VEINKIOSK_* environment variables, then flags; a
// later source overrides an earlier one.
type Config struct {
	ReaderPort  string `json:"reader_port"`  // serial port of the ID-card reader, e.g. /dev/ttyUSB0
	ScannerSpec string `json:"scanner"`      // "usb", "serial:/dev/ttyACM0" or "sim"
	ServerURL   string `json:"server_url"`   // central server base URL
	KeyFile     string `json:"key_file"`     // the kiosk's Ed25519 private key
	KioskID     string `json:"kiosk_id"`     // as registered at the server
	StationID   string `json:"station_id"`   // the service station
	Lang        string `json:"lang"`         // "zh" (default) or "en"
	Listen      string `json:"listen"`       // UI, SSE and /metrics; loopback only
	LogLevel    string `json:"log_level"`    // debug, info, warn, error
	AllowRemote bool   `json:"allow_remote"` // listen on a non-loopback address (not for production)

	MaxTries        int      `json:"max_tries"`
	EnrolMinQuality int      `json:"enrol_min_quality"` // enrolment quality gate, 0..100 (the server has its own)
	IdleTimeout     Duration `json:"idle_timeout"`
	ReceiptTimeout  Duration `json:"receipt_timeout"`
	StaffTimeout    Duration `json:"staff_timeout"`
	CaptureTimeout  Duration `json:"capture_timeout"` // how long one capture waits for a finger
	ServerTimeout   Duration `json:"server_timeout"`  // deadline of one server call
}

// Duration is a time.Duration that reads "90s" from JSON.
type Duration time.Duration

// UnmarshalJSON reads a Go duration string or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = Duration(v)
		return nil
	}
	var n float64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("duration: want \"90s\" or seconds, got %s", b)
	}
	*d = Duration(n * float64(time.Second))
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	sc := session.DefaultConfig()
	return Config{
		ScannerSpec:     "usb",
		Lang:            "zh",
		Listen:          "127.0.0.1:8090",
		LogLevel:        "info",
		MaxTries:        sc.MaxTries,
		EnrolMinQuality: sc.EnrolMinQuality,
		IdleTimeout:     Duration(sc.IdleTimeout),
		ReceiptTimeout:  Duration(sc.ReceiptTimeout),
		StaffTimeout:    Duration(sc.StaffTimeout),
		CaptureTimeout:  Duration(15 * time.Second),
		ServerTimeout:   Duration(10 * time.Second),
	}
}

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("kiosk: configuration")

// LoadConfig builds the configuration from args (without the program name)
// and the environment (getenv, usually os.Getenv).
func LoadConfig(args []string, getenv func(string) string) (Config, error) {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("kioskd", flag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	file := fs.String("config", getenv("VEINKIOSK_CONFIG"), "JSON configuration file (env VEINKIOSK_CONFIG)")
	var f Config
	fs.StringVar(&f.ReaderPort, "reader", "", "ID-card reader serial port, e.g. /dev/ttyUSB0 (env VEINKIOSK_READER)")
	fs.StringVar(&f.ScannerSpec, "scanner", "", `finger-vein scanner: "usb", "serial:PATH" or "sim" (env VEINKIOSK_SCANNER)`)
	fs.StringVar(&f.ServerURL, "server", "", "central server URL (env VEINKIOSK_SERVER)")
	fs.StringVar(&f.KeyFile, "key", "", "kiosk Ed25519 private key file, PEM PKCS#8 (env VEINKIOSK_KEY)")
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
		return cfg, fmt.Errorf("%w: %v\n%s", ErrConfig, err, usage(fs))
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("%w: unexpected argument %q", ErrConfig, fs.Arg(0))
	}
	if *file != "" {
		b, err := os.ReadFile(*file)
		if err != nil {
			return cfg, fmt.Errorf("%w: %v", ErrConfig, err)
		}
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cfg); err != nil {
			return cfg, fmt.Errorf("%w: %s: %v", ErrConfig, *file, err)
		}
	}
	// Environment.
	envs := []struct {
		name string
		dst  *string
	}{
		{"VEINKIOSK_READER", &cfg.ReaderPort}, {"VEINKIOSK_SCANNER", &cfg.ScannerSpec},
		{"VEINKIOSK_SERVER", &cfg.ServerURL}, {"VEINKIOSK_KEY", &cfg.KeyFile},
		{"VEINKIOSK_KIOSK_ID", &cfg.KioskID}, {"VEINKIOSK_STATION", &cfg.StationID},
		{"VEINKIOSK_LANG", &cfg.Lang}, {"VEINKIOSK_LISTEN", &cfg.Listen},
		{"VEINKIOSK_LOG_LEVEL", &cfg.LogLevel},
	}
	for _, e := range envs {
		if v := getenv(e.name); v != "" {
			*e.dst = v
		}
	}
	if v := getenv("VEINKIOSK_ALLOW_REMOTE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return cfg, fmt.Errorf("%w: VEINKIOSK_ALLOW_REMOTE=%q: want true or false", ErrConfig, v)
		}
		cfg.AllowRemote = b
	}
	if v := getenv("VEINKIOSK_MAX_TRIES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return cfg, fmt.Errorf("%w: VEINKIOSK_MAX_TRIES=%q: want a number", ErrConfig, v)
		}
		cfg.MaxTries = n
	}
	for _, e := range []struct {
		name string
		dst  *Duration
	}{{"VEINKIOSK_IDLE_TIMEOUT", &cfg.IdleTimeout}, {"VEINKIOSK_CAPTURE_TIMEOUT", &cfg.CaptureTimeout}} {
		if v := getenv(e.name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return cfg, fmt.Errorf("%w: %s=%q: want a duration such as 90s", ErrConfig, e.name, v)
			}
			*e.dst = Duration(d)
		}
	}
	// Flags win.
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "reader":
			cfg.ReaderPort = f.ReaderPort
		case "scanner":
			cfg.ScannerSpec = f.ScannerSpec
		case "server":
			cfg.ServerURL = f.ServerURL
		case "key":
			cfg.KeyFile = f.KeyFile
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
			cfg.IdleTimeout = Duration(*idle)
		case "capture-timeout":
			cfg.CaptureTimeout = Duration(*capt)
		}
	})
	return cfg, cfg.Validate()
}

func usage(fs *flag.FlagSet) string {
	var b strings.Builder
	fs.SetOutput(&b)
	fs.PrintDefaults()
	return b.String()
}

// Validate checks the configuration and explains every problem found.
func (c Config) Validate() error {
	var probs []string
	check := func(bad bool, format string, a ...any) {
		if bad {
			probs = append(probs, fmt.Sprintf(format, a...))
		}
	}
	check(c.ReaderPort == "", "reader port is not set: give -reader /dev/ttyUSB0 (or VEINKIOSK_READER)")
	check(!validScannerSpec(c.ScannerSpec), `scanner %q: use "usb", "serial:/dev/PATH" or "sim"`, c.ScannerSpec)
	if u, err := url.Parse(c.ServerURL); c.ServerURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		check(true, "server URL %q: give the central server's base URL, e.g. -server https://centrald.example:8443", c.ServerURL)
	}
	check(c.KeyFile == "", "kiosk key file is not set: give -key /etc/veinkiosk/kiosk.key (Ed25519, PEM PKCS#8)")
	check(c.KioskID == "", "kiosk id is not set: give -kiosk-id as registered at the server")
	check(len(c.KioskID) > 64, "kiosk id is longer than 64 characters")
	check(c.StationID == "", "station id is not set: give -station")
	check(c.Lang != "zh" && c.Lang != "en", "language %q: use zh or en", c.Lang)
	if host, _, err := net.SplitHostPort(c.Listen); err != nil {
		check(true, "listen address %q: want host:port, e.g. 127.0.0.1:8090", c.Listen)
	} else if !c.AllowRemote {
		ip := net.ParseIP(host)
		check(host != "localhost" && (ip == nil || !ip.IsLoopback()),
			"listen address %q is not loopback: the UI is for the kiosk's own browser (set allow_remote to override)", c.Listen)
	}
	check(!validLevel(c.LogLevel), "log level %q: use debug, info, warn or error", c.LogLevel)
	check(c.MaxTries < 1 || c.MaxTries > 10, "max tries %d: use 1 to 10", c.MaxTries)
	check(c.EnrolMinQuality < 0 || c.EnrolMinQuality > 100, "enrol_min_quality %d: use 0 to 100", c.EnrolMinQuality)
	check(time.Duration(c.IdleTimeout) < 10*time.Second, "idle timeout %s is too short (at least 10s)", time.Duration(c.IdleTimeout))
	check(time.Duration(c.ReceiptTimeout) < 5*time.Second, "receipt timeout %s is too short (at least 5s)", time.Duration(c.ReceiptTimeout))
	check(time.Duration(c.StaffTimeout) < 30*time.Second, "staff timeout %s is too short (at least 30s)", time.Duration(c.StaffTimeout))
	check(time.Duration(c.CaptureTimeout) < time.Second, "capture timeout %s is too short (at least 1s)", time.Duration(c.CaptureTimeout))
	check(time.Duration(c.ServerTimeout) < time.Second, "server timeout %s is too short (at least 1s)", time.Duration(c.ServerTimeout))
	if len(probs) == 0 {
		return nil
	}
	return fmt.Errorf("%w:\n  - %s", ErrConfig, strings.Join(probs, "\n  - "))
}

func validScannerSpec(s string) bool {
	switch {
	case s == "usb", s == "sim":
		return true
	case strings.HasPrefix(s, "serial:"):
		return len(s) > len("serial:")
	}
	return false
}

func validLevel(s string) bool {
	switch s {
	case "debug", "info", "warn", "error":
		return true
	}
	return false
}

// SessionConfig is the state machine's part of the configuration.
func (c Config) SessionConfig() session.Config {
	sc := session.DefaultConfig()
	sc.MaxTries = c.MaxTries
	sc.EnrolMinQuality = c.EnrolMinQuality
	sc.IdleTimeout = time.Duration(c.IdleTimeout)
	sc.ReceiptTimeout = time.Duration(c.ReceiptTimeout)
	sc.StaffTimeout = time.Duration(c.StaffTimeout)
	return sc
}

// LoadKey reads an Ed25519 private key: PEM ("PRIVATE KEY", PKCS#8), or a
// 32-byte seed / 64-byte key as raw bytes, hex or base64. The file must not
// be readable by group or others.
func LoadKey(path string) (ed25519.PrivateKey, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: kiosk key: %v", ErrConfig, err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: kiosk key %s is readable by others (mode %v): chmod 600 it", ErrConfig, path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: kiosk key: %v", ErrConfig, err)
	}
	k, err := ParseKey(b)
	if err != nil {
		return nil, fmt.Errorf("%w: kiosk key %s: %v", ErrConfig, path, err)
	}
	return k, nil
}

// ParseKey decodes a key in any of the forms LoadKey accepts.
func ParseKey(b []byte) (ed25519.PrivateKey, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "PRIVATE KEY" {
			return nil, fmt.Errorf("PEM block %q, want PRIVATE KEY (PKCS#8)", blk.Type)
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, err
		}
		ek, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("PKCS#8 key is %T, want Ed25519", k)
		}
		return ek, nil
	}
	raw := b
	if s := strings.TrimSpace(string(b)); s != "" && len(s) < 200 {
		if h, err := hex.DecodeString(s); err == nil {
			raw = h
		} else if d, err := base64.StdEncoding.DecodeString(s); err == nil {
			raw = d
		}
	}
	switch len(raw) {
	case ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(raw), nil
	case ed25519.PrivateKeySize:
		k := ed25519.PrivateKey(append([]byte(nil), raw...))
		if !k.Public().(ed25519.PublicKey).Equal(ed25519.NewKeyFromSeed(raw[:32]).Public()) {
			return nil, errors.New("64-byte key whose public half does not match its seed")
		}
		return k, nil
	}
	return nil, fmt.Errorf("not an Ed25519 key (PEM PKCS#8, or a 32-byte seed / 64-byte key in raw, hex or base64)")
}

// MarshalKey encodes a key as PEM PKCS#8 (what LoadKey reads).
func MarshalKey(k ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
