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
// gates enrolment at 40 and verification at 100, the kiosk is configured
// with 100 and 100 (its gates until the server says the model's). Through
// the real server: the kiosk learns the model's gates with each capture
// nonce, so enrolment captures between 40 and 100 are accepted by the
// kiosk and by the server (the enrolment goes through), and verification
// captures, below both gates, are retaken with the "not flat" prompt and
// counted as tries, never sent.
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
	const modelEnrol, modelVerify, kioskGate = 40, 100, 100
	o.simGates = &calib.QualityGates{Enrol: modelEnrol, Verify: modelVerify, Rule: "test: enrolment 40, verification 100"}
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

	// Verification: the model's gate is 100, the kiosk's configured one
	// too: every capture is below both, retaken with "not flat" (the
	// finger stays on: the kiosk captures again), and none is sent.
	who := w.firstEnrolled()
	metrics0 := kioskMetrics(t, w.kioskURL)
	w.id.Insert(who.IDNumber)
	wait("finger prompt", func(v kiosk.View) bool { return v.Phase == "place_finger" })
	w.vein.PlaceResident(who.IDNumber, 2)
	deadline := time.Now().Add(40 * time.Second)
	for {
		v, err = k.view(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if v.Phase == "verifying" || v.Phase == "menu" {
			t.Fatalf("a verification capture below both gates was sent (phase %s)", v.Phase)
		}
		if v.Hint == "not_flat" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no retake: phase %s problem %q hint %q tries %d", v.Phase, v.Problem, v.Hint, v.Tries)
		}
		time.Sleep(20 * time.Millisecond)
	}
	w.vein.RemoveFinger()
	if v.Tries < 1 || (v.Phase != "place_finger" && !(v.Phase == "failed" && v.Problem == "too_many_tries")) {
		t.Errorf("a verification capture below both gates: phase %s problem %q tries %d; want it retaken as a try", v.Phase, v.Problem, v.Tries)
	}
	time.Sleep(500 * time.Millisecond) // a capture in flight when the finger left ends
	metrics1 := kioskMetrics(t, w.kioskURL)
	n := metrics1["veinkiosk_capture_quality_count"] - metrics0["veinkiosk_capture_quality_count"]
	if n < 1 {
		t.Errorf("no verification capture was measured")
	}
	if sent := metrics1[`veinkiosk_server_call_seconds_count{op="verify"}`] - metrics0[`veinkiosk_server_call_seconds_count{op="verify"}`]; sent != 0 {
		t.Errorf("%v verification requests sent for captures below both gates", sent)
	}
	t.Logf("%v verification captures (mean quality %.0f) retaken with %s", n,
		(metrics1["veinkiosk_capture_quality_sum"]-metrics0["veinkiosk_capture_quality_sum"])/max(1, n), v.Hint)
	w.id.Remove()
	wait("idle", ready)
}

// kioskMetrics reads the kiosk's /metrics: each sample by its name, and
// by its name with each of its labels alone ({op="verify"}), summed.
func kioskMetrics(t *testing.T, base string) map[string]float64 {
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
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatal(fmt.Errorf("%s: %w", line, err))
		}
		name, labels, _ := strings.Cut(line[:i], "{")
		out[name] += v
		for _, l := range strings.Split(strings.TrimSuffix(labels, "}"), ",") {
			if l != "" {
				out[name+"{"+l+"}"] += v
			}
		}
	}
	if _, ok := out["veinkiosk_capture_quality_count"]; !ok {
		t.Fatalf("the kiosk's /metrics lacks the capture quality histogram")
	}
	return out
}
