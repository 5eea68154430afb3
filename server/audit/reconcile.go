package audit

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
)

// Reconciliation: the chain says what was done; the business tables say
// what is. Reconcile replays the chain into the state it implies and
// compares that with the state the store holds, so a change made behind
// the store's back (filings.status set in SQL, a lockout row deleted, a
// staff member's role changed) is named even though the chain itself is
// intact.
//
// The replay rules are here, in one place; the store reads its tables into
// StateRows with the same kinds and fields (store.BusinessState).

// State kinds and their fields.
const (
	// KindFiling: Fields "status".
	KindFiling = "filing"
	// KindEnrolment: Fields "resident", "finger", "active" ("true"/"false").
	KindEnrolment = "enrolment"
	// KindLockout: ID is the blind index of the ID number; Fields
	// "failures", "locked_until" (RFC 3339, whole seconds, UTC; "" when not
	// locked).
	KindLockout = "lockout"
	// KindStaff: Fields "role", "station", "department", "disabled".
	KindStaff = "staff"
	// KindKiosk: Fields "station", "status".
	KindKiosk = "kiosk"
	// KindScanner: Fields "kiosk", "status".
	KindScanner = "scanner"
	// KindReplacement: an enrolment replacement; Fields "resident",
	// "status" (pending, approved, rejected).
	KindReplacement = "replacement"
)

// StateRow is one row of the business state.
type StateRow struct {
	Kind   string
	ID     string // as the events' targets name it: "12" for "filing:12"
	Fields map[string]string
}

// StateSource reads the current business state (the store implements it).
type StateSource interface {
	// BusinessState calls fn for every row of the reconciled tables.
	BusinessState(ctx context.Context, fn func(StateRow) error) error
}

// Finding is a row the chain does not explain.
type Finding struct {
	Kind, ID string
	// Problem is "unexplained" (no audited event created the row),
	// "changed" (the row differs from what the events left) or "missing"
	// (the events left a row that is gone).
	Problem string
	Want    map[string]string // from the chain (nil for "unexplained")
	Got     map[string]string // in the tables (nil for "missing")
}

func (f Finding) String() string {
	switch f.Problem {
	case "unexplained":
		return fmt.Sprintf("%s %s: no audited event explains this row (%s)", f.Kind, f.ID, fields(f.Got))
	case "missing":
		return fmt.Sprintf("%s %s: the audited row is gone (deleted without an event; the chain left %s)", f.Kind, f.ID, fields(f.Want))
	}
	var diffs []string
	for _, k := range slices.Sorted(maps.Keys(f.Want)) {
		if f.Want[k] != f.Got[k] {
			diffs = append(diffs, fmt.Sprintf("%s is %q, the chain says %q", k, f.Got[k], f.Want[k]))
		}
	}
	return fmt.Sprintf("%s %s: changed without an audited event: %s", f.Kind, f.ID, strings.Join(diffs, "; "))
}

func fields(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, " ")
}

// ReconcileReport is what Reconcile found.
type ReconcileReport struct {
	Events   int64 // events replayed
	Rows     int   // state rows compared
	Findings []Finding
}

// Reconcile replays the chain of src and compares the state it implies with
// state, returning every row the chain does not explain. It does not check
// the chain's links (Verify does). The two are read one after the other:
// run it on a quiet database, or run it again to tell a finding from a
// change committed between the reads.
func Reconcile(ctx context.Context, src Source, state StateSource) (ReconcileReport, error) {
	var rep ReconcileReport
	r := newReplay()
	var after int64
	const page = 5000
	for {
		recs, err := src.ListAudit(ctx, after, page)
		if err != nil {
			return rep, fmt.Errorf("audit: reading chain after %d: %w", after, err)
		}
		for _, rec := range recs {
			r.apply(rec.Event)
			after = rec.Seq
			rep.Events++
		}
		if len(recs) < page {
			break
		}
	}
	seen := map[string]bool{}
	err := state.BusinessState(ctx, func(row StateRow) error {
		rep.Rows++
		k := row.Kind + ":" + row.ID
		seen[k] = true
		want, ok := r.want[k]
		switch {
		case !ok:
			rep.Findings = append(rep.Findings, Finding{Kind: row.Kind, ID: row.ID, Problem: "unexplained", Got: row.Fields})
		case !maps.Equal(want, row.Fields):
			rep.Findings = append(rep.Findings, Finding{Kind: row.Kind, ID: row.ID, Problem: "changed", Want: want, Got: row.Fields})
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("audit: reading the business state: %w", err)
	}
	for _, k := range slices.Sorted(maps.Keys(r.want)) {
		if !seen[k] {
			kind, id, _ := strings.Cut(k, ":")
			rep.Findings = append(rep.Findings, Finding{Kind: kind, ID: id, Problem: "missing", Want: r.want[k]})
		}
	}
	sort.SliceStable(rep.Findings, func(i, j int) bool {
		a, b := rep.Findings[i], rep.Findings[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.ID < b.ID
	})
	return rep, nil
}

// replay is the state the chain implies, keyed "kind:id".
type replay struct {
	want map[string]map[string]string
}

func newReplay() *replay { return &replay{want: map[string]map[string]string{}} }

// set merges fields into the wanted row, creating it when create is true
// (an event about a row the chain never created changes nothing: the row
// is then reported as unexplained or missing by the comparison).
func (r *replay) set(kind, id string, create bool, kv ...string) {
	k := kind + ":" + id
	m, ok := r.want[k]
	if !ok {
		if !create {
			return
		}
		m = map[string]string{}
		r.want[k] = m
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
}

// apply is the replay rule of each action that changes a reconciled table.
// Every such change appends its event in the same transaction, with the
// row's new state in the details.
func (r *replay) apply(e Event) {
	kind, id, _ := strings.Cut(e.Target, ":")
	d := e.Details
	switch e.Action {
	case "filing.create":
		r.set(KindFiling, id, true, "status", "submitted", "agent", "")
	case "filing.by_agent":
		// 代办: the same transaction's second event names the agent.
		r.set(KindFiling, id, false, "agent", d["agent"])
	case "filing.transition":
		r.set(KindFiling, id, false, "status", d["to"])
	case "enrolment.create", "enrolment.replace":
		r.set(KindEnrolment, id, true, "resident", d["resident"], "finger", d["finger"], "active", "true")
		// Enrol replacing one finger names it in "replaced"; an approved
		// replacement supersedes every enrolment listed in "superseded".
		if old := d["replaced"]; old != "" {
			r.set(KindEnrolment, old, false, "active", "false")
		}
		if list := d["superseded"]; list != "" {
			for _, old := range strings.Split(list, ",") {
				r.set(KindEnrolment, old, false, "active", "false")
			}
		}
	case "enrolment.replacement.request":
		r.set(KindReplacement, id, true, "resident", d["resident"], "status", d["status"])
	case "enrolment.replacement.approve", "enrolment.replacement.reject":
		r.set(KindReplacement, id, false, "status", d["status"])
	case "enrolment.delete":
		if kind != "resident" {
			return
		}
		for k, m := range r.want {
			if strings.HasPrefix(k, KindEnrolment+":") && m["resident"] == id && m["active"] == "true" {
				m["active"] = "false"
			}
		}
	case "verification.attempt":
		if key := d["id_key"]; key != "" {
			r.set(KindLockout, key, true, "failures", d["failures"], "locked_until", d["locked_until"])
		}
	case "lockout.reset", "lockout.unlock": // reset: chains from before unlocks had reasons
		if key := d["id_key"]; key != "" {
			r.set(KindLockout, key, false, "failures", "0", "locked_until", "")
		}
	case "staff.create", "staff.update":
		r.set(KindStaff, id, e.Action == "staff.create", "role", d["role"], "station", d["station"], "department", d["department"], "disabled", boolOr(d["disabled"]))
	case "kiosk.create":
		r.set(KindKiosk, id, true, "station", d["station"], "status", statusOr(d["status"]))
	case "kiosk.status":
		r.set(KindKiosk, id, false, "status", d["status"])
	case "scanner.create":
		r.set(KindScanner, id, true, "kiosk", d["kiosk"], "status", statusOr(d["status"]))
	case "scanner.status":
		r.set(KindScanner, id, false, "status", d["status"])
	case "scanner.assign":
		r.set(KindScanner, id, false, "kiosk", d["kiosk"])
	}
}

func boolOr(v string) string {
	if v == "" {
		return "false"
	}
	return v
}

// statusOr: a device created before its events carried a status was
// created active.
func statusOr(v string) string {
	if v == "" {
		return "active"
	}
	return v
}
