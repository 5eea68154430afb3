package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qingshan-gov/veinkiosk/server/audit"
)

// hexLit is a bytea/blob literal in each dialect.
var hexLit = map[string]func(audit.Hash) string{
	"sqlite":   func(h audit.Hash) string { return "X'" + h.String() + "'" },
	"postgres": func(h audit.Hash) string { return `'\x` + h.String() + `'::bytea` },
}

// anchorChain fills a chain of 6 records and anchors it at records 3 and
// 6 as centrald would, with a key made by "veinctl audit anchor-key".
func anchorChain(t *testing.T, b auditBackend) (recs []audit.Record, file, pubFile string) {
	t.Helper()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "anchor.key")
	if code, out, errOut := auditRun(t, "audit", "anchor-key", "--out", keyFile); code != 0 || !strings.Contains(out, keyFile+".pub") {
		t.Fatalf("anchor-key: exit %d\n%s%s", code, out, errOut)
	}
	key, err := audit.LoadAnchorKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	file = filepath.Join(dir, "anchors.jsonl")
	s := b.reopen(t)
	defer s.Close()
	an, err := audit.NewAnchorer(s, key, "centrald-1", file, nil)
	if err != nil {
		t.Fatal(err)
	}
	anchorAt := func(rs []audit.Record) {
		recs = append(recs, rs...)
		if _, err := an.Anchor(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	anchorAt(fillChain(t, s, 3))
	anchorAt(fillChain(t, s, 3))
	return recs, file, keyFile + ".pub"
}

// rewriteSQL is the DBA's rewrite of records from..len(recs) as SQL: the
// record from gets other details, every hash from there on and the head
// are recomputed (the chain has no key).
func rewriteSQL(recs []audit.Record, from int64, lit func(audit.Hash) string) string {
	var q []string
	prev := recs[from-2].Hash
	for _, r := range recs[from-1:] {
		if r.Seq == from {
			r.Details = map[string]string{"method": "card"}
			q = append(q, fmt.Sprintf(`UPDATE audit_events SET details = '{"method":"card"}' WHERE seq = %d`, r.Seq))
		}
		r.PrevHash, r.Hash = prev, audit.Chain(prev, r.Seq, r.Event)
		q = append(q, fmt.Sprintf(`UPDATE audit_events SET prev_hash = %s, hash = %s WHERE seq = %d`, lit(r.PrevHash), lit(r.Hash), r.Seq))
		prev = r.Hash
	}
	q = append(q, fmt.Sprintf(`UPDATE audit_head SET hash = %s WHERE id = 1`, lit(prev)))
	return strings.Join(q, "; ")
}

// TestAuditVerifyAnchors: "audit verify --anchors --anchor-key" passes an
// honest chain, and reports a chain rewritten (hashes and head
// recomputed, so plain verify passes) or truncated, naming the first
// anchor contradicted, and a forged anchor line or a stale file.
func TestAuditVerifyAnchors(t *testing.T) {
	for name, mk := range map[string]func(*testing.T) auditBackend{"sqlite": auditSQLite, "postgres": auditPostgres} {
		t.Run(name, func(t *testing.T) {
			lit := hexLit[name]
			attacks := []struct {
				name string
				sql  func(recs []audit.Record) string
				want []string
			}{
				{"rewrite from record 2", func(recs []audit.Record) string { return rewriteSQL(recs, 2, lit) },
					[]string{"AUDIT CHAIN BROKEN", "record 3", "anchors.jsonl:1 ", "rewritten"}},
				{"rewrite from record 5", func(recs []audit.Record) string { return rewriteSQL(recs, 5, lit) },
					[]string{"record 6", "anchors.jsonl:2 ", "rewritten"}},
				{"truncate to 4", func(recs []audit.Record) string {
					return fmt.Sprintf("DELETE FROM audit_events WHERE seq > 4; UPDATE audit_head SET seq = 4, hash = %s WHERE id = 1", lit(recs[3].Hash))
				}, []string{"record 5", "anchors.jsonl:2 ", "truncated"}},
			}
			for _, a := range attacks {
				t.Run(a.name, func(t *testing.T) {
					b := mk(t)
					recs, file, pub := anchorChain(t, b)
					withAnchors := append([]string{"audit", "verify", "--anchors", file, "--anchor-key", pub}, b.flags...)
					if code, out, errOut := auditRun(t, withAnchors...); code != 0 || !strings.Contains(out, "anchors: 2 hold") {
						t.Fatalf("honest chain: exit %d\n%s%s", code, out, errOut)
					}
					for _, q := range strings.Split(a.sql(recs), "; ") {
						b.exec(t, q)
					}
					// Without anchors the attack works: the chain verifies.
					if code, out, errOut := auditRun(t, append([]string{"audit", "verify"}, b.flags...)...); code != 0 || !strings.Contains(out, "audit chain intact") {
						t.Fatalf("plain verify after the attack (it should pass: the attack is not what it should be): exit %d\n%s%s", code, out, errOut)
					}
					code, out, errOut := auditRun(t, withAnchors...)
					if code != 1 {
						t.Fatalf("ATTACK SUCCEEDED: exit %d\n%s%s", code, out, errOut)
					}
					for _, w := range a.want {
						if !strings.Contains(out, w) {
							t.Errorf("report lacks %q:\n%s", w, out)
						}
					}
					code, out, _ = auditRun(t, append(withAnchors, "--json")...)
					var v verifyOutput
					if err := json.Unmarshal([]byte(out), &v); err != nil || code != 1 || v.OK || v.BrokenAt == 0 || v.Anchors != 2 {
						t.Errorf("--json: exit %d, %+v, %v", code, v, err)
					}
				})
			}
			t.Run("forged line and stale file", func(t *testing.T) {
				b := mk(t)
				_, file, pub := anchorChain(t, b)
				withAnchors := append([]string{"audit", "verify", "--anchors", file, "--anchor-key", pub}, b.flags...)
				if code, out, _ := auditRun(t, append(withAnchors, "--max-anchor-age", "1ns")...); code != 1 || !strings.Contains(out, "stale") {
					t.Errorf("--max-anchor-age 1ns: exit %d\n%s", code, out)
				}
				if code, out, _ := auditRun(t, append(withAnchors, "--max-anchor-age", "1h")...); code != 0 {
					t.Errorf("--max-anchor-age 1h: exit %d\n%s", code, out)
				}
				lines, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				forged := strings.Replace(strings.SplitAfter(string(lines), "\n")[1], `"seq":6`, `"seq":60`, 1)
				if err := os.WriteFile(file, append(lines, forged...), 0o644); err != nil {
					t.Fatal(err)
				}
				if code, out, _ := auditRun(t, withAnchors...); code != 1 || !strings.Contains(out, "AUDIT ANCHORS REFUSED") || !strings.Contains(out, "anchors.jsonl:3: signature does not verify") {
					t.Errorf("forged line: exit %d\n%s", code, out)
				}
			})
		})
	}
}

func TestAuditAnchorUsage(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"audit", "verify", "--data", dir, "--anchors", "f"}, 2, "--anchors and --anchor-key go together"},
		{[]string{"audit", "verify", "--data", dir, "--anchor-key", "k"}, 2, "--anchors and --anchor-key go together"},
		{[]string{"audit", "verify", "--data", dir, "--max-anchor-age", "1h"}, 2, "--max-anchor-age needs --anchors"},
		{[]string{"audit", "anchor-key"}, 2, "--out"},
	}
	for _, tc := range cases {
		code, out, errOut := auditRun(t, tc.args...)
		if code != tc.code || !strings.Contains(out+errOut, tc.want) {
			t.Errorf("%q: exit %d, want %d and %q\n%s%s", tc.args, code, tc.code, tc.want, out, errOut)
		}
	}
	key := filepath.Join(dir, "k")
	if code, _, _ := auditRun(t, "audit", "anchor-key", "--out", key); code != 0 {
		t.Fatal("anchor-key")
	}
	if code, _, errOut := auditRun(t, "audit", "anchor-key", "--out", key); code != 1 || !strings.Contains(errOut, "exists") {
		t.Errorf("anchor-key over an existing key: exit %d %s", code, errOut)
	}
}
