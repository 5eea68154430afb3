package attacks

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/keyring"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// Attacks with the database in hand: a dishonest administrator or DBA who
// edits rows behind the server's back, and a thief who carries the
// database away.

func (tg *target) auditVerify() apiv1.AuditVerifyResult {
	tg.t.Helper()
	var r apiv1.AuditVerifyResult
	must(tg.t, tg.admin.Do(tg.ctx(), "GET", apiv1.PathAdminAuditVerify, nil, &r))
	return r
}

// activity makes a history: enrolment, verification, a filing, a lockout.
func (tg *target) activity() (*station, *apiv1.Filing) {
	tg.t.Helper()
	s := tg.enrolledStation("kiosk-01")
	f := tg.filing(s, s.p, "temporary_assistance", map[string]string{"emergency": "重大疾病", "amount": "3000", "description": "住院", "phone": "13912345678"})
	impostor := tg.newPerson("孙少", false)
	for i := 0; i < 5; i++ {
		s.k.Verify(tg.ctx(), tg.verifyRequest(s.k, s.p, impostor.fingers[apiv1.RightIndex]))
	}
	if r := tg.auditVerify(); !r.OK {
		tg.t.Fatalf("the untouched chain does not verify: %+v", r)
	}
	return s, f
}

// TestAttackAuditTampering: editing, deleting or truncating audit records
// directly in the database is detected by the chain (held).
func TestAttackAuditTampering(t *testing.T) {
	t.Parallel()
	edits := []struct{ name, sql string }{
		{"edit an event's action", "UPDATE audit_events SET action = 'staff.login' WHERE seq = 3"},
		{"delete an event in the middle", "DELETE FROM audit_events WHERE seq = 4"},
		{"delete the newest event", "DELETE FROM audit_events WHERE seq = (SELECT max(seq) FROM audit_events)"},
	}
	for _, e := range edits {
		t.Run(e.name, func(t *testing.T) {
			forEach(t, func(t *testing.T, tg *target) {
				tg.activity()
				if n := tg.exec(e.sql); n != 1 {
					t.Fatalf("%s: %d rows", e.sql, n)
				}
				if r := tg.auditVerify(); r.OK {
					t.Fatalf("ATTACK SUCCEEDED: %q leaves the audit chain intact (%+v)", e.sql, r)
				}
			})
		})
	}
}

// TestAttackUnauditedBusinessEdit (issue 11 item 8): setting a filing's
// status or deleting a lockout row directly must not leave the audit
// saying all is well.
func TestAttackUnauditedBusinessEdit(t *testing.T) {
	t.Parallel()
	edits := []struct{ name, sql string }{
		{"accept a filing", "UPDATE filings SET status = 'accepted'"},
		{"delete a lockout", "DELETE FROM lockouts"},
		{"make a station staff an admin", "UPDATE staff SET role = 'admin' WHERE role = 'station_staff'"},
	}
	for _, e := range edits {
		t.Run(e.name, func(t *testing.T) {
			forEach(t, func(t *testing.T, tg *target) {
				tg.activity()
				if n := tg.exec(e.sql); n < 1 {
					t.Fatalf("%s: %d rows", e.sql, n)
				}
				if r := tg.auditVerify(); r.OK {
					t.Fatalf("ATTACK SUCCEEDED: %q is not noticed by the audit (%+v)", e.sql, r)
				}
			})
		})
	}
}

// named checks that the admin API's audit verify is not OK and names each
// row (kind and id) behind the server's back.
func (tg *target) auditNames(what string, rows ...string) {
	tg.t.Helper()
	r := tg.auditVerify()
	if r.OK {
		tg.t.Fatalf("ATTACK SUCCEEDED: %s is not noticed by the audit (%+v)", what, r)
	}
	for _, row := range rows {
		found := false
		for _, u := range r.Unexplained {
			found = found || strings.HasPrefix(u, row+":")
		}
		if !found {
			tg.t.Errorf("ATTACK SUCCEEDED: %s: the audit does not name %q: %q", what, row, r.Unexplained)
		}
	}
}

// TestAttackUnauditedTrustEdit: a dishonest DBA edits, in SQL, the rows
// that open a gate: a duplicate-enrolment case marked overridden lets the
// duplicate enrol; a 低保 filing attached to a meeting that never decided
// it can be approved; a proof of life inserted makes a pension payable.
// The gates trust the tables, so each edit works on its own; the audit
// verification names every such row.
func TestAttackUnauditedTrustEdit(t *testing.T) {
	t.Parallel()
	t.Run("duplicate case overridden in SQL", func(t *testing.T) {
		forEach(t, func(t *testing.T, tg *target) {
			s := tg.enrolledStation("kiosk-01")
			b := tg.newPerson("李明", false)
			b.fingers = s.p.fingers // a second identity with the same fingers
			_, err := s.staff.Enrol(tg.ctx(), tg.enrolRequest(s.staff, b, nil))
			var ae *apiv1.Error
			if !errors.As(err, &ae) || ae.Code != apiv1.CodeDuplicateSuspected || ae.CaseID == 0 {
				t.Fatalf("duplicate enrolment: %v, want %s with a case", err, apiv1.CodeDuplicateSuspected)
			}
			if n := tg.exec("UPDATE dedup_cases SET status = 'overridden', decided_by = staff_id, reason = 'twins', decided_at = created_at WHERE id = $1", ae.CaseID); n != 1 {
				t.Fatalf("override in SQL: %d rows", n)
			}
			req := tg.enrolRequest(s.staff, b, nil)
			req.OverrideCaseID = ae.CaseID
			mustV[*apiv1.EnrolResponse](t)(s.staff.Enrol(tg.ctx(), req)) // the gate trusts the table
			tg.auditNames("a duplicate case overridden in SQL", "dedup "+strconv.FormatInt(ae.CaseID, 10))
		})
	})
	t.Run("低保 filing attached to a meeting in SQL", func(t *testing.T) {
		forEach(t, func(t *testing.T, tg *target) {
			s := tg.enrolledStation("kiosk-01")
			must(t, tg.admin.Do(tg.ctx(), "POST", apiv1.PathAdminResidents, apiv1.ResidentImport{Residents: []apiv1.Resident{{
				IDNumber: s.p.card.IDNumber, Name: s.p.card.Name, Gender: "M", BirthDate: s.p.card.Birth.Time().Format(time.DateOnly),
				Address: "内蒙古自治区包头市青山区幸福路1号", GridCell: "G-017", Household: "H-0001", Status: "active"}}}, nil))
			tg.staffInStore("li", store.RoleDepartmentOfficer, "civil_affairs", "")
			li := tg.login("li")
			vr := mustV[*apiv1.VerifyResponse](t)(s.k.Verify(tg.ctx(), tg.verifyRequest(s.k, s.p, s.p.fingers[apiv1.RightIndex])))
			f := mustV[*apiv1.Filing](t)(s.k.SubmitFiling(tg.ctx(), &apiv1.SubmitFilingRequest{Token: vr.Token, Service: "dibao_new", IdempotencyKey: "attack-dibao-000000002",
				Values: map[string]string{"household_size": "2", "monthly_income": "800", "income_source": "养老金", "housing": "自有住房",
					"bank_account": "6222020200112233", "phone": "13800138000", "reason": "收入减少", "vehicle": "false", "bank_name": "中国建设银行"}}))
			// A meeting recorded through the server, that decided nothing
			// about this filing.
			now := tg.clock.Now().In(identity.ChinaTime)
			q := strconv.Itoa(now.Year()) + "Q" + strconv.Itoa((int(now.Month())+2)/3)
			var m apiv1.Meeting
			must(t, li.Do(tg.ctx(), "POST", apiv1.PathMeetings, apiv1.MeetingCreate{StationID: tg.station, Quarter: q, HeldOn: now.Format(time.DateOnly),
				Members: []string{"孙主任", "周委员", "居民代表吴梅"}, Minutes: "审议其他家庭的申请。"}, &m))
			// The DBA attaches the filing to it, and forges a meeting row.
			if n := tg.exec("INSERT INTO dibao_meeting_filings (filing_id, meeting_id, attached_at) SELECT $1, id, created_at FROM dibao_meetings WHERE id = $2", f.ID, m.ID); n != 1 {
				t.Fatalf("attach in SQL: %d rows", n)
			}
			if n := tg.exec("INSERT INTO dibao_meetings (station_id, quarter, held_on, record, actor_type, actor_id, created_at) SELECT station_id, quarter, held_on, '', actor_type, actor_id, created_at FROM dibao_meetings WHERE id = $1", m.ID); n != 1 {
				t.Fatalf("meeting in SQL: %d rows", n)
			}
			must(t, li.Do(tg.ctx(), "POST", "/api/v1/filings/"+strconv.FormatInt(f.ID, 10)+"/decision", apiv1.Decision{Action: "accept", Reply: "同意"}, nil)) // the gate trusts the table
			tg.auditNames("a 低保 filing attached to a meeting in SQL", "dibao_attachment "+strconv.FormatInt(f.ID, 10), "dibao_meeting "+strconv.FormatInt(m.ID+1, 10))
		})
	})
	t.Run("proof of life inserted in SQL", func(t *testing.T) {
		forEach(t, func(t *testing.T, tg *target) {
			s := tg.enrolledStation("kiosk-01")
			if n := tg.exec("INSERT INTO certifications (resident_id, year, kiosk_id, station_id, certified_at) SELECT e.resident_id, 2026, k.id, k.station_id, k.created_at FROM enrolments e, kiosks k WHERE k.id = 'kiosk-01' LIMIT 1"); n != 1 {
				t.Fatalf("certification in SQL: %d rows", n)
			}
			r, err := tg.st.GetResident(tg.ctx(), s.p.card.IDNumber)
			if err != nil {
				t.Fatal(err)
			}
			tg.auditNames("a proof of life inserted in SQL", "certification "+strconv.FormatInt(r.ID, 10)+"/2026")
		})
	})
}

// TestAttackPlaintextPII (issue 11 item 8): a stolen database holds no
// personal data in clear: names, ID numbers, addresses, phone numbers,
// sensitive form values.
func TestAttackPlaintextPII(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		s, _ := tg.activity()
		dump := tg.dump()
		for what, v := range map[string]string{"ID number": s.p.card.IDNumber, "name": s.p.card.Name, "address": s.p.card.Address, "phone": "13912345678"} {
			if bytes.Contains(dump, []byte(v)) {
				t.Errorf("ATTACK SUCCEEDED: the %s %q is in the database in clear", what, v)
			}
		}
	})
}

// TestAttackBiometricsInClear: the templates are sealed (held): no
// enrolled template's bytes are in the database.
func TestAttackBiometricsInClear(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		tg.staffInStore("zhang", store.RoleStationStaff, "", tg.station)
		k := tg.newKiosk("kiosk-01")
		sk := k.staffAt("zhang")
		p := tg.newPerson("李明", false)
		req := tg.enrolRequest(sk, p, nil)
		mustV[*apiv1.EnrolResponse](t)(sk.Enrol(tg.ctx(), req))
		dump := tg.dump()
		for _, fc := range req.Fingers {
			for _, c := range fc.Captures {
				// A template's body (past its header) in clear.
				if body := c.Template[len(c.Template)/2:]; bytes.Contains(dump, body) || bytes.Contains(dump, []byte(hexOf(body[:64]))) {
					t.Fatal("ATTACK SUCCEEDED: an enrolled template is in the database in clear")
				}
			}
		}
	})
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// TestAttackKeyFilePermissions: a key ring file others can read is
// refused (held).
func TestAttackKeyFilePermissions(t *testing.T) {
	line, err := keyring.GenerateLine("k1")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(path, []byte(line+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := keyring.LoadFile(path); err == nil {
		t.Fatal("ATTACK SUCCEEDED: a world-readable key ring was loaded")
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := keyring.LoadFile(path); err != nil {
		t.Fatalf("a 0600 key ring: %v", err)
	}
}
