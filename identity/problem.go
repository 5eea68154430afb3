package identity

import "errors"

// Problem is a sentinel error with a message that a kiosk can show to a
// resident, in Chinese and in English. The errors of this package wrap one,
// and so do those of the ID-card driver; find it with Explain or errors.As.
type Problem struct {
	// Code is a stable machine-readable identifier, e.g. "card_expired".
	Code string
	// Chinese is the message for the resident (Simplified Chinese).
	Chinese string
	// English is the message in English; it is also Error().
	English string
}

func (p *Problem) Error() string { return p.English }

// Explain returns the first Problem in err's chain, if any.
func Explain(err error) (*Problem, bool) {
	var p *Problem
	if errors.As(err, &p) {
		return p, true
	}
	return nil, false
}

// The errors of this package.
var (
	ErrIDNumberFormat = &Problem{Code: "id_number_format",
		Chinese: "身份证号码格式错误",
		English: "the ID number is malformed"}
	ErrIDNumberChecksum = &Problem{Code: "id_number_checksum",
		Chinese: "身份证号码校验位错误",
		English: "the ID number's check character is wrong"}
	ErrBirthDateMismatch = &Problem{Code: "birth_date_mismatch",
		Chinese: "出生日期与身份证号码不一致",
		English: "the birth date does not match the ID number"}
	ErrGenderMismatch = &Problem{Code: "gender_mismatch",
		Chinese: "性别与身份证号码不一致",
		English: "the gender does not match the ID number"}
	ErrCardExpired = &Problem{Code: "card_expired",
		Chinese: "身份证已超过有效期限，请到派出所换领新证",
		English: "the card has expired"}
	ErrCardNotYetValid = &Problem{Code: "card_not_yet_valid",
		Chinese: "身份证尚未到有效期起始日期",
		English: "the card is not valid yet"}
	// ErrCardData is a malformed field: a date that is not a date, a
	// validity period that ends before it starts, an unknown gender or
	// nation.
	ErrCardData = &Problem{Code: "card_data",
		Chinese: "身份证信息格式错误，请重新放置身份证",
		English: "the card's data is malformed"}
)

// Problems returns every Problem of this package, for tools that list them.
func Problems() []*Problem {
	return []*Problem{ErrIDNumberFormat, ErrIDNumberChecksum, ErrBirthDateMismatch,
		ErrGenderMismatch, ErrCardExpired, ErrCardNotYetValid, ErrCardData}
}
