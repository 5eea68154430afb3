package api

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan/wire"
	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// NoncePurposeCapture is the store purpose of scanner capture nonces.
const NoncePurposeCapture = "capture"

// capture is a capture whose stateless checks passed (finger, the device
// certificate under its maker's key, the attestation under the device key,
// the image against the attested digest, the template extracted from that
// image by the server, the quality gate). Its nonce and counter are not
// spent yet: spendCaptures or the verification outcome does that, once.
type capture struct {
	tmpl    *matcher.Template // extracted by the server from image
	raw     []byte            // tmpl's encoding
	finger  int
	quality int
	image   []byte
	cert    *wire.DeviceCertificate
	att     *wire.Attestation
}

func (c *capture) serial() string { return c.att.Serial }

// model is the device certificate's scanner model: it selects the
// calibration (thresholds and extraction pipeline).
func (c *capture) model() string { return c.cert.Model }

func (c *capture) counter() uint64 { return c.att.Counter }
func (c *capture) nonce() string   { return base64.StdEncoding.EncodeToString(c.att.Nonce[:]) }

// captureUse is what a capture is for: it selects the quality gate.
type captureUse int

const (
	forVerify captureUse = iota // verification and identification
	forEnrol
)

// qualityGate is the quality a capture of a scanner of model for use must
// reach: the gate of the model's calibration, or Config.MinQuality when the
// server runs on fixed thresholds or the operator overrides the gates.
func (s *Server) qualityGate(model string, t *matcher.Template, use captureUse) (int, error) {
	if s.cfg.Calibrations == nil || s.cfg.MinQualityOverride {
		return s.cfg.MinQuality, nil
	}
	th, err := s.thresholds(model, t)
	if err != nil {
		return 0, err
	}
	g := s.gatesOf(th)
	if use == forEnrol {
		return g.EnrolMinQuality, nil
	}
	return g.VerifyMinQuality, nil
}

// parseCapture is the stateless half of the capture-check step. The
// cheap checks come first; the extraction (the one costly step) runs only
// on an image whose digest a certified device signed. The quality gate is
// the one of use for the scanner's model (qualityGate).
func (s *Server) parseCapture(ctx context.Context, c apiv1.Capture, use captureUse) (*capture, error) {
	pos := c.Finger.Position()
	if pos == 0 {
		return nil, stepErr(stepCapture, errFingerInvalid, "finger %q is not one of the ten finger names", c.Finger)
	}
	var sent *matcher.Template
	if len(c.Template) > 0 {
		t, err := matcher.ParseTemplate(c.Template)
		if err != nil {
			return nil, stepErr(stepCapture, errTemplateInvalid, "template: %v", err)
		}
		if t.Finger != 0 && int(t.Finger) != pos {
			return nil, stepErr(stepCapture, errFingerInvalid, "the template is of finger %d, the request says %s", t.Finger, c.Finger)
		}
		sent = t
	}
	var cert wire.DeviceCertificate
	if err := cert.UnmarshalBinary(c.Certificate); err != nil {
		return nil, stepErr(stepCapture, errCertInvalid, "device certificate: %v", err)
	}
	makerKey, ok := s.makers.Key(cert.MakerID)
	if !ok {
		return nil, stepErr(stepCapture, errMakerUnknown, "scanner maker %q is not trusted by this server", cert.MakerID)
	}
	var att wire.Attestation
	if err := att.UnmarshalBinary(c.Attestation); err != nil {
		return nil, stepErr(stepCapture, errAttestationInvalid, "attestation: %v", err)
	}
	if !s.certs.verified(c.Certificate, makerKey, &cert) {
		return nil, stepErr(stepCapture, errCertInvalid, "device certificate does not verify under the maker key")
	}
	if att.Serial != cert.Serial {
		return nil, stepErr(stepCapture, errAttestationInvalid, "the attestation's serial is not the certificate's")
	}
	if err := att.Verify(cert.PublicKey); err != nil {
		return nil, stepErr(stepCapture, errAttestationInvalid, "capture attestation does not verify: %v", err)
	}
	img, err := decodeImage(c.Image)
	if err != nil {
		s.extractor.failures.WithLabelValues(apiv1.CodeImageInvalid).Inc()
		return nil, err
	}
	if err := att.VerifyImage(img.Pix); err != nil {
		return nil, stepErr(stepCapture, errImageMismatch, "the image does not hash to the attested digest")
	}
	p, err := s.pipelineFor(cert.Model)
	if err != nil {
		return nil, err
	}
	finger := pos
	if sent != nil {
		finger = int(sent.Finger) // 0 (a probe of any finger) or pos, checked above
	}
	t, err := s.extractor.extract(ctx, p, img, finger)
	if err != nil {
		return nil, err
	}
	raw, err := t.MarshalBinary()
	if err != nil {
		return nil, err
	}
	if sent != nil && !bytes.Equal(raw, c.Template) {
		s.extractor.failures.WithLabelValues(apiv1.CodeTemplateMismatch).Inc()
		return nil, stepErr(stepCapture, errTemplateMismatch, "the template sent is not the one extracted from the attested image (extraction pipeline %s)", p.hash)
	}
	gate, err := s.qualityGate(cert.Model, t, use)
	if err != nil {
		return nil, err
	}
	if int(t.Quality) < gate {
		s.extractor.failures.WithLabelValues(apiv1.CodeQualityTooLow).Inc()
		return nil, stepErr(stepCapture, errQualityTooLow, "capture quality %d below the gate %d of scanner model %q; capture again", t.Quality, gate, cert.Model)
	}
	return &capture{tmpl: t, raw: raw, finger: pos, quality: int(t.Quality), image: img.Pix, cert: &cert, att: &att}, nil
}

// checkScanner is the scanner half of the capture-check step: it registers
// a scanner on first sight (under its verified certificate) and checks a
// known one is active, has the certificate's key and maker, and is attached
// to this kiosk (or to none). It looks the scanner up once.
func (s *Server) checkScanner(ctx context.Context, k *store.Kiosk, cert *wire.DeviceCertificate) error {
	sc, err := s.st.GetScanner(ctx, cert.Serial)
	if errors.Is(err, store.ErrNotFound) {
		raw, merr := cert.MarshalBinary()
		if merr != nil {
			return stepErr(stepScanner, errCertInvalid, "device certificate: %v", merr)
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
		return stepErr(stepScanner, errScannerRevoked, "scanner %s is revoked", sc.Serial)
	}
	if !sc.PublicKey.Equal(cert.PublicKey) || sc.MakerID != cert.MakerID {
		return stepErr(stepScanner, errCertInvalid, "the certificate of scanner %s differs from the registered one", sc.Serial)
	}
	if sc.KioskID != "" && sc.KioskID != k.ID {
		return stepErr(stepScanner, errScannerElsewhere, "scanner %s is assigned to another kiosk", sc.Serial)
	}
	return nil
}

// checkScanners runs checkScanner once per scanner of caps; one scanner
// presenting two different certificates in one request is refused.
func (s *Server) checkScanners(ctx context.Context, k *store.Kiosk, caps []*capture) error {
	keys := map[string]*wire.DeviceCertificate{}
	for _, c := range caps {
		if prev, ok := keys[c.serial()]; ok {
			if !prev.PublicKey.Equal(c.cert.PublicKey) || prev.MakerID != c.cert.MakerID {
				return stepErr(stepScanner, errCertInvalid, "two different certificates of scanner %s in one request", c.serial())
			}
			continue
		}
		keys[c.serial()] = c.cert
		if err := s.checkScanner(ctx, k, c.cert); err != nil {
			return err
		}
	}
	return nil
}

// spendCaptures is the stateful half of the capture-check step for flows
// that store no verification outcome (enrolment, identification, and a
// verification that stops before it): every capture's nonce is consumed
// (it was issued to this kiosk and is fresh) and, when its scanner passed
// checkScanner (scannerOK), its counter is raised, strictly, in counter
// order. The first failure is returned; the captures after it are still
// spent, so no capture of a failed request can be presented again.
func (s *Server) spendCaptures(ctx context.Context, k *store.Kiosk, caps []*capture, scannerOK bool) error {
	caps = slices.Clone(caps)
	slices.SortStableFunc(caps, func(a, b *capture) int {
		return cmp.Or(strings.Compare(a.serial(), b.serial()), cmp.Compare(a.counter(), b.counter()))
	})
	var first error
	for _, c := range caps {
		err := s.st.ConsumeNonce(ctx, c.nonce(), k.ID, NoncePurposeCapture, s.now())
		if err != nil {
			err = captureStoreErr(stepNonce, err, c)
		} else if scannerOK {
			if err = s.st.AdvanceScannerCounter(ctx, c.serial(), c.counter()); err != nil {
				err = captureStoreErr(stepCounter, err, c)
			}
		}
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}

// captureStoreErr turns the store's answer to spending a capture's nonce
// (step nonce) or counter (step counter) into the step's error; errors that
// are not about the capture pass through.
func captureStoreErr(step string, err error, c *capture) error {
	switch {
	case step == stepNonce && errors.Is(err, store.ErrNotFound):
		return stepErr(stepNonce, errNonceUnknown, "the capture nonce was not issued to this kiosk or was already used")
	case step == stepNonce && errors.Is(err, store.ErrExpired):
		return stepErr(stepNonce, errNonceExpired, "the capture nonce expired; capture again")
	case step == stepCounter && errors.Is(err, store.ErrStaleCounter):
		return stepErr(stepCounter, errCounterReplay, "scanner capture counter %d is not above the last accepted one (replayed capture?)", c.counter())
	case step == stepCounter && errors.Is(err, store.ErrInactive):
		return stepErr(stepCounter, errScannerRevoked, "scanner %s is revoked", c.serial())
	}
	return storeErr(err, step)
}

// checkCaptures is the whole capture-check step for flows that store no
// verification outcome: the stateless checks of every capture, the scanner
// checks, then every nonce and counter spent once.
func (s *Server) checkCaptures(ctx context.Context, k *store.Kiosk, caps []*capture) error {
	if err := s.checkScanners(ctx, k, caps); err != nil {
		// The nonces are spent all the same; a nonce that fails is the
		// answer, as it was checked first before.
		if serr := s.spendCaptures(ctx, k, caps, false); serr != nil {
			return serr
		}
		return err
	}
	return s.spendCaptures(ctx, k, caps, true)
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
