package identity

import (
	"errors"
	"fmt"
	"time"
)

// CardType is the kind of identity card.
type CardType int

// Card types, as the SAM reader tells them apart.
const (
	CardResident         CardType = iota // 居民身份证
	CardForeignPermanent                 // 外国人永久居留身份证 (2017 layout, type 'I')
	CardHMTPermit                        // 港澳台居民居住证 (type 'J')
)

// String returns "resident", "foreign_permanent" or "hmt_permit".
func (t CardType) String() string {
	switch t {
	case CardResident:
		return "resident"
	case CardForeignPermanent:
		return "foreign_permanent"
	case CardHMTPermit:
		return "hmt_permit"
	}
	return fmt.Sprintf("CardType(%d)", int(t))
}

// ChineseName returns the name of the card type in Chinese.
func (t CardType) ChineseName() string {
	switch t {
	case CardResident:
		return "居民身份证"
	case CardForeignPermanent:
		return "外国人永久居留身份证"
	case CardHMTPermit:
		return "港澳台居民居住证"
	}
	return ""
}

// Validity is the validity period of a card: its first and its last valid
// day (both included), Until being LongTerm for a card without expiry. The
// days are days in China (ChinaTime).
type Validity struct {
	From  Date `json:"valid_from"`
	Until Date `json:"valid_until"`
}

// LongTerm reports a card valid without limit (长期).
func (v Validity) LongTerm() bool { return v.Until == LongTerm }

// Expired reports whether the last valid day is before the day of at in
// China. A card with no Until (zero) counts as expired.
func (v Validity) Expired(at time.Time) bool { return ChinaDate(at) > v.Until }

// NotYetValid reports whether the first valid day is after the day of at in
// China.
func (v Validity) NotYetValid(at time.Time) bool { return ChinaDate(at) < v.From }

// Check reports a malformed period: From not a date, Until neither a date
// nor LongTerm, or Until before From. The error wraps ErrCardData.
func (v Validity) Check() error {
	switch {
	case !v.From.isReal():
		return fmt.Errorf("%w: valid from %q is not a date", ErrCardData, v.From.String())
	case v.Until != LongTerm && !v.Until.isReal():
		return fmt.Errorf("%w: valid until %q is neither a date nor %s", ErrCardData, v.Until.String(), LongTermText)
	case v.Until < v.From:
		return fmt.Errorf("%w: valid until %s is before valid from %s", ErrCardData, v.Until, v.From)
	}
	return nil
}

// Card is the content of an identity card: what the SAM reader decodes,
// the simulators encode, the kiosk holds in memory (never on disk) and sends
// to the server, and the server checks.
//
// Its JSON encoding is the card of the apiv1 wire format (docs/api.md):
// id_number, name, sex (男/女), nation (its name, 汉), birth_date,
// address, issuing_authority, valid_from and valid_until (YYYY-MM-DD, or
// 长期). The fields tagged "-" (card type, the fields of foreign cards and
// permits, photo, fingerprint) stay at the kiosk.
type Card struct {
	Type CardType `json:"-"`
	// IDNumber is the number as read: the 18-character citizen ID number
	// (resident card, permit, 2023 foreign card) or the 15-character card
	// number of a 2017 foreign permanent resident card. It is not
	// canonicalised; CheckIDNumber and ParseIDNumber are.
	IDNumber string `json:"id_number"`
	// Name is the name in Chinese (for a foreign card, its Chinese name
	// field, which may be empty; see DisplayName).
	Name string `json:"name"`
	// Gender is the GB/T 2261.1 code.
	Gender Gender `json:"sex,omitempty"`
	// Nation is the GB 3304 code (resident cards; empty on the others).
	Nation Nation `json:"nation,omitempty"`
	Birth  Date   `json:"birth_date,omitempty"`
	// Address is the registered address (resident cards and permits).
	Address string `json:"address,omitempty"`
	// Authority is the issuing authority (签发机关); on a foreign card, its
	// issuing authority code.
	Authority string `json:"issuing_authority,omitempty"`
	Validity
	// EnglishName is the name on a foreign permanent resident card.
	EnglishName string `json:"-"`
	// Nationality is the ISO 3166-1 alpha-3 code on a foreign card.
	Nationality string `json:"-"`
	// CardVersion is the two-character version of a foreign card.
	CardVersion string `json:"-"`
	// PassNumber (通行证号码) and IssueCount (签发次数) are on a Hong
	// Kong/Macao/Taiwan residence permit.
	PassNumber string `json:"-"`
	IssueCount int    `json:"-"`
	// Photo is the raw WLT photo as read (1024 bytes); decoding it needs
	// the vendor's licensed library, so it is kept as it is.
	Photo []byte `json:"-"`
	// Fingerprint is the raw fingerprint data (two 512-byte templates in a
	// proprietary format) of a read with fingerprints, or nil.
	Fingerprint []byte `json:"-"`
}

// DisplayName returns the Chinese name, or the English name of a foreign
// card without one.
func (c *Card) DisplayName() string {
	if c.Name != "" {
		return c.Name
	}
	return c.EnglishName
}

// Masked returns the card's number masked for display (MaskIDNumber of its
// canonical form).
func (c *Card) Masked() string { return MaskIDNumber(CanonicalIDNumber(c.IDNumber)) }

// CheckIDNumber validates the card's number: for resident cards, permits
// and 18-character foreign numbers the GB 11643 check character, the birth
// date (when the card has one) and the sex parity (and, for permits, the
// 810000/820000/830000 prefix of Hong Kong, Macao and Taiwan); for the
// 15-character numbers of 2017 foreign cards the shape (three letters,
// twelve digits). It returns nil or an error joining every problem found.
// The number may be in any form that canonicalises to a valid one; use
// ParseIDNumber for its canonical form.
func (c *Card) CheckIDNumber() error {
	if c.Type == CardForeignPermanent {
		if id := CanonicalIDNumber(c.IDNumber); len(id) == 15 {
			for i := 0; i < 15; i++ {
				ch := id[i]
				if (i < 3 && (ch < 'A' || ch > 'Z')) || (i >= 3 && (ch < '0' || ch > '9')) {
					return fmt.Errorf("%w: a foreign card number is 3 letters and 12 digits", ErrIDNumberFormat)
				}
			}
			return nil
		}
	}
	n, err := ParseIDNumber(c.IDNumber)
	if err != nil {
		return err
	}
	var errs []error
	if c.Type == CardHMTPermit && !n.HMT() {
		errs = append(errs, fmt.Errorf("%w: a residence permit number starts with 810000, 820000 or 830000", ErrIDNumberFormat))
	}
	if c.Birth != 0 && n.Birth() != c.Birth {
		errs = append(errs, fmt.Errorf("%w: the number says %s, the card says %s", ErrBirthDateMismatch, n.Birth(), c.Birth))
	}
	if (c.Gender == GenderMale || c.Gender == GenderFemale) && c.Gender != n.Gender() {
		errs = append(errs, fmt.Errorf("%w: the sequence is for %s, the card says %s", ErrGenderMismatch,
			n.Gender().EnglishName(), c.Gender.EnglishName()))
	}
	return errors.Join(errs...)
}

// Validate checks the ID number (CheckIDNumber), the validity period
// (Check) and that the day of at (in China) is within it. It returns nil or
// an error joining every problem found; each wraps one of
// ErrIDNumberFormat, ErrIDNumberChecksum, ErrBirthDateMismatch,
// ErrGenderMismatch, ErrCardData, ErrCardExpired, ErrCardNotYetValid.
func (c *Card) Validate(at time.Time) error {
	var errs []error
	if err := c.CheckIDNumber(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Validity.Check(); err != nil {
		errs = append(errs, err)
	} else {
		if c.Expired(at) {
			errs = append(errs, fmt.Errorf("%w: valid until %s", ErrCardExpired, c.Until))
		}
		if c.NotYetValid(at) {
			errs = append(errs, fmt.Errorf("%w: valid from %s", ErrCardNotYetValid, c.From))
		}
	}
	return errors.Join(errs...)
}

// ParseCardType returns the card type that String names ("resident",
// "foreign_permanent", "hmt_permit").
func ParseCardType(s string) (CardType, error) {
	for _, t := range []CardType{CardResident, CardForeignPermanent, CardHMTPermit} {
		if s == t.String() {
			return t, nil
		}
	}
	return 0, fmt.Errorf("%w: card type %q", ErrCardData, s)
}
