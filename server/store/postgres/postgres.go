// Package postgres is the production backend of store.Store: PostgreSQL
// through pgx v5 and pgxpool.
//
// Transactions that write run at READ COMMITTED and lock the rows they change
// (SELECT ... FOR UPDATE, INSERT ... ON CONFLICT); the audit chain's head row
// is locked last in every transaction, which serialises audit appends
// without deadlocks. Write transactions are group-committed (commit.go):
// the ones waiting when a batch starts share one transaction, each in its
// own savepoint, and one WAL flush. Read-only transactions run at
// REPEATABLE READ for a consistent snapshot. Serialization failures and
// deadlocks are retried.
//
// Migrations run at Open inside one transaction holding an advisory lock
// keyed by the schema, so several processes can start at once.
//
// The connection string is a libpq URL or key=value string; to use a schema
// other than public, add search_path (e.g. "...?search_path=veinkiosk").
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/qingshan-gov/veinkiosk/server/store"
	"github.com/qingshan-gov/veinkiosk/server/store/internal/sqlcore"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Open connects to the database at url and brings its schema up to date.
func Open(ctx context.Context, url string, opts store.Options) (store.Store, error) {
	db, err := connect(ctx, url)
	if err != nil {
		return nil, err
	}
	s, err := sqlcore.Open(ctx, db, migrationFS, migrateConfig, opts)
	if err != nil {
		return nil, err // not a nil *sqlcore.Store in a non-nil store.Store
	}
	return s, nil
}

// Migrate brings the schema of the database at url up to date and returns
// the versions applied.
func Migrate(ctx context.Context, url string) ([]int, error) {
	db, err := connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return sqlcore.MigrateFS(ctx, db, migrationFS, migrateConfig)
}

var migrateConfig = sqlcore.MigrateConfig{
	// One lock per schema: parallel test schemas do not wait for each other.
	Lock: `SELECT pg_advisory_xact_lock(7412, hashtext(current_schema()))`,
	CreateTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)`,
}

func connect(ctx context.Context, url string) (*database, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	// pgxpool's default of max(4, NumCPU) connections is too few for a
	// server whose requests each wait for a commit's WAL flush: with more
	// transactions in flight, PostgreSQL flushes the WAL of several commits
	// at once. Sixteen stays far below max_connections=100 for a few
	// server processes. pool_max_conns in the URL overrides it.
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = max(cfg.MaxConns, DefaultMaxConns)
	}
	// Prepared statements: pgx's default QueryExecModeCacheStatement
	// prepares each distinct query once per connection and keeps up to 512
	// (statement_cache_capacity in the URL).
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "veinkiosk"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connecting to %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	d := &database{pool: pool}
	d.gc = newCommitter(pool, d.txRetry)
	return d, nil
}

// database adapts a pgxpool to sqlcore.DB. Write transactions go through
// the group committer (commit.go).
type database struct {
	pool *pgxpool.Pool
	gc   *committer
}

var dialect = sqlcore.Dialect{
	Name:      "postgres",
	ForUpdate: " FOR UPDATE",
	// One dedup lock per schema, as the migrations' (7412): every replica
	// of a deployment takes the same; parallel test schemas do not wait for
	// each other.
	DedupLock: `SELECT pg_advisory_xact_lock(7413, hashtext(current_schema()))`,
	Time:      func(t time.Time) any { return t },
	Date: func(t time.Time) any {
		return pgtypeDate(t)
	},
}

func (d *database) Dialect() sqlcore.Dialect { return dialect }

func (d *database) Close() error {
	d.gc.close()
	d.pool.Close()
	return nil
}

func (d *database) Q() sqlcore.Q { return q{c: d.pool} }

// DefaultMaxConns is the connection pool size unless the URL sets
// pool_max_conns.
const DefaultMaxConns = 16

// maxAttempts bounds retries of a transaction after a serialization failure
// or deadlock.
const maxAttempts = 5

func (d *database) Tx(ctx context.Context, mode sqlcore.TxMode, fn func(sqlcore.Q) error) error {
	if mode == sqlcore.WriteTx {
		return d.gc.do(ctx, fn)
	}
	return d.retry(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

// txRetry runs fn in a write transaction of its own, with retries.
func (d *database) txRetry(ctx context.Context, fn func(sqlcore.Q) error) error {
	return d.retry(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, fn)
}

func (d *database) retry(ctx context.Context, opts pgx.TxOptions, fn func(sqlcore.Q) error) error {
	var err error
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		err = d.try(ctx, opts, fn)
		if !retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt*attempt) * 5 * time.Millisecond):
		}
	}
	return err
}

func (d *database) try(ctx context.Context, opts pgx.TxOptions, fn func(sqlcore.Q) error) (err error) {
	tx, err := d.pool.BeginTx(ctx, opts)
	if err != nil {
		return mapErr(err)
	}
	defer func() {
		if err != nil {
			// Rollback with a fresh context: ctx may be what failed.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			tx.Rollback(rctx)
			cancel()
		}
	}()
	if err = fn(q{c: tx}); err != nil {
		return err
	}
	return mapErr(tx.Commit(ctx))
}

func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// q runs statements; ctx, when set, replaces the context the caller passes
// (the group committer runs a caller's statements without its
// cancellation).
type q struct {
	c   querier
	ctx context.Context
}

func (q q) context(ctx context.Context) context.Context {
	if q.ctx != nil {
		return q.ctx
	}
	return ctx
}

func (q q) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := q.c.Exec(q.context(ctx), sql, args...)
	if err != nil {
		return 0, mapErr(err)
	}
	return tag.RowsAffected(), nil
}

func (q q) Query(ctx context.Context, sql string, args ...any) (sqlcore.Rows, error) {
	rows, err := q.c.Query(q.context(ctx), sql, args...)
	if err != nil {
		return nil, mapErr(err)
	}
	return pgRows{rows}, nil
}

func (q q) QueryRow(ctx context.Context, sql string, args ...any) sqlcore.Row {
	return pgRow{q.c.QueryRow(q.context(ctx), sql, args...)}
}

type pgRow struct{ r pgx.Row }

func (r pgRow) Scan(dest ...any) error { return mapErr(r.r.Scan(dest...)) }

type pgRows struct{ r pgx.Rows }

func (r pgRows) Next() bool             { return r.r.Next() }
func (r pgRows) Scan(dest ...any) error { return mapErr(r.r.Scan(dest...)) }
func (r pgRows) Err() error             { return mapErr(r.r.Err()) }
func (r pgRows) Close()                 { r.r.Close() }

// mapErr translates driver errors to the store's sentinels.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return sqlcore.ErrNoRows
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505":
			return fmt.Errorf("%w: %w", store.ErrAlreadyExists, err)
		case pe.Code == "23503":
			return fmt.Errorf("%w: a referenced record does not exist: %w", store.ErrNotFound, err)
		case pe.Code == "23514" || pe.Code == "23502" || pe.Code[:2] == "22":
			return fmt.Errorf("%w: %w", store.ErrInvalid, err)
		}
	}
	if err.Error() == "closed pool" {
		return fmt.Errorf("%w: %w", store.ErrClosed, err)
	}
	return err
}

// pgtypeDate passes a calendar date; pgx encodes a time.Time at midnight UTC
// into a DATE column as that day.
func pgtypeDate(t time.Time) any {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
