package kiosk

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/qingshan-gov/veinkiosk/kiosk/session"
)

// Options assemble a daemon from its parts.
type Options struct {
	Config      Config
	OpenReader  func(context.Context) (CardReader, error)
	OpenScanner func(context.Context) (Scanner, error)
	Server      Server
	Extractor   Extractor
	// OpenPrinter opens the receipt printer for one job (nil: the kiosk
	// has no printer and the receipt screen says to note the reference).
	OpenPrinter func(context.Context) (ReceiptPrinter, error)
	Logger      *slog.Logger
	Devices     DeviceOptions // zero: DefaultDeviceOptions
	// ProbeInterval is how often the server's health is checked (zero: 5 s).
	ProbeInterval time.Duration
	// TickInterval drives timeouts (zero: 1 s).
	TickInterval time.Duration
	Now          func() time.Time // nil: time.Now
}

// Daemon is the kiosk daemon: one session machine fed from one goroutine.
type Daemon struct {
	cfg     Config
	log     *slog.Logger
	metrics *Metrics
	devices *Devices
	server  Server
	extract Extractor
	now     func() time.Time
	probe   time.Duration
	tickIv  time.Duration

	events chan session.Event
	hub    *hub
	up     atomic.Bool
	// lastCert: the device certificate the last capture carried;
	// gatesSaid: the quality gates the server said last (for the log).
	lastCert  atomic.Pointer[[]byte]
	gatesSaid atomic.Pointer[session.Gates]

	// owned by the loop goroutine
	m             *session.Machine
	lang          string
	captureCancel context.CancelFunc
	seq           uint64
	lastView      []byte // the last published view without its Seq
	shownHealth   string // healthKey of the devices in the last published view

	effects sync.WaitGroup
	runCtx  context.Context

	// receipt printing (printing.go); print is owned by the loop, and
	// print jobs report back through loop.
	openPrinter func(context.Context) (ReceiptPrinter, error)
	print       printStatus
	loop        chan func()
	assist      string // the call for staff in this session (assist.go)
}

// New builds a daemon; Run starts it.
func New(opt Options) *Daemon {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Devices == (DeviceOptions{}) {
		opt.Devices = DefaultDeviceOptions()
	}
	if opt.ProbeInterval == 0 {
		opt.ProbeInterval = 5 * time.Second
	}
	if opt.TickInterval == 0 {
		opt.TickInterval = time.Second
	}
	d := &Daemon{
		cfg: opt.Config, log: opt.Logger, metrics: NewMetrics(), server: opt.Server, extract: opt.Extractor,
		now: opt.Now, probe: opt.ProbeInterval, tickIv: opt.TickInterval,
		events: make(chan session.Event, 64), hub: newHub(), lang: opt.Config.Lang,
		openPrinter: opt.OpenPrinter, loop: make(chan func(), 8),
	}
	d.m = session.New(opt.Config.SessionConfig(), newIdemKey, d.now())
	d.devices = NewDevices(opt.OpenReader, opt.Config.ReaderPort, opt.OpenScanner, opt.Config.ScannerSpec,
		opt.Devices, d.post, opt.Logger, d.metrics)
	d.publish()
	return d
}

// Metrics returns the daemon's metrics (for /metrics).
func (d *Daemon) Metrics() *Metrics { return d.metrics }

// Devices returns the device manager.
func (d *Daemon) Devices() *Devices { return d.devices }

func newIdemKey() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return hex.EncodeToString(b[:])
}

// post hands an event to the loop; it never blocks the caller for long.
func (d *Daemon) post(ev session.Event) {
	select {
	case d.events <- ev:
	case <-time.After(5 * time.Second):
		d.log.Error("event dropped: the session loop is not reading", "event", eventName(ev))
	}
}

// Touch delivers a screen action (from the UI's POST /touch).
func (d *Daemon) Touch(t session.Touch) { d.post(t) }

// Run runs the devices, the server probe and the session loop until ctx
// ends, then waits for effects in flight.
func (d *Daemon) Run(ctx context.Context) error {
	d.runCtx = ctx
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); d.devices.Run(ctx) }()
	go func() { defer wg.Done(); d.probeServer(ctx) }()
	tick := time.NewTicker(d.tickIv)
	defer tick.Stop()
	healthTick := time.NewTicker(500 * time.Millisecond)
	defer healthTick.Stop()
	for {
		select {
		case <-ctx.Done():
			if d.captureCancel != nil {
				d.captureCancel()
			}
			wg.Wait()
			d.effects.Wait()
			return nil
		case ev := <-d.events:
			d.step(ctx, ev)
		case fn := <-d.loop:
			fn()
			d.publish()
		case <-tick.C:
			d.step(ctx, session.Tick{})
		case <-healthTick.C:
			// Device health changes reach the screen without an event:
			// compare with what the screen last got.
			if healthKey(d.devices.Health()) != d.shownHealth {
				d.publish()
			}
		}
	}
}

func healthKey(hs []Health) string {
	k := ""
	for _, h := range hs {
		k += h.Name
		if h.Connected {
			k += "+"
		} else {
			k += "-" + h.LastError
		}
	}
	return k
}

func (d *Daemon) probeServer(ctx context.Context) {
	first := true
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Duration(d.cfg.ServerTimeout))
		start := time.Now()
		err := d.server.Ping(cctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		d.metrics.serverCall("ping", start, err)
		up := err == nil
		if first || d.up.Load() != up {
			d.up.Store(up)
			if up {
				d.metrics.serverUp.Set(1)
				d.log.Info("central server reachable")
			} else {
				d.metrics.serverUp.Set(0)
				d.log.Warn("central server unreachable", "err", errClass(err))
			}
			d.post(session.ServerStatus{Up: up})
		}
		first = false
		wait := d.probe
		if !up {
			wait = min(wait, 2*time.Second)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

func (d *Daemon) step(ctx context.Context, ev session.Event) {
	before := d.m.State()
	if t, ok := ev.(session.Touch); ok && t.Action == "lang" {
		if t.Arg == "zh" || t.Arg == "en" {
			d.lang = t.Arg
		}
		ev = session.Touch{Action: session.ActActivity}
	}
	if t, ok := ev.(session.Touch); ok && t.Action == ActReprint {
		d.printTouch(ctx)
		ev = session.Touch{Action: session.ActActivity}
	}
	if t, ok := ev.(session.Touch); ok && t.Action == ActCallStaff {
		d.callStaff(ctx, CallResident)
		ev = session.Touch{Action: session.ActActivity}
	}
	effs := d.m.Step(ev, d.now())
	after := d.m.State()
	if before.Phase != after.Phase {
		d.metrics.transitions.WithLabelValues(string(after.Phase)).Inc()
		d.log.Info("phase", "from", before.Phase, "to", after.Phase, "gen", after.Gen, "problem", after.Problem, "hint", after.Hint)
	}
	if before.Gen != after.Gen && before.Mode == session.ModeResident && before.Phase != session.Idle {
		d.metrics.sessions.WithLabelValues(string(before.Phase)).Inc()
	}
	for _, e := range effs {
		d.run(ctx, e)
	}
	d.afterStep(ctx, before, after)
	if _, isTick := ev.(session.Tick); !isTick {
		d.publish()
	} else {
		// Time passing changes the screen only sometimes: a countdown, a
		// wait, the clock, a timeout.
		d.publishIfChanged()
	}
}

func (d *Daemon) publish() {
	v := d.view()
	d.lastView, _ = json.Marshal(v)
	d.seq++
	v.Seq = d.seq
	d.hub.publish(v)
}

func (d *Daemon) publishIfChanged() {
	b, _ := json.Marshal(d.view())
	if !bytes.Equal(b, d.lastView) {
		d.publish()
	}
}

// spawn runs fn as an effect with a deadline; its event is posted unless
// the daemon is stopping.
func (d *Daemon) spawn(ctx context.Context, timeout time.Duration, fn func(ctx context.Context) session.Event) {
	d.effects.Add(1)
	go func() {
		defer d.effects.Done()
		cctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		ev := fn(cctx)
		if ev == nil || ctx.Err() != nil {
			return
		}
		d.post(ev)
	}()
}

func (d *Daemon) serverTimeout() time.Duration { return time.Duration(d.cfg.ServerTimeout) }

func (d *Daemon) timed(op string, fn func() error) error {
	start := time.Now()
	err := fn()
	d.metrics.serverCall(op, start, err)
	if err != nil {
		var ae *APIError
		code := ""
		if errors.As(err, &ae) {
			code = ae.Code
		}
		d.log.Warn("server call failed", "op", op, "err", errClass(err), "code", code)
	}
	return err
}

func (d *Daemon) run(ctx context.Context, e session.Effect) {
	switch e := e.(type) {
	case session.Wipe:
		d.lang = d.cfg.Lang
		d.assist = "" // a call in flight reports to the session that made it only
		if lo, ok := d.server.(StaffLogouter); ok && e.StaffToken != "" {
			d.spawn(ctx, d.serverTimeout(), func(c context.Context) session.Event {
				// Best effort: the server's idle time-out ends it otherwise.
				_ = d.timed("logout", func() error { return lo.StaffLogout(c, e.StaffToken) })
				return nil
			})
		}
	case session.CancelCapture:
		if d.captureCancel != nil {
			d.captureCancel()
			d.captureCancel = nil
		}
	case session.DoCapture:
		if d.captureCancel != nil {
			d.captureCancel()
		}
		cctx, cancel := context.WithCancel(ctx)
		d.captureCancel = cancel
		d.spawn(cctx, time.Duration(d.cfg.CaptureTimeout)+d.serverTimeout(), func(c context.Context) session.Event {
			ev := d.capture(c, e)
			if errors.Is(c.Err(), context.Canceled) {
				return nil // cancelled: the resident left or the staff retook
			}
			return ev
		})
	case session.DoCheck:
		d.spawn(ctx, d.serverTimeout(), func(c context.Context) session.Event {
			var in session.EnrolmentInfo
			err := d.timed("enrolment_check", func() (err error) { in, err = d.server.EnrolmentCheck(c, e.Card); return })
			return session.Checked{Gen: e.Gen, Info: in, Err: err}
		})
	case session.DoVerify:
		d.spawn(ctx, d.serverTimeout(), func(c context.Context) session.Event {
			var res session.Resident
			var tok string
			err := d.timed("verify", func() (err error) { res, tok, err = d.server.Verify(c, e.Card, e.Sample); return })
			if errors.Is(err, session.ErrNoMatch) {
				// The error travels on: it says how many attempts are left.
				return session.Verified{Gen: e.Gen, Match: false, Err: err}
			}
			return session.Verified{Gen: e.Gen, Match: err == nil, Token: tok, Resident: res, Err: err}
		})
	case session.DoCatalogue:
		d.spawn(ctx, d.serverTimeout(), func(c context.Context) session.Event {
			var svcs []session.Service
			err := d.timed("services", func() (err error) { svcs, err = d.server.Services(c, e.Token); return })
			return session.CatalogueLoaded{Gen: e.Gen, Services: svcs, Err: err}
		})
	case session.DoForm:
		d.spawn(ctx, d.serverTimeout(), func(c context.Context) session.Event {
			var f session.Form
			err := d.timed("form", func() (err error) { f, err = d.server.Form(c, e.Token, e.Service); return })
			if err != nil {
				f.Service = e.Service
			}
			return session.FormLoaded{Gen: e.Gen, Form: f, Err: err}
		})
	case session.DoSubmit:
		d.spawn(ctx, d.serverTimeout(), func(c context.Context) session.Event {
			var r session.Receipt
			err := d.timed("submit", func() (err error) { r, err = d.server.Submit(c, e.Token, e.IdemKey, e.Form); return })
			switch {
			case err == nil:
				d.metrics.filings.WithLabelValues("filed").Inc()
				d.log.Info("filing submitted", "service", e.Form.Service.Code, "reference", r.Reference)
			case errors.Is(err, session.ErrUnavailable):
				d.metrics.filings.WithLabelValues("unsure").Inc()
			default:
				d.metrics.filings.WithLabelValues("rejected").Inc()
			}
			return session.Submitted{Gen: e.Gen, Receipt: r, Err: err}
		})
	case session.DoAgent:
		d.spawn(ctx, d.serverTimeout(), func(c context.Context) session.Event {
			ab, ok := d.server.(AgentBinder)
			if !ok {
				return session.AgentBound{Gen: e.Gen, Err: fmt.Errorf("%w: the server client cannot file for a family member", session.ErrAgentNotAllowed)}
			}
			var info session.AgentInfo
			err := d.timed("agent", func() (err error) { info, err = ab.Agent(c, e.Token, e.Card); return })
			if err == nil {
				d.log.Info("filing for a family member", "relation", info.Relation)
			} else {
				d.log.Info("filing for a family member refused", "err", errClass(err))
			}
			return session.AgentBound{Gen: e.Gen, Info: info, Err: err}
		})
	case session.DoRate:
		d.rate(ctx, e)
	case session.DoCertify:
		d.spawn(ctx, d.serverTimeout(), func(c context.Context) session.Event {
			var cert session.Certificate
			err := d.timed("certify", func() (err error) { cert, err = d.server.Certify(c, e.Token, e.Service); return })
			if err != nil {
				cert.Service = e.Service
			} else {
				d.log.Info("certification recorded", "service", e.Service.Code, "already", cert.Already)
			}
			return session.CertifyDone{Gen: e.Gen, Certificate: cert, Err: err}
		})
	case session.DoFilings:
		d.spawn(ctx, d.serverTimeout(), func(c context.Context) session.Event {
			var fs []session.Filing
			err := d.timed("filings", func() (err error) { fs, err = d.server.Filings(c, e.Token); return })
			return session.FilingsLoaded{Gen: e.Gen, Filings: fs, Err: err}
		})
	case session.DoStaffLogin:
		d.spawn(ctx, d.serverTimeout(), func(c context.Context) session.Event {
			var s session.StaffSession
			err := d.timed("login", func() (err error) { s, err = d.server.StaffLogin(c, e.User, e.PIN); return })
			if err == nil {
				d.log.Info("staff logged in")
			}
			return session.StaffLoggedIn{Gen: e.Gen, Session: s, Err: err}
		})
	case session.DoEnrol:
		d.spawn(ctx, 3*d.serverTimeout(), func(c context.Context) session.Event {
			var o session.EnrolOutcome
			err := d.timed("enrol", func() (err error) {
				o, err = d.server.Enrol(c, e.StaffToken, e.Card, e.Fingers, e.OverrideCase, e.ConsentAt)
				return
			})
			if err == nil {
				d.log.Info("enrolment", "pending_approval", o.PendingApproval, "replacement", o.ReplacementID, "needs_supervisor", o.NeedsSupervisor)
			}
			return session.Enrolled{Gen: e.Gen, Outcome: o, Err: err}
		})
	case session.DoConfirmDuplicate:
		d.spawn(ctx, 3*d.serverTimeout(), func(c context.Context) session.Event {
			err := d.timed("supervisor", func() error {
				sup, err := d.server.StaffLogin(c, e.User, e.PIN)
				if err != nil {
					return err
				}
				if lo, ok := d.server.(StaffLogouter); ok {
					// The supervisor's session serves this one decision.
					defer func() { _ = d.timed("logout", func() error { return lo.StaffLogout(c, sup.Token) }) }()
				}
				if !sup.Supervisor {
					return session.ErrDenied
				}
				return d.server.OverrideCase(c, sup.Token, e.CaseID, "confirmed at the kiosk by the station supervisor")
			})
			return session.SupervisorConfirmed{Gen: e.Gen, Err: err}
		})
	}
}

// capture gets a server nonce (naming the scanner by its certificate, so
// that the answer says the quality gates of its model), captures and
// extracts. The outcome carries the gates said with the nonce: the state
// machine judges the capture's quality by them.
func (d *Daemon) capture(ctx context.Context, e session.DoCapture) session.Event {
	purpose := "verify"
	if e.Enrol {
		purpose = "enrol"
	}
	var nonce Nonce
	nctx, cancel := context.WithTimeout(ctx, d.serverTimeout())
	err := d.timed("nonce", func() (err error) { nonce, err = d.server.Nonce(nctx, d.scannerCert()); return })
	cancel()
	if err != nil {
		if !errors.Is(err, session.ErrUnavailable) {
			err = errors.Join(session.ErrUnavailable, err)
		}
		return session.Captured{Gen: e.Gen, Fault: session.DeviceFault, Err: err}
	}
	d.noteGates(nonce.Gates)
	ev := d.captureWith(ctx, e, purpose, nonce.Value)
	c, ok := ev.(session.Captured)
	if !ok {
		return ev
	}
	c.Gates = nonce.Gates
	if len(c.Sample.Certificate) > 0 {
		cert := append([]byte(nil), c.Sample.Certificate...)
		d.lastCert.Store(&cert)
	}
	return c
}

// scannerCert is the scanner's device certificate for a nonce request:
// the open scanner's (Certified), else the one its last capture carried,
// else nil (the server then says no gates; the configured ones apply).
func (d *Daemon) scannerCert() []byte {
	if c := d.devices.ScannerCertificate(); len(c) > 0 {
		return c
	}
	if c := d.lastCert.Load(); c != nil {
		return *c
	}
	return nil
}

// noteGates logs the quality gates the server said when they change.
func (d *Daemon) noteGates(g *session.Gates) {
	if g == nil {
		return
	}
	if old := d.gatesSaid.Swap(g); old == nil || *old != *g {
		d.log.Info("quality gates of the scanner's model from the server", "enrol_min_quality", g.Enrol, "verify_min_quality", g.Verify)
	}
}

// captureWith captures over nonce and extracts.
func (d *Daemon) captureWith(ctx context.Context, e session.DoCapture, purpose string, nonce [32]byte) session.Event {
	cctx, cancel := context.WithTimeout(ctx, time.Duration(d.cfg.CaptureTimeout))
	defer cancel()
	if e.NewPlacement {
		if err := d.devices.WaitLift(cctx); err != nil {
			switch {
			case errors.Is(err, ErrNotLifted):
				d.metrics.captures.WithLabelValues(purpose, "not_lifted").Inc()
				return session.Captured{Gen: e.Gen, Fault: session.NotLifted}
			case errors.Is(ctx.Err(), context.Canceled):
				return nil
			}
			d.metrics.captures.WithLabelValues(purpose, "device_fault").Inc()
			return session.Captured{Gen: e.Gen, Fault: session.DeviceFault, Err: err}
		}
	}
	img, err := d.devices.Capture(cctx, nonce)
	switch {
	case err == nil:
	case errors.Is(err, ErrNoFinger):
		d.metrics.captures.WithLabelValues(purpose, "no_finger").Inc()
		return session.Captured{Gen: e.Gen, Fault: session.NoFinger}
	case errors.Is(err, ErrFingerMoving):
		d.metrics.captures.WithLabelValues(purpose, "moving").Inc()
		return session.Captured{Gen: e.Gen, Fault: session.Moving}
	case errors.Is(err, ErrExposure):
		d.metrics.captures.WithLabelValues(purpose, "exposure").Inc()
		return session.Captured{Gen: e.Gen, Fault: session.Exposure}
	case errors.Is(err, ErrBadPlacement):
		d.metrics.captures.WithLabelValues(purpose, "not_flat").Inc()
		return session.Captured{Gen: e.Gen, Fault: session.NotFlat}
	case errors.Is(ctx.Err(), context.Canceled):
		return nil
	default:
		d.metrics.captures.WithLabelValues(purpose, "device_fault").Inc()
		return session.Captured{Gen: e.Gen, Fault: session.DeviceFault, Err: err}
	}
	tmpl, q, err := d.extract.Extract(img, e.Finger)
	if err != nil {
		clear(img.Pixels) // an unusable image is not kept
		d.metrics.captures.WithLabelValues(purpose, "unusable").Inc()
		return session.Captured{Gen: e.Gen, Fault: session.NotFlat, Sample: session.Sample{Quality: 0}}
	}
	d.metrics.captures.WithLabelValues(purpose, "ok").Inc()
	d.metrics.quality.Observe(float64(q))
	return session.Captured{Gen: e.Gen, Sample: session.Sample{
		Finger: e.Finger, Quality: q, Template: tmpl,
		Image: img.Pixels, Width: img.Width, Height: img.Height,
		Attestation: img.Attestation, Certificate: img.Certificate, Nonce: nonce,
	}}
}

// errClass names an error by its sentinel, never by its text (which may
// carry personal data from a server message).
func errClass(err error) string {
	for _, c := range []struct {
		err  error
		name string
	}{
		{session.ErrUnavailable, "unavailable"}, {session.ErrNotFound, "not_found"}, {session.ErrDenied, "denied"},
		{session.ErrRejected, "rejected"}, {session.ErrNotEnrolled, "not_enrolled"}, {session.ErrCardExpired, "card_expired"},
		{session.ErrLocked, "locked"}, {session.ErrSuspended, "suspended"}, {session.ErrNoMatch, "no_match"},
		{session.ErrNotHousehold, "not_household"}, {session.ErrPrincipalNotEligible, "principal_not_eligible"},
		{session.ErrCardMismatch, "card_mismatch"}, {session.ErrAgentNotAllowed, "agent_not_allowed"}, {session.ErrAgentTokenBound, "agent_token_bound"},
		{ErrNoCard, "no_card"}, {ErrNoFinger, "no_finger"}, {ErrDeviceDown, "device_down"},
		{context.DeadlineExceeded, "deadline"}, {context.Canceled, "canceled"},
	} {
		if errors.Is(err, c.err) {
			return c.name
		}
	}
	if err == nil {
		return ""
	}
	return "other"
}

func eventName(ev session.Event) string {
	switch ev.(type) {
	case session.Touch:
		return "touch"
	case session.CardRead:
		return "card_read"
	}
	return "event"
}
