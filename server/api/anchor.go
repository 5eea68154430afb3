package api

import (
	"context"
	"errors"
	"os"

	"github.com/qingshan-gov/veinkiosk/server/audit"
)

// anchor writes one audit anchor (audit.Anchorer). A failure is logged and
// counted (veinkiosk_audit_anchor_failures_total) and the service goes on:
// refusing residents because a file outside the database cannot be
// written would turn a full disk into an outage, and the anchors missing
// show on the dashboard (audit_anchor_last_timestamp_seconds stops
// moving) and to the verifier (CheckAnchorAge).
func (s *Server) anchor(ctx context.Context) {
	a, err := s.cfg.AuditAnchorer.Anchor(ctx)
	if err != nil {
		s.metrics.anchorFailures.Inc()
		s.log.Error("audit anchor not written", "file", s.cfg.AuditAnchorer.Path(), "err", err)
		return
	}
	s.metrics.anchorTime.Set(float64(a.Time.UnixMicro()) / 1e6)
	s.metrics.anchorSeq.Set(float64(a.Seq))
	s.log.Debug("audit anchor written", "seq", a.Seq, "hash", a.Hash.String())
}

// anchors reads this server's anchor file for the admin verification:
// none without an anchorer or before the first anchor is written.
func (s *Server) anchors() ([]audit.Anchor, error) {
	an := s.cfg.AuditAnchorer
	if an == nil {
		return nil, nil
	}
	as, err := audit.ReadAnchorFiles(an.PublicKey(), an.Path())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return as, err
}
