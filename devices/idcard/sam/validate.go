package sam

import (
	"errors"
	"fmt"
	"time"
)

// Validation errors, for a kiosk to show (see Explain).
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
)

// chinaTime is UTC+8 (China has no daylight saving time); card dates are
// civil dates in it.
var chinaTime = time.FixedZone("CST", 8*60*60)

func civilDay(t time.Time) time.Time {
	t = t.In(chinaTime)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

func sameDay(a, b time.Time) bool {
	return a.Year() == b.Year() && a.Month() == b.Month() && a.Day() == b.Day()
}

// Expired reports whether the card's last valid day was before the day of at
// (in China time).
func (c *Card) Expired(at time.Time) bool {
	return !c.LongTerm && civilDay(at).After(c.ValidUntil)
}

// NotYetValid reports whether the card's first valid day is after the day of
// at (in China time).
func (c *Card) NotYetValid(at time.Time) bool {
	return civilDay(at).Before(c.ValidFrom)
}

// CheckIDNumber validates the card's number: for resident cards, permits
// and 18-character foreign numbers the GB 11643 check character, the birth
// date and the sex parity (and, for permits, the 810000/820000/830000
// prefix of Hong Kong, Macao and Taiwan); for the 15-character numbers of 2017 foreign
// cards the shape (three letters, twelve digits).
func (c *Card) CheckIDNumber() error {
	id := c.IDNumber
	if c.Type == CardForeignPermanent && len(id) == 15 {
		for i := 0; i < 15; i++ {
			ch := id[i]
			if (i < 3 && (ch < 'A' || ch > 'Z')) || (i >= 3 && (ch < '0' || ch > '9')) {
				return fmt.Errorf("%w: foreign card number %q is not 3 letters and 12 digits", ErrIDNumberFormat, id)
			}
		}
		return nil
	}
	n, err := ParseIDNumber(id)
	if err != nil {
		return err
	}
	var errs []error
	if c.Type == CardHMTPermit && n.Region != "810000" && n.Region != "820000" && n.Region != "830000" {
		errs = append(errs, fmt.Errorf("%w: a residence permit number starts with 810000, 820000 or 830000, not %s", ErrIDNumberFormat, n.Region))
	}
	if !sameDay(n.Birth, c.Birth) {
		errs = append(errs, fmt.Errorf("%w: number says %s, card says %s", ErrBirthDateMismatch,
			n.Birth.Format("2006-01-02"), c.Birth.Format("2006-01-02")))
	}
	if (c.Gender == GenderMale || c.Gender == GenderFemale) && c.Gender != n.Gender() {
		errs = append(errs, fmt.Errorf("%w: sequence %03d is for %s, card says %s", ErrGenderMismatch,
			n.Sequence, n.Gender().EnglishName(), c.Gender.EnglishName()))
	}
	return errors.Join(errs...)
}

// Validate checks the ID number (CheckIDNumber) and the validity period at
// time at. It returns nil or an error joining every problem found; each
// wraps one of ErrIDNumberFormat, ErrIDNumberChecksum, ErrBirthDateMismatch,
// ErrGenderMismatch, ErrCardExpired, ErrCardNotYetValid.
func (c *Card) Validate(at time.Time) error {
	var errs []error
	if err := c.CheckIDNumber(); err != nil {
		errs = append(errs, err)
	}
	if c.Expired(at) {
		errs = append(errs, fmt.Errorf("%w: valid until %s", ErrCardExpired, c.ValidUntil.Format("2006-01-02")))
	}
	if c.NotYetValid(at) {
		errs = append(errs, fmt.Errorf("%w: valid from %s", ErrCardNotYetValid, c.ValidFrom.Format("2006-01-02")))
	}
	return errors.Join(errs...)
}
