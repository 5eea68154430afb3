package api

import (
	"context"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
)

// TestDedupSecondFinger: the fingers of an enrolment are searched
// concurrently; a duplicate found only through the second finger opens a
// case for that finger.
func TestDedupSecondFinger(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.mustStaff("zhang", "station_staff", "", "QS-S01")
	k := e.newKiosk("kiosk-01")
	sk := e.atKiosk(k, "zhang")
	a := e.newPerson("甲", time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC))
	b := e.newPerson("乙", time.Date(1951, 1, 1, 0, 0, 0, 0, time.UTC))
	e.enrol(sk, a)
	b.fingers[apiv1.RightMiddle] = a.fingers[apiv1.RightMiddle]
	_, err := sk.Enrol(ctx, e.enrolRequest(sk, b))
	wantCode(t, err, apiv1.CodeDuplicateSuspected)
	dc, err := e.st.GetDedupCase(ctx, err.(*apiv1.Error).CaseID)
	if err != nil {
		t.Fatal(err)
	}
	if dc.Finger != apiv1.RightMiddle.Position() || dc.MatchedIDNumber != a.card.IDNumber {
		t.Errorf("case: finger %d matched %s, want %d %s", dc.Finger, dc.MatchedIDNumber, apiv1.RightMiddle.Position(), a.card.IDNumber)
	}
	// A distinct resident enrols (no hit on either finger).
	c := e.newPerson("丙", time.Date(1952, 1, 1, 0, 0, 0, 0, time.UTC))
	e.enrol(sk, c)
}
