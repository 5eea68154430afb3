package api

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"sync"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan/wire"
	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// NoncePurposeCapture is the store purpose of scanner capture nonces.
const NoncePurposeCapture = "capture"

// checkedCapture is a capture whose scanner, attestation, nonce and counter
// have been checked.
type checkedCapture struct {
	tmpl     *matcher.Template
	raw      []byte
	finger   int
	quality  int
	serial   string
	model    string // the device certificate's: selects the calibration
	counter  uint64
	image    []byte
	imageDim [2]int
}

// maxImagePixels bounds an optional raw image.
const maxImagePixels = 2 << 20

// parseCapture checks the parts of a capture that need no state: the
// template, finger and quality, the device certificate under its maker's
// key, the attestation under the device key, and the optional image digest.
func (s *Server) parseCapture(c apiv1.Capture) (*checkedCapture, *wire.DeviceCertificate, *wire.Attestation, error) {
	pos := c.Finger.Position()
	if pos == 0 {
		return nil, nil, nil, errf(apiv1.CodeFingerInvalid, "finger %q is not one of the ten finger names", c.Finger)
	}
	if len(c.Template) == 0 {
		return nil, nil, nil, errf(apiv1.CodeTemplateInvalid, "template missing")
	}
	t, err := matcher.ParseTemplate(c.Template)
	if err != nil {
		return nil, nil, nil, errf(apiv1.CodeTemplateInvalid, "template: %v", err)
	}
	if t.Finger != 0 && int(t.Finger) != pos {
		return nil, nil, nil, errf(apiv1.CodeFingerInvalid, "the template is of finger %d, the request says %s", t.Finger, c.Finger)
	}
	if int(t.Quality) < s.cfg.MinQuality {
		return nil, nil, nil, errf(apiv1.CodeQualityTooLow, "capture quality %d below the gate %d; capture again", t.Quality, s.cfg.MinQuality)
	}
	var cert wire.DeviceCertificate
	if err := cert.UnmarshalBinary(c.Certificate); err != nil {
		return nil, nil, nil, errf(apiv1.CodeDeviceCertInvalid, "device certificate: %v", err)
	}
	makerKey, ok := s.makers.Key(cert.MakerID)
	if !ok {
		return nil, nil, nil, errf(apiv1.CodeMakerUnknown, "scanner maker %q is not trusted by this server", cert.MakerID)
	}
	var att wire.Attestation
	if err := att.UnmarshalBinary(c.Attestation); err != nil {
		return nil, nil, nil, errf(apiv1.CodeAttestationInvalid, "attestation: %v", err)
	}
	if !s.certs.verified(c.Certificate, makerKey, &cert) {
		return nil, nil, nil, errf(apiv1.CodeDeviceCertInvalid, "device certificate does not verify under the maker key")
	}
	if att.Serial != cert.Serial {
		return nil, nil, nil, errf(apiv1.CodeAttestationInvalid, "the attestation's serial is not the certificate's")
	}
	if err := att.Verify(cert.PublicKey); err != nil {
		return nil, nil, nil, errf(apiv1.CodeAttestationInvalid, "capture attestation does not verify: %v", err)
	}
	cc := &checkedCapture{tmpl: t, raw: c.Template, finger: pos, quality: int(t.Quality), serial: att.Serial, model: cert.Model, counter: att.Counter}
	if c.Image != nil {
		im := c.Image
		if im.Width <= 0 || im.Height <= 0 || im.Width*im.Height > maxImagePixels || len(im.Pixels) != im.Width*im.Height {
			return nil, nil, nil, badRequest("image: %dx%d with %d bytes", im.Width, im.Height, len(im.Pixels))
		}
		if err := att.VerifyImage(im.Pixels); err != nil {
			return nil, nil, nil, errf(apiv1.CodeImageMismatch, "the image does not hash to the attested digest")
		}
		cc.image, cc.imageDim = im.Pixels, [2]int{im.Width, im.Height}
	}
	return cc, &cert, &att, nil
}

// checkCapture runs parseCapture, then the stateful checks: the nonce was
// issued to this kiosk, is fresh and is consumed now; the scanner is
// registered (on first sight, under a valid certificate), active, attached
// to this kiosk and its counter strictly increases.
func (s *Server) checkCapture(ctx context.Context, k *store.Kiosk, c apiv1.Capture) (*checkedCapture, error) {
	cc, cert, att, err := s.parseCapture(c)
	if err != nil {
		return nil, err
	}
	return cc, s.captureState(ctx, k, cert, att)
}

// captureState runs the stateful checks of a parsed capture.
func (s *Server) captureState(ctx context.Context, k *store.Kiosk, cert *wire.DeviceCertificate, att *wire.Attestation) error {
	if err := s.consumeCaptureNonce(ctx, k, att.Nonce); err != nil {
		return err
	}
	if err := s.scanner(ctx, k, cert); err != nil {
		return err
	}
	switch err := s.st.AdvanceScannerCounter(ctx, att.Serial, att.Counter); {
	case errors.Is(err, store.ErrStaleCounter):
		s.metrics.authFailures.WithLabelValues("counter_replay").Inc()
		return errf(apiv1.CodeCounterReplay, "scanner capture counter %d is not above the last accepted one (replayed capture?)", att.Counter)
	case errors.Is(err, store.ErrInactive):
		return errf(apiv1.CodeScannerRevoked, "scanner %s is revoked", att.Serial)
	case err != nil:
		return storeErr(err, "scanner counter")
	}
	return nil
}

func (s *Server) consumeCaptureNonce(ctx context.Context, k *store.Kiosk, nonce [32]byte) error {
	err := s.st.ConsumeNonce(ctx, base64.StdEncoding.EncodeToString(nonce[:]), k.ID, NoncePurposeCapture, s.now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.metrics.authFailures.WithLabelValues("nonce").Inc()
		return errf(apiv1.CodeNonceUnknown, "the capture nonce was not issued to this kiosk or was already used")
	case errors.Is(err, store.ErrExpired):
		return errf(apiv1.CodeNonceExpired, "the capture nonce expired; capture again")
	}
	return storeErr(err, "nonce")
}

// scanner registers a scanner on first sight and checks a known one.
func (s *Server) scanner(ctx context.Context, k *store.Kiosk, cert *wire.DeviceCertificate) error {
	sc, err := s.st.GetScanner(ctx, cert.Serial)
	if errors.Is(err, store.ErrNotFound) {
		raw, merr := cert.MarshalBinary()
		if merr != nil {
			return errf(apiv1.CodeDeviceCertInvalid, "device certificate: %v", merr)
		}
		sc, err = s.st.CreateScanner(ctx, audit.Kiosk(k.ID), store.Scanner{
			Serial: cert.Serial, Model: cert.Model, MakerID: cert.MakerID, PublicKey: cert.PublicKey,
			Certificate: raw, KioskID: k.ID, Status: store.DeviceActive,
		})
		if errors.Is(err, store.ErrAlreadyExists) {
			sc, err = s.st.GetScanner(ctx, cert.Serial)
		} else if err == nil {
			s.log.Info("scanner registered on first capture", "serial", cert.Serial, "maker", cert.MakerID, "kiosk", k.ID)
		}
	}
	if err != nil {
		return storeErr(err, "scanner")
	}
	if sc.Status != store.DeviceActive {
		return errf(apiv1.CodeScannerRevoked, "scanner %s is revoked", sc.Serial)
	}
	if !sc.PublicKey.Equal(cert.PublicKey) || sc.MakerID != cert.MakerID {
		return errf(apiv1.CodeDeviceCertInvalid, "the certificate of scanner %s differs from the registered one", sc.Serial)
	}
	if sc.KioskID != "" && sc.KioskID != k.ID {
		return errf(apiv1.CodeScannerElsewhere, "scanner %s is assigned to another kiosk", sc.Serial)
	}
	return nil
}

// certCache remembers device certificates that verified under their maker's
// key (by SHA-256 of the encoding and the key), so the maker signature is
// checked once per scanner rather than once per capture.
type certCache struct {
	mu sync.Mutex
	ok map[[32]byte]struct{}
}

func newCertCache() *certCache { return &certCache{ok: map[[32]byte]struct{}{}} }

func (cc *certCache) verified(raw []byte, makerKey ed25519.PublicKey, cert *wire.DeviceCertificate) bool {
	h := sha256.New()
	h.Write(makerKey)
	h.Write(raw)
	var k [32]byte
	h.Sum(k[:0])
	cc.mu.Lock()
	_, hit := cc.ok[k]
	cc.mu.Unlock()
	if hit {
		return true
	}
	if cert.Verify(makerKey) != nil {
		return false
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if len(cc.ok) > 100_000 {
		clear(cc.ok)
	}
	cc.ok[k] = struct{}{}
	return true
}
