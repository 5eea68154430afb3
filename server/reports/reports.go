// Package reports holds the residents' issue reports as data: the kinds of
// problem a resident may report at a station (illegal building, noise, cold
// radiators, questions about 低保 …), each routed to one of the units that
// process them, with its deadline; and the check of a report's photo.
// docs/reports.md describes the document.
package reports

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// Format is the format tag of the kinds document.
const Format = "veinkiosk-report-kinds/1"

// Unit processes reports (the same codes as the service catalogue's units).
type Unit struct {
	Code   string `json:"code"`
	Name   string `json:"name"`
	NameEn string `json:"name_en"`
}

// Kind is one kind of problem.
type Kind struct {
	Code         string `json:"code"`
	Name         string `json:"name"`
	NameEn       string `json:"name_en"`
	Unit         string `json:"unit"`
	DeadlineDays int    `json:"deadline_days"`
}

// Kinds is the document: units and the kinds routed to them.
type Kinds struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	Units   []Unit `json:"units"`
	Kinds   []Kind `json:"kinds"`

	kinds map[string]int
	units map[string]int
}

// ErrInvalid is wrapped by every problem Parse finds.
var ErrInvalid = errors.New("reports: invalid kinds document")

var codeRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

//go:embed kinds.json
var defaultJSON []byte

// Default returns the embedded kinds (27 kinds, 13 units).
func Default() *Kinds {
	k, err := Parse(defaultJSON)
	if err != nil {
		panic(err) // the embedded document is checked by the tests
	}
	return k
}

// Parse decodes and validates a kinds document, naming every problem with
// its JSON path. Unknown keys are refused.
func Parse(b []byte) (*Kinds, error) {
	var k Kinds
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&k); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the document", ErrInvalid)
	}
	var probs []string
	bad := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	if k.Format != Format {
		bad("format: %q, want %q", k.Format, Format)
	}
	if k.Version < 1 {
		bad("version: %d, want a positive integer", k.Version)
	}
	k.units = map[string]int{}
	for i, u := range k.Units {
		switch {
		case !codeRE.MatchString(u.Code):
			bad("units[%d].code: %q is not [a-z][a-z0-9_]*", i, u.Code)
		case k.units[u.Code] != 0:
			bad("units[%d].code: %q repeated", i, u.Code)
		}
		if strings.TrimSpace(u.Name) == "" || strings.TrimSpace(u.NameEn) == "" {
			bad("units[%d]: name and name_en are required", i)
		} else if hasHan(u.NameEn) {
			bad("units[%d].name_en: %q has Chinese characters (the English screen shows it)", i, u.NameEn)
		}
		k.units[u.Code] = i + 1
	}
	if len(k.Units) == 0 {
		bad("units: none")
	}
	k.kinds = map[string]int{}
	for i, kd := range k.Kinds {
		switch {
		case !codeRE.MatchString(kd.Code):
			bad("kinds[%d].code: %q is not [a-z][a-z0-9_]*", i, kd.Code)
		case k.kinds[kd.Code] != 0:
			bad("kinds[%d].code: %q repeated", i, kd.Code)
		}
		if strings.TrimSpace(kd.Name) == "" || strings.TrimSpace(kd.NameEn) == "" {
			bad("kinds[%d]: name and name_en are required", i)
		} else if hasHan(kd.NameEn) {
			bad("kinds[%d].name_en: %q has Chinese characters (the English screen shows it)", i, kd.NameEn)
		}
		if k.units[kd.Unit] == 0 {
			bad("kinds[%d].unit: %q is not one of the units", i, kd.Unit)
		}
		if kd.DeadlineDays < 1 || kd.DeadlineDays > 365 {
			bad("kinds[%d].deadline_days: %d, want 1..365", i, kd.DeadlineDays)
		}
		k.kinds[kd.Code] = i + 1
	}
	if len(k.Kinds) == 0 {
		bad("kinds: none")
	}
	if len(probs) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, strings.Join(probs, "; "))
	}
	return &k, nil
}

// Kind returns the kind with the code.
func (k *Kinds) Kind(code string) (Kind, bool) {
	i := k.kinds[code]
	if i == 0 {
		return Kind{}, false
	}
	return k.Kinds[i-1], true
}

// Unit returns the unit with the code.
func (k *Kinds) Unit(code string) (Unit, bool) {
	i := k.units[code]
	if i == 0 {
		return Unit{}, false
	}
	return k.Units[i-1], true
}

// hasHan reports whether s has a Han (Chinese) character.
func hasHan(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.Is(unicode.Han, r) }) >= 0
}
