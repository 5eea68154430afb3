package audit

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
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
	// KindStaff: Fields "role", "station", "department", "disabled", and
	// "grid_cell" and "password" (PasswordDigest of the stored password
	// hash), compared only when the chain carries them.
	KindStaff = "staff"
	// KindKiosk: Fields "station", "status".
	KindKiosk = "kiosk"
	// KindScanner: Fields "kiosk", "status".
	KindScanner = "scanner"
	// KindReplacement: an enrolment replacement; Fields "resident",
	// "status" (pending, approved, rejected).
	KindReplacement = "replacement"
	// KindDedup: a duplicate-enrolment case; Fields "resident", "matched"
	// (resident ids), "finger", "status" (open, overridden, rejected).
	KindDedup = "dedup"
	// KindMeeting: a 低保 deliberation meeting; Fields "station",
	// "quarter", "held_on" (the sealed members and minutes are not
	// compared).
	KindMeeting = "dibao_meeting"
	// KindMeetingFiling: a filing attached to the meeting that decided it;
	// ID is the filing id, Fields "meeting".
	KindMeetingFiling = "dibao_attachment"
	// KindCertification: a pensioner's proof of life; ID is
	// "<resident id>/<year>", Fields "kiosk", "station".
	KindCertification = "certification"
	// KindStaffPIN: a staff member's kiosk PIN; ID is the staff id, Fields
	// "failures", "locked" ("true"/"false") and "pin" (PINDigest of the
	// stored PIN hash; compared only when the chain carries it).
	KindStaffPIN = "staff_pin"
	// KindConsent: a resident's consent to enrolment; Fields "resident",
	// "text_version", "staff", "kiosk".
	KindConsent = "consent"
	// KindReport: an issue report; Fields "resident", "kind", "unit",
	// "status" and "replied" ("true" when the sealed reply is not empty;
	// compared only when the chain knows it).
	KindReport = "report"
	// KindRating: a resident's rating of an answered filing or report; ID
	// is "<item>/<item id>" ("filing/12"), Fields "resident", "unit",
	// "score", "reasons".
	KindRating = "rating"
	// KindVisit: a grid worker's visit; Fields "resident", "grid_cell",
	// "visited_at" (RFC 3339, whole seconds, UTC) and "staff" (compared
	// only when the chain carries it).
	KindVisit = "visit"
	// KindEscalation: an overdue filing or report escalated once; ID is
	// "<item>/<item id>", Fields "unit".
	KindEscalation = "escalation"
	// KindDocument: a saved version of the service catalogue or of the
	// report kinds; ID is "catalogue/<version>" or "report_kinds/<version>",
	// Fields "bytes" and "digest" (DocumentDigest; compared only when the
	// chain carries it).
	KindDocument = "document"
)

// PINDigest is what the audit events and the reconciled state carry of a
// stored PIN hash: it tells a PIN hash replaced in SQL from the one the
// audited PIN set stored, and tells nothing of the PIN (the hash it is
// taken of is salted and slow). It is not keyed, so an auditor without the
// store's keys ("veinctl audit verify") computes it too.
func PINDigest(pinHash string) string {
	return digest("veinkiosk/staff-pin/v1|", pinHash)
}

// PasswordDigest is PINDigest for a staff member's password hash (set when
// the account is created; no audited path changes it afterwards).
func PasswordDigest(passwordHash string) string {
	return digest("veinkiosk/staff-password/v1|", passwordHash)
}

// DocumentDigest is the digest of a saved catalogue or report-kinds
// document (public configuration, not personal data).
func DocumentDigest(doc []byte) string {
	return digest("veinkiosk/document/v1|", string(doc))
}

// digestEncoding has no digits, so a digest never looks like an ID number
// to Validate (hex or base64 would, now and then: 17 digits in a row).
var digestEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyzABCDEF").WithPadding(base32.NoPadding)

// digest is SHA-256 of the domain and the value, without digits.
func digest(domain, v string) string {
	h := sha256.Sum256([]byte(domain + v))
	return digestEncoding.EncodeToString(h[:])
}

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
		case !explains(want, row.Fields):
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

// explains reports whether the row's fields are those the chain left. A
// field the chain does not know (its events predate the detail that
// carries it, or a later event changed it without saying to what) is not
// compared; every field the chain knows must be there and equal.
func explains(want, got map[string]string) bool {
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			return false
		}
	}
	return true
}

// replay is the state the chain implies, keyed "kind:id".
type replay struct {
	want map[string]map[string]string
	// enrolments lists each resident's enrolment ids, so deleting a
	// resident's enrolments costs their number, not the chain's.
	enrolments map[string][]string
}

func newReplay() *replay {
	return &replay{want: map[string]map[string]string{}, enrolments: map[string][]string{}}
}

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
		if _, ok := r.want[KindEnrolment+":"+id]; !ok {
			r.enrolments[d["resident"]] = append(r.enrolments[d["resident"]], id)
		}
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
		for _, e := range r.enrolments[id] {
			if m := r.want[KindEnrolment+":"+e]; m["resident"] == id && m["active"] == "true" {
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
		r.set(KindStaff, id, e.Action == "staff.create", append([]string{"role", d["role"], "station", d["station"], "department", d["department"], "disabled", boolOr(d["disabled"])},
			known(d, "grid_cell", "password")...)...)
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
	case "dedup.open":
		r.set(KindDedup, id, true, "resident", d["resident"], "matched", d["matched_resident"], "finger", d["finger"], "status", "open")
	case "dedup.decide":
		r.set(KindDedup, id, false, "status", d["status"])
	case "dibao.meeting.create":
		r.set(KindMeeting, id, true, "station", d["station"], "quarter", d["quarter"], "held_on", d["held_on"])
	case "dibao.meeting.attach":
		if _, ok := r.want[KindMeeting+":"+id]; !ok {
			return // attached to a meeting the chain never created
		}
		for _, f := range strings.Split(d["filings"], ",") {
			if f != "" {
				r.set(KindMeetingFiling, f, true, "meeting", id)
			}
		}
	case "pension.certify":
		if kind == "resident" {
			r.set(KindCertification, id+"/"+d["year"], true, "kiosk", d["kiosk"], "station", d["station"])
		}
	case "staff.pin_set":
		r.set(KindStaffPIN, id, true, append([]string{"failures", "0", "locked", "false"}, known(d, "pin")...)...)
	case "staff.pin_ok", "staff.pin_failed":
		r.set(KindStaffPIN, id, false, "failures", d["failures"], "locked", "false")
	case "staff.pin_locked", "staff.pin_refused_locked":
		r.set(KindStaffPIN, id, false, "failures", d["failures"], "locked", "true")
	case "enrolment.consent":
		if c := d["consent"]; c != "" && kind == "resident" {
			r.set(KindConsent, c, true, "resident", id, "text_version", d["text_version"], "staff", d["staff"], "kiosk", d["kiosk"])
		}
	case "report.create":
		r.set(KindReport, id, true, "resident", d["resident"], "kind", d["kind"], "unit", d["unit"], "status", "submitted", "replied", "false")
	case "report.transition":
		r.set(KindReport, id, false, "status", d["to"])
		switch {
		case d["replied"] != "":
			r.set(KindReport, id, false, known(d, "replied")...)
		case d["reply_changed"] == "true":
			// Before "replied": a reply was written, perhaps empty.
			r.forget(KindReport, id, "replied")
		}
	case "rating.create":
		r.set(KindRating, kind+"/"+id, true, "resident", d["resident"], "unit", d["unit"], "score", d["score"], "reasons", d["reasons"])
	case "filing.escalate", "report.escalate":
		r.set(KindEscalation, kind+"/"+id, true, "unit", d["unit"])
	case "visit.record":
		if v := d["visit"]; v != "" && kind == "resident" {
			r.set(KindVisit, v, true, append([]string{"resident", id, "grid_cell", d["grid_cell"], "visited_at", utcSeconds(d["visited_at"])},
				known(d, "staff")...)...)
		}
	case "catalogue.save", "report_kinds.save":
		r.set(KindDocument, kind+"/"+id, true, append([]string{"bytes", d["bytes"]}, known(d, "digest")...)...)
	}
}

// forget makes fields of an existing row unknown (not compared).
func (r *replay) forget(kind, id string, keys ...string) {
	if m, ok := r.want[kind+":"+id]; ok {
		for _, k := range keys {
			delete(m, k)
		}
	}
}

// known returns the keys of d that it has, each followed by its value:
// details absent from the events written before they were added are left
// out (not compared).
func known(d map[string]string, keys ...string) []string {
	var out []string
	for _, k := range keys {
		if v, ok := d[k]; ok {
			out = append(out, k, v)
		}
	}
	return out
}

// utcSeconds normalises an RFC 3339 time to whole seconds in UTC ("" stays
// "", a malformed time is kept as it is and so compares unequal).
func utcSeconds(v string) string {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return v
	}
	return t.UTC().Truncate(time.Second).Format(time.RFC3339)
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
