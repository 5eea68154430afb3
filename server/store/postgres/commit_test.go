package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/qingshan-gov/veinkiosk/server/store"
	"github.com/qingshan-gov/veinkiosk/server/store/internal/sqlcore"
	"github.com/qingshan-gov/veinkiosk/server/store/storetest"
)

// TestGroupCommit: concurrent write transactions, some failing (unique
// violation, an error returned by the function, a panic, an SQL error the
// function hides): each caller gets its own result and only the successful
// ones' rows are stored.
func TestGroupCommit(t *testing.T) {
	ctx := context.Background()
	db, err := connect(ctx, storetest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Tx(ctx, sqlcore.WriteTx, func(q sqlcore.Q) error {
		_, err := q.Exec(ctx, `CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	errFn := errors.New("the function failed")
	const n = 200
	results := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = db.Tx(ctx, sqlcore.WriteTx, func(q sqlcore.Q) error {
				k := fmt.Sprint("k", i)
				if i%10 == 1 {
					k = "dup"
				}
				if _, err := q.Exec(ctx, `INSERT INTO kv (k, v) VALUES ($1, $2)`, k, i); err != nil {
					return err
				}
				if _, err := q.Exec(ctx, `INSERT INTO kv (k, v) VALUES ($1, $2)`, k+"-b", i); err != nil {
					return err
				}
				switch i % 10 {
				case 3:
					return errFn
				case 5:
					q.Exec(ctx, `INSERT INTO nonexistent VALUES (1)`) // error hidden
					return nil
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
		case 5, 7:
			if err == nil {
				t.Errorf("%d: the failure was not reported", i)
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
	if err := db.Q().QueryRow(ctx, `SELECT count(*) FROM kv`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if want := (n - n/10*4 + 1) * 2; rows != want {
		t.Errorf("%d rows, want %d", rows, want)
	}
}
