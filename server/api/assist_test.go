package api

import (
	"context"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// TestAssistCalls: a kiosk calls its station's staff (audited, throttled);
// only staff of that station see and acknowledge the call (audited); other
// stations, officers and unsigned callers are refused.
func TestAssistCalls(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.st.CreateStation(ctx, audit.System("test"), store.Station{ID: "QS-S02", Name: "青山二站"}); err != nil {
		t.Fatal(err)
	}
	k := e.newKiosk("K1")
	other := e.newKioskAt("K2", "QS-S02")
	e.mustStaff("liu", store.RoleStationStaff, "", "QS-S01")
	e.mustStaff("wu", store.RoleStationStaff, "", "QS-S02")
	e.mustStaff("officer", store.RoleDepartmentOfficer, "civil", "")
	call := func(c *apiv1.Client, reason string) (apiv1.AssistCall, error) {
		var out apiv1.AssistCall
		err := c.Do(ctx, "POST", apiv1.PathKioskAssist, apiv1.AssistRequest{Reason: reason}, &out)
		return out, err
	}
	first, err := call(k.Client, apiv1.AssistResident)
	if err != nil || first.Seq == 0 || first.Station != "QS-S01" {
		t.Fatalf("call: %+v %v", first, err)
	}
	// Pressed again at once: no second record.
	again, err := call(k.Client, apiv1.AssistResident)
	if err != nil || again.Seq != 0 {
		t.Fatalf("second press: %+v %v", again, err)
	}
	e.clock.Add(31 * time.Second)
	second, err := call(k.Client, apiv1.AssistPrinter)
	if err != nil || second.Seq <= first.Seq {
		t.Fatalf("later call: %+v %v", second, err)
	}
	if _, err := call(other.Client, apiv1.AssistResident); err != nil {
		t.Fatal(err)
	}
	_, err = call(k.Client, "coffee")
	wantCode(t, err, apiv1.CodeBadRequest)
	// Unsigned: not a kiosk.
	_, err = call(e.client(), apiv1.AssistResident)
	if err == nil {
		t.Fatal("an unsigned call was accepted")
	}

	list := func(c *apiv1.Client) ([]apiv1.AssistCall, error) {
		var l apiv1.AssistList
		err := c.Do(ctx, "GET", apiv1.PathAssist, nil, &l)
		return l.Calls, err
	}
	liu, wu := e.login("liu"), e.login("wu")
	calls, err := list(liu)
	if err != nil || len(calls) != 2 || calls[0].Seq != first.Seq || calls[1].Reason != apiv1.AssistPrinter || calls[0].Kiosk != "K1" || calls[0].Acked {
		t.Fatalf("station 1's calls: %+v %v", calls, err)
	}
	if calls, err := list(wu); err != nil || len(calls) != 1 || calls[0].Kiosk != "K2" {
		t.Fatalf("station 2 sees %+v %v", calls, err)
	}
	_, err = list(e.login("officer"))
	wantCode(t, err, apiv1.CodeForbidden)

	ack := func(c *apiv1.Client, seq int64) (apiv1.AssistCall, error) {
		var out apiv1.AssistCall
		err := c.Do(ctx, "POST", apiv1.PathAssist+"/"+fmtInt(seq)+"/ack", nil, &out)
		return out, err
	}
	// Another station's staff cannot answer (or learn of) station 1's call.
	_, err = ack(wu, first.Seq)
	wantCode(t, err, apiv1.CodeNotFound)
	if got, err := ack(liu, first.Seq); err != nil || !got.Acked {
		t.Fatalf("ack: %+v %v", got, err)
	}
	if calls, _ := list(liu); !calls[0].Acked || calls[1].Acked {
		t.Fatalf("after the ack: %+v", calls)
	}
	recs, err := e.st.ListAudit(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	requests, acks := 0, 0
	for _, r := range recs {
		switch r.Action {
		case "assist.request":
			requests++
		case "assist.ack":
			acks++
			if r.Actor.Type != audit.ActorStaff || r.Target != "assist:"+fmtInt(first.Seq) {
				t.Errorf("ack record %+v", r)
			}
		}
	}
	if requests != 3 || acks != 1 {
		t.Fatalf("audit: %d requests, %d acks", requests, acks)
	}
}
