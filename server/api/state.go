package api

import (
	"crypto/sha256"
	"math"
	"sync"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/store"
)

// This file holds the server's small in-memory state: caches, rate limits
// and short-lived records. All of it is safe to lose on restart (sessions
// excepted: staff log in again).

// replayCache remembers request nonces (kiosk id + nonce) for the clock-skew
// window, so a signed request is accepted once.
type replayCache struct {
	mu   sync.Mutex
	seen map[string]time.Time // key -> forget after
}

func newReplayCache() *replayCache { return &replayCache{seen: map[string]time.Time{}} }

// firstUse records key until until and reports whether it was new.
func (r *replayCache) firstUse(key string, until time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.seen[key]; ok {
		return false
	}
	r.seen[key] = until
	return true
}

func (r *replayCache) sweep(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, t := range r.seen {
		if now.After(t) {
			delete(r.seen, k)
		}
	}
}

// kioskCache caches kiosk records for a short time; revocation through this
// server drops the entry at once.
type kioskCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]cachedKiosk
}

type cachedKiosk struct {
	k   store.Kiosk
	exp time.Time
}

func newKioskCache(ttl time.Duration) *kioskCache {
	return &kioskCache{ttl: ttl, m: map[string]cachedKiosk{}}
}

func (c *kioskCache) get(id string, now time.Time) (store.Kiosk, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	if !ok || now.After(e.exp) {
		return store.Kiosk{}, false
	}
	return e.k, true
}

func (c *kioskCache) put(k store.Kiosk, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) > 10000 {
		clear(c.m)
	}
	c.m[k.ID] = cachedKiosk{k: k, exp: now.Add(c.ttl)}
}

func (c *kioskCache) drop(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}

// rateLimiter is a token bucket per key.
type rateLimiter struct {
	rate  float64 // tokens per second
	burst float64
	mu    sync.Mutex
	b     map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter(rate float64, burst int) *rateLimiter {
	return &rateLimiter{rate: rate, burst: float64(burst), b: map[string]*bucket{}}
}

// allow takes a token for key; when none is left it returns false and the
// wait until the next one.
func (r *rateLimiter) allow(key string, now time.Time) (bool, time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.b[key]
	if !ok {
		b = &bucket{tokens: r.burst, last: now}
		r.b[key] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(r.burst, b.tokens+el*r.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / r.rate * float64(time.Second))
}

func (r *rateLimiter) sweep(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, b := range r.b {
		if now.Sub(b.last).Seconds()*r.rate >= r.burst {
			delete(r.b, k)
		}
	}
}

// kioskThrottle slows a kiosk down after consecutive verification failures:
// from the threshold-th failure on, the kiosk must wait base, 2*base, ...
// (capped) before its next verification. A success resets it.
type kioskThrottle struct {
	threshold int
	base, max time.Duration
	mu        sync.Mutex
	m         map[string]*throttleState
}

type throttleState struct {
	failures int
	until    time.Time
}

func newKioskThrottle(threshold int, base, max time.Duration) *kioskThrottle {
	return &kioskThrottle{threshold: threshold, base: base, max: max, m: map[string]*throttleState{}}
}

// wait returns how long the kiosk must still wait (0: go ahead).
func (t *kioskThrottle) wait(kiosk string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s, ok := t.m[kiosk]; ok && now.Before(s.until) {
		return s.until.Sub(now)
	}
	return 0
}

func (t *kioskThrottle) record(kiosk string, ok bool, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ok {
		delete(t.m, kiosk)
		return
	}
	s := t.m[kiosk]
	if s == nil {
		s = &throttleState{}
		t.m[kiosk] = s
	}
	s.failures++
	if n := s.failures - t.threshold; n >= 0 {
		d := t.base << min(n, 20)
		if d > t.max || d <= 0 {
			d = t.max
		}
		s.until = now.Add(d)
	}
}

func (t *kioskThrottle) sweep(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, s := range t.m {
		if now.Sub(s.until) > time.Hour {
			delete(t.m, k)
		}
	}
}

// lockEscalation counts the locks of an ID number (by SHA-256, so no ID
// number is kept in memory in clear) within a day, for exponential backoff.
type lockEscalation struct {
	mu sync.Mutex
	m  map[[32]byte][]time.Time
}

func newLockEscalation() *lockEscalation { return &lockEscalation{m: map[[32]byte][]time.Time{}} }

// policy returns the lockout policy for the next failure of idNumber: base
// LockFor doubled for every lock in the last 24 h (at most 64 times).
func (l *lockEscalation) policy(idNumber string, base store.LockoutPolicy, now time.Time) store.LockoutPolicy {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := sha256.Sum256([]byte(idNumber))
	n := 0
	for _, t := range l.m[k] {
		if now.Sub(t) < 24*time.Hour {
			n++
		}
	}
	base.LockFor <<= min(n, 6)
	return base
}

func (l *lockEscalation) locked(idNumber string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := sha256.Sum256([]byte(idNumber))
	l.m[k] = append(l.m[k], now)
}

func (l *lockEscalation) sweep(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, ts := range l.m {
		keep := ts[:0]
		for _, t := range ts {
			if now.Sub(t) < 24*time.Hour {
				keep = append(keep, t)
			}
		}
		if len(keep) == 0 {
			delete(l.m, k)
		} else {
			l.m[k] = keep
		}
	}
}

// candidates are pending card-less identifications waiting for staff
// confirmation.
type candidates struct {
	mu sync.Mutex
	m  map[string]candidate
}

type candidate struct {
	idNumber string
	kioskID  string
	staffID  int64
	score    float64
	exp      time.Time
}

func newCandidates() *candidates { return &candidates{m: map[string]candidate{}} }

func (c *candidates) put(id string, cand candidate) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[id] = cand
}

// take removes and returns a candidate.
func (c *candidates) take(id string) (candidate, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cand, ok := c.m[id]
	delete(c.m, id)
	return cand, ok
}

func (c *candidates) sweep(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, v := range c.m {
		if now.After(v.exp) {
			delete(c.m, k)
		}
	}
}

// spentTokens remembers, for an hour after use, which resident a consumed
// filing token was bound to, so that the retry of an acknowledged filing
// (same idempotency key, token already consumed) finds its filing.
type spentTokens struct {
	mu sync.Mutex
	m  map[[32]byte]spent
}

type spent struct {
	idNumber string
	kioskID  string
	exp      time.Time
}

func newSpentTokens() *spentTokens { return &spentTokens{m: map[[32]byte]spent{}} }

func (s *spentTokens) put(token string, v spent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[sha256.Sum256([]byte(token))] = v
}

func (s *spentTokens) get(token string, now time.Time) (spent, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[sha256.Sum256([]byte(token))]
	if !ok || now.After(v.exp) {
		return spent{}, false
	}
	return v, true
}

func (s *spentTokens) sweep(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.m {
		if now.After(v.exp) {
			delete(s.m, k)
		}
	}
}
