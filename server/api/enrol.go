package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

var algorithmVersion = strconv.Itoa(matcher.AlgorithmVersion)

// handleEnrol enrols the card's holder: station staff at a kiosk of their
// own station, in staff mode. At least 3 captures of each of 2 fingers must
// pass the quality gate, and each finger's captures must match each other
// (checkConsistency); a 1:N search over the whole gallery runs before
// anything is stored, and a match with another ID number opens a case for
// a supervisor instead. A resident enrolled before (an enrolment in force,
// or one deleted on withdrawn consent) is not re-enrolled here: the new
// fingers are stored as a pending replacement that a supervisor of the
// station decides (see handleDecideReplacement). The first enrolment is
// store.EnrolFirst, which refuses in its transaction a resident enrolled
// meanwhile, so racing first enrolments cannot both land.
func (s *Server) handleEnrol(c *fiber.Ctx) error {
	k := kioskOf(c)
	sess := sessionOf(c)
	ctx := c.UserContext()
	if err := enrolmentScope(sess, k); err != nil {
		return err
	}
	var req apiv1.EnrolRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	now := s.now()
	idNumber, err := checkCard(req.Card, now)
	if err != nil {
		return err
	}
	if err := s.checkConsent(req.Consent, now); err != nil {
		return err
	}
	idn := string(idNumber) // canonical: the one key of the limiter, the locks and the store
	// Stateless checks of every capture first (nothing is consumed yet).
	byFinger := map[int][]*capture{}
	sentAt := map[int][]int{} // each good capture's index among its finger's captures as sent
	var order []int
	rejected := map[string]string{}
	var all []*capture
	for _, fc := range req.Fingers {
		pos := fc.Finger.Position()
		if pos == 0 {
			return errf(apiv1.CodeFingerInvalid, "finger %q is not one of the ten finger names", fc.Finger)
		}
		if _, dup := byFinger[pos]; dup {
			return badRequest("finger %s listed twice", fc.Finger)
		}
		if len(fc.Captures) > apiv1.MaxCapturesPerFinger {
			return badRequest("at most %d captures per finger", apiv1.MaxCapturesPerFinger)
		}
		byFinger[pos] = nil
		order = append(order, pos)
		for i, capt := range fc.Captures {
			if capt.Finger == "" {
				capt.Finger = fc.Finger
			}
			if capt.Finger != fc.Finger {
				return errf(apiv1.CodeFingerInvalid, "capture %d of %s says finger %s", i, fc.Finger, capt.Finger)
			}
			cc, err := s.parseCapture(ctx, capt, forEnrol)
			var se *stepError
			if errors.As(err, &se) && errors.Is(err, errQualityTooLow) {
				rejected[apiv1.CaptureField(fc.Finger, i)] = se.msg
				continue
			} else if err != nil {
				return s.apiErr(err)
			}
			byFinger[pos] = append(byFinger[pos], cc)
			sentAt[pos] = append(sentAt[pos], i)
			all = append(all, cc)
		}
	}
	enough := 0
	for _, pos := range order {
		if len(byFinger[pos]) >= apiv1.EnrolCapturesPerFinger {
			enough++
		}
	}
	if enough < apiv1.EnrolFingers {
		e := errf(apiv1.CodeEnrolmentIncomplete,
			"need %d good captures of each of %d fingers (captures below their scanner model's enrolment quality gate are listed)", apiv1.EnrolCapturesPerFinger, apiv1.EnrolFingers)
		if len(rejected) > 0 {
			e.detail.Fields = rejected
		}
		return e
	}
	// The captures of each finger must match each other (consistency.go);
	// stateless, so a refusal consumes nothing.
	checked := map[int][]enrolCapture{}
	for pos, gs := range byFinger {
		for i, g := range gs {
			checked[pos] = append(checked[pos], enrolCapture{capture: g, sent: sentAt[pos][i]})
		}
	}
	if err := s.checkConsistency(ctx, k, sess.staffID, order, checked); err != nil {
		return err
	}
	// A stale gallery cannot deduplicate: refused before anything is
	// consumed, so the kiosk can send the same request to another server.
	if err := s.fresh1N(); err != nil {
		return err
	}
	// The capture step's checks with state: scanners, then every nonce
	// consumed and counter raised once.
	if err := s.checkCaptures(ctx, k, all); err != nil {
		return s.apiErr(err)
	}
	res, err := s.st.GetResident(ctx, idn)
	if errors.Is(err, store.ErrNotFound) {
		return errf(apiv1.CodeResidentUnknown, "no resident record for this ID number in the population database")
	} else if err != nil {
		return storeErr(err, "resident")
	}
	if res.Status == store.ResidentSuspended {
		return errf(apiv1.CodeResidentSuspended, "the resident's record is suspended")
	}
	var override *store.DedupCase
	if req.OverrideCaseID != 0 {
		dc, err := s.st.GetDedupCase(ctx, req.OverrideCaseID)
		if errors.Is(err, store.ErrNotFound) {
			return errf(apiv1.CodeCaseNotFound, "no case %d", req.OverrideCaseID)
		} else if err != nil {
			return storeErr(err, "case")
		}
		if dc.Status != store.DedupOverridden || dc.IDNumber != idn {
			return errf(apiv1.CodeCaseState, "case %d is not an overridden case for this ID number", dc.ID)
		}
		override = &dc
	}
	// Deduplication: the best capture of each finger against everyone. The
	// fingers are searched concurrently; a hit of an earlier finger (in the
	// request's order) wins, as if they had been searched one by one.
	probes := make([]*matcher.Template, len(order))
	models := make([]string, len(order))
	for i, pos := range order {
		gs := byFinger[pos]
		if len(gs) == 0 {
			continue
		}
		best := slices.MaxFunc(gs, func(a, b *capture) int { return a.quality - b.quality })
		probes[i], models[i] = best.tmpl, best.model()
	}
	// The gallery's position before the search: the commit's dedup fence
	// compares the probes with what was committed after it (fence.go).
	searchedAt, err := s.dedupPosition(ctx)
	if err != nil {
		return err
	}
	hitAt, hit, err := s.dedupAll(ctx, res.ID, probes, models, override)
	if err != nil {
		return s.apiErr(err)
	}
	if hit != nil {
		return s.duplicateCase(ctx, sess, k, idn, order[hitAt], *hit, now)
	}
	before, err := s.st.ResidentEnrolments(ctx, idn)
	if err != nil {
		return storeErr(err, "enrolments")
	}
	// Anyone enrolled before, even with no enrolment in force (deleted on
	// withdrawn consent), is re-enrolled only through a replacement: a
	// deletion is no way around the supervisor.
	history, err := s.st.EnrolmentHistory(ctx, res.ID)
	if err != nil {
		return storeErr(err, "enrolments")
	}
	// The consent is stored before the fingers, so no enrolment or
	// replacement exists without one.
	consent, err := s.st.RecordConsent(ctx, audit.Staff(sess.staffID), store.EnrolmentConsent{
		ResidentID: res.ID, TextVersion: req.Consent.TextVersion, ConsentedAt: req.Consent.ConfirmedAt, StaffID: sess.staffID, KioskID: k.ID,
	})
	if err != nil {
		return storeErr(err, "consent")
	}
	consentID := strconv.FormatInt(consent.ID, 10)
	var fingers []store.ReplacementFinger
	n := 0
	for _, pos := range order {
		gs := byFinger[pos]
		if len(gs) < apiv1.EnrolCapturesPerFinger {
			continue // a third finger with too few good captures is left out
		}
		rf := store.ReplacementFinger{Finger: pos}
		for _, g := range gs {
			rf.Samples = append(rf.Samples, store.Sample{Template: g.raw, Image: g.image, AlgorithmVersion: algorithmVersion, Quality: g.quality})
		}
		fingers = append(fingers, rf)
		n += len(rf.Samples)
	}
	if len(history) > 0 {
		// Enrolled before: the new fingers become a pending replacement.
		// Its PreviousScore is the best score of any new capture against
		// the enrolment in force (still the gallery's), and PreviousMatch
		// whether one reached the verification threshold of its scanner's
		// calibration, as a verification would decide it. With no
		// enrolment in force (deleted) there is nothing to match: the
		// supervisor can approve only on an in-person check of the card.
		best, matched := 0.0, false
		for _, rf := range fingers {
			if len(before) == 0 {
				break
			}
			for _, g := range byFinger[rf.Finger] {
				th, err := s.thresholds(g.model(), g.tmpl)
				if err != nil {
					return s.apiErr(err)
				}
				score, ok, err := s.verify1to1(ctx, res, g.tmpl)
				if ae := (*apiError)(nil); errors.As(err, &ae) {
					return ae
				}
				if err != nil {
					return errf(apiv1.CodeTemplateInvalid, "the template cannot be compared with the enrolled ones: %v", err)
				}
				if ok {
					best = max(best, score)
					matched = matched || score >= th.Verify.Threshold
				}
			}
		}
		return s.requestReplacement(c, k, sess, res, fingers, byFinger[fingers[0].Finger][0].serial(), best, matched, n, override, consentID)
	}
	serial := byFinger[fingers[0].Finger][0].serial()
	fence := s.dedupFence(searchedAt, probes, models, override)
	err, syncErr := s.commitFenced(func() error {
		_, err := s.st.EnrolFirst(ctx, audit.Staff(sess.staffID), store.NewFirstEnrolment{
			IDNumber: idn, Fingers: fingers, EnrolledBy: sess.staffID, KioskID: k.ID, ScannerSerial: serial, CreatedAt: now, Fence: &fence,
		})
		return err
	}, func() error { return s.syncGallery(ctx, res) })
	fh := (*fenceHit)(nil)
	switch {
	case errors.As(err, &fh):
		// A duplicate committed after the search's position (fence.go):
		// answered as the search would have answered it.
		return s.duplicateCase(ctx, sess, k, idn, order[fh.at], fh.hit, now)
	case errors.Is(err, store.ErrAlreadyEnrolled):
		// Enrolled since the check above (another kiosk, a bulk
		// enrolment): the store refused the first enrolment in its
		// transaction; these fingers wait for a supervisor like any
		// re-enrolment, with no match to show.
		return s.requestReplacement(c, k, sess, res, fingers, serial, 0, false, n, override, consentID)
	case errors.Is(err, store.ErrInactive):
		return errf(apiv1.CodeResidentSuspended, "the resident's record is suspended")
	case err != nil:
		return storeErr(err, "enrolment")
	}
	if syncErr != nil {
		return syncErr
	}
	details := map[string]string{"kiosk": k.ID, "station": k.StationID, "templates": strconv.Itoa(n), "replaced": "false", "consent": consentID}
	if override != nil {
		details["case"] = strconv.FormatInt(override.ID, 10)
	}
	s.metrics.enrolments.WithLabelValues("enrolled").Inc()
	s.answerEnrolmentChecks(ctx, k, res.ID)
	if err := s.audit(ctx, audit.Staff(sess.staffID), "enrolment.complete", "resident:"+strconv.FormatInt(res.ID, 10), details); err != nil {
		return err
	}
	return c.Status(http.StatusCreated).JSON(apiv1.EnrolResponse{ResidentID: res.ID, Templates: n})
}

// duplicateCase opens a case for a supervisor on an enrolment whose finger
// pos matched another resident (hit), by the search or the fence, and
// answers duplicate_suspected.
func (s *Server) duplicateCase(ctx context.Context, sess *session, k *store.Kiosk, idn string, pos int, hit Hit, now time.Time) error {
	other, err := s.st.GetResidentByID(ctx, hit.ResidentID)
	if err != nil {
		return storeErr(err, "matched resident")
	}
	dc, err := s.st.CreateDedupCase(ctx, audit.Staff(sess.staffID), store.DedupCase{
		IDNumber: idn, MatchedIDNumber: other.IDNumber, Finger: pos, Score: hit.Score,
		KioskID: k.ID, StaffID: sess.staffID, Status: store.DedupOpen, CreatedAt: now,
	})
	if err != nil {
		return storeErr(err, "case")
	}
	s.metrics.enrolments.WithLabelValues("duplicate").Inc()
	e := errf(apiv1.CodeDuplicateSuspected,
		"the finger veins match another resident's enrolment; case %d was opened for a supervisor", dc.ID)
	e.detail.CaseID = dc.ID
	return e
}

// commitFenced runs commit (a store write that makes templates active:
// an enrolment, an approved replacement) and, when it succeeded, load
// (which puts them into the gallery), holding activeMu for reading in
// between, so that a non-following server never reads a fence position
// past a commit its gallery does not hold yet (fence.go). Every such write
// of this process goes through it. commit's error is returned as is;
// loadErr is load's.
func (s *Server) commitFenced(commit, load func() error) (err, loadErr error) {
	s.activeMu.RLock()
	defer s.activeMu.RUnlock()
	if err := commit(); err != nil {
		return err, nil
	}
	return nil, load()
}

// dedup searches the gallery for another resident matching probe, at the
// dedup threshold of the calibration of model (the capturing scanner's;
// "" for templates without a device); hits of the resident themselves
// (re-enrolment) and of the resident an overridden case allows are ignored.
func (s *Server) dedup(ctx context.Context, self int64, model string, probe *matcher.Template, override *store.DedupCase) (*Hit, error) {
	th, err := s.thresholds(model, probe)
	if err != nil {
		return nil, err
	}
	if err := s.fresh1N(); err != nil {
		return nil, err // it went stale since the request began
	}
	start := time.Now()
	hits, err := s.gallery.Search(ctx, probe, 5, th.Dedup.Threshold)
	s.metrics.match.WithLabelValues("dedup").Observe(time.Since(start).Seconds())
	if err != nil {
		if errors.Is(err, matcher.ErrIncompatible) {
			return nil, errf(apiv1.CodeTemplateInvalid, "template not compatible with the gallery: %v", err)
		}
		if errors.Is(err, ErrSearchIncomplete) {
			s.log.Warn("dedup: search incomplete", "err", err)
			return nil, errf(apiv1.CodeSearchIncomplete, "the duplicate search did not reach every part of the gallery; nothing was enrolled, retry shortly").retryAfter(2)
		}
		return nil, err
	}
	for _, h := range hits {
		if h.ResidentID == self {
			continue
		}
		if override != nil {
			other, err := s.st.GetResidentByID(ctx, h.ResidentID)
			if err != nil {
				return nil, storeErr(err, "matched resident")
			}
			if other.IDNumber == override.MatchedIDNumber {
				continue
			}
		}
		return &h, nil
	}
	return nil, nil
}

// dedupAll runs dedup for every probe (nil probes are skipped) at once and
// returns the index and hit of the first probe, in order, that matched
// another resident; the searches of later probes are cancelled as soon as
// an earlier one has a hit.
func (s *Server) dedupAll(ctx context.Context, self int64, probes []*matcher.Template, models []string, override *store.DedupCase) (int, *Hit, error) {
	start := time.Now()
	defer func() { s.metrics.match.WithLabelValues("dedup_enrolment").Observe(time.Since(start).Seconds()) }()
	type result struct {
		hit *Hit
		err error
	}
	res := make([]result, len(probes))
	ctxs := make([]context.CancelFunc, len(probes))
	var wg sync.WaitGroup
	sctxs := make([]context.Context, len(probes))
	for i, p := range probes {
		if p != nil {
			sctxs[i], ctxs[i] = context.WithCancel(ctx)
		}
	}
	for i, p := range probes {
		if p == nil {
			continue
		}
		sctx := sctxs[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, err := s.dedup(sctx, self, models[i], p, override)
			res[i] = result{h, err}
			if h != nil {
				for _, c := range ctxs[i+1:] { // later probes no longer matter
					if c != nil {
						c()
					}
				}
			}
		}()
	}
	wg.Wait()
	for _, c := range ctxs {
		if c != nil {
			c()
		}
	}
	for i, r := range res {
		if r.hit != nil {
			return i, r.hit, nil
		}
		if r.err != nil {
			return 0, nil, r.err
		}
	}
	return 0, nil, nil
}

// syncGallery reloads a resident's templates from the store into the
// gallery.
func (s *Server) syncGallery(ctx context.Context, res store.Resident) error {
	var loadErr error
	err := s.gallery.Sync(res.ID, func() ([]store.Enrolment, error) {
		es, err := s.st.ResidentEnrolments(ctx, res.IDNumber)
		loadErr = err
		return es, err
	})
	if loadErr != nil {
		return storeErr(loadErr, "enrolments")
	}
	if err != nil {
		return fmt.Errorf("gallery: %w", err)
	}
	return nil
}

// ---- supervisor cases ----

func caseView(dc store.DedupCase) apiv1.Case {
	return apiv1.Case{
		ID: dc.ID, Status: string(dc.Status), IDNumber: dc.IDNumber, MatchedIDNumber: dc.MatchedIDNumber,
		Finger: apiv1.FingerAt(dc.Finger), Score: dc.Score, KioskID: dc.KioskID, StationID: dc.StationID, StaffID: dc.StaffID,
		CreatedAt: dc.CreatedAt, DecidedBy: dc.DecidedBy, DecidedAt: dc.DecidedAt, Reason: dc.Reason,
	}
}

func (s *Server) handleListCases(c *fiber.Ctx) error {
	st := store.DedupStatus(c.Query("status"))
	switch st {
	case "", store.DedupOpen, store.DedupOverridden, store.DedupRejected:
	default:
		return badRequest("status must be open, overridden or rejected")
	}
	f := store.DedupFilter{Status: st, Limit: 200}
	// A supervisor sees the cases of their station (those they may
	// decide: store.MayDecideDedupCase); an administrator every case.
	if sess := sessionOf(c); sess.role != store.RoleAdmin {
		if sess.station == "" {
			return errf(apiv1.CodeNotApprover, "a supervisor without a station has no cases to decide")
		}
		f.StationID = sess.station
	}
	cs, err := s.st.ListDedupCases(c.UserContext(), f)
	if err != nil {
		return storeErr(err, "cases")
	}
	out := apiv1.CaseList{Cases: make([]apiv1.Case, 0, len(cs))}
	for _, dc := range cs {
		out.Cases = append(out.Cases, caseView(dc))
	}
	return c.JSON(out)
}

// handleKioskOverride: a supervisor of the kiosk's station, logged in with
// their PIN at this kiosk, overrides a suspected duplicate opened at this
// kiosk (the supervisor's confirmation in staff mode, docs/kiosk.md). A
// case of another kiosk does not exist here; the decision is the office
// route's, audited the same way.
func (s *Server) handleKioskOverride(c *fiber.Ctx) error {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || id <= 0 {
		return badRequest("case id must be a positive integer")
	}
	dc, err := s.st.GetDedupCase(c.UserContext(), id)
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && dc.KioskID != kioskOf(c).ID):
		return errf(apiv1.CodeCaseNotFound, "no case %d at this kiosk", id)
	case err != nil:
		return storeErr(err, "case")
	}
	return s.decideCase(store.DedupOverridden)(c)
}

func (s *Server) decideCase(status store.DedupStatus) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := strconv.ParseInt(c.Params("id"), 10, 64)
		if err != nil || id <= 0 {
			return badRequest("case id must be a positive integer")
		}
		var req apiv1.CaseDecision
		if err := decode(c, &req); err != nil {
			return err
		}
		if len([]rune(req.Reason)) < 4 || len(req.Reason) > 500 {
			return badRequest("a reason of 4..500 characters is required")
		}
		sess := sessionOf(c)
		dc, err := s.st.DecideDedupCase(c.UserContext(), audit.Staff(sess.staffID), id, store.DedupDecision{
			Status: status, Supervisor: sess.staffID, Reason: req.Reason, At: s.now(),
		})
		switch {
		case errors.Is(err, store.ErrNotFound):
			return errf(apiv1.CodeCaseNotFound, "no case %d", id)
		case errors.Is(err, store.ErrConflict):
			return errf(apiv1.CodeCaseState, "case %d was already decided", id)
		case errors.Is(err, store.ErrSelfApproval):
			return errf(apiv1.CodeSelfApproval, "the staff member whose enrolment opened case %d may not decide it", id)
		case errors.Is(err, store.ErrNotApprover):
			return errf(apiv1.CodeNotApprover, "only a supervisor of the case's station decides case %d (an administrator: a case without a station)", id)
		case err != nil:
			return storeErr(err, "case")
		}
		return c.JSON(caseView(dc))
	}
}
