package eval

import (
	"errors"
	"testing"
)

func TestFilterSubjects(t *testing.T) {
	var entries []Entry
	for _, s := range []string{"001", "002", "003", "010", "alice", "bob"} {
		entries = append(entries, Entry{Path: s + ".png", Subject: s, Finger: "1", Sample: "1"})
	}
	count := func(half string) map[string]bool {
		t.Helper()
		got, err := FilterSubjects(entries, half)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]bool{}
		for _, e := range got {
			m[e.Subject] = true
		}
		return m
	}
	odd, even, all := count("odd"), count("even"), count("all")
	if !odd["001"] || !odd["003"] || odd["002"] || !even["002"] || !even["010"] || even["001"] {
		t.Errorf("numeric subjects: odd %v, even %v", odd, even)
	}
	if len(all) != 6 || len(odd)+len(even) != 6 {
		t.Errorf("halves do not partition: all %d, odd %d, even %d", len(all), len(odd), len(even))
	}
	for _, s := range []string{"alice", "bob"} {
		if odd[s] == even[s] {
			t.Errorf("%s is in both halves or neither", s)
		}
		if odd[s] != (SubjectParity(s) == 1) {
			t.Errorf("%s: parity %d but odd=%v", s, SubjectParity(s), odd[s])
		}
	}
	if _, err := FilterSubjects(entries, "third"); !errors.Is(err, ErrManifest) {
		t.Errorf("bad half: %v", err)
	}
	if _, err := FilterSubjects(entries[:1], "even"); !errors.Is(err, ErrManifest) {
		t.Errorf("empty half: %v", err)
	}
}
