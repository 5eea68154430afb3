package api

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
)

// The check before the finger: the enrolled fingers of an enrolled
// resident, "not enrolled" for another, the attempts the lock allows, the
// lock's end while locked, and the errors of unknown cards; every check is
// audited.
func TestEnrolmentCheck(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.KioskFailures = 100 })
	ctx := context.Background()
	e.mustStaff("zhang", "station_staff", "", "QS-S01")
	k := e.newKiosk("kiosk-01")
	p := e.newPerson("钱多", time.Date(1955, 7, 8, 0, 0, 0, 0, time.UTC))
	e.enrol(e.atKiosk(k, "zhang"), p)
	other := e.newPerson("孙少", time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC))

	got := must[*apiv1.EnrolmentCheck](t)(k.EnrolmentCheck(ctx, p.card))
	want := &apiv1.EnrolmentCheck{Enrolled: true, Fingers: []apiv1.Finger{apiv1.RightIndex, apiv1.RightMiddle}, AttemptsLeft: 5}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("enrolled: %+v, want %+v", got, want)
	}
	if got := must[*apiv1.EnrolmentCheck](t)(k.EnrolmentCheck(ctx, other.card)); got.Enrolled || len(got.Fingers) != 0 {
		t.Fatalf("not enrolled: %+v", got)
	}
	for i := 0; i < 2; i++ {
		_, err := k.Verify(ctx, e.verifyRequest(k, p, other.fingers[apiv1.RightIndex]))
		wantCode(t, err, apiv1.CodeNoMatch)
	}
	if got := must[*apiv1.EnrolmentCheck](t)(k.EnrolmentCheck(ctx, p.card)); got.AttemptsLeft != 3 || got.LockedUntil != nil {
		t.Fatalf("after 2 failures: %+v", got)
	}
	for i := 0; i < 3; i++ {
		k.Verify(ctx, e.verifyRequest(k, p, other.fingers[apiv1.RightIndex]))
	}
	got = must[*apiv1.EnrolmentCheck](t)(k.EnrolmentCheck(ctx, p.card))
	if got.LockedUntil == nil || got.AttemptsLeft != 0 || !got.LockedUntil.After(e.clock.Now()) {
		t.Fatalf("locked: %+v", got)
	}
	// Unknown holder, bad card, unsigned caller.
	stranger := other.card
	stranger.IDNumber = "110101199001011237"
	_, err := k.EnrolmentCheck(ctx, stranger)
	if code := apiv1.ErrorCode(err); code != apiv1.CodeResidentUnknown && code != apiv1.CodeCardInvalid {
		t.Fatalf("stranger: %v", err)
	}
	bad := p.card
	bad.IDNumber = "150204195507080000"
	_, err = k.EnrolmentCheck(ctx, bad)
	wantCode(t, err, apiv1.CodeCardInvalid)
	anon := e.client()
	anon.KioskID, anon.KioskKey = "kiosk-01", make([]byte, 64)
	if _, err := anon.EnrolmentCheck(ctx, p.card); err == nil {
		t.Fatal("a request with a wrong key was answered")
	}
	// Audited.
	n := 0
	recs, err := e.st.ListAudit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Action == "verification.enrolment_checked" {
			n++
		}
	}
	if n != 4 {
		t.Errorf("%d enrolment checks audited, want 4", n)
	}
}
