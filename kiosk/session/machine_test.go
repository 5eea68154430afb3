package session

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/identity"
)

var t0 = time.Date(2026, 11, 27, 9, 0, 0, 0, time.Local)

var (
	alice = identity.Card{Name: "张秀英", IDNumber: "110101194501011234", Validity: identity.Validity{From: 20160101, Until: 20360101}}
	old   = identity.Card{Name: "李建国", IDNumber: "110101194001014321", Validity: identity.Validity{From: 20061126, Until: 20261126}}
	dibao = Service{Code: "dibao-renewal", NameZH: "低保年审", NameEN: "Minimum living allowance renewal", DueDays: 15}
	form  = Form{Service: dibao, Fields: []Field{{Key: "name", Value: "张秀英"}, {Key: "household", Value: "2", Editable: true}}}
	good  = Sample{Quality: 80, Template: []byte{1, 2, 3}}
	poor  = Sample{Quality: 10}
)

// step is one row of a journey: an event at an offset from t0, then the
// phase, problem, hint and effect kinds expected.
type step struct {
	at      time.Duration
	ev      Event
	phase   Phase
	problem string
	hint    string
	effects string // effect type names, comma separated
}

func effectNames(effs []Effect) string {
	var n []string
	for _, e := range effs {
		n = append(n, strings.TrimPrefix(fmt.Sprintf("%T", e), "session."))
	}
	return strings.Join(n, ",")
}

func keys() func() string {
	i := 0
	return func() string { i++; return fmt.Sprintf("key-%d", i) }
}

func run(t *testing.T, m *Machine, steps []step) {
	t.Helper()
	for i, s := range steps {
		ev := s.ev
		// Outcomes of effects are for the current session unless the row
		// says otherwise (Gen 0 means "current").
		ev = withGen(ev, m.State().Gen)
		effs := m.Step(ev, t0.Add(s.at))
		st := m.State()
		if st.Phase != s.phase || st.Problem != s.problem || st.Hint != s.hint || effectNames(effs) != s.effects {
			t.Fatalf("step %d (%T): got phase=%s problem=%q hint=%q effects=%q; want phase=%s problem=%q hint=%q effects=%q",
				i, s.ev, st.Phase, st.Problem, st.Hint, effectNames(effs), s.phase, s.problem, s.hint, s.effects)
		}
	}
}

func withGen(ev Event, gen uint64) Event {
	v := reflect.ValueOf(ev)
	if v.Kind() != reflect.Struct {
		return ev
	}
	f := v.FieldByName("Gen")
	if !f.IsValid() || f.Uint() != 0 {
		return ev
	}
	p := reflect.New(v.Type()).Elem()
	p.Set(v)
	p.FieldByName("Gen").SetUint(gen)
	return p.Interface().(Event)
}

func TestResidentJourneys(t *testing.T) {
	unavailable := fmt.Errorf("dial: %w", ErrUnavailable)
	tests := []struct {
		name  string
		steps []step
	}{
		{"card to receipt", []step{
			{0, CardRead{alice}, Checking, "", "", "DoCheck"},
			{0, Checked{}, PlaceFinger, "", "", "DoCapture"},
			{2 * time.Second, Captured{Sample: good}, Verifying, "", "", "DoVerify"},
			{3 * time.Second, Verified{Match: true, Token: "tok", Resident: Resident{ID: "1", Name: "张秀英"}}, Loading, "", "", "DoCatalogue"},
			{3 * time.Second, CatalogueLoaded{Services: []Service{dibao}}, Menu, "", "", ""},
			{5 * time.Second, Touch{Action: ActChoose, Arg: "dibao-renewal"}, Loading, "", "", "DoForm"},
			{5 * time.Second, FormLoaded{Form: form}, FormPhase, "", "", ""},
			{9 * time.Second, Touch{Action: ActConfirm}, Submitting, "", "", "DoSubmit"},
			{10 * time.Second, Submitted{Receipt: Receipt{Reference: "QS-1"}}, ReceiptPhase, "", "", ""},
			{11 * time.Second, CardRemoved{}, Idle, "", "", "Wipe"},
		}},
		{"expired card", []step{
			{0, CardRead{old}, CardProblem, ProblemCardExpired, "", ""},
			{time.Second, CardRemoved{}, Idle, "", "", "Wipe"},
		}},
		{"not enrolled", []step{
			{0, CardRead{alice}, Checking, "", "", "DoCheck"},
			{0, Checked{}, PlaceFinger, "", "", "DoCapture"},
			{time.Second, Captured{Sample: good}, Verifying, "", "", "DoVerify"},
			{time.Second, Verified{Err: fmt.Errorf("x: %w", ErrNotEnrolled)}, CardProblem, ProblemNotEnrolled, "", ""},
			{time.Second, CardRead{alice}, CardProblem, ProblemNotEnrolled, "", ""}, // remove it first
			{time.Second, CardRemoved{}, Idle, "", "", "Wipe"},
		}},
		{"not in the register", []step{
			{0, CardRead{alice}, Checking, "", "", "DoCheck"},
			{0, Checked{}, PlaceFinger, "", "", "DoCapture"},
			{time.Second, Captured{Sample: good}, Verifying, "", "", "DoVerify"},
			{time.Second, Verified{Err: ErrNotFound}, CardProblem, ProblemNotRegistered, "", ""},
		}},
		{"locked at the server", []step{
			{0, CardRead{alice}, Checking, "", "", "DoCheck"},
			{0, Checked{}, PlaceFinger, "", "", "DoCapture"},
			{time.Second, Captured{Sample: good}, Verifying, "", "", "DoVerify"},
			{time.Second, Verified{Err: ErrLocked}, Failed, ProblemLocked, "", ""},
			{2 * time.Second, Touch{Action: ActFinish}, Idle, "", "", "Wipe"},
		}},
		{"unreadable card", []step{
			{0, CardFailed{errors.New("checksum")}, CardProblem, ProblemCardUnreadable, "", ""},
			{time.Second, CardRead{alice}, Checking, "", "", "DoCheck"},
			{time.Second, Checked{}, PlaceFinger, "", "", "DoCapture"},
		}},
		{"finger guidance then too many tries", []step{
			{0, CardRead{alice}, Checking, "", "", "DoCheck"},
			{0, Checked{}, PlaceFinger, "", "", "DoCapture"},
			{time.Second, Captured{Fault: NoFinger}, PlaceFinger, "", HintNoFinger, "DoCapture"},
			{time.Second, Captured{Fault: NoFinger}, PlaceFinger, "", HintNoFinger, "DoCapture"}, // not a try
			{2 * time.Second, Captured{Sample: poor}, PlaceFinger, "", HintNotFlat, "DoCapture"},
			{2 * time.Second, Captured{Fault: NotFlat}, PlaceFinger, "", HintNotFlat, "DoCapture"},
			{3 * time.Second, Captured{Fault: NotFlat}, Failed, ProblemTooManyTries, HintNotFlat, ""},
			{200 * time.Second, Tick{}, Idle, "", "", "Wipe"},
		}},
		{"no match then match", []step{
			{0, CardRead{alice}, Checking, "", "", "DoCheck"},
			{0, Checked{}, PlaceFinger, "", "", "DoCapture"},
			{time.Second, Captured{Sample: good}, Verifying, "", "", "DoVerify"},
			{time.Second, Verified{Match: false}, PlaceFinger, "", HintNoMatch, "DoCapture"},
			{time.Second, Captured{Sample: good}, Verifying, "", "", "DoVerify"},
			{time.Second, Verified{Err: ErrNoMatch}, PlaceFinger, "", HintNoMatch, "DoCapture"},
			{time.Second, Captured{Sample: good}, Verifying, "", HintNoMatch[:0], "DoVerify"},
			{time.Second, Verified{Match: true, Token: "t"}, Loading, "", "", "DoCatalogue"},
		}},
		{"scanner fault", []step{
			{0, CardRead{alice}, Checking, "", "", "DoCheck"},
			{0, Checked{}, PlaceFinger, "", "", "DoCapture"},
			{time.Second, Captured{Err: errors.New("unplugged")}, Failed, ProblemScannerFault, "", ""},
			{2 * time.Second, Touch{Action: ActRetry}, PlaceFinger, "", "", "DoCapture"},
		}},
		{"walk away leaving the card: empty captures do not keep the session", []step{
			{0, CardRead{alice}, Checking, "", "", "DoCheck"},
			{0, Checked{}, PlaceFinger, "", "", "DoCapture"},
			{15 * time.Second, Captured{Fault: NoFinger}, PlaceFinger, "", HintNoFinger, "DoCapture"},
			{30 * time.Second, Captured{Fault: NoFinger}, PlaceFinger, "", HintNoFinger, "DoCapture"},
			{90 * time.Second, Tick{}, Idle, "", "", "CancelCapture,Wipe"},
		}},
		{"walk away", []step{
			{0, CardRead{alice}, Checking, "", "", "DoCheck"},
			{0, Checked{}, PlaceFinger, "", "", "DoCapture"},
			{89 * time.Second, Tick{}, PlaceFinger, "", "", ""},
			{90 * time.Second, Tick{}, Idle, "", "", "CancelCapture,Wipe"},
			{91 * time.Second, Captured{Gen: 2, Sample: good}, Idle, "", "", ""}, // late capture of the ended session
		}},
		{"server down before the finger, recovers", []step{
			{0, CardRead{alice}, Checking, "", "", "DoCheck"},
			{0, Checked{}, PlaceFinger, "", "", "DoCapture"},
			{time.Second, Captured{Err: unavailable}, Unavailable, ProblemServerDown, "", ""},
			{2 * time.Second, ServerStatus{Up: false}, Unavailable, ProblemServerDown, "", ""},
			{3 * time.Second, ServerStatus{Up: true}, PlaceFinger, "", "", "DoCapture"},
			{4 * time.Second, Captured{Sample: good}, Verifying, "", "", "DoVerify"},
			{5 * time.Second, Verified{Err: unavailable}, Unavailable, ProblemServerDown, "", ""},
			{6 * time.Second, Touch{Action: ActRetry}, PlaceFinger, "", "", "DoCapture"},
		}},
		{"submit during outage keeps its key", []step{
			{0, CardRead{alice}, Checking, "", "", "DoCheck"},
			{0, Checked{}, PlaceFinger, "", "", "DoCapture"},
			{0, Captured{Sample: good}, Verifying, "", "", "DoVerify"},
			{0, Verified{Match: true, Token: "t"}, Loading, "", "", "DoCatalogue"},
			{0, CatalogueLoaded{Services: []Service{dibao}}, Menu, "", "", ""},
			{0, Touch{Action: ActChoose, Arg: "dibao-renewal"}, Loading, "", "", "DoForm"},
			{0, FormLoaded{Form: form}, FormPhase, "", "", ""},
			{0, Touch{Action: ActConfirm}, Submitting, "", "", "DoSubmit"},
			{time.Hour, Tick{}, Submitting, "", "", ""}, // never time out under a filing in flight
			{time.Hour, Submitted{Err: unavailable}, Unavailable, ProblemSubmitUnsure, "", ""},
			{time.Hour, Touch{Action: ActRetry}, Submitting, "", "", "DoSubmit"},
			{time.Hour, Submitted{Receipt: Receipt{Reference: "QS-2"}}, ReceiptPhase, "", "", ""},
			{time.Hour + 59*time.Second, Tick{}, ReceiptPhase, "", "", ""},
			{time.Hour + 60*time.Second, Tick{}, Idle, "", "", "Wipe"},
		}},
		{"invalid form goes back to the form", []step{
			{0, CardRead{alice}, Checking, "", "", "DoCheck"},
			{0, Checked{}, PlaceFinger, "", "", "DoCapture"},
			{0, Captured{Sample: good}, Verifying, "", "", "DoVerify"},
			{0, Verified{Match: true, Token: "t"}, Loading, "", "", "DoCatalogue"},
			{0, CatalogueLoaded{Services: []Service{dibao}}, Menu, "", "", ""},
			{0, Touch{Action: ActChoose, Arg: "dibao-renewal"}, Loading, "", "", "DoForm"},
			{0, FormLoaded{Form: form}, FormPhase, "", "", ""},
			{0, Touch{Action: ActConfirm}, Submitting, "", "", "DoSubmit"},
			{0, Submitted{Err: fmt.Errorf("x: %w", ErrInvalid)}, FormPhase, ProblemFormInvalid, "", ""},
			{0, Touch{Action: ActEdit, Arg: "household", Values: map[string]string{"value": "3"}}, FormPhase, "", "", ""},
			{0, Touch{Action: ActConfirm}, Submitting, "", "", "DoSubmit"},
		}},
		{"my filings", []step{
			{0, CardRead{alice}, Checking, "", "", "DoCheck"},
			{0, Checked{}, PlaceFinger, "", "", "DoCapture"},
			{0, Captured{Sample: good}, Verifying, "", "", "DoVerify"},
			{0, Verified{Match: true, Token: "t"}, Loading, "", "", "DoCatalogue"},
			{0, CatalogueLoaded{Services: []Service{dibao}}, Menu, "", "", ""},
			{0, Touch{Action: ActFilings}, Loading, "", "", "DoFilings"},
			{0, FilingsLoaded{Filings: []Filing{{Reference: "QS-1", Status: "replied", Reply: "已批准"}}}, Filings, "", "", ""},
			{0, Touch{Action: ActBack}, Menu, "", "", ""},
			{0, Touch{Action: ActFinish}, Idle, "", "", "Wipe"},
		}},
		{"rating an answered filing", []step{
			{0, CardRead{alice}, Checking, "", "", "DoCheck"},
			{0, Checked{}, PlaceFinger, "", "", "DoCapture"},
			{0, Captured{Sample: good}, Verifying, "", "", "DoVerify"},
			{0, Verified{Match: true, Token: "t"}, Loading, "", "", "DoCatalogue"},
			{0, CatalogueLoaded{Services: []Service{dibao}}, Menu, "", "", ""},
			{0, Touch{Action: ActFilings}, Loading, "", "", "DoFilings"},
			{0, FilingsLoaded{Filings: []Filing{{Reference: "QS-1", Status: "accepted", Rateable: true}, {Reference: "QS-2", Status: "submitted"}}}, Filings, "", "", ""},
			// Not rateable, out of range, unknown: nothing sent.
			{0, Touch{Action: ActRate, Arg: "QS-2", Values: map[string]string{"score": "5"}}, Filings, "", "", ""},
			{0, Touch{Action: ActRate, Arg: "QS-1", Values: map[string]string{"score": "9"}}, Filings, "", "", ""},
			{0, Touch{Action: ActRate, Arg: "QS-9", Values: map[string]string{"score": "5"}}, Filings, "", "", ""},
			{0, Touch{Action: ActRate, Arg: "QS-1", Values: map[string]string{"score": "4", "reasons": "fast,clear"}}, Filings, "", "", "DoRate"},
			// One at a time.
			{0, Touch{Action: ActRate, Arg: "QS-1", Values: map[string]string{"score": "1"}}, Filings, "", "", ""},
			{0, Rated{Reference: "QS-1", Score: 4, Err: fmt.Errorf("x: %w", ErrUnavailable)}, Filings, ProblemRateFailed, "", ""},
			{0, Touch{Action: ActRate, Arg: "QS-1", Values: map[string]string{"score": "4"}}, Filings, "", "", "DoRate"},
			// The token expired: the finger again, then the same rating.
			{0, Rated{Reference: "QS-1", Score: 4, Err: fmt.Errorf("x: %w", ErrTokenSpent)}, PlaceFinger, "", HintReverify, "DoCapture"},
			{0, Captured{Sample: good}, Verifying, "", "", "DoVerify"},
			{0, Verified{Match: true, Token: "t2"}, Loading, "", "", "DoRate"},
			{0, Rated{Reference: "QS-1", Score: 4}, Filings, "", HintRated, ""},
			// Rated: not again.
			{0, Touch{Action: ActRate, Arg: "QS-1", Values: map[string]string{"score": "1"}}, Filings, "", HintRated, ""},
			{0, Touch{Action: ActBack}, Menu, "", "", ""},
		}},
		{"stale outcome of an ended session is dropped", []step{
			{0, CardRead{alice}, Checking, "", "", "DoCheck"},
			{0, Checked{}, PlaceFinger, "", "", "DoCapture"},
			{0, CardRemoved{}, Idle, "", "", "CancelCapture,Wipe"},
			{0, CardRead{alice}, Checking, "", "", "DoCheck"},
			{0, Checked{}, PlaceFinger, "", "", "DoCapture"},
			{0, Captured{Gen: 2, Sample: good}, PlaceFinger, "", "", ""},
		}},
		{"unknown service and bad edits are ignored", []step{
			{0, CardRead{alice}, Checking, "", "", "DoCheck"},
			{0, Checked{}, PlaceFinger, "", "", "DoCapture"},
			{0, Touch{Action: ActChoose, Arg: "dibao-renewal"}, PlaceFinger, "", "", ""},
			{0, Captured{Sample: good}, Verifying, "", "", "DoVerify"},
			{0, Verified{Match: true, Token: "t"}, Loading, "", "", "DoCatalogue"},
			{0, CatalogueLoaded{Services: []Service{dibao}}, Menu, "", "", ""},
			{0, Touch{Action: ActChoose, Arg: "nope"}, Menu, "", "", ""},
			{0, Touch{Action: ActConfirm}, Menu, "", "", ""},
		}},
		{"staff login entry from idle and cancel", []step{
			{0, Touch{Action: ActStaff}, StaffLogin, "", "", ""},
			{0, Touch{Action: ActLogin, Values: map[string]string{"user": "wang"}}, StaffLogin, ProblemLoginFailed, "", ""},
			{0, Touch{Action: ActFinish}, Idle, "", "", "Wipe"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run(t, New(DefaultConfig(), keys(), t0), tt.steps)
		})
	}
}

func TestIdempotencyKeyReusedOnRetryAndRenewedOnEdit(t *testing.T) {
	m := New(DefaultConfig(), keys(), t0)
	for _, ev := range []Event{CardRead{alice}, Checked{Gen: 2}, Captured{Gen: 2, Sample: good},
		Verified{Gen: 2, Match: true, Token: "t"}, CatalogueLoaded{Gen: 2, Services: []Service{dibao}},
		Touch{Action: ActChoose, Arg: dibao.Code}, FormLoaded{Gen: 2, Form: form}} {
		m.Step(ev, t0)
	}
	first := m.Step(Touch{Action: ActConfirm}, t0)[0].(DoSubmit)
	m.Step(Submitted{Gen: 2, Err: ErrUnavailable}, t0)
	again := m.Step(Touch{Action: ActRetry}, t0)[0].(DoSubmit)
	if first.IdemKey == "" || first.IdemKey != again.IdemKey {
		t.Fatalf("retry key %q, first %q: a retry must reuse the key", again.IdemKey, first.IdemKey)
	}
	// Form edited before confirming: a new filing, a new key.
	m2 := New(DefaultConfig(), keys(), t0)
	for _, ev := range []Event{CardRead{alice}, Checked{Gen: 2}, Captured{Gen: 2, Sample: good},
		Verified{Gen: 2, Match: true, Token: "t"}, CatalogueLoaded{Gen: 2, Services: []Service{dibao}},
		Touch{Action: ActChoose, Arg: dibao.Code}, FormLoaded{Gen: 2, Form: form}} {
		m2.Step(ev, t0)
	}
	m2.Step(Touch{Action: ActEdit, Arg: "household", Values: map[string]string{"value": "3"}}, t0)
	m2.Step(Touch{Action: ActEdit, Arg: "name", Values: map[string]string{"value": "someone else"}}, t0)
	sub := m2.Step(Touch{Action: ActConfirm}, t0)[0].(DoSubmit)
	if got := sub.Form.Fields[1].Value; got != "3" {
		t.Errorf("household = %q, want 3", got)
	}
	if got := sub.Form.Fields[0].Value; got != "张秀英" {
		t.Errorf("read-only name changed to %q", got)
	}
}

func TestSessionEndWipesEverything(t *testing.T) {
	m := New(DefaultConfig(), keys(), t0)
	for _, ev := range []Event{CardRead{alice}, Checked{Gen: 2}, Captured{Gen: 2, Sample: good},
		Verified{Gen: 2, Match: true, Token: "secret"}, CatalogueLoaded{Gen: 2, Services: []Service{dibao}}} {
		m.Step(ev, t0)
	}
	m.Step(CardRemoved{}, t0)
	st := m.State()
	want := State{Phase: Idle, Mode: ModeResident, Gen: 3, LastActivity: t0, AttemptsLeft: -1, Ended: EndCardRemoved, EndedAt: t0}
	if !reflect.DeepEqual(st, want) {
		t.Fatalf("after removal: %+v, want a blank state %+v", st, want)
	}
}

func TestStaffEnrolment(t *testing.T) {
	cfg := DefaultConfig()
	m := New(cfg, keys(), t0)
	run(t, m, []step{
		{0, Touch{Action: ActStaff}, StaffLogin, "", "", ""},
		{0, Touch{Action: ActLogin, Values: map[string]string{"user": "wang", "pin": "pw"}}, StaffBusy, "", "", "DoStaffLogin"},
		{0, StaffLoggedIn{Err: ErrDenied}, StaffLogin, ProblemLoginFailed, "", ""},
		{0, Touch{Action: ActLogin, Values: map[string]string{"user": "wang", "pin": "pw2"}}, StaffBusy, "", "", "DoStaffLogin"},
		{0, StaffLoggedIn{Session: StaffSession{Token: "st", Name: "王"}}, StaffMenu, "", "", ""},
		{0, Touch{Action: ActEnrol}, EnrolCard, "", "", "Wipe"},
		{0, CardRead{alice}, EnrolConsent, "", "", ""}, // no capture before the consent
		{0, Touch{Action: ActConfirm}, EnrolConsent, "", "", ""},
		{0, Touch{Action: ActConsent}, EnrolCapture, "", "", "DoCapture"},
		{0, Captured{Sample: good}, EnrolCapture, "", "", "DoCapture"},
		{0, Captured{Sample: poor}, EnrolCapture, "", HintNotFlat, ""},
		{0, Touch{Action: ActRetake}, EnrolCapture, "", "", "CancelCapture,DoCapture"},
		{0, Captured{Sample: good}, EnrolCapture, "", "", "DoCapture"},
		{0, Touch{Action: ActConfirm}, EnrolCapture, "", "", ""},       // not complete yet
		{0, Captured{Sample: good}, EnrolCapture, "", "", "DoCapture"}, // R2 done, L2 starts
		{0, Captured{Fault: NoFinger}, EnrolCapture, "", HintNoFinger, ""},
		{0, Touch{Action: ActSkipFinger}, EnrolCapture, "", "", "CancelCapture,DoCapture"}, // L2 -> R3
		{0, Captured{Sample: good}, EnrolCapture, "", "", "DoCapture"},
		{0, Captured{Sample: good}, EnrolCapture, "", "", "DoCapture"},
		{0, Captured{Sample: good}, EnrolCapture, "", "", ""},
		{0, Touch{Action: ActConfirm}, StaffBusy, "", "", "DoEnrol"},
		{0, Enrolled{Outcome: EnrolOutcome{NeedsSupervisor: true, CaseID: "c-9"}}, EnrolSupervisor, "", "", ""},
		{0, Touch{Action: ActSupervisor, Values: map[string]string{"user": "li", "pin": "x"}}, StaffBusy, "", "", "DoConfirmDuplicate"},
		{0, SupervisorConfirmed{Err: ErrDenied}, EnrolSupervisor, ProblemLoginFailed, "", ""},
		{0, Touch{Action: ActSupervisor, Values: map[string]string{"user": "li", "pin": "y"}}, StaffBusy, "", "", "DoConfirmDuplicate"},
		// The server consumed the nonces: capture again under the override.
		{0, SupervisorConfirmed{}, EnrolCapture, ProblemRecapture, "", "DoCapture"},
		{0, Captured{Sample: good}, EnrolCapture, ProblemRecapture, "", "DoCapture"},
		{0, Captured{Sample: good}, EnrolCapture, ProblemRecapture, "", "DoCapture"},
		{0, Captured{Sample: good}, EnrolCapture, ProblemRecapture, "", "DoCapture"},
		{0, Captured{Sample: good}, EnrolCapture, ProblemRecapture, "", "DoCapture"},
		{0, Captured{Sample: good}, EnrolCapture, ProblemRecapture, "", "DoCapture"},
		{0, Captured{Sample: good}, EnrolCapture, ProblemRecapture, "", ""},
		{0, Touch{Action: ActConfirm}, StaffBusy, "", "", "DoEnrol"},
		{0, Enrolled{Outcome: EnrolOutcome{ResidentID: "9"}}, EnrolDone, "", "", ""},
		{0, Touch{Action: ActBack}, StaffMenu, "", "", ""},
		{0, Touch{Action: ActLogout}, Idle, "", "", "Wipe"},
	})
	if m.State().Staff != nil {
		t.Fatal("logout kept the staff session")
	}
}

func TestEnrolmentSamplesAndFingers(t *testing.T) {
	cfg := DefaultConfig()
	m := New(cfg, keys(), t0)
	staffLoggedIn(m)
	m.Step(Touch{Action: ActEnrol}, t0)
	gen := m.State().Gen
	m.Step(CardRead{alice}, t0)
	m.Step(Touch{Action: ActConsent}, t0)
	var effs []Effect
	for i := 0; i < 6; i++ {
		effs = m.Step(Captured{Gen: gen, Sample: Sample{Quality: 70 + i}}, t0)
	}
	if len(effs) != 0 {
		t.Fatalf("after 6 good captures: %v", effectNames(effs))
	}
	enr := m.Step(Touch{Action: ActConfirm}, t0)[0].(DoEnrol)
	if enr.Card.IDNumber != alice.IDNumber || enr.StaffToken != "st" || len(enr.Fingers) != 2 || !enr.ConsentAt.Equal(t0) {
		t.Fatalf("enrol effect %+v", enr)
	}
	for i, f := range enr.Fingers {
		if f.Finger != cfg.EnrolFingers[i] || len(f.Accepted) != 3 {
			t.Errorf("finger %d: %s with %d captures", i, f.Finger, len(f.Accepted))
		}
		for _, s := range f.Accepted {
			if s.Finger != f.Finger {
				t.Errorf("sample labelled %s under %s", s.Finger, f.Finger)
			}
		}
	}
	// The resident's card leaves while the enrolment is in flight: the
	// outcome still decides.
	if effs := m.Step(CardRemoved{}, t0); len(effs) != 0 {
		t.Fatalf("removal during enrol: %v", effectNames(effs))
	}
	m.Step(Enrolled{Gen: gen, Outcome: EnrolOutcome{ResidentID: "7"}}, t0)
	if st := m.State(); st.Phase != EnrolDone || st.Enrol != nil || st.Card != nil {
		t.Fatalf("after enrolment: phase %s, samples kept %v, card kept %v", st.Phase, st.Enrol != nil, st.Card != nil)
	}
}

func TestStaffTimeout(t *testing.T) {
	m := New(DefaultConfig(), keys(), t0)
	staffLoggedIn(m)
	m.Step(Tick{}, t0.Add(4*time.Minute))
	if m.State().Phase != StaffMenu {
		t.Fatal("staff logged out too early")
	}
	m.Step(Tick{}, t0.Add(9*time.Minute))
	if st := m.State(); st.Phase != Idle || st.Staff != nil {
		t.Fatalf("after staff timeout: %s, staff %v", st.Phase, st.Staff)
	}
}

func TestOverrideCaseTravelsWithTheNewCaptures(t *testing.T) {
	m := New(DefaultConfig(), keys(), t0)
	staffLoggedIn(m)
	m.Step(Touch{Action: ActEnrol}, t0)
	gen := m.State().Gen
	m.Step(CardRead{alice}, t0)
	m.Step(Touch{Action: ActConsent}, t0)
	for i := 0; i < 6; i++ {
		m.Step(Captured{Gen: gen, Sample: good}, t0)
	}
	if e := m.Step(Touch{Action: ActConfirm}, t0)[0].(DoEnrol); e.OverrideCase != "" {
		t.Fatalf("first enrolment carries override %q", e.OverrideCase)
	}
	m.Step(Enrolled{Gen: gen, Outcome: EnrolOutcome{NeedsSupervisor: true, CaseID: "42"}}, t0)
	c := m.Step(Touch{Action: ActSupervisor, Values: map[string]string{"user": "s", "pin": "p"}}, t0)[0].(DoConfirmDuplicate)
	if c.CaseID != "42" {
		t.Fatalf("confirming case %q", c.CaseID)
	}
	m.Step(SupervisorConfirmed{Gen: gen}, t0)
	for _, f := range m.State().Enrol {
		if len(f.Accepted) != 0 {
			t.Fatal("old captures kept after the override")
		}
	}
	for i := 0; i < 6; i++ {
		m.Step(Captured{Gen: gen, Sample: good}, t0)
	}
	if e := m.Step(Touch{Action: ActConfirm}, t0)[0].(DoEnrol); e.OverrideCase != "42" {
		t.Fatalf("resubmission carries override %q, want 42", e.OverrideCase)
	}
}

func TestEnrolmentAsksForSeparatePlacements(t *testing.T) {
	m := New(DefaultConfig(), keys(), t0)
	staffLoggedIn(m)
	m.Step(Touch{Action: ActEnrol}, t0)
	gen := m.State().Gen
	m.Step(CardRead{alice}, t0)
	if c := m.Step(Touch{Action: ActConsent}, t0)[0].(DoCapture); c.NewPlacement {
		t.Error("the first capture waits for a lift")
	}
	if c := m.Step(Captured{Gen: gen, Sample: good}, t0)[0].(DoCapture); !c.NewPlacement {
		t.Error("the second capture may reuse the first placement")
	}
	m.Step(Captured{Gen: gen, Fault: NotLifted}, t0)
	if st := m.State(); st.Hint != HintLift || st.Phase != EnrolCapture {
		t.Errorf("not lifted: %s %q", st.Phase, st.Hint)
	}
	// Verification never waits for a lift: the resident may place early.
	m2 := New(DefaultConfig(), keys(), t0)
	m2.Step(CardRead{alice}, t0)
	if c := m2.Step(Checked{Gen: 2}, t0)[0].(DoCapture); c.NewPlacement {
		t.Error("verification waits for a lift")
	}
}

func TestSpentTokenAsksForTheFingerAgain(t *testing.T) {
	m := New(DefaultConfig(), keys(), t0)
	for _, ev := range []Event{CardRead{alice}, Checked{Gen: 2}, Captured{Gen: 2, Sample: good},
		Verified{Gen: 2, Match: true, Token: "t1"}, CatalogueLoaded{Gen: 2, Services: []Service{dibao}},
		Touch{Action: ActChoose, Arg: dibao.Code}, FormLoaded{Gen: 2, Form: form}} {
		m.Step(ev, t0)
	}
	first := m.Step(Touch{Action: ActConfirm}, t0)[0].(DoSubmit)
	// The token expired while the resident read the form.
	effs := m.Step(Submitted{Gen: 2, Err: fmt.Errorf("x: %w", ErrTokenSpent)}, t0)
	if st := m.State(); st.Phase != PlaceFinger || st.Hint != HintReverify || st.Token != "" || effectNames(effs) != "DoCapture" {
		t.Fatalf("after a spent token: %s %q token %q %v", st.Phase, st.Hint, st.Token, effectNames(effs))
	}
	m.Step(Captured{Gen: 2, Sample: good}, t0)
	again := m.Step(Verified{Gen: 2, Match: true, Token: "t2"}, t0)[0].(DoSubmit)
	if again.Token != "t2" || again.IdemKey != first.IdemKey || m.State().Phase != Submitting {
		t.Fatalf("resubmission %+v (first key %q), phase %s", again, first.IdemKey, m.State().Phase)
	}
	m.Step(Submitted{Gen: 2, Receipt: Receipt{Reference: "R"}}, t0)
	// From the receipt, "my filings" needs a new token too.
	effs = m.Step(Touch{Action: ActFilings}, t0)
	if st := m.State(); st.Phase != PlaceFinger || effectNames(effs) != "DoCapture" {
		t.Fatalf("filings from the receipt: %s %v", st.Phase, effectNames(effs))
	}
	m.Step(Captured{Gen: 2, Sample: good}, t0)
	if f := m.Step(Verified{Gen: 2, Match: true, Token: "t3"}, t0)[0].(DoFilings); f.Token != "t3" {
		t.Fatalf("filings with token %q", f.Token)
	}
	m.Step(FilingsLoaded{Gen: 2, Filings: []Filing{{Reference: "R"}}}, t0)
	if m.State().Phase != Filings {
		t.Fatalf("phase %s", m.State().Phase)
	}
}

// TestEnrolmentAlreadyEnrolled: re-enrolling an enrolled resident says the
// replacement awaits a supervisor (it is not silently a replacement), and a
// replacement already waiting, or staff of another station, are told apart
// from a plain rejection.
func TestEnrolmentAlreadyEnrolled(t *testing.T) {
	toBusy := func() (*Machine, uint64) {
		m := New(DefaultConfig(), keys(), t0)
		staffLoggedIn(m)
		m.Step(Touch{Action: ActEnrol}, t0)
		gen := m.State().Gen
		m.Step(CardRead{alice}, t0)
		m.Step(Touch{Action: ActConsent}, t0)
		for i := 0; i < 6; i++ {
			m.Step(Captured{Gen: gen, Sample: Sample{Quality: 70 + i}}, t0)
		}
		if _, ok := m.Step(Touch{Action: ActConfirm}, t0)[0].(DoEnrol); !ok {
			t.Fatal("no DoEnrol")
		}
		return m, gen
	}
	m, gen := toBusy()
	m.Step(Enrolled{Gen: gen, Outcome: EnrolOutcome{ResidentID: "7", PendingApproval: true, ReplacementID: "3"}}, t0)
	if st := m.State(); st.Phase != EnrolDone || st.Problem != ProblemAlreadyEnrolled || st.Enrol != nil {
		t.Fatalf("pending replacement: phase %s, problem %q", st.Phase, st.Problem)
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{ErrReplacementWaiting, ProblemReplacementWaiting},
		{ErrOtherStation, ProblemOtherStation},
		{ErrRejected, ProblemRejected},
	} {
		m, gen := toBusy()
		m.Step(Enrolled{Gen: gen, Err: fmt.Errorf("server: %w", tc.err)}, t0)
		if st := m.State(); st.Phase != EnrolCapture || st.Problem != tc.want {
			t.Errorf("%v: phase %s, problem %q, want %q", tc.err, st.Phase, st.Problem, tc.want)
		}
	}
}

// TestEnrolmentConsent: no capture before the resident's consent; the
// consent's time travels with the enrolment; going back or the card
// leaving drops it, so the next resident consents again.
func TestEnrolmentConsent(t *testing.T) {
	m := New(DefaultConfig(), keys(), t0)
	m.Step(Touch{Action: ActStaff}, t0)
	m.Step(Touch{Action: ActLogin, Values: map[string]string{"user": "u", "pin": "246813"}}, t0)
	m.Step(StaffLoggedIn{Gen: 1, Session: StaffSession{Token: "st"}}, t0)
	m.Step(Touch{Action: ActEnrol}, t0)
	if effs := m.Step(CardRead{alice}, t0); len(effs) != 0 || m.State().Phase != EnrolConsent {
		t.Fatalf("card read: %v in %s", effectNames(effs), m.State().Phase)
	}
	for _, a := range []string{ActRetake, ActSkipFinger, ActConfirm} {
		if effs := m.Step(Touch{Action: a}, t0); len(effs) != 0 || m.State().Phase != EnrolConsent {
			t.Fatalf("%s before the consent: %v in %s", a, effectNames(effs), m.State().Phase)
		}
	}
	m.Step(CardRemoved{}, t0)
	if st := m.State(); st.Phase != EnrolCard || !st.ConsentAt.IsZero() || st.Card != nil {
		t.Fatalf("card removed at the consent: %s %v", st.Phase, st.ConsentAt)
	}
	m.Step(CardRead{alice}, t0)
	t1 := t0.Add(7 * time.Second)
	if effs := m.Step(Touch{Action: ActConsent}, t1); len(effs) != 1 || m.State().ConsentAt != t1 {
		t.Fatalf("consent: %v, at %v", effectNames(effs), m.State().ConsentAt)
	}
	m.Step(Touch{Action: ActBack}, t1)
	if st := m.State(); st.Phase != StaffMenu || !st.ConsentAt.IsZero() {
		t.Fatalf("back: %s, consent kept %v", st.Phase, st.ConsentAt)
	}
}

// TestStaffLoginProblems: a locked PIN, another station, and the PINs left.
func TestStaffLoginProblems(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
		left int
	}{
		{detailed{ErrDenied, Details{AttemptsLeft: 2}}, ProblemLoginFailed, 2},
		{ErrDenied, ProblemLoginFailed, -1},
		{ErrPINLocked, ProblemPINLocked, -1},
		{ErrOtherStation, ProblemOtherStation, -1},
	} {
		m := New(DefaultConfig(), keys(), t0)
		m.Step(Touch{Action: ActStaff}, t0)
		m.Step(Touch{Action: ActLogin, Values: map[string]string{"user": "u", "pin": "000000"}}, t0)
		m.Step(StaffLoggedIn{Gen: 1, Err: tc.err}, t0)
		if st := m.State(); st.Phase != StaffLogin || st.Problem != tc.want || st.AttemptsLeft != tc.left {
			t.Errorf("%v: %s %q left %d, want %q left %d", tc.err, st.Phase, st.Problem, st.AttemptsLeft, tc.want, tc.left)
		}
	}
}

// TestElderlyTimeouts: elderly mode, chosen before the card, doubles the
// resident's idle time-out, its countdown and the receipt's time; it ends
// with the session.
func TestElderlyTimeouts(t *testing.T) {
	cfg := DefaultConfig()
	m := New(cfg, keys(), t0)
	m.Step(Touch{Action: ActElderly, Arg: "on"}, t0)
	m.Step(CardRead{alice}, t0)
	if !m.State().Elderly {
		t.Fatal("elderly mode lost when the card was read")
	}
	m.Step(Checked{Gen: 2, Info: EnrolmentInfo{Checked: true, Enrolled: true, AttemptsLeft: -1}}, t0)
	m.Step(Tick{}, t0.Add(cfg.IdleTimeout+time.Second))
	if st := m.State(); st.Phase != PlaceFinger || st.Warning {
		t.Fatalf("after the plain idle time-out: %s, warning %v (want still there, no countdown yet)", st.Phase, st.Warning)
	}
	m.Step(Tick{}, t0.Add(2*cfg.IdleTimeout-2*cfg.IdleWarning-time.Second))
	if m.State().Warning {
		t.Fatal("the countdown started before twice its length")
	}
	m.Step(Tick{}, t0.Add(2*cfg.IdleTimeout-2*cfg.IdleWarning+time.Second))
	if st := m.State(); !st.Warning || !st.Deadline.Equal(t0.Add(2*cfg.IdleTimeout)) {
		t.Fatalf("no countdown of twice the length: warning %v, deadline %v", st.Warning, st.Deadline)
	}
	m.Step(Tick{}, t0.Add(2*cfg.IdleTimeout))
	if st := m.State(); st.Phase != Idle || st.Ended != EndTimeout || st.Elderly {
		t.Fatalf("after twice the idle time-out: %s %q elderly %v", st.Phase, st.Ended, st.Elderly)
	}
	// Off again: the plain time-out.
	m.Step(Touch{Action: ActElderly, Arg: "on"}, t0)
	m.Step(Touch{Action: ActElderly, Arg: "off"}, t0)
	m.Step(CardRead{alice}, t0)
	m.Step(Checked{Gen: m.State().Gen, Info: EnrolmentInfo{Checked: true, Enrolled: true, AttemptsLeft: -1}}, t0)
	m.Step(Tick{}, t0.Add(cfg.IdleTimeout))
	if st := m.State(); st.Phase != Idle {
		t.Fatalf("plain mode: %s after the idle time-out", st.Phase)
	}
}

// The server refuses an enrolment whose finger's captures disagree
// (enrolment_inconsistent, naming them): the kiosk drops exactly those,
// keeps the rest (their nonces are unspent), asks for that finger again
// with the reason on screen, and once it is complete sends the enrolment
// again; an answer naming nothing it sent is a plain refusal.
func TestEnrolmentInconsistentRetake(t *testing.T) {
	cfg := DefaultConfig()
	m := New(cfg, keys(), t0)
	staffLoggedIn(m)
	m.Step(Touch{Action: ActEnrol}, t0)
	gen := m.State().Gen
	m.Step(CardRead{alice}, t0)
	m.Step(Touch{Action: ActConsent}, t0)
	for i := 0; i < 6; i++ {
		m.Step(Captured{Gen: gen, Sample: Sample{Quality: 60 + i}}, t0)
	}
	m.Step(Touch{Action: ActConfirm}, t0)
	second := cfg.EnrolFingers[1]
	err := detailed{kind: ErrInconsistent, d: Details{AttemptsLeft: -1, Recapture: map[string][]int{second: {1}}}}
	effs := m.Step(Enrolled{Gen: gen, Err: fmt.Errorf("server: %w", err)}, t0)
	st := m.State()
	if st.Phase != EnrolCapture || st.Problem != ProblemInconsistent || st.EnrolIdx != 1 {
		t.Fatalf("after the refusal: phase %s, problem %q, finger %d", st.Phase, st.Problem, st.EnrolIdx)
	}
	if c, ok := effs[0].(DoCapture); len(effs) != 1 || !ok || c.Finger != second || !c.Enrol || !c.NewPlacement {
		t.Fatalf("effects %v, want a new capture of %s", effectNames(effs), second)
	}
	q := func(f EnrolFinger) []int {
		var out []int
		for _, s := range f.Accepted {
			out = append(out, s.Quality)
		}
		return out
	}
	if got := q(st.Enrol[0]); !slices.Equal(got, []int{60, 61, 62}) {
		t.Errorf("first finger's captures %v, want all kept", got)
	}
	if got := q(st.Enrol[1]); !slices.Equal(got, []int{63, 65}) {
		t.Errorf("second finger's captures %v, want the second dropped", got)
	}
	// The retake completes the finger: nothing more to capture (the first
	// finger is complete), the staff confirm and the same captures go.
	if effs := m.Step(Captured{Gen: gen, Sample: Sample{Quality: 77}}, t0); len(effs) != 0 || m.State().Problem != "" {
		t.Fatalf("after the retake: %v, problem %q", effectNames(effs), m.State().Problem)
	}
	enr := m.Step(Touch{Action: ActConfirm}, t0)[0].(DoEnrol)
	if got := q(enr.Fingers[1]); !slices.Equal(got, []int{63, 65, 77}) {
		t.Errorf("resent second finger %v", got)
	}
	if got := q(enr.Fingers[0]); !slices.Equal(got, []int{60, 61, 62}) {
		t.Errorf("resent first finger %v", got)
	}
	// Every capture of the first finger disagrees: all go, that finger
	// first.
	err = detailed{kind: ErrInconsistent, d: Details{AttemptsLeft: -1, Recapture: map[string][]int{cfg.EnrolFingers[0]: {0, 1, 2}}}}
	m.Step(Enrolled{Gen: gen, Err: err}, t0)
	if st := m.State(); st.EnrolIdx != 0 || len(st.Enrol[0].Accepted) != 0 || len(st.Enrol[1].Accepted) != 3 {
		t.Fatalf("all of the first finger: finger %d, %v / %v", st.EnrolIdx, q(st.Enrol[0]), q(st.Enrol[1]))
	}
	for i := 0; i < 2; i++ {
		if effs := m.Step(Captured{Gen: gen, Sample: Sample{Quality: 70}}, t0); len(effs) != 1 {
			t.Fatalf("retake %d: %v", i, effectNames(effs))
		}
	}
	if effs := m.Step(Captured{Gen: gen, Sample: Sample{Quality: 70}}, t0); len(effs) != 0 {
		t.Fatalf("first finger complete again: %v", effectNames(effs))
	}
	m.Step(Touch{Action: ActConfirm}, t0)
	// An answer naming no capture sent: refused, nothing dropped.
	err = detailed{kind: ErrInconsistent, d: Details{AttemptsLeft: -1, Recapture: map[string][]int{"left_thumb": {0}, second: {7}}}}
	if effs := m.Step(Enrolled{Gen: gen, Err: err}, t0); len(effs) != 0 {
		t.Fatalf("unknown captures: %v", effectNames(effs))
	}
	if st := m.State(); st.Problem != ProblemRejected || len(st.Enrol[0].Accepted) != 3 || len(st.Enrol[1].Accepted) != 3 {
		t.Fatalf("unknown captures: problem %q", st.Problem)
	}
}

// staffLoggedIn takes m from idle to the staff menu: the staff button, a
// PIN login, the server's session.
func staffLoggedIn(m *Machine) {
	m.Step(Touch{Action: ActStaff}, t0)
	m.Step(Touch{Action: ActLogin, Values: map[string]string{"user": "u", "pin": "p"}}, t0)
	m.Step(StaffLoggedIn{Gen: 1, Session: StaffSession{Token: "st"}}, t0)
}

// TestLeavingStaffModeEndsTheServerSession: the Wipe of leaving staff
// mode (logout, the staff time-out) carries the staff session's token for
// the daemon to end it at the server; moves within staff mode do not.
func TestLeavingStaffModeEndsTheServerSession(t *testing.T) {
	for name, leave := range map[string]func(m *Machine) []Effect{
		"logout":  func(m *Machine) []Effect { return m.Step(Touch{Action: ActLogout}, t0) },
		"timeout": func(m *Machine) []Effect { return m.Step(Tick{}, t0.Add(DefaultConfig().StaffTimeout+time.Second)) },
	} {
		t.Run(name, func(t *testing.T) {
			m := New(DefaultConfig(), keys(), t0)
			staffLoggedIn(m)
			if effs := m.Step(Touch{Action: ActEnrol}, t0); len(effs) != 1 || effs[0] != (Wipe{}) {
				t.Fatalf("enrol (within staff mode) = %#v, want a Wipe without token", effs)
			}
			m.Step(Touch{Action: ActBack}, t0)
			var got []Wipe
			for _, e := range leave(m) {
				if w, ok := e.(Wipe); ok {
					got = append(got, w)
				}
			}
			if len(got) != 1 || got[0].StaffToken != "st" || m.State().Mode != ModeResident {
				t.Fatalf("leaving staff mode: %+v, mode %s", got, m.State().Mode)
			}
		})
	}
}
