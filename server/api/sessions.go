package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/store"
)

// session is a logged-in staff member. Sessions live in memory (keyed by the
// SHA-256 of the token): a restart logs everyone out.
type session struct {
	staffID    int64
	username   string
	role       store.Role
	department string
	station    string
	csrf       string // back-office form token
	created    time.Time
	lastSeen   time.Time
	expires    time.Time
}

type sessions struct {
	ttl, idle time.Duration
	mu        sync.Mutex
	m         map[[32]byte]*session
}

func newSessions(ttl, idle time.Duration) *sessions {
	return &sessions{ttl: ttl, idle: idle, m: map[[32]byte]*session{}}
}

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// open creates a session and returns its token.
func (s *sessions) open(st store.Staff, now time.Time) (string, *session) {
	tok := randomToken(32)
	sess := &session{
		staffID: st.ID, username: st.Username, role: st.Role, department: st.Department, station: st.StationID,
		csrf: randomToken(24), created: now, lastSeen: now, expires: now.Add(s.ttl),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[sha256.Sum256([]byte(tok))] = sess
	return tok, sess
}

// get returns the live session of a token and touches it.
func (s *sessions) get(tok string, now time.Time) (*session, bool) {
	if tok == "" || len(tok) > 128 {
		return nil, false
	}
	k := sha256.Sum256([]byte(tok))
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.m[k]
	if !ok {
		return nil, false
	}
	if now.After(sess.expires) || now.Sub(sess.lastSeen) > s.idle {
		delete(s.m, k)
		return nil, false
	}
	sess.lastSeen = now
	cp := *sess
	return &cp, true
}

func (s *sessions) close(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, sha256.Sum256([]byte(tok)))
}

// closeStaff ends every session of a staff member (disabled, role changed).
func (s *sessions) closeStaff(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.m {
		if v.staffID == id {
			delete(s.m, k)
		}
	}
}

func (s *sessions) sweep(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.m {
		if now.After(v.expires) || now.Sub(v.lastSeen) > s.idle {
			delete(s.m, k)
		}
	}
}
