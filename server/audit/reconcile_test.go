package audit

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

type memChain []Record

func (m memChain) ListAudit(_ context.Context, after int64, limit int) ([]Record, error) {
	i, _ := slices.BinarySearchFunc(m, after+1, func(r Record, seq int64) int { return cmp.Compare(r.Seq, seq) })
	return slices.Clone(m[i:min(i+limit, len(m))]), nil
}

func (m memChain) AuditHead(context.Context) (int64, Hash, error) { return 0, Hash{}, nil }

type memState []StateRow

func (m memState) BusinessState(_ context.Context, fn func(StateRow) error) error {
	for _, r := range m {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

func chainOf(events ...Event) memChain {
	var c memChain
	for i, e := range events {
		e.Time = time.Unix(int64(i), 0)
		c = append(c, Record{Seq: int64(i + 1), Event: e})
	}
	return c
}

func ev(action, target string, kv ...string) Event {
	d := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		d[kv[i]] = kv[i+1]
	}
	return Event{Actor: System("t"), Action: action, Target: target, Details: d}
}

func row(kind, id string, kv ...string) StateRow {
	d := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		d[kv[i]] = kv[i+1]
	}
	return StateRow{Kind: kind, ID: id, Fields: d}
}

// TestReconcileRules: each replay rule, and the three kinds of finding.
func TestReconcileRules(t *testing.T) {
	chain := chainOf(
		ev("filing.create", "filing:1"),
		ev("filing.transition", "filing:1", "from", "submitted", "to", "in_review"),
		ev("filing.create", "filing:2"),
		ev("filing.by_agent", "filing:2", "agent", "9", "resident", "8", "relation", "household"),
		ev("enrolment.create", "enrolment:5", "resident", "9", "finger", "2"),
		ev("enrolment.replace", "enrolment:6", "resident", "9", "finger", "2", "replaced", "5"),
		ev("enrolment.create", "enrolment:7", "resident", "9", "finger", "3"),
		ev("enrolment.delete", "resident:9", "count", "2"),
		ev("verification.attempt", "resident:9", "failures", "1", "id_key", "K1"),
		ev("verification.attempt", "resident:9", "failures", "2", "locked_until", "2026-01-01T00:00:00Z", "id_key", "K1"),
		ev("verification.attempt", "verification:unknown-resident", "failures", "1", "id_key", "K2"),
		ev("lockout.reset", "resident:9", "id_key", "K2"),
		ev("verification.attempt", "resident:8", "failures", "5", "locked_until", "2026-01-01T00:00:00Z", "id_key", "K3"),
		ev("lockout.unlock", "resident:8", "id_key", "K3", "reason", "card checked in person", "failures_before", "5"),
		ev("staff.create", "staff:3", "role", "station_staff", "station", "S1", "department", ""),
		ev("staff.update", "staff:3", "role", "supervisor", "station", "S1", "department", "", "disabled", "false"),
		ev("kiosk.create", "kiosk:K", "station", "S1"),
		ev("kiosk.status", "kiosk:K", "status", "revoked"),
		ev("scanner.create", "scanner:V", "kiosk", "K", "status", "active"),
		ev("scanner.assign", "scanner:V", "kiosk", ""),
		ev("scanner.status", "scanner:V", "status", "revoked"),
		ev("enrolment.create", "enrolment:10", "resident", "8", "finger", "1"),
		ev("enrolment.create", "enrolment:11", "resident", "8", "finger", "2"),
		ev("enrolment.replacement.request", "replacement:20", "resident", "8", "status", "pending"),
		ev("enrolment.replace", "enrolment:12", "resident", "8", "finger", "1", "replacement", "20", "superseded", "10,11"),
		ev("enrolment.replacement.approve", "replacement:20", "resident", "8", "status", "approved", "superseded", "10,11", "enrolments", "12"),
		ev("enrolment.replacement.request", "replacement:21", "resident", "8", "status", "pending"),
		ev("enrolment.replacement.request", "replacement:22", "resident", "7", "status", "pending"),
		ev("enrolment.replacement.reject", "replacement:22", "resident", "7", "status", "rejected"),
		ev("filing.transition", "filing:404", "to", "accepted"), // about a row the chain never created
		ev("staff.login", "staff:3"),
	)
	clean := memState{
		row(KindFiling, "1", "status", "in_review", "agent", ""),
		row(KindFiling, "2", "status", "submitted", "agent", "9"),
		row(KindEnrolment, "5", "resident", "9", "finger", "2", "active", "false"),
		row(KindEnrolment, "6", "resident", "9", "finger", "2", "active", "false"),
		row(KindEnrolment, "7", "resident", "9", "finger", "3", "active", "false"),
		row(KindLockout, "K1", "failures", "2", "locked_until", "2026-01-01T00:00:00Z"),
		row(KindLockout, "K2", "failures", "0", "locked_until", ""),
		row(KindLockout, "K3", "failures", "0", "locked_until", ""),
		row(KindStaff, "3", "role", "supervisor", "station", "S1", "department", "", "disabled", "false"),
		row(KindKiosk, "K", "station", "S1", "status", "revoked"),
		row(KindScanner, "V", "kiosk", "", "status", "revoked"),
		row(KindEnrolment, "10", "resident", "8", "finger", "1", "active", "false"),
		row(KindEnrolment, "11", "resident", "8", "finger", "2", "active", "false"),
		row(KindEnrolment, "12", "resident", "8", "finger", "1", "active", "true"),
		row(KindReplacement, "20", "resident", "8", "status", "approved"),
		row(KindReplacement, "21", "resident", "8", "status", "pending"),
		row(KindReplacement, "22", "resident", "7", "status", "rejected"),
	}
	rep, err := Reconcile(context.Background(), chain, clean)
	if err != nil || len(rep.Findings) != 0 || rep.Events != int64(len(chain)) || rep.Rows != len(clean) {
		t.Fatalf("clean: %+v %v", rep, err)
	}

	tampered := append(memState{}, clean...)
	tampered[0] = row(KindFiling, "1", "status", "accepted", "agent", "")                                                    // changed
	tampered[1] = row(KindFiling, "2", "status", "submitted", "agent", "7")                                                  // another agent in SQL
	tampered = append(tampered[:5], tampered[6:]...)                                                                         // lockout K1 deleted
	tampered[len(tampered)-2] = row(KindReplacement, "21", "resident", "8", "status", "approved")                            // approved in SQL
	tampered = append(tampered, row(KindStaff, "99", "role", "admin", "station", "", "department", "", "disabled", "false")) // inserted
	rep, err = Reconcile(context.Background(), chain, tampered)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`filing 1: changed without an audited event: status is "accepted", the chain says "in_review"`,
		`filing 2: changed without an audited event: agent is "7", the chain says "9"`,
		`lockout K1: the audited row is gone`,
		`replacement 21: changed without an audited event: status is "approved", the chain says "pending"`,
		`staff 99: no audited event explains this row`,
	}
	if len(rep.Findings) != len(want) {
		t.Fatalf("findings %v", rep.Findings)
	}
	for i, w := range want {
		if got := rep.Findings[i].String(); !strings.HasPrefix(got, w) {
			t.Errorf("finding %d = %q, want %q...", i, got, w)
		}
	}
}

// TestReconcileTrustRules: the replay rules of the rows that decide
// something about trust (dedup cases, deliberation meetings, proofs of
// life, staff PINs, consents, reports, ratings, escalations, visits, saved
// documents), each tampering named.
func TestReconcileTrustRules(t *testing.T) {
	pin, doc := PINDigest("$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA"), DocumentDigest([]byte(`{"format": "veinkiosk-catalogue/1"}`))
	chain := chainOf(
		ev("dedup.open", "dedup:1", "resident", "4", "matched_resident", "3", "finger", "2", "score", "0.9", "kiosk", "K"),
		ev("dedup.decide", "dedup:1", "status", "rejected", "supervisor", "2"),
		ev("dedup.open", "dedup:2", "resident", "5", "matched_resident", "3", "finger", "1", "score", "0.8", "kiosk", "K"),
		ev("dibao.meeting.create", "dibao_meeting:7", "station", "S1", "quarter", "2026Q1", "held_on", "2026-03-20", "members", "3"),
		ev("dibao.meeting.attach", "dibao_meeting:7", "filings", "11,12"),
		ev("dibao.meeting.attach", "dibao_meeting:8", "filings", "13"), // a meeting the chain never created
		ev("pension.certify", "resident:4", "year", "2026", "kiosk", "K", "station", "S1"),
		ev("staff.pin_set", "staff:3", "pin", pin),
		ev("staff.pin_failed", "staff:3", "kiosk", "K", "failures", "1"),
		ev("staff.pin_set", "staff:4", "pin", pin),
		ev("staff.pin_failed", "staff:4", "kiosk", "K", "failures", "4"),
		ev("staff.pin_locked", "staff:4", "kiosk", "K", "failures", "5"),
		ev("staff.pin_refused_locked", "staff:4", "kiosk", "K", "failures", "5"),
		ev("enrolment.consent", "resident:4", "consent", "9", "text_version", "2026-01", "kiosk", "K", "staff", "3"),
		ev("report.create", "report:21", "reference", "R-1", "kind", "cold_radiator", "resident", "4", "unit", "heating", "kiosk", "K", "station", "S1", "photo", "false"),
		ev("report.transition", "report:21", "from", "submitted", "to", "replied", "reply_changed", "true", "replied", "true"),
		ev("rating.create", "report:21", "reference", "R-1", "unit", "heating", "resident", "4", "score", "4", "reasons", "slow", "kiosk", "K"),
		ev("filing.escalate", "filing:11", "reference", "F-1", "unit", "civil", "due", "2026-04-01T00:00:00Z"),
		ev("visit.record", "resident:4", "grid_cell", "G7", "visit", "31", "visited_at", "2026-03-02T17:30:00+08:00", "staff", "6"),
		ev("catalogue.save", "catalogue:2", "version", "2", "bytes", "36", "digest", doc),
		ev("staff.create", "staff:8", "role", "admin", "station", "", "department", "", "grid_cell", "", "disabled", "false", "password", PasswordDigest("h8")),
		ev("staff.create", "staff:9", "role", "grid_worker", "station", "", "department", "", "grid_cell", "G7", "disabled", "false", "password", PasswordDigest("h9")),
		ev("staff.update", "staff:9", "role", "grid_worker", "station", "", "department", "", "grid_cell", "", "disabled", "false"),
	)
	clean := memState{
		row(KindDedup, "1", "resident", "4", "matched", "3", "finger", "2", "status", "rejected"),
		row(KindDedup, "2", "resident", "5", "matched", "3", "finger", "1", "status", "open"),
		row(KindMeeting, "7", "station", "S1", "quarter", "2026Q1", "held_on", "2026-03-20"),
		row(KindMeetingFiling, "11", "meeting", "7"),
		row(KindMeetingFiling, "12", "meeting", "7"),
		row(KindCertification, "4/2026", "kiosk", "K", "station", "S1"),
		row(KindStaffPIN, "3", "failures", "1", "locked", "false", "pin", pin),
		row(KindStaffPIN, "4", "failures", "5", "locked", "true", "pin", pin),
		row(KindConsent, "9", "resident", "4", "text_version", "2026-01", "staff", "3", "kiosk", "K"),
		row(KindReport, "21", "resident", "4", "kind", "cold_radiator", "unit", "heating", "status", "replied", "replied", "true"),
		row(KindRating, "report/21", "resident", "4", "unit", "heating", "score", "4", "reasons", "slow"),
		row(KindEscalation, "filing/11", "unit", "civil"),
		row(KindVisit, "31", "resident", "4", "grid_cell", "G7", "staff", "6", "visited_at", "2026-03-02T09:30:00Z"),
		row(KindDocument, "catalogue/2", "bytes", "36", "digest", doc),
		row(KindStaff, "8", "role", "admin", "station", "", "department", "", "disabled", "false", "grid_cell", "", "password", PasswordDigest("h8")),
		row(KindStaff, "9", "role", "grid_worker", "station", "", "department", "", "disabled", "false", "grid_cell", "", "password", PasswordDigest("h9")),
	}
	rep, err := Reconcile(context.Background(), chain, clean)
	if err != nil || len(rep.Findings) != 0 {
		t.Fatalf("clean: %v %v", rep.Findings, err)
	}

	tampered := memState{
		row(KindDedup, "1", "resident", "4", "matched", "3", "finger", "2", "status", "overridden"), // the enrolment may go ahead
		row(KindDedup, "2", "resident", "5", "matched", "3", "finger", "1", "status", "open"),
		row(KindDedup, "3", "resident", "6", "matched", "3", "finger", "1", "status", "overridden"), // inserted
		row(KindMeeting, "7", "station", "S1", "quarter", "2026Q1", "held_on", "2026-03-20"),
		row(KindMeeting, "8", "station", "S1", "quarter", "2026Q1", "held_on", "2026-03-21"), // inserted
		row(KindMeetingFiling, "11", "meeting", "7"),
		row(KindMeetingFiling, "12", "meeting", "7"),
		row(KindMeetingFiling, "13", "meeting", "8"), // attached in SQL
		row(KindCertification, "4/2026", "kiosk", "K", "station", "S1"),
		row(KindCertification, "5/2026", "kiosk", "K", "station", "S1"),                                 // a pension made payable
		row(KindStaffPIN, "3", "failures", "1", "locked", "false", "pin", PINDigest("$argon2id$known")), // PIN hash replaced
		row(KindStaffPIN, "4", "failures", "0", "locked", "false", "pin", pin),                          // unlocked in SQL
		row(KindConsent, "9", "resident", "4", "text_version", "2026-01", "staff", "3", "kiosk", "K"),
		row(KindReport, "21", "resident", "4", "kind", "cold_radiator", "unit", "heating", "status", "replied", "replied", "false"), // answer blanked
		row(KindRating, "report/21", "resident", "4", "unit", "heating", "score", "5", "reasons", ""),
		row(KindVisit, "31", "resident", "4", "grid_cell", "G7", "staff", "6", "visited_at", "2026-03-01T09:30:00Z"), // back-dated
		row(KindDocument, "catalogue/2", "bytes", "36", "digest", DocumentDigest([]byte(`{"format": "veinkiosk-catalogue/X"}`))),
		row(KindStaff, "8", "role", "admin", "station", "", "department", "", "disabled", "false", "grid_cell", "", "password", PasswordDigest("known")),      // the admin's password replaced
		row(KindStaff, "9", "role", "grid_worker", "station", "", "department", "", "disabled", "false", "grid_cell", "G8", "password", PasswordDigest("h9")), // another cell
	}
	rep, err = Reconcile(context.Background(), chain, tampered)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range rep.Findings {
		got[f.Kind+" "+f.ID] = f.Problem
	}
	wantProblems := map[string]string{
		"dedup 1":              "changed",
		"dedup 3":              "unexplained",
		"dibao_meeting 8":      "unexplained",
		"dibao_attachment 13":  "unexplained",
		"certification 5/2026": "unexplained",
		"staff_pin 3":          "changed",
		"staff_pin 4":          "changed",
		"report 21":            "changed",
		"rating report/21":     "changed",
		"escalation filing/11": "missing",
		"visit 31":             "changed",
		"document catalogue/2": "changed",
		"staff 8":              "changed",
		"staff 9":              "changed",
	}
	if !maps.Equal(got, wantProblems) {
		t.Errorf("findings %v\nwant %v", got, wantProblems)
	}
}

// TestReconcileOldChain: a chain written before its events carried a
// field (the PIN digest, the visiting staff member, whether a report's
// reply is empty, a document's digest) reconciles with the tables without
// a false finding: the field is not compared until an event carries it.
func TestReconcileOldChain(t *testing.T) {
	old := []Event{
		ev("staff.pin_set", "staff:3"),
		ev("staff.pin_ok", "staff:3", "kiosk", "K", "failures", "0"),
		ev("visit.record", "resident:4", "grid_cell", "G7", "visit", "31", "visited_at", "2026-03-02T09:30:00Z"),
		ev("report.create", "report:21", "reference", "R-1", "kind", "k", "resident", "4", "unit", "u", "kiosk", "K", "station", "S1", "photo", "false"),
		ev("report.transition", "report:21", "from", "submitted", "to", "replied", "reply_changed", "true", "note", ""),
		ev("report.create", "report:22", "reference", "R-2", "kind", "k", "resident", "4", "unit", "u", "kiosk", "K", "station", "S1", "photo", "false"),
		ev("report.transition", "report:22", "from", "submitted", "to", "accepted", "reply_changed", "false", "note", ""),
		ev("catalogue.save", "catalogue:1", "version", "1", "bytes", "2"),
		ev("report_kinds.save", "report_kinds:1", "version", "1", "bytes", "2"),
		ev("staff.create", "staff:5", "role", "admin", "station", "", "department", ""),
	}
	chain := chainOf(old...)
	state := memState{
		row(KindStaffPIN, "3", "failures", "0", "locked", "false", "pin", PINDigest("whatever")),
		row(KindVisit, "31", "resident", "4", "grid_cell", "G7", "staff", "6", "visited_at", "2026-03-02T09:30:00Z"),
		row(KindReport, "21", "resident", "4", "kind", "k", "unit", "u", "status", "replied", "replied", "true"),
		row(KindReport, "22", "resident", "4", "kind", "k", "unit", "u", "status", "accepted", "replied", "false"),
		row(KindDocument, "catalogue/1", "bytes", "2", "digest", DocumentDigest([]byte("{}"))),
		row(KindDocument, "report_kinds/1", "bytes", "2", "digest", DocumentDigest([]byte("[]"))),
		row(KindStaff, "5", "role", "admin", "station", "", "department", "", "disabled", "false", "grid_cell", "", "password", PasswordDigest("h")),
	}
	rep, err := Reconcile(context.Background(), chain, state)
	if err != nil || len(rep.Findings) != 0 {
		t.Fatalf("old chain: %v %v", rep.Findings, err)
	}
	// What the old events did carry is still compared; a later event
	// carrying the field makes it compared again.
	newer := chainOf(append(slices.Clone(old), ev("staff.pin_set", "staff:3", "pin", PINDigest("set through the store")))...)
	state[3] = row(KindReport, "22", "resident", "4", "kind", "k", "unit", "u", "status", "accepted", "replied", "true") // a reply written in SQL
	rep, err = Reconcile(context.Background(), newer, state)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range rep.Findings {
		got = append(got, f.Kind+" "+f.ID+" "+f.Problem)
	}
	if want := []string{"report 22 changed", "staff_pin 3 changed"}; !slices.Equal(got, want) {
		t.Errorf("findings %v, want %v", got, want)
	}
}

// benchChain is a chain of n events over every reconciled kind, with the
// state it implies: per resident an enrolment, a verification attempt, a
// consent, a visit, a report answered and rated, a proof of life, and every
// tenth resident's enrolments deleted.
func benchChain(n int) (memChain, memState) {
	var events []Event
	var state memState
	for i := 0; len(events) < n; i++ {
		id := strconv.Itoa(i)
		deleted := i%10 == 0
		events = append(events,
			ev("enrolment.create", "enrolment:"+id, "resident", id, "finger", "2"),
			ev("verification.attempt", "resident:"+id, "failures", "1", "id_key", "K"+id),
			ev("enrolment.consent", "resident:"+id, "consent", id, "text_version", "v1", "kiosk", "K", "staff", "3"),
			ev("visit.record", "resident:"+id, "grid_cell", "G1", "visit", id, "visited_at", "2026-03-02T09:30:00Z", "staff", "3"),
			ev("report.create", "report:"+id, "kind", "k", "resident", id, "unit", "u"),
			ev("report.transition", "report:"+id, "to", "replied", "replied", "true"),
			ev("rating.create", "report:"+id, "resident", id, "unit", "u", "score", "4", "reasons", ""),
			ev("pension.certify", "resident:"+id, "year", "2026", "kiosk", "K", "station", "S1"),
		)
		if deleted {
			events = append(events, ev("enrolment.delete", "resident:"+id, "count", "1"))
		}
		state = append(state,
			row(KindEnrolment, id, "resident", id, "finger", "2", "active", strconv.FormatBool(!deleted)),
			row(KindLockout, "K"+id, "failures", "1", "locked_until", ""),
			row(KindConsent, id, "resident", id, "text_version", "v1", "staff", "3", "kiosk", "K"),
			row(KindVisit, id, "resident", id, "grid_cell", "G1", "staff", "3", "visited_at", "2026-03-02T09:30:00Z"),
			row(KindReport, id, "resident", id, "kind", "k", "unit", "u", "status", "replied", "replied", "true"),
			row(KindRating, "report/"+id, "resident", id, "unit", "u", "score", "4", "reasons", ""),
			row(KindCertification, id+"/2026", "kiosk", "K", "station", "S1"),
		)
	}
	return chainOf(events...), state
}

// BenchmarkReconcile: the replay and the comparison are linear in the
// chain and the rows (ns/event stays flat from 10k to 100k events).
func BenchmarkReconcile(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			chain, state := benchChain(n)
			b.ReportAllocs()
			for b.Loop() {
				rep, err := Reconcile(context.Background(), chain, state)
				if err != nil || len(rep.Findings) != 0 {
					b.Fatalf("%v %v", rep.Findings[:min(3, len(rep.Findings))], err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(chain)), "ns/event")
		})
	}
}

// TestDigestsPassValidate: the digests the events carry have no digits,
// so no PIN hash or document makes an event look like personal data.
func TestDigestsPassValidate(t *testing.T) {
	for i := range 5000 {
		v := strconv.Itoa(i)
		for _, d := range []string{PINDigest("$argon2id$" + v), DocumentDigest([]byte(v))} {
			if strings.ContainsAny(d, "0123456789") || len(d) != 52 {
				t.Fatalf("digest %q", d)
			}
			e := ev("staff.pin_set", "staff:1", "pin", d)
			e.Time = time.Unix(1, 0)
			if err := Validate(e); err != nil {
				t.Fatalf("digest %q: %v", d, err)
			}
		}
	}
}
