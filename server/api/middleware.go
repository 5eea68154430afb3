package api

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// Keys of c.Locals.
const (
	localsRequestID = "vk.request_id"
	localsKiosk     = "vk.kiosk"
	localsSession   = "vk.session"
	localsStaffAuth = "vk.staff_auth"
	localsErrCode   = "vk.err_code"
)

func requestID(c *fiber.Ctx) string {
	id, _ := c.Locals(localsRequestID).(string)
	return id
}

// clientIP is the request's client address, the one every per-address
// rule uses (the login limit per address, audit records' "ip"; the
// connection cap keys on the same address of the connection): the
// connection's peer, or the PROXY header's source from a trusted proxy,
// then X-Forwarded-For as far as trusted proxies added it
// (clientaddr.Resolver.Client). Invalid when the connection is not over IP.
func (s *Server) clientIP(c *fiber.Ctx) netip.Addr {
	return s.proxies.Client(c.Context().RemoteAddr(), c.Request().Header.PeekAll(fiber.HeaderXForwardedFor))
}

// addrDetail is an address as audit details record it ("local" for a
// connection not over IP).
func addrDetail(a netip.Addr) string {
	if !a.IsValid() {
		return "local"
	}
	return a.String()
}

func routeOf(c *fiber.Ctx) string {
	if r := c.Route(); r != nil && r.Path != "" {
		return r.Path
	}
	return "unmatched"
}

// requestContext gives every request an id, a context with a deadline
// (fiber's UserContext is context.Background otherwise), a log line and its
// latency in the metrics. It logs identifiers only: route, status, kiosk and
// staff ids, never bodies.
func (s *Server) requestContext(c *fiber.Ctx) error {
	start := time.Now()
	var rid [8]byte
	copy(rid[:], randomToken(8))
	id := hex.EncodeToString(rid[:])
	c.Locals(localsRequestID, id)
	c.Set("X-Request-Id", id)
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	c.SetUserContext(ctx)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("X-Content-Type-Options", "nosniff")
	err := c.Next()
	if err != nil {
		if herr := s.errorHandler(c, err); herr != nil {
			s.log.Error("writing error response", "err", herr)
		}
	}
	route, status := routeOf(c), c.Response().StatusCode()
	el := time.Since(start)
	// c.Method() aliases fiber's request buffer, which the next request
	// on the connection overwrites: a label value must own its bytes, or a
	// stored series changes its labels ("GET" became "POS") and /metrics
	// fails with "collected before with the same name and label values".
	s.metrics.requests.WithLabelValues(strings.Clone(c.Method()), strings.Clone(route), fmt.Sprint(status)).Observe(el.Seconds())
	attrs := []any{"request_id", id, "method", c.Method(), "route", route, "status", status, "ms", float64(el.Microseconds()) / 1000}
	if k, ok := c.Locals(localsKiosk).(*store.Kiosk); ok {
		attrs = append(attrs, "kiosk", k.ID)
	}
	if sess, ok := c.Locals(localsSession).(*session); ok {
		attrs = append(attrs, "staff", sess.staffID)
	}
	if code, ok := c.Locals(localsErrCode).(string); ok {
		attrs = append(attrs, "code", code)
	}
	switch {
	case status >= 500:
		s.log.Warn("request", attrs...)
	case route == "/metrics" || route == "/healthz" || route == "/readyz":
	default:
		s.log.Debug("request", attrs...)
	}
	return nil
}

// bodyLimit rejects bodies larger than n bytes (the app-wide limit is the
// largest of the groups').
//
// Compressed request bodies are refused: fiber's Ctx.Body would inflate
// them without a limit (a decompression bomb), so handlers read the raw
// body (c.Request().Body()) and nothing may carry a Content-Encoding.
func bodyLimit(n int) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if ce := c.Get(fiber.HeaderContentEncoding); ce != "" && !strings.EqualFold(ce, "identity") {
			return errf(apiv1.CodeUnsupportedMedia, "compressed request bodies (Content-Encoding %q) are not accepted", ce)
		}
		if len(c.Request().Body()) > n || c.Request().Header.ContentLength() > n {
			return errf(apiv1.CodeBodyTooLarge, "request body larger than %d bytes", n)
		}
		return c.Next()
	}
}

// decode parses a JSON request body into v strictly: content type JSON,
// one value, no unknown fields, no trailing data.
func decode(c *fiber.Ctx, v any) error {
	ct := string(c.Request().Header.ContentType())
	if mt, _, _ := strings.Cut(ct, ";"); strings.TrimSpace(strings.ToLower(mt)) != fiber.MIMEApplicationJSON {
		return errf(apiv1.CodeUnsupportedMedia, "request body must be application/json")
	}
	dec := json.NewDecoder(bytes.NewReader(c.Request().Body()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, identity.ErrCardData) {
			// A card field that is not a date, a sex or a nation: the card
			// is invalid, as checkCard would say of a bad period.
			return errf(apiv1.CodeCardInvalid, "malformed card: %s", jsonProblem(err))
		}
		return badRequest("malformed JSON body: %s", jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("malformed JSON body: trailing data after the JSON value")
	}
	return nil
}

func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q: want %s", te.Field, te.Type)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "empty or truncated body"
	}
	msg := err.Error()
	if len(msg) > 120 {
		msg = msg[:120]
	}
	return strings.TrimPrefix(msg, "json: ")
}

// kioskAuth authenticates a kiosk request: signing headers, a registered
// and active kiosk, the signature over method, URI, timestamp, nonce and body
// digest, the clock skew, replay, and the kiosk's rate limit.
func (s *Server) kioskAuth(c *fiber.Ctx) error {
	h := apiv1.SignedHeaders{
		KioskID:   c.Get(apiv1.HeaderKioskID),
		Timestamp: c.Get(apiv1.HeaderTimestamp),
		Nonce:     c.Get(apiv1.HeaderNonce),
		Signature: c.Get(apiv1.HeaderSignature),
	}
	if !s.ready.Load() {
		return errf(apiv1.CodeUnavailable, "the server is starting (loading the gallery); retry shortly").retryAfter(5)
	}
	p, err := apiv1.ParseHeaders(h)
	if errors.Is(err, apiv1.ErrMissingSignature) {
		s.metrics.authFailures.WithLabelValues("signature_missing").Inc()
		return errf(apiv1.CodeSignatureMissing, "kiosk requests must be signed (X-Veinkiosk-* headers)")
	} else if err != nil {
		s.metrics.authFailures.WithLabelValues("signature_invalid").Inc()
		return errf(apiv1.CodeSignatureInvalid, "%v", err)
	}
	now := s.now()
	if err := apiv1.CheckSkew(p.Timestamp, now, apiv1.MaxClockSkew); err != nil {
		s.metrics.authFailures.WithLabelValues("clock_skew").Inc()
		return errf(apiv1.CodeClockSkew, "request timestamp is more than %v from the server clock; check the kiosk's time", apiv1.MaxClockSkew)
	}
	k, err := s.kiosk(c.UserContext(), p.KioskID, now)
	if err != nil {
		return err
	}
	if k.Status != store.DeviceActive {
		s.metrics.authFailures.WithLabelValues("kiosk_revoked").Inc()
		return errf(apiv1.CodeKioskRevoked, "kiosk %s is revoked", k.ID)
	}
	if err := apiv1.VerifySignature(k.PublicKey, p, c.Method(), string(c.Request().RequestURI()), c.Request().Body(), now, apiv1.MaxClockSkew); err != nil {
		s.metrics.authFailures.WithLabelValues("signature_invalid").Inc()
		return errf(apiv1.CodeSignatureInvalid, "request signature does not verify")
	}
	if first, err := s.replay.firstUse(c.UserContext(), k.ID, p.Nonce, p.Timestamp.Add(apiv1.MaxClockSkew+time.Second)); err != nil {
		return storeErr(err, "request nonce")
	} else if !first {
		s.metrics.authFailures.WithLabelValues("replay").Inc()
		return errf(apiv1.CodeReplay, "request nonce already used")
	}
	if ok, wait := s.limits.allow(k.ID, now); !ok {
		s.metrics.rateLimited.Inc()
		return errf(apiv1.CodeRateLimited, "kiosk request rate exceeded").retryAfter(int(math.Ceil(wait.Seconds())))
	}
	c.Locals(localsKiosk, &k)
	return c.Next()
}

func (s *Server) kiosk(ctx context.Context, id string, now time.Time) (store.Kiosk, error) {
	if k, ok := s.kiosks.get(id, now); ok {
		return k, nil
	}
	k, err := s.st.GetKiosk(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		s.metrics.authFailures.WithLabelValues("kiosk_unknown").Inc()
		return k, errf(apiv1.CodeKioskUnknown, "kiosk %s is not registered", id)
	} else if err != nil {
		return k, storeErr(err, "kiosk")
	}
	s.kiosks.put(k, now)
	return k, nil
}

func kioskOf(c *fiber.Ctx) *store.Kiosk {
	k, _ := c.Locals(localsKiosk).(*store.Kiosk)
	return k
}

// Cookie and header of staff sessions.
const sessionCookie = "vk_session"

func bearer(c *fiber.Ctx) string {
	a := c.Get(fiber.HeaderAuthorization)
	if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:])
	}
	return ""
}

// staff authenticates a staff session (bearer token) on a route of kind a
// (authStaff, or authKioskStaff after kioskAuth) and requires one of
// roles. The staff record is re-read so a disabled account stops at once,
// and sessionUsable decides whether the session may be used here at all.
func (s *Server) staff(a auth, roles ...store.Role) fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Locals(localsStaffAuth, true)
		sess, ok, err := s.liveSession(c.UserContext(), bearer(c))
		if err != nil {
			return err
		}
		if !ok {
			return errf(apiv1.CodeUnauthenticated, "log in first (staff session missing, expired or no longer valid)")
		}
		if err := s.sessionUsable(c, sess, a); err != nil {
			return err
		}
		if len(roles) > 0 && !slices.Contains(roles, sess.role) {
			c.Locals(localsSession, sess)
			return errf(apiv1.CodeForbidden, "role %s may not do this", sess.role)
		}
		c.Locals(localsSession, sess)
		return c.Next()
	}
}

// sessionScope is the one rule of where a staff session may be used
// (docs/security.md, threat 1), for a route of kind a in a request whose
// kiosk signature verified as k (nil: not a signed kiosk request):
//
//   - a session opened with a PIN at a kiosk is valid only in that kiosk's
//     signed requests to the kiosk staff endpoints (authKioskStaff); on any
//     other route, unsigned or at another kiosk it is session_kiosk_bound;
//   - the kiosk staff endpoints take only such a session of the same kiosk:
//     an office (password) session is kiosk_session_required there.
//
// It returns the refusing code, or "" when the session may be used.
func sessionScope(sess *session, a auth, k *store.Kiosk) string {
	if a == authKioskStaff {
		switch {
		case sess.kiosk == "":
			return apiv1.CodeKioskSessionRequired
		case k == nil || k.ID != sess.kiosk:
			return apiv1.CodeSessionKioskBound
		}
		return ""
	}
	if sess.kiosk != "" {
		return apiv1.CodeSessionKioskBound
	}
	return ""
}

// sessionUsable applies sessionScope to a request; a refusal is counted,
// audited (staff.session_refused: the route, the request's kiosk and the
// session's) and answered with its code. The session stays valid where it
// belongs.
func (s *Server) sessionUsable(c *fiber.Ctx, sess *session, a auth) error {
	k := kioskOf(c)
	code := sessionScope(sess, a, k)
	if code == "" {
		return nil
	}
	s.metrics.authFailures.WithLabelValues(code).Inc()
	d := map[string]string{"reason": code, "route": routeOf(c)}
	if k != nil {
		d["kiosk"] = k.ID
	}
	if sess.kiosk != "" {
		d["session_kiosk"] = sess.kiosk
	}
	_ = s.audit(c.UserContext(), audit.Staff(sess.staffID), "staff.session_refused", "staff:"+strconv.FormatInt(sess.staffID, 10), d)
	if code == apiv1.CodeKioskSessionRequired {
		return errf(code, "the kiosk's staff endpoints need a session opened with a PIN at this kiosk")
	}
	return errf(code, "this session was opened at a kiosk and is valid only in that kiosk's signed staff requests")
}

// liveSession is the one rule for a staff session, for the API's bearer
// tokens and the back office's cookie alike: a live session whose staff
// record, re-read now, is still enabled with the session's role and
// station. A disabled account or a changed role ends every session of the
// staff member at once (ok false).
func (s *Server) liveSession(ctx context.Context, tok string) (*session, bool, error) {
	sess, ok, err := s.sessions.get(ctx, tok, s.now())
	if err != nil {
		return nil, false, storeErr(err, "session")
	}
	if !ok {
		return nil, false, nil
	}
	st, err := s.st.GetStaff(ctx, sess.staffID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, false, storeErr(err, "staff")
	}
	if err != nil || st.Disabled || st.Role != sess.role || st.StationID != sess.station {
		if err := s.sessions.closeStaff(ctx, sess.staffID); err != nil {
			return nil, false, storeErr(err, "sessions")
		}
		return nil, false, nil
	}
	return sess, true, nil
}

func sessionOf(c *fiber.Ctx) *session {
	sess, _ := c.Locals(localsSession).(*session)
	return sess
}

func staffActor(c *fiber.Ctx) audit.Actor { return audit.Staff(sessionOf(c).staffID) }

// audit appends a stand-alone audit event; failures are logged and
// returned (the caller decides whether the action may stand without it).
func (s *Server) audit(ctx context.Context, actor audit.Actor, action, target string, details map[string]string) error {
	_, err := s.st.AppendAudit(ctx, audit.Event{Time: s.now(), Actor: actor, Action: action, Target: target, Details: details})
	if err != nil {
		s.log.Error("audit append failed", "action", action, "target", target, "err", err)
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}
