package postgres_test

import (
	"context"
	"testing"

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
