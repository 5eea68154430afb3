package store

import (
	"errors"
	"log/slog"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/keyring"
)

// Options configure a backend at Open.
type Options struct {
	// Keyring seals and opens biometric blobs. Required.
	Keyring *keyring.Ring
	// ReferencePrefix starts filing reference numbers ("QS" gives
	// "QS-2026-000123"). Default "QS".
	ReferencePrefix string
	// Logger receives operational messages (never personal data). Default
	// slog.Default().
	Logger *slog.Logger
	// Now is the clock used where a method's time argument is zero.
	// Default time.Now.
	Now func() time.Time
	// AuditOnly opens the store for reading the audit chain and the
	// business state without the key ring the data was sealed with (an
	// auditor's "veinctl audit"): the blind-index key is not opened, write
	// transactions fail, and reads of sealed data fail with ErrDecrypt or find
	// nothing. Keyring is still required (any ring will do).
	AuditOnly bool
}

// WithDefaults validates o and fills in the defaults.
func (o Options) WithDefaults() (Options, error) {
	if o.Keyring == nil {
		return o, errors.New("store: Options.Keyring is required (biometric data is always encrypted)")
	}
	if o.ReferencePrefix == "" {
		o.ReferencePrefix = "QS"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}
