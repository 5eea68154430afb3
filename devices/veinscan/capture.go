package veinscan

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"time"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan/wire"
)

// Frame is one raw capture: the image as the device sent it, its header
// and attestation, checked for integrity.
type Frame struct {
	Image       *image.Gray
	Header      wire.CaptureHeader
	Attestation wire.Attestation
	// SignatureValid: the attestation verifies under the device
	// certificate's key. SignatureError says why not.
	SignatureValid bool
	SignatureError string
	// CounterIncreased: the capture counter is above every counter this
	// Scanner saw before (false means the device's counter went backwards
	// or repeated: refuse the capture).
	CounterIncreased bool
	CaptureTime      time.Duration // CAPTURE request to response
	TransferTime     time.Duration // all READ_CHUNK exchanges
}

// CaptureOnce takes one image with the current LED settings: CAPTURE with
// nonce, then READ_CHUNK for every chunk. It checks that the image hashes
// to the attested digest and that the attestation names this nonce, serial
// and counter (ErrIntegrity otherwise); signature and counter monotonicity
// are reported in the Frame.
func (s *Scanner) CaptureOnce(ctx context.Context, nonce [32]byte) (*Frame, error) {
	t0 := time.Now()
	capTimeout := time.Duration(s.info.MaxCaptureMs)*time.Millisecond + s.opts.CaptureSlack
	p, _ := (&wire.NonceRequest{Nonce: nonce}).MarshalBinary()
	resp, err := s.Exchange(ctx, wire.CmdCapture, p, capTimeout)
	if err != nil {
		return nil, fmt.Errorf("CAPTURE: %w", err)
	}
	fr := &Frame{CaptureTime: time.Since(t0)}
	h := &fr.Header
	if err := h.UnmarshalBinary(resp.Payload); err != nil {
		return nil, fmt.Errorf("%w: CAPTURE response: %w", ErrProtocol, err)
	}
	if h.Width != s.info.Width || h.Height != s.info.Height {
		return nil, fmt.Errorf("%w: capture of %dx%d from a %dx%d device", ErrProtocol, h.Width, h.Height, s.info.Width, s.info.Height)
	}
	t1 := time.Now()
	pix := make([]byte, h.ImageSize)
	for i := 0; i < int(h.ChunkCount); i++ {
		var c wire.Chunk
		if err := s.call(ctx, wire.CmdReadChunk, &wire.ChunkRequest{Counter: h.Counter, Index: uint16(i)}, &c); err != nil {
			return nil, fmt.Errorf("READ_CHUNK %d/%d: %w", i, h.ChunkCount, err)
		}
		lo := i * int(h.ChunkSize)
		want := min(int(h.ChunkSize), len(pix)-lo)
		if c.Counter != h.Counter || int(c.Index) != i || len(c.Data) != want {
			return nil, fmt.Errorf("%w: chunk %d: got capture %d index %d with %d bytes, want %d bytes", ErrProtocol, i, c.Counter, c.Index, len(c.Data), want)
		}
		copy(pix[lo:], c.Data)
	}
	fr.TransferTime = time.Since(t1)
	fr.Image = &image.Gray{Pix: pix, Stride: int(h.Width), Rect: image.Rect(0, 0, int(h.Width), int(h.Height))}

	if s.info.Features&wire.FeatureAttestation == 0 {
		fr.SignatureError = "device does not attest"
		s.noteCounter(fr, h.Counter)
		return fr, nil
	}
	a := &fr.Attestation
	if err := a.UnmarshalBinary(h.Attestation); err != nil {
		return nil, fmt.Errorf("%w: attestation: %w", ErrProtocol, err)
	}
	switch {
	case a.Nonce != nonce:
		return nil, fmt.Errorf("%w: attestation for another nonce", ErrIntegrity)
	case a.Serial != s.info.Serial:
		return nil, fmt.Errorf("%w: attestation from serial %q on device %q", ErrIntegrity, a.Serial, s.info.Serial)
	case a.Counter != h.Counter:
		return nil, fmt.Errorf("%w: attestation counter %d, capture %d", ErrIntegrity, a.Counter, h.Counter)
	}
	if err := a.VerifyImage(pix); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIntegrity, err)
	}
	if err := a.Verify(s.cert.PublicKey); err != nil {
		fr.SignatureError = err.Error()
	} else {
		fr.SignatureValid = true
	}
	s.noteCounter(fr, h.Counter)
	return fr, nil
}

func (s *Scanner) noteCounter(fr *Frame, c uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fr.CounterIncreased = c > s.lastCounter
	if fr.CounterIncreased {
		s.lastCounter = c
	}
}

// Result is an automatically exposed capture.
type Result struct {
	Image       *image.Gray
	Attestation wire.Attestation
	// AttestationBytes is the attestation exactly as the device sent it
	// (wire.Attestation.MarshalBinary), for forwarding to the server.
	AttestationBytes []byte
	Certificate      *wire.DeviceCertificate
	// SignatureValid: the attestation verifies under the device key.
	// CertificateTrusted: the device key is certified by a trusted maker
	// key (Options.MakerKeys). A kiosk sends only results with both true
	// and CounterIncreased.
	SignatureValid     bool
	SignatureError     string
	CertificateTrusted bool
	CounterIncreased   bool
	// LED is the illumination of the returned image; Exposure its
	// measurement; Attempts how many captures automatic exposure took.
	LED         wire.LEDs
	Exposure    ExposureStats
	ExposureOK  bool
	Attempts    int
	Quality     int // 0..100
	QualityInfo QualityMetrics
	Timing      Timing
}

// Timing of an automatically exposed capture.
type Timing struct {
	Total    time.Duration `json:"total"`
	Capture  time.Duration `json:"capture"`  // the sum of CAPTURE exchanges
	Transfer time.Duration `json:"transfer"` // the sum of READ_CHUNK exchanges
	Bytes    int           `json:"bytes"`    // image bytes transferred
}

// Capture takes an image with automatic exposure: it captures, measures the
// finger region in each LED's band, adjusts the LEDs towards the target and
// repeats (at most Exposure.MaxAttempts times) until the finger is neither
// dark nor saturated. Every attempt is signed over the same nonce; the
// result is the best-exposed one. The settings that worked are reused as
// the starting point of the next Capture.
//
// Without a finger it fails with ErrNoFinger (errors.Is); a vanished device
// gives ErrDisconnected. Concurrent Capture calls run one after the other.
func (s *Scanner) Capture(ctx context.Context, nonce [32]byte) (*Result, error) {
	s.capMu.Lock()
	defer s.capMu.Unlock()
	t0 := time.Now()
	st, err := s.FingerStatus(ctx)
	if err != nil {
		return nil, fmt.Errorf("FINGER_STATUS: %w", err)
	}
	if st.State == wire.FingerAbsent {
		return nil, fmt.Errorf("%w", &wire.DeviceError{Code: wire.CodeNoFinger, Message: "finger status: absent"})
	}
	led := s.startLED(ctx)
	if led == nil {
		return nil, fmt.Errorf("GET_LED: %w", s.stickyOr(ErrProtocol))
	}
	eo := s.opts.Exposure
	var best *Frame
	var bestStats ExposureStats
	var bestLED wire.LEDs
	var timing Timing
	attempts := 0
	for attempts < eo.MaxAttempts {
		attempts++
		applied, err := s.SetLEDs(ctx, led)
		if err != nil {
			return nil, fmt.Errorf("SET_LED: %w", err)
		}
		fr, err := s.CaptureOnce(ctx, nonce)
		if err != nil {
			return nil, err
		}
		timing.Capture += fr.CaptureTime
		timing.Transfer += fr.TransferTime
		timing.Bytes += len(fr.Image.Pix)
		es := MeasureExposure(fr.Image, len(led), eo)
		if best == nil || es.Score < bestStats.Score {
			best, bestStats, bestLED = fr, es, applied
		}
		if es.OK {
			break
		}
		next := nextLED(applied, es, eo)
		if bytes.Equal(next, applied) {
			break // at the limits: nothing more to try
		}
		led = next
	}
	if bestStats.OK {
		s.mu.Lock()
		s.goodLED = append(wire.LEDs(nil), bestLED...)
		s.mu.Unlock()
	}
	r := &Result{
		Image: best.Image, Attestation: best.Attestation, AttestationBytes: best.Header.Attestation,
		Certificate: s.cert, SignatureValid: best.SignatureValid, SignatureError: best.SignatureError,
		CertificateTrusted: s.CertificateTrusted(), CounterIncreased: best.CounterIncreased,
		LED: bestLED, Exposure: bestStats, ExposureOK: bestStats.OK, Attempts: attempts,
	}
	r.QualityInfo = AssessQuality(best.Image)
	r.Quality = r.QualityInfo.Score
	if s.opts.Quality != nil {
		if q, err := s.opts.Quality(best.Image); err == nil {
			r.Quality = q
		} else {
			r.Quality = 0
		}
	}
	timing.Total = time.Since(t0)
	r.Timing = timing
	return r, nil
}

func (s *Scanner) stickyOr(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead != nil {
		return s.dead
	}
	return err
}

// startLED returns the LED setting to begin automatic exposure with: the
// last one that worked, else the device's current setting.
func (s *Scanner) startLED(ctx context.Context) wire.LEDs {
	s.mu.Lock()
	good := append(wire.LEDs(nil), s.goodLED...)
	s.mu.Unlock()
	if len(good) == int(s.info.LEDCount) {
		return good
	}
	cur, err := s.LEDs(ctx)
	if err != nil || len(cur) != int(s.info.LEDCount) {
		return nil
	}
	for i := range cur {
		if cur[i] < 16 {
			cur[i] = s.opts.Exposure.StartLevel
		}
	}
	return cur
}
