package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/clientaddr"
	"github.com/qingshan-gov/veinkiosk/server/password"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// dummyHash is verified against when the username is unknown, so a login
// takes as long whether or not the account exists.
var dummyHash, _ = password.Hash("veinkiosk-no-such-user")

// login checks credentials and opens a session; shared by the API and the
// back-office page. The username is canonicalised first
// (identity.CanonicalUsername), once, so the per-username limiter, the
// lookup and the audit all see one key for " user", "user\t", "USER" and
// "ＵＳＥＲ".
func (s *Server) login(c *fiber.Ctx, username, pw string) (string, *session, error) {
	ctx := c.UserContext()
	now := s.now()
	ip := s.clientIP(c)
	username = identity.CanonicalUsername(username)
	if len(username) == 0 || len(username) > 64 || len(pw) == 0 || len(pw) > 1024 {
		return "", nil, errf(apiv1.CodeBadCredentials, "wrong username or password")
	}
	for _, lim := range []struct {
		l   *sharedLimiter
		key string
	}{{s.loginLim, username}, {s.ipLim, clientaddr.Key(ip)}} {
		if ok, wait, err := lim.l.allow(ctx, lim.key, now); err != nil {
			return "", nil, storeErr(err, "login limit")
		} else if !ok {
			s.metrics.rateLimited.Inc()
			return "", nil, errf(apiv1.CodeRateLimited, "too many login attempts").retryAfter(retrySeconds(wait))
		}
	}
	st, err := s.st.GetStaffByUsername(ctx, username)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", nil, storeErr(err, "staff")
	}
	hash := dummyHash
	if err == nil {
		hash = st.PasswordHash
	}
	ok, verr := password.Verify(hash, pw)
	if err != nil || verr != nil || !ok || st.Disabled {
		actor, reason := audit.System("auth"), "unknown_user"
		if err == nil {
			actor, reason = audit.Staff(st.ID), "bad_password"
			if st.Disabled {
				reason = "disabled"
			}
		}
		_ = s.audit(ctx, actor, "staff.login_failed", "", map[string]string{"reason": reason, "ip": addrDetail(ip)})
		return "", nil, errf(apiv1.CodeBadCredentials, "wrong username or password")
	}
	tok, sess, err := s.sessions.open(ctx, st, origin{}, now)
	if err != nil {
		return "", nil, storeErr(err, "session")
	}
	if err := s.audit(ctx, audit.Staff(st.ID), "staff.login", "staff:"+strconv.FormatInt(st.ID, 10), map[string]string{"ip": addrDetail(ip)}); err != nil {
		return "", nil, errors.Join(err, s.sessions.close(ctx, tok))
	}
	return tok, sess, nil
}

// confirmPassword checks a logged-in staff member's password again, to
// confirm a change (setting one's kiosk PIN), under the login's limit per
// username: a session is not an unlimited password oracle, and guesses
// here and at the login share one budget. ok is false for a wrong password;
// err is rate_limited (or the store's failure).
func (s *Server) confirmPassword(ctx context.Context, st store.Staff, pw string) (bool, error) {
	if ok, wait, err := s.loginLim.allow(ctx, identity.CanonicalUsername(st.Username), s.now()); err != nil {
		return false, storeErr(err, "login limit")
	} else if !ok {
		s.metrics.rateLimited.Inc()
		return false, errf(apiv1.CodeRateLimited, "too many password attempts").retryAfter(retrySeconds(wait))
	}
	if len(pw) == 0 || len(pw) > 1024 {
		return false, nil
	}
	ok, err := password.Verify(st.PasswordHash, pw)
	return ok && err == nil, nil
}

func sessionView(tok string, sess *session) apiv1.Session {
	return apiv1.Session{Token: tok, ExpiresAt: sess.expires, StaffID: sess.staffID, Username: sess.username, Role: string(sess.role), Department: sess.department}
}

func (s *Server) handleLogin(c *fiber.Ctx) error {
	var req apiv1.LoginRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	tok, sess, err := s.login(c, req.Username, req.Password)
	if err != nil {
		return err
	}
	return c.Status(http.StatusCreated).JSON(sessionView(tok, sess))
}

func (s *Server) handleSessionCurrent(c *fiber.Ctx) error {
	return c.JSON(sessionView("", sessionOf(c)))
}

func (s *Server) handleLogout(c *fiber.Ctx) error {
	if err := s.sessions.close(c.UserContext(), bearer(c)); err != nil {
		return storeErr(err, "session")
	}
	var d map[string]string
	if k := kioskOf(c); k != nil {
		d = map[string]string{"kiosk": k.ID}
	}
	_ = s.audit(c.UserContext(), staffActor(c), "staff.logout", "", d)
	return c.SendStatus(http.StatusNoContent)
}

// ---- back-office filings ----

// filingScope restricts what a role sees: officers their department only.
func filingScope(sess *session, f *store.FilingFilter) {
	if sess.role == store.RoleDepartmentOfficer {
		f.Department = sess.department
	}
}

// pageQuery reads the page of a list request: after, the id of the last
// item of the page before (what names the items), and limit, 1..1000 (0
// when absent: the store's default).
func pageQuery(c *fiber.Ctx, what string) (after int64, limit int, err error) {
	if a := c.Query("after"); a != "" {
		if after, err = strconv.ParseInt(a, 10, 64); err != nil || after < 0 {
			return 0, 0, badRequest("after must be a %s id", what)
		}
	}
	if l := c.Query("limit"); l != "" {
		if limit, err = strconv.Atoi(l); err != nil || limit < 1 || limit > 1000 {
			return 0, 0, badRequest("limit must be 1..1000")
		}
	}
	return after, limit, nil
}

func (s *Server) handleListFilings(c *fiber.Ctx) error {
	sess := sessionOf(c)
	f := store.FilingFilter{Department: c.Query("department"), ServiceCode: c.Query("service")}
	if st := c.Query("status"); st != "" {
		if !store.FilingStatus(st).Valid() {
			return badRequest("unknown status %q", st)
		}
		f.Statuses = []store.FilingStatus{store.FilingStatus(st)}
	}
	var err error
	if f.AfterID, f.Limit, err = pageQuery(c, "filing"); err != nil {
		return err
	}
	if c.QueryBool("overdue") {
		now := s.now()
		f.OverdueAt = &now
	}
	filingScope(sess, &f)
	fs, err := s.st.ListFilings(c.UserContext(), f)
	if err != nil {
		return storeErr(err, "filings")
	}
	out := apiv1.FilingList{Filings: make([]apiv1.Filing, 0, len(fs))}
	for _, fl := range fs {
		out.Filings = append(out.Filings, s.filingView(c.UserContext(), fl, false, ""))
	}
	return c.JSON(out)
}

// scopedFiling loads a filing the session may see (officers: their
// department's only; others are told it does not exist).
func (s *Server) scopedFiling(c *fiber.Ctx, idParam string) (store.Filing, error) {
	id, err := strconv.ParseInt(idParam, 10, 64)
	if err != nil || id <= 0 {
		return store.Filing{}, badRequest("filing id must be a positive integer")
	}
	f, err := s.st.GetFiling(c.UserContext(), id)
	if errors.Is(err, store.ErrNotFound) {
		return f, errf(apiv1.CodeFilingNotFound, "no filing %d", id)
	} else if err != nil {
		return f, storeErr(err, "filing")
	}
	if sess := sessionOf(c); sess.role == store.RoleDepartmentOfficer && f.Department != sess.department {
		return f, errf(apiv1.CodeFilingNotFound, "no filing %d", id)
	}
	return f, nil
}

func (s *Server) handleGetFiling(c *fiber.Ctx) error {
	f, err := s.scopedFiling(c, c.Params("id"))
	if err != nil {
		return err
	}
	name := ""
	if r, err := s.st.GetResidentByID(c.UserContext(), f.ResidentID); err == nil {
		name = r.Name
	}
	return c.JSON(s.filingView(c.UserContext(), f, true, name))
}

// decisionStatus is the status each decision of an officer takes a filing
// to (the API's decide and the office form's decisionProblem).
var decisionStatus = map[string]store.FilingStatus{
	apiv1.DecisionReview:      store.FilingInReview,
	apiv1.DecisionAccept:      store.FilingAccepted,
	apiv1.DecisionReject:      store.FilingRejected,
	apiv1.DecisionRequestInfo: store.FilingNeedInfo,
}

// maxDecisionReply is the longest reply to the resident, in characters.
const maxDecisionReply = 1000

// replyRequired: a rejection or a request for more information tells the
// resident why or what.
func replyRequired(to store.FilingStatus) bool {
	return to == store.FilingRejected || to == store.FilingNeedInfo
}

// decide applies an officer's decision.
func (s *Server) decide(c *fiber.Ctx, f store.Filing, d apiv1.Decision) (store.Filing, error) {
	to, ok := decisionStatus[d.Action]
	if !ok {
		return f, badRequest("action must be review, accept, reject or request_info")
	}
	if utf8.RuneCountInString(d.Reply) > maxDecisionReply {
		return f, badRequest("reply of at most %d characters", maxDecisionReply)
	}
	if replyRequired(to) && d.Reply == "" {
		return f, badRequest("a reply to the resident is required to reject or ask for more information")
	}
	if !store.CanTransition(f.Status, to) {
		return f, errf(apiv1.CodeFilingState, "a %s filing cannot go to %s", f.Status, to)
	}
	if err := s.checkDeliberation(c.UserContext(), f, to); err != nil {
		return f, err
	}
	t := store.FilingTransition{FilingID: f.ID, From: f.Status, To: to, Note: d.Action, At: s.now()}
	if d.Reply != "" {
		t.Reply = &d.Reply
	}
	nf, err := s.st.TransitionFiling(c.UserContext(), staffActor(c), t)
	if errors.Is(err, store.ErrConflict) {
		return f, errf(apiv1.CodeFilingState, "the filing changed meanwhile; reload it")
	}
	return nf, storeErr(err, "filing")
}

func (s *Server) handleDecision(c *fiber.Ctx) error {
	f, err := s.scopedFiling(c, c.Params("id"))
	if err != nil {
		return err
	}
	var d apiv1.Decision
	if err := decode(c, &d); err != nil {
		return err
	}
	nf, err := s.decide(c, f, d)
	if err != nil {
		return err
	}
	return c.JSON(s.filingView(c.UserContext(), nf, true, ""))
}

func (s *Server) handleOverdue(c *fiber.Ctx) error {
	ctx := c.UserContext()
	now := s.now()
	counts, err := s.st.OverdueByDepartment(ctx, now)
	if err != nil {
		return storeErr(err, "overdue")
	}
	out := apiv1.OverdueReport{Departments: []apiv1.DepartmentOverdue{}}
	for _, d := range counts {
		fs, err := s.st.ListFilings(ctx, store.FilingFilter{Department: d.Department, OverdueAt: &now, Limit: 200})
		if err != nil {
			return storeErr(err, "filings")
		}
		do := apiv1.DepartmentOverdue{Department: d.Department, Count: d.Overdue, OldestDue: d.OldestDue, Filings: []apiv1.Filing{}}
		for _, f := range fs {
			do.Filings = append(do.Filings, s.filingView(ctx, f, false, ""))
		}
		out.Departments = append(out.Departments, do)
	}
	return c.JSON(out)
}

func (s *Server) handleCatalogue(c *fiber.Ctx) error {
	return s.handleServices(c)
}

// ---- card-less identification ----

func (s *Server) handleIdentify(c *fiber.Ctx) error {
	if !s.cfg.IdentifyEnabled {
		return errf(apiv1.CodeIdentifyDisabled, "identification without a card is off by station policy")
	}
	k, sess, ctx := kioskOf(c), sessionOf(c), c.UserContext()
	var req apiv1.IdentifyRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	cc, err := s.parseCapture(ctx, req.Capture, forVerify)
	if err != nil {
		return s.apiErr(err)
	}
	// A stale gallery could miss the resident: refused before the capture
	// is consumed, so the kiosk can send it to another server.
	if err := s.fresh1N(); err != nil {
		return err
	}
	if err := s.checkCaptures(ctx, k, []*capture{cc}); err != nil {
		return s.apiErr(err)
	}
	th, err := s.thresholds(cc.model(), cc.tmpl)
	if err != nil {
		return s.apiErr(err)
	}
	if err := s.fresh1N(); err != nil {
		return err // it went stale since the request began
	}
	start := time.Now()
	hits, err := s.gallery.Search(ctx, cc.tmpl, 2, th.Identify.Threshold)
	s.metrics.match.WithLabelValues("identify").Observe(time.Since(start).Seconds())
	if errors.Is(err, ErrSearchIncomplete) {
		s.log.Warn("identify: search incomplete", "err", err)
		return errf(apiv1.CodeSearchIncomplete, "the search did not reach every part of the gallery; retry shortly or use the ID card").retryAfter(2)
	}
	if err != nil {
		return err
	}
	details := map[string]string{"kiosk": k.ID, "candidates": strconv.Itoa(len(hits))}
	if len(hits) != 1 {
		_ = s.audit(ctx, audit.Staff(sess.staffID), "identification.none", "", details)
		return errf(apiv1.CodeCandidateNotFound, "no unique resident matches; use the ID card")
	}
	res, err := s.st.GetResidentByID(ctx, hits[0].ResidentID)
	if err != nil {
		return storeErr(err, "resident")
	}
	id := randomToken(18)
	exp := s.now().Add(s.cfg.CandidateTTL)
	if err := s.pending.put(ctx, id, candidate{idNumber: res.IDNumber, kioskID: k.ID, staffID: sess.staffID, score: hits[0].Score, exp: exp}); err != nil {
		return storeErr(err, "candidate")
	}
	if err := s.audit(ctx, audit.Staff(sess.staffID), "identification.candidate", "resident:"+strconv.FormatInt(res.ID, 10), details); err != nil {
		return err
	}
	out := apiv1.IdentifyCandidate{CandidateID: id, Name: res.Name, IDNumberMasked: identity.MaskIDNumber(res.IDNumber), ExpiresAt: exp}
	if !res.BirthDate.IsZero() {
		out.BirthDate = res.BirthDate.Format(time.DateOnly)
	}
	return c.JSON(out)
}

func (s *Server) handleIdentifyConfirm(c *fiber.Ctx) error {
	if !s.cfg.IdentifyEnabled {
		return errf(apiv1.CodeIdentifyDisabled, "identification without a card is off by station policy")
	}
	k, sess := kioskOf(c), sessionOf(c)
	var req apiv1.IdentifyConfirmRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	cand, ok, err := s.pending.take(c.UserContext(), req.CandidateID, s.now())
	if err != nil {
		return storeErr(err, "candidate")
	}
	if !ok || cand.kioskID != k.ID || cand.staffID != sess.staffID || s.now().After(cand.exp) {
		return errf(apiv1.CodeCandidateExpired, "the candidate is unknown or expired; identify again")
	}
	res, err := s.st.GetResident(c.UserContext(), cand.idNumber)
	if err != nil {
		return storeErr(err, "resident")
	}
	if res.Status == store.ResidentSuspended {
		return errf(apiv1.CodeResidentSuspended, "the resident's record is suspended")
	}
	tok := s.mintToken(k, res, s.now())
	if err := s.st.IssueFilingToken(c.UserContext(), tok); err != nil {
		return storeErr(err, "filing token")
	}
	if err := s.audit(c.UserContext(), audit.Staff(sess.staffID), "identification.confirm", residentTarget(res),
		map[string]string{"kiosk": k.ID, "score": strconv.FormatFloat(cand.score, 'f', 4, 64)}); err != nil {
		return err
	}
	resp := tokenResponse(tok, res)
	resp.NewReplies = s.newRepliesOrNone(c.UserContext(), res)
	return c.JSON(resp)
}
