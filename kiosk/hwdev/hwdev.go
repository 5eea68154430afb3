// Package hwdev adapts the real device drivers to the kiosk's consumer-side
// interfaces (kiosk.CardReader, kiosk.Scanner): the ID-card reader through
// devices/idcard, the finger-vein scanner through devices/veinscan by device
// spec. The commands plug these in (cmd/kioskd, cmd/demo); the kiosk core
// imports no driver. Which scanner transports exist is the program's choice:
// kioskd imports devices/veinscan/usb for "usb", the demo registers its
// simulator as "sim".
package hwdev

import (
	"context"
	"errors"
	"fmt"
	"image"
	"time"

	"github.com/qingshan-gov/veinkiosk/devices/idcard"
	"github.com/qingshan-gov/veinkiosk/devices/idcard/sam"
	"github.com/qingshan-gov/veinkiosk/devices/veinscan"
	"github.com/qingshan-gov/veinkiosk/devices/veinscan/wire"
	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/kiosk"
)

// OpenIDCardReader returns an opener for the SAM reader on port
// (devices/idcard over devices/serialport).
func OpenIDCardReader(port string) func(context.Context) (kiosk.CardReader, error) {
	return func(ctx context.Context) (kiosk.CardReader, error) {
		opt := idcard.DefaultOptions
		opt.Port = port
		dev, err := idcard.Open(opt)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", kiosk.ErrDeviceDown, err)
		}
		return &samReader{dev: dev}, nil
	}
}

type samReader struct{ dev *idcard.Dev }

func (r *samReader) Describe() string { return r.dev.String() }
func (r *samReader) Close() error     { return r.dev.Close() }

// ReadCard reads the card once. The kiosk keeps the card's text only: the
// photo and fingerprint data are dropped here.
func (r *samReader) ReadCard(ctx context.Context) (identity.Card, error) {
	c, err := r.dev.ReadOnce(ctx)
	switch {
	case err == nil:
		c.Photo, c.Fingerprint = nil, nil
		return *c, nil
	case errors.Is(err, sam.ErrNoCard):
		return identity.Card{}, kiosk.ErrNoCard
	case errors.Is(err, idcard.ErrDisconnected), errors.Is(err, idcard.ErrTimeout):
		return identity.Card{}, fmt.Errorf("%w: %w", kiosk.ErrDeviceDown, err)
	}
	return identity.Card{}, err
}

// OpenVeinScanner returns an opener for the scanner named by spec ("usb",
// "serial:PATH", "sim" when a simulator transport is registered).
func OpenVeinScanner(spec string, opts *veinscan.Options) func(context.Context) (kiosk.Scanner, error) {
	return func(ctx context.Context) (kiosk.Scanner, error) {
		s, err := veinscan.Open(ctx, spec, opts)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", kiosk.ErrDeviceDown, err)
		}
		return &veinScanner{s: s}, nil
	}
}

type veinScanner struct {
	s *veinscan.Scanner
}

// WaitLift implements Lifter.
func (v *veinScanner) WaitLift(ctx context.Context) error {
	for {
		st, err := v.s.FingerStatus(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return devErr(err)
		}
		if st.State == wire.FingerAbsent {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (v *veinScanner) Close() error { return v.s.Close() }

// Check implements Checker: a finger-status exchange proves the scanner is
// there and answering.
func (v *veinScanner) Check(ctx context.Context) error {
	if _, err := v.s.FingerStatus(ctx); err != nil {
		return devErr(err)
	}
	return nil
}

// DeviceCertificate implements kiosk.Certified: the certificate read when
// the scanner was opened (nil without attestation).
func (v *veinScanner) DeviceCertificate() []byte {
	c := v.s.Certificate()
	if c == nil {
		return nil
	}
	raw, err := c.MarshalBinary()
	if err != nil {
		return nil
	}
	return raw
}

func (v *veinScanner) Describe() string {
	i := v.s.Info()
	return fmt.Sprintf("%s %s, serial %s, firmware %s, %dx%d", i.Vendor, i.Model, i.Serial, i.Firmware, i.Width, i.Height)
}

func devErr(err error) error {
	switch {
	case errors.Is(err, veinscan.ErrNoFinger):
		return fmt.Errorf("%w: %v", kiosk.ErrNoFinger, err)
	case errors.Is(err, wire.ErrFingerMoved):
		return fmt.Errorf("%w: %v", kiosk.ErrFingerMoving, err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return err
	}
	return fmt.Errorf("%w: %w", kiosk.ErrDeviceDown, err)
}

// movingFor is how long a finger may stay on the window without keeping
// still before the resident is told it is moving.
const movingFor = 2 * time.Second

// waitStill polls the finger status until a still finger is on the window.
// A finger that keeps moving for movingFor is ErrFingerMoving (the
// resident is there: "hold still", not "no finger"); none before ctx ends
// is ErrNoFinger.
func (v *veinScanner) waitStill(ctx context.Context) error {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	var movingSince time.Time
	for {
		st, err := v.s.FingerStatus(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return fmt.Errorf("%w: %v", kiosk.ErrNoFinger, ctx.Err())
		case err != nil:
			return devErr(err)
		case st.State == wire.FingerPresent:
			return nil
		case st.State == wire.FingerMoving:
			if movingSince.IsZero() {
				movingSince = time.Now()
			} else if time.Since(movingSince) >= movingFor {
				return fmt.Errorf("%w: moving for %s", kiosk.ErrFingerMoving, movingFor)
			}
		default:
			movingSince = time.Time{}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %v", kiosk.ErrNoFinger, ctx.Err())
		case <-t.C:
		}
	}
}

func (v *veinScanner) Capture(ctx context.Context, nonce [32]byte) (*kiosk.ScanImage, error) {
	if err := v.waitStill(ctx); err != nil {
		return nil, err
	}
	res, err := v.s.Capture(ctx, nonce)
	if err != nil {
		return nil, devErr(err)
	}
	if !res.ExposureOK {
		// Automatic exposure found no setting that images the finger:
		// light around it or the window not covered.
		return nil, fmt.Errorf("%w: after %d attempts", kiosk.ErrExposure, res.Attempts)
	}
	if !res.SignatureValid || !res.CounterIncreased {
		return nil, fmt.Errorf("%w: capture integrity (signature valid %v, counter increased %v)", kiosk.ErrDeviceDown, res.SignatureValid, res.CounterIncreased)
	}
	cert, err := res.Certificate.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("%w: certificate: %v", kiosk.ErrDeviceDown, err)
	}
	return &kiosk.ScanImage{Width: res.Image.Rect.Dx(), Height: res.Image.Rect.Dy(), Pixels: packGray(res.Image),
		Attestation: res.AttestationBytes, Certificate: cert}, nil
}

func packGray(g *image.Gray) []byte {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	if g.Stride == w {
		return append([]byte(nil), g.Pix[:w*h]...)
	}
	out := make([]byte, 0, w*h)
	for y := 0; y < h; y++ {
		out = append(out, g.Pix[y*g.Stride:y*g.Stride+w]...)
	}
	return out
}
