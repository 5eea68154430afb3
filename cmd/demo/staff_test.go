package main

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/kiosk"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/simulators/deck"
)

// TestStaffDuplicateNeedsSupervisor enrols, at the kiosk and against the
// real server, a resident whose veins belong to someone already enrolled:
// the server opens a duplicate case, the station staff cannot finish alone,
// a wrong supervisor password is refused, the supervisor's confirmation
// overrides the case and the enrolment goes through.
func TestStaffDuplicateNeedsSupervisor(t *testing.T) {
	d := startDemo(t, "--residents", "1000", "--enrol-now", "4")
	ctx, w, k := d.ctx, d.w, d.k
	touch := func(action, arg string, values map[string]string) {
		t.Helper()
		if err := k.touch(ctx, action, arg, values); err != nil {
			t.Fatal(err)
		}
	}
	d.wait("ready", func(v kiosk.View) bool {
		return v.Phase == "idle" && !v.CardPresent && v.ServerUp && len(v.Devices) == 2 && v.Devices[0].Connected && v.Devices[1].Connected
	})
	enrolled := w.firstEnrolled() // whose fingers will be placed
	var newcomer *deck.Resident
	for _, r := range w.people {
		if w.skipped[r.IDNumber] && validCard(r, time.Now()) {
			newcomer = r
			break
		}
	}
	touch("staff", "", nil)
	d.wait("login", func(v kiosk.View) bool { return v.Phase == "staff_login" })
	touch("login", "", map[string]string{"user": staffUser, "pin": staffPIN})
	d.wait("staff menu", func(v kiosk.View) bool { return v.Phase == "staff_menu" })
	touch("enrol", "", nil)
	d.wait("enrol card", func(v kiosk.View) bool { return v.Phase == "enrol_card" })
	if err := w.id.Insert(newcomer.IDNumber); err != nil {
		t.Fatal(err)
	}
	// The resident's consent first, sent with the enrolment to the real
	// server (which refuses an enrolment without it).
	d.wait("consent", func(v kiosk.View) bool { return v.Phase == "enrol_consent" })
	touch("consent", "", nil)
	d.wait("captures", func(v kiosk.View) bool { return v.Phase == "enrol_capture" })
	capture6 := func() {
		t.Helper()
		for i, pos := range []int{2, 2, 2, 7, 7, 7} {
			placeAccepted(t, ctx, w, k, enrolled.IDNumber, pos, i+1)
		}
	}
	capture6()
	send := func(what string) func() kiosk.View {
		return func() kiosk.View {
			touch("confirm", "", nil)
			return d.wait(what, func(v kiosk.View) bool {
				return v.Phase == "enrol_supervisor" || v.Phase == "enrol_done" || (v.Phase == "enrol_capture" && v.Problem != "" && v.Problem != "recapture")
			})
		}
	}
	v := retakeInconsistent(t, ctx, w, k, enrolled.IDNumber, send("duplicate case")(), send("duplicate case"))
	if v.Phase != "enrol_supervisor" {
		t.Fatalf("enrolling someone else's veins: phase %s problem %q; want a supervisor confirmation", v.Phase, v.Problem)
	}
	// The station staff's own PIN is not a supervisor's.
	touch("supervisor", "", map[string]string{"user": staffUser, "pin": staffPIN})
	v = d.wait("refusal", func(v kiosk.View) bool { return v.Phase == "enrol_supervisor" && v.Problem != "" })
	if v.Problem != "login_failed" {
		t.Fatalf("non-supervisor confirmation: problem %q", v.Problem)
	}
	touch("supervisor", "", map[string]string{"user": supervisorUser, "pin": supervisorPIN})
	v = d.wait("recapture", func(v kiosk.View) bool {
		return v.Phase == "enrol_capture" || (v.Phase == "enrol_supervisor" && v.Problem != "" && v.Problem != "login_failed")
	})
	if v.Phase != "enrol_capture" || v.Problem != "recapture" {
		t.Fatalf("after the supervisor: %s %q", v.Phase, v.Problem)
	}
	capture6()
	v = retakeInconsistent(t, ctx, w, k, enrolled.IDNumber, send("enrolled")(), send("enrolled"))
	if v.Phase != "enrol_done" {
		t.Fatalf("after the supervisor: %s %q\n%s", v.Phase, v.Problem, d.logs.String())
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// placeAccepted places a finger for an enrolment capture and waits until
// total captures are accepted; a capture the kiosk refuses (the simulator's
// quality varies as a real finger's does) is retaken, as the staff would.
func placeAccepted(t *testing.T, ctx context.Context, w *world, k kioskClient, id string, pos, total int) {
	t.Helper()
	for try := 0; try < 8; try++ {
		if err := w.vein.PlaceResident(id, pos); err != nil {
			t.Fatal(err)
		}
		v, err := k.wait(ctx, "capture", 40*time.Second, func(v kiosk.View) bool {
			if v.Enrol == nil {
				return false
			}
			n := 0
			for _, f := range v.Enrol.Fingers {
				n += f.Accepted
			}
			return n >= total || v.Hint != ""
		})
		w.vein.RemoveFinger()
		time.Sleep(400 * time.Millisecond) // a person lifts the finger before placing it again
		if err != nil {
			t.Fatal(err)
		}
		if v.Hint == "" {
			return
		}
		t.Logf("capture %d refused (%s, quality %d): retake", total, v.Hint, v.Enrol.LastQuality)
		if err := k.touch(ctx, "retake", "", nil); err != nil {
			t.Fatal(err)
		}
		if _, err := k.wait(ctx, "retake", 10*time.Second, func(v kiosk.View) bool { return v.Hint == "" }); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatalf("capture %d refused 8 times", total)
}

// retakeInconsistent answers the server's enrolment_inconsistent as the
// staff would (the simulator's captures of one finger vary as a real
// finger's do, so now and then one matches none of the others): the kiosk
// has dropped the captures the server named and asks for that finger
// again, so the resident's fingers are placed until every finger has its
// captures, and send (which confirms and waits for the outcome) runs
// again. v is the outcome of the last send; the first other outcome is
// returned.
func retakeInconsistent(t *testing.T, ctx context.Context, w *world, k kioskClient, id string, v kiosk.View, send func() kiosk.View) kiosk.View {
	t.Helper()
	for try := 0; v.Phase == "enrol_capture" && v.Problem == "enrol_inconsistent"; try++ {
		if try == 3 {
			t.Fatalf("the server refused the captures as inconsistent %d times", try)
		}
		for v.Enrol != nil && !v.Enrol.Complete {
			have, cur := 0, v.Enrol.Fingers[v.Enrol.Current]
			for _, f := range v.Enrol.Fingers {
				have += f.Accepted
			}
			t.Logf("the server found the captures of %s inconsistent: retake", cur.Finger)
			placeAccepted(t, ctx, w, k, id, apiv1.Finger(cur.Finger).Position(), have+1)
			var err error
			if v, err = k.wait(ctx, "view", 10*time.Second, func(kiosk.View) bool { return true }); err != nil {
				t.Fatal(err)
			}
		}
		v = send()
	}
	return v
}
