// Package storeopen opens the store a deployment is configured for: the
// embedded SQLite database in a data directory (the default) or PostgreSQL
// when a database URL is given. Commands (centrald, veinctl) use it so they
// accept the same two flags.
package storeopen

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/qingshan-gov/veinkiosk/server/keyring"
	"github.com/qingshan-gov/veinkiosk/server/store"
	"github.com/qingshan-gov/veinkiosk/server/store/postgres"
	"github.com/qingshan-gov/veinkiosk/server/store/sqlite"
)

// Config says where the data is. Exactly one of the fields is set.
type Config struct {
	// DataDir holds the embedded database (DataDir/veinkiosk.db).
	DataDir string
	// DatabaseURL is a PostgreSQL URL, e.g.
	// postgres://veinkiosk@db.internal:5432/veinkiosk?sslmode=verify-full.
	DatabaseURL string
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.DataDir == "" && c.DatabaseURL == "":
		return errors.New("storeopen: give a data directory (--data) or a PostgreSQL URL (--database-url)")
	case c.DataDir != "" && c.DatabaseURL != "":
		return errors.New("storeopen: give either a data directory or a database URL, not both")
	case c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://"):
		return errors.New("storeopen: the database URL must start with postgres:// or postgresql://")
	}
	return nil
}

// String describes the location without credentials, for logs.
func (c Config) String() string {
	if c.DataDir != "" {
		return "sqlite:" + filepath.Join(c.DataDir, sqlite.FileName)
	}
	u := c.DatabaseURL
	if at := strings.LastIndex(u, "@"); at >= 0 {
		u = "postgres://…" + u[at:]
	}
	return u
}

// Open opens the configured store, creating and migrating it as needed.
func Open(ctx context.Context, c Config, opts store.Options) (store.Store, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.DatabaseURL != "" {
		return postgres.Open(ctx, c.DatabaseURL, opts)
	}
	return sqlite.OpenDir(ctx, c.DataDir, opts)
}

// OpenExisting is Open for tools that inspect a deployment (audit
// verification): it refuses to create an embedded database that does not
// exist yet, so a mistyped --data is reported, not silently initialised.
func OpenExisting(ctx context.Context, c Config, opts store.Options) (store.Store, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.DataDir != "" {
		path := filepath.Join(c.DataDir, sqlite.FileName)
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("storeopen: no database at %s: %w", path, err)
		}
	}
	return Open(ctx, c, opts)
}

// EphemeralKeyring returns a ring with one random key for tools that open a
// store but never touch biometric data (audit verification): the store
// requires a ring, and this one can open nothing that is stored.
func EphemeralKeyring() (*keyring.Ring, error) {
	k, err := keyring.GenerateKey()
	if err != nil {
		return nil, err
	}
	return keyring.New("ephemeral", map[string][]byte{"ephemeral": k})
}
