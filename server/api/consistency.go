package api

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// The enrolment consistency check (docs/api.md, "Enrolment"): the captures
// of each finger to be stored must match each other, by
// matcher.CheckConsistency at the consistency threshold, which is the
// per-comparison verification threshold in force for the capturing
// scanner's calibration (the highest, if the finger's captures came from
// scanners of several models). At that threshold a stored sample that
// another sample of the finger links to is one a verification would accept
// for it, so a capture of another person's finger cannot be slipped into
// an enrolment without scoring as a false match against it; and a capture
// that matches none of its finger's others (a finger placed otherwise, the
// wrong finger) is asked for again instead of weakening the enrolment for
// years. The check is stateless: it runs before any nonce or counter is
// spent, so the kiosk re-captures only the finger's disagreeing captures
// and sends the rest again.

// enrolCapture is a capture of an enrolment request with its index among
// its finger's captures as sent (captures below the quality gate are
// dropped before the check, so the two differ).
type enrolCapture struct {
	*capture
	sent int
}

// consistencyThreshold is the verification threshold of the finger's
// captures' calibrations: the strictest if they differ.
func (s *Server) consistencyThreshold(caps []enrolCapture) (float64, error) {
	th := 0.0
	for _, c := range caps {
		t, err := s.thresholds(c.model(), c.tmpl)
		if err != nil {
			return 0, err
		}
		th = max(th, t.Verify.Threshold)
	}
	return th, nil
}

// checkConsistency checks every finger of order with enough captures to be
// stored (the others are not stored) and refuses the first inconsistent
// one with enrolment_inconsistent, naming its disagreeing captures; the
// refusal is audited (kiosk, station, finger, captures: no person) and
// counted.
func (s *Server) checkConsistency(ctx context.Context, k *store.Kiosk, staffID int64, order []int, byFinger map[int][]enrolCapture) error {
	for _, pos := range order {
		caps := byFinger[pos]
		if len(caps) < apiv1.EnrolCapturesPerFinger {
			continue
		}
		th, err := s.consistencyThreshold(caps)
		if err != nil {
			return s.apiErr(err)
		}
		ts := make([]*matcher.Template, len(caps))
		for i, c := range caps {
			ts[i] = c.tmpl
		}
		cons, err := matcher.CheckConsistency(ts, th)
		if errors.Is(err, matcher.ErrIncompatible) {
			return errf(apiv1.CodeTemplateInvalid, "the captures of %s cannot be compared with each other: %v", apiv1.FingerAt(pos), err)
		} else if err != nil {
			return fmt.Errorf("consistency of %s: %w", apiv1.FingerAt(pos), err)
		}
		if cons.OK() {
			continue
		}
		f := apiv1.FingerAt(pos)
		e, sent := inconsistency(f, caps, cons)
		s.metrics.enrolments.WithLabelValues("inconsistent").Inc()
		_ = s.audit(ctx, audit.Staff(staffID), "enrolment.inconsistent", "", map[string]string{
			"kiosk": k.ID, "station": k.StationID, "finger": string(f),
			"captures": strconv.Itoa(len(caps)), "disagree": sent,
		})
		return e
	}
	return nil
}

// inconsistency is the enrolment_inconsistent refusal of finger f whose
// captures caps cons found inconsistent, its fields naming the
// disagreeing captures, and their indexes as sent, comma-separated (for
// the audit record). A bulk enrolment's refusal of an item is the same.
func inconsistency(f apiv1.Finger, caps []enrolCapture, cons *matcher.Consistency) (*apiError, string) {
	e := errf(apiv1.CodeEnrolmentInconsistent, "%s", inconsistencyMessage(f, caps, cons))
	e.detail.Fields = map[string]string{}
	sent := make([]string, len(cons.Disagree))
	for i, d := range cons.Disagree {
		why := "matches none of the finger's other captures at the verification threshold"
		if len(cons.Disagree) == len(caps) {
			why = "no two captures of the finger match each other at the verification threshold"
		}
		e.detail.Fields[apiv1.CaptureField(f, caps[d].sent)] = why
		sent[i] = strconv.Itoa(caps[d].sent)
	}
	return e, strings.Join(sent, ",")
}

// inconsistencyMessage says, for people, which captures of f disagree
// (numbered from 1 as the kiosk counts them) and what to do.
func inconsistencyMessage(f apiv1.Finger, caps []enrolCapture, c *matcher.Consistency) string {
	if len(c.Disagree) == len(caps) {
		return fmt.Sprintf("no two of the %d captures of %s match each other: nothing was stored; capture that finger again, placed the same way each time", len(caps), f)
	}
	nums := make([]string, len(c.Disagree))
	for i, d := range c.Disagree {
		nums[i] = strconv.Itoa(caps[d].sent + 1)
	}
	what := "capture " + nums[0] + " of " + string(f) + " matches"
	if len(nums) > 1 {
		what = "captures " + strings.Join(nums, ", ") + " of " + string(f) + " match"
	}
	return what + " none of the finger's other captures: nothing was stored; capture again (the same finger, placed as before)"
}
