package audit

import (
	"context"
	"strings"
	"testing"
	"time"
)

type memChain []Record

func (m memChain) ListAudit(_ context.Context, after int64, limit int) ([]Record, error) {
	var out []Record
	for _, r := range m {
		if r.Seq > after && len(out) < limit {
			out = append(out, r)
		}
	}
	return out, nil
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
