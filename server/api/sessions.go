package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/store"
)

// session is a logged-in staff member. Sessions are kept in the store
// (only a SHA-256 of the token), so that a session opened on one replica
// is valid on every other, and a logout or a disabled account ends it on
// all of them.
type session struct {
	staffID    int64
	username   string
	role       store.Role
	department string
	station    string
	csrf       string // back-office form token, derived from the session token
	created    time.Time
	lastSeen   time.Time
	expires    time.Time
	// kiosk is the kiosk a PIN session was opened at ("" for an office
	// session): where it may be used is sessionUsable's rule.
	kiosk string
}

// origin is how and where a session is opened: an office password login
// (the zero value), or a PIN at one kiosk.
type origin struct {
	kiosk string // the kiosk of a PIN login
}

type sessions struct {
	st        store.Store
	ttl, idle time.Duration
	// kioskIdle is the idle time-out of a session opened at a kiosk: a
	// shared screen, where staff may walk away without logging out.
	kioskIdle time.Duration
}

func newSessions(st store.Store, ttl, idle, kioskIdle time.Duration) *sessions {
	return &sessions{st: st, ttl: ttl, idle: idle, kioskIdle: kioskIdle}
}

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// csrfOf derives the back-office form token from the session token: it
// needs no storage, differs from the stored hash of the token, and cannot
// be computed without the token (the cookie is HttpOnly).
func csrfOf(tok string) string {
	h := sha256.Sum256([]byte("veinkiosk back-office csrf\x00" + tok))
	return base64.RawURLEncoding.EncodeToString(h[:24])
}

func sessionOfStore(tok string, ss store.Session) *session {
	return &session{
		staffID: ss.StaffID, username: ss.Username, role: ss.Role, department: ss.Department, station: ss.StationID,
		csrf: csrfOf(tok), created: ss.CreatedAt, lastSeen: ss.LastSeen, expires: ss.ExpiresAt, kiosk: ss.KioskID,
	}
}

// open creates a session and returns its token.
func (s *sessions) open(ctx context.Context, st store.Staff, o origin, now time.Time) (string, *session, error) {
	tok := randomToken(32)
	ss := store.Session{
		Token: tok, StaffID: st.ID, Username: st.Username, Role: st.Role, Department: st.Department, StationID: st.StationID,
		CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(s.ttl), Idle: s.idle, Method: store.SessionPassword,
	}
	if o.kiosk != "" {
		ss.Method, ss.KioskID, ss.Idle = store.SessionKioskPIN, o.kiosk, s.kioskIdle
	}
	if err := s.st.CreateSession(ctx, ss); err != nil {
		return "", nil, err
	}
	return tok, sessionOfStore(tok, ss), nil
}

// get returns the live session of a token and touches it; ok is false
// when there is none (unknown, ended or expired).
func (s *sessions) get(ctx context.Context, tok string, now time.Time) (*session, bool, error) {
	if tok == "" || len(tok) > 128 {
		return nil, false, nil
	}
	ss, err := s.st.TouchSession(ctx, tok, now)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExpired) {
		return nil, false, nil
	} else if err != nil {
		return nil, false, err
	}
	return sessionOfStore(tok, ss), true, nil
}

func (s *sessions) close(ctx context.Context, tok string) error {
	if tok == "" || len(tok) > 128 {
		return nil
	}
	return s.st.DeleteSession(ctx, tok)
}

// closeStaff ends every session of a staff member (disabled, role changed).
func (s *sessions) closeStaff(ctx context.Context, id int64) error {
	_, err := s.st.DeleteStaffSessions(ctx, id)
	return err
}
