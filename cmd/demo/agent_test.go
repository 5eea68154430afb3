package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/chromedp/chromedp"

	"github.com/qingshan-gov/veinkiosk/kiosk"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/simulators/deck"
)

// TestBrowserAgentFiling: 为家人代办 from the touchscreen, against the real
// server, drivers and simulators: the agent's own card and finger, the
// button on the menu, the agent's own card put back (told to use the family
// member's), a neighbour's card (not in the household: refused, named), the
// family member's card, her menu (only services that permit 代办), her form
// prefilled from her record, the receipt; the server's filing is hers, made
// by the agent, and the office names the agent.
func TestBrowserAgentFiling(t *testing.T) {
	d := startDemo(t, "--residents", "600")
	ctx, w, k := d.ctx, d.w, d.k
	agent, principal := w.agent, w.principal
	if agent == nil || !w.enrolled(agent.IDNumber) {
		t.Fatalf("the demo population has no enrolled agent (%v)", agent)
	}
	// A neighbour of 70 or more in another household.
	var neighbour *deck.Resident
	for _, r := range w.people {
		if r.Household != agent.Household && r.Age(time.Now()) >= 70 && validCard(r, time.Now()) {
			neighbour = r
			break
		}
	}
	if neighbour == nil {
		t.Fatal("no neighbour of 70 or more")
	}
	s := d.openScreen(4 * time.Minute)
	swapCard := func(r *deck.Resident) {
		t.Helper()
		w.id.Remove()
		s.wait("the card out", func(v kiosk.View) bool { return !v.CardPresent })
		if err := w.id.Insert(r.IDNumber); err != nil {
			t.Fatal(err)
		}
	}
	s.wait("ready", func(v kiosk.View) bool { return v.Phase == "idle" && v.ServerUp })

	// The agent: own card and finger, then the menu with the button.
	if err := verify(ctx, w, k, agent); err != nil {
		t.Fatal(err)
	}
	v := s.wait("the agent's menu", func(v kiosk.View) bool { return v.Phase == "menu" && v.CanAgent })
	if s.count(`button[data-act="agent"]`) != 1 {
		t.Fatal("no 为家人代办 button on the menu")
	}
	s.shot("agent-menu-button")
	s.click(`button[data-act="agent"]`)
	s.wait("the family member's card", func(v kiosk.View) bool { return v.Phase == "agent_card" })
	if got := s.text("#title"); got != "请把家人的身份证放在读卡区" {
		t.Fatalf("title %q", got)
	}
	s.shot("agent-card")

	// The agent's own card again: told to use the family member's.
	swapCard(agent)
	s.wait("own card", func(v kiosk.View) bool { return v.Hint == "own_card" })
	if !strings.Contains(s.text("#hint"), "本人的身份证") {
		t.Fatalf("hint %q", s.text("#hint"))
	}
	// A neighbour: the server refuses, the screen says why.
	swapCard(neighbour)
	v = s.wait("not household", func(v kiosk.View) bool { return v.Problem != "" })
	if v.Phase != "agent_card" || v.Problem != "agent_not_household" || !strings.Contains(s.text("#problem"), "不在同一户") {
		t.Fatalf("neighbour: %s %s %q", v.Phase, v.Problem, s.text("#problem"))
	}
	s.shot("agent-not-household")

	// The family member: her menu.
	swapCard(principal)
	v = s.wait("her menu", func(v kiosk.View) bool { return v.Phase == "menu" && v.Principal != nil })
	if v.Principal.Name != principal.Name || v.Principal.Relation != "同户家庭成员" || !strings.Contains(s.text("#principal"), principal.Name) {
		t.Fatalf("principal %+v, band %q", v.Principal, s.text("#principal"))
	}
	if s.count(`button[data-act="agent"]`) != 0 {
		t.Error("the 为家人代办 button is still shown while filing for her")
	}
	found := false
	for _, sv := range v.Services {
		found = found || sv.Code == "residence_certificate"
		if sv.Code == "unemployment_registration" || sv.Code == "employment_card" {
			t.Errorf("her menu offers %s, which the person files in person", sv.Code)
		}
	}
	if !found {
		t.Fatalf("her menu has no residence certificate: %v", v.Services)
	}
	s.shot("agent-principal-menu")

	// Her form, prefilled from her record.
	s.click(`button[data-act="choose"][data-arg="residence_certificate"]`)
	v = s.wait("her form", func(v kiosk.View) bool { return v.Phase == "form" })
	for _, f := range v.Form.Fields {
		if f.Key == "name" && f.Value != principal.Name {
			t.Fatalf("the form's name is %q, want hers (%s)", f.Value, principal.Name)
		}
	}
	for _, f := range v.Form.Fields {
		if !f.Editable || f.Value != "" {
			continue
		}
		switch {
		case len(f.Choices) > 0:
			s.click(`button[data-act="edit"][data-arg="` + f.Key + `"]`)
		case f.Kind == "text" && len(f.Suggestions) > 0:
			s.click(`button[data-act="keyboard"][data-arg="` + f.Key + `"]`)
			s.click(`#kbcommon button.kbanswer`)
			s.click("#kbok")
		case f.Kind == "integer" || f.Kind == "phone" || f.Kind == "number":
			val := map[string]string{"integer": "2", "phone": "13847200000", "number": "20"}[f.Kind]
			s.click(`button[data-act="keypad"][data-arg="` + f.Key + `"]`)
			for _, r := range val {
				s.click(`#keypad button[data-key="` + string(r) + `"]`)
			}
			s.click("#padok")
		default:
			if f.Required {
				t.Fatalf("field %s of kind %s: not filled by this test", f.Key, f.Kind)
			}
			continue
		}
		s.wait(f.Key+" filled", func(v kiosk.View) bool {
			for _, g := range v.Form.Fields {
				if g.Key == f.Key {
					return g.Value != ""
				}
			}
			return false
		})
	}
	s.shot("agent-form")
	// In English, her form's choices and labels are English (the
	// catalogue's choices_en), and the band says whom it is for.
	s.click("#lang")
	s.wait("english", func(v kiosk.View) bool { return v.Lang == "en" })
	got, err := chromedp.Run(s.ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("#formtable th, #formtable .choices button, #title, footer button")].map((e) => e.textContent).join("|")`))
	if err != nil {
		t.Fatal(err)
	}
	got += "|" + strings.ReplaceAll(s.text("#principal"), principal.Name, "")
	if strings.ContainsFunc(got, func(r rune) bool { return unicode.Is(unicode.Han, r) }) {
		t.Errorf("Chinese left on the English form: %q", got)
	}
	s.shot("agent-form-en")
	s.click("#lang")
	s.wait("chinese", func(v kiosk.View) bool { return v.Lang == "zh" })
	s.click(`button[data-act="confirm"]`)
	v = s.wait("receipt", func(v kiosk.View) bool { return v.Phase == "receipt" || v.Problem != "" })
	if v.Phase != "receipt" {
		t.Fatalf("not filed: %s %v", v.Problem, v.Missing)
	}
	if !strings.Contains(s.text("#principal"), principal.Name) {
		t.Errorf("the receipt does not say whom it was filed for: %q", s.text("#principal"))
	}
	s.shot("agent-receipt")
	ref := v.Receipt.Reference

	// The server: her filing, made by the agent; the office names him.
	oc := &apiv1.Client{BaseURL: w.serverURL, HTTP: &http.Client{Timeout: 30 * time.Second}}
	sess, err := oc.Login(ctx, "shequ", unitOfficerPass)
	if err != nil {
		t.Fatal(err)
	}
	oc = oc.WithStaff(sess.Token)
	var list apiv1.FilingList
	if err := oc.Do(ctx, http.MethodGet, apiv1.PathFilings+"?service=residence_certificate", nil, &list); err != nil {
		t.Fatal(err)
	}
	var filed *apiv1.Filing
	for i := range list.Filings {
		if list.Filings[i].Reference == ref {
			filed = &list.Filings[i]
		}
	}
	if filed == nil {
		t.Fatalf("%s not in the community's list", ref)
	}
	var one apiv1.Filing
	if err := oc.Do(ctx, http.MethodGet, fmt.Sprintf("%s/%d", apiv1.PathFilings, filed.ID), nil, &one); err != nil {
		t.Fatal(err)
	}
	if one.ResidentName != principal.Name || one.Agent == nil || one.Agent.Name != agent.Name || one.Agent.Relation != apiv1.AgentHousehold {
		t.Fatalf("the server's filing: resident %q, agent %+v", one.ResidentName, one.Agent)
	}
	// The office page, as the officer sees it.
	if err := chromedp.Do(s.ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(w.serverURL+"/office"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="username"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), "shequ"), chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), unitOfficerPass),
		chromedp.Submit(chromedp.CSS(`input[name="password"]`)), chromedp.WaitVisible(chromedp.CSS(`table`)),
		chromedp.Navigate(fmt.Sprintf("%s/office/filings/%d", w.serverURL, filed.ID)), chromedp.WaitVisible(chromedp.CSS(`#agent`))); err != nil {
		t.Fatal(err)
	}
	if got := s.text("#agent"); !strings.Contains(got, agent.Name) || !strings.Contains(got, "同户家庭成员") {
		t.Errorf("office: %q", got)
	}
	s.shot("agent-office")
	w.id.Remove()
}
