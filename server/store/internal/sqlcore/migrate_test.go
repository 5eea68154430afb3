package sqlcore

import (
	"strings"
	"testing"
	"testing/fstest"
)

// Migrations numbered in parallel branches merge with gaps between them;
// the loader accepts gaps and refuses a version 0 or a doubled number.
func TestLoadMigrations(t *testing.T) {
	sql := &fstest.MapFile{Data: []byte("SELECT 1;")}
	for _, tc := range []struct {
		name  string
		files []string
		want  []int
		err   string
	}{
		{"contiguous", []string{"0001_a.sql", "0002_b.sql"}, []int{1, 2}, ""},
		{"gap", []string{"0001_a.sql", "0002_b.sql", "0011_c.sql"}, []int{1, 2, 11}, ""},
		{"zero", []string{"0000_a.sql", "0001_b.sql"}, nil, "version 0 is repeated or not positive"},
		{"twice", []string{"0001_a.sql", "0011_b.sql", "0011_c.sql"}, nil, "version 11 is repeated"},
		{"bad name", []string{"0001_a.sql", "11_x.sql"}, nil, "want NNNN_name.sql"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for _, f := range tc.files {
				fsys["m/"+f] = sql
			}
			ms, err := LoadMigrations(fsys, "m")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, m := range ms {
				got = append(got, m.Version)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("versions %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("versions %v, want %v", got, tc.want)
				}
			}
		})
	}
}
