package api

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// TestNewReplies: the kiosk's notice of new replies (notice.go). A filing
// decided and a report replied to after the resident's first "my filings"
// are counted at the next verification and marked new in the status; the
// count stays while the resident does not open "my filings" (walking away
// after the menu), and once shown they are no longer new at the visit
// after. Another resident's replies are not counted.
func TestNewReplies(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.mustStaff("zhang", store.RoleStationStaff, "", "QS-S01")
	e.mustStaff("li", store.RoleDepartmentOfficer, "civil_affairs", "")
	e.mustStaff("heat", store.RoleDepartmentOfficer, "heating", "")
	k := e.newKiosk("kiosk-01")
	k2 := e.newKiosk("kiosk-02")
	p := e.newPerson("孙丽华", time.Date(1955, 1, 2, 0, 0, 0, 0, time.UTC))
	p2 := e.newPerson("周建国", time.Date(1956, 3, 4, 0, 0, 0, 0, time.UTC))
	staffK := e.atKiosk(k, "zhang")
	e.enrol(staffK, p)
	e.enrol(staffK, p2)
	visit := func(k *kiosk, p *person) *apiv1.VerifyResponse {
		t.Helper()
		e.clock.Add(time.Minute)
		return must[*apiv1.VerifyResponse](t)(k.Verify(ctx, e.verifyRequest(k, p, p.fingers[apiv1.RightIndex])))
	}
	status := func(k *kiosk, tok string) *apiv1.FilingList {
		t.Helper()
		return must[*apiv1.FilingList](t)(k.Status(ctx, tok))
	}
	newRefs := func(st *apiv1.FilingList) map[string]bool {
		out := map[string]bool{}
		for _, f := range st.Filings {
			if f.New {
				out[f.Reference] = true
			}
		}
		for _, r := range st.Reports {
			if r.New {
				out[r.Reference] = true
			}
		}
		return out
	}

	f := e.fileAt(t, k, p, "temporary_assistance", "new-reply-key-0000001",
		map[string]string{"emergency": "重大疾病", "amount": "3000", "description": "住院", "phone": "13900001111"})
	vr := visit(k, p)
	var rep apiv1.Report
	if err := k.Do(ctx, "POST", apiv1.PathKioskReports, apiv1.SubmitReportRequest{Token: vr.Token, Kind: "cold_radiator", Description: "暖气不热", IdempotencyKey: "new-reply-report-00001"}, &rep); err != nil {
		t.Fatal(err)
	}
	f2 := e.fileAt(t, k, p2, "temporary_assistance", "new-reply-key-0000002",
		map[string]string{"emergency": "重大疾病", "amount": "2000", "description": "住院", "phone": "13900002222"})

	// Visit 1: nothing answered yet; the resident opens "my filings".
	v1 := visit(k, p)
	if v1.NewReplies != 0 {
		t.Fatalf("visit 1: %d new replies, want 0", v1.NewReplies)
	}
	if got := newRefs(status(k, v1.Token)); len(got) != 0 {
		t.Fatalf("visit 1: new %v", got)
	}

	// Replies after visit 1 (and one to the other resident).
	e.clock.Add(time.Hour)
	li, heat := e.login("li"), e.login("heat")
	for _, id := range []int64{f.ID, f2.ID} {
		if err := li.Do(ctx, "POST", apiv1.PathFilings+"/"+itoa(id)+"/decision", apiv1.Decision{Action: "accept", Reply: "已批准"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := heat.Do(ctx, "POST", apiv1.PathReports+"/"+itoa(rep.ID)+"/action", apiv1.ReportAction{Action: "reply", Reply: "已派人维修"}, nil); err != nil {
		t.Fatal(err)
	}

	// Visit 2 at another kiosk: both flagged. The resident walks away from
	// the menu without opening "my filings".
	if v := visit(k2, p); v.NewReplies != 2 {
		t.Fatalf("visit 2 (walked away): %d new replies, want 2", v.NewReplies)
	}
	// Visit 2 again: still 2; now "my filings" marks both 新.
	v2 := visit(k, p)
	if v2.NewReplies != 2 {
		t.Fatalf("visit 2: %d new replies, want 2", v2.NewReplies)
	}
	if got := newRefs(status(k, v2.Token)); len(got) != 2 || !got[f.Reference] || !got[rep.Reference] {
		t.Fatalf("visit 2: new %v, want %s and %s", got, f.Reference, rep.Reference)
	}
	// Reading it again in the same visit: shown, no longer new.
	if got := newRefs(status(k, v2.Token)); len(got) != 0 {
		t.Fatalf("visit 2, read again: new %v", got)
	}

	// Visit 3: nothing new.
	v3 := visit(k, p)
	if v3.NewReplies != 0 {
		t.Fatalf("visit 3: %d new replies, want 0", v3.NewReplies)
	}
	if got := newRefs(status(k, v3.Token)); len(got) != 0 {
		t.Fatalf("visit 3: new %v", got)
	}
	// The other resident never opened "my filings": their decision counts.
	if v := visit(k, p2); v.NewReplies != 1 {
		t.Fatalf("other resident: %d new replies, want 1", v.NewReplies)
	}
}

// seenFailingStore fails RepliesSeen while fail is set.
type seenFailingStore struct {
	store.Store
	fail atomic.Bool
}

func (s *seenFailingStore) RepliesSeen(ctx context.Context, residentID int64) (time.Time, bool, error) {
	if s.fail.Load() {
		return time.Time{}, false, errors.New("injected: replies seen unreadable")
	}
	return s.Store.RepliesSeen(ctx, residentID)
}

// TestNewRepliesCountFailure: when the count cannot be made the
// verification still answers, without a notice, and the status (which
// needs the seen time to mark items) fails rather than marking wrongly or
// moving the seen time; once the store answers again the reply is new.
func TestNewRepliesCountFailure(t *testing.T) {
	fs := &seenFailingStore{}
	e := newEnv(t, func(c *Config) { fs.Store = c.Store; c.Store = fs })
	ctx := context.Background()
	e.mustStaff("zhang", store.RoleStationStaff, "", "QS-S01")
	k := e.newKiosk("kiosk-01")
	p := e.newPerson("孙丽华", time.Date(1955, 1, 2, 0, 0, 0, 0, time.UTC))
	staffK := e.atKiosk(k, "zhang")
	e.enrol(staffK, p)
	f := e.fileAt(t, k, p, "temporary_assistance", "new-reply-fail-000001",
		map[string]string{"emergency": "重大疾病", "amount": "3000", "description": "住院", "phone": "13900001111"})
	e.mustStaff("li", store.RoleDepartmentOfficer, "civil_affairs", "")
	if err := e.login("li").Do(ctx, "POST", apiv1.PathFilings+"/"+itoa(f.ID)+"/decision", apiv1.Decision{Action: "accept", Reply: "已批准"}, nil); err != nil {
		t.Fatal(err)
	}
	fs.fail.Store(true)
	e.clock.Add(time.Minute)
	vr, err := k.Verify(ctx, e.verifyRequest(k, p, p.fingers[apiv1.RightIndex]))
	if err != nil || vr.Token == "" || vr.NewReplies != 0 {
		t.Fatalf("verify with the count failing: %+v, %v", vr, err)
	}
	if _, err := k.Status(ctx, vr.Token); err == nil {
		t.Fatal("status answered without the seen time")
	}
	fs.fail.Store(false)
	e.clock.Add(time.Minute)
	vr = must[*apiv1.VerifyResponse](t)(k.Verify(ctx, e.verifyRequest(k, p, p.fingers[apiv1.RightIndex])))
	if vr.NewReplies != 1 {
		t.Fatalf("after recovery: %d new replies, want 1", vr.NewReplies)
	}
}
