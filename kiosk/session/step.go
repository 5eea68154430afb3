package session

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Step applies one event at time now and returns the effects to run.
func (m *Machine) Step(ev Event, now time.Time) []Effect {
	s := &m.st
	switch e := ev.(type) {
	case Tick:
		return m.tick(now)
	case ServerStatus:
		if e.Up && s.Phase == Unavailable && s.Pending != nil && s.Problem != ProblemThrottled {
			return m.retry(now, false)
		}
		return nil
	case CardRemoved:
		return m.cardRemoved(now)
	case CardRead:
		return m.cardRead(e, now)
	case CardFailed:
		switch s.Phase {
		case Idle:
			m.activity(now)
			s.Phase, s.Problem = CardProblem, ProblemCardUnreadable
		case EnrolCard:
			m.activity(now)
			s.Problem = ProblemCardUnreadable
		}
		return nil
	case Touch:
		return m.touch(e, now)
	}
	if gen, ok := genOf(ev); ok && gen != s.Gen {
		return nil // an outcome for a session that has ended
	}
	switch e := ev.(type) {
	case AgentBound:
		return m.agentBound(e, m.agentReq, now)
	case Captured:
		return m.captured(e, now)
	case Verified:
		return m.verified(e, now)
	case Checked:
		return m.checked(e, now)
	case CatalogueLoaded:
		if s.Phase != Loading {
			return nil
		}
		if e.Err != nil {
			return m.serverFailed(now, e.Err, DoCatalogue{Gen: s.Gen, Token: s.Token}, Menu)
		}
		s.Services, s.Phase = e.Services, Menu
		if s.Resident != nil && s.Resident.NewReplies > 0 && s.Hint == "" {
			s.Hint = HintNewReplies
		}
	case FormLoaded:
		if s.Phase != Loading {
			return nil
		}
		if e.Err != nil {
			return m.serverFailed(now, e.Err, DoForm{Gen: s.Gen, Token: s.Token, Service: e.Form.Service}, Menu)
		}
		f := e.Form
		if s.Principal != nil {
			f.Principal = s.Principal.ID
		}
		s.Form, s.IdemKey, s.Phase = &f, "", FormPhase
	case FilingsLoaded:
		if s.Phase != Loading {
			return nil
		}
		if e.Err != nil {
			return m.serverFailed(now, e.Err, DoFilings{Gen: s.Gen, Token: s.Token}, Menu)
		}
		s.Filings, s.Phase = e.Filings, Filings
		if s.Resident != nil && s.Resident.NewReplies > 0 {
			// Shown: the server no longer counts them new.
			r := *s.Resident
			r.NewReplies = 0
			s.Resident = &r
		}
	case CertifyDone:
		if s.Phase != Loading {
			return nil
		}
		if e.Err != nil {
			return m.serverFailed(now, e.Err, DoCertify{Gen: s.Gen, Token: s.Token, Service: e.Certificate.Service}, Menu)
		}
		c := e.Certificate
		s.Certificate, s.Phase, s.Problem = &c, Certified, ""
		m.activity(now)
	case Submitted:
		if s.Phase != Submitting {
			return nil
		}
		if e.Err != nil {
			if outage(e.Err) {
				m.unavailable(now, e.Err, DoSubmit{Gen: s.Gen, Token: s.Token, IdemKey: s.IdemKey, Form: *s.Form}, Submitting)
				if s.Problem == ProblemServerDown {
					s.Problem = ProblemSubmitUnsure
				}
				return nil
			}
			if errors.Is(e.Err, ErrTokenSpent) {
				// The token expired while the resident read the form:
				// check the finger again and send the same filing (same key).
				return m.reverify(DoSubmit{Gen: s.Gen, IdemKey: s.IdemKey, Form: *s.Form})
			}
			if errors.Is(e.Err, ErrInvalid) {
				// Nothing was filed: back to the form to correct it, the
				// fields the server refused marked.
				s.Phase, s.Problem, s.IdemKey = FormPhase, ProblemFormInvalid, ""
				s.Missing = DetailsOf(e.Err).Fields
				m.activity(now)
				return nil
			}
			s.Phase, s.Problem = Failed, ProblemRejected
			return nil
		}
		r := e.Receipt
		s.Receipt, s.Phase, s.Problem = &r, ReceiptPhase, ""
		m.activity(now)
	case Rated:
		return m.rated(e, now)
	case StaffLoggedIn:
		if s.Phase != StaffBusy {
			return nil
		}
		if e.Err != nil {
			s.Phase = StaffLogin
			if errors.Is(e.Err, ErrUnavailable) {
				s.Problem = ProblemServerDown
			} else if errors.Is(e.Err, ErrThrottled) {
				s.Problem = ProblemThrottled
				s.RetryAt = now.Add(DetailsOf(e.Err).RetryAfter)
			} else if errors.Is(e.Err, ErrPINLocked) {
				s.Problem = ProblemPINLocked
			} else if errors.Is(e.Err, ErrOtherStation) {
				s.Problem = ProblemOtherStation
			} else {
				s.Problem = ProblemLoginFailed
				s.AttemptsLeft = DetailsOf(e.Err).AttemptsLeft
			}
			return nil
		}
		s.AttemptsLeft = -1
		ss := e.Session
		s.Staff, s.Mode, s.Phase, s.Problem = &ss, ModeStaff, StaffMenu, ""
	case Enrolled:
		if s.Phase != StaffBusy || s.Enrol == nil {
			return nil
		}
		if e.Err != nil {
			s.Phase = EnrolCapture
			if errors.Is(e.Err, ErrInconsistent) {
				if eff := m.retakeDisagreeing(DetailsOf(e.Err).Recapture); eff != nil {
					return eff
				}
			}
			s.Problem = problemFor(e.Err)
			return nil
		}
		o := e.Outcome
		s.Outcome, s.Problem = &o, ""
		if o.NeedsSupervisor {
			s.Phase = EnrolSupervisor
		} else {
			if o.PendingApproval {
				s.Problem = ProblemAlreadyEnrolled
			}
			s.Phase = EnrolDone
			m.dropEnrolment()
		}
	case SupervisorConfirmed:
		if s.Phase != StaffBusy || s.Outcome == nil {
			return nil
		}
		if e.Err != nil {
			s.Phase = EnrolSupervisor
			if errors.Is(e.Err, ErrDenied) {
				s.Problem = ProblemLoginFailed
			} else if errors.Is(e.Err, ErrPINLocked) {
				s.Problem = ProblemPINLocked
			} else {
				s.Problem = problemFor(e.Err)
			}
			return nil
		}
		// The server consumed the captures' nonces: the overridden
		// enrolment is sent again with fresh captures, under the case.
		s.OverrideCase = s.Outcome.CaseID
		s.Outcome = nil
		s.Phase, s.Problem, s.Hint = EnrolCapture, ProblemRecapture, ""
		for i := range s.Enrol {
			s.Enrol[i] = EnrolFinger{Finger: s.Enrol[i].Finger}
		}
		s.EnrolIdx = 0
		return []Effect{DoCapture{Gen: s.Gen, Finger: s.Enrol[0].Finger, Enrol: true}}
	}
	return nil
}

func problemFor(err error) string {
	switch {
	case errors.Is(err, ErrUnavailable):
		return ProblemServerDown
	case errors.Is(err, ErrReplacementWaiting):
		return ProblemReplacementWaiting
	case errors.Is(err, ErrOtherStation):
		return ProblemOtherStation
	}
	return ProblemRejected
}

func genOf(ev Event) (uint64, bool) {
	switch e := ev.(type) {
	case Captured:
		return e.Gen, true
	case Verified:
		return e.Gen, true
	case Checked:
		return e.Gen, true
	case CatalogueLoaded:
		return e.Gen, true
	case FormLoaded:
		return e.Gen, true
	case Submitted:
		return e.Gen, true
	case FilingsLoaded:
		return e.Gen, true
	case CertifyDone:
		return e.Gen, true
	case StaffLoggedIn:
		return e.Gen, true
	case Enrolled:
		return e.Gen, true
	case SupervisorConfirmed:
		return e.Gen, true
	case AgentBound:
		return e.Gen, true
	case Rated:
		return e.Gen, true
	}
	return 0, false
}

func (m *Machine) activity(now time.Time) {
	m.st.LastActivity = now
	m.st.Warning = false
}

// reset ends the session: a new generation, nothing of the old one kept.
func (m *Machine) reset(now time.Time, phase Phase, mode Mode) []Effect {
	return m.end(now, phase, mode, "")
}

// end ends the session like reset and records why (an End... constant, or
// "" for the staff's own moves between screens) for the idle screen.
func (m *Machine) end(now time.Time, phase Phase, mode Mode, why string) []Effect {
	old := m.st
	m.st = State{Phase: phase, Mode: mode, Gen: old.Gen + 1, LastActivity: now, AttemptsLeft: -1}
	if mode == ModeStaff {
		m.st.Staff = old.Staff
	}
	if why != "" {
		m.st.Ended, m.st.EndedAt = why, now
	}
	w := Wipe{}
	if mode != ModeStaff && old.Staff != nil {
		w.StaffToken = old.Staff.Token
	}
	eff := []Effect{w}
	if old.Phase == PlaceFinger || old.Phase == EnrolCapture {
		eff = append([]Effect{CancelCapture{}}, eff...)
	}
	return eff
}

func (m *Machine) dropEnrolment() {
	m.st.Enrol = nil
	m.st.EnrolIdx = 0
	m.st.Card, m.st.Resident = nil, nil
}

func (m *Machine) tick(now time.Time) []Effect {
	s := &m.st
	if s.Ended != "" && now.Sub(s.EndedAt) >= m.cfg.EndedShow {
		s.Ended = ""
	}
	if s.Phase == Unavailable && s.Pending != nil && !s.RetryAt.IsZero() && !now.Before(s.RetryAt) {
		return m.retry(now, false)
	}
	timeout, why := m.timeout()
	if timeout <= 0 {
		s.Warning, s.Deadline = false, time.Time{}
		return nil
	}
	idle := now.Sub(s.LastActivity)
	if idle >= timeout {
		return m.end(now, Idle, ModeResident, why)
	}
	s.Deadline = s.LastActivity.Add(timeout)
	s.Warning = m.cfg.IdleWarning > 0 && idle >= timeout-m.idleWarning()
	return nil
}

// timeout returns how long the current screen may stay without a touch and
// the reason recorded when it runs out (0: it never times out).
func (m *Machine) timeout() (time.Duration, string) {
	s := &m.st
	switch {
	case s.Mode == ModeStaff:
		return m.cfg.StaffTimeout, EndStaffTimeout
	case s.Phase == Idle:
		return 0, ""
	case s.Phase == ReceiptPhase, s.Phase == Certified:
		return m.elderly(m.cfg.ReceiptTimeout), EndReceiptTimeout
	case s.Phase == Submitting:
		// Never time out under an in-flight filing: its outcome decides.
		return 0, ""
	case s.Phase == Unavailable:
		if _, ok := s.Pending.(DoSubmit); ok {
			// A filing waiting for the server is retried until it is
			// filed or the resident ends the session (card, "finish").
			return 0, ""
		}
	}
	return m.elderly(m.cfg.IdleTimeout), EndTimeout
}

// elderly lengthens a resident's time-out in elderly mode.
func (m *Machine) elderly(d time.Duration) time.Duration {
	if m.st.Elderly && m.cfg.ElderlyFactor > 1 {
		return d * time.Duration(m.cfg.ElderlyFactor)
	}
	return d
}

// idleWarning is how long before a time-out the countdown shows.
func (m *Machine) idleWarning() time.Duration {
	if m.st.Mode == ModeStaff {
		return m.cfg.IdleWarning
	}
	return m.elderly(m.cfg.IdleWarning)
}

func (m *Machine) cardRemoved(now time.Time) []Effect {
	s := &m.st
	if s.Mode == ModeStaff {
		// The resident's card left during an enrolment: abandon it.
		if s.Card == nil {
			return nil
		}
		switch s.Phase {
		case EnrolCard:
			s.Card, s.Problem = nil, ""
		case StaffBusy:
			if s.Enrol != nil {
				return nil // an enrolment is in flight: its outcome decides
			}
			return m.reset(now, EnrolCard, ModeStaff)
		case EnrolConsent, EnrolCapture, EnrolSupervisor:
			return m.reset(now, EnrolCard, ModeStaff)
		case EnrolDone:
			return m.reset(now, StaffMenu, ModeStaff)
		}
		return nil
	}
	if s.Phase == Idle || s.Phase == StaffLogin {
		return nil
	}
	if s.Phase == AgentCard || s.Phase == AgentCheck || s.Phase == Unavailable && s.Back == AgentCard {
		// 代办: the agent takes their card out for the family member's.
		return nil
	}
	return m.end(now, Idle, ModeResident, EndCardRemoved)
}

func (m *Machine) cardRead(e CardRead, now time.Time) []Effect {
	s := &m.st
	switch s.Phase {
	case Idle, CardProblem:
		if s.Phase == CardProblem && s.Card != nil {
			return nil // the same card again; it has to be removed first
		}
		elderly := s.Elderly // chosen before the card: it is this session's
		m.reset(now, Idle, ModeResident)
		s = &m.st
		s.Elderly = elderly
		c := e.Card
		s.Card = &c
		if c.Expired(now) {
			s.Phase, s.Problem = CardProblem, ProblemCardExpired
			return nil
		}
		// Whether the holder is registered and enrolled, and with which
		// fingers, is asked before the finger: an unenrolled resident is
		// told at once, an enrolled one is told which finger to place.
		s.Phase, s.Tries, s.Hint = Checking, 0, ""
		return []Effect{DoCheck{Gen: s.Gen, Card: c}}
	case AgentCard:
		return m.run(m.agentCardRead(e.Card, now)...)
	case EnrolCard:
		m.activity(now)
		c := e.Card
		s.Card, s.Problem = &c, ""
		if c.Expired(now) {
			s.Problem = ProblemCardExpired
			return nil
		}
		// No capture before the resident has consented on the screen.
		s.Phase, s.ConsentAt = EnrolConsent, time.Time{}
	}
	return nil
}

// startEnrolCapture begins the captures after the resident's consent.
func (m *Machine) startEnrolCapture() []Effect {
	s := &m.st
	s.Phase = EnrolCapture
	s.Enrol = make([]EnrolFinger, len(m.cfg.EnrolFingers))
	for i, f := range m.cfg.EnrolFingers {
		s.Enrol[i].Finger = f
	}
	s.EnrolIdx, s.IdemKey = 0, ""
	return []Effect{DoCapture{Gen: s.Gen, Finger: s.Enrol[0].Finger, Enrol: true}}
}

func (m *Machine) captured(e Captured, now time.Time) []Effect {
	s := &m.st
	m.learn(e.Gates)
	if s.Phase == EnrolCapture {
		return m.enrolCaptured(e, now)
	}
	if s.Phase != PlaceFinger {
		return nil
	}
	fault := e.Fault
	if fault != NoFinger && fault != NotLifted {
		// A capture that timed out without a finger is no sign that anyone
		// is there: it neither keeps the session alive nor counts as a try,
		// so a resident who walked away is timed out and wiped.
		m.activity(now)
	}
	if e.Err != nil && fault == CaptureOK {
		fault = DeviceFault
	}
	if fault == DeviceFault && outage(e.Err) {
		// No capture nonce: the server is down (or asks to wait) before
		// the finger.
		m.unavailable(now, e.Err, DoCapture{Gen: s.Gen}, PlaceFinger)
		return nil
	}
	if fault == CaptureOK && e.Sample.Quality < m.Gates().Verify {
		fault = NotFlat
	}
	switch fault {
	case CaptureOK:
		s.Phase, s.Hint = Verifying, ""
		return []Effect{DoVerify{Gen: s.Gen, Card: *s.Card, Sample: e.Sample}}
	case DeviceFault:
		s.Phase, s.Problem = Failed, ProblemScannerFault
		return nil
	}
	if fault == NoFinger {
		s.Hint = HintNoFinger
		return []Effect{DoCapture{Gen: s.Gen}}
	}
	if fault == NotLifted {
		// The finger stayed on after "no match": say so, then take what
		// is there.
		s.Hint = HintLift
		return []Effect{DoCapture{Gen: s.Gen}}
	}
	if fault == Moving {
		// Someone is there, trembling: "hold still", not a try.
		s.Hint = HintMoving
		return []Effect{DoCapture{Gen: s.Gen}}
	}
	s.Tries++
	s.Hint = HintNotFlat
	if fault == Exposure {
		s.Hint = HintExposure
	}
	if s.Tries >= m.cfg.MaxTries {
		s.Phase, s.Problem = Failed, ProblemTooManyTries
		return nil
	}
	return []Effect{DoCapture{Gen: s.Gen}}
}

func (m *Machine) checked(e Checked, now time.Time) []Effect {
	s := &m.st
	if s.Phase != Checking {
		return nil
	}
	m.activity(now)
	switch {
	case e.Err == nil:
	case outage(e.Err):
		m.unavailable(now, e.Err, DoCheck{Gen: s.Gen, Card: *s.Card}, Checking)
		return nil
	case errors.Is(e.Err, ErrNotFound):
		s.Phase, s.Problem = CardProblem, ProblemNotRegistered
		return nil
	case errors.Is(e.Err, ErrSuspended):
		s.Phase, s.Problem = CardProblem, ProblemSuspended
		return nil
	case errors.Is(e.Err, ErrCardExpired):
		s.Phase, s.Problem = CardProblem, ProblemCardExpired
		return nil
	default:
		// The check is guidance, not a gate: the verification decides.
		e.Info = EnrolmentInfo{}
	}
	in := e.Info
	if in.Checked {
		if !in.Enrolled {
			s.Phase, s.Problem = CardProblem, ProblemNotEnrolled
			return nil
		}
		if !in.LockedUntil.IsZero() && now.Before(in.LockedUntil) {
			s.Phase, s.Problem, s.LockedUntil = Failed, ProblemLocked, in.LockedUntil
			return nil
		}
		s.Fingers, s.AttemptsLeft = in.Fingers, in.AttemptsLeft
	}
	s.Phase = PlaceFinger
	return []Effect{DoCapture{Gen: s.Gen}}
}

func (m *Machine) verified(e Verified, now time.Time) []Effect {
	s := &m.st
	if s.Phase != Verifying {
		return nil
	}
	m.activity(now)
	switch {
	case e.Err == nil:
	case outage(e.Err):
		// The finger has to be placed again after the outage: the sample
		// is not kept while waiting.
		m.unavailable(now, e.Err, DoCapture{Gen: s.Gen}, PlaceFinger)
		return nil
	case errors.Is(e.Err, ErrNoMatch):
		e.Match = false
		if left := DetailsOf(e.Err).AttemptsLeft; left >= 0 {
			s.AttemptsLeft = left
		} else if s.AttemptsLeft > 0 {
			// The server did not say: count down what the check before
			// the finger said it allows.
			s.AttemptsLeft--
		}
	case errors.Is(e.Err, ErrNotEnrolled):
		s.Phase, s.Problem = CardProblem, ProblemNotEnrolled
		return nil
	case errors.Is(e.Err, ErrNotFound):
		s.Phase, s.Problem = CardProblem, ProblemNotRegistered
		return nil
	case errors.Is(e.Err, ErrCardExpired):
		s.Phase, s.Problem = CardProblem, ProblemCardExpired
		return nil
	case errors.Is(e.Err, ErrSuspended):
		s.Phase, s.Problem = CardProblem, ProblemSuspended
		return nil
	case errors.Is(e.Err, ErrLocked):
		s.Phase, s.Problem = Failed, ProblemLocked
		s.LockedUntil = lockEnd(e.Err, now)
		return nil
	default:
		s.Phase, s.Problem = Failed, ProblemRejected
		return nil
	}
	if !e.Match {
		s.Tries++
		s.Hint = HintNoMatch
		if s.AttemptsLeft == 0 {
			// That was the last failure the server allows: it locks.
			s.Phase, s.Problem = Failed, ProblemLocked
			s.LockedUntil = lockEnd(e.Err, now)
			return nil
		}
		if s.Tries >= m.cfg.MaxTries {
			s.Phase, s.Problem = Failed, ProblemTooManyTries
			return nil
		}
		s.Phase = PlaceFinger
		// Probably the wrong finger: capture only once it has left the
		// window, so one placement is not counted as several failures.
		return []Effect{DoCapture{Gen: s.Gen, NewPlacement: true}}
	}
	r := e.Resident
	s.Resident = &r
	s.Token, s.Hint, s.Tries = e.Token, "", 0
	if s.Resume != nil {
		next := withToken(s.Resume, s.Token)
		s.Resume = nil
		switch next.(type) {
		case DoSubmit:
			s.Phase = Submitting
		case DoAgent:
			s.Phase = AgentCheck
		default:
			s.Phase = Loading
		}
		return m.run(next)
	}
	s.Phase = Loading
	return []Effect{DoCatalogue{Gen: s.Gen, Token: s.Token}}
}

// serverFailed moves to Unavailable (keeping what to retry), to a new
// finger check (the filing token expired or was spent) or to Failed.
func (m *Machine) serverFailed(now time.Time, err error, pending Effect, back Phase) []Effect {
	s := &m.st
	if errors.Is(err, ErrTokenSpent) {
		return m.reverify(pending)
	}
	if outage(err) {
		m.unavailable(now, err, pending, back)
		return nil
	}
	s.Phase, s.Problem = Failed, ProblemRejected
	return nil
}

// reverify asks for the finger again to get a fresh filing token (the
// server's token is short-lived and good for one filing), then resumes.
func (m *Machine) reverify(resume Effect) []Effect {
	s := &m.st
	s.Phase, s.Token, s.Tries, s.Hint, s.Problem = PlaceFinger, "", 0, HintReverify, ""
	s.Resume = m.asAgent(resume)
	return []Effect{DoCapture{Gen: s.Gen}}
}

// withToken returns e carrying token.
func withToken(e Effect, token string) Effect {
	switch e := e.(type) {
	case DoCatalogue:
		e.Token = token
		return e
	case DoForm:
		e.Token = token
		return e
	case DoSubmit:
		e.Token = token
		return e
	case DoFilings:
		e.Token = token
		return e
	case DoAgent:
		e.Token = token
		return e
	case DoRate:
		e.Token = token
		return e
	case DoCertify:
		e.Token = token
		return e
	}
	return e
}

// outage reports an error after which the step is retried: no answer, or
// the server asking this kiosk to wait.
func outage(err error) bool {
	return errors.Is(err, ErrUnavailable) || errors.Is(err, ErrThrottled)
}

// unavailable moves to Unavailable keeping pending, retried by itself at
// RetryAt: after the wait the server asked for (throttled), or after the
// retry interval (no answer; sooner when the probe sees the server back).
func (m *Machine) unavailable(now time.Time, err error, pending Effect, back Phase) {
	s := &m.st
	s.Phase, s.Pending, s.Back = Unavailable, pending, back
	if errors.Is(err, ErrThrottled) {
		wait := max(DetailsOf(err).RetryAfter, time.Second)
		s.Problem, s.RetryAt = ProblemThrottled, now.Add(wait)
		return
	}
	s.Problem, s.RetryAt = ProblemServerDown, now.Add(max(m.cfg.RetryInterval, time.Second))
}

// lockEnd is when the server's lock ends (locked_until, or now plus
// retry_after), zero when it did not say.
func lockEnd(err error, now time.Time) time.Time {
	d := DetailsOf(err)
	if !d.LockedUntil.IsZero() {
		return d.LockedUntil
	}
	if d.RetryAfter > 0 {
		return now.Add(d.RetryAfter)
	}
	return time.Time{}
}

// retry runs the pending step again: touched by the resident (Retry) or by
// itself (the timer, the server back), which does not count as activity.
func (m *Machine) retry(now time.Time, touched bool) []Effect {
	s := &m.st
	p := s.Pending
	if p == nil {
		return nil
	}
	if touched {
		m.activity(now)
	}
	s.Pending, s.Problem, s.RetryAt = nil, "", time.Time{}
	switch p.(type) {
	case DoSubmit:
		s.Phase = Submitting
	case DoCapture:
		s.Phase = PlaceFinger
	case DoCheck:
		s.Phase = Checking
	case DoAgent:
		s.Phase = AgentCheck
	default:
		s.Phase = Loading
	}
	return m.run(p)
}

func (m *Machine) touch(t Touch, now time.Time) []Effect {
	s := &m.st
	if t.Action != "" {
		m.activity(now)
	}
	if s.Mode == ModeStaff || s.Phase == StaffLogin || s.Phase == StaffBusy {
		return m.staffTouch(t, now)
	}
	if s.Hint == HintNewReplies && t.Action != "" && t.Action != ActElderly {
		s.Hint = "" // the notice is said once, on arrival at the menu
	}
	switch t.Action {
	case ActFinish:
		if s.Phase == Idle || s.Phase == Submitting {
			return nil
		}
		return m.end(now, Idle, ModeResident, EndFinished)
	case ActStaff:
		if s.Phase == Idle {
			s.Phase, s.Problem, s.AttemptsLeft = StaffLogin, "", -1
		}
	case ActElderly:
		s.Elderly = t.Arg == "on"
	case ActRetry:
		if s.Phase == Unavailable && s.Problem != ProblemThrottled {
			return m.retry(now, true)
		}
		if s.Phase == Failed && s.Problem == ProblemScannerFault && s.Card != nil {
			s.Phase, s.Problem, s.Hint, s.Tries = PlaceFinger, "", "", 0
			return []Effect{DoCapture{Gen: s.Gen}}
		}
	case ActAgent:
		return m.agentTouch()
	case ActChoose:
		if s.Phase != Menu {
			return nil
		}
		for _, sv := range s.Services {
			if sv.Code == t.Arg {
				s.Phase, s.Receipt, s.Certificate = Loading, nil, nil
				if sv.Certification {
					return []Effect{DoCertify{Gen: s.Gen, Token: s.Token, Service: sv}}
				}
				return []Effect{DoForm{Gen: s.Gen, Token: s.Token, Service: sv}}
			}
		}
	case ActRate:
		return m.rate(t, now)
	case ActFilings:
		switch s.Phase {
		case Menu, Certified:
			// A certification does not spend the token.
			s.Certificate = nil
			s.Phase = Loading
			return []Effect{DoFilings{Gen: s.Gen, Token: s.Token}}
		case ReceiptPhase:
			// The filing spent the token: the finger again, then the list.
			s.Receipt, s.Form, s.IdemKey = nil, nil, ""
			return m.reverify(DoFilings{Gen: s.Gen})
		}
	case ActBack:
		switch s.Phase {
		case AgentCard:
			m.agentBack()
		case FormPhase, Filings, Certified:
			s.Phase, s.Form, s.Filings, s.IdemKey, s.Missing, s.Problem, s.Hint, s.Rating = Menu, nil, nil, "", nil, "", "", ""
			s.Certificate = nil
		case ReceiptPhase:
			// Another service: the filing spent the token.
			s.Receipt, s.Form, s.IdemKey = nil, nil, ""
			return m.reverify(DoCatalogue{Gen: s.Gen})
		}
	case ActEdit:
		if s.Phase != FormPhase || s.Form == nil {
			return nil
		}
		for i := range s.Form.Fields {
			f := &s.Form.Fields[i]
			if f.Key == t.Arg && f.Editable {
				v := t.Values["value"]
				if len(f.Choices) > 0 && !contains(f.Choices, v) {
					return nil
				}
				if len([]rune(v)) > 200 {
					return nil
				}
				f.Value = v
				s.IdemKey = "" // a changed form is a new filing
				s.Missing = slices.DeleteFunc(s.Missing, func(k string) bool { return k == f.Key })
				if len(s.Missing) == 0 {
					s.Problem = ""
				}
			}
		}
	case ActConfirm:
		if s.Phase != FormPhase || s.Form == nil {
			return nil
		}
		// Required fields left empty are named and marked; nothing is sent.
		s.Missing = nil
		for _, f := range s.Form.Fields {
			if f.Editable && f.Required && strings.TrimSpace(f.Value) == "" {
				s.Missing = append(s.Missing, f.Key)
			}
		}
		if len(s.Missing) > 0 {
			s.Problem = ProblemMissing
			return nil
		}
		if s.IdemKey == "" {
			s.IdemKey = m.newKey()
		}
		s.Phase, s.Problem = Submitting, ""
		return []Effect{DoSubmit{Gen: s.Gen, Token: s.Token, IdemKey: s.IdemKey, Form: *s.Form}}
	}
	return nil
}

func contains(xs []string, v string) bool {
	for _, x := range xs {
		if x == v {
			return true
		}
	}
	return false
}

func (m *Machine) staffTouch(t Touch, now time.Time) []Effect {
	s := &m.st
	switch t.Action {
	case ActFinish:
		if s.Phase == StaffLogin {
			return m.reset(now, Idle, ModeResident)
		}
	case ActLogin:
		if s.Phase != StaffLogin {
			return nil
		}
		u, p := t.Values["user"], t.Values["pin"]
		if u == "" || p == "" {
			s.Problem = ProblemLoginFailed
			return nil
		}
		s.Phase, s.Problem = StaffBusy, ""
		return []Effect{DoStaffLogin{Gen: s.Gen, User: u, PIN: p}}
	case ActLogout:
		if s.Mode == ModeStaff {
			return m.reset(now, Idle, ModeResident)
		}
	case ActEnrol:
		if s.Phase == StaffMenu || s.Phase == EnrolDone {
			return m.reset(now, EnrolCard, ModeStaff)
		}
	case ActDiagnostics:
		if s.Phase == StaffMenu {
			s.Phase = Diagnostics
		}
	case ActConsent:
		if s.Phase == EnrolConsent && s.Card != nil {
			s.ConsentAt, s.Problem = now, ""
			return m.startEnrolCapture()
		}
	case ActBack:
		switch s.Phase {
		case Diagnostics, EnrolCard, EnrolDone:
			s.Phase, s.Problem = StaffMenu, ""
		case EnrolConsent, EnrolCapture, EnrolSupervisor:
			return m.reset(now, StaffMenu, ModeStaff)
		}
	case ActRetake:
		if s.Phase == EnrolCapture && s.Enrol != nil {
			s.Problem, s.Hint = "", ""
			// No wait for a lift: the staff retake when they see the
			// finger placed again (it may already be back on).
			return []Effect{CancelCapture{}, DoCapture{Gen: s.Gen, Finger: s.Enrol[s.EnrolIdx].Finger, Enrol: true}}
		}
	case ActSkipFinger:
		if s.Phase != EnrolCapture || s.Enrol == nil {
			return nil
		}
		// The finger cannot be captured (injury, missing): replace it with
		// the next alternate not yet used; its accepted captures go.
		used := map[string]bool{}
		for _, f := range s.Enrol {
			used[f.Finger] = true
		}
		for _, alt := range m.cfg.AlternateFingers {
			if !used[alt] {
				s.Enrol[s.EnrolIdx] = EnrolFinger{Finger: alt}
				s.Problem, s.Hint = "", ""
				return []Effect{CancelCapture{}, DoCapture{Gen: s.Gen, Finger: alt, Enrol: true}}
			}
		}
	case ActConfirm:
		if s.Phase == EnrolCapture && m.enrolComplete() && !s.ConsentAt.IsZero() {
			s.Phase, s.Problem = StaffBusy, ""
			if s.IdemKey == "" {
				s.IdemKey = m.newKey()
			}
			return []Effect{DoEnrol{Gen: s.Gen, StaffToken: s.Staff.Token, Card: *s.Card, Fingers: s.Enrol, OverrideCase: s.OverrideCase, ConsentAt: s.ConsentAt}}
		}
	case ActSupervisor:
		if s.Phase != EnrolSupervisor || s.Outcome == nil {
			return nil
		}
		u, p := t.Values["user"], t.Values["pin"]
		if u == "" || p == "" {
			s.Problem = ProblemLoginFailed
			return nil
		}
		s.Phase, s.Problem = StaffBusy, ""
		return []Effect{DoConfirmDuplicate{Gen: s.Gen, CaseID: s.Outcome.CaseID, User: u, PIN: p}}
	case ActReject:
		if s.Phase == EnrolSupervisor {
			return m.reset(now, StaffMenu, ModeStaff)
		}
	}
	return nil
}

func (m *Machine) enrolComplete() bool {
	for _, f := range m.st.Enrol {
		if len(f.Accepted) < m.cfg.EnrolCaptures {
			return false
		}
	}
	return len(m.st.Enrol) > 0
}

// retakeDisagreeing answers the server's enrolment_inconsistent: the
// captures it names (per finger, by index as sent: the order of Accepted)
// are dropped, the others kept (the server spent none of their nonces), and
// the first finger concerned is captured again, with the reason shown to
// the staff. Nil when the answer names no capture the kiosk sent.
func (m *Machine) retakeDisagreeing(named map[string][]int) []Effect {
	s := &m.st
	first := -1
	for fi := range s.Enrol {
		f := &s.Enrol[fi]
		drop := named[f.Finger]
		if len(drop) == 0 {
			continue
		}
		kept := f.Accepted[:0:0]
		for i, smp := range f.Accepted {
			if !slices.Contains(drop, i) {
				kept = append(kept, smp)
			}
		}
		if len(kept) == len(f.Accepted) {
			continue
		}
		f.Accepted = kept
		if first < 0 {
			first = fi
		}
	}
	if first < 0 {
		return nil
	}
	s.EnrolIdx, s.Problem, s.Hint, s.IdemKey = first, ProblemInconsistent, "", ""
	return []Effect{DoCapture{Gen: s.Gen, Finger: s.Enrol[first].Finger, Enrol: true, NewPlacement: true}}
}

func (m *Machine) enrolCaptured(e Captured, now time.Time) []Effect {
	s := &m.st
	m.activity(now)
	cur := &s.Enrol[s.EnrolIdx]
	fault := e.Fault
	if e.Err != nil && fault == CaptureOK {
		fault = DeviceFault
	}
	s.LastQuality = e.Sample.Quality
	if fault == CaptureOK && e.Sample.Quality < m.Gates().Enrol {
		fault = NotFlat
	}
	switch fault {
	case CaptureOK:
		s.Hint = ""
		smp := e.Sample
		smp.Finger = cur.Finger
		cur.Accepted = append(cur.Accepted, smp)
		if s.Problem == ProblemInconsistent && len(cur.Accepted) >= m.cfg.EnrolCaptures {
			s.Problem = "" // the finger refused is captured again
		}
		if len(cur.Accepted) < m.cfg.EnrolCaptures {
			return []Effect{DoCapture{Gen: s.Gen, Finger: cur.Finger, Enrol: true, NewPlacement: true}}
		}
		// The next finger still short of captures (after a retake, an
		// earlier one may be complete already).
		for i := 1; i < len(s.Enrol); i++ {
			next := (s.EnrolIdx + i) % len(s.Enrol)
			if len(s.Enrol[next].Accepted) < m.cfg.EnrolCaptures {
				s.EnrolIdx = next
				return []Effect{DoCapture{Gen: s.Gen, Finger: s.Enrol[next].Finger, Enrol: true, NewPlacement: true}}
			}
		}
		return nil // complete: the staff confirms
	case DeviceFault:
		cur.Rejected++
		s.Problem = ProblemScannerFault
		return nil // the staff resolves: retake once the scanner is back
	case NoFinger:
		s.Hint = HintNoFinger
	case NotLifted:
		s.Hint = HintLift
	case Moving:
		s.Hint = HintMoving
	case Exposure:
		s.Hint = HintExposure
	default:
		s.Hint = HintNotFlat
	}
	cur.Rejected++
	// A failed capture waits for the staff: retake or use another finger.
	return nil
}

// rate sends the resident's rating of one of the listed filings or reports
// that may be rated; one at a time.
func (m *Machine) rate(t Touch, now time.Time) []Effect {
	s := &m.st
	if s.Phase != Filings || s.Rating != "" {
		return nil
	}
	score, err := strconv.Atoi(t.Values["score"])
	if err != nil || score < 1 || score > 5 {
		return nil
	}
	var reasons []string
	for _, r := range strings.Split(t.Values["reasons"], ",") {
		if r = strings.TrimSpace(r); r != "" && len(r) <= 32 && len(reasons) < 8 {
			reasons = append(reasons, r)
		}
	}
	for _, f := range s.Filings {
		if f.Reference == t.Arg && f.Rateable {
			s.Rating, s.Problem, s.Hint = f.Reference, "", ""
			return []Effect{DoRate{Gen: s.Gen, Token: s.Token, Reference: f.Reference, Score: score, Reasons: reasons}}
		}
	}
	return nil
}

// rated records the outcome of a rating: the list shows it, with thanks; a
// spent or expired token asks for the finger again and sends it again.
func (m *Machine) rated(e Rated, now time.Time) []Effect {
	s := &m.st
	if s.Rating != e.Reference || (s.Phase != Filings && s.Phase != Loading) {
		return nil
	}
	if errors.Is(e.Err, ErrTokenSpent) {
		return m.reverify(DoRate{Gen: s.Gen, Reference: e.Reference, Score: e.Score, Reasons: e.Reasons})
	}
	s.Rating, s.Phase = "", Filings
	m.activity(now)
	if e.Err != nil {
		s.Problem = ProblemRateFailed
		return nil
	}
	for i := range s.Filings {
		if s.Filings[i].Reference == e.Reference {
			s.Filings[i].Rating, s.Filings[i].Rateable = e.Score, false
		}
	}
	s.Hint = HintRated
	return nil
}
