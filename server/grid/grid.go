// Package grid holds what a grid worker (网格员) works from: the visit rules
// of the 3456 rule as data (which residents are visited every week, every
// month, every half year, by their categories), the visit lists computed
// from the recorded visits, and the eligibility flags on the grid worker's
// list. docs/grid.md describes the rules and the grid worker's day.
package grid

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/qingshan-gov/veinkiosk/identity"
)

//go:embed visits.json
var defaultJSON []byte

// ErrInvalid: the rules document is malformed.
var ErrInvalid = errors.New("grid: invalid visit rules")

// Period is how often a rule's residents are visited: at least once in
// every calendar week (Monday to Sunday), month or half year (January to
// June, July to December), China time.
type Period string

// Periods.
const (
	Week     Period = "week"
	Month    Period = "month"
	HalfYear Period = "half_year"
)

// Periods lists the periods, shortest first.
var Periods = []Period{Week, Month, HalfYear}

// Name is the period's name in Chinese.
func (p Period) Name() string {
	switch p {
	case Week:
		return "本周"
	case Month:
		return "本月"
	case HalfYear:
		return "本半年"
	}
	return string(p)
}

// Rule is one visit rule: residents with any of Categories are visited
// once every Period; the last rule has no categories and covers everyone
// else.
type Rule struct {
	Code       string   `json:"code"`
	Name       string   `json:"name"`
	NameEN     string   `json:"name_en"`
	Period     Period   `json:"period"`
	Categories []string `json:"categories,omitempty"`
}

// Rules is a validated rules document.
type Rules struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	Rules   []Rule `json:"rules"`
}

var codeRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// Parse reads and validates a rules document: format
// veinkiosk-visit-rules/1, 1..16 rules with unique codes, known periods,
// each category in one rule only, every rule but the last with categories
// and the last without (the default). Unknown keys are refused.
func Parse(data []byte) (*Rules, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r Rules
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the document", ErrInvalid)
	}
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if r.Format != "veinkiosk-visit-rules/1" {
		add("format %q: want veinkiosk-visit-rules/1", r.Format)
	}
	if r.Version < 1 {
		add("version must be positive")
	}
	if len(r.Rules) == 0 || len(r.Rules) > 16 {
		add("rules: want 1..16")
	}
	codes, cats := map[string]bool{}, map[string]string{}
	for i, rule := range r.Rules {
		p := fmt.Sprintf("rules[%d]", i)
		if !codeRE.MatchString(rule.Code) || codes[rule.Code] {
			add("%s.code %q: want a unique [a-z][a-z0-9_]* code", p, rule.Code)
		}
		codes[rule.Code] = true
		if strings.TrimSpace(rule.Name) == "" || strings.TrimSpace(rule.NameEN) == "" {
			add("%s: name and name_en are required", p)
		}
		if !slices.Contains(Periods, rule.Period) {
			add("%s.period %q: want week, month or half_year", p, rule.Period)
		}
		last := i == len(r.Rules)-1
		if last != (len(rule.Categories) == 0) {
			add("%s.categories: every rule but the last names categories; the last (everyone else) none", p)
		}
		for _, c := range rule.Categories {
			if !codeRE.MatchString(c) {
				add("%s.categories: %q is not a category code", p, c)
			} else if other, dup := cats[c]; dup {
				add("%s.categories: %q is already in rule %s", p, c, other)
			}
			cats[c] = rule.Code
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, strings.Join(problems, "; "))
	}
	return &r, nil
}

// Default returns the embedded rules (visits.json).
func Default() *Rules {
	r, err := Parse(defaultJSON)
	if err != nil {
		panic("grid: the embedded visit rules are invalid: " + err.Error())
	}
	return r
}

// Categories lists every category a rule names.
func (r *Rules) Categories() []string {
	var out []string
	for _, rule := range r.Rules {
		out = append(out, rule.Categories...)
	}
	return out
}

// For returns the rule of a resident with these categories: the first rule
// naming one of them (the rules are ordered most frequent first), else the
// last.
func (r *Rules) For(categories []string) Rule {
	for _, rule := range r.Rules {
		for _, c := range rule.Categories {
			if slices.Contains(categories, c) {
				return rule
			}
		}
	}
	return r.Rules[len(r.Rules)-1]
}

// PeriodStart is the start (00:00 China time) of the period of p that
// holds now.
func PeriodStart(p Period, now time.Time) time.Time {
	t := now.In(identity.ChinaTime)
	y, m, d := t.Date()
	switch p {
	case Week:
		back := (int(t.Weekday()) + 6) % 7 // Monday is 0
		return time.Date(y, m, d-back, 0, 0, 0, 0, identity.ChinaTime)
	case Month:
		return time.Date(y, m, 1, 0, 0, 0, 0, identity.ChinaTime)
	default:
		if m >= time.July {
			return time.Date(y, time.July, 1, 0, 0, 0, 0, identity.ChinaTime)
		}
		return time.Date(y, time.January, 1, 0, 0, 0, 0, identity.ChinaTime)
	}
}

// Due reports whether a resident under rule, last visited at last (zero:
// never), is due a visit in the period that holds now: not visited since
// the period began.
func Due(rule Rule, last, now time.Time) bool {
	return last.IsZero() || last.Before(PeriodStart(rule.Period, now))
}
