package sqlcore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/keyring"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// Store implements store.Store over a DB.
type Store struct {
	db   DB
	d    Dialect
	opts store.Options
	ring *keyring.Ring
	// indexKey is the HMAC key of the blind indexes (seal.go).
	indexKey []byte
	closed   atomic.Bool
	// pageSize is the number of rows ScanTemplates and Reencrypt read
	// per query.
	pageSize int
}

// Open brings the schema of db up to date with the migrations in the
// folder migrations of fsys (MigrateFS) and opens the store over it: a
// backend's Open. db is closed when Open fails.
func Open(ctx context.Context, db DB, fsys fs.FS, cfg MigrateConfig, opts store.Options) (_ *Store, err error) {
	defer func() {
		if err != nil {
			db.Close()
		}
	}()
	o, err := opts.WithDefaults()
	if err != nil {
		return nil, err
	}
	applied, err := MigrateFS(ctx, db, fsys, cfg)
	if err != nil {
		return nil, err
	}
	if len(applied) > 0 {
		o.Logger.Info("store: schema migrated", "backend", db.Dialect().Name, "versions", applied)
	}
	return New(ctx, db, o)
}

// New returns a Store over db. The schema must already be migrated. It
// reads (or, on a new database, creates) the blind-index key and seals any
// personal data an older database still holds in plaintext (seal.go).
func New(ctx context.Context, db DB, opts store.Options) (*Store, error) {
	o, err := opts.WithDefaults()
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, d: db.Dialect(), opts: o, ring: o.Keyring, pageSize: 2000}
	if o.AuditOnly {
		return s, nil
	}
	if err := s.loadIndexKey(ctx); err != nil {
		return nil, err
	}
	if err := s.sealLegacy(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Logger returns the logger of the options.
func (s *Store) Logger() *slog.Logger { return s.opts.Logger }

// Close closes the database.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.db.Close()
}

func (s *Store) now() time.Time { return s.opts.Now().UTC().Truncate(time.Microsecond) }

// at returns t normalised, or now when t is zero.
func (s *Store) at(t time.Time) time.Time {
	if t.IsZero() {
		return s.now()
	}
	return t.UTC().Truncate(time.Microsecond)
}

func (s *Store) tx(ctx context.Context, mode TxMode, fn func(Q) error) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	if mode == WriteTx && s.opts.AuditOnly {
		return errAuditOnly
	}
	return s.db.Tx(ctx, mode, fn)
}

// errAuditOnly: a write on a store opened with Options.AuditOnly.
var errAuditOnly = fmt.Errorf("%w: the store is open for audit only", store.ErrInvalid)

func (s *Store) q() (Q, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	return s.db.Q(), nil
}

// t and date convert arguments.
func (s *Store) t(t time.Time) any { return s.d.Time(t.UTC().Truncate(time.Microsecond)) }

func (s *Store) nt(t *time.Time) any {
	if t == nil {
		return nil
	}
	return s.t(*t)
}

// ---- scanning helpers ----

// tm scans a timestamp stored as a time (PostgreSQL), Unix microseconds
// (SQLite) or a date string.
type tm struct{ p *time.Time }

func (x tm) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		*x.p = v.UTC()
	case int64:
		*x.p = time.UnixMicro(v).UTC()
	case string:
		return x.parse(v)
	case []byte:
		return x.parse(string(v))
	case nil:
		*x.p = time.Time{}
	default:
		return fmt.Errorf("sqlcore: cannot scan %T into a time", src)
	}
	return nil
}

func (x tm) parse(v string) error {
	for _, layout := range []string{"2006-01-02", time.RFC3339Nano} {
		if t, err := time.Parse(layout, v); err == nil {
			*x.p = t.UTC()
			return nil
		}
	}
	return fmt.Errorf("sqlcore: cannot parse time %q", v)
}

// ntm scans a nullable timestamp.
type ntm struct{ p **time.Time }

func (x ntm) Scan(src any) error {
	if src == nil {
		*x.p = nil
		return nil
	}
	var t time.Time
	if err := (tm{&t}).Scan(src); err != nil {
		return err
	}
	*x.p = &t
	return nil
}

// nstr scans a nullable string as "" for NULL.
type nstr struct{ p *string }

func (x nstr) Scan(src any) error {
	var ns sql.NullString
	if err := ns.Scan(src); err != nil {
		return err
	}
	*x.p = ns.String
	return nil
}

// nint scans a nullable integer as 0 for NULL.
type nint struct{ p *int64 }

func (x nint) Scan(src any) error {
	var n sql.NullInt64
	if err := n.Scan(src); err != nil {
		return err
	}
	*x.p = n.Int64
	return nil
}

// nullIfEmpty turns "" into NULL (optional foreign keys).
func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullIfZero(n int64) any {
	if n == 0 {
		return nil
	}
	return n
}

// notFound wraps ErrNoRows as store.ErrNotFound with a description.
func notFound(err error, what string, key any) error {
	if errors.Is(err, ErrNoRows) {
		return fmt.Errorf("%w: %s %v", store.ErrNotFound, what, key)
	}
	return err
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{store.ErrInvalid}, args...)...)
}

func limit(n int) int {
	switch {
	case n <= 0:
		return 100
	case n > 1000:
		return 1000
	}
	return n
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// ---- audit ----

// appendAudit links e after the current head and stores it, inside the
// caller's write transaction. The head row lock serialises appends on
// PostgreSQL, so it is taken last in every transaction.
func (s *Store) appendAudit(ctx context.Context, q Q, e audit.Event) (audit.Record, error) {
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	var seq int64
	var head []byte
	if err := q.QueryRow(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`+s.d.ForUpdate).Scan(&seq, &head); err != nil {
		return audit.Record{}, fmt.Errorf("reading audit head: %w", err)
	}
	var prev audit.Hash
	if len(head) != audit.HashSize {
		return audit.Record{}, fmt.Errorf("audit head hash has %d bytes", len(head))
	}
	copy(prev[:], head)
	rec, err := audit.Link(seq, prev, e)
	if err != nil {
		return audit.Record{}, fmt.Errorf("%w: %w", store.ErrInvalid, err)
	}
	details, err := encodeDetails(rec.Details)
	if err != nil {
		return audit.Record{}, err
	}
	if _, err := q.Exec(ctx, `INSERT INTO audit_events (seq, at, actor_type, actor_id, action, target, details, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		rec.Seq, s.t(rec.Time), string(rec.Actor.Type), rec.Actor.ID, rec.Action, rec.Target, details, rec.PrevHash[:], rec.Hash[:]); err != nil {
		return audit.Record{}, fmt.Errorf("appending audit event: %w", err)
	}
	if _, err := q.Exec(ctx, `UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1`, rec.Seq, rec.Hash[:]); err != nil {
		return audit.Record{}, fmt.Errorf("updating audit head: %w", err)
	}
	return rec, nil
}

// ev builds an audit event.
func ev(actor audit.Actor, at time.Time, action, target string, kv ...string) audit.Event {
	d := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		d[kv[i]] = kv[i+1]
	}
	return audit.Event{Time: at, Actor: actor, Action: action, Target: target, Details: d}
}

func checkActor(a audit.Actor) error {
	if a.Type == "" || a.ID == "" {
		return invalid("an acting audit.Actor is required")
	}
	return nil
}

func isNotFound(err error) bool {
	return errors.Is(err, store.ErrNotFound) || errors.Is(err, ErrNoRows)
}
