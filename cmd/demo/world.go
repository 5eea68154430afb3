package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan"
	"github.com/qingshan-gov/veinkiosk/kiosk"
	"github.com/qingshan-gov/veinkiosk/kiosk/hwdev"
	"github.com/qingshan-gov/veinkiosk/matcher/calib"
	"github.com/qingshan-gov/veinkiosk/server/api"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/keyring"
	"github.com/qingshan-gov/veinkiosk/server/password"
	"github.com/qingshan-gov/veinkiosk/server/store"
	"github.com/qingshan-gov/veinkiosk/server/store/sqlite"
	"github.com/qingshan-gov/veinkiosk/simulators/deck"
	"github.com/qingshan-gov/veinkiosk/simulators/idcardsim"
	"github.com/qingshan-gov/veinkiosk/simulators/printersim"
	"github.com/qingshan-gov/veinkiosk/simulators/veinsim"
)

// Demo accounts (synthetic, printed at start).
const (
	adminUser       = "admin"
	adminPass       = "demo-admin-pass"
	staffUser       = "zhanzhang"
	staffPass       = "demo-station-pass"
	supervisorUser  = "zhuguan"
	supervisorPass  = "demo-supervisor-pass"
	staffPIN        = "246813" // the kiosk's staff login (username and PIN)
	supervisorPIN   = "975318"
	officerUser     = "minzheng"
	officerPass     = "demo-officer-pass"
	unitOfficerPass = "demo-officer-pass" // every unit's officer (unitOfficers)
	gridUser        = "wangge"            // the grid worker of the most populous grid cell
	gridPass        = "demo-grid-pass"
	stationID       = "QS-S01"
	stationName     = "青山街道社区服务站"
	kioskID         = "QS-K01"
	deckSeed        = 42
)

// unitOfficers are the demo's officers of the units other than civil
// affairs (officerUser), one per unit of the catalogue, so that every
// service's filings can be decided; all log in with unitOfficerPass.
var unitOfficers = []struct{ user, name, unit string }{
	{"laoling", "钱科员（老龄办）", "ageing"},
	{"canlian", "孙干事（残联）", "disability"},
	{"renshe", "周科员（人社所）", "hrss"},
	{"weijian", "吴科员（卫健办）", "health"},
	{"zhujian", "郑科员（住建科）", "housing"},
	{"sifa", "冯助理（司法所）", "justice"},
	{"shequ", "陈主任（社区居委会）", "community"},
	// The units that answer residents' issue reports only.
	{"chengguan", "何队员（城管执法中队）", "urban_management"},
	{"gongre", "高科员（供热办）", "heating"},
	{"shengtai", "林科员（生态环境分局）", "ecology"},
	{"paichusuo", "罗警官（派出所）", "police"},
	{"shijian", "梁科员（市场监管所）", "market"},
}

type world struct {
	o   options
	log *slog.Logger

	dir    string
	tmpDir bool
	// gridCell is the demo grid worker's cell (busiestCell).
	gridCell string
	st       store.Store
	srv      *api.Server
	admin    *apiv1.Client
	deck     *deck.Deck
	people   []*deck.Resident // imported residents with a resident ID card
	// agent may file for principal (代办: one household, the principal 70
	// or more or disabled); the agent is enrolled before the kiosk opens.
	agent, principal *deck.Resident
	enrol            []*deck.Resident // to enrol, in order (dibao recipients first)
	skipped          map[string]bool  // deliberately not enrolled
	mu               sync.Mutex
	done             map[string]bool // enrolled

	id      *idcardsim.Sim
	vein    *veinsim.Device
	printer *printersim.PTY
	daemon  *kiosk.Daemon
	net     *netSwitch // the kiosk's link to the server, with the control page's switch

	serverURL, kioskURL, controlURL string
	kioskLn, controlLn              net.Listener

	wg       sync.WaitGroup
	shutdown []func()
}

func freeAddr(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	a := ln.Addr().String()
	return a, ln.Close()
}

func startWorld(ctx context.Context, o options, log *slog.Logger, say func(string, ...any)) (*world, error) {
	w := &world{o: o, log: log, skipped: map[string]bool{}, done: map[string]bool{}}
	ok := false
	defer func() {
		if !ok {
			w.close()
		}
	}()
	// Take the addresses first: a busy port fails now, not after seeding.
	var err error
	if w.kioskLn, err = net.Listen("tcp", o.kiosk); err != nil {
		return nil, fmt.Errorf("kiosk address: %w", err)
	}
	if w.controlLn, err = net.Listen("tcp", o.control); err != nil {
		w.kioskLn.Close()
		return nil, fmt.Errorf("control page address: %w", err)
	}
	if err := w.startServer(ctx, say); err != nil {
		return nil, err
	}
	if err := w.seed(ctx, say); err != nil {
		return nil, err
	}
	if err := w.startDevices(ctx, say); err != nil {
		return nil, err
	}
	if err := w.startKiosk(ctx, say); err != nil {
		return nil, err
	}
	if err := w.startControl(ctx); err != nil {
		return nil, err
	}
	ok = true
	return w, nil
}

func (w *world) goRun(name string, fn func() error) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		if err := fn(); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, context.Canceled) {
			w.log.Error("component stopped", "component", name, "err", err)
		}
	}()
}

// wait waits for every component after the context was cancelled.
func (w *world) wait() {
	for i := len(w.shutdown) - 1; i >= 0; i-- {
		w.shutdown[i]()
	}
	w.shutdown = nil
	w.wg.Wait()
}

func (w *world) close() {
	w.wait()
	for _, ln := range []net.Listener{w.kioskLn, w.controlLn} {
		if ln != nil {
			ln.Close()
		}
	}
	if w.id != nil {
		w.id.Close()
	}
	if w.st != nil {
		w.st.Close()
	}
	if w.tmpDir {
		os.RemoveAll(w.dir)
	}
}

func (w *world) startServer(ctx context.Context, say func(string, ...any)) error {
	var err error
	if w.o.data != "" {
		w.dir = w.o.data
		if err := os.MkdirAll(w.dir, 0o700); err != nil {
			return err
		}
	} else {
		if w.dir, err = os.MkdirTemp("", "veinkiosk-demo-"); err != nil {
			return err
		}
		w.tmpDir = true
	}
	keys := filepath.Join(w.dir, "keys")
	if _, err := os.Stat(keys); errors.Is(err, os.ErrNotExist) {
		line, err := keyring.GenerateLine("demo1")
		if err != nil {
			return err
		}
		if err := os.WriteFile(keys, []byte(line+"\n"), 0o600); err != nil {
			return err
		}
	}
	ring, err := keyring.LoadFile(keys)
	if err != nil {
		return err
	}
	w.st, err = sqlite.OpenDir(ctx, filepath.Join(w.dir, "store"), store.Options{Keyring: ring, Logger: w.log})
	if err != nil {
		return fmt.Errorf("opening the embedded store: %w", err)
	}
	hash, err := password.Hash(adminPass)
	if err != nil {
		return err
	}
	if _, err := w.st.CreateStaff(ctx, audit.System("demo"), store.Staff{Username: adminUser, DisplayName: "管理员", Role: store.RoleAdmin, PasswordHash: hash}); err != nil && !errors.Is(err, store.ErrAlreadyExists) {
		return fmt.Errorf("creating the administrator: %w", err)
	}
	// The simulator's scanner model ships its own (synthetic) calibration,
	// with its quality gates; the default targets of centrald apply.
	sims, err := calib.Builtin()
	if err != nil {
		return err
	}
	if g := w.o.simGates; g != nil {
		for i, f := range sims {
			c := *f // the builtin files are shared: change a copy
			c.QualityGates = g
			sims[i] = &c
		}
	}
	cals, err := calib.NewRegistry(sims, calib.Options{Policy: calib.DefaultPolicy, Logger: w.log})
	if err != nil {
		return err
	}
	w.srv, err = api.New(api.Config{
		Store: w.st, Logger: w.log, Makers: api.NewMakers(""),
		Calibrations: cals,
		KioskRate:    50, KioskBurst: 100,
		// The demo serves plain HTTP on loopback: a Secure cookie would
		// not come back from browsers that do not treat http://127.0.0.1
		// as secure.
		InsecureCookies: true,
		// The demo seeds its synthetic residents through the bulk
		// enrolment without deduplication (seed.go): throwaway data, the
		// case --bulk-enrolment=unchecked is for.
		BulkEnrolment: apiv1.BulkUnchecked,
	})
	if err != nil {
		return err
	}
	addr, err := freeAddr(w.o.server)
	if err != nil {
		return fmt.Errorf("server address %s: %w", w.o.server, err)
	}
	w.serverURL = "http://" + addr
	sctx, stop := context.WithCancel(context.Background())
	w.shutdown = append(w.shutdown, stop)
	w.goRun("server", func() error { return w.srv.Run(sctx, addr, 3*time.Second) })
	// Wait until it answers.
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(w.serverURL + apiv1.PathOpenAPI)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server did not start at %s", w.serverURL)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err := w.srv.LoadGallery(ctx); err != nil {
		return err
	}
	w.srv.SetReady()
	say("server:  %s (embedded store in %s)", w.serverURL, w.dir)
	c := &apiv1.Client{BaseURL: w.serverURL, HTTP: &http.Client{Timeout: 60 * time.Second}}
	sess, err := c.Login(ctx, adminUser, adminPass)
	if err != nil {
		return fmt.Errorf("admin login: %w", err)
	}
	w.admin = c.WithStaff(sess.Token)
	return nil
}

// post sends an admin request; a conflict (already there from an earlier
// run with --data) is fine.
func (w *world) post(ctx context.Context, path string, in, out any) error {
	err := w.admin.Do(ctx, http.MethodPost, path, in, out)
	if code := apiv1.ErrorCode(err); code == apiv1.CodeConflict {
		return nil
	}
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	return nil
}

func (w *world) startDevices(ctx context.Context, say func(string, ...any)) error {
	timing := idcardsim.DefaultTiming()
	if w.o.fastReader {
		timing = idcardsim.FastTiming()
	}
	var err error
	w.id, err = idcardsim.Start(w.deck, idcardsim.Options{Timing: timing, Logger: w.log})
	if err != nil {
		return fmt.Errorf("ID-card simulator: %w", err)
	}
	say("ID-card reader simulator on %s", w.id.Path())
	if err := os.MkdirAll(filepath.Join(w.dir, "receipts"), 0o700); err != nil {
		return err
	}
	w.printer, err = printersim.StartPTY(printersim.Options{Dir: filepath.Join(w.dir, "receipts"), Logger: w.log})
	if err != nil {
		return fmt.Errorf("printer simulator: %w", err)
	}
	w.shutdown = append(w.shutdown, func() { w.printer.Close() })
	say("receipt printer simulator on %s (receipts in %s)", w.printer.Path(), filepath.Join(w.dir, "receipts"))
	w.vein, err = veinsim.New(veinsim.Config{Residents: veinsim.DeckResidents{Deck: w.deck}, Serial: "SIM-QS-0001"})
	if err != nil {
		return fmt.Errorf("vein scanner simulator: %w", err)
	}
	dev := w.vein
	veinscan.RegisterTransport("sim", func(ctx context.Context, arg string, _ *veinscan.Options) (veinscan.Conn, error) {
		return dev.Connect()
	})
	cert := w.vein.Certificate()
	return w.post(ctx, apiv1.PathAdminMakers, apiv1.Maker{ID: cert.MakerID, Name: "scanner simulator (test maker key)", PublicKey: w.vein.MakerPublicKey()}, nil)
}

func (w *world) startKiosk(ctx context.Context, say func(string, ...any)) error {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	if err := w.post(ctx, apiv1.PathAdminKiosks, apiv1.KioskRegistration{ID: kioskID, Station: stationID, Name: "一楼大厅自助机", PublicKey: pub}, nil); err != nil {
		return err
	}
	w.net = &netSwitch{next: http.DefaultTransport}
	cfg := kiosk.DefaultConfig()
	cfg.ReaderPort, cfg.ScannerSpec, cfg.ServerURL, cfg.KeyFile = w.id.Path(), "sim", w.serverURL, "(in memory)"
	cfg.KioskID, cfg.StationID = kioskID, stationName
	cfg.PrinterSpec = "serial:" + w.printer.Path()
	cfg.CaptureTimeout = kiosk.Duration(20 * time.Second)
	if w.o.tuneKiosk != nil {
		w.o.tuneKiosk(&cfg)
	}
	id := w.id
	w.daemon = kiosk.New(kiosk.Options{
		Config: cfg,
		// The simulator's pty path changes when it is replugged.
		OpenReader:  func(ctx context.Context) (kiosk.CardReader, error) { return hwdev.OpenIDCardReader(id.Path())(ctx) },
		OpenScanner: hwdev.OpenVeinScanner("sim", nil),
		OpenPrinter: hwdev.OpenReceiptPrinter(cfg.PrinterSpec),
		Server:      kiosk.NewServerClient(w.serverURL, kioskID, priv, &http.Client{Timeout: 30 * time.Second, Transport: w.net}),
		Extractor:   kiosk.MatcherExtractor{},
		Logger:      w.log,
	})
	ln := w.kioskLn
	w.kioskURL = "http://" + ln.Addr().String()
	kctx, stop := context.WithCancel(context.Background())
	hs := &http.Server{Handler: w.daemon.Handler(), ReadHeaderTimeout: 5 * time.Second, BaseContext: func(net.Listener) context.Context { return kctx }}
	w.shutdown = append(w.shutdown, func() {
		stop()
		sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	})
	w.goRun("kiosk", func() error { return w.daemon.Run(kctx) })
	w.goRun("kiosk UI", func() error { return hs.Serve(ln) })
	return nil
}
