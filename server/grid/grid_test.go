package grid

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/catalogue"
)

// TestVisitRulesUseCatalogueCategories: every category a visit rule names
// is one of the catalogue's (what a grid worker may set).
func TestVisitRulesUseCatalogueCategories(t *testing.T) {
	var codes []string
	for _, n := range catalogue.Default().Categories() {
		codes = append(codes, n.Code)
	}
	for _, c := range Default().Categories() {
		if !slices.Contains(codes, c) {
			t.Errorf("visit rule category %q is not in the catalogue's categories %v", c, codes)
		}
	}
}

func TestDefault(t *testing.T) {
	r := Default()
	if len(r.Rules) != 3 || r.Rules[0].Period != Week || r.Rules[1].Period != Month || r.Rules[2].Period != HalfYear {
		t.Fatalf("rules %+v", r.Rules)
	}
	for _, tc := range []struct {
		cats []string
		want Period
	}{
		{nil, HalfYear},
		{[]string{"pensioner"}, HalfYear},
		{[]string{"elderly_alone"}, Month},
		{[]string{"disabled", "floating"}, Week},
		{[]string{"dibao"}, Month},
	} {
		if got := r.For(tc.cats).Period; got != tc.want {
			t.Errorf("For(%v) = %s, want %s", tc.cats, got, tc.want)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for name, doc := range map[string]string{
		"format":          `{"format":"x","version":1,"rules":[{"code":"a","name":"a","name_en":"a","period":"week"}]}`,
		"period":          `{"format":"veinkiosk-visit-rules/1","version":1,"rules":[{"code":"a","name":"a","name_en":"a","period":"day"}]}`,
		"no default":      `{"format":"veinkiosk-visit-rules/1","version":1,"rules":[{"code":"a","name":"a","name_en":"a","period":"week","categories":["x"]}]}`,
		"default first":   `{"format":"veinkiosk-visit-rules/1","version":1,"rules":[{"code":"a","name":"a","name_en":"a","period":"week"},{"code":"b","name":"b","name_en":"b","period":"month"}]}`,
		"category twice":  `{"format":"veinkiosk-visit-rules/1","version":1,"rules":[{"code":"a","name":"a","name_en":"a","period":"week","categories":["x"]},{"code":"b","name":"b","name_en":"b","period":"month","categories":["x"]},{"code":"c","name":"c","name_en":"c","period":"half_year"}]}`,
		"unknown key":     `{"format":"veinkiosk-visit-rules/1","version":1,"rules":[],"extra":1}`,
		"duplicate code":  `{"format":"veinkiosk-visit-rules/1","version":1,"rules":[{"code":"a","name":"a","name_en":"a","period":"week","categories":["x"]},{"code":"a","name":"a","name_en":"a","period":"month"}]}`,
		"trailing data":   `{"format":"veinkiosk-visit-rules/1","version":1,"rules":[{"code":"a","name":"a","name_en":"a","period":"week"}]} {}`,
		"missing name_en": `{"format":"veinkiosk-visit-rules/1","version":1,"rules":[{"code":"a","name":"a","period":"week"}]}`,
	} {
		if _, err := Parse([]byte(doc)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func china(y int, m time.Month, d, h int) time.Time {
	return time.Date(y, m, d, h, 0, 0, 0, identity.ChinaTime)
}

func TestPeriodStartAndDue(t *testing.T) {
	now := china(2026, time.December, 6, 10) // a Sunday
	for _, tc := range []struct {
		p    Period
		want time.Time
	}{
		{Week, china(2026, time.November, 30, 0)},
		{Month, china(2026, time.December, 1, 0)},
		{HalfYear, china(2026, time.July, 1, 0)},
	} {
		if got := PeriodStart(tc.p, now); !got.Equal(tc.want) {
			t.Errorf("PeriodStart(%s) = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := PeriodStart(Week, china(2026, time.December, 7, 0)); !got.Equal(china(2026, time.December, 7, 0)) {
		t.Errorf("a Monday starts its week: %v", got)
	}
	if got := PeriodStart(HalfYear, china(2026, time.March, 3, 0)); !got.Equal(china(2026, time.January, 1, 0)) {
		t.Errorf("first half: %v", got)
	}
	// 23:30 UTC on Sunday is Monday in China: a new week.
	if got := PeriodStart(Week, time.Date(2026, time.December, 6, 16, 30, 0, 0, time.UTC)); !got.Equal(china(2026, time.December, 7, 0)) {
		t.Errorf("China time: %v", got)
	}
	weekly := Rule{Period: Week}
	for _, tc := range []struct {
		last time.Time
		want bool
	}{
		{time.Time{}, true},
		{china(2026, time.November, 29, 23), true},
		{china(2026, time.November, 30, 0), false},
		{china(2026, time.December, 5, 9), false},
	} {
		if got := Due(weekly, tc.last, now); got != tc.want {
			t.Errorf("Due(week, %v) = %v, want %v", tc.last, got, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(defaultJSON)
	f.Add([]byte(`{"format":"veinkiosk-visit-rules/1","version":1,"rules":[{"code":"a","name":"a","name_en":"a","period":"week"}]}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		last := r.Rules[len(r.Rules)-1]
		if len(last.Categories) != 0 || r.For([]string{"no-such-category"}).Code != last.Code {
			t.Fatalf("accepted rules without a default: %+v", r.Rules)
		}
	})
}
