// Command centrald is the central server: residents, enrolments, devices,
// staff, filings and audit, with the HTTP API the kiosks and the back office
// use (server/api).
//
//	go run ./cmd/centrald --listen 127.0.0.1:8080 --data ./centrald-data
//	go run ./cmd/centrald --database-url postgres://user@host/db --keys /etc/veinkiosk/keys
//
// Every flag may also be given in the environment as VEINKIOSK_<FLAG>
// (e.g. VEINKIOSK_DATABASE_URL); docs/api.md lists them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/qingshan-gov/veinkiosk/matcher/calib"
	"github.com/qingshan-gov/veinkiosk/server/api"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/catalogue"
	"github.com/qingshan-gov/veinkiosk/server/keyring"
	"github.com/qingshan-gov/veinkiosk/server/password"
	"github.com/qingshan-gov/veinkiosk/server/store"
	"github.com/qingshan-gov/veinkiosk/server/store/postgres"
	"github.com/qingshan-gov/veinkiosk/server/store/sqlite"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "centrald:", err)
		os.Exit(1)
	}
}

func newLogger(c *config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	c, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := newLogger(c, stderr)
	slog.SetDefault(log)

	ring, err := loadKeys(c, getenv, log)
	if err != nil {
		return err
	}
	opts := store.Options{Keyring: ring, Logger: log, ReferencePrefix: c.ReferencePrefix}
	var st store.Store
	if c.DatabaseURL != "" {
		st, err = postgres.Open(ctx, c.DatabaseURL, opts)
		log.Info("store: PostgreSQL")
	} else {
		st, err = sqlite.OpenDir(ctx, c.DataDir, opts)
		log.Info("store: embedded", "dir", c.DataDir)
	}
	if err != nil {
		return fmt.Errorf("opening the store: %w", err)
	}
	defer st.Close()

	if err := bootstrapAdmin(ctx, c, st, getenv, log); err != nil {
		return err
	}
	makers := api.NewMakers("")
	if c.MakersFile != "" {
		if makers, err = api.LoadMakers(c.MakersFile); err != nil {
			return err
		}
	} else {
		log.Warn("no --makers file: maker keys added through the API last until restart")
	}

	cals, err := loadCalibrations(c, log)
	if err != nil {
		return err
	}
	cat, err := loadCatalogue(c.CatalogueFile)
	if err != nil {
		return err
	}
	if cat != nil {
		log.Info("service catalogue", "file", c.CatalogueFile, "version", cat.Version(), "services", len(cat.Services()))
	}

	gallery := api.NewGallery()
	if c.Shards > 0 {
		closeShards, err := useShards(c, gallery, log)
		if err != nil {
			return err
		}
		defer closeShards()
	}
	anchorer, err := newAnchorer(c, st, log)
	if err != nil {
		return err
	}
	srv, err := api.New(api.Config{
		Store: st, Logger: log, Makers: makers, Gallery: gallery,
		Calibrations:    cals,
		Catalogue:       cat,
		IdentifyEnabled: c.Identify, MinQuality: max(c.MinQuality, 0), MinQualityOverride: c.MinQuality >= 0, ExtractConcurrency: c.ExtractConcurrency,
		NonceTTL: c.NonceTTL, TokenTTL: c.TokenTTL, RequestTimeout: c.RequestTimeout,
		KioskRate: c.KioskRate, KioskBurst: c.KioskBurst,
		Lockout:              store.LockoutPolicy{MaxFailures: c.MaxFailures, LockFor: c.LockFor},
		KioskFailures:        c.KioskFailures,
		EnrolmentCheckBudget: store.CheckBudget{Max: c.CheckBudgetMax, Window: c.CheckBudgetWindow},
		TLSCertFile:          c.TLSCert, TLSKeyFile: c.TLSKey, KioskClientCAFile: c.KioskClientCA,
		InsecureCookies: c.InsecureCookies, InsecureOffice: c.InsecureOffice,
		BulkEnrolment: c.BulkEnrolment,
		MaxConnsPerIP: c.MaxConnsPerIP,
		GalleryMaxLag: c.GalleryMaxLag,
		Proxies:       c.proxies(),
		AuditAnchorer: anchorer, AuditAnchorInterval: c.AuditAnchorInterval,
	})
	if err != nil {
		return err
	}
	if c.DebugListen != "" {
		// net/http/pprof registers on http.DefaultServeMux.
		dbg := &http.Server{Addr: c.DebugListen, Handler: http.DefaultServeMux, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := dbg.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("debug listener", "err", err)
			}
		}()
		defer dbg.Close()
		log.Info("pprof on the debug listener", "addr", c.DebugListen)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Run(ctx, c.Listen, c.ShutdownTimeout) }()
	log.Info("listening", "addr", c.Listen, "tls", srv.TLS())
	if err := srv.LoadGallery(ctx); err != nil {
		if ctx.Err() != nil {
			// Stopped while loading the gallery: a clean shutdown (the
			// listener stops and the shutdown anchor is written), not a
			// failure.
			return <-errc
		}
		return err
	}
	if c.DatabaseURL != "" {
		// Any number of replicas may share the database: follow the
		// enrolments and kiosk revocations made through the others
		// (docs/replicas.md). The embedded store serves this process only.
		go func() {
			if err := srv.FollowChanges(ctx); err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("following the database's changes: %w", err)
			}
		}()
	}
	return <-errc
}

// newAnchorer loads the anchor key (--audit-anchor-key, mode 0600
// enforced) for signing the audit chain's head into --audit-anchor-file;
// nil without them. The key is made by `veinctl audit anchor-key`, never
// at start: a key generated silently would sign anchors no verifier holds
// the public key of.
func newAnchorer(c *config, st store.Store, log *slog.Logger) (*audit.Anchorer, error) {
	if c.AuditAnchorFile == "" {
		log.Warn("no --audit-anchor-file: the audit chain is not anchored outside the database (a DBA rewriting it from some record on is not detected)")
		return nil, nil
	}
	key, err := audit.LoadAnchorKey(c.AuditAnchorKey)
	if err != nil {
		return nil, err
	}
	a, err := audit.NewAnchorer(st, key, c.AuditAnchorID, c.AuditAnchorFile, nil)
	if err != nil {
		return nil, err
	}
	log.Info("audit anchors", "file", c.AuditAnchorFile, "replica", c.AuditAnchorID, "interval", c.AuditAnchorInterval)
	return a, nil
}

// loadKeys loads the key ring from --keys or VEINKIOSK_KEYS; on first run
// with a data directory and neither, it generates DIR/keys (mode 0600).
func loadKeys(c *config, getenv func(string) string, log *slog.Logger) (*keyring.Ring, error) {
	if c.KeysFile != "" {
		return keyring.LoadFile(c.KeysFile)
	}
	if v := getenv(keyring.EnvVar); v != "" {
		return keyring.Parse([]byte(v))
	}
	if c.DataDir == "" {
		return nil, errors.New("no key ring: give --keys FILE or set VEINKIOSK_KEYS (required with --database-url)")
	}
	path := filepath.Join(c.DataDir, "keys")
	if _, err := os.Stat(path); err == nil {
		return keyring.LoadFile(path)
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, err
	}
	line, err := keyring.GenerateLine(time.Now().UTC().Format("k20060102"))
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating the key file: %w", err)
	}
	_, werr := fmt.Fprintf(f, "# veinkiosk key ring, generated %s. Back it up: without it the\n# enrolled templates and residents' personal data cannot be decrypted.\n%s\n", time.Now().UTC().Format(time.RFC3339), line)
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		return nil, err
	}
	log.Warn("generated a new key ring for biometric data (development convenience); back it up, or pass --keys in production", "file", path)
	return keyring.LoadFile(path)
}

// bootstrapAdmin creates the first administrator when there is no staff:
// with VEINKIOSK_ADMIN_PASSWORD, or (embedded store only) a random password
// written to DIR/admin-password (0600).
func bootstrapAdmin(ctx context.Context, c *config, st store.Store, getenv func(string) string, log *slog.Logger) error {
	staff, err := st.ListStaff(ctx)
	if err != nil {
		return err
	}
	if len(staff) > 0 {
		return nil
	}
	user := getenv("VEINKIOSK_ADMIN_USER")
	if user == "" {
		user = "admin"
	}
	pw := getenv("VEINKIOSK_ADMIN_PASSWORD")
	where := "VEINKIOSK_ADMIN_PASSWORD"
	if pw == "" {
		if c.DataDir == "" {
			log.Warn("no staff accounts and no VEINKIOSK_ADMIN_PASSWORD: nobody can log in; set it and restart")
			return nil
		}
		pw = randomPassword()
		where = filepath.Join(c.DataDir, "admin-password")
		if err := os.WriteFile(where, []byte(pw+"\n"), 0o600); err != nil {
			return err
		}
	}
	hash, err := password.Hash(pw)
	if err != nil {
		return err
	}
	if _, err := st.CreateStaff(ctx, audit.System("bootstrap"), store.Staff{Username: user, DisplayName: "管理员", Role: store.RoleAdmin, PasswordHash: hash}); err != nil {
		return fmt.Errorf("creating the first administrator: %w", err)
	}
	log.Warn("created the first administrator; change the password", "username", user, "password_in", where)
	return nil
}

// serverLevel is how centrald compares a capture with an enrolled finger:
// the best score over the finger's samples, of which enrolment stores
// apiv1.EnrolCapturesPerFinger (the gallery's Verify and Search).
var serverLevel = calib.Level{Comparison: calib.LevelBestOfEnrolled, Enrolled: apiv1.EnrolCapturesPerFinger}

// defaultMinQuality is the quality gate of a calibration without gates (a
// version 1 file, accepted with --calibration-level=adjust): centrald's
// former default.
const defaultMinQuality = 40

// loadCalibrations builds the calibration registry: the built-in
// (synthetic, simulator) calibrations, replaced or joined by the files of
// --calibration, resolved under the FMR flags. A target a calibration does
// not resolve stops the start unless --calibration-unresolved=lowest.
func loadCalibrations(c *config, log *slog.Logger) (*calib.Registry, error) {
	builtin, err := calib.Builtin()
	if err != nil {
		return nil, err
	}
	var files []*calib.File
	for _, name := range strings.Split(c.CalibrationFiles, ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		f, err := calib.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("--calibration: %w", err)
		}
		files = append(files, f)
		log.Info("calibration file", "file", name, "model", f.ScannerModel, "created", f.Created.Format(time.DateOnly), "synthetic", f.Synthetic)
	}
	for _, b := range builtin {
		if !slices.ContainsFunc(files, func(f *calib.File) bool { return f.ScannerModel == b.ScannerModel }) {
			files = append(files, b)
		}
	}
	if c.MinQuality >= 0 {
		log.Warn("--min-quality overrides the quality gates of every calibration", "gate", c.MinQuality)
	}
	reg, err := calib.NewRegistry(files, calib.Options{
		Policy: calib.Policy{
			VerifyFMR: c.VerifyFMR, DedupFMR: c.DedupFMR, IdentifyFMR: c.IdentifyFMR,
			// One verification compares with every enrolled finger of the
			// resident (2), each time with the best of its 3 samples.
			Fingers: apiv1.EnrolFingers,
			Level:   serverLevel,
		},
		MapUnresolved:     c.CalibrationUnresolved == "lowest",
		AdjustLevel:       c.CalibrationLevel == "adjust",
		DefaultMinQuality: defaultMinQuality,
		Fallback:          c.CalibrationFallback,
		Logger:            log,
	})
	switch {
	case errors.Is(err, calib.ErrUnresolved):
		return nil, fmt.Errorf("%w; lower the target (--verify-fmr, --dedup-fmr, --identify-fmr), supply a calibration measured on more impostor comparisons, or start with --calibration-unresolved=lowest", err)
	case errors.Is(err, calib.ErrLevel):
		return nil, fmt.Errorf("%w; make the calibration at the server's level (veinctl eval --enrolled %d --scanner-model ...), or start with --calibration-level=adjust to use it with its targets divided by the union bound", err, apiv1.EnrolCapturesPerFinger)
	}
	return reg, err
}

// loadCatalogue reads --catalogue (nil without one: the embedded default).
func loadCatalogue(path string) (*catalogue.Catalogue, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--catalogue: %w", err)
	}
	cat, err := catalogue.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("--catalogue %s: %w", path, err)
	}
	return cat, nil
}
