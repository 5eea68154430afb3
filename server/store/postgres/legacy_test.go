package postgres

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/qingshan-gov/veinkiosk/server/store"
	"github.com/qingshan-gov/veinkiosk/server/store/internal/sqlcore"
	"github.com/qingshan-gov/veinkiosk/server/store/storetest"
)

// TestSealLegacyDatabase: storetest.SealLegacy on PostgreSQL; at rest,
// every row of the tables that held personal data, as text.
func TestSealLegacyDatabase(t *testing.T) {
	url := storetest.PostgresURL(t)
	ctx := context.Background()
	db, err := connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := sqlcore.LoadMigrations(migrationFS, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sqlcore.Migrate(ctx, db, ms[:3], migrateConfig); err != nil {
		t.Fatal(err)
	}
	storetest.SealLegacy(t, storetest.Legacy{
		DB: db, Now: "now()", Later: "now() + interval '1 hour'",
		Open: func(o store.Options) (store.Store, error) { return Open(ctx, url, o) },
		AtRest: func(t *testing.T) map[string][]byte {
			conn, err := pgx.Connect(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			out := map[string][]byte{}
			for _, tb := range []string{"residents", "filings", "verification_attempts", "lockouts", "id_locks", "spent_tokens", "enrolment_replacements"} {
				var txt string
				if err := conn.QueryRow(ctx, `SELECT string_agg(t::text, ' ') FROM `+tb+` t`).Scan(&txt); err != nil {
					t.Fatal(err)
				}
				out[tb] = []byte(txt)
			}
			return out
		},
	})
}
