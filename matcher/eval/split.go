package eval

import (
	"fmt"
	"hash/fnv"
	"strconv"
)

// Subject halves of a manifest, so that settings can be tuned on one half
// and reported on the other (docs/evaluation.md, "Tuning and checking
// halves"). A subject whose label is a decimal number is odd or even by
// that number (FV-USM's 001..060, NUPT's 001..010); any other label by the
// FNV-1a hash of the label. The split is deterministic and needs no file.
const (
	SubjectsAll  = "all"
	SubjectsOdd  = "odd"  // the tuning half
	SubjectsEven = "even" // the checking half
)

// SubjectParity returns 1 for an odd subject label, 0 for an even one.
func SubjectParity(subject string) int {
	if n, err := strconv.ParseUint(subject, 10, 64); err == nil {
		return int(n & 1)
	}
	h := fnv.New32a()
	h.Write([]byte(subject))
	return int(h.Sum32() & 1)
}

// FilterSubjects keeps the entries of one half: "odd", "even" or "all"
// (or "").
func FilterSubjects(entries []Entry, half string) ([]Entry, error) {
	var want int
	switch half {
	case "", SubjectsAll:
		return entries, nil
	case SubjectsOdd:
		want = 1
	case SubjectsEven:
		want = 0
	default:
		return nil, fmt.Errorf("%w: subjects %q (want all, odd or even)", ErrManifest, half)
	}
	var out []Entry
	for _, e := range entries {
		if SubjectParity(e.Subject) == want {
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no %s subjects", ErrManifest, half)
	}
	return out, nil
}
