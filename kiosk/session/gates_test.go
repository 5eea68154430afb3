package session

import (
	"testing"
)

// TestServerGatesJudgeCaptures: a capture is judged by the quality gates
// the server said with its nonce for the scanner's model, not by the
// configured ones (which apply only until the server says its own); the
// last gates said stay in force for a capture whose nonce said none; a
// configured floor only makes the kiosk stricter. The retake prompt is the
// same "not flat" hint whichever gate refused.
func TestServerGatesJudgeCaptures(t *testing.T) {
	fvusm := &Gates{Enrol: 40, Verify: 40, From: "server"} // a model whose calibration chose 40/40
	strict := &Gates{Enrol: 70, Verify: 60, From: "server"}
	for _, tc := range []struct {
		name         string
		floorE       int
		floorV       int
		learnt       *Gates // said with an earlier capture
		said         *Gates // said with this capture's nonce
		quality      int
		enrolOK      bool
		verifyOK     bool
		wantInForce  Gates
		wantRetakeEn bool
	}{
		// Between the server's gate (40) and the kiosk's configured
		// enrolment gate (50): the server accepts it, so does the kiosk.
		{name: "between the model's gates and the defaults", said: fvusm, quality: 45, enrolOK: true, verifyOK: true, wantInForce: Gates{40, 40, "server"}},
		{name: "below both", said: fvusm, quality: 35, wantInForce: Gates{40, 40, "server"}},
		{name: "at the model's gate", said: fvusm, quality: 40, enrolOK: true, verifyOK: true, wantInForce: Gates{40, 40, "server"}},
		// A model stricter than the defaults: the kiosk does not send
		// what the server will refuse.
		{name: "stricter model", said: strict, quality: 55, wantInForce: Gates{70, 60, "server"}},
		{name: "stricter model, verification only", said: strict, quality: 65, verifyOK: true, wantInForce: Gates{70, 60, "server"}},
		// No gates said: the last said stay in force, else the configured.
		{name: "nonce said none, learnt earlier", learnt: fvusm, quality: 45, enrolOK: true, verifyOK: true, wantInForce: Gates{40, 40, "server"}},
		{name: "never said: the configured gates", quality: 45, verifyOK: true, wantInForce: Gates{50, 40, "config"}},
		// The configured floor raises the server's gate, never lowers it.
		{name: "floor above the server's", floorE: 48, floorV: 46, said: fvusm, quality: 45, wantInForce: Gates{48, 46, "server"}},
		{name: "floor below the server's", floorE: 30, floorV: 30, said: strict, quality: 65, verifyOK: true, wantInForce: Gates{70, 60, "server"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.EnrolQualityFloor, cfg.VerifyQualityFloor = tc.floorE, tc.floorV
			smp := Sample{Quality: tc.quality, Template: []byte{1}}

			// Verification.
			m := New(cfg, keys(), t0)
			if tc.learnt != nil {
				m.learn(tc.learnt)
			}
			m.Step(CardRead{alice}, t0)
			m.Step(Checked{Gen: m.State().Gen}, t0)
			m.Step(Captured{Gen: m.State().Gen, Sample: smp, Gates: tc.said}, t0)
			st := m.State()
			if tc.verifyOK && st.Phase != Verifying {
				t.Errorf("verification: quality %d: phase %s hint %q, want verifying", tc.quality, st.Phase, st.Hint)
			}
			if !tc.verifyOK && (st.Phase != PlaceFinger || st.Hint != HintNotFlat || st.Tries != 1) {
				t.Errorf("verification: quality %d: phase %s hint %q tries %d, want place_finger %q (a try)", tc.quality, st.Phase, st.Hint, st.Tries, HintNotFlat)
			}
			if got := m.Gates(); got != tc.wantInForce {
				t.Errorf("gates in force %+v, want %+v", got, tc.wantInForce)
			}

			// Enrolment.
			m = New(cfg, keys(), t0)
			if tc.learnt != nil {
				m.learn(tc.learnt)
			}
			staffLoggedIn(m)
			m.Step(Touch{Action: ActEnrol}, t0)
			m.Step(CardRead{alice}, t0)
			m.Step(Touch{Action: ActConsent}, t0)
			m.Step(Captured{Gen: m.State().Gen, Sample: smp, Gates: tc.said}, t0)
			st = m.State()
			if st.Phase != EnrolCapture || st.LastQuality != tc.quality {
				t.Fatalf("enrolment: phase %s last quality %d", st.Phase, st.LastQuality)
			}
			cur := st.Enrol[0]
			if tc.enrolOK && (len(cur.Accepted) != 1 || st.Hint != "") {
				t.Errorf("enrolment: quality %d: accepted %d hint %q, want accepted", tc.quality, len(cur.Accepted), st.Hint)
			}
			if !tc.enrolOK && (len(cur.Accepted) != 0 || cur.Rejected != 1 || st.Hint != HintNotFlat) {
				t.Errorf("enrolment: quality %d: accepted %d rejected %d hint %q, want a retake with %q", tc.quality, len(cur.Accepted), cur.Rejected, st.Hint, HintNotFlat)
			}
		})
	}
}

// TestGatesOutliveTheSession: the gates learnt are no one's data: a new
// session (after the wipe) keeps them.
func TestGatesOutliveTheSession(t *testing.T) {
	m := New(DefaultConfig(), keys(), t0)
	m.Step(CardRead{alice}, t0)
	m.Step(Checked{Gen: m.State().Gen}, t0)
	m.Step(Captured{Gen: m.State().Gen, Sample: Sample{Quality: 45, Template: []byte{1}}, Gates: &Gates{Enrol: 40, Verify: 35, From: "server"}}, t0)
	m.Step(CardRemoved{}, t0)
	if st := m.State(); st.Phase != Idle {
		t.Fatalf("phase %s", st.Phase)
	}
	if g := m.Gates(); g != (Gates{40, 35, "server"}) {
		t.Errorf("after the session: %+v", g)
	}
}
