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
}

type sessions struct {
	st        store.Store
	ttl, idle time.Duration
}

func newSessions(st store.Store, ttl, idle time.Duration) *sessions {
	return &sessions{st: st, ttl: ttl, idle: idle}
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
		csrf: csrfOf(tok), created: ss.CreatedAt, lastSeen: ss.LastSeen, expires: ss.ExpiresAt,
	}
}

// open creates a session and returns its token.
func (s *sessions) open(ctx context.Context, st store.Staff, now time.Time) (string, *session, error) {
	tok := randomToken(32)
	ss := store.Session{
		Token: tok, StaffID: st.ID, Username: st.Username, Role: st.Role, Department: st.Department, StationID: st.StationID,
		CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(s.ttl), Idle: s.idle,
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
