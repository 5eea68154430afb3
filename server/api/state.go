package api

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/store"
)

// This file holds the server's short-lived state. What decides a security
// outcome (the replay cache, lock escalation, spent filing tokens, pending
// identifications, the kiosk backoff, the login limits; sessions in
// sessions.go) is kept in the store, so that every replica on one database
// decides the same; the wrappers here only adapt the store's methods. Two
// things stay in process memory and are safe to lose on restart: the
// kiosk-record cache (10 s) and the kiosk request-rate token bucket, which
// smooths load on this process and decides nothing else (a kiosk behind N
// replicas may send N times the rate; the verification backoff and the
// lockout, which are shared, bound what those requests can achieve).

// replayCache remembers request nonces (kiosk id + nonce) for the clock-skew
// window, so a signed request is accepted once, by whichever replica
// receives it first (the record is in the store).
type replayCache struct{ st store.Store }

// firstUse records the kiosk's nonce until until and reports whether it
// was new.
func (r *replayCache) firstUse(ctx context.Context, kioskID, nonce string, until time.Time) (bool, error) {
	err := r.st.UseRequestNonce(ctx, kioskID, nonce, until)
	if errors.Is(err, store.ErrAlreadyExists) {
		return false, nil
	}
	return err == nil, err
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

// sharedLimiter is a token bucket per key kept in the store, so that every
// replica draws from the same bucket (login attempts per username and per
// client address decide security outcomes).
type sharedLimiter struct {
	st     store.Store
	prefix string // namespaces the keys of different limiters
	limit  store.RateLimit
}

// allow takes a token for key; when none is left it returns false and the
// wait until the next one.
func (r *sharedLimiter) allow(ctx context.Context, key string, now time.Time) (bool, time.Duration, error) {
	wait, err := r.st.TakeRateToken(ctx, r.prefix+"\x00"+key, r.limit, now)
	if err != nil {
		return false, 0, err
	}
	return wait == 0, wait, nil
}

// kioskThrottle slows a kiosk down after consecutive verification failures:
// from the threshold-th failure on, the kiosk must wait base, 2*base, ...
// (capped) before its next verification. A success resets it. The counts
// are in the store, shared by every replica.
type kioskThrottle struct {
	st     store.Store
	policy store.BackoffPolicy
}

func newKioskThrottle(st store.Store, threshold int, base, max time.Duration) *kioskThrottle {
	return &kioskThrottle{st: st, policy: store.BackoffPolicy{Threshold: threshold, Base: base, Max: max, Forget: time.Hour}}
}

// wait returns how long the kiosk must still wait (0: go ahead).
func (t *kioskThrottle) wait(ctx context.Context, kiosk string, now time.Time) (time.Duration, error) {
	until, err := t.st.KioskBackoff(ctx, kiosk, now)
	if err != nil || !until.After(now) {
		return 0, err
	}
	return until.Sub(now), nil
}

func (t *kioskThrottle) record(ctx context.Context, kiosk string, ok bool, now time.Time) error {
	_, err := t.st.RecordKioskVerification(ctx, kiosk, ok, now, t.policy)
	return err
}

// lockMemory is how long a lock counts for escalation: the store doubles
// the lock's length for every lock of the ID number within it
// (store.LockoutPolicy.Escalation), in the transaction that locks.
const lockMemory = 24 * time.Hour

// candidates are pending card-less identifications waiting for staff
// confirmation, kept in the store so that any replica can confirm them.
type candidates struct{ st store.Store }

type candidate struct {
	idNumber string
	kioskID  string
	staffID  int64
	score    float64
	exp      time.Time
}

func (c *candidates) put(ctx context.Context, id string, cand candidate) error {
	return c.st.PutPendingIdentification(ctx, store.PendingIdentification{
		ID: id, IDNumber: cand.idNumber, KioskID: cand.kioskID, StaffID: cand.staffID, Score: cand.score, ExpiresAt: cand.exp,
	})
}

// take removes and returns a candidate; ok is false when it is unknown,
// already taken or expired.
func (c *candidates) take(ctx context.Context, id string, now time.Time) (candidate, bool, error) {
	if id == "" || len(id) > 128 {
		return candidate{}, false, nil
	}
	p, err := c.st.TakePendingIdentification(ctx, id, now)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExpired) {
		return candidate{}, false, nil
	} else if err != nil {
		return candidate{}, false, err
	}
	return candidate{idNumber: p.IDNumber, kioskID: p.KioskID, staffID: p.StaffID, score: p.Score, exp: p.ExpiresAt}, true, nil
}

// spentTokens remembers, for an hour after use, which resident a consumed
// filing token was bound to, so that the retry of an acknowledged filing
// (same idempotency key, token already consumed) finds its filing, on any
// replica.
type spentTokens struct{ st store.Store }

type spent struct {
	idNumber string
	kioskID  string
	exp      time.Time
}

func (s *spentTokens) put(ctx context.Context, token string, v spent) error {
	return s.st.RememberSpentToken(ctx, store.SpentToken{Token: token, IDNumber: v.idNumber, KioskID: v.kioskID, ExpiresAt: v.exp})
}

func (s *spentTokens) get(ctx context.Context, token string, now time.Time) (spent, bool, error) {
	if token == "" || len(token) > 128 {
		return spent{}, false, nil
	}
	v, err := s.st.GetSpentToken(ctx, token, now)
	if errors.Is(err, store.ErrNotFound) {
		return spent{}, false, nil
	} else if err != nil {
		return spent{}, false, err
	}
	return spent{idNumber: v.IDNumber, kioskID: v.KioskID, exp: v.ExpiresAt}, true, nil
}

// retryResident is whom a spent filing token filed for, when the kiosk
// kioskID spent it: the retry of a filing or report whose answer was lost
// (the store answers it with the first by its idempotency key). When the
// token was not spent there, refused (the token check's error) is returned.
func (s *Server) retryResident(ctx context.Context, kioskID, token string, now time.Time, refused error) (store.Resident, error) {
	sp, ok, err := s.spent.get(ctx, token, now)
	if err != nil {
		return store.Resident{}, storeErr(err, "spent token")
	}
	if !ok || sp.kioskID != kioskID {
		return store.Resident{}, refused
	}
	r, err := s.st.GetResident(ctx, sp.idNumber)
	if err != nil {
		return store.Resident{}, storeErr(err, "resident")
	}
	return r, nil
}
