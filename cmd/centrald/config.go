package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/clientaddr"
)

// config is centrald's configuration: flags, each with an environment
// variable (VEINKIOSK_ + the flag name in upper case, '-' as '_') that is
// used when the flag is not given.
type config struct {
	Listen                string
	DataDir               string
	DatabaseURL           string
	KeysFile              string
	MakersFile            string
	LogLevel              string
	LogFormat             string
	VerifyFMR             float64
	DedupFMR              float64
	IdentifyFMR           float64
	Identify              bool
	MinQuality            int
	ExtractConcurrency    int
	TokenTTL              time.Duration
	NonceTTL              time.Duration
	RequestTimeout        time.Duration
	KioskRate             float64
	KioskBurst            int
	MaxFailures           int
	KioskFailures         int
	CheckBudgetMax        int
	CheckBudgetWindow     time.Duration
	LockFor               time.Duration
	InsecureCookies       bool
	InsecureOffice        bool
	TLSCert               string
	TLSKey                string
	KioskClientCA         string
	MaxConnsPerIP         int
	TrustedProxies        string
	ProxyProtocol         bool
	ForwardedFor          bool
	ProxyHeaderTimeout    time.Duration
	ShutdownTimeout       time.Duration
	ReferencePrefix       string
	CatalogueFile         string
	DebugListen           string
	CalibrationFiles      string
	CalibrationUnresolved string
	CalibrationFallback   string
	CalibrationLevel      string
	Shards                int
	NATSURL               string
	ShardTimeout          time.Duration
	ShardPrefix           string
	GalleryMaxLag         time.Duration
	BulkEnrolment         string
	AuditAnchorFile       string
	AuditAnchorKey        string
	AuditAnchorInterval   time.Duration
	AuditAnchorID         string
}

const envPrefix = "VEINKIOSK_"

func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseConfig reads flags, then the environment for flags not given.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("centrald", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:8080", "address to serve HTTP on")
	fs.StringVar(&c.DataDir, "data", "", "data directory of the embedded store (default ./centrald-data unless --database-url)")
	fs.StringVar(&c.DatabaseURL, "database-url", "", "PostgreSQL URL (postgres://...); instead of the embedded store")
	fs.StringVar(&c.KeysFile, "keys", "", "key ring file for biometric data at rest (else $VEINKIOSK_KEYS; with --data, generated in DIR on first run)")
	fs.StringVar(&c.MakersFile, "makers", "", "trusted scanner maker keys file (default DIR/makers with --data)")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", "text", "text or json")
	fs.StringVar(&c.CalibrationFiles, "calibration", "", "calibration files (veinctl eval --scanner-model), comma-separated, one per scanner model; they add to (or replace, for the same model) the built-in synthetic calibration of the simulator's model")
	fs.StringVar(&c.CalibrationUnresolved, "calibration-unresolved", "refuse", "a target FMR below what a calibration resolves: refuse (do not start) or lowest (use its lowest resolved point, logged)")
	fs.StringVar(&c.CalibrationLevel, "calibration-level", "refuse", "a calibration measured at another comparison level than the server's (the best of a finger's 3 enrolled samples), e.g. of single comparisons: refuse (do not start) or adjust (use it with its targets divided by the union bound, logged and marked in /metrics and the admin API)")
	fs.StringVar(&c.CalibrationFallback, "calibration-fallback", "", "scanner model whose calibration applies to models without one (default: their captures are refused); choose the one with the highest thresholds")
	fs.Float64Var(&c.VerifyFMR, "verify-fmr", 1e-4, "false-match rate of one 1:1 verification (card + vein)")
	fs.Float64Var(&c.DedupFMR, "dedup-fmr", 3e-6, "false-match rate of the enrolment 1:N deduplication per enrolled finger compared (the best of its 3 samples)")
	fs.Float64Var(&c.IdentifyFMR, "identify-fmr", 3e-6, "false-match rate of card-less identification per enrolled finger compared (the best of its 3 samples)")
	fs.BoolVar(&c.Identify, "identify", false, "allow card-less identification (1:N, confirmed by staff)")
	fs.IntVar(&c.MinQuality, "min-quality", -1, "capture quality gate 0..100 (on the server's own extraction) for every scanner model, overriding the enrolment and verification gates of each model's calibration (-1: the calibrations' gates; 40 for a calibration without gates)")
	fs.IntVar(&c.ExtractConcurrency, "extract-concurrency", 0, "template extractions from capture images running at once (default: one per core); the others wait")
	fs.DurationVar(&c.TokenTTL, "token-ttl", 10*time.Minute, "lifetime of a filing token")
	fs.DurationVar(&c.NonceTTL, "nonce-ttl", 2*time.Minute, "lifetime of a capture nonce")
	fs.DurationVar(&c.RequestTimeout, "request-timeout", 10*time.Second, "deadline of every request")
	fs.Float64Var(&c.KioskRate, "kiosk-rate", 10, "requests per second allowed to each kiosk")
	fs.IntVar(&c.KioskBurst, "kiosk-burst", 30, "request burst allowed to each kiosk")
	fs.IntVar(&c.MaxFailures, "max-failures", 5, "verification failures that lock an ID number")
	fs.IntVar(&c.KioskFailures, "kiosk-failures", 5, "consecutive verification failures at one kiosk that start its backoff")
	fs.IntVar(&c.CheckBudgetMax, "enrolment-check-max", 10, "enrolment checks at one kiosk that no verification or enrolment followed, per --enrolment-check-window; more are refused and alerted")
	fs.DurationVar(&c.CheckBudgetWindow, "enrolment-check-window", 10*time.Minute, "the sliding window of --enrolment-check-max")
	fs.DurationVar(&c.LockFor, "lock-for", 5*time.Minute, "first lock duration (doubles for each further lock in a day)")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "serve HTTPS with this certificate (PEM; with --tls-key)")
	fs.StringVar(&c.TLSKey, "tls-key", "", "private key of --tls-cert (PEM)")
	fs.StringVar(&c.KioskClientCA, "kiosk-client-ca", "", "CA of kiosk TLS client certificates (PEM): kiosk requests must present one whose common name is the kiosk id (needs --tls-cert)")
	fs.BoolVar(&c.InsecureCookies, "insecure-cookies", false, "drop the Secure flag of the back-office cookie (development over plain HTTP)")
	fs.BoolVar(&c.InsecureOffice, "insecure-office", false, "serve the back office over plain HTTP on a non-loopback address (passwords and cookies in clear)")
	fs.IntVar(&c.MaxConnsPerIP, "max-conns-per-ip", 32, "concurrent connections from one client address (IPv6: per /64)")
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", "", "load balancers' addresses (CIDR prefixes or addresses, comma-separated) that may tell the client's address, with --proxy-protocol and/or --forwarded-for; default none")
	fs.BoolVar(&c.ProxyProtocol, "proxy-protocol", false, "the --trusted-proxies open every connection with a PROXY protocol header (v1 or v2: HAProxy send-proxy, nginx proxy_protocol); a header from any other peer is refused")
	fs.BoolVar(&c.ForwardedFor, "forwarded-for", false, "believe X-Forwarded-For from --trusted-proxies (HTTP-mode proxies that append to it; never behind a TCP-mode proxy, which passes a client's header through)")
	fs.DurationVar(&c.ProxyHeaderTimeout, "proxy-header-timeout", 5*time.Second, "time a trusted proxy has to send the PROXY header of a connection")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 15*time.Second, "grace period for requests at shutdown")
	fs.StringVar(&c.DebugListen, "debug-listen", "", "serve net/http/pprof on this address (keep it on localhost)")
	fs.StringVar(&c.ReferencePrefix, "reference-prefix", "QS", "prefix of filing reference numbers")
	fs.StringVar(&c.CatalogueFile, "catalogue", "", "service catalogue document (docs/catalogue.md) instead of the embedded one; a newer version saved by an administrator still wins")
	fs.IntVar(&c.Shards, "shards", 0, "partitions of the gallery served by matcher shards (cmd/matcherd) over NATS for 1:N searches; 0: this process searches its own gallery")
	fs.StringVar(&c.NATSURL, "nats", "nats://127.0.0.1:4222", "NATS server of the matcher shards (with --shards)")
	fs.DurationVar(&c.ShardTimeout, "shard-timeout", 3*time.Second, "time a 1:N search waits for every shard before failing with search_incomplete (with --shards)")
	fs.StringVar(&c.ShardPrefix, "shard-prefix", "veinkiosk.shard", "NATS subject prefix of the matcher shards (with --shards)")
	fs.StringVar(&c.BulkEnrolment, "bulk-enrolment", "off", "the administrators' bulk enrolment of extracted templates (no scanner attests them): off (refused), migrate (a migration: residents never enrolled only, always deduplicated) or unchecked (skip_dedup allowed too: load-test seeding on throwaway data only)")
	fs.DurationVar(&c.GalleryMaxLag, "gallery-max-lag", 10*time.Second, "with --database-url: a gallery that has not followed the change log for longer refuses 1:N searches (gallery_stale) and /readyz answers 503 until it has caught up (docs/replicas.md); more than 2s, the log's poll interval")
	fs.StringVar(&c.AuditAnchorFile, "audit-anchor-file", "", "append signed anchors of the audit chain's head to this file (JSON lines, fsync'd; ship it off the host: docs/security.md); with --audit-anchor-key")
	fs.StringVar(&c.AuditAnchorKey, "audit-anchor-key", "", "Ed25519 anchor key (veinctl audit anchor-key; mode 0600) that signs the anchors; verifiers hold its .pub")
	fs.DurationVar(&c.AuditAnchorInterval, "audit-anchor-interval", time.Minute, "how often an anchor is written (also at start and at clean shutdown)")
	fs.StringVar(&c.AuditAnchorID, "audit-anchor-id", "", "this replica's name in its anchors (default the host name); each replica of a shared database needs its own")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] {
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %v", envName(f.Name), v, err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if c.DataDir == "" && c.DatabaseURL == "" {
		c.DataDir = "centrald-data"
	}
	if c.MakersFile == "" && c.DataDir != "" {
		c.MakersFile = c.DataDir + string(os.PathSeparator) + "makers"
	}
	if c.AuditAnchorID == "" && c.AuditAnchorFile != "" {
		c.AuditAnchorID, _ = os.Hostname()
	}
	return c, c.Validate()
}

// Validate checks the configuration: a table of checks with messages (as
// dex's config does), all reported together.
func (c *config) Validate() error {
	fmrOK := func(f float64) bool { return f > 0 && f < 1 }
	checks := []struct {
		bad bool
		msg string
	}{
		{c.DataDir != "" && c.DatabaseURL != "", "give either --data (embedded store) or --database-url (PostgreSQL), not both"},
		{c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://"), "--database-url must start with postgres:// or postgresql://"},
		{!validListen(c.Listen), "--listen must be host:port (e.g. 127.0.0.1:8080 or :8080)"},
		{!oneOf(c.LogLevel, "debug", "info", "warn", "error"), "--log-level must be debug, info, warn or error"},
		{!oneOf(c.LogFormat, "text", "json"), "--log-format must be text or json"},
		{!fmrOK(c.VerifyFMR), "--verify-fmr must be in (0, 1), e.g. 1e-4"},
		{!fmrOK(c.DedupFMR), "--dedup-fmr must be in (0, 1), e.g. 3e-6"},
		{!fmrOK(c.IdentifyFMR), "--identify-fmr must be in (0, 1), e.g. 3e-6"},
		{!oneOf(c.CalibrationUnresolved, "refuse", "lowest"), "--calibration-unresolved must be refuse or lowest"},
		{c.IdentifyFMR > c.VerifyFMR, "--identify-fmr must not be above --verify-fmr: card-less identification needs the stricter threshold"},
		{c.MinQuality < -1 || c.MinQuality > 100, "--min-quality must be 0..100, or -1 for the calibrations' gates"},
		{!oneOf(c.CalibrationLevel, "refuse", "adjust"), "--calibration-level must be refuse or adjust"},
		{!oneOf(c.BulkEnrolment, "off", "migrate", "unchecked"), "--bulk-enrolment must be off, migrate or unchecked"},
		{c.ExtractConcurrency < 0, "--extract-concurrency must not be negative"},
		{c.TokenTTL < 10*time.Second || c.TokenTTL > time.Hour, "--token-ttl must be 10s..1h"},
		{c.NonceTTL < 5*time.Second || c.NonceTTL > 10*time.Minute, "--nonce-ttl must be 5s..10m"},
		{c.RequestTimeout < 100*time.Millisecond || c.RequestTimeout > 5*time.Minute, "--request-timeout must be 100ms..5m"},
		{c.KioskRate <= 0, "--kiosk-rate must be positive"},
		{c.KioskBurst < 1, "--kiosk-burst must be at least 1"},
		{c.MaxFailures < 1 || c.MaxFailures > 100, "--max-failures must be 1..100"},
		{c.KioskFailures < 1, "--kiosk-failures must be at least 1"},
		{c.CheckBudgetMax < 1, "--enrolment-check-max must be at least 1"},
		{c.CheckBudgetWindow < time.Second || c.CheckBudgetWindow > 24*time.Hour, "--enrolment-check-window must be 1s..24h"},
		{c.LockFor < time.Second || c.LockFor > 24*time.Hour, "--lock-for must be 1s..24h"},
		{c.DebugListen != "" && !validListen(c.DebugListen), "--debug-listen must be host:port"},
		{c.ShutdownTimeout < 0, "--shutdown-timeout must not be negative"},
		{(c.TLSCert == "") != (c.TLSKey == ""), "--tls-cert and --tls-key go together"},
		{c.KioskClientCA != "" && c.TLSCert == "", "--kiosk-client-ca needs --tls-cert and --tls-key"},
		{c.MaxConnsPerIP < 1, "--max-conns-per-ip must be at least 1"},
		{c.trustedErr() != nil, fmt.Sprint("--trusted-proxies: ", c.trustedErr())},
		{c.TrustedProxies == "" && (c.ProxyProtocol || c.ForwardedFor), "--proxy-protocol and --forwarded-for need --trusted-proxies"},
		{c.TrustedProxies != "" && !c.ProxyProtocol && !c.ForwardedFor, "--trusted-proxies needs --proxy-protocol, --forwarded-for or both (how the proxies tell the client's address)"},
		{c.ProxyHeaderTimeout < 100*time.Millisecond || c.ProxyHeaderTimeout > time.Minute, "--proxy-header-timeout must be 100ms..1m"},
		{c.ReferencePrefix == "" || len(c.ReferencePrefix) > 8, "--reference-prefix must have 1..8 characters"},
		{c.Shards < 0 || c.Shards > 1024, "--shards must be 0..1024"},
		{c.GalleryMaxLag <= 2*time.Second || c.GalleryMaxLag > time.Hour, "--gallery-max-lag must be more than 2s (the change log's poll interval) and at most 1h"},
		{c.Shards > 0 && c.DatabaseURL == "", "--shards needs --database-url: the matcher shards load their partitions from PostgreSQL"},
		{c.Shards > 0 && !strings.HasPrefix(c.NATSURL, "nats://") && !strings.HasPrefix(c.NATSURL, "tls://"), "--nats must start with nats:// or tls://"},
		{c.Shards > 0 && (c.ShardTimeout < 10*time.Millisecond || c.ShardTimeout > time.Minute), "--shard-timeout must be 10ms..1m"},
		{c.Shards > 0 && c.ShardPrefix == "", "--shard-prefix must not be empty"},
		{(c.AuditAnchorFile == "") != (c.AuditAnchorKey == ""), "--audit-anchor-file and --audit-anchor-key go together"},
		{c.AuditAnchorFile != "" && (c.AuditAnchorInterval < time.Second || c.AuditAnchorInterval > 24*time.Hour), "--audit-anchor-interval must be 1s..24h"},
		{c.AuditAnchorFile != "" && !audit.ValidReplica(c.AuditAnchorID), "--audit-anchor-id must have 1..64 letters, digits, '.', '_' or '-' (the host name does not: give one)"},
	}
	var msgs []string
	for _, ch := range checks {
		if ch.bad {
			msgs = append(msgs, ch.msg)
		}
	}
	if len(msgs) > 0 {
		return fmt.Errorf("invalid configuration:\n  %s", strings.Join(msgs, "\n  "))
	}
	return nil
}

func (c *config) trustedErr() error {
	_, err := clientaddr.ParsePrefixes(c.TrustedProxies)
	return err
}

// proxies is the API's configuration of trusted proxies.
func (c *config) proxies() clientaddr.Config {
	p, _ := clientaddr.ParsePrefixes(c.TrustedProxies) // checked by Validate
	return clientaddr.Config{Trusted: p, ProxyProtocol: c.ProxyProtocol, ForwardedFor: c.ForwardedFor, HeaderTimeout: c.ProxyHeaderTimeout}
}

func oneOf(s string, set ...string) bool {
	for _, x := range set {
		if s == x {
			return true
		}
	}
	return false
}

func validListen(a string) bool {
	_, port, err := net.SplitHostPort(a)
	if err != nil {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 0 && n <= 65535
}
