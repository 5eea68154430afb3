package session

import (
	"errors"
	"time"

	"github.com/qingshan-gov/veinkiosk/identity"
)

// Filing for a family member (代办). After the agent's own card and finger
// check, "为家人代办" on the menu asks for the family member's card
// (AgentCard: the agent's card may leave the reader without ending the
// session); the card read is sent with the agent's token (DoAgent,
// AgentCheck); the server's answer names the family member, whose services
// the menu then lists. Every later step carries the principal: a form's
// Principal, and after a new finger check (the token spent or expired) the
// new token is bound to the same family member again before anything else
// (reverify wraps the step in DoAgent). The card read for the family member
// is kept in the session, as the agent's is, and wiped with it.

// agentTouch starts 代办 from the menu.
func (m *Machine) agentTouch() []Effect {
	s := &m.st
	if s.Phase != Menu || s.Principal != nil || s.Token == "" {
		return nil
	}
	s.Phase, s.Problem, s.Hint = AgentCard, "", ""
	return nil
}

// agentCardRead: a card on the reader while the family member's is asked for.
func (m *Machine) agentCardRead(c identity.Card, now time.Time) []Effect {
	s := &m.st
	m.activity(now)
	if s.Card != nil && identity.CanonicalIDNumber(c.IDNumber) == identity.CanonicalIDNumber(s.Card.IDNumber) {
		s.Hint, s.Problem = HintOwnCard, ""
		return nil
	}
	if c.Expired(now) {
		s.Problem, s.Hint = ProblemAgentCard, ""
		return nil
	}
	s.Phase, s.Problem, s.Hint = AgentCheck, "", ""
	return []Effect{DoAgent{Gen: s.Gen, Token: s.Token, Card: c}}
}

// agentBound is the server's answer to DoAgent.
func (m *Machine) agentBound(e AgentBound, req DoAgent, now time.Time) []Effect {
	s := &m.st
	if s.Phase != AgentCheck {
		return nil
	}
	m.activity(now)
	switch {
	case e.Err == nil:
	case outage(e.Err):
		m.unavailable(now, e.Err, req, AgentCard)
		return nil
	case errors.Is(e.Err, ErrTokenSpent), errors.Is(e.Err, ErrAgentTokenBound):
		// The agent's token expired (or was spent): the finger again,
		// then this card again.
		req.Token = ""
		return m.reverify(req)
	default:
		s.Phase, s.Problem = AgentCard, agentProblem(e.Err)
		if s.Principal != nil {
			// A family member already chosen can no longer be filed for
			// (their record changed): nothing more in their name.
			s.Principal, s.PrincipalCard, s.Relation = nil, nil, ""
			s.Services = nil
		}
		return nil
	}
	p, c := e.Info.Principal, req.Card
	s.Principal, s.PrincipalCard, s.Relation = &p, &c, e.Info.RelationLabel
	if req.Then != nil {
		next := withToken(req.Then, s.Token)
		if _, ok := next.(DoSubmit); ok {
			s.Phase = Submitting
		} else {
			s.Phase = Loading
		}
		return []Effect{next}
	}
	s.Phase, s.Services = Loading, nil
	return []Effect{DoCatalogue{Gen: s.Gen, Token: s.Token}}
}

func agentProblem(err error) string {
	switch {
	case errors.Is(err, ErrNotHousehold):
		return ProblemAgentNotHousehold
	case errors.Is(err, ErrPrincipalNotEligible):
		return ProblemAgentNotEligible
	case errors.Is(err, ErrAgentNotAllowed):
		return ProblemAgentNotAllowed
	}
	// The card: not the record's, invalid, expired, not registered,
	// suspended, or a refusal the kiosk does not know.
	return ProblemAgentCard
}

// agentBack leaves the family member's card screen for the agent's own menu.
func (m *Machine) agentBack() {
	s := &m.st
	s.Phase, s.Problem, s.Hint = Menu, "", ""
}

// asAgent wraps a step that needs a new token in 代办 mode: the new token
// is bound to the same family member first.
func (m *Machine) asAgent(e Effect) Effect {
	s := &m.st
	if s.Principal == nil || s.PrincipalCard == nil {
		return e
	}
	if _, ok := e.(DoAgent); ok {
		return e
	}
	return DoAgent{Gen: s.Gen, Card: *s.PrincipalCard, Then: e}
}

// run returns effects to run, remembering a DoAgent among them for its
// outcome.
func (m *Machine) run(effs ...Effect) []Effect {
	for _, e := range effs {
		if a, ok := e.(DoAgent); ok {
			m.agentReq = a
		}
	}
	return effs
}
