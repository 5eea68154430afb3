package store_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/qingshan-gov/veinkiosk/server/store"
)

// TestEveryMethodHasACaller keeps store.Store to what the server uses:
// every method must be called (as ".Name(") from a non-test file outside
// server/store, or from the change log's reader (cursor.go: the consumer
// replicas and matcher shards share). Read-back queries only the
// conformance suite needs belong
// in storetest.Inspector. The check is textual, so a name shared with
// another type's method can hide an unused one; it cannot report a used
// method as unused.
func TestEveryMethodHasACaller(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	var src strings.Builder
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			if rel == filepath.Join("server", "store") || strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		src.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	cursor, err := os.ReadFile("cursor.go")
	if err != nil {
		t.Fatal(err)
	}
	src.Write(cursor)
	all := src.String()
	if !strings.Contains(all, ".RecordVerificationOutcome(") {
		t.Fatal("the walk found no caller of RecordVerificationOutcome: wrong root?")
	}
	typ := reflect.TypeFor[store.Store]()
	for i := 0; i < typ.NumMethod(); i++ {
		name := typ.Method(i).Name
		if !strings.Contains(all, "."+name+"(") {
			t.Errorf("store.Store.%s has no caller outside server/store and tests: remove it, or move it to storetest.Inspector", name)
		}
	}
}
