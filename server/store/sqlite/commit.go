package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"github.com/qingshan-gov/veinkiosk/server/store/internal/sqlcore"
)

// Group commit.
//
// SQLite has one writer, and with synchronous=FULL every COMMIT waits for
// an fsync of the WAL. Running each write transaction on its own caps the
// store at one fsync per transaction. The committer is a goroutine that
// owns the writer connection: callers hand it their transaction functions,
// and it runs every function that is waiting when it starts a batch inside
// ONE SQLite transaction, each in its own SAVEPOINT, then commits once.
//
//   - A function that fails is rolled back to its savepoint and gets its
//     own error; the others of the batch are not affected.
//   - Every caller is answered only after the COMMIT returned (the WAL was
//     fsynced), so an acknowledged write is as durable as before; if the
//     COMMIT fails, every function of the batch that had succeeded gets
//     the commit error (nothing of the batch was stored).
//   - Functions run one after another in arrival order, so the batch is a
//     serial schedule, as with one transaction at a time.
//   - A lone request runs without savepoints (BEGIN IMMEDIATE ... COMMIT).
//
// The functions' statements run with the caller's context values but not
// its cancellation: interrupting a statement in the middle of a shared
// transaction could roll back the whole batch. A caller whose context is
// done before its turn is skipped and gets the context's error.

// maxBatch bounds the functions of one batch (and so the time the writer
// lock is held and the latency added to the first of the batch).
var maxBatch = 64

type committer struct {
	*sqlcore.GroupQueue
	conn  *sql.Conn
	stmts stmtCache

	// batches and txns count commits and the functions committed, for
	// tests and benchmarks.
	statsMu        sync.Mutex
	batches, txns  int64
	largestBatches int
}

func newCommitter(w *sql.DB) (*committer, error) {
	conn, err := w.Conn(context.Background())
	if err != nil {
		return nil, err
	}
	c := &committer{conn: conn}
	c.GroupQueue = sqlcore.NewGroupQueue(1, maxBatch, c.run)
	return c, nil
}

// do runs fn in a write transaction (possibly shared with others, each in
// its own savepoint) and returns fn's error or the commit's.
func (c *committer) do(ctx context.Context, fn func(sqlcore.Q) error) error {
	return c.Do(ctx, fn)
}

func (c *committer) close() error {
	if !c.Close() {
		return nil
	}
	c.stmts.close()
	return c.conn.Close()
}

// bg is the context of the transaction control statements.
var bg = context.Background()

func (c *committer) exec(q string) error {
	_, err := c.conn.ExecContext(bg, q)
	return err
}

// run executes one batch in one transaction.
func (c *committer) run(batch []*sqlcore.WriteReq) {
	errs := make([]error, len(batch))
	ran := make([]bool, len(batch))
	finish := func() {
		for i, r := range batch {
			r.Done <- errs[i]
		}
	}
	if err := c.exec("BEGIN IMMEDIATE"); err != nil {
		err = mapErr(err)
		for i := range errs {
			errs[i] = err
		}
		finish()
		return
	}
	abort := func(err error) {
		c.exec("ROLLBACK")
		for i := range errs {
			if errs[i] == nil {
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
		q := writeQ{c: c, ctx: context.WithoutCancel(r.Ctx)}
		if single {
			if errs[i] = callFn(r.Fn, q); errs[i] != nil {
				c.exec("ROLLBACK")
				finish()
				return
			}
			ran[i] = true
			continue
		}
		if err := c.exec("SAVEPOINT gc"); err != nil {
			abort(fmt.Errorf("sqlite: group commit savepoint: %w", mapErr(err)))
			return
		}
		if errs[i] = callFn(r.Fn, q); errs[i] != nil {
			if err := c.exec("ROLLBACK TO gc"); err != nil {
				abort(fmt.Errorf("sqlite: group commit rollback to savepoint: %w", mapErr(err)))
				return
			}
		} else {
			ran[i] = true
		}
		if err := c.exec("RELEASE gc"); err != nil {
			abort(fmt.Errorf("sqlite: group commit release: %w", mapErr(err)))
			return
		}
	}
	if err := c.exec("COMMIT"); err != nil {
		err = fmt.Errorf("sqlite: commit: %w", mapErr(err))
		c.exec("ROLLBACK") // in case the transaction is still open
		for i := range errs {
			if ran[i] {
				errs[i] = err
			}
		}
		finish()
		return
	}
	n := 0
	for _, ok := range ran {
		if ok {
			n++
		}
	}
	c.statsMu.Lock()
	c.batches++
	c.txns += int64(n)
	c.largestBatches = max(c.largestBatches, len(batch))
	c.statsMu.Unlock()
	finish()
}

// callFn runs fn, turning a panic into an error so one bad function
// cannot take the committer (and every other caller) down.
func callFn(fn func(sqlcore.Q) error, q sqlcore.Q) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sqlite: panic in a write transaction: %v", p)
		}
	}()
	return fn(q)
}

// stats returns the number of commits and of functions committed.
func (c *committer) stats() (batches, txns int64) {
	c.statsMu.Lock()
	defer c.statsMu.Unlock()
	return c.batches, c.txns
}

// writeQ runs statements on the writer connection inside the current
// batch, through prepared statements cached per query.
type writeQ struct {
	c   *committer
	ctx context.Context
}

func (w writeQ) stmt(q string) (*sql.Stmt, error) {
	return w.c.stmts.get(q, func(q string) (*sql.Stmt, error) { return w.c.conn.PrepareContext(bg, q) })
}

func (w writeQ) Exec(_ context.Context, q string, args ...any) (int64, error) {
	q = rewrite(q)
	st, err := w.stmt(q)
	if err != nil {
		return 0, mapErr(err)
	}
	if st != nil {
		return result(st.ExecContext(w.ctx, args...))
	}
	return result(w.c.conn.ExecContext(w.ctx, q, args...))
}

func (w writeQ) Query(_ context.Context, q string, args ...any) (sqlcore.Rows, error) {
	q = rewrite(q)
	st, err := w.stmt(q)
	if err != nil {
		return nil, mapErr(err)
	}
	if st != nil {
		return rowsOf(st.QueryContext(w.ctx, args...))
	}
	return rowsOf(w.c.conn.QueryContext(w.ctx, q, args...))
}

func (w writeQ) QueryRow(_ context.Context, q string, args ...any) sqlcore.Row {
	q = rewrite(q)
	st, err := w.stmt(q)
	if err != nil {
		return errRow{mapErr(err)}
	}
	if st != nil {
		return sqlRow{st.QueryRowContext(w.ctx, args...)}
	}
	return sqlRow{w.c.conn.QueryRowContext(w.ctx, q, args...)}
}
