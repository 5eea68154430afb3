package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/qingshan-gov/veinkiosk/kiosk"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/simulators/deck"
)

// kioskClient drives the kiosk through the same HTTP endpoints its screen
// uses: GET /view and POST /touch.
type kioskClient struct{ base string }

func (k kioskClient) view(ctx context.Context) (kiosk.View, error) {
	var v kiosk.View
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, k.base+"/view", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	return v, json.NewDecoder(resp.Body).Decode(&v)
}

func (k kioskClient) touch(ctx context.Context, action, arg string, values map[string]string) error {
	b, _ := json.Marshal(map[string]any{"action": action, "arg": arg, "values": values})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, k.base+"/touch", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("touch %s: HTTP %d", action, resp.StatusCode)
	}
	return nil
}

// wait polls the view until cond holds; it fails early when the session
// lands on a screen that ends the journey.
func (k kioskClient) wait(ctx context.Context, what string, d time.Duration, cond func(kiosk.View) bool) (kiosk.View, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var last kiosk.View
	for {
		v, err := k.view(ctx)
		if err == nil {
			last = v
			if cond(v) {
				return v, nil
			}
			switch v.Phase {
			case "failed", "card_problem":
				return v, fmt.Errorf("waiting for %s: the kiosk shows %s (%s)", what, v.Phase, v.Problem)
			}
		}
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("waiting for %s: still at %q (problem %q, hint %q) after %s", what, last.Phase, last.Problem, last.Hint, d)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func phaseIs(p string) func(kiosk.View) bool { return func(v kiosk.View) bool { return v.Phase == p } }

// verify puts the resident's card and finger on the devices and waits for
// the service catalogue, lifting and placing the finger again after a hint.
func verify(ctx context.Context, w *world, k kioskClient, r *deck.Resident) error {
	// A card taken away must have been seen gone before it is placed again.
	if _, err := k.wait(ctx, "an empty reader", 10*time.Second, func(v kiosk.View) bool { return !v.CardPresent }); err != nil {
		return err
	}
	if err := w.id.Insert(r.IDNumber); err != nil {
		return err
	}
	if _, err := k.wait(ctx, "the finger prompt", 20*time.Second, phaseIs("place_finger")); err != nil {
		return err
	}
	for try := 0; try < 3; try++ {
		if err := w.vein.PlaceResident(r.IDNumber, 2); err != nil {
			return err
		}
		v, err := k.wait(ctx, "verification", 40*time.Second, func(v kiosk.View) bool {
			return v.Phase == "menu" || (v.Phase == "place_finger" && v.Hint != "" && v.Tries > try)
		})
		w.vein.RemoveFinger()
		if err != nil {
			return err
		}
		if v.Phase == "menu" {
			return nil
		}
		time.Sleep(300 * time.Millisecond)
	}
	return errors.New("the finger was not verified in 3 tries")
}

func scripted(ctx context.Context, w *world, say func(string, ...any)) error {
	k := kioskClient{base: w.kioskURL}
	n := 0
	step := func(format string, a ...any) { n++; say("step %d: "+format, append([]any{n}, a...)...) }

	var who *deck.Resident
	for _, r := range w.enrol[:min(w.o.enrolNow, len(w.enrol))] {
		if r.HasCategory(deck.CategoryDibao) && validCard(r, time.Now()) && w.enrolled(r.IDNumber) {
			who = r
			break
		}
	}
	if who == nil {
		return errors.New("no enrolled 低保 recipient with a valid card in the population")
	}
	if _, err := k.wait(ctx, "the kiosk to be ready", 30*time.Second, func(v kiosk.View) bool {
		if v.Phase != "idle" || !v.ServerUp || len(v.Devices) != 2 {
			return false
		}
		return v.Devices[0].Connected && v.Devices[1].Connected
	}); err != nil {
		return err
	}
	step("kiosk idle, server reachable, reader and scanner connected")

	if err := verify(ctx, w, k, who); err != nil {
		return err
	}
	v, _ := k.view(ctx)
	step("card read and finger verified for %s (%s); %d services offered", v.Resident.Name, v.Resident.IDMasked, len(v.Services))

	if err := k.touch(ctx, "choose", "dibao_renewal", nil); err != nil {
		return err
	}
	v, err := k.wait(ctx, "the 低保 renewal form", 15*time.Second, phaseIs("form"))
	if err != nil {
		return err
	}
	answers := map[string]string{"household_size": "2", "monthly_income": "860", "changes": "无变化", "phone": "13847200000"}
	prefilled := 0
	for _, f := range v.Form.Fields {
		if !f.Editable && f.Value != "" {
			prefilled++
		}
		if a, ok := answers[f.Key]; ok && f.Editable && f.Value == "" {
			if err := k.touch(ctx, "edit", f.Key, map[string]string{"value": a}); err != nil {
				return err
			}
		}
	}
	step("form %q opened with %d fields pre-filled from the resident's record; the resident answered the rest", v.Form.Service.Name, prefilled)
	if err := k.touch(ctx, "confirm", "", nil); err != nil {
		return err
	}
	v, err = k.wait(ctx, "the receipt", 15*time.Second, phaseIs("receipt"))
	if err != nil {
		if v.Phase == "form" && v.Problem != "" {
			return fmt.Errorf("the server refused the form: %s", v.Problem)
		}
		return err
	}
	ref := v.Receipt.Reference
	step("filed: reference %s, answer due %s", ref, v.Receipt.Due)
	if _, err := k.wait(ctx, "the printed receipt", 15*time.Second, func(v kiosk.View) bool { return v.Print != nil && v.Print.State == kiosk.PrintDone }); err != nil {
		return err
	}
	rs := w.printer.Receipts()
	if len(rs) == 0 || len(rs[len(rs)-1].QR) != 1 || rs[len(rs)-1].QR[0] != ref || !strings.Contains(rs[len(rs)-1].Text(), ref) {
		return fmt.Errorf("the printer simulator has no receipt with reference %s and its QR code", ref)
	}
	step("receipt printed: %d lines and a QR code of %s (%s)", len(rs[len(rs)-1].Lines), ref, rs[len(rs)-1].File)
	k.touch(ctx, "finish", "", nil)
	w.id.Remove()
	if _, err := k.wait(ctx, "idle after the receipt", 10*time.Second, phaseIs("idle")); err != nil {
		return err
	}
	step("card removed; the kiosk is idle again")

	// The department officer approves it.
	oc := &apiv1.Client{BaseURL: w.serverURL, HTTP: &http.Client{Timeout: 30 * time.Second}}
	sess, err := oc.Login(ctx, officerUser, officerPass)
	if err != nil {
		return fmt.Errorf("officer login: %w", err)
	}
	oc = oc.WithStaff(sess.Token)
	var list apiv1.FilingList
	if err := oc.Do(ctx, http.MethodGet, apiv1.PathFilings+"?"+url.Values{"service": {"dibao_renewal"}}.Encode(), nil, &list); err != nil {
		return fmt.Errorf("officer's filing list: %w", err)
	}
	var filing *apiv1.Filing
	for i := range list.Filings {
		if list.Filings[i].Reference == ref {
			filing = &list.Filings[i]
		}
	}
	if filing == nil {
		return fmt.Errorf("filing %s is not in the civil affairs officer's list", ref)
	}
	reply := "经复审，您家低保资格继续有效，下月起按原标准发放。"
	var decided apiv1.Filing
	if err := oc.Do(ctx, http.MethodPost, fmt.Sprintf("%s/%d/decision", apiv1.PathFilings, filing.ID), apiv1.Decision{Action: apiv1.DecisionAccept, Reply: reply}, &decided); err != nil {
		return fmt.Errorf("officer's decision: %w", err)
	}
	step("civil affairs officer approved %s (status %s)", ref, decided.Status)

	// The resident comes back and reads the reply at the kiosk.
	if err := verify(ctx, w, k, who); err != nil {
		return err
	}
	if err := k.touch(ctx, "filings", "", nil); err != nil {
		return err
	}
	v, err = k.wait(ctx, "my filings", 15*time.Second, phaseIs("filings"))
	if err != nil {
		return err
	}
	found := false
	for _, f := range v.Filings {
		if f.Reference == ref {
			found = true
			if f.Status != apiv1.FilingAccepted || f.Reply != reply {
				return fmt.Errorf("the kiosk shows %s as %q with reply %q", ref, f.Status, f.Reply)
			}
		}
	}
	if !found {
		return fmt.Errorf("the kiosk's 'my filings' does not list %s", ref)
	}
	step("the resident came back: 'my filings' shows %s approved with the reply: %s", ref, reply)
	k.touch(ctx, "finish", "", nil)
	w.id.Remove()
	if _, err := k.wait(ctx, "idle at the end", 10*time.Second, phaseIs("idle")); err != nil {
		return err
	}
	step("session ended; nothing of the resident is left on the kiosk")

	// Every unit of the catalogue has an officer who can open its list.
	var units []string
	for _, o := range unitOfficers {
		c := &apiv1.Client{BaseURL: w.serverURL, HTTP: &http.Client{Timeout: 30 * time.Second}}
		s, err := c.Login(ctx, o.user, unitOfficerPass)
		if err != nil {
			return fmt.Errorf("%s officer login: %w", o.unit, err)
		}
		var l apiv1.FilingList
		if err := c.WithStaff(s.Token).Do(ctx, http.MethodGet, apiv1.PathFilings, nil, &l); err != nil {
			return fmt.Errorf("%s officer's list: %w", o.unit, err)
		}
		for _, f := range l.Filings {
			if f.Department != o.unit {
				return fmt.Errorf("%s officer sees a filing of %s", o.unit, f.Department)
			}
		}
		units = append(units, o.unit)
	}
	step("the officers of %s log in and see their own unit's filings", strings.Join(units, ", "))
	say("filing reference: %s", ref)
	return nil
}
