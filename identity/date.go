package identity

import (
	"fmt"
	"strconv"
	"time"
)

// Date is a civil date (year, month, day) with no time of day and no zone,
// as printed on a card. Its value is the number YYYYMMDD (20240131 is 31
// January 2024), so dates compare with < and ==; 0 is no date. Make one with
// NewDate, ParseDate, ParseCompactDate, DateOf or ChinaDate; Valid reports
// whether a value is a real date.
type Date uint32

// LongTerm is the expiry of a card valid without limit (长期). It is later
// than every other date, so a long-term card never expires.
const LongTerm Date = 99991231

// LongTermText is how LongTerm is written on a card, in the SAM text block
// and on the wire.
const LongTermText = "长期"

// ChinaTime is UTC+8 (China has no daylight saving time): the days of card
// validity are days in it.
var ChinaTime = time.FixedZone("CST", 8*60*60)

// NewDate returns the date, or an error wrapping ErrCardData when it is not
// a real date of the years 1 to 9998.
func NewDate(year int, month time.Month, day int) (Date, error) {
	if year < 1 || year > 9998 {
		return 0, fmt.Errorf("%w: year %d out of range", ErrCardData, year)
	}
	t := time.Date(year, month, day, 0, 0, 0, 0, time.UTC)
	if t.Year() != year || t.Month() != month || t.Day() != day {
		return 0, fmt.Errorf("%w: %04d-%02d-%02d is not a date", ErrCardData, year, int(month), day)
	}
	return Date(year*10000 + int(month)*100 + day), nil
}

// DateOf returns the calendar date of t in t's location (the zero date for
// the zero time).
func DateOf(t time.Time) Date {
	if t.IsZero() {
		return 0
	}
	y, m, d := t.Date()
	if y < 1 || y > 9998 {
		return 0
	}
	return Date(y*10000 + int(m)*100 + d)
}

// ChinaDate returns the calendar date of t in China (ChinaTime): the day
// against which a card's validity is checked.
func ChinaDate(t time.Time) Date { return DateOf(t.In(ChinaTime)) }

// ParseDate parses "YYYY-MM-DD".
func ParseDate(s string) (Date, error) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, fmt.Errorf("%w: %q is not YYYY-MM-DD", ErrCardData, s)
	}
	return parseParts(s, s[:4], s[5:7], s[8:])
}

// ParseCompactDate parses "YYYYMMDD", as dates are written in the SAM text
// block and in an ID number.
func ParseCompactDate(s string) (Date, error) {
	if len(s) != 8 {
		return 0, fmt.Errorf("%w: %q is not YYYYMMDD", ErrCardData, s)
	}
	return parseParts(s, s[:4], s[4:6], s[6:])
}

func parseParts(s, ys, ms, ds string) (Date, error) {
	var v [3]int
	for i, p := range []string{ys, ms, ds} {
		if !isDigits(p) {
			return 0, fmt.Errorf("%w: %q is not a date", ErrCardData, s)
		}
		v[i], _ = strconv.Atoi(p)
	}
	d, err := NewDate(v[0], time.Month(v[1]), v[2])
	if err != nil {
		return 0, fmt.Errorf("%w: %q is not a date", ErrCardData, s)
	}
	return d, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// Year returns the year of d.
func (d Date) Year() int { return int(d / 10000) }

// Month returns the month of d.
func (d Date) Month() time.Month { return time.Month(d / 100 % 100) }

// Day returns the day of the month of d.
func (d Date) Day() int { return int(d % 100) }

// IsZero reports the zero date (no date).
func (d Date) IsZero() bool { return d == 0 }

// IsLongTerm reports LongTerm.
func (d Date) IsLongTerm() bool { return d == LongTerm }

// Valid reports whether d is a real date or LongTerm.
func (d Date) Valid() bool { return d == LongTerm || d.isReal() }

func (d Date) isReal() bool {
	_, err := NewDate(d.Year(), d.Month(), d.Day())
	return err == nil
}

func (d Date) parts() (int, int, int) { return d.Year(), int(d.Month()), d.Day() }

// Time returns midnight UTC of d (the zero time for the zero date).
func (d Date) Time() time.Time {
	if d == 0 {
		return time.Time{}
	}
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
}

// String returns "YYYY-MM-DD", LongTermText for LongTerm, "" for the zero
// date and "Date(N)" for a value that is not a date.
func (d Date) String() string {
	switch {
	case d == 0:
		return ""
	case d == LongTerm:
		return LongTermText
	case !d.isReal():
		return fmt.Sprintf("Date(%d)", uint32(d))
	}
	y, m, dd := d.parts()
	return fmt.Sprintf("%04d-%02d-%02d", y, m, dd)
}

// Compact returns "YYYYMMDD" (LongTermText for LongTerm), as the SAM text
// block writes dates.
func (d Date) Compact() string {
	if d == LongTerm {
		return LongTermText
	}
	y, m, dd := d.parts()
	return fmt.Sprintf("%04d%02d%02d", y, m, dd)
}

// AddDays returns the date n days after d (before, for a negative n).
func (d Date) AddDays(n int) Date { return DateOf(d.Time().AddDate(0, 0, n)) }

// AgeOn returns the age in whole years, on day on, of a person born on d
// (someone born on 29 February turns a year older on 1 March in common
// years). It is negative when on is before d.
func (d Date) AgeOn(on Date) int {
	age := on.Year() - d.Year()
	if on%10000 < d%10000 {
		age--
	}
	return age
}

// MarshalText writes String(); it fails for a value that is not a date.
func (d Date) MarshalText() ([]byte, error) {
	if d != 0 && !d.Valid() {
		return nil, fmt.Errorf("%w: %d is not a date", ErrCardData, uint32(d))
	}
	return []byte(d.String()), nil
}

// UnmarshalText reads "YYYY-MM-DD", LongTermText, or "" (the zero date).
// Errors wrap ErrCardData.
func (d *Date) UnmarshalText(b []byte) error {
	switch s := string(b); s {
	case "":
		*d = 0
	case LongTermText:
		*d = LongTerm
	default:
		v, err := ParseDate(s)
		if err != nil {
			return err
		}
		*d = v
	}
	return nil
}
