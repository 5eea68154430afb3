package main

import (
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/kiosk"
	"github.com/qingshan-gov/veinkiosk/simulators/deck"
	"github.com/qingshan-gov/veinkiosk/simulators/veinsim"
)

// TestResidentProblemsRealServer: against the real server, drivers and
// simulators, the card checks and guidance a resident meets: an unenrolled
// resident, an expired card, a finger that is not the enrolled one, and a
// scanner unplugged and plugged back.
func TestResidentProblemsRealServer(t *testing.T) {
	d := startDemo(t, "--residents", "1000", "--enrol-now", "4")
	ctx, w, k := d.ctx, d.w, d.k
	// Not d.wait: the journey's wait fails on the card problems this test
	// waits for.
	wait := func(what string, cond func(kiosk.View) bool) kiosk.View {
		t.Helper()
		deadline := time.Now().Add(40 * time.Second)
		for {
			v, err := k.view(ctx)
			if err == nil && cond(v) {
				return v
			}
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s: at %s %q %q devices %+v\n%s", what, v.Phase, v.Problem, v.Hint, v.Devices, grepLines(d.logs.String(), "device", "scanner"))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	ready := func(v kiosk.View) bool {
		return v.Phase == "idle" && !v.CardPresent && v.ServerUp && len(v.Devices) == 2 && v.Devices[0].Connected && v.Devices[1].Connected
	}
	wait("ready", ready)
	now := time.Now()
	var unenrolled, expired *deck.Resident
	for _, r := range w.people {
		switch {
		case unenrolled == nil && w.skipped[r.IDNumber] && validCard(r, now):
			unenrolled = r
		case expired == nil && !validCard(r, now):
			expired = r
		}
	}
	if unenrolled == nil || expired == nil {
		t.Fatal("the deck lacks an unenrolled resident or an expired card")
	}

	// Not enrolled: the server's check says so at once, before any finger.
	w.id.Insert(unenrolled.IDNumber)
	v := wait("not enrolled", func(v kiosk.View) bool { return v.Phase == "card_problem" || v.Phase == "place_finger" })
	if v.Phase != "card_problem" || v.Problem != "not_enrolled" {
		t.Errorf("unenrolled resident: problem %q", v.Problem)
	}
	w.id.Remove()
	wait("idle", ready)

	// An expired card is refused at once, before any finger.
	w.id.Insert(expired.IDNumber)
	v = wait("expired card", func(v kiosk.View) bool { return v.Phase == "card_problem" })
	if v.Problem != "card_expired" {
		t.Errorf("expired card: problem %q", v.Problem)
	}
	w.id.Remove()
	wait("idle", ready)

	// The wrong finger: guidance, then the right one works.
	who := w.firstEnrolled()
	w.id.Insert(who.IDNumber)
	wait("finger prompt", func(v kiosk.View) bool { return v.Phase == "place_finger" })
	w.vein.PlaceResident(who.IDNumber, 3) // right middle: not enrolled
	v = wait("no match", func(v kiosk.View) bool { return v.Phase == "place_finger" && v.Hint != "" || v.Phase == "failed" })
	w.vein.RemoveFinger()
	if v.Hint != "no_match" || v.Tries != 1 {
		t.Fatalf("wrong finger: phase %s hint %q tries %d", v.Phase, v.Hint, v.Tries)
	}
	// The real server's check named the enrolled fingers (right and left
	// index: the demo enrols those) for the screen to show.
	if strings.Join(v.Fingers, ",") != "right_index,left_index" || v.AttemptsLeft != 2 {
		t.Fatalf("wrong finger: fingers %v, attempts left %d (want right_index,left_index and 2)", v.Fingers, v.AttemptsLeft)
	}
	time.Sleep(400 * time.Millisecond)
	// A trembling finger: the scanner reports it present and moving, and
	// the screen says "hold still", not "no finger" (and it is no try).
	if err := w.vein.SetFault(veinsim.FaultFingerMoved); err != nil {
		t.Fatal(err)
	}
	w.vein.PlaceResident(who.IDNumber, 7)
	v = wait("moving", func(v kiosk.View) bool { return v.Hint == "moving" })
	if v.Tries != 1 {
		t.Errorf("a moving finger counted as a try: %d", v.Tries)
	}
	w.vein.RemoveFinger()
	// A capture the scanner cannot expose: its own hint.
	if err := w.vein.SetFault(veinsim.FaultOverExposure); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	w.vein.PlaceResident(who.IDNumber, 7)
	wait("exposure", func(v kiosk.View) bool { return v.Hint == "exposure" })
	w.vein.RemoveFinger()
	if err := w.vein.SetFault(veinsim.FaultNone); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	w.vein.PlaceResident(who.IDNumber, 7)
	wait("menu", func(v kiosk.View) bool { return v.Phase == "menu" })
	w.vein.RemoveFinger()
	k.touch(ctx, "finish", "", nil)
	w.id.Remove()
	wait("idle", ready)

	// The scanner is unplugged while idle: the kiosk notices and shows it,
	// and recovers when it is plugged back.
	w.vein.Unplug()
	wait("scanner down", func(v kiosk.View) bool { return len(v.Devices) == 2 && !v.Devices[1].Connected })
	w.vein.Replug()
	wait("scanner back", ready)
}

func grepLines(s string, words ...string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for _, w := range words {
			if strings.Contains(l, w) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
