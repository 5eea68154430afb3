package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// Re-enrolment under four eyes (issue 11 item 3).
//
// The rules, each in one place:
//   - enrolmentScope: station staff enrol only at a kiosk of their own
//     station (the session's station, which the staff middleware keeps equal
//     to the account's, must be the kiosk's).
//   - handleEnrol: a resident enrolled before (an enrolment in force, or one
//     deleted on withdrawn consent) is never re-enrolled directly; the new
//     fingers become a pending replacement, sealed in the store, and the
//     enrolment in force (if any) stays until a decision. store.EnrolFirst
//     refuses a first enrolment of anyone enrolled before, in its
//     transaction; bulk enrolment (bulk.go) enrols only through it.
//   - store.DecideReplacement: only an active supervisor of the replacement's
//     station other than the requester decides it (store.ErrSelfApproval,
//     store.ErrNotApprover), once (store.ErrConflict); approval replaces the
//     whole enrolment atomically, rejection discards the new samples.
//   - handleDecideReplacement: an approval names its basis: "match" (the new
//     captures verified against the enrolment in force at the verification
//     threshold when the request was made) or "in_person" (the supervisor
//     checked the card against the person and says so in the reason).

// enrolmentScope refuses enrolment by staff of another station than the
// kiosk's.
func enrolmentScope(sess *session, k *store.Kiosk) error {
	if sess.station == "" || sess.station != k.StationID {
		return errf(apiv1.CodeStationMismatch,
			"staff of station %q may not enrol at a kiosk of station %q", sess.station, k.StationID)
	}
	return nil
}

// requestReplacement stores the new fingers of an enrolled resident as a
// pending replacement and answers 202.
func (s *Server) requestReplacement(c *fiber.Ctx, k *store.Kiosk, sess *session, res store.Resident, fingers []store.ReplacementFinger,
	serial string, previous float64, previousMatch bool, templates int, override *store.DedupCase, consentID string) error {
	ctx := c.UserContext()
	r, err := s.st.RequestReplacement(ctx, audit.Staff(sess.staffID), store.NewReplacement{
		ResidentID: res.ID, RequestedBy: sess.staffID, KioskID: k.ID, StationID: k.StationID, ScannerSerial: serial,
		PreviousScore: previous, PreviousMatch: previousMatch, Fingers: fingers, CreatedAt: s.now(),
	})
	switch {
	case errors.Is(err, store.ErrConflict):
		return errf(apiv1.CodeReplacementPending, "a replacement of this resident's enrolment already awaits a supervisor's decision")
	case errors.Is(err, store.ErrInactive):
		return errf(apiv1.CodeResidentSuspended, "the resident's record is suspended")
	case err != nil:
		return storeErr(err, "replacement")
	}
	// The resident's consent is recorded beside the request.
	if err := s.audit(ctx, audit.Staff(sess.staffID), "enrolment.replacement.consent", "replacement:"+strconv.FormatInt(r.ID, 10),
		map[string]string{"consent": consentID}); err != nil {
		return err
	}
	if override != nil {
		// The overridden dedup case is recorded beside the request.
		if err := s.audit(ctx, audit.Staff(sess.staffID), "enrolment.replacement.case", "replacement:"+strconv.FormatInt(r.ID, 10),
			map[string]string{"case": strconv.FormatInt(override.ID, 10)}); err != nil {
			return err
		}
	}
	s.metrics.enrolments.WithLabelValues("replacement_requested").Inc()
	return c.Status(http.StatusAccepted).JSON(apiv1.EnrolResponse{ResidentID: res.ID, Templates: templates, Pending: true, ReplacementID: r.ID})
}

func (s *Server) replacementView(r store.Replacement) apiv1.Replacement {
	v := apiv1.Replacement{
		ID: r.ID, Status: string(r.Status), ResidentID: r.ResidentID, RequestedBy: r.RequestedBy, KioskID: r.KioskID, StationID: r.StationID,
		PreviousScore: r.PreviousScore, PreviousMatch: r.PreviousMatch, CreatedAt: r.CreatedAt,
		DecidedBy: r.DecidedBy, DecidedAt: r.DecidedAt, Basis: string(r.Basis), Reason: r.Reason, Enrolments: r.Enrolments,
	}
	for _, f := range r.Fingers {
		v.Fingers = append(v.Fingers, apiv1.FingerAt(f.Finger))
	}
	return v
}

// handleListReplacements lists replacements: a supervisor those of their
// station, an admin all. Query: status.
func (s *Server) handleListReplacements(c *fiber.Ctx) error {
	f := store.ReplacementFilter{Status: store.ReplacementStatus(c.Query("status"))}
	switch f.Status {
	case "", store.ReplacementPending, store.ReplacementApproved, store.ReplacementRejected:
	default:
		return badRequest("status must be pending, approved or rejected")
	}
	if sess := sessionOf(c); sess.role != store.RoleAdmin {
		if sess.station == "" {
			return errf(apiv1.CodeNotApprover, "a supervisor without a station has no replacements to decide")
		}
		f.StationID = sess.station
	}
	rs, err := s.st.ListReplacements(c.UserContext(), f)
	if err != nil {
		return storeErr(err, "replacements")
	}
	out := apiv1.ReplacementList{Replacements: make([]apiv1.Replacement, 0, len(rs))}
	for _, r := range rs {
		out.Replacements = append(out.Replacements, s.replacementView(r))
	}
	return c.JSON(out)
}

// handleDecideReplacement approves or rejects a replacement. Who may
// decide is the store's rule, checked in the deciding transaction, so each
// refusal has its own code.
func (s *Server) handleDecideReplacement(approve bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		id, err := strconv.ParseInt(c.Params("id"), 10, 64)
		if err != nil || id <= 0 {
			return badRequest("replacement id must be a positive integer")
		}
		var req apiv1.ReplacementDecision
		if err := decode(c, &req); err != nil {
			return err
		}
		if len([]rune(req.Reason)) < 4 || len(req.Reason) > 500 {
			return badRequest("a reason of 4..500 characters is required")
		}
		d := store.ReplacementDecision{Approve: approve, Supervisor: sessionOf(c).staffID, Reason: req.Reason, At: s.now()}
		if approve {
			switch req.Basis {
			case apiv1.BasisMatch, apiv1.BasisInPerson:
				d.Basis = store.ReplacementBasis(req.Basis)
			default:
				return badRequest("basis must be match or in_person")
			}
		} else if req.Basis != "" {
			return badRequest("a rejection has no basis")
		}
		// An approval makes the new templates active: through
		// commitFenced, as every such write.
		var r store.Replacement
		err, syncErr := s.commitFenced(func() error {
			var err error
			r, err = s.st.DecideReplacement(ctx, audit.Staff(d.Supervisor), id, d)
			return err
		}, func() error {
			if !approve {
				return nil
			}
			res, err := s.st.GetResidentByID(ctx, r.ResidentID)
			if err != nil {
				return storeErr(err, "resident")
			}
			return s.syncGallery(ctx, res)
		})
		if err != nil {
			return replacementErr(err, id)
		}
		if syncErr != nil {
			return syncErr
		}
		if approve {
			s.metrics.enrolments.WithLabelValues("replaced").Inc()
		}
		return c.JSON(s.replacementView(r))
	}
}

func replacementErr(err error, id int64) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errf(apiv1.CodeReplacementNotFound, "no replacement %d", id)
	case errors.Is(err, store.ErrConflict):
		return errf(apiv1.CodeReplacementState, "replacement %d was already decided", id)
	case errors.Is(err, store.ErrSelfApproval):
		return errf(apiv1.CodeSelfApproval, "the staff member who requested replacement %d may not decide it", id)
	case errors.Is(err, store.ErrNotApprover):
		return errf(apiv1.CodeNotApprover, "only a supervisor of the replacement's station decides replacement %d", id)
	case errors.Is(err, store.ErrNoPreviousMatch):
		// Said only to an approver (the store decides who first), who
		// reads the score in the list; no one else learns it.
		return errf(apiv1.CodePreviousNoMatch, "the new captures of replacement %d did not verify against the enrolment in force; approve on an in-person check of the card instead", id)
	case errors.Is(err, store.ErrInactive):
		return errf(apiv1.CodeResidentSuspended, "the resident's record is suspended")
	}
	return storeErr(err, "replacement")
}

// handleEnrolmentHistory returns a resident's enrolments (in force and
// superseded) and replacement requests with their decisions.
func (s *Server) handleEnrolmentHistory(c *fiber.Ctx) error {
	ctx := c.UserContext()
	var req apiv1.EnrolmentHistoryRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	res, err := s.st.GetResident(ctx, req.IDNumber)
	if errors.Is(err, store.ErrNotFound) {
		return errf(apiv1.CodeResidentUnknown, "no resident record for this ID number")
	} else if err != nil {
		return storeErr(err, "resident")
	}
	es, err := s.st.EnrolmentHistory(ctx, res.ID)
	if err != nil {
		return storeErr(err, "enrolments")
	}
	rs, err := s.st.ListReplacements(ctx, store.ReplacementFilter{ResidentID: res.ID, Limit: 1000})
	if err != nil {
		return storeErr(err, "replacements")
	}
	byEnrolment := map[int64]int64{}
	out := apiv1.EnrolmentHistory{ResidentID: res.ID, Enrolments: make([]apiv1.EnrolmentRecord, 0, len(es)), Replacements: make([]apiv1.Replacement, 0, len(rs))}
	for _, r := range rs {
		for _, id := range r.Enrolments {
			byEnrolment[id] = r.ID
		}
		out.Replacements = append(out.Replacements, s.replacementView(r))
	}
	for _, e := range es {
		out.Enrolments = append(out.Enrolments, apiv1.EnrolmentRecord{
			ID: e.ID, Finger: apiv1.FingerAt(e.Finger), EnrolledBy: e.EnrolledBy, KioskID: e.KioskID,
			CreatedAt: e.CreatedAt, SupersededAt: e.SupersededAt, ReplacementID: byEnrolment[e.ID],
		})
	}
	cs, err := s.st.ListConsents(ctx, res.ID)
	if err != nil {
		return storeErr(err, "consents")
	}
	out.Consents = make([]apiv1.Consent, 0, len(cs))
	for _, cn := range cs {
		out.Consents = append(out.Consents, apiv1.Consent{ID: cn.ID, TextVersion: cn.TextVersion, ConsentedAt: cn.ConsentedAt, StaffID: cn.StaffID, KioskID: cn.KioskID})
	}
	if err := s.audit(ctx, audit.Staff(sessionOf(c).staffID), "enrolment.history.read", "resident:"+strconv.FormatInt(res.ID, 10), nil); err != nil {
		return err
	}
	return c.JSON(out)
}
