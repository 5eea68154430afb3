package api

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// Bulk enrolment (issue 11 items 1 and 3): templates no scanner attested,
// from a migration, stored by an administrator. It cannot be tied to a
// device's signature, so it is a migration tool an operator switches on
// (Config.BulkEnrolment), and it can never take over an identity:
//   - off (the default): the route answers bulk_enrolment_off;
//   - only residents never enrolled are enrolled (store.EnrolFirst, whose
//     transaction refuses anyone with an enrolment in force, deleted or
//     superseded): bulk enrolment replaces nothing, and a resident whose
//     enrolment was deleted is re-enrolled only at a kiosk, as a pending
//     replacement a supervisor decides;
//   - exactly 3 templates per finger, at least 2 fingers, each finger's
//     templates consistent (the kiosk's check, consistency.go);
//   - deduplication always runs, except with skip_dedup in unchecked mode.
// An item that fails is refused alone (BulkEnrolResult.Refused) and none
// of its templates is stored; its resident record is imported only if the
// item passed the checks before the import (an item refused later, by
// EnrolFirst's transaction, leaves the record it brought, as an import
// through the residents route would).

// bulkItem is one parsed item of a bulk enrolment.
type bulkItem struct {
	res     store.Resident
	fingers []int
	tmpls   [][]*matcher.Template
	raws    [][][]byte
	refusal *apiError // nil: enrol it
}

func (s *Server) handleBulkEnrol(c *fiber.Ctx) error {
	ctx := c.UserContext()
	sess := sessionOf(c)
	actor := audit.Staff(sess.staffID)
	mode := s.cfg.BulkEnrolment
	if mode == apiv1.BulkOff {
		_ = s.audit(ctx, actor, "enrolment.bulk.refused", "", map[string]string{"mode": mode, "code": apiv1.CodeBulkEnrolmentOff})
		return errf(apiv1.CodeBulkEnrolmentOff,
			"bulk enrolment is off on this server: it takes templates no scanner attested, so it is a migration tool an operator switches on (centrald --bulk-enrolment=migrate)")
	}
	var req apiv1.BulkEnrolRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	if len(req.Items) == 0 || len(req.Items) > 2000 {
		return badRequest("1..2000 items per request")
	}
	if req.SkipDedup && mode != apiv1.BulkUnchecked {
		_ = s.audit(ctx, actor, "enrolment.bulk.refused", "", map[string]string{"mode": mode, "code": apiv1.CodeSkipDedupRefused})
		return errf(apiv1.CodeSkipDedupRefused,
			"skip_dedup is allowed only on a server started with --bulk-enrolment=unchecked (load tests on throwaway data); this one runs %s", mode)
	}
	items, err := s.parseBulkItems(req.Items)
	if err != nil {
		return err
	}
	// Residents already on record: anyone ever enrolled is refused before
	// anything is stored (store.EnrolFirst decides it again, atomically).
	for i := range items {
		it := &items[i]
		if it.refusal != nil {
			continue
		}
		res, err := s.st.GetResident(ctx, it.res.IDNumber)
		if errors.Is(err, store.ErrNotFound) {
			continue
		} else if err != nil {
			return storeErr(err, "resident")
		}
		if res.Status == store.ResidentSuspended {
			it.refusal = errf(apiv1.CodeResidentSuspended, "the resident's record is suspended")
			continue
		}
		hist, err := s.st.EnrolmentHistory(ctx, res.ID)
		if err != nil {
			return storeErr(err, "enrolments")
		}
		if len(hist) > 0 {
			it.refusal = alreadyEnrolled()
		}
	}
	var rs []store.Resident
	for _, it := range items {
		if it.refusal == nil {
			rs = append(rs, it.res)
		}
	}
	if len(rs) > 0 {
		if _, err := s.st.ImportResidents(ctx, actor, rs); err != nil {
			return storeErr(err, "residents")
		}
	}
	out := apiv1.BulkEnrolResult{Mode: mode}
	for i, it := range items {
		if it.refusal == nil {
			dup, err := s.bulkEnrolOne(ctx, sess.staffID, &items[i], !req.SkipDedup)
			if err != nil {
				return err
			}
			if dup != 0 {
				out.Duplicates = append(out.Duplicates, apiv1.BulkDuplicate{Index: i, CaseID: dup})
				continue
			}
		}
		if r := items[i].refusal; r != nil {
			out.Refused = append(out.Refused, apiv1.BulkRefusal{Index: i, Code: r.detail.Code, Message: r.detail.Message, Fields: r.detail.Fields})
			continue
		}
		out.Enrolled++
	}
	for _, r := range out.Refused {
		details := map[string]string{"mode": mode, "index": strconv.Itoa(r.Index), "code": r.Code}
		target := ""
		if res, err := s.st.GetResident(ctx, items[r.Index].res.IDNumber); err == nil {
			target = "resident:" + strconv.FormatInt(res.ID, 10)
		}
		if err := s.audit(ctx, actor, "enrolment.bulk.item_refused", target, details); err != nil {
			return err
		}
	}
	s.metrics.enrolments.WithLabelValues("bulk").Add(float64(out.Enrolled))
	if err := s.audit(ctx, actor, "enrolment.bulk", "", map[string]string{
		"mode": mode, "items": strconv.Itoa(len(items)), "enrolled": strconv.Itoa(out.Enrolled),
		"duplicates": strconv.Itoa(len(out.Duplicates)), "refused": strconv.Itoa(len(out.Refused)), "dedup": strconv.FormatBool(!req.SkipDedup),
	}); err != nil {
		return err
	}
	return c.JSON(out)
}

func alreadyEnrolled() *apiError {
	return errf(apiv1.CodeAlreadyEnrolled,
		"the resident has been enrolled before (an enrolment in force, deleted or superseded): bulk enrolment never replaces; re-enrolment is at a kiosk, approved by a supervisor")
}

// parseBulkItems checks the items without state. A malformed item (a
// resident record, a finger name, a template that does not parse) refuses
// the whole request, as any malformed body; an item that is well formed but
// not enrolable (template count, too few fingers, inconsistent templates)
// is refused alone.
func (s *Server) parseBulkItems(in []apiv1.BulkEnrolItem) ([]bulkItem, error) {
	items := make([]bulkItem, len(in))
	for i, it := range in {
		r, err := residentFromWire(it.Resident)
		if err != nil {
			return nil, badRequest("items[%d]: %v", i, err)
		}
		items[i].res = r
		seen := map[int]bool{}
		for _, f := range it.Fingers {
			pos := f.Finger.Position()
			if pos == 0 {
				return nil, errf(apiv1.CodeFingerInvalid, "items[%d]: finger %q is not one of the ten finger names", i, f.Finger)
			}
			if seen[pos] {
				return nil, badRequest("items[%d]: finger %s listed twice", i, f.Finger)
			}
			seen[pos] = true
			if len(f.Templates) > apiv1.MaxCapturesPerFinger {
				return nil, badRequest("items[%d]: at most %d templates per finger", i, apiv1.MaxCapturesPerFinger)
			}
			var ts []*matcher.Template
			for j, raw := range f.Templates {
				t, err := matcher.ParseTemplate(raw)
				if err != nil {
					return nil, errf(apiv1.CodeTemplateInvalid, "items[%d] %s[%d]: %v", i, f.Finger, j, err)
				}
				ts = append(ts, t)
			}
			items[i].fingers = append(items[i].fingers, pos)
			items[i].tmpls = append(items[i].tmpls, ts)
			items[i].raws = append(items[i].raws, f.Templates)
		}
		items[i].refusal, err = s.checkBulkItem(&items[i])
		if err != nil {
			return nil, err
		}
	}
	return items, nil
}

// checkBulkItem is the stateless refusal of an item, if any: at least
// EnrolFingers fingers, exactly EnrolCapturesPerFinger templates each, and
// each finger's templates consistent at the strictest verification
// threshold of the calibrations of their pipeline (the kiosk's check,
// consistency.go; no scanner vouches for these templates).
func (s *Server) checkBulkItem(it *bulkItem) (*apiError, error) {
	if len(it.fingers) < apiv1.EnrolFingers {
		return errf(apiv1.CodeEnrolmentIncomplete, "%d fingers: a bulk enrolment needs %d fingers of %d templates each", len(it.fingers), apiv1.EnrolFingers, apiv1.EnrolCapturesPerFinger), nil
	}
	for fi, pos := range it.fingers {
		if n := len(it.tmpls[fi]); n != apiv1.EnrolCapturesPerFinger {
			e := errf(apiv1.CodeTemplateCount, "%s has %d templates: a bulk-enrolled finger has exactly %d, as a kiosk enrols", apiv1.FingerAt(pos), n, apiv1.EnrolCapturesPerFinger)
			e.detail.Fields = map[string]string{string(apiv1.FingerAt(pos)): fmt.Sprintf("%d templates, want %d", n, apiv1.EnrolCapturesPerFinger)}
			return e, nil
		}
	}
	for fi, pos := range it.fingers {
		th := 0.0
		for _, t := range it.tmpls[fi] {
			tt, err := s.thresholds("", t)
			if err != nil {
				return nil, s.apiErr(err)
			}
			th = max(th, tt.Verify.Threshold)
		}
		cons, err := matcher.CheckConsistency(it.tmpls[fi], th)
		if errors.Is(err, matcher.ErrIncompatible) {
			return errf(apiv1.CodeTemplateInvalid, "the templates of %s cannot be compared with each other: %v", apiv1.FingerAt(pos), err), nil
		} else if err != nil {
			return nil, fmt.Errorf("consistency of %s: %w", apiv1.FingerAt(pos), err)
		}
		if cons.OK() {
			continue
		}
		caps := make([]enrolCapture, len(it.tmpls[fi]))
		for j := range caps {
			caps[j].sent = j
		}
		e, _ := inconsistency(apiv1.FingerAt(pos), caps, cons)
		s.metrics.enrolments.WithLabelValues("inconsistent").Inc()
		return e, nil
	}
	return nil, nil
}

// bulkEnrolOne deduplicates an item (unless dedup is false) and enrols it
// as its resident's first enrolment. A match with another resident opens a
// case (its id is returned); a refusal of the store (enrolled meanwhile,
// suspended) is set as the item's refusal.
func (s *Server) bulkEnrolOne(ctx context.Context, staffID int64, it *bulkItem, dedup bool) (int64, error) {
	actor := audit.Staff(staffID)
	res, err := s.st.GetResident(ctx, it.res.IDNumber)
	if err != nil {
		return 0, storeErr(err, "resident")
	}
	openCase := func(hit Hit) (int64, error) {
		other, err := s.st.GetResidentByID(ctx, hit.ResidentID)
		if err != nil {
			return 0, storeErr(err, "matched resident")
		}
		dc, err := s.st.CreateDedupCase(ctx, actor, store.DedupCase{IDNumber: res.IDNumber, MatchedIDNumber: other.IDNumber, Finger: hit.Finger, Score: hit.Score, StaffID: staffID, Status: store.DedupOpen})
		if err != nil {
			return 0, storeErr(err, "case")
		}
		return dc.ID, nil
	}
	nf := store.NewFirstEnrolment{IDNumber: res.IDNumber, EnrolledBy: staffID}
	if dedup {
		// The gallery's position before the search: the commit's dedup
		// fence compares the probes with what was committed after it, as
		// for a kiosk enrolment (fence.go).
		searchedAt, err := s.dedupPosition(ctx)
		if err != nil {
			return 0, s.apiErr(err)
		}
		var hit *Hit
		probes := make([]*matcher.Template, len(it.fingers))
		for fi := range it.fingers {
			probes[fi] = it.tmpls[fi][0]
			if hit, err = s.dedup(ctx, res.ID, "", probes[fi], nil); err != nil || hit != nil {
				break
			}
		}
		if err != nil {
			return 0, s.apiErr(err)
		}
		if hit != nil {
			return openCase(*hit)
		}
		fence := s.dedupFence(searchedAt, probes, make([]string, len(probes)), nil)
		nf.Fence = &fence
	}
	var fingers []int
	var all []*matcher.Template
	for fi, pos := range it.fingers {
		rf := store.ReplacementFinger{Finger: pos}
		for j, raw := range it.raws[fi] {
			rf.Samples = append(rf.Samples, store.Sample{Template: raw, AlgorithmVersion: algorithmVersion, Quality: int(it.tmpls[fi][j].Quality)})
			fingers = append(fingers, pos)
			all = append(all, it.tmpls[fi][j])
		}
		nf.Fingers = append(nf.Fingers, rf)
	}
	// The gallery takes the templates at hand (no reload from the store).
	err, galleryErr := s.commitFenced(func() error {
		_, err := s.st.EnrolFirst(ctx, actor, nf)
		return err
	}, func() error { return s.gallery.SetTemplates(res.ID, fingers, all) })
	fh := (*fenceHit)(nil)
	switch {
	case errors.As(err, &fh):
		// A duplicate committed after the search's position: a case, as
		// the search would have opened.
		return openCase(fh.hit)
	case errors.Is(err, store.ErrAlreadyEnrolled):
		it.refusal = alreadyEnrolled() // enrolled since the check (a kiosk, another batch)
		return 0, nil
	case errors.Is(err, store.ErrInactive):
		it.refusal = errf(apiv1.CodeResidentSuspended, "the resident's record is suspended")
		return 0, nil
	case err != nil:
		return 0, storeErr(err, "enrolment")
	}
	if galleryErr != nil {
		return 0, fmt.Errorf("gallery: %w", galleryErr)
	}
	return 0, nil
}
