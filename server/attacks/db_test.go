package attacks

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

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
