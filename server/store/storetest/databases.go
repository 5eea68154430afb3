package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Environment variables read by PostgresURL.
const (
	// EnvDatabaseURL names the PostgreSQL server for tests, e.g.
	// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
	EnvDatabaseURL = "TEST_DATABASE_URL"
	// EnvRequirePostgres=1 turns a missing EnvDatabaseURL from a skip into
	// a failure (CI sets it).
	EnvRequirePostgres = "VEINKIOSK_REQUIRE_POSTGRES"
)

// PostgresURL creates a fresh schema on the test server and returns a
// connection URL whose search_path selects it, so parallel test runs never
// see each other's tables. The schema is dropped when the test ends. Without
// TEST_DATABASE_URL the test is skipped, or fails when
// VEINKIOSK_REQUIRE_POSTGRES=1.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvDatabaseURL)
	if base == "" {
		if os.Getenv(EnvRequirePostgres) == "1" {
			t.Fatalf("%s is not set but %s=1", EnvDatabaseURL, EnvRequirePostgres)
		}
		t.Skipf("%s not set: skipping PostgreSQL tests", EnvDatabaseURL)
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	schema := "vk_test_" + hex.EncodeToString(rnd[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connecting to %s: %v", EnvDatabaseURL, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("creating test schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("dropping test schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("dropping test schema %s: %v", schema, err)
		}
	})
	return withSearchPath(base, schema)
}

func withSearchPath(base, schema string) string {
	if u, err := url.Parse(base); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	// key=value form
	return strings.TrimSpace(base) + " search_path=" + schema
}

// SQLitePath returns the path of a database file in a fresh temporary
// directory.
func SQLitePath(t testing.TB) string {
	return filepath.Join(t.TempDir(), "veinkiosk.db")
}
