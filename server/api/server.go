// Package api is the central server's HTTP API on fiber: kiosk requests
// (Ed25519-signed), staff sessions and roles, the enrolment, verification,
// filing and card-less identification flows, the back-office web page,
// metrics, health checks and the OpenAPI document.
//
// The JSON wire types and request signing live in server/apiv1, shared with
// the kiosk; docs/api.md describes the API.
package api

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/qingshan-gov/veinkiosk/matcher/calib"
	"github.com/qingshan-gov/veinkiosk/matcher/extract"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/catalogue"
	"github.com/qingshan-gov/veinkiosk/server/clientaddr"
	"github.com/qingshan-gov/veinkiosk/server/grid"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// Config is the server's policy and its dependencies.
type Config struct {
	Store   store.Store // required
	Logger  *slog.Logger
	Gallery *Gallery // nil: a new, empty gallery (call LoadGallery)
	Makers  *Makers  // scanner maker keys; nil: none (every capture fails maker_unknown)

	// Calibrations give the score thresholds of each capture by its
	// scanner's model (matcher/calib): captures of a model without one, or
	// made by another pipeline, are refused with scanner_uncalibrated.
	// Nil: the fixed thresholds below apply to every scanner (tests).
	Calibrations *calib.Registry
	// Score thresholds (Miura scores, higher is more alike) when
	// Calibrations is nil.
	VerifyThreshold   float64 // 1:1 verification, per comparison
	DedupThreshold    float64 // enrolment 1:N deduplication
	IdentifyThreshold float64 // card-less 1:N identification (stricter)

	// IdentifyEnabled turns on card-less identification (station policy).
	IdentifyEnabled bool
	// MinQuality is the quality gate for captures, 0..100 (on the
	// quality of the server's own extraction) when Calibrations is nil or
	// MinQualityOverride; otherwise each capture meets the enrolment or
	// verification gate of its scanner model's calibration.
	MinQuality int
	// MinQualityOverride applies MinQuality to every scanner model instead
	// of the calibrations' gates (an explicit operator choice; logged and
	// shown in /metrics and the admin API).
	MinQualityOverride bool

	// Pipelines are the extraction pipelines the server runs on capture
	// images; the calibration in force for a scanner model picks one by its
	// params hash, and the first serves every model when Calibrations is
	// nil. Default: extract.DefaultOptions() (what the kiosks, veinctl eval
	// and the shipped calibrations use).
	Pipelines []extract.Options
	// ExtractConcurrency bounds the extractions running at once (each is
	// ~15 ms of one core); the others wait their turn. Default GOMAXPROCS.
	ExtractConcurrency int

	NonceTTL    time.Duration // capture nonces; default 2 min
	TokenTTL    time.Duration // filing tokens; default 10 min
	SessionTTL  time.Duration // staff sessions (absolute); default 8 h
	SessionIdle time.Duration // staff sessions (idle); default 30 min
	// KioskSessionIdle is the idle time-out of a staff session opened with
	// a PIN at a kiosk (a shared screen); default 10 min. The kiosk logs
	// staff out after 5 min without a touch (docs/kiosk.md); the server's
	// time is longer because an enrolment's captures, minutes of touches,
	// do not use the session until the enrolment is sent.
	KioskSessionIdle time.Duration
	CandidateTTL     time.Duration // card-less identification candidates; default 2 min

	// RequestTimeout bounds every request's context; default 10 s.
	RequestTimeout time.Duration
	// ReadTimeout bounds the reading of a request, including the wait for
	// the first request of a new connection; default 30 s.
	ReadTimeout time.Duration
	// BodyLimit bounds request bodies by route group, in bytes.
	BodyLimit BodyLimits

	// KioskRate and KioskBurst limit each kiosk's requests (token bucket);
	// defaults 10/s, burst 30.
	KioskRate  float64
	KioskBurst int

	// Lockout locks an ID number after repeated verification failures;
	// each further lock within a day doubles LockFor (up to 64 times).
	// Defaults: 5 failures, 5 min.
	Lockout store.LockoutPolicy
	// EnrolmentCheckBudget bounds a kiosk's enrolment checks that no
	// verification or enrolment of the same resident at the kiosk answered
	// (docs/security.md, threat 1: the check is an enumeration oracle for a
	// stolen kiosk key); default 10 in 10 min.
	EnrolmentCheckBudget store.CheckBudget
	// KioskFailures is how many consecutive verification failures at one
	// kiosk start its backoff (1 s, doubling up to 5 min); default 5.
	KioskFailures int

	// ChangePoll is how often FollowChanges reads the change log without
	// being poked (the safety net under PostgreSQL's notifications);
	// default 2 s. ChangeGapWait is how long a sequence number missing
	// from the log is awaited (its transaction may still commit) before
	// it is skipped; default 30 s, longer than any write transaction
	// (RequestTimeout).
	ChangePoll, ChangeGapWait time.Duration
	// GalleryMaxLag bounds how stale a following replica's gallery may be
	// (docs/replicas.md): when the last complete read of the change log
	// began longer ago than this (the log lost, or its changes not
	// applied), the replica refuses 1:N searches (gallery_stale), verifies
	// 1:1 against templates read from the database, and /readyz answers
	// 503; it recovers by itself once it has caught up. Default 10 s; it
	// must exceed ChangePoll.
	GalleryMaxLag time.Duration

	// AuditAnchorer signs the audit chain's head into an anchor file kept
	// outside the database (anchor.go, docs/security.md): at start, every
	// AuditAnchorInterval (default 1 min) and at shutdown. Nil: no anchors.
	AuditAnchorer       *audit.Anchorer
	AuditAnchorInterval time.Duration
	// KioskCacheTTL is how long a kiosk's record is cached for the
	// signature check; default 10 s. A revocation through this replica
	// drops the entry at once, one through another replica when the change
	// log reaches this one (FollowChanges), or at the latest after this.
	KioskCacheTTL time.Duration

	// Now is the clock; default time.Now.
	Now func() time.Time

	// TLSCertFile and TLSKeyFile (PEM) make the server serve HTTPS; both or
	// neither.
	TLSCertFile, TLSKeyFile string
	// KioskClientCAFile (PEM, needs TLS): kiosk requests must present a
	// TLS client certificate issued by this CA whose common name is the
	// kiosk's id, on top of the request signature.
	KioskClientCAFile string
	// InsecureCookies drops the Secure flag of the back-office session
	// cookie (development over plain HTTP only; browsers keep Secure
	// cookies for http://localhost anyway).
	InsecureCookies bool
	// InsecureOffice serves the back office over plain HTTP on a
	// non-loopback address. Without it, /office answers 403 tls_required
	// there: passwords and the session cookie would cross the network in
	// clear.
	InsecureOffice bool
	// Catalogue is the base service catalogue (docs/catalogue.md); nil: the
	// embedded default. A version saved by an administrator that is not
	// older replaces it; CatalogueRefresh is how often each replica looks
	// for one (default 5 s).
	Catalogue        *catalogue.Catalogue
	CatalogueRefresh time.Duration
	// MaxConnsPerIP caps concurrent connections from one client address
	// (IPv4 address or IPv6 /64), default 32; MaxConns caps them in all,
	// default 1024.
	MaxConnsPerIP, MaxConns int
	// Proxies says which peers may tell the client's address (the PROXY
	// protocol, X-Forwarded-For); the zero value believes none. The address
	// found is what the connection cap, the login limit per address and
	// the audit records' "ip" see (clientIP).
	Proxies clientaddr.Config
	// BulkEnrolment is the mode of the administrators' bulk enrolment
	// (POST /api/v1/admin/enrolments/bulk), centrald's --bulk-enrolment:
	// apiv1.BulkOff ("" too, the default) refuses it; apiv1.BulkMigrate
	// takes templates no scanner attested for residents never enrolled,
	// always deduplicated; apiv1.BulkUnchecked also allows skip_dedup
	// (load-test seeding on throwaway data). The mode is logged at start
	// (a warning for unchecked), exported as veinkiosk_bulk_enrolment_mode
	// and named in every batch's audit record.
	BulkEnrolment string
}

// BodyLimits are the request body limits, decided from the request header
// before the body is read (transport.go).
type BodyLimits struct {
	Default int // every route, and any unauthenticated request; default 256 KiB
	Kiosk   int // kiosk requests naming a registered, active kiosk (enrolment carries many captures); default 4 MiB
	Bulk    int // admin bulk routes, with a live admin session only; default 32 MiB
}

func (c *Config) withDefaults() error {
	if c.Store == nil {
		return errors.New("api: Config.Store is required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	switch c.BulkEnrolment {
	case "":
		c.BulkEnrolment = apiv1.BulkOff
	case apiv1.BulkOff, apiv1.BulkMigrate, apiv1.BulkUnchecked:
	default:
		return fmt.Errorf("api: bulk enrolment mode %q: want %s, %s or %s", c.BulkEnrolment, apiv1.BulkOff, apiv1.BulkMigrate, apiv1.BulkUnchecked)
	}
	def(&c.NonceTTL, 2*time.Minute)
	def(&c.AuditAnchorInterval, time.Minute)
	def(&c.TokenTTL, 10*time.Minute)
	def(&c.SessionTTL, 8*time.Hour)
	def(&c.SessionIdle, 30*time.Minute)
	def(&c.KioskSessionIdle, 10*time.Minute)
	def(&c.CandidateTTL, 2*time.Minute)
	if c.EnrolmentCheckBudget.Max <= 0 {
		c.EnrolmentCheckBudget.Max = 10
	}
	def(&c.EnrolmentCheckBudget.Window, 10*time.Minute)
	def(&c.RequestTimeout, 10*time.Second)
	def(&c.ReadTimeout, 30*time.Second)
	def(&c.CatalogueRefresh, 5*time.Second)
	def(&c.ChangePoll, 2*time.Second)
	def(&c.ChangeGapWait, 30*time.Second)
	def(&c.GalleryMaxLag, 10*time.Second)
	if c.GalleryMaxLag <= c.ChangePoll {
		return fmt.Errorf("api: the gallery's maximum lag (%v) must exceed the change-log poll interval (%v)", c.GalleryMaxLag, c.ChangePoll)
	}
	def(&c.KioskCacheTTL, 10*time.Second)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Gallery == nil {
		c.Gallery = NewGallery()
	}
	if c.Makers == nil {
		c.Makers = NewMakers("")
	}
	if len(c.Pipelines) == 0 {
		c.Pipelines = []extract.Options{extract.DefaultOptions()}
	}
	if c.ExtractConcurrency <= 0 {
		c.ExtractConcurrency = defaultExtractConcurrency()
	}
	if c.BodyLimit.Default <= 0 {
		c.BodyLimit.Default = 256 << 10
	}
	if c.BodyLimit.Kiosk <= 0 {
		c.BodyLimit.Kiosk = 4 << 20
	}
	if c.BodyLimit.Bulk <= 0 {
		c.BodyLimit.Bulk = 32 << 20
	}
	if c.MaxConnsPerIP <= 0 {
		c.MaxConnsPerIP = defaultMaxConnsPerIP
	}
	if c.MaxConns <= 0 {
		c.MaxConns = defaultMaxConns
	}
	if c.KioskRate <= 0 {
		c.KioskRate = 10
	}
	if c.KioskBurst <= 0 {
		c.KioskBurst = 30
	}
	if c.Lockout.MaxFailures == 0 && c.Lockout.LockFor == 0 {
		c.Lockout = store.LockoutPolicy{MaxFailures: 5, LockFor: 5 * time.Minute}
	}
	if c.KioskFailures <= 0 {
		c.KioskFailures = 5
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Calibrations != nil {
		return nil
	}
	if c.VerifyThreshold <= 0 || c.DedupThreshold <= 0 || c.IdentifyThreshold <= 0 {
		return errors.New("api: the verify, dedup and identify thresholds must be positive")
	}
	if c.IdentifyThreshold < c.VerifyThreshold {
		return errors.New("api: the identification threshold must not be below the verification threshold")
	}
	return nil
}

// Server is the central service's HTTP API.
type Server struct {
	cfg Config
	st  store.Store
	// visitRules are the grid workers' visit rules (server/grid).
	visitRules *grid.Rules
	log        *slog.Logger
	gallery    *Gallery
	makers     *Makers
	metrics    *metrics
	now        func() time.Time
	app        *fiber.App
	routes     []route
	sessions   *sessions
	replay     *replayCache
	kiosks     *kioskCache
	assist     assistThrottle
	limits     *rateLimiter   // per kiosk, in memory (smoothing only)
	loginLim   *sharedLimiter // per username
	ipLim      *sharedLimiter // logins per client address
	throttle   *kioskThrottle
	pending    *candidates
	spent      *spentTokens
	certs      *certCache
	extractor  *extractor
	cats       *catalogues
	kinds      *kindsSource
	ready      atomic.Bool
	// followFrom is where the change log stood before LoadGallery read the
	// templates: FollowChanges applies what came after.
	followFrom atomic.Int64
	// loadedAt is when LoadGallery read followFrom (Unix nanoseconds): the
	// gallery holds every change committed before it.
	loadedAt atomic.Int64
	noListen bool            // tests: follow by polling alone, as with a lost listener
	faultLog store.ChangeLog // tests: the change log the follower reads instead of the store's
	// following is set once FollowChanges has started (and stays set when
	// it ends: a follower that stopped goes stale); freshAt is the time as
	// of which the gallery holds every committed change (Unix nanoseconds):
	// when the last complete read of the change log began. Past
	// Config.GalleryMaxLag the replica is stale (follow.go).
	following atomic.Bool
	freshAt   atomic.Int64
	tls       *tls.Config
	proxies   *clientaddr.Resolver
	admit     map[string]admission // body limits above the default, by "METHOD path"

	openapiOnce sync.Once
	openapi     []byte
	openapiErr  error
}

// New builds the server and its fiber app. The gallery is empty until
// LoadGallery; /readyz reports not ready until then.
func New(cfg Config) (*Server, error) {
	if err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	tc, err := loadTLS(&cfg)
	if err != nil {
		return nil, err
	}
	proxies, err := clientaddr.New(cfg.Proxies)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	s := &Server{
		cfg:        cfg,
		st:         cfg.Store,
		visitRules: grid.Default(),
		log:        cfg.Logger,
		gallery:    cfg.Gallery,
		makers:     cfg.Makers,
		now:        cfg.Now,
		metrics:    newMetrics(),
		sessions:   newSessions(cfg.Store, cfg.SessionTTL, cfg.SessionIdle, cfg.KioskSessionIdle),
		replay:     &replayCache{st: cfg.Store},
		kiosks:     newKioskCache(cfg.KioskCacheTTL),
		limits:     newRateLimiter(cfg.KioskRate, cfg.KioskBurst),
		loginLim:   &sharedLimiter{st: cfg.Store, prefix: "login-user", limit: store.RateLimit{Rate: 0.2, Burst: 10}},
		ipLim:      &sharedLimiter{st: cfg.Store, prefix: "login-ip", limit: store.RateLimit{Rate: 1, Burst: 30}},
		throttle:   newKioskThrottle(cfg.Store, cfg.KioskFailures, time.Second, 5*time.Minute),
		pending:    &candidates{st: cfg.Store},
		spent:      &spentTokens{st: cfg.Store},
		certs:      newCertCache(),
		cats:       newCatalogues(cfg.Store, cfg.Catalogue, cfg.CatalogueRefresh),
		kinds:      newKindsSource(cfg.Store, cfg.CatalogueRefresh, cfg.Now),
		tls:        tc,
		proxies:    proxies,
	}
	s.metrics.gallery = s.gallery
	s.metrics.galleryLag = func() float64 { return s.galleryLag().Seconds() }
	s.metrics.galleryStale = s.galleryStale
	if s.extractor, err = newExtractor(&s.cfg, s.metrics); err != nil {
		return nil, err
	}
	s.metrics.registerCalibrations(s.calibrationsInForce())
	s.metrics.registerBulkMode(cfg.BulkEnrolment)
	switch cfg.BulkEnrolment {
	case apiv1.BulkUnchecked:
		s.log.Warn("bulk enrolment: unchecked: administrators may bulk-enrol templates without deduplication (skip_dedup); for load-test seeding on throwaway data only", "mode", cfg.BulkEnrolment)
	case apiv1.BulkMigrate:
		s.log.Info("bulk enrolment: migrate: administrators may bulk-enrol unattested templates of residents never enrolled, deduplicated", "mode", cfg.BulkEnrolment)
	default:
		s.log.Info("bulk enrolment: off", "mode", cfg.BulkEnrolment)
	}
	s.app = fiber.New(fiber.Config{
		AppName:               "centrald",
		BodyLimit:             cfg.BodyLimit.Default, // raised per route from the header: headerReceived
		Concurrency:           cfg.MaxConns,
		ErrorHandler:          s.errorHandler,
		DisableStartupMessage: true,
		ReadTimeout:           cfg.ReadTimeout,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           2 * time.Minute,
		ReadBufferSize:        16 << 10,
	})
	s.register()
	s.buildAdmission()
	return s, nil
}

// App returns the fiber app (for Listen and tests).
func (s *Server) App() *fiber.App { return s.app }

// Gallery returns the in-memory gallery.
func (s *Server) Gallery() *Gallery { return s.gallery }

// LoadGallery loads every active template from the store into the gallery,
// logging progress, and marks the server ready.
func (s *Server) LoadGallery(ctx context.Context) error {
	start := time.Now()
	s.loadedAt.Store(start.UnixNano())
	head, err := s.st.LastChange(ctx)
	if err != nil {
		return fmt.Errorf("api: reading the change log: %w", err)
	}
	s.followFrom.Store(head)
	n, err := s.gallery.Load(ctx, s.st, s.log)
	if err != nil {
		return fmt.Errorf("api: loading the gallery: %w", err)
	}
	s.log.Info("gallery loaded", "templates", n, "residents", s.gallery.Residents(), "took", time.Since(start).Round(time.Millisecond))
	s.ready.Store(true)
	return nil
}

// SetReady marks the server ready (tests that start with an empty store).
func (s *Server) SetReady() { s.ready.Store(true) }

// Housekeep purges expired nonces, tokens and coordination records
// (sessions, request nonces, candidates, ...) from the store, escalates
// overdue filings and reports (docs/supervision.md) and forgets
// this process's idle rate buckets; call it periodically (any number of
// replicas may).
func (s *Server) Housekeep(ctx context.Context) {
	now := s.now()
	if n, err := s.st.PurgeExpired(ctx, now); err != nil {
		s.log.Warn("purging expired records", "err", err)
	} else if n > 0 {
		s.log.Debug("purged expired records", "rows", n)
	}
	if _, err := s.escalate(ctx); err != nil {
		s.log.Warn("escalating overdue filings and reports", "err", err)
	}
	s.limits.sweep(now)
}

// Run serves on addr (TCP) until ctx is done, then shuts down within grace;
// see Serve.
func (s *Server) Run(ctx context.Context, addr string, grace time.Duration) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	return s.Serve(ctx, ln, grace)
}
