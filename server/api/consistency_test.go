package api

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
)

// The enrolment consistency check, as the kiosk meets it: a finger whose
// captures include one of another finger is refused with
// enrolment_inconsistent, naming the finger and the capture (by its index
// as sent, poor captures dropped before the check counted), nothing is
// stored and no capture is consumed, so the kiosk sends the same request
// again with only that capture taken again, and it is enrolled. The
// refusal is audited without the person.
func TestEnrolmentConsistency(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.mustStaff("zhang", "station_staff", "", "QS-S01")
	k := e.newKiosk("kiosk-01")
	sk := e.atKiosk(k, "zhang")
	p := e.newPerson("钱多", time.Date(1955, 7, 8, 0, 0, 0, 0, time.UTC))
	q := e.newPerson("孙少", time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC))

	req := e.enrolRequest(sk, p)
	// right_index: p, a poor capture (dropped by the quality gate), p, q, p.
	ri := &req.Fingers[0]
	ri.Captures = []apiv1.Capture{
		ri.Captures[0],
		sk.capture(apiv1.RightIndex, e.template(p.fingers[apiv1.RightIndex], apiv1.RightIndex, 5)),
		ri.Captures[1],
		sk.capture(apiv1.RightIndex, e.template(q.fingers[apiv1.RightIndex], apiv1.RightIndex, 80)),
		ri.Captures[2],
	}
	_, err := sk.Enrol(ctx, req)
	wantCode(t, err, apiv1.CodeEnrolmentInconsistent)
	ae := err.(*apiv1.Error)
	if keys := slices.Sorted(maps.Keys(ae.Fields)); !slices.Equal(keys, []string{"right_index[3]"}) {
		t.Fatalf("fields %v, want the fourth capture of right_index", ae.Fields)
	}
	if !strings.Contains(ae.Message, "capture 4 of right_index") {
		t.Errorf("message %q does not name the capture", ae.Message)
	}
	if ens, err := e.st.ResidentEnrolments(ctx, p.card.IDNumber); err != nil || len(ens) != 0 {
		t.Fatalf("after the refusal: %d enrolments (%v)", len(ens), err)
	}

	// The kiosk takes that capture again and sends the rest as they were:
	// their nonces were not spent.
	ri.Captures[3] = sk.capture(apiv1.RightIndex, e.template(p.fingers[apiv1.RightIndex], apiv1.RightIndex, 80))
	r := must[*apiv1.EnrolResponse](t)(sk.Enrol(ctx, req))
	if r.Templates != 4+3 {
		t.Errorf("%d templates stored, want 7", r.Templates)
	}

	// Every capture of the middle finger from someone else, none twice
	// the same person: no two match, all three are named.
	o := e.newPerson("赵一", time.Date(1960, 3, 3, 0, 0, 0, 0, time.UTC))
	req = e.enrolRequest(sk, o)
	for i, x := range []*person{p, q, o} {
		req.Fingers[1].Captures[i] = sk.capture(apiv1.RightMiddle, e.template(x.fingers[apiv1.RightMiddle], apiv1.RightMiddle, 80))
	}
	_, err = sk.Enrol(ctx, req)
	wantCode(t, err, apiv1.CodeEnrolmentInconsistent)
	ae = err.(*apiv1.Error)
	if keys := slices.Sorted(maps.Keys(ae.Fields)); !slices.Equal(keys, []string{"right_middle[0]", "right_middle[1]", "right_middle[2]"}) {
		t.Fatalf("fields %v, want every capture of right_middle", ae.Fields)
	}
	if !strings.Contains(ae.Message, "no two of the 3 captures of right_middle") {
		t.Errorf("message %q", ae.Message)
	}

	recs, err := e.st.ListAudit(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rec := range recs {
		if rec.Action != "enrolment.inconsistent" {
			continue
		}
		got = append(got, rec.Details["finger"]+" "+rec.Details["disagree"]+" of "+rec.Details["captures"])
		if rec.Target != "" || rec.Details["kiosk"] != "kiosk-01" {
			t.Errorf("audit record %+v", rec)
		}
		for _, v := range rec.Details {
			if strings.Contains(v, p.card.IDNumber) || strings.Contains(v, o.card.IDNumber) {
				t.Errorf("audit record %d holds an ID number", rec.Seq)
			}
		}
	}
	if want := []string{"right_index 3 of 4", "right_middle 0,1,2 of 3"}; !slices.Equal(got, want) {
		t.Errorf("audited %q, want %q", got, want)
	}
}
