package main

import (
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/kiosk"
	"github.com/qingshan-gov/veinkiosk/simulators/deck"
)

// TestBrowserRealDevices runs the kiosk screen in headless Chromium against
// the real server, drivers and simulators: a resident's 低保 renewal with the
// on-screen keypad, then a staff enrolment of an unenrolled resident.
func TestBrowserRealDevices(t *testing.T) {
	d := startDemo(t, "--residents", "1000", "--enrol-now", "6")
	ctx, w, k, o := d.ctx, d.w, d.k, d.o
	s := d.openScreen(6 * time.Minute)
	keypad := func(field, value string) {
		t.Helper()
		s.click(`button[data-act="keypad"][data-arg="` + field + `"]`)
		for _, r := range value {
			s.click(`#keypad button[data-key="` + string(r) + `"]`)
		}
		if field == "monthly_income" {
			s.shot("real-02-keypad")
		}
		s.click(`#padok`)
		s.wait(field, func(v kiosk.View) bool {
			for _, f := range v.Form.Fields {
				if f.Key == field {
					return f.Value == value
				}
			}
			return false
		})
	}
	s.wait("ready", func(v kiosk.View) bool {
		return v.Phase == "idle" && !v.CardPresent && v.ServerUp && len(v.Devices) == 2 && v.Devices[0].Connected && v.Devices[1].Connected
	})

	// A resident renews the minimum living allowance.
	var who *deck.Resident
	for _, r := range w.enrol[:o.enrolNow] {
		if r.HasCategory(deck.CategoryDibao) && validCard(r, time.Now()) && w.enrolled(r.IDNumber) {
			who = r
			break
		}
	}
	if who == nil {
		t.Fatal("no enrolled 低保 recipient")
	}
	if err := verify(ctx, w, k, who); err != nil {
		t.Fatal(err)
	}
	s.wait("menu", func(v kiosk.View) bool { return v.Phase == "menu" })
	s.shot("real-01-menu")
	s.click(`button[data-act="choose"][data-arg="dibao_renewal"]`)
	s.wait("form", func(v kiosk.View) bool { return v.Phase == "form" })
	keypad("household_size", "2")
	keypad("monthly_income", "860")
	keypad("phone", "13847200000")
	s.click(`button[data-act="edit"][data-arg="changes"]`) // the first choice: 无变化
	time.Sleep(300 * time.Millisecond)
	s.shot("real-03-form")
	s.click(`button[data-act="confirm"]`)
	v := s.wait("receipt", func(v kiosk.View) bool { return v.Phase == "receipt" || (v.Phase == "form" && v.Problem != "") })
	if v.Phase != "receipt" {
		t.Fatalf("the server refused the form: %s", v.Problem)
	}
	s.shot("real-04-receipt")
	s.click(`button[data-act="finish"]`)
	w.id.Remove()
	s.wait("idle", func(v kiosk.View) bool { return v.Phase == "idle" })

	// Staff enrol a resident who is not enrolled yet.
	var newcomer *deck.Resident
	for _, r := range w.people {
		if w.skipped[r.IDNumber] && validCard(r, time.Now()) {
			newcomer = r
			break
		}
	}
	if newcomer == nil {
		t.Fatal("no unenrolled resident with a valid card")
	}
	// No staff button: staff hold the station's name in the header.
	s.hold("#station", 2300*time.Millisecond)
	s.wait("staff login", func(v kiosk.View) bool { return v.Phase == "staff_login" })
	// No physical keyboard: the on-screen one, and the keypad for the PIN.
	s.kbType("#user", staffUser)
	s.pinType("#pin", staffPIN)
	s.click(`button[data-act="login"]`)
	s.wait("staff menu", func(v kiosk.View) bool { return v.Phase == "staff_menu" })
	s.click(`button[data-act="enrol"]`)
	s.wait("enrol card", func(v kiosk.View) bool { return v.Phase == "enrol_card" })
	if err := w.id.Insert(newcomer.IDNumber); err != nil {
		t.Fatal(err)
	}
	s.wait("consent", func(v kiosk.View) bool { return v.Phase == "enrol_consent" })
	s.click(`button[data-act="consent"]`)
	s.wait("captures", func(v kiosk.View) bool { return v.Phase == "enrol_capture" })
	for i, pos := range []int{2, 2, 2, 7, 7, 7} {
		placeAccepted(t, ctx, w, k, newcomer.IDNumber, pos, i+1)
		if i == 4 {
			s.shot("real-05-enrol-progress")
		}
	}
	send := func() kiosk.View {
		s.click(`button[data-act="confirm"]`)
		return s.wait("enrolment outcome", func(v kiosk.View) bool {
			return v.Phase == "enrol_done" || v.Phase == "enrol_supervisor" || (v.Phase == "enrol_capture" && v.Problem != "")
		})
	}
	v = retakeInconsistent(t, ctx, w, k, newcomer.IDNumber, send(), send)
	if v.Phase == "enrol_capture" {
		t.Fatalf("enrolment refused: %s", v.Problem)
	}
	s.shot("real-06-enrol-" + v.Phase)
}
