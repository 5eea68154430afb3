package attacks

import (
	"fmt"
	"testing"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// TestAttackAssistCalls: the calls for staff (呼叫工作人员) of one station
// are neither visible to nor answerable by another station's staff, an
// unsigned caller cannot raise one, and a kiosk pressing the button in a
// loop does not flood the audit chain.
func TestAttackAssistCalls(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		ctx := tg.ctx()
		k := tg.newKiosk("kiosk-a1")
		var first apiv1.AssistCall
		must(t, k.Do(ctx, "POST", apiv1.PathKioskAssist, apiv1.AssistRequest{Reason: apiv1.AssistResident}, &first))
		// Unsigned: refused before anything is recorded.
		if err := tg.client().Do(ctx, "POST", apiv1.PathKioskAssist, apiv1.AssistRequest{Reason: apiv1.AssistResident}, nil); err == nil {
			t.Fatal("ATTACK SUCCEEDED: an unsigned request raised a call")
		}
		// A flood from one kiosk: one record.
		for range 50 {
			var c apiv1.AssistCall
			must(t, k.Do(ctx, "POST", apiv1.PathKioskAssist, apiv1.AssistRequest{Reason: apiv1.AssistResident}, &c))
			if c.Seq != 0 {
				t.Fatalf("ATTACK SUCCEEDED: a repeated press within 30 s appended audit record %d", c.Seq)
			}
		}
		tg.station2("QS-S99")
		tg.staffInStore("outsider", store.RoleStationStaff, "", "QS-S99")
		out := tg.login("outsider")
		var l apiv1.AssistList
		must(t, out.Do(ctx, "GET", apiv1.PathAssist, nil, &l))
		if len(l.Calls) != 0 {
			t.Fatalf("ATTACK SUCCEEDED: another station's staff see %d calls", len(l.Calls))
		}
		refused(t, out.Do(ctx, "POST", fmt.Sprintf("%s/%d/ack", apiv1.PathAssist, first.Seq), nil, nil), 404, apiv1.CodeNotFound)
		tg.staffInStore("officer-a", store.RoleDepartmentOfficer, "civil_affairs", "")
		refused(t, tg.login("officer-a").Do(ctx, "GET", apiv1.PathAssist, nil, nil), 403, apiv1.CodeForbidden)
	})
}
