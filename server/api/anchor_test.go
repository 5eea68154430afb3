package api

import (
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
)

// TestAuditAnchorMetrics: a written anchor sets the last-anchor metrics and
// is checked by the admin audit verification; an anchor that cannot be
// written is counted and logged, and the server goes on serving.
func TestAuditAnchorMetrics(t *testing.T) {
	dir := t.TempDir()
	_, key, _ := ed25519.GenerateKey(nil)
	file := filepath.Join(dir, "anchors.jsonl")
	var an *audit.Anchorer
	e := newEnv(t, func(c *Config) {
		var err error
		if an, err = audit.NewAnchorer(c.Store, key, "replica-a", file, c.Now); err != nil {
			t.Fatal(err)
		}
		c.AuditAnchorer = an
	})
	ctx := context.Background()
	e.mustStaff("zhang", "station_staff", "", "QS-S01")
	e.srv.anchor(ctx)
	last, ok := an.Last()
	if !ok || last.Seq == 0 {
		t.Fatalf("no anchor written: %+v", last)
	}
	metric := func(name string) string {
		t.Helper()
		_, _, body := e.raw(httptestGet("/metrics"))
		for _, l := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(l, name+" ") {
				return strings.TrimPrefix(l, name+" ")
			}
		}
		t.Fatalf("metrics lack %s", name)
		return ""
	}
	if got := metric("veinkiosk_audit_anchor_last_seq"); got != itoa(last.Seq) {
		t.Errorf("last seq metric %s, anchor %d", got, last.Seq)
	}
	if got := metric("veinkiosk_audit_anchor_last_timestamp_seconds"); got == "0" {
		t.Error("last anchor time not set")
	}
	var av apiv1.AuditVerifyResult
	if err := e.admin.Do(ctx, "GET", apiv1.PathAdminAuditVerify, nil, &av); err != nil || !av.OK || av.Anchors != 1 || !strings.Contains(av.LastAnchor, "replica-a") {
		t.Fatalf("verify with one anchor: %+v %v", av, err)
	}

	// The anchor file's directory gone: the write fails, is counted, and
	// the server still answers.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	e.srv.anchor(ctx)
	if got := metric("veinkiosk_audit_anchor_failures_total"); got != "1" {
		t.Errorf("failures %s, want 1", got)
	}
	av = apiv1.AuditVerifyResult{}
	if err := e.admin.Do(ctx, "GET", apiv1.PathAdminAuditVerify, nil, &av); err != nil || !av.OK || av.Anchors != 0 {
		t.Fatalf("verify with the anchor file gone: %+v %v", av, err)
	}
}
