package sam

import (
	"fmt"
	"strings"
	"time"
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

// IDNumber is what an 18-character ID number encodes.
type IDNumber struct {
	// Region is the first six digits: the GB/T 2260 division code of the
	// resident (150204 for 青山区, 810000 for a Hong Kong permit), or for a
	// 2023 foreign permanent resident card "9" + province + nationality.
	Region string
	// Birth is the birth date (civil date, UTC midnight).
	Birth time.Time
	// Sequence is the three-digit sequence: odd for men, even for women.
	Sequence int
	// Foreign is true for a number starting with 9 (2023 foreign permanent
	// resident card).
	Foreign bool
}

// Gender returns the gender that the sequence's parity encodes.
func (n IDNumber) Gender() Gender {
	if n.Sequence%2 == 1 {
		return GenderMale
	}
	return GenderFemale
}

// ParseIDNumber checks an 18-character ID number (resident card, Hong
// Kong/Macao/Taiwan residence permit, or 2023 foreign permanent resident
// card) and returns its parts. A lower-case x check character is accepted.
// The errors wrap ErrIDNumberFormat or ErrIDNumberChecksum.
func ParseIDNumber(id string) (IDNumber, error) {
	if len(id) != 18 {
		return IDNumber{}, fmt.Errorf("%w: %d characters, want 18", ErrIDNumberFormat, len(id))
	}
	want, err := CheckDigit(id[:17])
	if err != nil {
		return IDNumber{}, err
	}
	got := id[17]
	if got == 'x' {
		got = 'X'
	}
	if (got < '0' || got > '9') && got != 'X' {
		return IDNumber{}, fmt.Errorf("%w: check character %q", ErrIDNumberFormat, id[17])
	}
	birth, err := time.Parse("20060102", id[6:14])
	if err != nil {
		return IDNumber{}, fmt.Errorf("%w: birth date %q is not a date", ErrIDNumberFormat, id[6:14])
	}
	if got != want {
		return IDNumber{}, fmt.Errorf("%w: check character is %q, the digits give %q", ErrIDNumberChecksum, id[17], want)
	}
	seq := int(id[14]-'0')*100 + int(id[15]-'0')*10 + int(id[16]-'0')
	return IDNumber{Region: id[:6], Birth: birth, Sequence: seq, Foreign: id[0] == '9'}, nil
}

// ValidIDNumber reports whether id is a well-formed 18-character number
// with a correct check character.
func ValidIDNumber(id string) bool {
	_, err := ParseIDNumber(id)
	return err == nil
}

// MakeIDNumber builds a valid ID number from a six-digit region, a birth
// date and a sequence (0-999; odd for men). It is what simulators use.
func MakeIDNumber(region string, birth time.Time, sequence int) (string, error) {
	if len(region) != 6 || sequence < 0 || sequence > 999 {
		return "", fmt.Errorf("%w: region %q, sequence %d", ErrIDNumberFormat, region, sequence)
	}
	first := fmt.Sprintf("%s%s%03d", region, birth.Format("20060102"), sequence)
	c, err := CheckDigit(first)
	if err != nil {
		return "", err
	}
	return first + string(c), nil
}

// MaskIDNumber hides the middle of an ID number for logs and screens
// ("150204********1235"): the region and the last four characters stay.
func MaskIDNumber(id string) string {
	if len(id) <= 10 {
		return strings.Repeat("*", len(id))
	}
	return id[:6] + strings.Repeat("*", len(id)-10) + id[len(id)-4:]
}
