// Package sqlite is the embedded backend of store.Store: one database file
// through modernc.org/sqlite (pure Go, no cgo, no server).
//
// Durability and concurrency settings, applied to every connection:
//   - journal_mode=WAL: readers never block the writer and vice versa;
//   - synchronous=FULL: every commit fsyncs the WAL, so an acknowledged
//     write survives power loss and kill -9;
//   - foreign_keys=ON, busy_timeout=10s.
//
// Writes go through one connection owned by a group committer (commit.go):
// the write transactions waiting when it starts a batch run one after
// another inside one BEGIN IMMEDIATE transaction, each in its own
// SAVEPOINT (a failing one is rolled back alone), and one fsynced COMMIT
// acknowledges them all. Reads use a separate pool of read-only
// connections. Both sides keep prepared statements per query text.
// Several processes may open the same file: the busy timeout serialises
// their writers.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/qingshan-gov/veinkiosk/server/store"
	"github.com/qingshan-gov/veinkiosk/server/store/internal/sqlcore"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// FileName is the database file OpenDir uses inside a data directory.
const FileName = "veinkiosk.db"

// OpenDir opens (creating if needed) the database in data directory dir.
func OpenDir(ctx context.Context, dir string, opts store.Options) (store.Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: data directory: %w", err)
	}
	return Open(ctx, filepath.Join(dir, FileName), opts)
}

// Open opens (creating if needed) the database file at path and brings its
// schema up to date.
func Open(ctx context.Context, path string, opts store.Options) (store.Store, error) {
	db, err := openDB(path)
	if err != nil {
		return nil, err
	}
	s, err := sqlcore.Open(ctx, db, migrationFS, migrateConfig, opts)
	if err != nil {
		return nil, err // not a nil *sqlcore.Store in a non-nil store.Store
	}
	return s, nil
}

// Migrate brings the schema of the database at path up to date and returns
// the versions applied.
func Migrate(ctx context.Context, path string) ([]int, error) {
	db, err := openDB(path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return sqlcore.MigrateFS(ctx, db, migrationFS, migrateConfig)
}

var migrateConfig = sqlcore.MigrateConfig{
	CreateTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT`,
}

func dsn(path string, write bool) string {
	v := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)", "secure_delete(1)"} {
		v.Add("_pragma", p)
	}
	if write {
		v.Set("_txlock", "immediate")
	} else {
		v.Add("_pragma", "query_only(1)")
	}
	return "file:" + path + "?" + v.Encode()
}

func openDB(path string) (*database, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	w, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	// Create the file and switch it to WAL before readers open it.
	if err := w.Ping(); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: opening %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	r, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	r.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	gc, err := newCommitter(w)
	if err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return &database{w: w, r: r, gc: gc}, nil
}

// database adapts the writer (one connection owned by a group committer)
// and the reader pool to sqlcore.DB.
type database struct {
	w, r  *sql.DB
	gc    *committer
	reads stmtCache // prepared statements of the reader pool
}

var dialect = sqlcore.Dialect{
	Name:      "sqlite",
	ForUpdate: "",
	Time:      func(t time.Time) any { return t.UnixMicro() },
	Date:      func(t time.Time) any { return t.Format("2006-01-02") },
}

func (d *database) Dialect() sqlcore.Dialect { return dialect }

func (d *database) Close() error {
	gerr := d.gc.close()
	d.reads.close()
	return errors.Join(gerr, d.r.Close(), d.w.Close())
}

func (d *database) Q() sqlcore.Q { return split{d} }

func (d *database) Tx(ctx context.Context, mode sqlcore.TxMode, fn func(sqlcore.Q) error) (err error) {
	if mode == sqlcore.WriteTx {
		return d.gc.do(ctx, fn)
	}
	tx, err := d.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return mapErr(err)
	}
	defer tx.Rollback() // read-only: nothing to commit
	if err = fn(readTx{tx: tx, d: d}); err != nil {
		return err
	}
	return mapErr(tx.Commit())
}

// placeholders rewrites $1 to ?1: SQLite reads ?NNN as the NNN-th argument.
var placeholder = regexp.MustCompile(`\$(\d+)`)

var rewritten sync.Map // string -> string

func rewrite(q string) string {
	if v, ok := rewritten.Load(q); ok {
		return v.(string)
	}
	r := placeholder.ReplaceAllString(q, "?$1")
	rewritten.Store(q, r)
	return r
}

// cacheable reports whether a statement is worth keeping prepared: a
// single DML or SELECT statement (not DDL, pragmas or migration scripts).
func cacheable(q string) bool {
	if strings.Contains(q, ";") {
		return false
	}
	t := strings.TrimSpace(q)
	if len(t) < 6 {
		return false
	}
	switch strings.ToUpper(t[:6]) {
	case "SELECT", "INSERT", "UPDATE", "DELETE":
		return true
	}
	return false
}

// maxCachedStmts bounds a statement cache (queries are static strings in
// sqlcore, but a few are assembled from filters).
const maxCachedStmts = 256

// stmtCache keeps prepared statements by query text, so SQLite parses
// each query once per connection instead of once per call.
type stmtCache struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// get returns the prepared statement of q, preparing it with prep; nil
// when q is not to be cached (the caller runs it unprepared).
func (c *stmtCache) get(q string, prep func(string) (*sql.Stmt, error)) (*sql.Stmt, error) {
	if !cacheable(q) {
		return nil, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[q]; ok {
		return st, nil
	}
	if len(c.m) >= maxCachedStmts {
		return nil, nil
	}
	st, err := prep(q)
	if err != nil {
		return nil, err
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	c.m[q] = st
	return st, nil
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m = nil
}

func result(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, mapErr(err)
	}
	n, err := res.RowsAffected()
	return n, mapErr(err)
}

func rowsOf(rows *sql.Rows, err error) (sqlcore.Rows, error) {
	if err != nil {
		return nil, mapErr(err)
	}
	return sqlRows{rows}, nil
}

// readTx runs a read-only transaction's queries on its connection, through
// the reader pool's prepared statements.
type readTx struct {
	tx *sql.Tx
	d  *database
}

func (t readTx) stmt(ctx context.Context, q string) *sql.Stmt {
	// Only statements already prepared are used: preparing a new one needs
	// a connection of the pool, and this transaction holds one.
	t.d.reads.mu.Lock()
	st := t.d.reads.m[q]
	t.d.reads.mu.Unlock()
	if st == nil {
		return nil
	}
	return t.tx.StmtContext(ctx, st)
}

func (t readTx) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	return result(t.tx.ExecContext(ctx, rewrite(q), args...))
}
func (t readTx) Query(ctx context.Context, q string, args ...any) (sqlcore.Rows, error) {
	if st := t.stmt(ctx, rewrite(q)); st != nil {
		return rowsOf(st.QueryContext(ctx, args...))
	}
	return rowsOf(t.tx.QueryContext(ctx, rewrite(q), args...))
}
func (t readTx) QueryRow(ctx context.Context, q string, args ...any) sqlcore.Row {
	if st := t.stmt(ctx, rewrite(q)); st != nil {
		return sqlRow{st.QueryRowContext(ctx, args...)}
	}
	return sqlRow{t.tx.QueryRowContext(ctx, rewrite(q), args...)}
}

// split sends writes to the group committer (each statement its own
// transaction, coalesced with concurrent ones) and reads to the reader pool.
type split struct{ d *database }

func (s split) Exec(ctx context.Context, q string, args ...any) (n int64, err error) {
	err = s.d.gc.do(ctx, func(tq sqlcore.Q) error {
		n, err = tq.Exec(ctx, q, args...)
		return err
	})
	return n, err
}

func (s split) readStmt(ctx context.Context, q string) (*sql.Stmt, error) {
	return s.d.reads.get(q, func(q string) (*sql.Stmt, error) { return s.d.r.PrepareContext(ctx, q) })
}

func (s split) Query(ctx context.Context, q string, args ...any) (sqlcore.Rows, error) {
	q = rewrite(q)
	st, err := s.readStmt(ctx, q)
	if err != nil {
		return nil, mapErr(err)
	}
	if st != nil {
		return rowsOf(st.QueryContext(ctx, args...))
	}
	return rowsOf(s.d.r.QueryContext(ctx, q, args...))
}

func (s split) QueryRow(ctx context.Context, q string, args ...any) sqlcore.Row {
	q = rewrite(q)
	st, err := s.readStmt(ctx, q)
	if err != nil {
		return errRow{mapErr(err)}
	}
	if st != nil {
		return sqlRow{st.QueryRowContext(ctx, args...)}
	}
	return sqlRow{s.d.r.QueryRowContext(ctx, q, args...)}
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

type sqlRow struct{ r *sql.Row }

func (r sqlRow) Scan(dest ...any) error { return mapErr(r.r.Scan(dest...)) }

type sqlRows struct{ r *sql.Rows }

func (r sqlRows) Next() bool             { return r.r.Next() }
func (r sqlRows) Scan(dest ...any) error { return mapErr(r.r.Scan(dest...)) }
func (r sqlRows) Err() error             { return mapErr(r.r.Err()) }
func (r sqlRows) Close()                 { r.r.Close() }

// mapErr translates driver errors to the store's sentinels.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return sqlcore.ErrNoRows
	}
	if err.Error() == "sql: database is closed" {
		return fmt.Errorf("%w: %w", store.ErrClosed, err)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %w", store.ErrAlreadyExists, err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%w: a referenced record does not exist: %w", store.ErrNotFound, err)
		case sqlite3.SQLITE_CONSTRAINT_CHECK, sqlite3.SQLITE_CONSTRAINT_NOTNULL, sqlite3.SQLITE_CONSTRAINT_DATATYPE:
			return fmt.Errorf("%w: %w", store.ErrInvalid, err)
		}
	}
	return err
}
