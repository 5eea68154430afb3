// Package kiosk is the kiosk daemon: it drives the ID-card reader and the
// finger-vein scanner, runs the resident's session (package session), talks
// to the central server (server/apiv1) and serves the touchscreen UI
// (package ui) on localhost with live updates over server-sent events.
//
// The daemon depends on small consumer-side interfaces (CardReader, Scanner,
// Extractor, Server) so that the drivers, the matcher and the server client
// plug in at the edge (cmd/kioskd, cmd/demo) and tests use fakes.
//
// Nothing personal or biometric is ever written to disk or to the logs:
// cards, samples and tokens live in the session state and are dropped when
// the session ends.
package kiosk

import (
	"time"

	"context"
	"errors"
	"fmt"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/kiosk/session"
)

// Device errors the interfaces report (wrap them with %w).
var (
	// ErrNoCard: no card is on the reader.
	ErrNoCard = errors.New("kiosk: no card on the reader")
	// ErrNoFinger: no finger arrived on the scanner before the deadline.
	ErrNoFinger = errors.New("kiosk: no finger on the scanner")
	// ErrBadPlacement: the scanner saw a finger it could not image (moved,
	// not flat, partly off the window).
	ErrBadPlacement = errors.New("kiosk: finger badly placed")
	// ErrFingerMoving: a finger is on the window but does not keep still
	// (the scanner reports it moving); a bad placement with its own hint.
	ErrFingerMoving = fmt.Errorf("%w: the finger keeps moving", ErrBadPlacement)
	// ErrExposure: the scanner could not expose the image (stray light, the
	// window not covered); a bad placement with its own hint.
	ErrExposure = fmt.Errorf("%w: the image could not be exposed", ErrBadPlacement)
	// ErrDeviceDown: the device is not connected (unplugged, reconnecting).
	ErrDeviceDown = errors.New("kiosk: device not connected")
)

// CardReader reads the resident's ID card.
type CardReader interface {
	// ReadCard reads the card on the reader, or returns ErrNoCard.
	ReadCard(ctx context.Context) (identity.Card, error)
	Close() error
}

// ScanImage is one capture from the scanner with its signed attestation.
type ScanImage struct {
	Width, Height int
	Pixels        []byte // 8-bit grey, row-major
	Attestation   []byte // wire.Attestation.MarshalBinary
	Certificate   []byte // wire.DeviceCertificate.MarshalBinary
}

// Scanner captures a finger-vein image signed over a server nonce.
type Scanner interface {
	// Capture waits for a finger until ctx ends (ErrNoFinger) and returns
	// the image and its attestation over nonce.
	Capture(ctx context.Context, nonce [32]byte) (*ScanImage, error)
	Close() error
}

// Describer is implemented by devices that can say what they are (model,
// serial, firmware) for the staff's diagnostics screen.
type Describer interface {
	Describe() string
}

// Checker is implemented by devices that can be probed cheaply while idle
// (a scanner's finger status), so an unplug is noticed before the next
// resident needs the device.
type Checker interface {
	Check(ctx context.Context) error
}

// Lifter is implemented by scanners that can wait until no finger is on
// the window.
type Lifter interface {
	WaitLift(ctx context.Context) error
}

// Extractor turns an image into a template and a 0..100 quality.
type Extractor interface {
	Extract(img *ScanImage, finger string) (template []byte, quality int, err error)
}

// Nonce is a capture nonce and, when the server said them, the quality
// gates it applies to captures of the scanner's model.
type Nonce struct {
	Value [32]byte
	Gates *session.Gates
}

// Certified is implemented by scanners that know their device certificate
// before they capture (read when the device is opened), so the first
// capture's nonce can already name the scanner.
type Certified interface {
	DeviceCertificate() []byte
}

// Server is what the kiosk asks of the central server. Implementations wrap
// their errors with the session sentinels (session.ErrUnavailable,
// session.ErrNoMatch, ...) so the state machine can tell an outage from an
// answer.
type Server interface {
	// Nonce asks for a capture nonce for the scanner whose device
	// certificate is scannerCert (nil: not known yet); the answer may
	// carry the quality gates of the scanner's model.
	Nonce(ctx context.Context, scannerCert []byte) (Nonce, error)
	// EnrolmentCheck says, before any finger, whether the card's holder is
	// enrolled and with which fingers (Checked false: the server cannot say).
	EnrolmentCheck(ctx context.Context, card identity.Card) (session.EnrolmentInfo, error)
	Verify(ctx context.Context, card identity.Card, s session.Sample) (resident session.Resident, token string, err error)
	// Services lists the services the token's resident may file (all of
	// them without a token).
	Services(ctx context.Context, token string) ([]session.Service, error)
	Form(ctx context.Context, token string, svc session.Service) (session.Form, error)
	Submit(ctx context.Context, token, idemKey string, f session.Form) (session.Receipt, error)
	Filings(ctx context.Context, token string) ([]session.Filing, error)
	// Certify records the token's resident's proof of life for a
	// certification service, once a year (Already when it was done
	// before); the token stays good.
	Certify(ctx context.Context, token string, svc session.Service) (session.Certificate, error)
	// StaffLogin logs a staff member of the kiosk's station in with their
	// username and PIN (ErrDenied with the PINs left, ErrPINLocked,
	// ErrOtherStation).
	StaffLogin(ctx context.Context, user, pin string) (session.StaffSession, error)
	// Enrol sends an enrolment with the time the resident confirmed
	// consent to it on the screen.
	Enrol(ctx context.Context, staffToken string, card identity.Card, fingers []session.EnrolFinger, overrideCase string, consentAt time.Time) (session.EnrolOutcome, error)
	// OverrideCase lets a supervisor (logged in as supervisorToken) allow
	// an enrolment that stopped on a suspected duplicate.
	OverrideCase(ctx context.Context, supervisorToken, caseID, reason string) error
	// Ping checks that the server answers this kiosk.
	Ping(ctx context.Context) error
}

// StaffLogouter is implemented by servers that end a staff session when
// staff mode ends at the kiosk (the server's idle time-out ends it
// otherwise).
type StaffLogouter interface {
	StaffLogout(ctx context.Context, staffToken string) error
}

// AgentBinder is implemented by servers that let a verified resident file
// for a family member (代办): the card read for the family member binds the
// resident's token to them. Without it the kiosk offers no 代办.
type AgentBinder interface {
	Agent(ctx context.Context, token string, card identity.Card) (session.AgentInfo, error)
}
