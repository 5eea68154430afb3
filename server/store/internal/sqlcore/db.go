// Package sqlcore implements store.Store once, over a small database
// abstraction that the PostgreSQL (pgx) and SQLite (database/sql) backends
// provide, as dex's storage/sql does with its flavors. The backends own
// connecting, pragmas, locking and their migration files; this package owns
// every query and every transaction boundary, so both behave the same and
// the conformance suite checks one set of semantics twice.
//
// Queries are written in PostgreSQL's placeholder style ($1, $2, ...); the
// SQLite backend rewrites them to ?1, ?2, which SQLite reads the same way.
package sqlcore

import (
	"context"
	"errors"
	"time"
)

// ErrNoRows is returned by Row.Scan when the query matched nothing.
var ErrNoRows = errors.New("sqlcore: no rows")

// Q runs queries, in or out of a transaction. Implementations translate
// driver errors: unique violations wrap store.ErrAlreadyExists, foreign-key
// violations store.ErrNotFound, check violations store.ErrInvalid.
type Q interface {
	Exec(ctx context.Context, query string, args ...any) (rowsAffected int64, err error)
	QueryRow(ctx context.Context, query string, args ...any) Row
	Query(ctx context.Context, query string, args ...any) (Rows, error)
}

// Row is the result of QueryRow.
type Row interface {
	// Scan returns ErrNoRows when there was no row.
	Scan(dest ...any) error
}

// Rows is the result of Query.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// queryAll runs query and scans each of its rows with scan; the rows are
// closed before it returns, so the caller may write to the same tables.
func queryAll[T any](ctx context.Context, q Q, scan func(Rows) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// TxMode says what a transaction does.
type TxMode int

const (
	// ReadTx is a read-only transaction with a consistent snapshot.
	ReadTx TxMode = iota
	// WriteTx may write. On SQLite it takes the write lock at BEGIN
	// (BEGIN IMMEDIATE); on PostgreSQL it runs at READ COMMITTED and the
	// queries lock the rows they change.
	WriteTx
)

// DB is what a backend provides.
type DB interface {
	Dialect() Dialect
	// Tx runs fn in a transaction and commits if fn returns nil. It may
	// run fn again after a serialization failure or deadlock.
	Tx(ctx context.Context, mode TxMode, fn func(Q) error) error
	// Q runs single statements outside a transaction.
	Q() Q
	Close() error
}

// Dialect holds the few differences between the SQL of the backends.
type Dialect struct {
	Name string
	// ForUpdate is appended to SELECTs whose rows the transaction will
	// change (" FOR UPDATE" on PostgreSQL; SQLite's BEGIN IMMEDIATE already
	// serialises writers).
	ForUpdate string
	// DedupLock is the statement that takes the dedup lock for the rest of
	// the transaction (dedupFence): "" where the write transaction already
	// excludes every other writer (SQLite's BEGIN IMMEDIATE).
	DedupLock string
	// Time converts a timestamp to a query argument.
	Time func(time.Time) any
	// Date converts a calendar date to a query argument.
	Date func(time.Time) any
}
