package session

import (
	"fmt"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/identity"
)

var (
	mother    = identity.Card{Name: "王秀兰", IDNumber: "11010119400101002X", Validity: identity.Validity{From: 20160101, Until: identity.LongTerm}}
	motherInf = AgentInfo{Principal: Resident{ID: "42", Name: "王秀兰", MaskedID: "110101********002X"}, Relation: "household", RelationLabel: "同户家庭成员"}
)

// verifiedAtMenu: the agent's own card and finger, then the menu.
var verifiedAtMenu = []step{
	{0, CardRead{alice}, Checking, "", "", "DoCheck"},
	{0, Checked{}, PlaceFinger, "", "", "DoCapture"},
	{time.Second, Captured{Sample: good}, Verifying, "", "", "DoVerify"},
	{time.Second, Verified{Match: true, Token: "tok", Resident: Resident{ID: "1", Name: "张秀英"}}, Loading, "", "", "DoCatalogue"},
	{time.Second, CatalogueLoaded{Services: []Service{dibao}}, Menu, "", "", ""},
}

func TestAgentJourneys(t *testing.T) {
	unavailable := fmt.Errorf("dial: %w", ErrUnavailable)
	tests := []struct {
		name  string
		steps []step
	}{
		{"family member's card to receipt", []step{
			{2 * time.Second, Touch{Action: ActAgent}, AgentCard, "", "", ""},
			{3 * time.Second, CardRemoved{}, AgentCard, "", "", ""}, // the agent's card out: no end
			{4 * time.Second, CardRead{alice}, AgentCard, "", HintOwnCard, ""},
			{5 * time.Second, CardRemoved{}, AgentCard, "", HintOwnCard, ""},
			{6 * time.Second, CardRead{mother}, AgentCheck, "", "", "DoAgent"},
			{6 * time.Second, AgentBound{Info: motherInf}, Loading, "", "", "DoCatalogue"},
			{7 * time.Second, CatalogueLoaded{Services: []Service{dibao}}, Menu, "", "", ""},
			{7 * time.Second, Touch{Action: ActAgent}, Menu, "", "", ""}, // once per session
			{8 * time.Second, Touch{Action: ActChoose, Arg: "dibao-renewal"}, Loading, "", "", "DoForm"},
			{8 * time.Second, FormLoaded{Form: form}, FormPhase, "", "", ""},
			{9 * time.Second, Touch{Action: ActConfirm}, Submitting, "", "", "DoSubmit"},
			{10 * time.Second, Submitted{Receipt: Receipt{Reference: "QS-1"}}, ReceiptPhase, "", "", ""},
			// Another service for her: the finger again, the token bound
			// to her again, then her menu.
			{11 * time.Second, Touch{Action: ActBack}, PlaceFinger, "", HintReverify, "DoCapture"},
			{12 * time.Second, Captured{Sample: good}, Verifying, "", "", "DoVerify"},
			{12 * time.Second, Verified{Match: true, Token: "tok2", Resident: Resident{ID: "1"}}, AgentCheck, "", "", "DoAgent"},
			{12 * time.Second, AgentBound{Info: motherInf}, Loading, "", "", "DoCatalogue"},
			{13 * time.Second, CardRemoved{}, Idle, "", "", "Wipe"}, // her card out: the session ends
		}},
		{"not in one household, then back to the agent's menu", []step{
			{2 * time.Second, Touch{Action: ActAgent}, AgentCard, "", "", ""},
			{3 * time.Second, CardRead{mother}, AgentCheck, "", "", "DoAgent"},
			{3 * time.Second, AgentBound{Err: fmt.Errorf("x: %w", ErrNotHousehold)}, AgentCard, ProblemAgentNotHousehold, "", ""},
			{4 * time.Second, CardRemoved{}, AgentCard, ProblemAgentNotHousehold, "", ""},
			{5 * time.Second, Touch{Action: ActBack}, Menu, "", "", ""},
		}},
		{"refusals", []step{
			{2 * time.Second, Touch{Action: ActAgent}, AgentCard, "", "", ""},
			{3 * time.Second, CardRead{old}, AgentCard, ProblemAgentCard, "", ""}, // expired: not sent
			{3 * time.Second, CardRead{mother}, AgentCheck, "", "", "DoAgent"},
			{3 * time.Second, AgentBound{Err: ErrPrincipalNotEligible}, AgentCard, ProblemAgentNotEligible, "", ""},
			{3 * time.Second, CardRead{mother}, AgentCheck, "", "", "DoAgent"},
			{3 * time.Second, AgentBound{Err: ErrCardMismatch}, AgentCard, ProblemAgentCard, "", ""},
			{3 * time.Second, CardRead{mother}, AgentCheck, "", "", "DoAgent"},
			{3 * time.Second, AgentBound{Err: ErrAgentNotAllowed}, AgentCard, ProblemAgentNotAllowed, "", ""},
			{3 * time.Second, CardRead{mother}, AgentCheck, "", "", "DoAgent"},
			{3 * time.Second, AgentBound{Err: ErrNotFound}, AgentCard, ProblemAgentCard, "", ""},
		}},
		{"outage while checking, retried by itself", []step{
			{2 * time.Second, Touch{Action: ActAgent}, AgentCard, "", "", ""},
			{3 * time.Second, CardRead{mother}, AgentCheck, "", "", "DoAgent"},
			{3 * time.Second, AgentBound{Err: unavailable}, Unavailable, ProblemServerDown, "", ""},
			{4 * time.Second, CardRemoved{}, Unavailable, ProblemServerDown, "", ""},
			{9 * time.Second, Tick{}, AgentCheck, "", "", "DoAgent"},
			{9 * time.Second, AgentBound{Info: motherInf}, Loading, "", "", "DoCatalogue"},
		}},
		{"the agent's token expired: the finger, then her card again", []step{
			{2 * time.Second, Touch{Action: ActAgent}, AgentCard, "", "", ""},
			{3 * time.Second, CardRead{mother}, AgentCheck, "", "", "DoAgent"},
			{3 * time.Second, AgentBound{Err: ErrTokenSpent}, PlaceFinger, "", HintReverify, "DoCapture"},
			{4 * time.Second, Captured{Sample: good}, Verifying, "", "", "DoVerify"},
			{4 * time.Second, Verified{Match: true, Token: "tok2", Resident: Resident{ID: "1"}}, AgentCheck, "", "", "DoAgent"},
			{4 * time.Second, AgentBound{Info: motherInf}, Loading, "", "", "DoCatalogue"},
		}},
		{"idle in the card screen times out", []step{
			{2 * time.Second, Touch{Action: ActAgent}, AgentCard, "", "", ""},
			{time.Hour, Tick{}, Idle, "", "", "Wipe"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := New(DefaultConfig(), keys(), t0)
			run(t, m, append(append([]step{}, verifiedAtMenu...), tc.steps...))
		})
	}
}

// TestAgentCarriesPrincipal: what is sent names the family member: the
// card read for her, the form's principal, and after a new finger check the
// new token is bound to her before the filing is sent again.
func TestAgentCarriesPrincipal(t *testing.T) {
	m := New(DefaultConfig(), keys(), t0)
	run(t, m, verifiedAtMenu)
	m.Step(Touch{Action: ActAgent}, t0.Add(2*time.Second))
	effs := m.Step(CardRead{mother}, t0.Add(3*time.Second))
	if a, ok := effs[0].(DoAgent); !ok || a.Token != "tok" || a.Card.IDNumber != mother.IDNumber || a.Then != nil {
		t.Fatalf("DoAgent = %+v", effs)
	}
	m.Step(AgentBound{Gen: m.State().Gen, Info: motherInf}, t0.Add(3*time.Second))
	if st := m.State(); st.Principal == nil || st.Principal.ID != "42" || st.Relation != "同户家庭成员" || st.Card.IDNumber != alice.IDNumber {
		t.Fatalf("state after binding = %+v", st)
	}
	m.Step(CatalogueLoaded{Gen: m.State().Gen, Services: []Service{dibao}}, t0.Add(4*time.Second))
	m.Step(Touch{Action: ActChoose, Arg: "dibao-renewal"}, t0.Add(4*time.Second))
	m.Step(FormLoaded{Gen: m.State().Gen, Form: form}, t0.Add(4*time.Second))
	effs = m.Step(Touch{Action: ActConfirm}, t0.Add(5*time.Second))
	sub, ok := effs[0].(DoSubmit)
	if !ok || sub.Form.Principal != "42" || sub.Token != "tok" {
		t.Fatalf("DoSubmit = %+v", effs)
	}
	// The token expired under the form: the agent's finger (their own
	// card's data), then her card with the new token, then the same filing.
	m.Step(Submitted{Gen: m.State().Gen, Err: ErrTokenSpent}, t0.Add(6*time.Second))
	effs = m.Step(Captured{Gen: m.State().Gen, Sample: good}, t0.Add(7*time.Second))
	if v, ok := effs[0].(DoVerify); !ok || v.Card.IDNumber != alice.IDNumber {
		t.Fatalf("DoVerify = %+v: the agent verifies with their own card", effs)
	}
	effs = m.Step(Verified{Gen: m.State().Gen, Match: true, Token: "tok2", Resident: Resident{ID: "1"}}, t0.Add(7*time.Second))
	a, ok := effs[0].(DoAgent)
	if !ok || a.Token != "tok2" || a.Card.IDNumber != mother.IDNumber {
		t.Fatalf("after the new finger check = %+v", effs)
	}
	effs = m.Step(AgentBound{Gen: m.State().Gen, Info: motherInf}, t0.Add(7*time.Second))
	again, ok := effs[0].(DoSubmit)
	if !ok || again.Token != "tok2" || again.IdemKey != sub.IdemKey || again.Form.Principal != "42" || m.State().Phase != Submitting {
		t.Fatalf("the filing again = %+v (%s)", effs, m.State().Phase)
	}
	// The session's end (her card taken out) wipes her too.
	m.Step(CardRemoved{}, t0.Add(8*time.Second))
	m.Step(Submitted{Gen: m.State().Gen - 1, Receipt: Receipt{Reference: "late"}}, t0.Add(8*time.Second))
	if st := m.State(); st.Principal != nil || st.PrincipalCard != nil || st.Relation != "" {
		t.Errorf("after the session: %+v", st)
	}
}
