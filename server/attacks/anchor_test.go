package attacks

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/api"
	"github.com/qingshan-gov/veinkiosk/server/audit"
)

// A dishonest DBA (threat 2, item 8) who edits a business row and then
// rewrites the audit chain from that point on, or truncates its tail: the
// chain has no key, so its hashes and head row can be recomputed and plain
// verification finds it intact. Anchors (signed checkpoints of the head,
// kept outside the database) catch it.

// anchorInterval is short so that the attacks need not wait long for the
// next anchor.
const anchorInterval = 100 * time.Millisecond

// anchored is a target that anchors its chain to a file.
type anchored struct {
	*target
	file string
	pub  ed25519.PublicKey
}

// withAnchors starts the target's server with an anchor key and file
// (what centrald's --audit-anchor-key and --audit-anchor-file give it).
func withAnchors(t *testing.T, file *string, pub *ed25519.PublicKey) func(*api.Config) {
	return func(c *api.Config) {
		dir := t.TempDir()
		keyPath := filepath.Join(dir, "anchor.key")
		p, err := audit.GenerateAnchorKey(keyPath)
		if err != nil {
			t.Fatal(err)
		}
		key, err := audit.LoadAnchorKey(keyPath)
		if err != nil {
			t.Fatal(err)
		}
		*file, *pub = filepath.Join(dir, "anchors.jsonl"), p
		c.AuditAnchorer, err = audit.NewAnchorer(c.Store, key, "centrald-1", *file, c.Now)
		if err != nil {
			t.Fatal(err)
		}
		c.AuditAnchorInterval = anchorInterval
	}
}

// forEachAnchored runs attack on a fresh anchored target per store.
func forEachAnchored(t *testing.T, attack func(t *testing.T, tg *anchored)) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b, func(t *testing.T) {
			a := &anchored{}
			a.target = start(t, b, withAnchors(t, &a.file, &a.pub))
			attack(t, a)
		})
	}
}

// read reads the anchor file as a verifier would (signatures and links).
func (tg *anchored) read() ([]audit.Anchor, error) {
	return audit.ReadAnchorFiles(tg.pub, tg.file)
}

// waitAnchored waits until an anchor covers the chain as it is now.
func (tg *anchored) waitAnchored() []audit.Anchor {
	tg.t.Helper()
	head, _, err := tg.st.AuditHead(tg.ctx())
	if err != nil {
		tg.t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		as, err := tg.read()
		if err != nil {
			tg.t.Fatalf("the honest anchor file: %v", err)
		}
		if n := len(as); n > 0 && as[n-1].Seq >= head {
			return as
		}
		if time.Now().After(deadline) {
			tg.t.Fatalf("no anchor of record %d after 30 s (%d anchors)", head, len(as))
		}
		time.Sleep(anchorInterval / 2)
	}
}

// waitLines waits until the anchor file has more than n complete lines.
func (tg *anchored) waitLines(n int) {
	tg.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(tg.file)
		if err != nil {
			tg.t.Fatal(err)
		}
		if bytes.Count(b, []byte("\n")) > n {
			return
		}
		if time.Now().After(deadline) {
			tg.t.Fatalf("the server wrote no anchor in 30 s")
		}
		time.Sleep(anchorInterval / 2)
	}
}

// plainVerify is what `veinctl audit verify` without anchors concludes:
// the chain's links and head, and the business tables reconciled with it.
func (tg *anchored) plainVerify() (chainOK bool, findings int) {
	tg.t.Helper()
	if _, err := audit.Verify(tg.ctx(), tg.st, audit.VerifyOptions{}); err != nil {
		return false, 0
	}
	rec, err := audit.Reconcile(tg.ctx(), tg.st, tg.st)
	if err != nil {
		tg.t.Fatal(err)
	}
	return true, len(rec.Findings)
}

// rewriteChain is the DBA's rewrite: change edits the event of record seq
// (its time kept), and every record from seq on gets its hashes
// recomputed, with the chain's published algorithm (audit.Chain), and
// written back, the head row too. The records are read as stored (what a
// SELECT of audit_events gives the DBA).
func (tg *target) rewriteChain(seq int64, change func(*audit.Event)) {
	tg.t.Helper()
	recs, err := tg.st.ListAudit(tg.ctx(), seq-2, 1<<20)
	if err != nil {
		tg.t.Fatal(err)
	}
	var prev audit.Hash
	if seq > 1 {
		prev, recs = recs[0].Hash, recs[1:]
	}
	for _, r := range recs {
		if r.Seq == seq {
			change(&r.Event)
		}
		r.PrevHash, r.Hash = prev, audit.Chain(prev, r.Seq, r.Event)
		details, err := json.Marshal(r.Details)
		if err != nil {
			tg.t.Fatal(err)
		}
		if n := tg.exec(`UPDATE audit_events SET actor_type = ?, actor_id = ?, action = ?, target = ?, details = ?, prev_hash = ?, hash = ? WHERE seq = ?`,
			string(r.Actor.Type), r.Actor.ID, r.Action, r.Target, string(details), r.PrevHash[:], r.Hash[:], r.Seq); n != 1 {
			tg.t.Fatalf("rewriting record %d: %d rows", r.Seq, n)
		}
		prev = r.Hash
	}
	tg.exec(`UPDATE audit_head SET hash = ? WHERE id = 1`, prev[:])
}

// acceptBehindTheBack is the DBA's whole attack on a filing: its status
// set to accepted in SQL, and the first record after its creation that no
// replay rule reads (a login, a nonce) rewritten into the transition that
// explains it, the chain recomputed from there. It returns the record
// rewritten.
func (tg *target) acceptBehindTheBack(filingID int64, after int64) int64 {
	tg.t.Helper()
	recs, err := tg.st.ListAudit(tg.ctx(), after, 1<<20)
	if err != nil {
		tg.t.Fatal(err)
	}
	target := fmt.Sprint("filing:", filingID)
	var seq int64
	created := false
	for _, r := range recs {
		if r.Action == "filing.create" && r.Target == target {
			created = true
			continue
		}
		if created && !replayed(r.Action) {
			seq = r.Seq
			break
		}
	}
	if seq == 0 {
		tg.t.Fatalf("no record to rewrite after %s's creation", target)
	}
	tg.exec(`UPDATE filings SET status = 'accepted' WHERE id = ?`, filingID)
	tg.rewriteChain(seq, func(e *audit.Event) {
		e.Actor, e.Action, e.Target = audit.Staff(1), "filing.transition", target
		e.Details = map[string]string{"from": "submitted", "to": "accepted", "reply_changed": "false"}
	})
	return seq
}

// replayed: actions audit.Reconcile replays (rewriting one of them would
// change some other row's expected state).
func replayed(action string) bool {
	for _, p := range []string{"filing.", "enrolment.", "verification.attempt", "lockout.", "staff.create", "staff.update", "kiosk.", "scanner."} {
		if strings.HasPrefix(action, p) {
			return true
		}
	}
	return false
}

// TestAttackAuditChainRewrite: a DBA accepts a filing in SQL and rewrites
// the chain from a record before the newest anchor so that it explains
// it; plain verification finds the chain intact and the tables explained
// (the attack works without anchors), the anchors catch it, naming the
// first anchor the chain contradicts.
func TestAttackAuditChainRewrite(t *testing.T) {
	forEachAnchored(t, func(t *testing.T, tg *anchored) {
		_, f := tg.activity()
		as := tg.waitAnchored()
		seq := tg.acceptBehindTheBack(f.ID, 0)
		if ok, findings := tg.plainVerify(); !ok || findings != 0 {
			t.Fatalf("the rewrite is not even self-consistent (chain ok %v, %d findings): the test does not attack what it should", ok, findings)
		}
		r := tg.auditVerify()
		if r.OK {
			t.Fatalf("ATTACK SUCCEEDED: a chain rewritten from record %d verifies against its anchors (%+v)", seq, r)
		}
		t.Logf("reported: %s", r.Error)
		// The first anchor at or after the rewritten record is named.
		var first audit.Anchor
		for _, a := range as {
			if a.Seq >= seq {
				first = a
				break
			}
		}
		if !strings.Contains(r.Error, "rewritten") || !strings.Contains(r.Error, first.Where+" ") {
			t.Errorf("the report does not name the first anchor contradicted (%s): %s", first.Where, r.Error)
		}
		// The verifier off the host (veinctl audit verify --anchors) too.
		_, err := audit.Verify(tg.ctx(), tg.st, audit.VerifyOptions{Signed: as})
		if err == nil {
			t.Fatal("ATTACK SUCCEEDED: the anchors read off the host do not catch the rewrite")
		}
	})
}

// TestAttackAuditTruncateTail: deleting the newest records and moving the
// head row back leaves a chain that verifies alone but is shorter than
// an anchor.
func TestAttackAuditTruncateTail(t *testing.T) {
	forEachAnchored(t, func(t *testing.T, tg *anchored) {
		tg.activity()
		tg.waitAnchored()
		head, _, err := tg.st.AuditHead(tg.ctx())
		if err != nil {
			t.Fatal(err)
		}
		keep := head - 3
		recs, err := tg.st.ListAudit(tg.ctx(), keep-1, 1)
		if err != nil {
			t.Fatal(err)
		}
		tg.exec(`DELETE FROM audit_events WHERE seq > ?`, keep)
		tg.exec(`UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`, keep, recs[0].Hash[:])
		if ok, _ := tg.plainVerify(); !ok {
			t.Fatal("the truncated chain does not verify alone: the test does not attack what it should")
		}
		if r := tg.auditVerify(); r.OK || !strings.Contains(r.Error, "truncated") {
			t.Fatalf("ATTACK SUCCEEDED: a chain cut from %d to %d records is not reported truncated (%+v)", head, keep, r)
		}
	})
}

// TestAttackForgedAnchor: an anchor line signed by another key, or an
// honest line edited, is refused (the file is not believed).
func TestAttackForgedAnchor(t *testing.T) {
	forEachAnchored(t, func(t *testing.T, tg *anchored) {
		tg.activity()
		as := tg.waitAnchored()
		_, other, _ := ed25519.GenerateKey(nil)
		forged := as[len(as)-1]
		forged.Seq, forged.Records, forged.Hash = forged.Seq+1000, forged.Seq+1000, audit.Hash{1}
		forged.Prev = as[len(as)-1].Digest()
		if err := forged.Sign(other); err != nil {
			t.Fatal(err)
		}
		line, err := forged.MarshalLine()
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(tg.file, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(append(line, '\n')); err != nil {
			t.Fatal(err)
		}
		f.Close()
		r := tg.auditVerify()
		if r.OK || !strings.Contains(r.Error, "signature does not verify") {
			t.Fatalf("ATTACK SUCCEEDED: a forged anchor line is not refused (%+v)", r)
		}
	})
}

// TestAttackOldAnchorFileReplayed: the DBA, with write access to the
// anchor file on the host, puts back an old copy of it and rewrites the
// chain after the copy's last anchor. The copy's anchors alone cannot
// see such a rewrite (nothing after an anchor is pinned by it); the
// server's next anchor does not follow the copy's last line, and the
// verification says so.
func TestAttackOldAnchorFileReplayed(t *testing.T) {
	forEachAnchored(t, func(t *testing.T, tg *anchored) {
		s, _ := tg.activity()
		tg.waitAnchored()
		old, err := os.ReadFile(tg.file)
		if err != nil {
			t.Fatal(err)
		}
		oldHead, _, err := tg.st.AuditHead(tg.ctx())
		if err != nil {
			t.Fatal(err)
		}
		tg.clock.Add(30 * time.Minute) // past the lockout and kiosk backoff activity left
		f2 := tg.filing(s, s.p, "temporary_assistance", map[string]string{"emergency": "重大疾病", "amount": "500", "description": "药费", "phone": "13912345678"})
		tg.admin = tg.login("admin") // a record no replay rule reads, after the filing (and a session the clock did not expire)
		tg.waitAnchored()
		seq := tg.acceptBehindTheBack(f2.ID, oldHead)
		if seq <= oldHead {
			t.Fatalf("rewrote record %d, not after the old copy's last anchor (%d)", seq, oldHead)
		}
		if err := os.WriteFile(tg.file, old, 0o644); err != nil {
			t.Fatal(err)
		}
		if ok, findings := tg.plainVerify(); !ok || findings != 0 {
			t.Fatalf("the rewrite is not self-consistent (chain ok %v, %d findings)", ok, findings)
		}
		// Honest limit: the old copy's anchors all hold on the rewritten
		// chain (they pin only what came before them).
		oldAnchors, err := audit.ReadAnchors(bytes.NewReader(old), "old", tg.pub)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := audit.Verify(tg.ctx(), tg.st, audit.VerifyOptions{Signed: oldAnchors}); err != nil {
			t.Fatalf("the old copy's anchors were not expected to see a rewrite after them: %v", err)
		}
		tg.waitLines(bytes.Count(old, []byte("\n")))
		r := tg.auditVerify()
		if r.OK || !strings.Contains(r.Error, "does not follow") {
			t.Fatalf("ATTACK SUCCEEDED: an old anchor file put back hides a rewrite after it (%+v)", r)
		}
	})
}
