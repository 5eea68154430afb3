package session

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

// detailed is a server answer with details, as the kiosk's client makes.
type detailed struct {
	kind error
	d    Details
}

func (e detailed) Error() string          { return e.kind.Error() }
func (e detailed) Unwrap() error          { return e.kind }
func (e detailed) ServerDetails() Details { return e.d }

// atForm brings a machine to the form of dibao at t0.
func atForm(t *testing.T, cfg Config, f Form) *Machine {
	t.Helper()
	m := New(cfg, keys(), t0)
	for _, ev := range []Event{CardRead{alice}, Checked{Gen: 2}, Captured{Gen: 2, Sample: good},
		Verified{Gen: 2, Match: true, Token: "t"}, CatalogueLoaded{Gen: 2, Services: []Service{dibao}},
		Touch{Action: ActChoose, Arg: dibao.Code}, FormLoaded{Gen: 2, Form: f}} {
		m.Step(ev, t0)
	}
	if m.State().Phase != FormPhase {
		t.Fatalf("not at the form: %s", m.State().Phase)
	}
	return m
}

func TestIdleCountdownAndContinue(t *testing.T) {
	cfg := DefaultConfig() // 90 s idle, warning 20 s before
	m := atForm(t, cfg, form)
	m.Step(Tick{}, t0.Add(69*time.Second))
	if st := m.State(); st.Warning {
		t.Fatal("warning 21 s before the timeout")
	}
	m.Step(Tick{}, t0.Add(70*time.Second))
	st := m.State()
	if !st.Warning || !st.Deadline.Equal(t0.Add(90*time.Second)) {
		t.Fatalf("at 70 s: warning %v deadline %v, want a countdown to 90 s", st.Warning, st.Deadline)
	}
	// "继续办理" (or any touch, a keypad press included) keeps the form.
	m.Step(Touch{Action: ActActivity}, t0.Add(85*time.Second))
	m.Step(Tick{}, t0.Add(100*time.Second))
	if st := m.State(); st.Phase != FormPhase || st.Warning {
		t.Fatalf("after continue: %s warning %v", st.Phase, st.Warning)
	}
	// Slow typing: one digit every 8 s keeps the session for ever.
	for i := 0; i < 30; i++ {
		at := t0.Add(100*time.Second + time.Duration(i)*8*time.Second)
		m.Step(Touch{Action: ActActivity}, at)
		m.Step(Tick{}, at.Add(4*time.Second))
	}
	if st := m.State(); st.Phase != FormPhase {
		t.Fatalf("slow typing lost the form: %s", st.Phase)
	}
	last := m.State().LastActivity
	effs := m.Step(Tick{}, last.Add(90*time.Second))
	st = m.State()
	if st.Phase != Idle || st.Ended != EndTimeout || effectNames(effs) != "Wipe" {
		t.Fatalf("timeout: %s ended %q effects %s", st.Phase, st.Ended, effectNames(effs))
	}
	// The reason stays up for EndedShow, then goes.
	m.Step(Tick{}, last.Add(90*time.Second+cfg.EndedShow))
	if m.State().Ended != "" {
		t.Error("end reason still shown after EndedShow")
	}
}

func TestEndReasons(t *testing.T) {
	for _, tt := range []struct {
		name string
		ev   Event
		at   time.Duration
		want string
	}{
		{"finish", Touch{Action: ActFinish}, time.Second, EndFinished},
		{"card removed", CardRemoved{}, time.Second, EndCardRemoved},
		{"timeout", Tick{}, 90 * time.Second, EndTimeout},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := atForm(t, DefaultConfig(), form)
			m.Step(tt.ev, t0.Add(tt.at))
			if st := m.State(); st.Phase != Idle || st.Ended != tt.want {
				t.Fatalf("%s: ended %q, want %q", st.Phase, st.Ended, tt.want)
			}
		})
	}
}

func TestPendingFilingRetriesUntilFiled(t *testing.T) {
	cfg := DefaultConfig()
	m := atForm(t, cfg, form)
	first := m.Step(Touch{Action: ActConfirm}, t0)[0].(DoSubmit)
	now := t0
	// A long outage: every retry fails; the filing is never dropped and
	// the session never times out under it.
	for i := 0; i < 200; i++ {
		m.Step(Submitted{Gen: 2, Err: fmt.Errorf("dial: %w", ErrUnavailable)}, now)
		if st := m.State(); st.Phase != Unavailable || st.Problem != ProblemSubmitUnsure {
			t.Fatalf("retry %d: %s %q", i, st.Phase, st.Problem)
		}
		if effs := m.Step(Tick{}, now.Add(cfg.RetryInterval-time.Second)); len(effs) != 0 {
			t.Fatalf("retried before the interval: %s", effectNames(effs))
		}
		now = now.Add(cfg.RetryInterval)
		effs := m.Step(Tick{}, now)
		if len(effs) != 1 {
			t.Fatalf("retry %d: effects %s", i, effectNames(effs))
		}
		if again := effs[0].(DoSubmit); again.IdemKey != first.IdemKey || !reflect.DeepEqual(again.Form, first.Form) {
			t.Fatalf("retry %d changed the filing", i)
		}
	}
	m.Step(Submitted{Gen: 2, Receipt: Receipt{Reference: "QS-9"}}, now)
	if st := m.State(); st.Phase != ReceiptPhase || st.Receipt.Reference != "QS-9" {
		t.Fatalf("after the outage: %s", st.Phase)
	}
	// The resident may end it: card removed while waiting.
	m2 := atForm(t, cfg, form)
	m2.Step(Touch{Action: ActConfirm}, t0)
	m2.Step(Submitted{Gen: 2, Err: ErrUnavailable}, t0)
	if effs := m2.Step(CardRemoved{}, t0.Add(time.Hour)); effectNames(effs) != "Wipe" || m2.State().Phase != Idle {
		t.Fatalf("card removed while waiting: %s", effectNames(effs))
	}
}

func TestThrottledWaitsAndContinues(t *testing.T) {
	m := New(DefaultConfig(), keys(), t0)
	m.Step(CardRead{alice}, t0)
	m.Step(Checked{Gen: 2}, t0)
	m.Step(Captured{Gen: 2, Sample: good}, t0)
	thr := detailed{ErrThrottled, Details{RetryAfter: 40 * time.Second, AttemptsLeft: -1}}
	m.Step(Verified{Gen: 2, Err: thr}, t0)
	st := m.State()
	if st.Phase != Unavailable || st.Problem != ProblemThrottled || !st.RetryAt.Equal(t0.Add(40*time.Second)) {
		t.Fatalf("throttled: %s %q retry at %v", st.Phase, st.Problem, st.RetryAt)
	}
	// The server coming back does not cut the wait short, nor does Retry.
	if effs := m.Step(ServerStatus{Up: true}, t0.Add(time.Second)); len(effs) != 0 {
		t.Fatal("retried before the wait")
	}
	if effs := m.Step(Touch{Action: ActRetry}, t0.Add(2*time.Second)); len(effs) != 0 {
		t.Fatal("retry touched before the wait")
	}
	effs := m.Step(Tick{}, t0.Add(40*time.Second))
	if effectNames(effs) != "DoCapture" || m.State().Phase != PlaceFinger {
		t.Fatalf("after the wait: %s %s", m.State().Phase, effectNames(effs))
	}
}

func TestAttemptsLeftAndLock(t *testing.T) {
	m := New(DefaultConfig(), keys(), t0)
	m.Step(CardRead{alice}, t0)
	m.Step(Checked{Gen: 2}, t0)
	m.Step(Captured{Gen: 2, Sample: good}, t0)
	m.Step(Verified{Gen: 2, Err: detailed{ErrNoMatch, Details{AttemptsLeft: 1}}}, t0)
	if st := m.State(); st.Phase != PlaceFinger || st.AttemptsLeft != 1 {
		t.Fatalf("after a miss: %s attempts left %d", st.Phase, st.AttemptsLeft)
	}
	m.Step(Captured{Gen: 2, Sample: good}, t0)
	until := t0.Add(5 * time.Minute)
	m.Step(Verified{Gen: 2, Err: detailed{ErrNoMatch, Details{AttemptsLeft: 0, LockedUntil: until}}}, t0)
	if st := m.State(); st.Phase != Failed || st.Problem != ProblemLocked || !st.LockedUntil.Equal(until) {
		t.Fatalf("last allowed miss: %s %q until %v", st.Phase, st.Problem, st.LockedUntil)
	}
	// Locked on arrival: the wait from retry_after.
	m2 := New(DefaultConfig(), keys(), t0)
	m2.Step(CardRead{alice}, t0)
	m2.Step(Checked{Gen: 2}, t0)
	m2.Step(Captured{Gen: 2, Sample: good}, t0)
	m2.Step(Verified{Gen: 2, Err: detailed{ErrLocked, Details{RetryAfter: 10 * time.Minute, AttemptsLeft: -1}}}, t0)
	if st := m2.State(); st.Problem != ProblemLocked || !st.LockedUntil.Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("locked: %q until %v", st.Problem, st.LockedUntil)
	}
}

func TestMissingFieldsNamed(t *testing.T) {
	f := Form{Service: dibao, Fields: []Field{
		{Key: "name", Value: "张秀英"},
		{Key: "reason", Editable: true, Required: true},
		{Key: "phone", Editable: true, Required: true, Value: " "},
		{Key: "note", Editable: true},
	}}
	m := atForm(t, DefaultConfig(), f)
	if effs := m.Step(Touch{Action: ActConfirm}, t0); len(effs) != 0 {
		t.Fatalf("sent with empty required fields: %s", effectNames(effs))
	}
	st := m.State()
	if st.Problem != ProblemMissing || !reflect.DeepEqual(st.Missing, []string{"reason", "phone"}) {
		t.Fatalf("problem %q missing %v", st.Problem, st.Missing)
	}
	m.Step(Touch{Action: ActEdit, Arg: "reason", Values: map[string]string{"value": "生活困难"}}, t0)
	if st := m.State(); st.Problem != ProblemMissing || !reflect.DeepEqual(st.Missing, []string{"phone"}) {
		t.Fatalf("after one: %q %v", st.Problem, st.Missing)
	}
	m.Step(Touch{Action: ActEdit, Arg: "phone", Values: map[string]string{"value": "13800000000"}}, t0)
	if st := m.State(); st.Problem != "" || len(st.Missing) != 0 {
		t.Fatalf("after both: %q %v", st.Problem, st.Missing)
	}
	m.Step(Touch{Action: ActConfirm}, t0)
	// The server refuses one: it is named too.
	m.Step(Submitted{Gen: 2, Err: detailed{ErrInvalid, Details{Fields: []string{"phone"}, AttemptsLeft: -1}}}, t0)
	if st := m.State(); st.Phase != FormPhase || st.Problem != ProblemFormInvalid || !reflect.DeepEqual(st.Missing, []string{"phone"}) {
		t.Fatalf("refused: %s %q %v", st.Phase, st.Problem, st.Missing)
	}
}

// The check before the finger: an unenrolled resident is told at once; an
// enrolled one is asked for their enrolled fingers, with the attempts the
// lock allows; a locked one is told until when; an outage retries it.
func TestEnrolmentCheckedBeforeTheFinger(t *testing.T) {
	until := t0.Add(7 * time.Minute)
	for _, tt := range []struct {
		name    string
		ev      Checked
		phase   Phase
		problem string
		effects string
	}{
		{"not enrolled", Checked{Info: EnrolmentInfo{Checked: true}}, CardProblem, ProblemNotEnrolled, ""},
		{"enrolled", Checked{Info: EnrolmentInfo{Checked: true, Enrolled: true, Fingers: []string{"left_middle"}, AttemptsLeft: 4}}, PlaceFinger, "", "DoCapture"},
		{"locked", Checked{Info: EnrolmentInfo{Checked: true, Enrolled: true, LockedUntil: until}}, Failed, ProblemLocked, ""},
		{"older server", Checked{Info: EnrolmentInfo{}}, PlaceFinger, "", "DoCapture"},
		{"unknown", Checked{Err: ErrNotFound}, CardProblem, ProblemNotRegistered, ""},
		{"suspended", Checked{Err: ErrSuspended}, CardProblem, ProblemSuspended, ""},
		{"outage", Checked{Err: ErrUnavailable}, Unavailable, ProblemServerDown, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := New(DefaultConfig(), keys(), t0)
			if effs := m.Step(CardRead{alice}, t0); effectNames(effs) != "DoCheck" || m.State().Phase != Checking {
				t.Fatalf("card read: %s %s", m.State().Phase, effectNames(effs))
			}
			tt.ev.Gen = 2
			effs := m.Step(tt.ev, t0)
			st := m.State()
			if st.Phase != tt.phase || st.Problem != tt.problem || effectNames(effs) != tt.effects {
				t.Fatalf("%s %q %s, want %s %q %s", st.Phase, st.Problem, effectNames(effs), tt.phase, tt.problem, tt.effects)
			}
			switch tt.name {
			case "enrolled":
				if !reflect.DeepEqual(st.Fingers, []string{"left_middle"}) || st.AttemptsLeft != 4 {
					t.Errorf("fingers %v attempts %d", st.Fingers, st.AttemptsLeft)
				}
			case "locked":
				if !st.LockedUntil.Equal(until) {
					t.Errorf("locked until %v", st.LockedUntil)
				}
			case "outage":
				if effs := m.Step(Tick{}, t0.Add(DefaultConfig().RetryInterval)); effectNames(effs) != "DoCheck" || m.State().Phase != Checking {
					t.Errorf("retry: %s %s", m.State().Phase, effectNames(effs))
				}
			}
		})
	}
}

// The scanner's status names the trouble: a moving finger is "hold still"
// and no try; a failed exposure is its own hint and a try.
func TestMovingAndExposureHints(t *testing.T) {
	run(t, New(DefaultConfig(), keys(), t0), []step{
		{0, CardRead{alice}, Checking, "", "", "DoCheck"},
		{0, Checked{}, PlaceFinger, "", "", "DoCapture"},
		{2 * time.Second, Captured{Fault: Moving}, PlaceFinger, "", HintMoving, "DoCapture"},
		{4 * time.Second, Captured{Fault: Moving}, PlaceFinger, "", HintMoving, "DoCapture"},
		{6 * time.Second, Captured{Fault: Exposure}, PlaceFinger, "", HintExposure, "DoCapture"},
		{8 * time.Second, Captured{Sample: good}, Verifying, "", "", "DoVerify"},
	})
	m := New(DefaultConfig(), keys(), t0)
	m.Step(CardRead{alice}, t0)
	m.Step(Checked{Gen: 2}, t0)
	m.Step(Captured{Gen: 2, Fault: Moving}, t0.Add(80*time.Second))
	if st := m.State(); st.Tries != 0 || !st.LastActivity.Equal(t0.Add(80*time.Second)) {
		t.Fatalf("moving: tries %d, activity %v (someone is there)", st.Tries, st.LastActivity)
	}
	m.Step(Captured{Gen: 2, Fault: Exposure}, t0.Add(81*time.Second))
	if st := m.State(); st.Tries != 1 {
		t.Fatalf("exposure: tries %d, want 1", st.Tries)
	}
}
