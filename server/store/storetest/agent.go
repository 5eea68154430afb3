package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// testAgentResidentFields: the household relationship and the guardian
// (migration 0009) round-trip through the sealed personal data, take part
// in "unchanged", and are validated.
func testAgentResidentFields(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	r0, r1 := resident(0), resident(1)
	r0.Household, r0.Relationship = "H-0001", "户主"
	r1.Household, r1.Relationship = "H-0001", "父母"
	r1.GuardianIDNumber = r0.IDNumber[:17] + "x" // canonicalised; not a valid number is fine for the store
	if _, err := s.ImportResidents(c, admin, []store.Resident{r0, r1}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetResident(c, r1.IDNumber)
	if err != nil || got.Relationship != "父母" || got.GuardianIDNumber != r0.IDNumber[:17]+"X" || got.Household != "H-0001" {
		t.Fatalf("GetResident = %+v, %v", got, err)
	}
	r1.GuardianIDNumber = got.GuardianIDNumber
	if st, err := s.ImportResidents(c, admin, []store.Resident{r1}); err != nil || st.Unchanged != 1 {
		t.Errorf("reimport = %+v, %v; want unchanged", st, err)
	}
	r1.Relationship = "其他"
	if st, err := s.ImportResidents(c, admin, []store.Resident{r1}); err != nil || st.Updated != 1 {
		t.Errorf("changed relationship = %+v, %v; want updated", st, err)
	}
	r1.GuardianIDNumber = ""
	if st, err := s.ImportResidents(c, admin, []store.Resident{r1}); err != nil || st.Updated != 1 {
		t.Errorf("guardian removed = %+v, %v; want updated", st, err)
	}
	if got, _ := s.GetResident(c, r1.IDNumber); got.GuardianIDNumber != "" || got.Relationship != "其他" {
		t.Errorf("after updates = %+v", got)
	}
	for _, bad := range []func(*store.Resident){
		func(r *store.Resident) { r.Relationship = string(make([]byte, 33)) },
		func(r *store.Resident) { r.GuardianIDNumber = r.IDNumber },
		func(r *store.Resident) { r.GuardianIDNumber = string(make([]byte, 40)) },
	} {
		r := resident(5)
		bad(&r)
		if _, err := s.ImportResidents(c, admin, []store.Resident{r}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("invalid resident %+v: %v", r, err)
		}
	}
}

// testAgentFiling: an agent's token bound once to a principal files only
// for that principal, as the agent's filing, audited (filing.by_agent).
func testAgentFiling(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	c := ctx(t)
	f := newFixture(t, s, 4)
	kiosk := audit.Kiosk(f.kiosk.ID)
	agent, principal, other := f.residents[0], f.residents[1], f.residents[2]
	at := t0.Add(time.Minute)
	bind := func(tok, kioskID, id, rel string) error {
		return s.BindFilingTokenPrincipal(c, kiosk, tok, kioskID, id, rel, at)
	}

	issueToken(t, s, f, 0, "agent-token-000000001")
	for _, ch := range []struct {
		name, tok, kiosk, id, rel string
		want                      error
	}{
		{"unknown token", "agent-token-999999999", f.kiosk.ID, principal.IDNumber, store.AgentHousehold, store.ErrNotFound},
		{"another kiosk", "agent-token-000000001", f.kiosk2.ID, principal.IDNumber, store.AgentHousehold, store.ErrNotFound},
		{"unknown principal", "agent-token-000000001", f.kiosk.ID, idNumber(999), store.AgentHousehold, store.ErrNotFound},
		{"oneself", "agent-token-000000001", f.kiosk.ID, agent.IDNumber, store.AgentHousehold, store.ErrInvalid},
		{"unknown relation", "agent-token-000000001", f.kiosk.ID, principal.IDNumber, "friend", store.ErrInvalid},
	} {
		if err := bind(ch.tok, ch.kiosk, ch.id, ch.rel); !errors.Is(err, ch.want) {
			t.Errorf("%s: %v, want %v", ch.name, err, ch.want)
		}
	}
	// An unbound token does not file for anyone else, as agent or not.
	nf := newFiling(f, 1, "agent-k-0")
	nf.Token, nf.AgentIDNumber, nf.AgentRelation = "agent-token-000000001", agent.IDNumber, store.AgentHousehold
	if _, _, err := s.CreateFiling(c, kiosk, nf); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("agent filing with an unbound token: %v, want ErrNotFound", err)
	}

	if err := bind("agent-token-000000001", f.kiosk.ID, principal.IDNumber, store.AgentHousehold); err != nil {
		t.Fatalf("bind: %v", err)
	}
	a := lastAudit(t, s)
	if a.Action != "filing.agent_bound" || a.Target != fmt.Sprintf("resident:%d", principal.ID) || a.Details["agent"] != fmt.Sprint(agent.ID) || a.Details["relation"] != store.AgentHousehold {
		t.Errorf("bind audit = %+v", a)
	}
	tok, err := s.CheckFilingToken(c, "agent-token-000000001", f.kiosk.ID, at)
	if err != nil || tok.IDNumber != agent.IDNumber || tok.PrincipalIDNumber != principal.IDNumber || tok.PrincipalRelation != store.AgentHousehold {
		t.Errorf("CheckFilingToken = %+v, %v", tok, err)
	}
	if err := bind("agent-token-000000001", f.kiosk.ID, principal.IDNumber, store.AgentHousehold); err != nil {
		t.Errorf("binding the same principal again: %v", err)
	}
	if err := bind("agent-token-000000001", f.kiosk.ID, other.IDNumber, store.AgentHousehold); !errors.Is(err, store.ErrConflict) {
		t.Errorf("binding a second principal: %v, want ErrConflict", err)
	}
	if err := bind("agent-token-000000001", f.kiosk.ID, principal.IDNumber, store.AgentGuardian); !errors.Is(err, store.ErrConflict) {
		t.Errorf("binding with another relation: %v, want ErrConflict", err)
	}

	// The bound token files neither for the agent nor for another
	// resident, nor without naming the agent.
	for _, ch := range []struct {
		name string
		nf   store.NewFiling
	}{
		{"the agent's own filing", func() store.NewFiling { n := newFiling(f, 0, "agent-k-1"); return n }()},
		{"principal without the agent", func() store.NewFiling { n := newFiling(f, 1, "agent-k-2"); return n }()},
		{"another principal", func() store.NewFiling {
			n := newFiling(f, 2, "agent-k-3")
			n.AgentIDNumber, n.AgentRelation = agent.IDNumber, store.AgentHousehold
			return n
		}()},
		{"another agent", func() store.NewFiling {
			n := newFiling(f, 1, "agent-k-4")
			n.AgentIDNumber, n.AgentRelation = f.residents[3].IDNumber, store.AgentHousehold
			return n
		}()},
		{"another relation", func() store.NewFiling {
			n := newFiling(f, 1, "agent-k-5")
			n.AgentIDNumber, n.AgentRelation = agent.IDNumber, store.AgentGuardian
			return n
		}()},
	} {
		ch.nf.Token = "agent-token-000000001"
		if _, _, err := s.CreateFiling(c, kiosk, ch.nf); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", ch.name, err)
		}
	}
	bad := newFiling(f, 1, "agent-k-6")
	bad.AgentIDNumber, bad.AgentRelation = agent.IDNumber, "neighbour"
	if _, _, err := s.CreateFiling(c, kiosk, bad); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("unknown agent relation: %v, want ErrInvalid", err)
	}

	nf = newFiling(f, 1, "agent-k-7")
	nf.Token, nf.AgentIDNumber, nf.AgentRelation = "agent-token-000000001", agent.IDNumber, store.AgentHousehold
	fl, created, err := s.CreateFiling(c, kiosk, nf)
	if err != nil || !created {
		t.Fatalf("agent filing = %v, %v", created, err)
	}
	if fl.IDNumber != principal.IDNumber || fl.ResidentID != principal.ID || fl.AgentResidentID != agent.ID || fl.AgentRelation != store.AgentHousehold {
		t.Errorf("agent filing = %+v", fl)
	}
	a = lastAudit(t, s)
	if a.Action != "filing.by_agent" || a.Target != fmt.Sprintf("filing:%d", fl.ID) || a.Details["agent"] != fmt.Sprint(agent.ID) ||
		a.Details["resident"] != fmt.Sprint(principal.ID) || a.Details["reference"] != fl.Reference {
		t.Errorf("by_agent audit = %+v", a)
	}
	if again, created, err := s.CreateFiling(c, kiosk, nf); err != nil || created || again.ID != fl.ID {
		t.Errorf("retry = %v, %v, %v", again.Reference, created, err)
	}
	if got, err := s.GetFiling(c, fl.ID); err != nil || got.AgentResidentID != agent.ID || got.AgentRelation != store.AgentHousehold {
		t.Errorf("GetFiling = %+v, %v", got, err)
	}
	if l, err := s.ListFilings(c, store.FilingFilter{IDNumber: principal.IDNumber}); err != nil || len(l) != 1 || l[0].AgentResidentID != agent.ID {
		t.Errorf("ListFilings(principal) = %+v, %v", l, err)
	}
	if l, err := s.ListFilings(c, store.FilingFilter{IDNumber: agent.IDNumber}); err != nil || len(l) != 0 {
		t.Errorf("ListFilings(agent) = %d filings, %v; the filing is the principal's", len(l), err)
	}
	// Spent: a second principal cannot use it either.
	if err := bind("agent-token-000000001", f.kiosk.ID, other.IDNumber, store.AgentHousehold); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("binding a used token: %v, want ErrNotFound", err)
	}
	// A suspended principal cannot be bound.
	issueToken(t, s, f, 0, "agent-token-000000002")
	if err := s.SetResidentStatus(c, admin, other.IDNumber, store.ResidentSuspended, "moved"); err != nil {
		t.Fatal(err)
	}
	if err := bind("agent-token-000000002", f.kiosk.ID, other.IDNumber, store.AgentGuardian); !errors.Is(err, store.ErrInactive) {
		t.Errorf("binding a suspended principal: %v, want ErrInactive", err)
	}
	// The audit chain explains the agent of every filing.
	if rep, err := audit.Reconcile(c, s, s); err != nil || len(rep.Findings) != 0 {
		t.Errorf("reconcile = %v, %v", rep.Findings, err)
	}
	// A resident's own filing records no agent.
	issueToken(t, s, f, 3, "own-token-00000000003")
	own := newFiling(f, 3, "own-k-1")
	own.Token = "own-token-00000000003"
	if fl, _, err := s.CreateFiling(c, kiosk, own); err != nil || fl.AgentResidentID != 0 || fl.AgentRelation != "" {
		t.Errorf("own filing = %+v, %v", fl, err)
	}
}
