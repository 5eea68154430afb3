package sqlcore

import (
	"context"
	"errors"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/store"
)

// Listener is implemented by a DB that can tell when changes are
// committed (PostgreSQL: LISTEN/NOTIFY).
type Listener interface {
	ListenChanges(ctx context.Context, poke func()) error
}

// logChange appends a change in the caller's transaction.
func (s *Store) logChange(ctx context.Context, q Q, kind store.ChangeKind, subject string, at time.Time) error {
	_, err := q.Exec(ctx, `INSERT INTO changes (kind, subject, created_at) VALUES ($1, $2, $3)`, string(kind), subject, s.t(at))
	return err
}

// ChangesAfter implements store.ChangeLog.
func (s *Store) ChangesAfter(ctx context.Context, after int64, limit int) ([]store.Change, error) {
	if limit <= 0 {
		limit = 1000
	}
	q, err := s.q()
	if err != nil {
		return nil, err
	}
	return queryAll(ctx, q, func(r Rows) (store.Change, error) {
		var c store.Change
		var kind string
		err := r.Scan(&c.Seq, &kind, &c.Subject, tm{&c.At})
		c.Kind = store.ChangeKind(kind)
		return c, err
	}, `SELECT seq, kind, subject, created_at FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2`, after, limit)
}

// LastChange implements store.ChangeLog.
func (s *Store) LastChange(ctx context.Context) (int64, error) {
	q, err := s.q()
	if err != nil {
		return 0, err
	}
	var seq int64
	err = q.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM changes`).Scan(&seq)
	return seq, err
}

// ListenChanges implements store.ChangeLog.
func (s *Store) ListenChanges(ctx context.Context, poke func()) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	l, ok := s.db.(Listener)
	if !ok {
		return errors.ErrUnsupported
	}
	return l.ListenChanges(ctx, poke)
}

// purgeChanges deletes change-log rows older than store.ChangeRetention.
func (s *Store) purgeChanges(ctx context.Context, q Q, now time.Time) (int64, error) {
	return q.Exec(ctx, `DELETE FROM changes WHERE created_at < $1`, s.t(now.Add(-store.ChangeRetention)))
}
