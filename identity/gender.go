package identity

import "fmt"

// Gender is a GB/T 2261.1 sex code: "0" unknown, "1" male, "2" female, "9"
// unspecified. The raw code is kept even when it is not one of these.
type Gender string

// GB/T 2261.1 codes.
const (
	GenderUnknown     Gender = "0"
	GenderMale        Gender = "1"
	GenderFemale      Gender = "2"
	GenderUnspecified Gender = "9"
)

// Code returns the one-digit code.
func (g Gender) Code() string { return string(g) }

// Known reports whether g is one of the four codes.
func (g Gender) Known() bool {
	switch g {
	case GenderUnknown, GenderMale, GenderFemale, GenderUnspecified:
		return true
	}
	return false
}

// Name returns the Chinese name as printed on the card: 男, 女, 未知, 未说明.
func (g Gender) Name() string {
	switch g {
	case GenderUnknown:
		return "未知"
	case GenderMale:
		return "男"
	case GenderFemale:
		return "女"
	case GenderUnspecified:
		return "未说明"
	}
	return ""
}

// EnglishName returns "unknown", "male", "female" or "unspecified".
func (g Gender) EnglishName() string {
	switch g {
	case GenderUnknown:
		return "unknown"
	case GenderMale:
		return "male"
	case GenderFemale:
		return "female"
	case GenderUnspecified:
		return "unspecified"
	}
	return ""
}

func (g Gender) String() string {
	if n := g.Name(); n != "" {
		return n
	}
	return "gender " + string(g)
}

// MarshalText writes the Chinese name (男, 女, 未知, 未说明), or the raw code
// when it is not one of the four: the wire carries names.
func (g Gender) MarshalText() ([]byte, error) {
	if n := g.Name(); n != "" {
		return []byte(n), nil
	}
	return []byte(g), nil
}

// UnmarshalText reads a Chinese name or a one-digit code. Errors wrap
// ErrCardData.
func (g *Gender) UnmarshalText(b []byte) error {
	s := string(b)
	for _, c := range []Gender{GenderUnknown, GenderMale, GenderFemale, GenderUnspecified} {
		if s == c.Name() {
			*g = c
			return nil
		}
	}
	if s == "" || (len(s) == 1 && isDigits(s)) {
		*g = Gender(s)
		return nil
	}
	return fmt.Errorf("%w: gender %q", ErrCardData, s)
}

// Letter returns "M" for male, "F" for female and "" for the other codes:
// the form the population database, the store and the resident records of
// the API use.
func (g Gender) Letter() string {
	switch g {
	case GenderMale:
		return "M"
	case GenderFemale:
		return "F"
	}
	return ""
}

// GenderOfLetter returns the gender of a Letter ("M" or "F"), or "" for
// anything else.
func GenderOfLetter(l string) Gender {
	switch l {
	case "M":
		return GenderMale
	case "F":
		return GenderFemale
	}
	return ""
}
