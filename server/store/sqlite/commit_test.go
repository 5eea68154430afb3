package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/qingshan-gov/veinkiosk/server/store"
	"github.com/qingshan-gov/veinkiosk/server/store/internal/sqlcore"
)

// TestGroupCommit: concurrent write transactions share commits, a failing
// one (constraint violation, error returned by the function, panic) is
// rolled back alone, and every acknowledged write is visible afterwards.
func TestGroupCommit(t *testing.T) {
	db, err := openDB(filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := db.Tx(ctx, sqlcore.WriteTx, func(q sqlcore.Q) error {
		_, err := q.Exec(ctx, `CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	errFn := errors.New("the function failed")
	const n = 300
	results := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = db.Tx(ctx, sqlcore.WriteTx, func(q sqlcore.Q) error {
				k := fmt.Sprint("k", i)
				if i%10 == 1 {
					k = "dup" // only the first of these commits
				}
				if _, err := q.Exec(ctx, `INSERT INTO kv (k, v) VALUES ($1, $2)`, k, i); err != nil {
					return err
				}
				// A second write, so a rollback must undo more than one statement.
				if _, err := q.Exec(ctx, `INSERT INTO kv (k, v) VALUES ($1, $2)`, k+"-b", i); err != nil {
					return err
				}
				switch i % 10 {
				case 3:
					return errFn
				case 7:
					panic("boom")
				}
				return nil
			})
		}()
	}
	wg.Wait()
	dupOK := 0
	for i, err := range results {
		switch i % 10 {
		case 1:
			if err == nil {
				dupOK++
			} else if !errors.Is(err, store.ErrAlreadyExists) {
				t.Errorf("%d: %v", i, err)
			}
		case 3:
			if !errors.Is(err, errFn) {
				t.Errorf("%d: %v, want the function's error", i, err)
			}
		case 7:
			if err == nil {
				t.Errorf("%d: a panic was not reported", i)
			}
		default:
			if err != nil {
				t.Errorf("%d: %v", i, err)
			}
		}
	}
	if dupOK != 1 {
		t.Errorf("%d duplicate keys committed, want 1", dupOK)
	}
	var rows int
	if err := db.r.QueryRow(`SELECT count(*) FROM kv`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	want := (n - n/10*3 + 1) * 2 // the successful ones, plus one dup, two rows each
	if rows != want {
		t.Errorf("%d rows, want %d", rows, want)
	}
	for i := 0; i < n; i++ {
		var c int
		db.r.QueryRow(`SELECT count(*) FROM kv WHERE v = ?`, i).Scan(&c)
		if (i%10 == 3 || i%10 == 7) && c != 0 {
			t.Errorf("the writes of failed transaction %d are visible", i)
		}
	}
	batches, txns := db.gc.stats()
	t.Logf("%d transactions committed in %d commits", txns, batches)
	if batches >= txns {
		t.Errorf("no transactions shared a commit (%d commits for %d transactions)", batches, txns)
	}
}

// TestGroupCommitClosed: writes after Close fail with ErrClosed.
func TestGroupCommitClosed(t *testing.T) {
	db, err := openDB(filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := db.Tx(context.Background(), sqlcore.WriteTx, func(sqlcore.Q) error { return nil }); !errors.Is(err, store.ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}
