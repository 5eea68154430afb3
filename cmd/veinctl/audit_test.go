package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
	"github.com/qingshan-gov/veinkiosk/server/store/postgres"
	"github.com/qingshan-gov/veinkiosk/server/store/sqlite"
	"github.com/qingshan-gov/veinkiosk/server/store/storetest"
)

// fillChain appends n events through the store's own API.
func fillChain(t *testing.T, s store.Store, n int) []audit.Record {
	t.Helper()
	ctx := context.Background()
	var recs []audit.Record
	for i := 0; i < n; i++ {
		r, err := s.AppendAudit(ctx, audit.Event{Time: time.Now(), Actor: audit.Staff(int64(i)), Action: "staff.login", Target: "staff:" + string(rune('0'+i)),
			Details: map[string]string{"method": "password"}})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	return recs
}

func auditRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := realMain(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// auditBackend is a database the test can tamper with behind the store's back.
type auditBackend struct {
	flags  []string
	exec   func(t *testing.T, q string)
	reopen func(t *testing.T) store.Store
}

func auditSQLite(t *testing.T) auditBackend {
	dir := t.TempDir()
	open := func(t *testing.T) store.Store {
		s, err := sqlite.OpenDir(context.Background(), dir, storetest.Options())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	return auditBackend{
		flags:  []string{"--data", dir},
		reopen: open,
		exec: func(t *testing.T, q string) {
			db, err := sql.Open("sqlite", filepath.Join(dir, sqlite.FileName))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		},
	}
}

func auditPostgres(t *testing.T) auditBackend {
	url := storetest.PostgresURL(t)
	return auditBackend{
		flags: []string{"--database-url", url},
		reopen: func(t *testing.T) store.Store {
			s, err := postgres.Open(context.Background(), url, storetest.Options())
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		exec: func(t *testing.T, q string) {
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			if _, err := conn.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		},
	}
}

func TestAuditVerify(t *testing.T) {
	for name, mk := range map[string]func(*testing.T) auditBackend{"sqlite": auditSQLite, "postgres": auditPostgres} {
		t.Run(name, func(t *testing.T) {
			tampers := []struct {
				name   string
				sql    string
				wantAt string
			}{
				{"edit", "UPDATE audit_events SET action = 'staff.logout' WHERE seq = 3", "record 3"},
				{"edit details", `UPDATE audit_events SET details = '{"method":"card"}' WHERE seq = 2`, "record 2"},
				{"delete", "DELETE FROM audit_events WHERE seq = 4", "record 5"},
				{"delete tail", "DELETE FROM audit_events WHERE seq = 6", "head row"},
				{"reorder", "UPDATE audit_events SET seq = CASE seq WHEN 2 THEN 102 WHEN 5 THEN 2 ELSE seq END WHERE seq IN (2, 5); UPDATE audit_events SET seq = 5 WHERE seq = 102", "record 2"},
			}
			for _, tc := range tampers {
				t.Run(tc.name, func(t *testing.T) {
					b := mk(t)
					s := b.reopen(t)
					recs := fillChain(t, s, 6)
					s.Close()

					code, out, errOut := auditRun(t, append([]string{"audit", "verify"}, b.flags...)...)
					if code != 0 || !strings.Contains(out, "audit chain intact: 6 records (1..6)") || !strings.Contains(out, "head: 6:"+recs[5].Hash.String()) {
						t.Fatalf("intact chain: exit %d\n%s%s", code, out, errOut)
					}
					anchor := "3:" + recs[2].Hash.String()
					if code, out, _ := auditRun(t, append([]string{"audit", "verify", "--anchor", anchor}, b.flags...)...); code != 0 {
						t.Errorf("good anchor: exit %d\n%s", code, out)
					}

					b.exec(t, tc.sql)
					code, out, errOut = auditRun(t, append([]string{"audit", "verify"}, b.flags...)...)
					if code != 1 || !strings.Contains(out, "AUDIT CHAIN BROKEN") || !strings.Contains(out, tc.wantAt) {
						t.Errorf("after %s: exit %d, want 1 and %q\n%s%s", tc.name, code, tc.wantAt, out, errOut)
					}
					code, out, _ = auditRun(t, append([]string{"audit", "verify", "--json"}, b.flags...)...)
					var v verifyOutput
					if err := json.Unmarshal([]byte(out), &v); err != nil || code != 1 || v.OK || v.Problem == "" {
						t.Errorf("--json after tampering: exit %d, %+v, %v", code, v, err)
					}
				})
			}
		})
	}
}

func TestAuditList(t *testing.T) {
	b := auditSQLite(t)
	s := b.reopen(t)
	fillChain(t, s, 5)
	s.Close()
	code, out, errOut := auditRun(t, "audit", "list", "--data", b.flags[1], "--after", "2", "--limit", "2")
	if code != 0 || strings.Count(out, "staff.login") != 2 || !strings.Contains(out, "     3  ") || !strings.Contains(out, "method=password") {
		t.Errorf("list: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = auditRun(t, "audit", "list", "--data", b.flags[1], "--json")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var r listRecord
	if code != 0 || len(lines) != 5 || json.Unmarshal([]byte(lines[4]), &r) != nil || r.Seq != 5 || r.Actor != "staff:4" {
		t.Errorf("list --json: exit %d, %d lines, %+v", code, len(lines), r)
	}
}

func TestAuditUsage(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"audit"}, 2, "usage"},
		{[]string{"audit", "frobnicate"}, 2, "unknown sub-command"},
		{[]string{"audit", "verify"}, 2, "--data"},
		{[]string{"audit", "verify", "--data", dir, "--database-url", "postgres://x"}, 2, "not both"},
		{[]string{"audit", "verify", "--database-url", "mysql://x"}, 2, "postgres://"},
		{[]string{"audit", "verify", "--data", dir, "--anchor", "x"}, 2, "SEQ:HASH"},
		{[]string{"audit", "verify", "--data", filepath.Join(dir, "nowhere")}, 1, "no database"},
		{[]string{"audit", "list", "--data", dir, "--limit", "0"}, 2, "--limit"},
	}
	for _, tc := range cases {
		code, out, errOut := auditRun(t, tc.args...)
		if code != tc.code || !strings.Contains(out+errOut, tc.want) {
			t.Errorf("%q: exit %d, want %d and %q\n%s%s", tc.args, code, tc.code, tc.want, out, errOut)
		}
	}
}

// TestAuditVerifyReconciles: "audit verify" replays the chain against the
// business tables: a busy database written through the store reconciles;
// a filing status set and a lockout row deleted in SQL are named, the
// chain itself still intact.
func TestAuditVerifyReconciles(t *testing.T) {
	for name, mk := range map[string]func(*testing.T) auditBackend{"sqlite": auditSQLite, "postgres": auditPostgres} {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			s := b.reopen(t)
			busy := storetest.PopulateBusy(t, s)
			s.Close()
			code, out, errOut := auditRun(t, append([]string{"audit", "verify"}, b.flags...)...)
			if code != 0 || !strings.Contains(out, "audit chain intact") || !strings.Contains(out, "business state reconciled") {
				t.Fatalf("untampered: exit %d\n%s%s", code, out, errOut)
			}
			b.exec(t, fmt.Sprintf("UPDATE filings SET status = 'accepted' WHERE id = %d", busy.FilingIDs[0]))
			b.exec(t, "DELETE FROM lockouts WHERE failures >= 2")
			code, out, errOut = auditRun(t, append([]string{"audit", "verify"}, b.flags...)...)
			if code != 1 || !strings.Contains(out, "audit chain intact") || !strings.Contains(out, "NOT EXPLAINED") ||
				!strings.Contains(out, fmt.Sprintf("filing %d: changed without an audited event: status is \"accepted\", the chain says \"need_info\"", busy.FilingIDs[0])) ||
				!strings.Contains(out, "the audited row is gone") {
				t.Errorf("tampered: exit %d\n%s%s", code, out, errOut)
			}
			code, out, _ = auditRun(t, append([]string{"audit", "verify", "--json"}, b.flags...)...)
			var v verifyOutput
			if err := json.Unmarshal([]byte(out), &v); err != nil || code != 1 || v.OK || v.Reconciled || len(v.Findings) != 2 {
				t.Errorf("--json tampered: exit %d, %+v, %v", code, v, err)
			}
		})
	}
}
