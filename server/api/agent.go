package api

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// Filing for a family member (代办). The agent verifies with card and
// finger as for their own filing and gets a filing token; the kiosk then
// reads the principal's card and sends it with that token
// (POST /api/v1/kiosk/agent). The server decides from the population data
// alone: the two are in one household (the same household number) or the
// principal's record names the agent as guardian; the principal is old
// enough or disabled (the catalogue's agent policy); the agent is an adult.
// It then binds the token, once, to the principal: from there on the
// token's eligible services (only those with agent_allowed), forms, filing
// and "my filings" are the principal's, and the filing records both
// (filing.by_agent).
//
// The card read is not signed by the reader: the kiosk's signature is all
// that vouches for it (docs/security.md, "Filing for a family member").
// The card's fields must therefore be the population record's (name, sex,
// birth date), so a kiosk cannot name a principal by number alone.

// tokenSubject is whom a filing token files for: the token's own resident,
// or the principal it was bound to, with the agent.
type tokenSubject struct {
	resident store.Resident  // who the filing is for
	agent    *store.Resident // who files it (代办), or nil
	relation string          // store.AgentHousehold or store.AgentGuardian
}

// tokenFor checks a filing token for this kiosk (without consuming it) and
// returns whom it files for.
func (s *Server) tokenFor(c *fiber.Ctx, token string) (tokenSubject, error) {
	ft, res, err := s.checkToken(c, token)
	if err != nil {
		return tokenSubject{}, err
	}
	if ft.PrincipalIDNumber == "" {
		return tokenSubject{resident: res}, nil
	}
	p, err := s.activeResident(c, ft.PrincipalIDNumber)
	if err != nil {
		return tokenSubject{}, err
	}
	return tokenSubject{resident: p, agent: &res, relation: ft.PrincipalRelation}, nil
}

// activeResident returns an active resident's record.
func (s *Server) activeResident(c *fiber.Ctx, idNumber string) (store.Resident, error) {
	res, err := s.st.GetResident(c.UserContext(), idNumber)
	if errors.Is(err, store.ErrNotFound) {
		return store.Resident{}, errf(apiv1.CodeResidentUnknown, "no resident record for this ID number; ask the station staff")
	} else if err != nil {
		return store.Resident{}, storeErr(err, "resident")
	}
	if res.Status == store.ResidentSuspended {
		return store.Resident{}, errf(apiv1.CodeResidentSuspended, "the resident's record is suspended")
	}
	return res, nil
}

// agentRelation says how the population data relates agent and principal,
// or "" when it does not.
func agentRelation(agent, principal store.Resident) string {
	switch {
	case principal.GuardianIDNumber != "" && principal.GuardianIDNumber == agent.IDNumber:
		return store.AgentGuardian
	case agent.Household != "" && agent.Household == principal.Household:
		return store.AgentHousehold
	}
	return ""
}

// cardMatchesRecord reports whether a card's name, sex and birth date are
// the population record's (the ID number already found the record).
func cardMatchesRecord(card apiv1.Card, r store.Resident) bool {
	if strings.TrimSpace(card.Name) != r.Name {
		return false
	}
	if g := card.Gender.Letter(); g != "" && r.Gender != "" && g != r.Gender {
		return false
	}
	id, err := identity.ParseIDNumber(card.IDNumber)
	if err != nil {
		return false
	}
	return r.BirthDate.IsZero() || identity.DateOf(r.BirthDate) == id.Birth()
}

// handleAgent binds the agent's filing token to the family member whose
// card the kiosk read. Every answer, refusals included, is audited.
func (s *Server) handleAgent(c *fiber.Ctx) error {
	var req apiv1.AgentRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	ctx := c.UserContext()
	k := kioskOf(c)
	now := s.now()
	ft, agent, err := s.checkToken(c, req.Token)
	if err != nil {
		return err
	}
	refuse := func(e error, target string) error {
		var ae *apiError
		code := apiv1.CodeInternal
		if errors.As(e, &ae) {
			code = ae.detail.Code
		}
		if err := s.audit(ctx, audit.Kiosk(k.ID), "filing.agent_refused", target,
			map[string]string{"kiosk": k.ID, "agent": residentTarget(agent), "code": code}); err != nil {
			return storeErr(err, "audit")
		}
		return e
	}
	id, err := checkCard(req.Card, now)
	if err != nil {
		return refuse(err, "")
	}
	principal, err := s.activeResident(c, string(id))
	if err != nil {
		return refuse(err, "")
	}
	target := residentTarget(principal)
	if ft.PrincipalIDNumber != "" && ft.PrincipalIDNumber != principal.IDNumber {
		return refuse(errf(apiv1.CodeAgentTokenBound, "this filing token already files for another resident; verify again to file for someone else"), target)
	}
	if principal.ID == agent.ID {
		return refuse(errf(apiv1.CodeAgentNotAllowed, "the card is the agent's own: file for yourself without 代办"), target)
	}
	if !cardMatchesRecord(req.Card, principal) {
		return refuse(errf(apiv1.CodeCardMismatch, "the card's name, sex or birth date is not the population record's"), target)
	}
	rel := agentRelation(agent, principal)
	if rel == "" {
		return refuse(errf(apiv1.CodeNotHousehold, "the population data has the two in no one household and no guardian relation"), target)
	}
	cat, err := s.catalogue(c)
	if err != nil {
		return err
	}
	day := identity.ChinaDate(now)
	if agent.BirthDate.IsZero() || identity.DateOf(agent.BirthDate).AgeOn(day) < cat.AgentMinAge() {
		return refuse(errf(apiv1.CodeAgentNotAllowed, "an agent must be %d or older", cat.AgentMinAge()), target)
	}
	if ok, reason := cat.AgentPrincipal(personOf(principal), day); !ok {
		e := errf(apiv1.CodePrincipalNotEligible, "the resident cannot be filed for by an agent: %s", reason)
		e.detail.Fields = map[string]string{"reasons": reason}
		return refuse(e, target)
	}
	err = s.st.BindFilingTokenPrincipal(ctx, audit.Kiosk(k.ID), req.Token, k.ID, principal.IDNumber, rel, now)
	switch {
	case errors.Is(err, store.ErrConflict):
		return refuse(errf(apiv1.CodeAgentTokenBound, "this filing token already files for another resident; verify again to file for someone else"), target)
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrExpired):
		return errf(apiv1.CodeTokenInvalid, "the filing token is unknown, expired, used or belongs to another kiosk; verify again")
	case errors.Is(err, store.ErrInactive):
		return errf(apiv1.CodeResidentSuspended, "the resident's record is suspended")
	case err != nil:
		return storeErr(err, "filing token")
	}
	return c.JSON(apiv1.AgentResponse{
		Principal: apiv1.ResidentSummary{ResidentID: principal.ID, Name: principal.Name, IDNumberMasked: identity.MaskIDNumber(principal.IDNumber)},
		Relation:  rel, RelationLabel: apiv1.AgentRelationLabel(rel),
	})
}

// checkAgentService refuses a service that may not be filed by an agent
// when the token files for a principal.
func checkAgentService(ts tokenSubject, allowed bool, code string) error {
	if ts.agent != nil && !allowed {
		return errf(apiv1.CodeAgentNotAllowed, "%s cannot be filed for a family member (代办); the resident files it in person", code)
	}
	return nil
}
