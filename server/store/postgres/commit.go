package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/qingshan-gov/veinkiosk/server/store/internal/sqlcore"
)

// Group commit.
//
// Every write transaction of the store appends to the audit chain, whose
// head row it locks last and holds until its COMMIT has flushed the WAL; so
// the write transactions of all callers pass the head one flush at a time,
// and PostgreSQL cannot merge the flushes of transactions that wait on
// each other's row lock. The committer runs the write transactions that
// are waiting when a stream starts a batch one after another inside one
// transaction, each in its own SAVEPOINT, and commits once: one flush for
// the batch.
//
//   - A function that fails is rolled back to its savepoint and gets its
//     own error; the others are not affected. A function that fails with a
//     serialization failure or deadlock is run again on its own, with the
//     usual retries, after the batch.
//   - Callers are answered only after the COMMIT; if it fails, every
//     function that had succeeded in the batch gets the error.
//   - Statements run with the caller's context values but not its
//     cancellation (a cancelled query would abort the shared transaction);
//     a caller whose context ended before its turn is skipped.
//
// One stream: batches run one at a time. A batch locks rows in the order
// of its functions, so an audit head locked by an early function is held
// while later ones lock their rows: two batches in flight at once deadlock
// (measured: 2 streams gave 45 deadlocks, each costing deadlock_timeout =
// 1 s, p99 1,031 ms in the load test; 1 stream gave none, p99 40 ms).
// Batches of SEVERAL server processes on one database can still deadlock
// the same way; PostgreSQL breaks the cycle after deadlock_timeout and the
// victim's functions are retried alone.

// groupStreams is the number of batches in flight; groupBatch the largest.
var (
	groupStreams = 1
	groupBatch   = 32
)

type committer struct {
	*sqlcore.GroupQueue
	pool   *pgxpool.Pool
	direct func(ctx context.Context, fn func(sqlcore.Q) error) error
}

func newCommitter(pool *pgxpool.Pool, direct func(context.Context, func(sqlcore.Q) error) error) *committer {
	c := &committer{pool: pool, direct: direct}
	c.GroupQueue = sqlcore.NewGroupQueue(groupStreams, groupBatch, c.run)
	return c
}

func (c *committer) do(ctx context.Context, fn func(sqlcore.Q) error) error {
	return c.Do(ctx, fn)
}

func (c *committer) close() { c.Close() }

var bg = context.Background()

func (c *committer) run(batch []*sqlcore.WriteReq) {
	errs := make([]error, len(batch))
	ran := make([]bool, len(batch))
	again := make([]bool, len(batch))
	finish := func() {
		for i, r := range batch {
			if again[i] {
				errs[i] = c.direct(r.Ctx, r.Fn)
			}
			r.Done <- errs[i]
		}
	}
	tx, err := c.pool.BeginTx(bg, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		err = mapErr(err)
		for i := range errs {
			errs[i] = err
		}
		finish()
		return
	}
	abort := func(err error) {
		tx.Rollback(bg)
		for i := range errs {
			if errs[i] == nil && !again[i] {
				errs[i] = err
			}
		}
		finish()
	}
	single := len(batch) == 1
	for i, r := range batch {
		if err := r.Ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		tq := q{c: tx, ctx: context.WithoutCancel(r.Ctx)}
		if single {
			err := callFn(r.Fn, tq)
			if err != nil {
				tx.Rollback(bg)
				if retryable(err) {
					again[i] = true
				} else {
					errs[i] = err
				}
				finish()
				return
			}
			ran[i] = true
			continue
		}
		if _, err := tx.Exec(bg, "SAVEPOINT gc"); err != nil {
			abort(fmt.Errorf("postgres: group commit savepoint: %w", mapErr(err)))
			return
		}
		if err := callFn(r.Fn, tq); err != nil {
			if _, rerr := tx.Exec(bg, "ROLLBACK TO SAVEPOINT gc"); rerr != nil {
				abort(fmt.Errorf("postgres: group commit rollback to savepoint: %w", mapErr(rerr)))
				return
			}
			if retryable(err) {
				again[i] = true
			} else {
				errs[i] = err
			}
		} else {
			ran[i] = true
		}
		if _, err := tx.Exec(bg, "RELEASE SAVEPOINT gc"); err != nil {
			// The function hid an error that aborted its subtransaction:
			// undo it alone, if the transaction lets us.
			_, rerr := tx.Exec(bg, "ROLLBACK TO SAVEPOINT gc")
			if rerr == nil {
				_, rerr = tx.Exec(bg, "RELEASE SAVEPOINT gc")
			}
			if rerr != nil {
				abort(fmt.Errorf("postgres: group commit release: %w", mapErr(err)))
				return
			}
			ran[i], errs[i] = false, mapErr(err)
		}
	}
	if err := tx.Commit(bg); err != nil {
		err = mapErr(err)
		if retryable(err) {
			for i := range ran {
				again[i] = again[i] || ran[i]
			}
		} else {
			err = fmt.Errorf("postgres: commit: %w", err)
			for i := range errs {
				if ran[i] {
					errs[i] = err
				}
			}
		}
	}
	finish()
}

func callFn(fn func(sqlcore.Q) error, tq sqlcore.Q) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("postgres: panic in a write transaction: %v", p)
		}
	}()
	return fn(tq)
}
