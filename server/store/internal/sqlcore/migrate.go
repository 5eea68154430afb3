package sqlcore

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"time"
)

// Migration is one versioned schema change, from a file named
// NNNN_description.sql.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

var migrationName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)

// MigrateFS applies to db the migrations in the folder migrations of fsys
// that it lacks (LoadMigrations, then Migrate) and returns their versions.
func MigrateFS(ctx context.Context, db DB, fsys fs.FS, cfg MigrateConfig) ([]int, error) {
	ms, err := LoadMigrations(fsys, "migrations")
	if err != nil {
		return nil, err
	}
	return Migrate(ctx, db, ms, cfg)
}

// LoadMigrations reads the migrations in dir of fsys, in version order. The
// versions must be positive and unique; gaps are allowed, since features
// developed side by side reserve their numbers in advance (a missing
// version is applied when it arrives, whatever the versions after it).
func LoadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %q: want NNNN_name.sql", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: m[2], SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version < 1 || (i > 0 && m.Version == ms[i-1].Version) {
			return nil, fmt.Errorf("migrations: version %d is repeated or not positive", m.Version)
		}
	}
	return ms, nil
}

// MigrateConfig holds the backend-specific statements of Migrate.
type MigrateConfig struct {
	// Lock is run first in the migration transaction to exclude other
	// processes (PostgreSQL: an advisory transaction lock). May be empty.
	Lock string
	// CreateTable creates schema_migrations if it does not exist.
	CreateTable string
}

// Migrate applies the missing migrations in one transaction and returns the
// versions applied. A database at a newer version than the binary knows is
// an error: the binary is too old for it.
func Migrate(ctx context.Context, db DB, ms []Migration, cfg MigrateConfig) ([]int, error) {
	var applied []int
	err := db.Tx(ctx, WriteTx, func(q Q) error {
		applied = nil
		if cfg.Lock != "" {
			if _, err := q.Exec(ctx, cfg.Lock); err != nil {
				return fmt.Errorf("migration lock: %w", err)
			}
		}
		if _, err := q.Exec(ctx, cfg.CreateTable); err != nil {
			return fmt.Errorf("creating schema_migrations: %w", err)
		}
		have := map[int]bool{}
		rows, err := q.Query(ctx, `SELECT version FROM schema_migrations`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return err
			}
			have[v] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		known, newest := map[int]bool{}, 0
		for _, m := range ms {
			known[m.Version], newest = true, m.Version
		}
		for v := range have {
			if !known[v] {
				return fmt.Errorf("database schema has version %d, which this program does not know (it knows up to %d): upgrade the program", v, newest)
			}
		}
		for _, m := range ms {
			if have[m.Version] {
				continue
			}
			if _, err := q.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
			}
			if _, err := q.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.Version, m.Name, db.Dialect().Time(time.Now().UTC().Truncate(time.Microsecond))); err != nil {
				return err
			}
			applied = append(applied, m.Version)
		}
		return nil
	})
	return applied, err
}
