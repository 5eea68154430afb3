package api

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/store"
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

// TestEnrolmentCheckBudget: a kiosk's checks that no verification follows
// are bounded (here 3 in 10 min), unknown ID numbers included; the refusal
// is 429 rate_limited with the wait, counted and audited as an alert; a
// verification of the resident frees the kiosk's checks of them; another
// kiosk has its own budget; the window slides.
func TestEnrolmentCheckBudget(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.EnrolmentCheckBudget = store.CheckBudget{Max: 3, Window: 10 * time.Minute} })
	ctx := context.Background()
	e.mustStaff("zhang", "station_staff", "", "QS-S01")
	k, k2 := e.newKiosk("kiosk-01"), e.newKiosk("kiosk-02")
	p := e.newPerson("钱多", time.Date(1955, 7, 8, 0, 0, 0, 0, time.UTC))
	e.enrol(e.atKiosk(k, "zhang"), p)
	a := e.newPerson("孙少", time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC))
	b := e.newPerson("赵老", time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC))
	stranger := a.card
	stranger.IDNumber = "110101199001011237"

	must[*apiv1.EnrolmentCheck](t)(k.EnrolmentCheck(ctx, p.card))
	must[*apiv1.EnrolmentCheck](t)(k.EnrolmentCheck(ctx, a.card))
	_, err := k.EnrolmentCheck(ctx, stranger) // unknown: counted too
	if code := apiv1.ErrorCode(err); code != apiv1.CodeResidentUnknown && code != apiv1.CodeCardInvalid {
		t.Fatalf("stranger: %v", err)
	}
	e.clock.Add(time.Minute)
	_, err = k.EnrolmentCheck(ctx, b.card)
	wantStatus(t, err, 429, apiv1.CodeRateLimited)
	if ra := err.(*apiv1.Error).RetryAfterSeconds; ra != 9*60 {
		t.Errorf("retry after %d s, want %d", ra, 9*60)
	}
	_, err = k.EnrolmentCheck(ctx, stranger) // no answer, not even "unknown"
	wantStatus(t, err, 429, apiv1.CodeRateLimited)
	must[*apiv1.EnrolmentCheck](t)(k2.EnrolmentCheck(ctx, b.card))
	if _, _, body := e.raw(httptestGet("/metrics")); !strings.Contains(string(body), "veinkiosk_enrolment_check_budget_exceeded_total 2\n") {
		t.Errorf("/metrics lacks the 2 refused checks")
	}
	recs, err := e.st.ListAudit(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	alerts := 0
	for _, r := range recs {
		if r.Action == "verification.enrolment_check_budget_exceeded" && r.Details["kiosk"] == "kiosk-01" {
			alerts++
		}
	}
	if alerts != 2 {
		t.Errorf("%d alert audit records, want 2", alerts)
	}
	// p verifies at the kiosk: p's check is answered, one check is free.
	must[*apiv1.VerifyResponse](t)(k.Verify(ctx, e.verifyRequest(k, p, p.fingers[apiv1.RightIndex])))
	must[*apiv1.EnrolmentCheck](t)(k.EnrolmentCheck(ctx, b.card))
	_, err = k.EnrolmentCheck(ctx, b.card)
	wantStatus(t, err, 429, apiv1.CodeRateLimited)
	// The window slides: the first checks leave it after 10 min.
	e.clock.Add(9*time.Minute + time.Second)
	must[*apiv1.EnrolmentCheck](t)(k.EnrolmentCheck(ctx, b.card))
}
