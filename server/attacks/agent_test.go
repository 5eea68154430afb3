package attacks

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// Filing for a family member (代办, docs/security.md "Filing for a family
// member"): an agent verified by card and finger files for a principal whose
// card the kiosk read. The server decides from the population data; these
// attacks try every other way in.

// resident imports a resident with a chosen birth date, household,
// guardian and categories, and returns their card as a reader reads it.
func (tg *target) resident(name string, birth time.Time, household, guardian string, cats ...string) *person {
	tg.t.Helper()
	id := idNumber("150204", birth, int(personSeq.Add(1)))
	p := &person{
		card: apiv1.Card{IDNumber: id, Name: name, Gender: identity.GenderMale, Birth: identity.DateOf(birth), Validity: identity.Validity{From: 20200101, Until: identity.LongTerm},
			Address: "内蒙古自治区包头市青山区幸福路1号"},
		fingers: map[apiv1.Finger]*finger{apiv1.RightIndex: newFinger(), apiv1.RightMiddle: newFinger()},
	}
	must(tg.t, tg.admin.Do(tg.ctx(), "POST", apiv1.PathAdminResidents, apiv1.ResidentImport{Residents: []apiv1.Resident{{
		IDNumber: id, Name: name, Gender: "M", BirthDate: birth.Format(time.DateOnly), Address: p.card.Address, GridCell: "G-017",
		Household: household, Categories: cats, Status: "active", Relationship: "父母", GuardianIDNumber: guardian,
	}}}, nil))
	return p
}

var certificate = map[string]string{"years": "30", "purpose": "办理居住证", "copies": "1"}

// agentToken is a fresh filing token of the station's enrolled resident
// (李明, household H-0001, born in the 1950s: an adult).
func (tg *target) agentToken(s *station) string {
	tg.t.Helper()
	vr, err := s.k.Verify(tg.ctx(), tg.verifyRequest(s.k, s.p, s.p.fingers[apiv1.RightIndex]))
	if err != nil {
		tg.t.Fatalf("the agent's verification: %v", err)
	}
	return vr.Token
}

func (tg *target) audits(action string) []map[string]string {
	tg.t.Helper()
	recs, err := tg.st.ListAudit(tg.ctx(), 0, 10000)
	if err != nil {
		tg.t.Fatal(err)
	}
	var out []map[string]string
	for _, r := range recs {
		if r.Action == action {
			d := map[string]string{"target": r.Target}
			for k, v := range r.Details {
				d[k] = v
			}
			out = append(out, d)
		}
	}
	return out
}

// TestAgentFilingWorks is the control: a household member files for an
// 86-year-old; both are recorded, audited and shown to the office.
func TestAgentFilingWorks(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		s := tg.enrolledStation("kiosk-01")
		ctx := tg.ctx()
		mother := tg.resident("张秀英", time.Date(1940, 3, 1, 0, 0, 0, 0, time.UTC), "H-0001", "")
		tok := tg.agentToken(s)
		ar := mustV[*apiv1.AgentResponse](t)(s.k.Agent(ctx, tok, mother.card))
		if ar.Principal.Name != "张秀英" || ar.Relation != apiv1.AgentHousehold || ar.Principal.IDNumberMasked != identity.MaskIDNumber(mother.card.IDNumber) {
			t.Fatalf("agent answer = %+v", ar)
		}
		// Binding the same card again is harmless (a retry).
		mustV[*apiv1.AgentResponse](t)(s.k.Agent(ctx, tok, mother.card))
		l := mustV[*apiv1.ServiceList](t)(s.k.EligibleServices(ctx, tok))
		for _, svc := range l.Services {
			if !svc.AgentAllowed {
				t.Errorf("an agent is offered %s, which does not permit 代办", svc.Code)
			}
		}
		if len(l.Services) == 0 {
			t.Fatal("no services offered for the principal")
		}
		form := mustV[*apiv1.Form](t)(s.k.Form(ctx, tok, "residence_certificate"))
		if form.Values["name"] != "张秀英" {
			t.Errorf("the form is prefilled with %q, want the principal's name", form.Values["name"])
		}
		f := mustV[*apiv1.Filing](t)(s.k.SubmitFiling(ctx, &apiv1.SubmitFilingRequest{Token: tok, Service: "residence_certificate",
			IdempotencyKey: "agent-filing-000000001", Values: certificate, PrincipalID: ar.Principal.ResidentID}))
		if f.Agent == nil || f.Agent.Relation != apiv1.AgentHousehold || f.Agent.Name != "" {
			t.Errorf("the kiosk's filing = %+v: want the agent's relation only", f.Agent)
		}
		by := tg.audits("filing.by_agent")
		if len(by) != 1 || by[0]["target"] != fmt.Sprintf("filing:%d", f.ID) || by[0]["resident"] != fmt.Sprint(ar.Principal.ResidentID) || by[0]["agent"] == "" {
			t.Errorf("filing.by_agent audit = %+v", by)
		}
		if bound := tg.audits("filing.agent_bound"); len(bound) != 1 {
			t.Errorf("filing.agent_bound audits = %+v, want one (the retry binds nothing new)", bound)
		}
		// The office sees who filed, and why.
		tg.staffInStore("community-officer", store.RoleDepartmentOfficer, "community", "")
		var of apiv1.Filing
		must(t, tg.login("community-officer").Do(ctx, "GET", fmt.Sprintf("%s/%d", apiv1.PathFilings, f.ID), nil, &of))
		if of.ResidentName != "张秀英" || of.Agent == nil || of.Agent.Name != "李明" || of.Agent.IDNumberMasked != identity.MaskIDNumber(s.p.card.IDNumber) || of.Agent.Relationship != "父母" {
			t.Errorf("office filing = %+v, agent %+v", of, of.Agent)
		}
		c, _ := tg.officeLogin("community-officer")
		r := tg.office("GET", fmt.Sprintf("/office/filings/%d", f.ID), nil, c.Value)
		if r.status != 200 || !strings.Contains(r.body, `id="agent"`) || !strings.Contains(r.body, "李明") || !strings.Contains(r.body, "同户家庭成员") {
			t.Errorf("office page: %d %.400s", r.status, r.body)
		}
		// The principal's filings are the principal's.
		fl := mustV[*apiv1.FilingList](t)(s.k.Status(ctx, tg.agentTokenFor(s, mother)))
		if len(fl.Filings) != 1 || fl.Filings[0].Reference != f.Reference {
			t.Errorf("the principal's filings = %+v", fl.Filings)
		}
	})
}

// agentTokenFor is a fresh agent token bound to p.
func (tg *target) agentTokenFor(s *station, p *person) string {
	tg.t.Helper()
	tok := tg.agentToken(s)
	if _, err := s.k.Agent(tg.ctx(), tok, p.card); err != nil {
		tg.t.Fatalf("binding the token: %v", err)
	}
	return tok
}

// TestAttackAgentNotInHousehold: someone who is not in the principal's
// household (and not their guardian) files for them.
func TestAttackAgentNotInHousehold(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		s := tg.enrolledStation("kiosk-01")
		ctx := tg.ctx()
		neighbour := tg.resident("赵大爷", time.Date(1938, 5, 1, 0, 0, 0, 0, time.UTC), "H-0002", "")
		tok := tg.agentToken(s)
		_, err := s.k.Agent(ctx, tok, neighbour.card)
		refused(t, err, http.StatusForbidden, apiv1.CodeNotHousehold)
		// Nothing was bound: the token still files for the agent only, and
		// naming the neighbour as principal is refused.
		_, err = s.k.SubmitFiling(ctx, &apiv1.SubmitFilingRequest{Token: tok, Service: "residence_certificate", IdempotencyKey: "agent-attack-00000001",
			Values: certificate, PrincipalID: tg.residentID(neighbour)})
		refused(t, err, http.StatusConflict, apiv1.CodeAgentTokenBound)
		if f, _ := tg.st.ListFilings(ctx, store.FilingFilter{IDNumber: neighbour.card.IDNumber}); len(f) != 0 {
			t.Fatalf("ATTACK SUCCEEDED: %d filings for the neighbour", len(f))
		}
		if r := tg.audits("filing.agent_refused"); len(r) != 1 || r[0]["code"] != apiv1.CodeNotHousehold {
			t.Errorf("refusal audit = %+v", r)
		}
		// A recorded guardian outside the household may.
		ward := tg.resident("钱某", time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC), "H-0009", s.p.card.IDNumber, "disabled")
		ar := mustV[*apiv1.AgentResponse](t)(s.k.Agent(ctx, tg.agentToken(s), ward.card))
		if ar.Relation != apiv1.AgentGuardian {
			t.Errorf("guardian relation = %q", ar.Relation)
		}
	})
}

// TestAttackAgentPrincipalNotEligible: a household member who is neither
// old enough nor disabled; a service that does not permit 代办; an agent
// who is a minor.
func TestAttackAgentPrincipalNotEligible(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		s := tg.enrolledStation("kiosk-01")
		ctx := tg.ctx()
		son := tg.resident("李小明", time.Date(1985, 6, 1, 0, 0, 0, 0, time.UTC), "H-0001", "")
		_, err := s.k.Agent(ctx, tg.agentToken(s), son.card)
		refused(t, err, http.StatusForbidden, apiv1.CodePrincipalNotEligible)
		// 69 is not 70.
		day := identity.ChinaDate(tg.clock.Now()).Time()
		almost := tg.resident("李六九", day.AddDate(-70, 0, 1), "H-0001", "")
		_, err = s.k.Agent(ctx, tg.agentToken(s), almost.card)
		refused(t, err, http.StatusForbidden, apiv1.CodePrincipalNotEligible)

		// A disabled household member may be filed for, but not for a
		// service the catalogue keeps to the person (unemployment
		// registration), neither its form nor its filing.
		disabled := tg.resident("李残", time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC), "H-0001", "", "disabled")
		tok := tg.agentToken(s)
		ar := mustV[*apiv1.AgentResponse](t)(s.k.Agent(ctx, tok, disabled.card))
		_, err = s.k.Form(ctx, tok, "unemployment_registration")
		refused(t, err, http.StatusForbidden, apiv1.CodeAgentNotAllowed)
		_, err = s.k.SubmitFiling(ctx, &apiv1.SubmitFilingRequest{Token: tok, Service: "unemployment_registration", IdempotencyKey: "agent-attack-00000002",
			Values: map[string]string{"reason": "合同到期"}, PrincipalID: ar.Principal.ResidentID})
		refused(t, err, http.StatusForbidden, apiv1.CodeAgentNotAllowed)

		// A minor cannot be an agent, even enrolled and verified.
		child := tg.resident("李小小", day.AddDate(-12, 0, 0), "H-0001", "")
		tg.enrol(s.staff, child)
		vr := mustV[*apiv1.VerifyResponse](t)(s.k.Verify(ctx, tg.verifyRequest(s.k, child, child.fingers[apiv1.RightIndex])))
		grandma := tg.resident("李奶奶", time.Date(1936, 1, 1, 0, 0, 0, 0, time.UTC), "H-0001", "")
		_, err = s.k.Agent(ctx, vr.Token, grandma.card)
		refused(t, err, http.StatusForbidden, apiv1.CodeAgentNotAllowed)
	})
}

// TestAttackAgentTokenSecondPrincipal: a token bound to one principal is
// used for a second one, before and after its filing.
func TestAttackAgentTokenSecondPrincipal(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		s := tg.enrolledStation("kiosk-01")
		ctx := tg.ctx()
		mother := tg.resident("张秀英", time.Date(1940, 3, 1, 0, 0, 0, 0, time.UTC), "H-0001", "")
		father := tg.resident("李大山", time.Date(1939, 3, 1, 0, 0, 0, 0, time.UTC), "H-0001", "")
		tok := tg.agentToken(s)
		ar := mustV[*apiv1.AgentResponse](t)(s.k.Agent(ctx, tok, mother.card))
		_, err := s.k.Agent(ctx, tok, father.card)
		refused(t, err, http.StatusConflict, apiv1.CodeAgentTokenBound)
		// Naming the father in the filing does not file for him either.
		_, err = s.k.SubmitFiling(ctx, &apiv1.SubmitFilingRequest{Token: tok, Service: "residence_certificate", IdempotencyKey: "agent-attack-00000003",
			Values: certificate, PrincipalID: tg.residentID(father)})
		refused(t, err, http.StatusConflict, apiv1.CodeAgentTokenBound)
		// Nor does filing without a principal: the bound token is not the
		// agent's own any more.
		_, err = s.k.SubmitFiling(ctx, &apiv1.SubmitFilingRequest{Token: tok, Service: "residence_certificate", IdempotencyKey: "agent-attack-00000004", Values: certificate})
		refused(t, err, http.StatusConflict, apiv1.CodeAgentTokenBound)
		mustV[*apiv1.Filing](t)(s.k.SubmitFiling(ctx, &apiv1.SubmitFilingRequest{Token: tok, Service: "residence_certificate", IdempotencyKey: "agent-attack-00000005",
			Values: certificate, PrincipalID: ar.Principal.ResidentID}))
		// Spent: nothing more, for anyone.
		_, err = s.k.Agent(ctx, tok, father.card)
		refused(t, err, http.StatusUnauthorized, apiv1.CodeTokenInvalid)
		// (The spent token is remembered as the mother's, for the retry of
		// a lost answer: another principal is told so.)
		_, err = s.k.SubmitFiling(ctx, &apiv1.SubmitFilingRequest{Token: tok, Service: "residence_certificate", IdempotencyKey: "agent-attack-00000006",
			Values: certificate, PrincipalID: tg.residentID(father)})
		refused(t, err, http.StatusConflict, apiv1.CodeAgentTokenBound)
		_, err = s.k.SubmitFiling(ctx, &apiv1.SubmitFilingRequest{Token: tok, Service: "residence_certificate", IdempotencyKey: "agent-attack-00000008",
			Values: certificate, PrincipalID: ar.Principal.ResidentID})
		refused(t, err, http.StatusUnauthorized, apiv1.CodeTokenInvalid)
		// A form shown for the mother, filed with a fresh token that was
		// never bound (the kiosk lost the binding), is not filed for anyone.
		fresh := tg.agentToken(s)
		_, err = s.k.SubmitFiling(ctx, &apiv1.SubmitFilingRequest{Token: fresh, Service: "residence_certificate", IdempotencyKey: "agent-attack-00000007",
			Values: certificate, PrincipalID: ar.Principal.ResidentID})
		refused(t, err, http.StatusConflict, apiv1.CodeAgentTokenBound)
		// The refusals were the token's, not the father's: a fresh token
		// binds to him (and files nothing by itself).
		_, err = s.k.Agent(ctx, fresh, father.card)
		must(t, err)
		if f, _ := tg.st.ListFilings(ctx, store.FilingFilter{IDNumber: father.card.IDNumber}); len(f) != 0 {
			t.Fatalf("ATTACK SUCCEEDED: %d filings for the second principal", len(f))
		}
		if f, _ := tg.st.ListFilings(ctx, store.FilingFilter{IDNumber: mother.card.IDNumber}); len(f) != 1 {
			t.Fatalf("%d filings for the first principal, want 1", len(f))
		}
	})
}

// TestAttackAgentForgedPrincipalCard: the principal's card reaches the
// server as data the kiosk sends (signed by the kiosk, not by the reader).
// A kiosk (or whoever holds its key) forges it: another name on the
// principal's number, a number with a wrong check character, a birth date
// or sex that contradicts the number, an expired card, a number nobody
// has, the agent's own card.
func TestAttackAgentForgedPrincipalCard(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		s := tg.enrolledStation("kiosk-01")
		ctx := tg.ctx()
		mother := tg.resident("张秀英", time.Date(1940, 3, 1, 0, 0, 0, 0, time.UTC), "H-0001", "")
		forge := func(edit func(c *apiv1.Card)) apiv1.Card {
			c := mother.card
			edit(&c)
			return c
		}
		other := idNumber("150204", time.Date(1941, 1, 1, 0, 0, 0, 0, time.UTC), 901)
		for _, tc := range []struct {
			name   string
			card   apiv1.Card
			status int
			code   string
		}{
			{"another name", forge(func(c *apiv1.Card) { c.Name = "王五" }), http.StatusUnprocessableEntity, apiv1.CodeCardMismatch},
			{"part of the name", forge(func(c *apiv1.Card) { c.Name = "张秀" }), http.StatusUnprocessableEntity, apiv1.CodeCardMismatch},
			{"sex of the other", forge(func(c *apiv1.Card) { c.Gender = identity.GenderFemale }), http.StatusUnprocessableEntity, apiv1.CodeCardInvalid},
			{"wrong check character", forge(func(c *apiv1.Card) { c.IDNumber = c.IDNumber[:17] + flipCheck(c.IDNumber[17]) }), http.StatusUnprocessableEntity, apiv1.CodeCardInvalid},
			{"birth date off the number", forge(func(c *apiv1.Card) { c.Birth = identity.DateOf(time.Date(1941, 3, 1, 0, 0, 0, 0, time.UTC)) }), http.StatusUnprocessableEntity, apiv1.CodeCardInvalid},
			{"expired", forge(func(c *apiv1.Card) { c.Validity = identity.Validity{From: 20000101, Until: 20200101} }), http.StatusUnprocessableEntity, apiv1.CodeCardExpired},
			{"nobody's number", forge(func(c *apiv1.Card) {
				c.IDNumber, c.Birth = other, identity.DateOf(time.Date(1941, 1, 1, 0, 0, 0, 0, time.UTC))
			}), http.StatusNotFound, apiv1.CodeResidentUnknown},
			{"the agent's own card", s.p.card, http.StatusForbidden, apiv1.CodeAgentNotAllowed},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := s.k.Agent(ctx, tg.agentToken(s), tc.card)
				refused(t, err, tc.status, tc.code)
			})
		}
		// The same over raw signed HTTP, without the client's encoding: a
		// lower-case x and spaces around the number are the same person
		// (one canonical number), the name must still match.
		tok := tg.agentToken(s)
		body := fmt.Sprintf(`{"token":%q,"card":{"id_number":" %s ","name":"王五","sex":"1","birth_date":"1940-03-01","valid_from":"2020-01-01","valid_until":"长期"}}`,
			tok, strings.ToLower(mother.card.IDNumber))
		tg.do(s.k.signed("POST", apiv1.PathKioskAgent, []byte(body), tg.clock.Now())).want(t, http.StatusUnprocessableEntity, apiv1.CodeCardMismatch)
		if f, _ := tg.st.ListFilings(ctx, store.FilingFilter{IDNumber: mother.card.IDNumber}); len(f) != 0 {
			t.Fatalf("ATTACK SUCCEEDED: %d filings", len(f))
		}
		if n := len(tg.audits("filing.agent_refused")); n < 9 {
			t.Errorf("%d refusals audited, want every one", n)
		}
		if n := len(tg.audits("filing.agent_bound")); n != 0 {
			t.Errorf("ATTACK SUCCEEDED: %d tokens bound by forged cards", n)
		}
	})
}

func flipCheck(c byte) string {
	const set = "0123456789X"
	return string(set[(strings.IndexByte(set, c)+1)%len(set)])
}

// residentID is a resident's internal id (what a principal_id names).
func (tg *target) residentID(p *person) int64 {
	tg.t.Helper()
	r, err := tg.st.GetResident(tg.ctx(), p.card.IDNumber)
	if err != nil {
		tg.t.Fatal(err)
	}
	return r.ID
}
