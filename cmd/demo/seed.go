package main

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/kiosk"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/simulators/deck"
	"github.com/qingshan-gov/veinkiosk/simulators/fingerimg"
)

// enrolFingers are the fingers the demo enrols (ISO positions: 2 right
// index, 7 left index) with their API names.
var enrolFingers = []struct {
	pos  int
	name apiv1.Finger
}{{2, apiv1.RightIndex}, {7, apiv1.LeftIndex}}

// apiResident is a deck resident as the population database exports it;
// every resident of 60 or more draws a pension (category pensioner), so
// the grid worker has a list of pensioners to certify.
func apiResident(r *deck.Resident, now time.Time) apiv1.Resident {
	cats := r.Categories
	if r.Age(now) >= 60 {
		cats = append(slices.Clone(cats), "pensioner")
	}
	return apiv1.Resident{IDNumber: r.IDNumber, Name: r.Name, Gender: identity.Gender(r.Gender).Letter(), BirthDate: r.BirthDate.String(), Address: r.Address,
		GridCell: r.GridCell, Household: r.Household, Categories: cats, Relationship: r.Relationship}
}

// busiestCell is the grid cell with the most residents (the first such,
// in order of appearance).
func busiestCell(people []*deck.Resident) string {
	n, best := map[string]int{}, ""
	for _, r := range people {
		n[r.GridCell]++
		if best == "" || n[r.GridCell] > n[best] {
			best = r.GridCell
		}
	}
	return best
}

// validCard reports whether r's card is not expired at now.
func validCard(r *deck.Resident, now time.Time) bool {
	return !identity.Validity{From: r.ValidFrom, Until: r.ValidUntil}.Expired(now)
}

func (w *world) seed(ctx context.Context, say func(string, ...any)) error {
	start := time.Now()
	w.deck = deck.Generate(deckSeed, w.o.residents)
	for _, r := range w.deck.Residents {
		if r.CardType == "resident" {
			w.people = append(w.people, r)
		}
	}
	if err := w.post(ctx, apiv1.PathAdminStations, apiv1.Station{ID: stationID, Name: stationName, Address: "内蒙古自治区包头市青山区青山路1号"}, nil); err != nil {
		return err
	}
	accounts := []apiv1.StaffCreate{
		{Username: staffUser, Password: staffPass, DisplayName: "李站务", Role: apiv1.RoleStationStaff, Station: stationID},
		{Username: supervisorUser, Password: supervisorPass, DisplayName: "王主管", Role: apiv1.RoleSupervisor, Station: stationID},
		{Username: officerUser, Password: officerPass, DisplayName: "赵科员（民政）", Role: apiv1.RoleOfficer, Department: "civil_affairs"},
	}
	for _, o := range unitOfficers {
		accounts = append(accounts, apiv1.StaffCreate{Username: o.user, Password: unitOfficerPass, DisplayName: o.name, Role: apiv1.RoleOfficer, Department: o.unit})
	}
	w.gridCell = busiestCell(w.people)
	accounts = append(accounts, apiv1.StaffCreate{Username: gridUser, Password: gridPass, DisplayName: "何网格员", Role: apiv1.RoleGridWorker, GridCell: w.gridCell})
	for _, s := range accounts {
		if err := w.post(ctx, apiv1.PathAdminStaff, s, nil); err != nil {
			return err
		}
	}
	if err := w.setPINs(ctx, map[string]string{staffUser: staffPIN, supervisorUser: supervisorPIN}); err != nil {
		return err
	}
	for i := 0; i < len(w.people); i += 500 {
		var batch apiv1.ResidentImport
		for _, r := range w.people[i:min(i+500, len(w.people))] {
			batch.Residents = append(batch.Residents, apiResident(r, start))
		}
		if err := w.post(ctx, apiv1.PathAdminResidents, batch, nil); err != nil {
			return err
		}
	}
	// Enrolment order: 低保 recipients with valid cards first (the scripted
	// journey and the demo use them), then everyone else. Every 12th
	// resident stays unenrolled, to show the "not enrolled" guidance.
	now := time.Now()
	order := append([]*deck.Resident(nil), w.people...)
	rank := func(r *deck.Resident) int {
		switch {
		case r.HasCategory(deck.CategoryDibao) && validCard(r, now):
			return 0
		case validCard(r, now):
			return 1
		}
		return 2
	}
	sort.SliceStable(order, func(i, j int) bool { return rank(order[i]) < rank(order[j]) })
	// 代办: an adult of a household with a member of 70 or more (or
	// disabled) is enrolled second, before the kiosk opens, so a family
	// member can be filed for at once (the parent need not be enrolled).
	if agent, principal := agentPair(w.people, now); agent != nil {
		w.agent, w.principal = agent, principal
		say("代办: %s may file for %s (one household; %d years old)", agent.Name, principal.Name, principal.Age(now))
		order = slices.DeleteFunc(order, func(r *deck.Resident) bool { return r == agent })
		order = slices.Insert(order, min(1, len(order)), agent)
	}
	for i, r := range order {
		if i%12 == 11 {
			w.skipped[r.IDNumber] = true
			continue
		}
		w.enrol = append(w.enrol, r)
	}
	dibao := 0
	for _, r := range w.people {
		if r.HasCategory(deck.CategoryDibao) {
			dibao++
		}
	}
	say("population: %d residents imported (%d 低保 recipients), %d to enrol, %d left unenrolled", len(w.people), dibao, len(w.enrol), len(w.skipped))
	n := min(w.o.enrolNow, len(w.enrol))
	if err := w.bulkEnrol(ctx, w.enrol[:n]); err != nil {
		return err
	}
	w.mu.Lock()
	got := len(w.done)
	w.mu.Unlock()
	say("enrolled %d residents with simulator captures in %s (%d without a usable finger left unenrolled)", got, time.Since(start).Round(100*time.Millisecond), n-got)
	return nil
}

// agentPair finds a resident who may file for a family member (代办) and
// that family member: both with valid cards, in one household, the agent 18
// to 69 and the principal 70 or older (or disabled), so that the server's
// rule (docs/catalogue.md) allows it.
func agentPair(people []*deck.Resident, now time.Time) (agent, principal *deck.Resident) {
	byHousehold := map[string][]*deck.Resident{}
	for _, r := range people {
		byHousehold[r.Household] = append(byHousehold[r.Household], r)
	}
	usable := func(r *deck.Resident) bool {
		v := identity.Validity{From: r.ValidFrom, Until: r.ValidUntil}
		return !v.Expired(now) && !v.NotYetValid(now)
	}
	for _, r := range people {
		if !usable(r) || r.Age(now) < 18 || r.Age(now) >= 70 {
			continue
		}
		for _, p := range byHousehold[r.Household] {
			if p != r && usable(p) && (p.Age(now) >= 70 || p.HasCategory(deck.CategoryDisabled)) {
				return r, p
			}
		}
	}
	return nil, nil
}

// enrolRest enrols the remaining residents in the background.
func (w *world) enrolRest(ctx context.Context, say func(string, ...any)) {
	rest := w.enrol[min(w.o.enrolNow, len(w.enrol)):]
	start := time.Now()
	for i := 0; i < len(rest) && ctx.Err() == nil; i += 50 {
		if err := w.bulkEnrol(ctx, rest[i:min(i+50, len(rest))]); err != nil {
			if ctx.Err() == nil {
				say("background enrolment stopped: %v", err)
			}
			return
		}
	}
	if ctx.Err() == nil {
		w.mu.Lock()
		got := len(w.done)
		w.mu.Unlock()
		say("background enrolment done: %d residents enrolled in all (%s)", got, time.Since(start).Round(time.Second))
	}
}

// errPoorFinger: a finger gave no capture above the server's quality gate.
var errPoorFinger = errors.New("no capture of this finger passed the quality gate")

// templates renders simulator captures of each enrolled finger of r and
// extracts their templates, as a station enrolment would: the 3 good ones
// the server's bulk enrolment takes (apiv1.EnrolCapturesPerFinger),
// retaking (up to 3 times as many) those below the server's gate.
func templates(r *deck.Resident) ([]apiv1.FingerTemplates, error) {
	const perFinger = apiv1.EnrolCapturesPerFinger
	var out []apiv1.FingerTemplates
	for _, f := range enrolFingers {
		finger := fingerimg.NewFinger(r.FingerSeed(f.pos))
		ft := apiv1.FingerTemplates{Finger: f.name}
		for k := 0; k < 3*perFinger && len(ft.Templates) < perFinger; k++ {
			c := fingerimg.DefaultConditions()
			h := fnv.New64a()
			fmt.Fprintf(h, "%s/%d/%d", r.IDNumber, f.pos, k)
			c.Seed = h.Sum64()
			img := finger.Capture(c)
			t, q, err := kiosk.MatcherExtractor{}.Extract(&kiosk.ScanImage{Width: img.Rect.Dx(), Height: img.Rect.Dy(), Pixels: img.Pix}, string(f.name))
			if err != nil || q < 40 {
				continue // unusable or below the server's gate: capture again
			}
			ft.Templates = append(ft.Templates, t)
		}
		if len(ft.Templates) < perFinger {
			return nil, errPoorFinger
		}
		out = append(out, ft)
	}
	return out, nil
}

// bulkEnrol enrols rs through the administrators' bulk enrolment, without
// deduplication: the demo's server runs with --bulk-enrolment=unchecked
// (world.go), fine for its synthetic residents. A resident the server
// refuses (its captures inconsistent, say) is left unenrolled, as one
// without a usable finger; one enrolled by an earlier run counts as
// enrolled.
func (w *world) bulkEnrol(ctx context.Context, rs []*deck.Resident) error {
	items := make([]apiv1.BulkEnrolItem, len(rs))
	errs := make([]error, len(rs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.NumCPU())
	for i, r := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			fts, err := templates(r)
			items[i], errs[i] = apiv1.BulkEnrolItem{Resident: apiResident(r, time.Now()), Fingers: fts}, err
		}()
	}
	wg.Wait()
	var ok []apiv1.BulkEnrolItem
	var enrolled []*deck.Resident
	for i, err := range errs {
		switch {
		case errors.Is(err, errPoorFinger):
			// As at a station: this resident would be enrolled with another
			// finger; the demo leaves them unenrolled.
			w.mu.Lock()
			w.skipped[rs[i].IDNumber] = true
			w.mu.Unlock()
		case err != nil:
			return err
		default:
			ok = append(ok, items[i])
			enrolled = append(enrolled, rs[i])
		}
	}
	items, rs = ok, enrolled
	// A resident enrolled by an earlier run on the same --data directory
	// is refused as already_enrolled (bulk enrolment never replaces): the
	// same captures are on record, so they count as enrolled.
	refused := map[int]bool{}
	for i := 0; i < len(items); i += 20 {
		req := apiv1.BulkEnrolRequest{Items: items[i:min(i+20, len(items))], SkipDedup: true}
		var res apiv1.BulkEnrolResult
		if err := w.post(ctx, apiv1.PathAdminBulkEnrol, req, &res); err != nil {
			return err
		}
		for _, r := range res.Refused {
			refused[i+r.Index] = r.Code != apiv1.CodeAlreadyEnrolled
		}
	}
	w.mu.Lock()
	for i, r := range rs {
		if refused[i] {
			w.skipped[r.IDNumber] = true
			continue
		}
		w.done[r.IDNumber] = true
	}
	w.mu.Unlock()
	return nil
}

func (w *world) enrolled(id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.done[id]
}

// firstEnrolled returns the first resident whose enrolment went through.
func (w *world) firstEnrolled() *deck.Resident {
	for _, r := range w.enrol {
		if w.enrolled(r.IDNumber) {
			return r
		}
	}
	return nil
}

// setPINs sets the kiosk PINs of the station's staff (an administrator's
// PUT /api/v1/admin/staff/{id}/pin), by username.
func (w *world) setPINs(ctx context.Context, pins map[string]string) error {
	var list apiv1.StaffList
	if err := w.admin.Do(ctx, http.MethodGet, apiv1.PathAdminStaff, nil, &list); err != nil {
		return fmt.Errorf("listing staff: %w", err)
	}
	for _, s := range list.Staff {
		if pin, ok := pins[s.Username]; ok {
			if err := w.admin.Do(ctx, http.MethodPut, fmt.Sprintf("%s/%d/pin", apiv1.PathAdminStaff, s.ID), apiv1.PINChange{PIN: pin}, nil); err != nil {
				return fmt.Errorf("setting the PIN of %s: %w", s.Username, err)
			}
		}
	}
	return nil
}
