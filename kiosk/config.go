package kiosk

import (
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/qingshan-gov/veinkiosk/kiosk/session"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
)

// Config is the daemon's configuration. The command fills it (cmd/kioskd
// reads an optional JSON file, then VEINKIOSK_* environment variables, then
// flags; a later source overrides an earlier one) and calls Validate; the
// JSON field names are the file's keys.
type Config struct {
	ReaderPort  string `json:"reader_port"`  // serial port of the ID-card reader, e.g. /dev/ttyUSB0
	ScannerSpec string `json:"scanner"`      // a veinscan device spec the program has a transport for: "usb", "serial:/dev/ttyACM0", ...
	PrinterSpec string `json:"printer"`      // receipt printer: "serial:/dev/ttyUSB1", "usblp:/dev/usb/lp0"; empty: no printer
	ServerURL   string `json:"server_url"`   // central server base URL; several (replicas, load balancers) separated by commas: the kiosk fails over in order
	KeyFile     string `json:"key_file"`     // the kiosk's Ed25519 private key
	KioskID     string `json:"kiosk_id"`     // as registered at the server
	StationID   string `json:"station_id"`   // the service station
	Lang        string `json:"lang"`         // "zh" (default) or "en"
	Listen      string `json:"listen"`       // UI, SSE and /metrics; loopback only
	LogLevel    string `json:"log_level"`    // debug, info, warn, error
	AllowRemote bool   `json:"allow_remote"` // listen on a non-loopback address (not for production)

	// TLS to the central server (an https ServerURL). ServerCA is a PEM CA
	// bundle to trust instead of the system's; TLSCert and TLSKey are the
	// kiosk's TLS client certificate (common name = the kiosk id) and key,
	// for a server started with --kiosk-client-ca.
	ServerCA string `json:"server_ca"`
	TLSCert  string `json:"tls_cert"`
	TLSKey   string `json:"tls_key"`

	MaxTries int `json:"max_tries"`
	// EnrolMinQuality and VerifyMinQuality are the capture quality gates
	// (0..100) until the server says those of the scanner's model with a
	// capture nonce (an older server, a scanner whose certificate the
	// server does not take). EnrolQualityFloor and VerifyQualityFloor
	// (0: none) make the kiosk stricter than the server, never laxer:
	// the gate in force is never below them.
	EnrolMinQuality    int      `json:"enrol_min_quality"`
	VerifyMinQuality   int      `json:"verify_min_quality"`
	EnrolQualityFloor  int      `json:"enrol_quality_floor"`
	VerifyQualityFloor int      `json:"verify_quality_floor"`
	IdleTimeout        Duration `json:"idle_timeout"`
	ReceiptTimeout     Duration `json:"receipt_timeout"`
	StaffTimeout       Duration `json:"staff_timeout"`
	CaptureTimeout     Duration `json:"capture_timeout"` // how long one capture waits for a finger
	ServerTimeout      Duration `json:"server_timeout"`  // deadline of one server call
	// IdleWarning: the countdown with "继续办理" shown this long before an
	// idle timeout clears the session.
	IdleWarning Duration `json:"idle_warning"`
	// RetryInterval: how often a pending step (a filing) is retried while
	// the server does not answer.
	RetryInterval Duration `json:"retry_interval"`
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
		ScannerSpec:      "usb",
		Lang:             "zh",
		Listen:           "127.0.0.1:8090",
		LogLevel:         "info",
		MaxTries:         sc.MaxTries,
		EnrolMinQuality:  sc.EnrolMinQuality,
		VerifyMinQuality: sc.VerifyMinQuality,
		IdleTimeout:      Duration(sc.IdleTimeout),
		ReceiptTimeout:   Duration(sc.ReceiptTimeout),
		StaffTimeout:     Duration(sc.StaffTimeout),
		CaptureTimeout:   Duration(15 * time.Second),
		ServerTimeout:    Duration(10 * time.Second),
		IdleWarning:      Duration(sc.IdleWarning),
		RetryInterval:    Duration(sc.RetryInterval),
	}
}

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("kiosk: configuration")

// Validate checks the configuration: a table of checks, every problem
// reported together. The command that filled the Config (cmd/kioskd:
// file, environment, flags) calls it before handing the Config over.
func (c Config) Validate() error {
	listenHost, _, listenErr := net.SplitHostPort(c.Listen)
	listenIP := net.ParseIP(listenHost)
	// Every server of the list must be a base URL; plain is set when one
	// is not https.
	var urlErr error
	var badURL string
	plain := false
	for _, s := range apiv1.BaseURLs(c.ServerURL) {
		u, err := url.Parse(s)
		if s == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			badURL, urlErr = s, errors.New("bad server URL")
			break
		}
		plain = plain || u.Scheme != "https"
	}
	checks := []struct {
		bad bool
		msg string
	}{
		{c.ReaderPort == "", "reader port is not set: give -reader /dev/ttyUSB0 (or VEINKIOSK_READER)"},
		{!validScannerSpec(c.ScannerSpec), fmt.Sprintf(`scanner %q: use "usb", "usb:VID:PID", "serial:/dev/PATH" or another registered transport`, c.ScannerSpec)},
		{!validPrinterSpec(c.PrinterSpec), fmt.Sprintf(`printer %q: use "serial:/dev/PATH" or "usblp:/dev/usb/lpN" (or leave it empty: no printer)`, c.PrinterSpec)},
		{urlErr != nil,
			fmt.Sprintf("server URL %q: give the central server's base URL, e.g. -server https://centrald.example:8443 (several, comma-separated, to fail over)", badURL)},
		{c.KeyFile == "", "kiosk key file is not set: give -key /etc/veinkiosk/kiosk.key (Ed25519, PEM PKCS#8)"},
		{(c.TLSCert == "") != (c.TLSKey == ""), "the TLS client certificate and its key go together: give both -tls-cert and -tls-key"},
		{(c.ServerCA != "" || c.TLSCert != "") && urlErr == nil && plain, "-server-ca and -tls-cert need an https server URL (every one of the list)"},
		{c.KioskID == "", "kiosk id is not set: give -kiosk-id as registered at the server"},
		{len(c.KioskID) > 64, "kiosk id is longer than 64 characters"},
		{c.StationID == "", "station id is not set: give -station"},
		{c.Lang != "zh" && c.Lang != "en", fmt.Sprintf("language %q: use zh or en", c.Lang)},
		{listenErr != nil, fmt.Sprintf("listen address %q: want host:port, e.g. 127.0.0.1:8090", c.Listen)},
		{listenErr == nil && !c.AllowRemote && listenHost != "localhost" && (listenIP == nil || !listenIP.IsLoopback()),
			fmt.Sprintf("listen address %q is not loopback: the UI is for the kiosk's own browser (set allow_remote to override)", c.Listen)},
		{!validLevel(c.LogLevel), fmt.Sprintf("log level %q: use debug, info, warn or error", c.LogLevel)},
		{c.MaxTries < 1 || c.MaxTries > 10, fmt.Sprintf("max tries %d: use 1 to 10", c.MaxTries)},
		{c.EnrolMinQuality < 0 || c.EnrolMinQuality > 100, fmt.Sprintf("enrol_min_quality %d: use 0 to 100", c.EnrolMinQuality)},
		{c.VerifyMinQuality < 0 || c.VerifyMinQuality > 100, fmt.Sprintf("verify_min_quality %d: use 0 to 100", c.VerifyMinQuality)},
		{c.EnrolQualityFloor < 0 || c.EnrolQualityFloor > 100, fmt.Sprintf("enrol_quality_floor %d: use 0 to 100 (0: the server's gate alone)", c.EnrolQualityFloor)},
		{c.VerifyQualityFloor < 0 || c.VerifyQualityFloor > 100, fmt.Sprintf("verify_quality_floor %d: use 0 to 100 (0: the server's gate alone)", c.VerifyQualityFloor)},
		{time.Duration(c.IdleTimeout) < 10*time.Second, fmt.Sprintf("idle timeout %s is too short (at least 10s)", time.Duration(c.IdleTimeout))},
		{c.IdleWarning < 0 || c.IdleWarning >= c.IdleTimeout, fmt.Sprintf("idle warning %s must be shorter than the idle timeout %s", time.Duration(c.IdleWarning), time.Duration(c.IdleTimeout))},
		{time.Duration(c.RetryInterval) < time.Second, fmt.Sprintf("retry interval %s is too short (at least 1s)", time.Duration(c.RetryInterval))},
		{time.Duration(c.ReceiptTimeout) < 5*time.Second, fmt.Sprintf("receipt timeout %s is too short (at least 5s)", time.Duration(c.ReceiptTimeout))},
		{time.Duration(c.StaffTimeout) < 30*time.Second, fmt.Sprintf("staff timeout %s is too short (at least 30s)", time.Duration(c.StaffTimeout))},
		{time.Duration(c.CaptureTimeout) < time.Second, fmt.Sprintf("capture timeout %s is too short (at least 1s)", time.Duration(c.CaptureTimeout))},
		{time.Duration(c.ServerTimeout) < time.Second, fmt.Sprintf("server timeout %s is too short (at least 1s)", time.Duration(c.ServerTimeout))},
	}
	var probs []string
	for _, ch := range checks {
		if ch.bad {
			probs = append(probs, ch.msg)
		}
	}
	if len(probs) == 0 {
		return nil
	}
	return fmt.Errorf("%w:\n  - %s", ErrConfig, strings.Join(probs, "\n  - "))
}

// validPrinterSpec accepts "", serial:/dev/... and usblp:/dev/....
func validPrinterSpec(s string) bool {
	if s == "" {
		return true
	}
	kind, path, ok := strings.Cut(s, ":")
	return ok && (kind == "serial" || kind == "usblp") && strings.HasPrefix(path, "/dev/")
}

// validScannerSpec accepts NAME or NAME:ARG device specs (the program
// decides which transports exist); serial and usb arguments are checked.
func validScannerSpec(s string) bool {
	name, arg, hasArg := strings.Cut(s, ":")
	switch {
	case name == "" || strings.ContainsAny(name, " /"):
		return false
	case name == "serial":
		return arg != ""
	case name == "usb" && hasArg:
		_, err := parseUSBID(arg)
		return err == nil
	}
	return !hasArg || arg != ""
}

// parseUSBID checks a hexadecimal VID:PID without linking the driver.
func parseUSBID(s string) ([2]uint16, error) {
	v, p, ok := strings.Cut(s, ":")
	if !ok {
		return [2]uint16{}, errors.New("want VID:PID")
	}
	vi, err1 := strconv.ParseUint(v, 16, 16)
	pi, err2 := strconv.ParseUint(p, 16, 16)
	if err1 != nil || err2 != nil {
		return [2]uint16{}, errors.New("want hexadecimal VID:PID")
	}
	return [2]uint16{uint16(vi), uint16(pi)}, nil
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
	sc.EnrolMinQuality, sc.VerifyMinQuality = c.EnrolMinQuality, c.VerifyMinQuality
	sc.EnrolQualityFloor, sc.VerifyQualityFloor = c.EnrolQualityFloor, c.VerifyQualityFloor
	sc.IdleTimeout = time.Duration(c.IdleTimeout)
	sc.ReceiptTimeout = time.Duration(c.ReceiptTimeout)
	sc.StaffTimeout = time.Duration(c.StaffTimeout)
	sc.IdleWarning = time.Duration(c.IdleWarning)
	sc.RetryInterval = time.Duration(c.RetryInterval)
	return sc
}

// HTTPClient is the HTTP client for the central server: TLS 1.2 or later,
// trusting ServerCA when set (else the system's roots), presenting the
// kiosk's client certificate when set. The key file must not be readable by
// group or others.
func (c Config) HTTPClient() (*http.Client, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.ServerCA != "" {
		b, err := os.ReadFile(c.ServerCA)
		if err != nil {
			return nil, fmt.Errorf("%w: server CA: %v", ErrConfig, err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("%w: server CA %s holds no PEM certificate", ErrConfig, c.ServerCA)
		}
	}
	if c.TLSCert != "" {
		st, err := os.Stat(c.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("%w: TLS key: %v", ErrConfig, err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("%w: TLS key %s is readable by others (mode %v): chmod 600 it", ErrConfig, c.TLSKey, st.Mode().Perm())
		}
		cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("%w: TLS client certificate: %v", ErrConfig, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment, ForceAttemptHTTP2: true,
		MaxIdleConnsPerHost: 4, IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 10 * time.Second,
	}}, nil
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
