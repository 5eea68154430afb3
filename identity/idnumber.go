package identity

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/width"
)

var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

const checkChars = "10X98765432"

// CheckDigit returns the GB 11643-1999 (ISO 7064 MOD 11-2) check character
// of the first 17 digits of an 18-character ID number.
func CheckDigit(first17 string) (byte, error) {
	if len(first17) != 17 {
		return 0, fmt.Errorf("%w: need 17 digits, got %d characters", ErrIDNumberFormat, len(first17))
	}
	sum := 0
	for i := 0; i < 17; i++ {
		c := first17[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: character %d is %q, not a digit", ErrIDNumberFormat, i+1, c)
		}
		sum += int(c-'0') * idWeights[i]
	}
	return checkChars[sum%11], nil
}

// CanonicalIDNumber returns the canonical form of an ID number (or of the
// card number of a foreign permanent resident card) as a person or a device
// may have written it: full-width characters folded to ASCII ("１" to "1",
// "Ｘ" to "X"), surrounding white space trimmed, letters upper-cased (the
// check character "x" becomes "X"). It does not validate; ParseIDNumber
// does, and returns the canonical form.
//
// Every limiter, map key, store lookup and hash keyed on an ID number uses
// this form, so that the variants of one number are one identity.
func CanonicalIDNumber(s string) string {
	return strings.ToUpper(strings.TrimSpace(width.Fold.String(s)))
}

// IDNumber is a valid 18-character ID number in canonical form (resident
// card, Hong Kong/Macao/Taiwan residence permit, or 2023 foreign permanent
// resident card). Get one from ParseIDNumber or MakeIDNumber.
//
// String returns the masked number, so that an IDNumber printed into a log
// or an error by mistake does not leak it; string(n) is the number.
type IDNumber string

// ParseIDNumber canonicalises id (CanonicalIDNumber) and checks it: 17
// digits of which 7-14 are a real birth date, then the GB 11643 check
// character. The errors wrap ErrIDNumberFormat or ErrIDNumberChecksum and
// never quote the number.
func ParseIDNumber(id string) (IDNumber, error) {
	id = CanonicalIDNumber(id)
	if len(id) != 18 {
		return "", fmt.Errorf("%w: %d characters, want 18", ErrIDNumberFormat, utf8.RuneCountInString(id))
	}
	want, err := CheckDigit(id[:17])
	if err != nil {
		return "", err
	}
	got := id[17]
	if (got < '0' || got > '9') && got != 'X' {
		return "", fmt.Errorf("%w: the check character is not a digit or X", ErrIDNumberFormat)
	}
	if _, err := ParseCompactDate(id[6:14]); err != nil {
		return "", fmt.Errorf("%w: characters 7-14 are not a birth date", ErrIDNumberFormat)
	}
	if got != want {
		return "", fmt.Errorf("%w: the check character is not the one the digits give", ErrIDNumberChecksum)
	}
	return IDNumber(id), nil
}

// ValidIDNumber reports whether id is a valid ID number (in any form that
// canonicalises to one).
func ValidIDNumber(id string) bool {
	_, err := ParseIDNumber(id)
	return err == nil
}

// MakeIDNumber builds a valid ID number from a six-digit region, a birth
// date and a sequence (0-999; odd for men). It is what simulators use.
func MakeIDNumber(region string, birth Date, sequence int) (IDNumber, error) {
	if len(region) != 6 || !isDigits(region) || sequence < 0 || sequence > 999 || !birth.isReal() {
		return "", fmt.Errorf("%w: region %q, birth %v, sequence %d", ErrIDNumberFormat, region, birth, sequence)
	}
	first := fmt.Sprintf("%s%s%03d", region, birth.Compact(), sequence)
	c, err := CheckDigit(first)
	if err != nil {
		return "", err
	}
	return IDNumber(first + string(c)), nil
}

// The methods below read the parts of a valid number; on any other value
// (the zero IDNumber, a converted string) they return zero values.
func (n IDNumber) ok() bool { return len(n) == 18 && isDigits(string(n[:17])) }

// Region is the first six digits: the GB/T 2260 division code of the
// resident (150204 for 青山区, 810000 for a Hong Kong permit), or for a
// 2023 foreign permanent resident card "9" + province + nationality.
func (n IDNumber) Region() string {
	if !n.ok() {
		return ""
	}
	return string(n[:6])
}

// Birth returns the birth date the number encodes.
func (n IDNumber) Birth() Date {
	if !n.ok() {
		return 0
	}
	d, _ := ParseCompactDate(string(n[6:14]))
	return d
}

// Sequence returns the three-digit sequence: odd for men, even for women.
func (n IDNumber) Sequence() int {
	if !n.ok() {
		return 0
	}
	return int(n[14]-'0')*100 + int(n[15]-'0')*10 + int(n[16]-'0')
}

// Gender returns the gender that the sequence's parity encodes ("" for
// an invalid value).
func (n IDNumber) Gender() Gender {
	if !n.ok() {
		return ""
	}
	if n.Sequence()%2 == 1 {
		return GenderMale
	}
	return GenderFemale
}

// Foreign reports a number of a 2023 foreign permanent resident card (it
// starts with 9).
func (n IDNumber) Foreign() bool { return n.ok() && n[0] == '9' }

// HMT reports a number of a Hong Kong, Macao or Taiwan residence permit
// (region 810000, 820000 or 830000).
func (n IDNumber) HMT() bool {
	switch n.Region() {
	case "810000", "820000", "830000":
		return true
	}
	return false
}

// Masked returns MaskIDNumber(n).
func (n IDNumber) Masked() string { return MaskIDNumber(string(n)) }

// String returns the masked number (see IDNumber).
func (n IDNumber) String() string { return n.Masked() }

// MaskIDNumber is the one masking rule for showing an ID number (on a
// screen, in an API answer, in a log): the first six characters (the
// region) and the last four stay, every other character becomes '*'
// ("150204********1235"). A value of ten characters or fewer is all '*'.
// It counts characters, not bytes, and masks the number as given (mask a
// canonical number to show the canonical form).
func MaskIDNumber(id string) string {
	r := []rune(id)
	if len(r) <= 10 {
		return strings.Repeat("*", len(r))
	}
	return string(r[:6]) + strings.Repeat("*", len(r)-10) + string(r[len(r)-4:])
}
