package postgres_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/qingshan-gov/veinkiosk/server/audit"

	"github.com/qingshan-gov/veinkiosk/server/password"
	"github.com/qingshan-gov/veinkiosk/server/store"
	"github.com/qingshan-gov/veinkiosk/server/store/postgres"
	"github.com/qingshan-gov/veinkiosk/server/store/storetest"
)

func newDB(t *testing.T) storetest.Opener {
	url := storetest.PostgresURL(t)
	return func(opts store.Options) (store.Store, error) {
		return postgres.Open(context.Background(), url, opts)
	}
}

func TestConformance(t *testing.T) {
	storetest.RunTests(t, newDB)
}

func TestCrashDurability(t *testing.T) {
	storetest.CrashTest(t, func(t *testing.T) string { return storetest.PostgresURL(t) },
		func(ctx context.Context, dsn string, opts store.Options) (store.Store, error) {
			return postgres.Open(ctx, dsn, opts)
		}, 200)
}

func benchOpen(b *testing.B) (store.Store, error) {
	return postgres.Open(context.Background(), storetest.PostgresURL(b), storetest.Options())
}

func BenchmarkScanTemplates(b *testing.B) { storetest.BenchScanTemplates(b, benchOpen) }
func BenchmarkCreateFiling(b *testing.B)  { storetest.BenchCreateFiling(b, benchOpen) }

// TestNoPlaintextAtRest reads the samples table behind the store's back.
func TestNoPlaintextAtRest(t *testing.T) {
	url := storetest.PostgresURL(t)
	ctx := context.Background()
	s, err := postgres.Open(ctx, url, storetest.Options())
	if err != nil {
		t.Fatal(err)
	}
	a := audit.System("t")
	if _, err := s.ImportResidents(ctx, a, []store.Resident{{IDNumber: "110105194901010215", Name: "张三"}}); err != nil {
		t.Fatal(err)
	}
	tpl, img := []byte("PLAINTEXT-TEMPLATE-MARKER"), []byte("PLAINTEXT-IMAGE-MARKER")
	if _, err := s.Enrol(ctx, a, store.NewEnrolment{IDNumber: "110105194901010215", Finger: 1,
		Samples: []store.Sample{{Template: tpl, Image: img, AlgorithmVersion: "v", Quality: 1}}}); err != nil {
		t.Fatal(err)
	}
	pw, err := password.HashWith("pw", password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	if err != nil {
		t.Fatal(err)
	}
	staff, err := s.CreateStaff(ctx, a, store.Staff{Username: "u", Role: store.RoleAdmin, PasswordHash: pw})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := s.CreateSession(ctx, store.Session{Token: "SESSION-TOKEN-MARKER", StaffID: staff.ID, Username: "u", Role: store.RoleAdmin, CreatedAt: now, ExpiresAt: now.Add(time.Hour), Idle: time.Hour, Method: store.SessionPassword}); err != nil {
		t.Fatal(err)
	}
	if err := s.RememberSpentToken(ctx, store.SpentToken{Token: "SPENT-TOKEN-MARKER", IDNumber: "110105194901010215", KioskID: "K", ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutPendingIdentification(ctx, store.PendingIdentification{ID: "CANDIDATE-ID-MARKER", IDNumber: "110105194901010215", KioskID: "K", StaffID: staff.ID, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var gotTpl, gotImg []byte
	var keyID string
	if err := conn.QueryRow(ctx, "SELECT template, image, key_id FROM samples").Scan(&gotTpl, &gotImg, &keyID); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(gotTpl, tpl) || bytes.Contains(gotImg, img) || keyID != "k1" || gotTpl[0] != 0x01 {
		t.Errorf("stored blobs are not sealed: %q %q key %q", gotTpl, gotImg, keyID)
	}
	// Session tokens, spent filing tokens and candidate ids are kept as
	// SHA-256 hashes only.
	for _, tc := range []struct{ query, secret string }{
		{"SELECT token_hash FROM staff_sessions", "SESSION-TOKEN-MARKER"},
		{"SELECT token_hash FROM spent_tokens", "SPENT-TOKEN-MARKER"},
		{"SELECT id_hash FROM pending_identifications", "CANDIDATE-ID-MARKER"},
	} {
		var got []byte
		if err := conn.QueryRow(ctx, tc.query).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if want := sha256.Sum256([]byte(tc.secret)); !bytes.Equal(got, want[:]) {
			t.Errorf("%s: %x, want the SHA-256 of the secret", tc.query, got)
		}
	}
}

// TestMigrateIdempotent: Migrate applies everything once, then nothing.
func TestMigrateIdempotent(t *testing.T) {
	url := storetest.PostgresURL(t)
	ctx := context.Background()
	v, err := postgres.Migrate(ctx, url)
	if err != nil || len(v) == 0 || v[0] != 1 {
		t.Fatalf("first Migrate = %v, %v", v, err)
	}
	if v, err := postgres.Migrate(ctx, url); err != nil || len(v) != 0 {
		t.Errorf("second Migrate = %v, %v", v, err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', now())"); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Open(ctx, url, storetest.Options()); err == nil || !strings.Contains(err.Error(), "upgrade the program") {
		t.Errorf("opening a newer schema: %v", err)
	}
}

// BenchmarkVerificationOutcome: one verification's writes (one
// RecordVerificationOutcome) from concurrent kiosks.
func BenchmarkVerificationOutcome(b *testing.B) { storetest.BenchVerificationOutcome(b, benchOpen) }
