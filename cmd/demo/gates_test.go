package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/kiosk"
	"github.com/qingshan-gov/veinkiosk/matcher/calib"
	"github.com/qingshan-gov/veinkiosk/simulators/deck"
)

// TestKioskTakesModelGatesRealServer: the simulator model's calibration
// gates enrolment at 40 and verification at 99, the kiosk is configured
// with 100 and 100 (its gates until the server says the model's). Through
// the real server: the kiosk learns the model's gates with each capture
// nonce, so enrolment captures between 40 and 100 are accepted by the
// kiosk and by the server (the enrolment goes through), and a verification
// capture below both 99 and 100 is retaken with the "not flat" prompt and
// counted as a try, never sent.
func TestKioskTakesModelGatesRealServer(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o, err := parse([]string{"--scripted", "--residents", "1000", "--enrol-now", "4"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	const modelEnrol, modelVerify, kioskGate = 40, 99, 100
	o.simGates = &calib.QualityGates{Enrol: modelEnrol, Verify: modelVerify, Rule: "test: enrolment 40, verification 99"}
	o.tuneKiosk = func(c *kiosk.Config) { c.EnrolMinQuality, c.VerifyMinQuality = kioskGate, kioskGate }
	logs := &lockedBuffer{}
	w, err := startWorld(ctx, o, slog.New(slog.NewTextHandler(logs, nil)), func(string, ...any) {})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); w.close() }()
	k := kioskClient{base: w.kioskURL}
	wait := func(what string, cond func(kiosk.View) bool) kiosk.View {
		t.Helper()
		v, err := k.wait(ctx, what, 40*time.Second, cond)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	touch := func(action string, values map[string]string) {
		t.Helper()
		if err := k.touch(ctx, action, "", values); err != nil {
			t.Fatal(err)
		}
	}
	ready := func(v kiosk.View) bool {
		return v.Phase == "idle" && !v.CardPresent && v.ServerUp && len(v.Devices) == 2 && v.Devices[0].Connected && v.Devices[1].Connected
	}
	wait("ready", ready)
	var newcomer *deck.Resident
	for _, r := range w.people {
		if w.skipped[r.IDNumber] && validCard(r, time.Now()) {
			newcomer = r
			break
		}
	}

	// Enrolment: every capture at or above the model's 40 is accepted,
	// below it retaken with "not flat"; the kiosk's own 100 plays no part.
	touch("staff", nil)
	wait("login", func(v kiosk.View) bool { return v.Phase == "staff_login" })
	touch("login", map[string]string{"user": staffUser, "pin": staffPIN})
	wait("staff menu", func(v kiosk.View) bool { return v.Phase == "staff_menu" })
	touch("enrol", nil)
	wait("enrol card", func(v kiosk.View) bool { return v.Phase == "enrol_card" })
	if err := w.id.Insert(newcomer.IDNumber); err != nil {
		t.Fatal(err)
	}
	wait("consent", func(v kiosk.View) bool { return v.Phase == "enrol_consent" })
	touch("consent", nil)
	wait("captures", func(v kiosk.View) bool { return v.Phase == "enrol_capture" })
	for i, pos := range []int{2, 2, 2, 7, 7, 7} {
		placeAccepted(t, ctx, w, k, newcomer.IDNumber, pos, i+1)
	}
	v := wait("captured", func(v kiosk.View) bool { return v.Enrol != nil && v.Enrol.Complete })
	if v.Enrol.MinQuality != modelEnrol {
		t.Errorf("the enrolment screen shows the gate %d, want the model's %d", v.Enrol.MinQuality, modelEnrol)
	}
	var qs []int
	for _, f := range v.Enrol.Fingers {
		qs = append(qs, f.Qualities...)
	}
	between := 0
	for _, q := range qs {
		if q < modelEnrol {
			t.Errorf("a capture of quality %d was accepted below the model's gate %d", q, modelEnrol)
		}
		if q < kioskGate {
			between++
		}
	}
	if between == 0 {
		t.Fatalf("no accepted capture lies between the gates (%v): the test proves nothing", qs)
	}
	t.Logf("enrolment captures accepted at qualities %v (model gate %d, kiosk's configured %d)", qs, modelEnrol, kioskGate)
	send := func() kiosk.View {
		touch("confirm", nil)
		return wait("enrolled", func(v kiosk.View) bool {
			return v.Phase == "enrol_done" || v.Phase == "enrol_supervisor" || (v.Phase == "enrol_capture" && v.Problem != "")
		})
	}
	v = retakeInconsistent(t, ctx, w, k, newcomer.IDNumber, send(), send)
	if v.Phase != "enrol_done" {
		t.Fatalf("the server did not take the enrolment: %s %q\n%s", v.Phase, v.Problem, grepLines(logs.String(), "quality", "enrol"))
	}
	w.id.Remove()
	touch("logout", nil)
	wait("idle", ready)

	// Verification: a capture below the model's 99 (and the kiosk's 100)
	// is retaken with "not flat", a try, and not sent.
	who := w.firstEnrolled()
	sum0, n0 := captureQuality(t, w.kioskURL)
	w.id.Insert(who.IDNumber)
	wait("finger prompt", func(v kiosk.View) bool { return v.Phase == "place_finger" })
	w.vein.PlaceResident(who.IDNumber, 2)
	v = wait("retake", func(v kiosk.View) bool { return v.Hint != "" || v.Phase != "place_finger" })
	w.vein.RemoveFinger()
	sum1, n1 := captureQuality(t, w.kioskURL)
	q := -1 // an image that did not extract: quality 0, not measured
	switch n1 - n0 {
	case 0:
	case 1:
		q = int(sum1 - sum0)
	default:
		t.Fatalf("%v captures measured, want 1", n1-n0)
	}
	if q >= modelVerify {
		t.Skipf("the capture's quality %d is not below the model's verification gate %d", q, modelVerify)
	}
	if v.Phase != "place_finger" || v.Hint != "not_flat" || v.Tries != 1 {
		t.Errorf("a verification capture of quality %d (model gate %d): phase %s hint %q tries %d; want place_finger, not_flat, 1 try", q, modelVerify, v.Phase, v.Hint, v.Tries)
	}
	t.Logf("verification capture of quality %d retaken (%s)", q, v.Hint)
	w.id.Remove()
	wait("idle", ready)
}

// captureQuality reads the kiosk's capture quality histogram: the sum of
// the qualities and the number of captures measured.
func captureQuality(t *testing.T, base string) (sum, n float64) {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, line := range strings.Split(string(b), "\n") {
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		p := &sum
		switch name {
		case "veinkiosk_capture_quality_sum":
		case "veinkiosk_capture_quality_count":
			p = &n
		default:
			continue
		}
		if *p, err = strconv.ParseFloat(val, 64); err != nil {
			t.Fatal(fmt.Errorf("%s: %w", line, err))
		}
		found++
	}
	if found != 2 {
		t.Fatalf("the kiosk's /metrics lacks the capture quality histogram")
	}
	return sum, n
}
