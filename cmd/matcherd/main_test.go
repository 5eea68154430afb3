package main

import (
	"io"
	"slices"
	"strings"
	"testing"
)

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // "" means valid
	}{
		{[]string{"--database-url", "postgres://x/y", "--partition", "1", "--partitions", "2"}, ""},
		{[]string{"--gallery-file", "g", "--residents", "10"}, ""},
		{[]string{"--partition", "2", "--partitions", "2", "--database-url", "postgres://x"}, "--partition must be"},
		{[]string{"--partitions", "0", "--database-url", "postgres://x"}, "--partitions must be"},
		{nil, "either --database-url or --gallery-file"},
		{[]string{"--database-url", "postgres://x", "--gallery-file", "g"}, "either --database-url or --gallery-file"},
		{[]string{"--database-url", "mysql://x"}, "postgres://"},
		{[]string{"--database-url", "postgres://x", "--residents", "5"}, "--residents goes with"},
		{[]string{"--gallery-file", "g", "--workers", "0"}, "--workers"},
		{[]string{"--database-url", "postgres://x", "--max-lag", "2s"}, "--max-lag"},
	} {
		_, err := parseConfig(tc.args, func(string) string { return "" }, io.Discard)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v", tc.args, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestResidentsPartition: the partitions of a layout hold residents 1..n
// between them, each once, in order.
func TestResidentsPartition(t *testing.T) {
	var all []int64
	for p := range 3 {
		rs := residents(p, 3, 1000)
		if !slices.IsSorted(rs) {
			t.Fatal("not in order")
		}
		all = append(all, rs...)
	}
	slices.Sort(all)
	for i, id := range all {
		if id != int64(i+1) {
			t.Fatalf("resident %d at %d", id, i)
		}
	}
	if len(all) != 1000 {
		t.Fatalf("%d residents", len(all))
	}
}

// TestSynthIsDeterministic: gen and bench make the same templates.
func TestSynthIsDeterministic(t *testing.T) {
	a, b := newSynth(3, 5), newSynth(3, 5)
	ta, err := a.sample(42, 7, 1)
	if err != nil {
		t.Fatal(err)
	}
	tb, _ := b.sample(42, 7, 1)
	ba, _ := ta.MarshalBinary()
	bb, _ := tb.MarshalBinary()
	if string(ba) != string(bb) {
		t.Fatal("two synths of one seed differ")
	}
}
