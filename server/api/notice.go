package api

import (
	"context"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/store"
)

// The kiosk's notice of new replies (docs/kiosk.md "New replies"; issue 14).
//
// The rule, in this one place: a resident's filing or report has a new reply
// when it was answered (a filing decided or sent back for more information, a report replied to, or closed
// without a reply) after the last time the kiosk showed the resident their
// filings ("my filings", POST /api/v1/kiosk/status), or at any time when it
// never did. The verification answer counts them (VerifyResponse.NewReplies,
// the menu's notice); the status marks them (New) and only then moves the
// resident's seen time on, to the moment before it read the list. So a
// resident who sees the notice but walks away without opening "my filings"
// gets it again at the next visit, and a reply given while the list was
// being read is new next time.

// repliesSeen is when the kiosk last showed a resident their filings.
type repliesSeen struct {
	at   time.Time
	ever bool
}

// isNew reports whether an item answered at answered (nil: not yet) is a
// new reply.
func (r repliesSeen) isNew(answered *time.Time) bool {
	return answered != nil && (!r.ever || answered.After(r.at))
}

// filingAnswered is when a filing was answered: its decision (closed), or
// the officer's request for more information (need_info, when it was last
// changed; the reply says what to bring).
func filingAnswered(f store.Filing) *time.Time {
	if f.ClosedAt != nil {
		return f.ClosedAt
	}
	if f.Status == store.FilingNeedInfo {
		return &f.UpdatedAt
	}
	return nil
}

// reportAnswered is when a report was answered: its reply, else its close.
func reportAnswered(replied, closed *time.Time) *time.Time {
	if replied != nil {
		return replied
	}
	return closed
}

func (s *Server) repliesSeen(ctx context.Context, residentID int64) (repliesSeen, error) {
	at, ok, err := s.st.RepliesSeen(ctx, residentID)
	if err != nil {
		return repliesSeen{}, storeErr(err, "replies seen")
	}
	return repliesSeen{at: at, ever: ok}, nil
}

// newRepliesOrNone is newReplies for the verification's answer: the notice
// is a courtesy, so a failure to count leaves it out (logged, without
// personal data) rather than failing a verification already recorded; the
// seen time did not move, so "my filings" still marks the new items.
func (s *Server) newRepliesOrNone(ctx context.Context, res store.Resident) int {
	n, err := s.newReplies(ctx, res)
	if err != nil {
		s.log.Warn("new replies not counted", "err", err)
		return 0
	}
	return n
}

// newReplies counts the resident's filings and reports with a new reply.
func (s *Server) newReplies(ctx context.Context, res store.Resident) (int, error) {
	seen, err := s.repliesSeen(ctx, res.ID)
	if err != nil {
		return 0, err
	}
	fs, err := s.st.ListFilings(ctx, store.FilingFilter{IDNumber: res.IDNumber, Limit: 100})
	if err != nil {
		return 0, storeErr(err, "filings")
	}
	n := 0
	for _, f := range fs {
		if seen.isNew(filingAnswered(f)) {
			n++
		}
	}
	ps, err := s.st.ListReports(ctx, store.ReportFilter{IDNumber: res.IDNumber, Limit: 100})
	if err != nil {
		return 0, storeErr(err, "reports")
	}
	for _, p := range ps {
		if seen.isNew(reportAnswered(p.RepliedAt, p.ClosedAt)) {
			n++
		}
	}
	return n, nil
}
