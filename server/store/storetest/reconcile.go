package storetest

import (
	"context"
	"maps"
	"strings"
	"testing"

	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// testReconcileClean: a busy database written only through the store
// reconciles with its audit chain without a finding.
func testReconcileClean(t *testing.T, newDB NewDatabase) {
	s := open(t, newDB)
	PopulateBusy(t, s)
	rep, err := audit.Reconcile(ctx(t), s, s)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		t.Errorf("untampered database: %s", f)
	}
	// Every reconciled kind was compared.
	kinds := map[string]bool{}
	if err := s.BusinessState(ctx(t), func(r audit.StateRow) error { kinds[r.Kind] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{audit.KindFiling, audit.KindEnrolment, audit.KindReplacement, audit.KindLockout, audit.KindStaff, audit.KindKiosk, audit.KindScanner,
		audit.KindDedup, audit.KindMeeting, audit.KindMeetingFiling, audit.KindCertification, audit.KindStaffPIN, audit.KindConsent,
		audit.KindReport, audit.KindRating, audit.KindVisit, audit.KindEscalation, audit.KindDocument} {
		if !kinds[k] {
			t.Errorf("the busy database has no %s row: the reconciliation of %[1]ss is not exercised", k)
		}
	}
	if rep.Events == 0 || rep.Rows < 15 {
		t.Errorf("reconciled %d events against %d rows", rep.Events, rep.Rows)
	}
	// The same database as an older version would have audited it: the
	// details added for the reconciliation absent. No false finding.
	old, err := audit.Reconcile(ctx(t), oldDetails{s}, s)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range old.Findings {
		t.Errorf("chain without the new details: %s", f)
	}
}

// oldDetails reads the chain without the details added to its events for
// audit.Reconcile after they were first written (as a chain from before
// holds them).
type oldDetails struct{ audit.Source }

func (o oldDetails) ListAudit(c context.Context, after int64, limit int) ([]audit.Record, error) {
	recs, err := o.Source.ListAudit(c, after, limit)
	for i := range recs {
		d := maps.Clone(recs[i].Details)
		switch recs[i].Action {
		case "staff.pin_set":
			delete(d, "pin")
		case "staff.create":
			delete(d, "password")
		case "visit.record":
			delete(d, "staff")
		case "catalogue.save", "report_kinds.save":
			delete(d, "digest")
		case "report.transition":
			delete(d, "replied")
		}
		recs[i].Details = d
	}
	return recs, err
}

// Exec runs one SQL statement on the database behind the store's back
// ($1-style placeholders work on both backends).
type Exec func(t *testing.T, query string, args ...any)

// ReconcileTamperTest tampers with each reconciled table directly in SQL,
// one change after the other, and checks after each that audit.Reconcile
// names the row it changed (and still names the earlier ones). s must hold
// PopulateBusy's records (b).
func ReconcileTamperTest(t *testing.T, s store.Store, b Busy, exec Exec) {
	rep, err := audit.Reconcile(ctx(t), s, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 0 {
		t.Fatalf("findings before tampering: %v", rep.Findings)
	}
	type want struct{ kind, id, problem string }
	var wants []want
	for _, tc := range []struct {
		name  string
		query string
		args  []any
		want  want // id "" matches any id of the kind
	}{
		{"filing status set in SQL", `UPDATE filings SET status = 'accepted' WHERE id = $1`, []any{b.FilingIDs[0]},
			want{audit.KindFiling, itoa(b.FilingIDs[0]), "changed"}},
		{"filing given an agent in SQL (代办)", `UPDATE filings SET agent_resident_id = $1, agent_relation = 'household' WHERE id = $2`, []any{b.ResidentIDs[0], b.FilingIDs[1]},
			want{audit.KindFiling, itoa(b.FilingIDs[1]), "changed"}},
		{"lockout row deleted", `DELETE FROM lockouts WHERE failures >= 2`, nil, want{audit.KindLockout, "", "missing"}},
		{"lockout failures cleared in SQL", `UPDATE lockouts SET failures = 0 WHERE failures = 1`, nil, want{audit.KindLockout, "", "changed"}},
		{"lockout row inserted", `INSERT INTO lockouts (id_key, failures, locked_until, updated_at) SELECT 'forged', 9, locked_until, updated_at FROM lockouts WHERE failures = 0 LIMIT 1`, nil,
			want{audit.KindLockout, "forged", "unexplained"}},
		{"enrolment superseded in SQL", `UPDATE enrolments SET superseded_at = created_at WHERE superseded_at IS NULL AND finger = 2`, nil,
			want{audit.KindEnrolment, "", "changed"}},
		{"pending replacement approved in SQL", `UPDATE enrolment_replacements SET status = 'approved', decided_by = requested_by, decided_at = created_at, basis = 'in_person' WHERE status = 'pending'`, nil,
			want{audit.KindReplacement, "", "changed"}},
		{"staff role changed", `UPDATE staff SET role = 'admin' WHERE id = $1`, []any{b.StaffIDs[2]},
			want{audit.KindStaff, itoa(b.StaffIDs[2]), "changed"}},
		{"staff member inserted", `INSERT INTO staff (username, role, password_hash, created_at, updated_at)
			SELECT 'intruder', 'admin', password_hash, created_at, updated_at FROM staff WHERE id = $1`, []any{b.StaffIDs[0]},
			want{audit.KindStaff, "", "unexplained"}},
		{"supervisor's password hash replaced by a known one", `UPDATE staff SET password_hash = (SELECT password_hash FROM staff WHERE id = $1) WHERE id = $2`, []any{b.StaffIDs[0], b.StaffIDs[1]},
			want{audit.KindStaff, itoa(b.StaffIDs[1]), "changed"}},
		{"kiosk re-activated", `UPDATE kiosks SET status = 'active' WHERE status = 'revoked'`, nil, want{audit.KindKiosk, "K-0002", "changed"}},
		{"scanner moved", `UPDATE scanners SET kiosk_id = NULL WHERE serial = $1`, []any{b.Scanner}, want{audit.KindScanner, b.Scanner, "changed"}},
		{"rejected duplicate case overridden in SQL", `UPDATE dedup_cases SET status = 'overridden' WHERE status = 'rejected'`, nil,
			want{audit.KindDedup, "", "changed"}},
		{"overridden duplicate case inserted", `INSERT INTO dedup_cases (resident_id, matched_resident_id, finger, score, status, reason, created_at)
			SELECT matched_resident_id, resident_id, 3, score, 'overridden', 'same_person', created_at FROM dedup_cases`, nil,
			want{audit.KindDedup, "", "unexplained"}},
		{"deliberation meeting inserted", `INSERT INTO dibao_meetings (station_id, quarter, held_on, record, actor_type, actor_id, created_at)
			SELECT station_id, '2026Q2', held_on, record, actor_type, actor_id, created_at FROM dibao_meetings WHERE id = $1`, []any{b.MeetingID},
			want{audit.KindMeeting, "", "unexplained"}},
		{"filing attached to a meeting in SQL", `INSERT INTO dibao_meeting_filings (filing_id, meeting_id, attached_at)
			SELECT $1, meeting_id, attached_at FROM dibao_meeting_filings WHERE meeting_id = $2`, []any{b.FilingIDs[1], b.MeetingID},
			want{audit.KindMeetingFiling, itoa(b.FilingIDs[1]), "unexplained"}},
		{"proof of life inserted", `INSERT INTO certifications (resident_id, year, kiosk_id, station_id, certified_at)
			SELECT $1, year, kiosk_id, station_id, certified_at FROM certifications`, []any{b.ResidentIDs[1]},
			want{audit.KindCertification, itoa(b.ResidentIDs[1]) + "/2026", "unexplained"}},
		{"staff PIN hash replaced", `UPDATE staff_pins SET pin_hash = (SELECT password_hash FROM staff WHERE id = staff_pins.staff_id)`, nil,
			want{audit.KindStaffPIN, itoa(b.StaffIDs[0]), "changed"}},
		{"consent inserted", `INSERT INTO enrolment_consents (resident_id, text_version, consented_at, staff_id, kiosk_id, created_at)
			SELECT $1, text_version, consented_at, staff_id, kiosk_id, created_at FROM enrolment_consents`, []any{b.ResidentIDs[1]},
			want{audit.KindConsent, "", "unexplained"}},
		{"report closed in SQL", `UPDATE reports SET status = 'closed'`, nil, want{audit.KindReport, "", "changed"}},
		{"rating raised in SQL", `UPDATE ratings SET score = 5`, nil, want{audit.KindRating, "", "changed"}},
		{"grid visit inserted", `INSERT INTO visits (resident_id, grid_cell, staff_id, note, visited_at, created_at)
			SELECT resident_id, grid_cell, staff_id, '', visited_at, created_at FROM visits`, nil,
			want{audit.KindVisit, "", "unexplained"}},
		{"escalation deleted", `DELETE FROM escalations WHERE item = 'filing' AND item_id = $1`, []any{b.FilingIDs[0]},
			want{audit.KindEscalation, "filing/" + itoa(b.FilingIDs[0]), "missing"}},
		{"catalogue version rewritten", `UPDATE catalogue_versions SET document = '{"format": "veinkiosk-catalogue/X"}' WHERE version = 1`, nil,
			want{audit.KindDocument, "catalogue/1", "changed"}},
	} {
		exec(t, tc.query, tc.args...)
		wants = append(wants, tc.want)
		rep, err := audit.Reconcile(ctx(t), s, s)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(rep.Findings) != len(wants) {
			t.Errorf("%s: %d findings, want %d: %v", tc.name, len(rep.Findings), len(wants), rep.Findings)
		}
		for _, w := range wants {
			found := false
			for _, f := range rep.Findings {
				if f.Kind == w.kind && f.Problem == w.problem && (w.id == "" || f.ID == w.id) {
					found = true
					if !strings.Contains(f.String(), f.ID) {
						t.Errorf("finding %q does not name the row", f)
					}
				}
			}
			if !found {
				t.Errorf("after %q: no %s finding for %s %s in %v", tc.name, w.problem, w.kind, w.id, rep.Findings)
			}
		}
	}
}
