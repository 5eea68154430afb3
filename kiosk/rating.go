package kiosk

import (
	"context"
	"errors"

	"github.com/qingshan-gov/veinkiosk/kiosk/session"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
)

// Rater is implemented by servers that record the residents' ratings (好差评)
// of their answered filings and reports (ServerClient does). Without one
// the kiosk does not offer ratings.
type Rater interface {
	Rate(ctx context.Context, token, reference string, score int, reasons []string) error
}

// Rate implements Rater.
func (a *ServerClient) Rate(ctx context.Context, token, reference string, score int, reasons []string) error {
	err := a.C.Do(ctx, "POST", apiv1.PathKioskRatings, apiv1.RatingRequest{Token: token, Reference: reference, Score: score, Reasons: reasons}, nil)
	var ae *apiv1.Error
	if errors.As(err, &ae) && ae.Code == apiv1.CodeAlreadyRated {
		// Rated already (an earlier try whose answer was lost): recorded.
		return nil
	}
	return mapErr(err)
}

// rate runs a DoRate effect.
func (d *Daemon) rate(ctx context.Context, e session.DoRate) {
	d.spawn(ctx, d.serverTimeout(), func(c context.Context) session.Event {
		r, ok := d.server.(Rater)
		if !ok {
			return session.Rated{Gen: e.Gen, Reference: e.Reference, Score: e.Score, Reasons: e.Reasons, Err: session.ErrRejected}
		}
		err := d.timed("rate", func() error { return r.Rate(c, e.Token, e.Reference, e.Score, e.Reasons) })
		if err == nil {
			d.log.Info("rating recorded", "score", e.Score)
		}
		return session.Rated{Gen: e.Gen, Reference: e.Reference, Score: e.Score, Reasons: e.Reasons, Err: err}
	})
}

var _ Rater = (*ServerClient)(nil)
