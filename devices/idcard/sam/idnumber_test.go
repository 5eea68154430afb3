package sam

import (
	"errors"
	"testing"
	"time"
)

func TestCheckDigit(t *testing.T) {
	for first, want := range map[string]byte{
		"11010519491231002": 'X', // reference: sum 167
		"15020419900307123": '5', // reference: sum 227
		"91100084019800101": 0,   // computed below
	} {
		got, err := CheckDigit(first)
		if err != nil {
			t.Fatal(err)
		}
		if want != 0 && got != want {
			t.Errorf("CheckDigit(%s) = %c, want %c", first, got, want)
		}
	}
	for _, bad := range []string{"", "1101051949123100", "1101051949123100A"} {
		if _, err := CheckDigit(bad); !errors.Is(err, ErrIDNumberFormat) {
			t.Errorf("CheckDigit(%q): %v", bad, err)
		}
	}
}

func TestParseIDNumber(t *testing.T) {
	n, err := ParseIDNumber("150204199003071235")
	if err != nil {
		t.Fatal(err)
	}
	if n.Region != "150204" || !n.Birth.Equal(date(1990, 3, 7)) || n.Sequence != 123 || n.Gender() != GenderMale || n.Foreign {
		t.Fatalf("parsed %+v", n)
	}
	if n, err := ParseIDNumber("11010519491231002x"); err != nil || n.Gender() != GenderFemale {
		t.Fatalf("lower-case x: %+v %v", n, err)
	}
	// A 2023 foreign permanent resident number: 9, province, nationality,
	// birth date, sequence, same check character.
	first := "91112419800101001"
	c, _ := CheckDigit(first)
	if n, err := ParseIDNumber(first + string(c)); err != nil || !n.Foreign || !n.Birth.Equal(date(1980, 1, 1)) {
		t.Fatalf("foreign number: %+v %v", n, err)
	}
	for id, want := range map[string]error{
		"150204199003071234":  ErrIDNumberChecksum,
		"15020419900307123":   ErrIDNumberFormat,
		"1502041990030712355": ErrIDNumberFormat,
		"15020419901307123X":  ErrIDNumberFormat, // month 13
		"15020419900307123A":  ErrIDNumberFormat,
		"1502041990O307123X":  ErrIDNumberFormat,
	} {
		if _, err := ParseIDNumber(id); !errors.Is(err, want) {
			t.Errorf("ParseIDNumber(%s) = %v, want %v", id, err, want)
		}
	}
	if ValidIDNumber("150204199003071234") || !ValidIDNumber("150204199003071235") {
		t.Error("ValidIDNumber wrong")
	}
	id, err := MakeIDNumber("150204", date(2001, 12, 31), 42)
	if err != nil || id[:17] != "15020420011231042" || !ValidIDNumber(id) {
		t.Fatalf("MakeIDNumber = %s, %v", id, err)
	}
	if _, err := MakeIDNumber("1502", date(2001, 12, 31), 42); err == nil {
		t.Fatal("short region accepted")
	}
}

func TestValidate(t *testing.T) {
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	mod := func(f func(c *Card)) *Card {
		c := *residentCard
		f(&c)
		return &c
	}
	for _, tc := range []struct {
		name string
		card *Card
		at   time.Time
		want []error
	}{
		{"valid", residentCard, at, nil},
		{"bad check", mod(func(c *Card) { c.IDNumber = c.IDNumber[:17] + "0" }), at, []error{ErrIDNumberChecksum}},
		{"birth mismatch", mod(func(c *Card) { c.Birth = date(1990, 3, 8) }), at, []error{ErrBirthDateMismatch}},
		{"gender mismatch", mod(func(c *Card) { c.Gender = GenderFemale }), at, []error{ErrGenderMismatch}},
		{"gender unspecified is not a mismatch", mod(func(c *Card) { c.Gender = GenderUnspecified }), at, nil},
		{"expired", residentCard, date(2035, 6, 2), []error{ErrCardExpired}},
		{"last valid day (China time)", residentCard, time.Date(2035, 6, 1, 15, 59, 0, 0, time.UTC), nil},
		{"day after in China, still the last day in UTC", residentCard, time.Date(2035, 6, 1, 16, 1, 0, 0, time.UTC), []error{ErrCardExpired}},
		{"not yet valid", residentCard, date(2015, 5, 31), []error{ErrCardNotYetValid}},
		{"long term never expires", mod(func(c *Card) { c.LongTerm, c.ValidUntil = true, time.Time{} }), date(2090, 1, 1), nil},
		{"two problems", mod(func(c *Card) { c.Gender = GenderFemale }), date(2040, 1, 1), []error{ErrGenderMismatch, ErrCardExpired}},
		{"foreign 2017 shape", foreignCard, at, nil},
		{"foreign bad shape", func() *Card { c := *foreignCard; c.IDNumber = "C4N150080101011"; return &c }(), at, []error{ErrIDNumberFormat}},
		{"permit", permitCard, at, nil},
		{"permit with a mainland number", func() *Card {
			c := *permitCard
			c.IDNumber = residentCard.IDNumber
			c.Birth = residentCard.Birth
			return &c
		}(), at, []error{ErrIDNumberFormat}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.card.Validate(tc.at)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("Validate = %v; want %v", err, w)
				}
			}
			p, ok := Explain(err)
			if !ok || p != tc.want[0] {
				t.Errorf("Explain = %v, want %v", p, tc.want[0])
			}
		})
	}
}

func TestMaskIDNumber(t *testing.T) {
	for in, want := range map[string]string{
		"150204199003071235": "150204********1235",
		"CAN150080101011":    "CAN150*****1011",
		"12345":              "*****",
		"":                   "",
	} {
		if got := MaskIDNumber(in); got != want {
			t.Errorf("MaskIDNumber(%q) = %q, want %q", in, got, want)
		}
	}
}
