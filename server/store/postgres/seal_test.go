package postgres_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/qingshan-gov/veinkiosk/server/store/postgres"
	"github.com/qingshan-gov/veinkiosk/server/store/storetest"
)

// dumpRows returns every row of every table of the test's schema, each as
// PostgreSQL's text form of the whole row (bytea shows as \x hex).
func dumpRows(t *testing.T, url string) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) < 10 {
		t.Fatalf("only %d tables in the schema: %v", len(tables), tables)
	}
	var out []string
	for _, tb := range tables {
		rows, err := conn.Query(ctx, `SELECT t::text FROM `+pgx.Identifier{tb}.Sanitize()+` t`)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			out = append(out, tb+": "+r)
		}
	}
	return out
}

// findSecrets reports the rows holding a secret, as text or as the hex of
// its bytes (a bytea).
func findSecrets(rows, secrets []string) []string {
	var hits []string
	for _, r := range rows {
		lr := strings.ToLower(r)
		for _, s := range secrets {
			if strings.Contains(r, s) || strings.Contains(lr, hex.EncodeToString([]byte(s))) {
				hits = append(hits, s+" in "+r)
			}
		}
	}
	return hits
}

// TestNoPersonalPlaintextAtRest fills the database with every kind of
// record and dumps every row of every table as text: no personal value
// written appears, in text or in hex.
func TestNoPersonalPlaintextAtRest(t *testing.T) {
	url := storetest.PostgresURL(t)
	ctx := context.Background()
	s, err := postgres.Open(ctx, url, storetest.Options())
	if err != nil {
		t.Fatal(err)
	}
	busy := storetest.PopulateBusy(t, s)
	f, err := s.GetFiling(ctx, busy.FilingIDs[0])
	if err != nil || !bytes.Contains(f.Form, []byte(storetest.BusyBank)) || f.Reply != storetest.BusyReply {
		t.Fatalf("GetFiling = %+v, %v", f, err)
	}
	s.Close()
	rows := dumpRows(t, url)
	for _, h := range findSecrets(rows, busy.Secrets) {
		t.Errorf("plaintext at rest: %s", h)
	}
	// The dump bites: a value written behind the store's back is found.
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `UPDATE staff SET display_name = $1`, storetest.BusyBank); err != nil {
		t.Fatal(err)
	}
	if len(findSecrets(dumpRows(t, url), []string{storetest.BusyBank})) == 0 {
		t.Error("a plaintext value written with SQL is not found by the dump")
	}
}

// TestReconcileTamper: changes made in SQL behind the store's back are
// named by audit.Reconcile.
func TestReconcileTamper(t *testing.T) {
	url := storetest.PostgresURL(t)
	ctx := context.Background()
	s, err := postgres.Open(ctx, url, storetest.Options())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	busy := storetest.PopulateBusy(t, s)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	storetest.ReconcileTamperTest(t, s, busy, func(t *testing.T, query string, args ...any) {
		t.Helper()
		if _, err := conn.Exec(ctx, query, args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	})
}
