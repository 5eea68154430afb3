package attacks

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
)

// TestAttackEnrolmentCheckBurst: with a stolen kiosk key the check before
// the finger (POST /api/v1/kiosk/enrolment-check) tells whether any ID
// number is enrolled, without a capture. A burst of checks that no
// verification follows is cut off after the kiosk's budget (10 in 10 min
// by default, in the store): every further check, of a resident or of an
// ID number nobody has, is 429 rate_limited with the wait, tells nothing,
// and raises an alert (audit verification.enrolment_check_budget_exceeded,
// the metric veinkiosk_enrolment_check_budget_exceeded_total). Another
// kiosk keeps its own budget.
func TestAttackEnrolmentCheckBurst(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		k := tg.newKiosk("kiosk-enum")
		ctx := tg.ctx()
		answered := 0
		for i := 0; i < 20; i++ {
			p := tg.newPerson(fmt.Sprintf("居民%d", i), false)
			_, err := k.EnrolmentCheck(ctx, p.card)
			if err == nil {
				answered++
				continue
			}
			refused(t, err, http.StatusTooManyRequests, apiv1.CodeRateLimited)
			if ae := err.(*apiv1.Error); ae.RetryAfterSeconds <= 0 {
				t.Fatalf("check %d: refused without a wait: %+v", i+1, ae)
			}
		}
		if answered != 10 {
			t.Fatalf("ATTACK SUCCEEDED: %d of a burst of 20 checks answered, want the budget of 10", answered)
		}
		// An ID number nobody has is not told apart either.
		nobody := tg.newPerson("路人", false).card
		birth, err := time.Parse("20060102", nobody.IDNumber[6:14])
		must(t, err)
		nobody.IDNumber = idNumber("110101", birth, 777) // the same card, another region: nobody's
		_, err = k.EnrolmentCheck(ctx, nobody)
		refused(t, err, http.StatusTooManyRequests, apiv1.CodeRateLimited)

		if n := tg.count(`SELECT count(*) FROM audit_events WHERE action = 'verification.enrolment_check_budget_exceeded'`); n != 11 {
			t.Errorf("%d alert audit records, want 11", n)
		}
		resp, err := tg.hc.Get(tg.base + "/metrics")
		must(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), "veinkiosk_enrolment_check_budget_exceeded_total 11\n") {
			t.Errorf("/metrics does not count the 11 refused checks")
		}
		// Another kiosk of the station is not held up by this one.
		if _, err := tg.newKiosk("kiosk-next").EnrolmentCheck(ctx, tg.newPerson("居民", false).card); err != nil {
			t.Fatalf("another kiosk's check: %v", err)
		}
	})
}
