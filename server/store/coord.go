package store

import (
	"context"
	"time"
)

// Coordination is the short-lived state the server replicas share through
// the database, so that any number of centrald processes on one database
// decide the same: staff sessions, the replay cache of signed kiosk
// requests, spent filing tokens, pending card-less
// identifications, the per-kiosk verification backoff and the login rate
// limits. Every record carries an expiry; reads ignore expired records and
// PurgeExpired deletes them. Secrets (session tokens, filing tokens,
// candidate ids) are kept only as SHA-256 hashes, as filing tokens are.
type Coordination interface {
	// Staff sessions.

	// CreateSession stores a staff session; only a SHA-256 of s.Token is
	// kept. ErrAlreadyExists if the token is taken.
	CreateSession(ctx context.Context, s Session) error
	// TouchSession returns the live session of token and records now as
	// its last use, so that it stays alive for another Idle. ErrNotFound if
	// the token is unknown or its session was ended; ErrExpired (and the
	// session is deleted) if now is past its absolute end or its idle
	// timeout. The returned Session has no Token.
	TouchSession(ctx context.Context, token string, now time.Time) (Session, error)
	// DeleteSession ends the session of token (logout); no error when
	// there is none.
	DeleteSession(ctx context.Context, token string) error
	// DeleteStaffSessions ends every session of a staff member (disabled,
	// role changed) and returns how many there were.
	DeleteStaffSessions(ctx context.Context, staffID int64) (int, error)

	// Replay cache.

	// UseRequestNonce records the nonce of a signed kiosk request until
	// expiresAt. ErrAlreadyExists if the kiosk has used it before (a
	// replayed request): of any number of concurrent calls with the same
	// kiosk and nonce exactly one succeeds.
	UseRequestNonce(ctx context.Context, kioskID, nonce string, expiresAt time.Time) error

	// Spent filing tokens.

	// RememberSpentToken records whose a consumed filing token was, until
	// t.ExpiresAt, so that the retry of an acknowledged filing finds its
	// resident. Only a SHA-256 of t.Token is kept; remembering a token
	// again keeps the first record.
	RememberSpentToken(ctx context.Context, t SpentToken) error
	// GetSpentToken returns the record of a spent token. ErrNotFound if
	// there is none or it expired before now. The result has no Token.
	GetSpentToken(ctx context.Context, token string, now time.Time) (SpentToken, error)

	// Pending card-less identifications.

	// PutPendingIdentification stores a candidate waiting for staff
	// confirmation; only a SHA-256 of p.ID is kept. ErrAlreadyExists if
	// the id is taken.
	PutPendingIdentification(ctx context.Context, p PendingIdentification) error
	// TakePendingIdentification removes and returns a candidate: of any
	// number of concurrent calls exactly one gets it. ErrNotFound if there
	// is none; ErrExpired if it expired before now (it is removed too).
	// The result has no ID.
	TakePendingIdentification(ctx context.Context, id string, now time.Time) (PendingIdentification, error)

	// Per-kiosk verification backoff.

	// KioskBackoff returns until when the kiosk must wait before its next
	// verification (a time not after now, often zero: go ahead).
	KioskBackoff(ctx context.Context, kioskID string, now time.Time) (time.Time, error)
	// RecordKioskVerification counts a verification at the kiosk: a
	// success forgets its failures; a failure adds one and, from the
	// policy's threshold on, makes the kiosk wait (see BackoffPolicy).
	// Returns until when the kiosk must wait. Concurrent failures are all
	// counted.
	RecordKioskVerification(ctx context.Context, kioskID string, ok bool, now time.Time, p BackoffPolicy) (time.Time, error)

	// Enrolment-check budget.

	// TakeEnrolmentCheck records an enrolment check of residentID (0: an
	// ID number nobody has) at the kiosk, unless the kiosk already has
	// b.Max checks in the b.Window before now that no verification or
	// enrolment answered (AnswerEnrolmentChecks): then it records nothing
	// and returns false and when the oldest of them leaves the window.
	// Concurrent calls of one kiosk never pass the budget (ErrNotFound if
	// the kiosk is not registered).
	TakeEnrolmentCheck(ctx context.Context, kioskID string, residentID int64, now time.Time, b CheckBudget) (ok bool, retryAt time.Time, err error)
	// AnswerEnrolmentChecks marks the kiosk's checks of residentID
	// answered: a verification or an enrolment of the resident at the
	// kiosk followed them.
	AnswerEnrolmentChecks(ctx context.Context, kioskID string, residentID int64) error

	// Rate limits.

	// TakeRateToken takes one token from the bucket of key (a token bucket
	// refilled at l.Rate per second up to l.Burst). It returns 0 when a
	// token was taken, or how long until the next one when the bucket is
	// empty (nothing is taken then). Concurrent calls never take more
	// tokens than there are. The key is kept only as a SHA-256 hash.
	TakeRateToken(ctx context.Context, key string, l RateLimit, now time.Time) (time.Duration, error)
}

// Session is a logged-in staff member. Username, Role, Department and
// StationID are as at login.
type Session struct {
	Token      string // the secret; only its SHA-256 is stored
	StaffID    int64
	Username   string
	Role       Role
	Department string
	StationID  string
	CreatedAt  time.Time
	LastSeen   time.Time
	ExpiresAt  time.Time     // absolute end
	Idle       time.Duration // the session ends when unused this long
	// Method is how the session was opened; KioskID is the kiosk it was
	// opened at (SessionKioskPIN only). Sessions stored before migration
	// 0014 are SessionPassword.
	Method  SessionMethod
	KioskID string
}

// CheckBudget bounds a kiosk's unanswered enrolment checks: at most Max
// in any Window.
type CheckBudget struct {
	Max    int
	Window time.Duration
}

// SessionMethod is how a staff session was opened.
type SessionMethod string

const (
	// SessionPassword: username and password (the office, the API).
	SessionPassword SessionMethod = "password"
	// SessionKioskPIN: username and PIN in a request signed by a kiosk;
	// the session names that kiosk and is valid only there.
	SessionKioskPIN SessionMethod = "kiosk_pin"
)

// Valid says whether m is a known method.
func (m SessionMethod) Valid() bool { return m == SessionPassword || m == SessionKioskPIN }

// SpentToken is whose a consumed filing token was.
type SpentToken struct {
	Token     string // the secret; only its SHA-256 is stored
	IDNumber  string
	KioskID   string
	ExpiresAt time.Time
}

// PendingIdentification is a card-less identification candidate waiting
// for the staff member's confirmation at the kiosk.
type PendingIdentification struct {
	ID        string // the candidate id given to the kiosk; only its SHA-256 is stored
	IDNumber  string
	KioskID   string
	StaffID   int64
	Score     float64
	ExpiresAt time.Time
}

// BackoffPolicy slows a kiosk down after consecutive verification
// failures: the Threshold-th failure makes it wait Base, each further one
// twice as long, up to Max. Failures are forgotten after Forget without
// one (and at the first success).
type BackoffPolicy struct {
	Threshold int
	Base, Max time.Duration
	Forget    time.Duration
}

// Delay is the wait after the failures-th consecutive failure.
func (p BackoffPolicy) Delay(failures int) time.Duration {
	n := failures - p.Threshold
	if n < 0 || p.Base <= 0 {
		return 0
	}
	d := p.Base << min(n, 20)
	if d > p.Max || d <= 0 {
		d = p.Max
	}
	return d
}

// RateLimit is a token bucket: Rate tokens per second, at most Burst.
type RateLimit struct {
	Rate  float64
	Burst int
}
