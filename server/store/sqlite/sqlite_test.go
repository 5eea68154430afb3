package sqlite_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/qingshan-gov/veinkiosk/server/store"
	"github.com/qingshan-gov/veinkiosk/server/store/sqlite"
	"github.com/qingshan-gov/veinkiosk/server/store/storetest"
)

func newDB(t *testing.T) storetest.Opener {
	path := storetest.SQLitePath(t)
	return func(opts store.Options) (store.Store, error) {
		return sqlite.Open(context.Background(), path, opts)
	}
}

func TestConformance(t *testing.T) {
	storetest.RunTests(t, newDB)
}

func TestCrashDurability(t *testing.T) {
	storetest.CrashTest(t, func(t *testing.T) string { return storetest.SQLitePath(t) },
		func(ctx context.Context, dsn string, opts store.Options) (store.Store, error) {
			return sqlite.Open(ctx, dsn, opts)
		}, 200)
}

func benchOpen(b *testing.B) (store.Store, error) {
	return sqlite.Open(context.Background(), storetest.SQLitePath(b), storetest.Options())
}

func BenchmarkScanTemplates(b *testing.B) { storetest.BenchScanTemplates(b, benchOpen) }
func BenchmarkCreateFiling(b *testing.B)  { storetest.BenchCreateFiling(b, benchOpen) }
func BenchmarkEnrol(b *testing.B)         { storetest.BenchEnrol(b, benchOpen) }

// BenchmarkVerificationOutcome: one verification's writes (one
// RecordVerificationOutcome) from concurrent kiosks, with group commit
// (batch up to 64) or without (batch 1: one transaction per commit).
func BenchmarkVerificationOutcome(b *testing.B) {
	for _, batch := range []int{1, 64} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			defer sqlite.SetMaxBatch(sqlite.SetMaxBatch(batch))
			storetest.BenchVerificationOutcome(b, benchOpen)
		})
	}
}
