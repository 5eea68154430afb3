package kiosk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/qingshan-gov/veinkiosk/kiosk/session"
)

// Health is a device's state as the staff's diagnostics screen shows it.
type Health struct {
	Name      string `json:"name"` // "reader" or "scanner"
	Spec      string `json:"spec"` // port or scanner spec
	Connected bool   `json:"connected"`
	Detail    string `json:"detail,omitempty"`     // model, serial (Describer)
	LastError string `json:"last_error,omitempty"` // the last failure, if any (the driver's words, for a technician)
	// ErrorKind classifies LastError for the staff's diagnostics screen,
	// which says it in Chinese (ErrorKind...).
	ErrorKind  string    `json:"error_kind,omitempty"`
	Since      time.Time `json:"since"` // when Connected last changed
	Reconnects int       `json:"reconnects"`
}

// DeviceOptions tune the device manager.
type DeviceOptions struct {
	PollInterval   time.Duration // card polling
	CallTimeout    time.Duration // deadline of one reader call
	MinBackoff     time.Duration // first reconnect delay
	MaxBackoff     time.Duration // reconnect delay cap
	RemoveDebounce int           // consecutive empty polls that mean "card removed"
	ProbeInterval  time.Duration // idle health probe of the scanner (0: none)
}

// DefaultDeviceOptions are sensible for real hardware.
func DefaultDeviceOptions() DeviceOptions {
	return DeviceOptions{
		PollInterval:   300 * time.Millisecond,
		CallTimeout:    3 * time.Second,
		MinBackoff:     500 * time.Millisecond,
		MaxBackoff:     15 * time.Second,
		RemoveDebounce: 2,
		ProbeInterval:  3 * time.Second,
	}
}

// Devices opens the reader and the scanner, keeps them open (reconnecting
// with backoff after an unplug), polls the card and reports what happens
// as session events. No call on a device can block its caller beyond the
// caller's deadline: every call runs in its own goroutine, and a device
// whose call outlives its deadline is closed and reopened.
type Devices struct {
	openReader  func(ctx context.Context) (CardReader, error)
	openScanner func(ctx context.Context) (Scanner, error)
	readerSpec  string
	scannerSpec string
	opt         DeviceOptions
	emit        func(session.Event)
	log         *slog.Logger
	metrics     *Metrics

	capturing atomic.Int32 // captures in flight (the idle probe waits)
	present   atomic.Bool  // a card is on the reader

	mu          sync.Mutex
	scanner     Scanner
	health      map[string]*Health
	scannerDown chan struct{} // closed by markScannerDown to wake the scanner loop
}

// NewDevices returns a manager; Run starts it. emit receives card events.
func NewDevices(openReader func(context.Context) (CardReader, error), readerSpec string,
	openScanner func(context.Context) (Scanner, error), scannerSpec string,
	opt DeviceOptions, emit func(session.Event), log *slog.Logger, m *Metrics) *Devices {
	now := time.Now()
	return &Devices{
		openReader: openReader, openScanner: openScanner, readerSpec: readerSpec, scannerSpec: scannerSpec,
		opt: opt, emit: emit, log: log, metrics: m,
		health: map[string]*Health{
			"reader":  {Name: "reader", Spec: readerSpec, Since: now},
			"scanner": {Name: "scanner", Spec: scannerSpec, Since: now},
		},
		scannerDown: make(chan struct{}),
	}
}

// CardPresent reports whether a card is on the reader.
func (d *Devices) CardPresent() bool { return d.present.Load() }

// Health returns a snapshot of both devices.
func (d *Devices) Health() []Health {
	d.mu.Lock()
	defer d.mu.Unlock()
	return []Health{*d.health["reader"], *d.health["scanner"]}
}

func (d *Devices) setHealth(name string, connected bool, detail string, err error) {
	d.mu.Lock()
	h := d.health[name]
	changed := h.Connected != connected
	if changed {
		h.Since = time.Now()
		if connected && !h.Since.IsZero() && h.LastError != "" {
			h.Reconnects++
		}
	}
	h.Connected = connected
	if detail != "" {
		h.Detail = detail
	}
	if err != nil {
		h.LastError, h.ErrorKind = err.Error(), ErrorKindOf(err)
	}
	d.mu.Unlock()
	if d.metrics != nil {
		d.metrics.deviceUp(name, connected)
	}
	if changed {
		if connected {
			d.log.Info("device connected", "device", name, "spec", h.Spec)
		} else {
			d.log.Warn("device disconnected", "device", name, "spec", h.Spec, "err", err)
		}
	}
}

// Run keeps both devices going until ctx ends.
func (d *Devices) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); d.runReader(ctx) }()
	go func() { defer wg.Done(); d.runScanner(ctx) }()
	wg.Wait()
}

// call runs fn in its own goroutine and waits for it or for ctx; when ctx
// ends first the result is abandoned (the goroutine finishes on its own
// once the device is closed).
func call[T any](ctx context.Context, fn func(context.Context) (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := fn(ctx)
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, fmt.Errorf("device call abandoned: %w", ctx.Err())
	}
}

func (d *Devices) backoff(ctx context.Context, n int) bool {
	wait := d.opt.MinBackoff << min(n, 10)
	if wait > d.opt.MaxBackoff || wait <= 0 {
		wait = d.opt.MaxBackoff
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (d *Devices) runReader(ctx context.Context) {
	present := false
	var lastID string
	fails := 0
	for attempt := 0; ctx.Err() == nil; attempt++ {
		octx, cancel := context.WithTimeout(ctx, d.opt.CallTimeout)
		r, err := call(octx, d.openReader)
		cancel()
		if err != nil {
			d.setHealth("reader", false, "", err)
			if !d.backoff(ctx, attempt) {
				return
			}
			continue
		}
		attempt = -1
		d.setHealth("reader", true, describe(r), nil)
		empty := 0
		tick := time.NewTicker(d.opt.PollInterval)
	poll:
		for {
			cctx, cancel := context.WithTimeout(ctx, d.opt.CallTimeout)
			card, err := call(cctx, r.ReadCard)
			cancel()
			switch {
			case ctx.Err() != nil:
				break poll
			case err == nil:
				empty, fails = 0, 0
				if !present || card.IDNumber != lastID {
					if present {
						d.present.Store(false)
						d.emit(session.CardRemoved{})
					}
					present, lastID = true, card.IDNumber
					d.present.Store(true)
					d.metrics.cardEvent("read")
					d.emit(session.CardRead{Card: card})
				}
			case errors.Is(err, ErrNoCard):
				fails = 0
				empty++
				if present && empty >= d.opt.RemoveDebounce {
					present, lastID = false, ""
					d.present.Store(false)
					d.metrics.cardEvent("removed")
					d.emit(session.CardRemoved{})
				}
			case errors.Is(err, ErrDeviceDown) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
				// Unplugged or stuck: drop it and reconnect.
				d.setHealth("reader", false, "", err)
				break poll
			default:
				// A card that cannot be read (moved while reading, damaged):
				// tell the resident once, keep polling.
				fails++
				if fails == 2 && !present {
					d.metrics.cardEvent("failed")
					d.emit(session.CardFailed{Err: err})
				}
				if fails >= 10 {
					d.setHealth("reader", false, "", err)
					break poll
				}
			}
			select {
			case <-ctx.Done():
				break poll
			case <-tick.C:
			}
		}
		tick.Stop()
		go r.Close() // may block on a stuck driver
		if present {
			present, lastID = false, ""
			d.present.Store(false)
			d.emit(session.CardRemoved{})
		}
		if ctx.Err() == nil && !d.backoff(ctx, 0) {
			return
		}
	}
}

// ScannerCertificate returns the open scanner's device certificate when it
// knows it before capturing (Certified), else nil.
func (d *Devices) ScannerCertificate() []byte {
	d.mu.Lock()
	s := d.scanner
	d.mu.Unlock()
	if c, ok := s.(Certified); ok {
		return c.DeviceCertificate()
	}
	return nil
}

func describe(v any) string {
	if ds, ok := v.(Describer); ok {
		return ds.Describe()
	}
	return ""
}

func (d *Devices) runScanner(ctx context.Context) {
	for attempt := 0; ctx.Err() == nil; attempt++ {
		octx, cancel := context.WithTimeout(ctx, d.opt.CallTimeout)
		s, err := call(octx, d.openScanner)
		cancel()
		if err != nil {
			d.setHealth("scanner", false, "", err)
			if !d.backoff(ctx, attempt) {
				return
			}
			continue
		}
		attempt = -1
		d.mu.Lock()
		d.scanner = s
		down := make(chan struct{})
		d.scannerDown = down
		d.mu.Unlock()
		d.setHealth("scanner", true, describe(s), nil)
		d.watchScanner(ctx, s, down)
		d.mu.Lock()
		d.scanner = nil
		d.mu.Unlock()
		go s.Close()
		if ctx.Err() == nil && !d.backoff(ctx, 0) {
			return
		}
	}
}

// watchScanner returns when ctx ends or the scanner is marked down; while
// no capture is in flight it probes a Checker every ProbeInterval.
func (d *Devices) watchScanner(ctx context.Context, s Scanner, down chan struct{}) {
	ck, ok := s.(Checker)
	iv := d.opt.ProbeInterval
	if !ok || iv <= 0 {
		select {
		case <-ctx.Done():
		case <-down:
		}
		return
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-down:
			return
		case <-t.C:
		}
		if d.capturing.Load() > 0 {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, d.opt.CallTimeout)
		_, err := call(cctx, func(c context.Context) (struct{}, error) { return struct{}{}, ck.Check(c) })
		cancel()
		if err != nil && ctx.Err() == nil {
			d.markScannerDown(s, err)
			return
		}
	}
}

func (d *Devices) markScannerDown(s Scanner, err error) {
	d.mu.Lock()
	if d.scanner != s {
		d.mu.Unlock()
		return
	}
	d.scanner = nil
	close(d.scannerDown)
	d.mu.Unlock()
	d.setHealth("scanner", false, "", err)
}

// ErrNotLifted: a new placement was needed and the finger stayed on.
var ErrNotLifted = errors.New("kiosk: the finger was not lifted")

// WaitLift waits until the finger leaves the scanner (when the scanner can
// tell), or returns ErrNotLifted when ctx ends first.
func (d *Devices) WaitLift(ctx context.Context) error {
	d.mu.Lock()
	s := d.scanner
	d.mu.Unlock()
	if s == nil {
		return ErrDeviceDown
	}
	l, ok := s.(Lifter)
	if !ok {
		return nil
	}
	d.capturing.Add(1)
	defer d.capturing.Add(-1)
	_, err := call(ctx, func(c context.Context) (struct{}, error) { return struct{}{}, l.WaitLift(c) })
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		if errors.Is(ctx.Err(), context.Canceled) {
			return ctx.Err()
		}
		return ErrNotLifted
	}
	d.markScannerDown(s, err)
	return fmt.Errorf("%w: %v", ErrDeviceDown, err)
}

// Capture takes one capture, waiting for a finger until ctx ends. A device
// failure marks the scanner down (it is reopened) and returns ErrDeviceDown.
func (d *Devices) Capture(ctx context.Context, nonce [32]byte) (*ScanImage, error) {
	d.mu.Lock()
	s := d.scanner
	d.mu.Unlock()
	if s == nil {
		return nil, ErrDeviceDown
	}
	d.capturing.Add(1)
	defer d.capturing.Add(-1)
	img, err := call(ctx, func(ctx context.Context) (*ScanImage, error) { return s.Capture(ctx, nonce) })
	switch {
	case err == nil:
		return img, nil
	case errors.Is(err, ErrNoFinger), errors.Is(err, ErrBadPlacement):
		return nil, err
	case errors.Is(err, context.DeadlineExceeded):
		return nil, fmt.Errorf("%w: %v", ErrNoFinger, err)
	case errors.Is(err, context.Canceled):
		return nil, err
	}
	d.markScannerDown(s, err)
	return nil, fmt.Errorf("%w: %v", ErrDeviceDown, err)
}
