package veinscan

import (
	"context"
	"crypto/ed25519"
	"encoding"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"sync"
	"time"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan/wire"
)

// Options tune the driver. The zero value (or nil) means DefaultOptions.
type Options struct {
	// CommandTimeout bounds one request/response exchange other than
	// CAPTURE. The protocol requires devices to answer within 200 ms
	// (docs/scanner-protocol.md, "Timing"); the default 1 s leaves room
	// for slow serial links.
	CommandTimeout time.Duration
	// CaptureSlack is added to the device's MaxCaptureMs for CAPTURE.
	CaptureSlack time.Duration
	// Retries is how often an exchange is repeated after a damaged frame,
	// a BAD_CRC answer or a timeout (all commands are idempotent but
	// CAPTURE, which is retried too: it only advances the counter).
	// 0 means the default (2); a negative value disables retries.
	Retries int
	// MakerKeys are the maker public keys whose device certificates are
	// trusted. Empty: signatures are checked against the device's own
	// certificate only and Result.CertificateTrusted is false.
	MakerKeys []ed25519.PublicKey
	// Exposure tunes automatic exposure.
	Exposure ExposureOptions
	// Quality scores a capture 0..100; nil uses AssessQuality's score.
	// Programs that link the matcher plug in its quality function.
	Quality func(*image.Gray) (int, error)
	// USBIDs are the VID:PIDs "usb" looks for; nil means KnownUSBIDs.
	USBIDs []USBID
	// Baud is the serial line rate (default 921600; a pseudo-terminal
	// ignores it).
	Baud int
	// Logger receives debug records of the exchanges (never image data).
	Logger *slog.Logger
}

// DefaultOptions returns the defaults.
func DefaultOptions() *Options {
	return &Options{
		CommandTimeout: time.Second,
		CaptureSlack:   time.Second,
		Retries:        2,
		Exposure:       DefaultExposure(),
		Baud:           921600,
	}
}

func (o *Options) withDefaults() *Options {
	d := DefaultOptions()
	if o == nil {
		return d
	}
	c := *o
	if c.CommandTimeout <= 0 {
		c.CommandTimeout = d.CommandTimeout
	}
	if c.CaptureSlack <= 0 {
		c.CaptureSlack = d.CaptureSlack
	}
	switch {
	case c.Retries == 0:
		c.Retries = d.Retries
	case c.Retries < 0:
		c.Retries = 0
	}
	if c.Exposure.MaxAttempts == 0 {
		c.Exposure = d.Exposure
	}
	if c.Baud == 0 {
		c.Baud = d.Baud
	}
	return &c
}

// Scanner is an open finger-vein scanner. Its methods are safe for
// concurrent use; exchanges are serialised.
type Scanner struct {
	conn Conn
	opts *Options
	log  *slog.Logger
	spec string

	info wire.DeviceInfo
	cert *wire.DeviceCertificate // nil without FeatureAttestation

	capMu       sync.Mutex // serialises Capture calls (LED setting + capture)
	mu          sync.Mutex // serialises exchanges and guards the fields below
	seq         uint16
	split       wire.Splitter
	rbuf        []byte
	dead        error // sticky: ErrDisconnected or ErrClosed
	lastCounter uint64
	goodLED     wire.LEDs // the last LED setting that exposed well
	stats       LinkStats
}

// LinkStats counts link-level trouble since Open.
type LinkStats struct {
	Exchanges     int `json:"exchanges"`
	Retries       int `json:"retries"`
	DamagedFrames int `json:"damaged_frames"`
	StaleFrames   int `json:"stale_frames"`
	Timeouts      int `json:"timeouts"`
	SkippedBytes  int `json:"skipped_bytes"`
}

// New runs the handshake on an open connection. The Scanner owns c from
// now on (Close closes it), also when New fails.
func New(ctx context.Context, c Conn, opts *Options) (*Scanner, error) {
	opts = opts.withDefaults()
	s := &Scanner{conn: c, opts: opts, log: opts.Logger, rbuf: make([]byte, wire.MaxFrameSize)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	// The seed of the sequence numbers is arbitrary; starting away from 0
	// makes stale answers from a previous session easy to recognise.
	s.seq = uint16(time.Now().UnixNano())
	var info wire.DeviceInfo
	if err := s.call(ctx, wire.CmdGetInfo, nil, &info); err != nil {
		c.Close()
		return nil, fmt.Errorf("GET_INFO: %w", err)
	}
	s.info = info
	if info.Features&wire.FeatureAttestation != 0 {
		var cert wire.DeviceCertificate
		if err := s.call(ctx, wire.CmdGetCertificate, nil, &cert); err != nil {
			c.Close()
			return nil, fmt.Errorf("GET_CERTIFICATE: %w", err)
		}
		if cert.Serial != info.Serial {
			c.Close()
			return nil, fmt.Errorf("%w: certificate for serial %q on device %q", ErrProtocol, cert.Serial, info.Serial)
		}
		s.cert = &cert
	}
	return s, nil
}

// String names the device.
func (s *Scanner) String() string {
	return fmt.Sprintf("%s %s (serial %s) on %s", s.info.Vendor, s.info.Model, s.info.Serial, s.spec)
}

// Info returns the device description read at Open.
func (s *Scanner) Info() wire.DeviceInfo { return s.info }

// Certificate returns the device certificate read at Open, or nil when the
// device does not attest.
func (s *Scanner) Certificate() *wire.DeviceCertificate { return s.cert }

// CertificateTrusted reports whether the certificate verifies under one of
// Options.MakerKeys.
func (s *Scanner) CertificateTrusted() bool {
	if s.cert == nil {
		return false
	}
	for _, k := range s.opts.MakerKeys {
		if s.cert.Verify(k) == nil {
			return true
		}
	}
	return false
}

// Stats returns the link statistics.
func (s *Scanner) Stats() LinkStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.SkippedBytes = s.split.Skipped
	return st
}

// Close releases the device. It is safe to call more than once.
func (s *Scanner) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if errors.Is(s.dead, ErrClosed) {
		return nil
	}
	s.dead = ErrClosed
	return s.conn.Close()
}

// FingerStatus asks whether a finger is on the window.
func (s *Scanner) FingerStatus(ctx context.Context) (wire.FingerState, error) {
	var st wire.FingerState
	err := s.call(ctx, wire.CmdFingerStatus, nil, &st)
	return st, err
}

// WaitFinger polls FingerStatus every interval until a still finger is
// present or ctx ends.
func (s *Scanner) WaitFinger(ctx context.Context, interval time.Duration) (wire.FingerState, error) {
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		st, err := s.FingerStatus(ctx)
		if err != nil || st.State == wire.FingerPresent {
			return st, err
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-t.C:
		}
	}
}

// LEDs returns the current LED intensities.
func (s *Scanner) LEDs(ctx context.Context) (wire.LEDs, error) {
	var l wire.LEDs
	err := s.call(ctx, wire.CmdGetLED, nil, &l)
	return l, err
}

// SetLEDs sets every LED's intensity (one value per LED) and returns what
// the device applied.
func (s *Scanner) SetLEDs(ctx context.Context, l wire.LEDs) (wire.LEDs, error) {
	if len(l) != int(s.info.LEDCount) {
		return nil, fmt.Errorf("veinscan: %d LED values for %d LEDs", len(l), s.info.LEDCount)
	}
	var got wire.LEDs
	if err := s.call(ctx, wire.CmdSetLED, l, &got); err != nil {
		return nil, err
	}
	if len(got) != len(l) {
		return nil, fmt.Errorf("%w: SET_LED answered %d values for %d", ErrProtocol, len(got), len(l))
	}
	return got, nil
}

// Attest asks the device to sign nonce without capturing (device
// authentication). The attestation's image digest is all zero.
func (s *Scanner) Attest(ctx context.Context, nonce [32]byte) (*wire.Attestation, error) {
	if s.info.Features&wire.FeatureAttestation == 0 {
		return nil, fmt.Errorf("%w: device does not attest", ErrUnsupported)
	}
	var a wire.Attestation
	if err := s.call(ctx, wire.CmdAttest, &wire.NonceRequest{Nonce: nonce}, &a); err != nil {
		return nil, err
	}
	if a.Nonce != nonce || a.Serial != s.info.Serial {
		return nil, fmt.Errorf("%w: attestation for another nonce or serial", ErrIntegrity)
	}
	return &a, nil
}

// Echo sends payload and checks that the device returns it unchanged.
func (s *Scanner) Echo(ctx context.Context, payload []byte) error {
	f, err := s.Exchange(ctx, wire.CmdEcho, payload, 0)
	if err != nil {
		return err
	}
	if string(f.Payload) != string(payload) {
		return fmt.Errorf("%w: ECHO returned %d different bytes", ErrProtocol, len(f.Payload))
	}
	return nil
}

// call runs one exchange and decodes the answer into out (may be nil).
func (s *Scanner) call(ctx context.Context, cmd wire.Command, in encoding.BinaryMarshaler, out encoding.BinaryUnmarshaler) error {
	var payload []byte
	if in != nil {
		var err error
		if payload, err = in.MarshalBinary(); err != nil {
			return err
		}
	}
	f, err := s.Exchange(ctx, cmd, payload, 0)
	if err != nil {
		return err
	}
	if out != nil {
		if err := out.UnmarshalBinary(f.Payload); err != nil {
			return fmt.Errorf("%w: %s response: %w", ErrProtocol, cmd, err)
		}
	}
	return nil
}

// Exchange sends one request and returns the device's response frame. A
// device error response is returned as *wire.DeviceError. timeout 0 means
// Options.CommandTimeout. Exchange is the raw access the conformance kit
// uses; applications use the typed methods.
func (s *Scanner) Exchange(ctx context.Context, cmd wire.Command, payload []byte, timeout time.Duration) (*wire.Frame, error) {
	f := &wire.Frame{Command: cmd, Payload: payload}
	return s.ExchangeFrame(ctx, f, timeout)
}

// ExchangeFrame is Exchange with control of the request frame (version,
// flags); the sequence number is assigned here. It retries as Options say.
func (s *Scanner) ExchangeFrame(ctx context.Context, req *wire.Frame, timeout time.Duration) (*wire.Frame, error) {
	if timeout <= 0 {
		timeout = s.opts.CommandTimeout
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var lastErr error
	for attempt := 0; attempt <= s.opts.Retries; attempt++ {
		if attempt > 0 {
			s.stats.Retries++
		}
		resp, err := s.once(ctx, req, timeout)
		if err == nil {
			return resp, nil
		}
		lastErr = err
		if !retryable(err) || ctx.Err() != nil {
			break
		}
		s.log.Debug("veinscan: retrying", "cmd", req.Command, "err", err)
	}
	return nil, lastErr
}

func retryable(err error) bool {
	return errors.Is(err, ErrTimeout) || errors.Is(err, wire.ErrBadCRC) || errors.Is(err, wire.ErrDeviceBadCRC) ||
		errors.Is(err, wire.ErrMalformed)
}

// once runs one exchange with s.mu held.
func (s *Scanner) once(ctx context.Context, req *wire.Frame, timeout time.Duration) (*wire.Frame, error) {
	if s.dead != nil {
		return nil, s.dead
	}
	s.seq++
	f := *req
	f.Seq = s.seq
	b, err := wire.AppendFrame(nil, &f)
	if err != nil {
		return nil, err
	}
	s.stats.Exchanges++
	ctx2, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := s.conn.Write(ctx2, b); err != nil {
		return nil, s.linkErr(ctx, err, "write")
	}
	for {
		resp, err := s.split.Next()
		if err != nil {
			s.stats.DamagedFrames++
			return nil, fmt.Errorf("%s response: %w", f.Command, err)
		}
		if resp == nil {
			n, err := s.conn.Read(ctx2, s.rbuf)
			if n > 0 {
				s.split.Write(s.rbuf[:n])
			}
			if err != nil {
				return nil, s.linkErr(ctx, err, "read")
			}
			continue
		}
		if !resp.IsResponse() || resp.Seq != f.Seq {
			s.stats.StaleFrames++
			s.log.Debug("veinscan: dropping stale frame", "frame", resp.String(), "want_seq", f.Seq)
			continue
		}
		if resp.Command != f.Command {
			return nil, fmt.Errorf("%w: %s answered with %s", ErrProtocol, f.Command, resp.Command)
		}
		if resp.IsError() {
			var de wire.DeviceError
			if err := de.UnmarshalBinary(resp.Payload); err != nil {
				return nil, fmt.Errorf("%w: error response to %s: %w", ErrProtocol, f.Command, err)
			}
			return nil, &de
		}
		return resp, nil
	}
}

// linkErr classifies a transport error; a disconnection is sticky.
func (s *Scanner) linkErr(parent context.Context, err error, op string) error {
	switch {
	case errors.Is(err, ErrDisconnected):
		s.dead = fmt.Errorf("%w (%v)", ErrDisconnected, err)
		return s.dead
	case parent.Err() != nil:
		return parent.Err()
	case errors.Is(err, context.DeadlineExceeded):
		s.stats.Timeouts++
		// A partial frame may be the remains of a truncated one whose
		// header promises bytes that never come: resume the search for a
		// frame start after it.
		s.split.Resync()
		return fmt.Errorf("%w (%s)", ErrTimeout, op)
	}
	return fmt.Errorf("veinscan: %s: %w", op, err)
}
