package sam

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// Sizes of the blocks of a read response.
const (
	TextLen        = 256
	PhotoLen       = 1024 // WLT-compressed photo
	FingerprintLen = 1024 // two 512-byte templates
)

// CardType is the kind of card, told by the letter at byte 248 of the text
// block.
type CardType int

// Card types.
const (
	CardResident         CardType = iota // 居民身份证
	CardForeignPermanent                 // 外国人永久居留身份证, type 'I' (2017 layout)
	CardHMTPermit                        // 港澳台居民居住证, type 'J'
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

// Card is the content of an ID card as the SAM returns it. Dates are civil
// dates (midnight UTC); use their year, month and day.
type Card struct {
	Type CardType
	// Name is the name in Chinese (for a foreign card, its Chinese name
	// field, which may be empty).
	Name string
	// EnglishName is the name on a foreign permanent resident card.
	EnglishName string
	Gender      Gender
	// Nation is the GB 3304 code (resident cards; empty on the others).
	Nation Nation
	Birth  time.Time
	// Address is the registered address (resident cards and permits).
	Address string
	// IDNumber is the 18-character citizen ID number (resident card,
	// permit) or the card number of a foreign permanent resident card.
	IDNumber string
	// Authority is the issuing authority (签发机关); on a foreign card, its
	// issuing authority code.
	Authority string
	ValidFrom time.Time
	// ValidUntil is the last day of validity; zero when LongTerm.
	ValidUntil time.Time
	// LongTerm is true for a card valid without limit (长期).
	LongTerm bool
	// Nationality is the ISO 3166-1 alpha-3 code on a foreign card.
	Nationality string
	// CardVersion is the two-character version of a foreign card.
	CardVersion string
	// PassNumber (通行证号码) and IssueCount (签发次数) are on a Hong
	// Kong/Macao/Taiwan residence permit.
	PassNumber string
	IssueCount int
	// Photo is the raw WLT photo as read (1024 bytes); decoding it needs
	// the vendor's licensed library, so it is kept as it is.
	Photo []byte
	// Fingerprint is the raw fingerprint data (two 512-byte templates in a
	// proprietary format) of a 30 10 read, or nil.
	Fingerprint []byte
}

// LongTermText is the valid-until text of a card without expiry.
const LongTermText = "长期"

// Errors about the text block.
var (
	ErrText = &Problem{Code: "card_data",
		Chinese: "身份证信息格式错误，请重新放置身份证",
		English: "the card's text block is malformed"}
	ErrFieldTooLong = &Problem{Code: "field_too_long",
		Chinese: "证件信息超出字段长度",
		English: "a card field is too long for the text block"}
)

type field struct {
	name string
	size int // bytes
}

// Layouts, in bytes (two per UCS-2 character).
var (
	residentLayout = []field{
		{"name", 30}, {"gender", 2}, {"nation", 4}, {"birth date", 16},
		{"address", 70}, {"ID number", 36}, {"authority", 30},
		{"valid from", 16}, {"valid until", 16}, {"reserved", 36},
	}
	foreignLayout = []field{
		{"English name", 120}, {"gender", 2}, {"card number", 30},
		{"nationality", 6}, {"Chinese name", 30}, {"valid from", 16},
		{"valid until", 16}, {"birth date", 16}, {"version", 4},
		{"authority code", 8}, {"type", 2}, {"reserved", 6},
	}
	permitLayout = []field{
		{"name", 30}, {"gender", 2}, {"nation", 4}, {"birth date", 16},
		{"address", 70}, {"ID number", 36}, {"authority", 30},
		{"valid from", 16}, {"valid until", 16}, {"pass number", 18},
		{"issue count", 4}, {"reserved", 6}, {"type", 2}, {"reserved", 6},
	}
)

// TypeOffset is where the type letter sits in the text block.
const TypeOffset = 248

// decodeUCS2 decodes UCS-2 (UTF-16) little-endian text and trims the padding
// (spaces and NULs) at its end.
func decodeUCS2(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
	}
	return strings.TrimRight(string(utf16.Decode(u)), " \x00")
}

// putUCS2 writes s into b as UTF-16 LE padded with spaces.
func putUCS2(b []byte, name, s string) error {
	u := utf16.Encode([]rune(s))
	if 2*len(u) > len(b) {
		return fmt.Errorf("%w: %s %q needs %d bytes, the field has %d", ErrFieldTooLong, name, s, 2*len(u), len(b))
	}
	for i := 0; i < len(b)/2; i++ {
		c := uint16(' ')
		if i < len(u) {
			c = u[i]
		}
		b[2*i], b[2*i+1] = byte(c), byte(c>>8)
	}
	return nil
}

func split(text []byte, layout []field) map[string]string {
	out := make(map[string]string, len(layout))
	off := 0
	for _, f := range layout {
		if f.name != "reserved" {
			out[f.name] = decodeUCS2(text[off : off+f.size])
		}
		off += f.size
	}
	return out
}

func parseDate(name, s string) (time.Time, error) {
	if len(s) != 8 {
		return time.Time{}, fmt.Errorf("%w: %s %q is not YYYYMMDD", ErrText, name, s)
	}
	t, err := time.Parse("20060102", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %s %q is not a date", ErrText, name, s)
	}
	return t, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// DecodeText decodes a 256-byte text block. Photo and Fingerprint of the
// result are nil. Errors wrap ErrText or ErrUnknownCardType.
func DecodeText(text []byte) (*Card, error) {
	if len(text) != TextLen {
		return nil, fmt.Errorf("%w: text block of %d bytes, want %d", ErrText, len(text), TextLen)
	}
	letter := decodeUCS2(text[TypeOffset : TypeOffset+2])
	var c *Card
	var err error
	switch letter {
	case "":
		c, err = decodeResident(split(text, residentLayout), CardResident)
	case "I":
		c, err = decodeForeign(split(text, foreignLayout))
	case "J":
		c, err = decodeResident(split(text, permitLayout), CardHMTPermit)
	default:
		return nil, fmt.Errorf("%w: type letter %q at offset %d", ErrUnknownCardType, letter, TypeOffset)
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

func decodeGender(s string) (Gender, error) {
	if len(s) != 1 || !isDigits(s) {
		return "", fmt.Errorf("%w: gender code %q", ErrText, s)
	}
	return Gender(s), nil
}

func decodeValidity(c *Card, f map[string]string) error {
	var err error
	if c.ValidFrom, err = parseDate("valid from", f["valid from"]); err != nil {
		return err
	}
	if f["valid until"] == LongTermText {
		c.LongTerm = true
		return nil
	}
	if c.ValidUntil, err = parseDate("valid until", f["valid until"]); err != nil {
		return err
	}
	if c.ValidUntil.Before(c.ValidFrom) {
		return fmt.Errorf("%w: valid until %s is before valid from %s", ErrText, f["valid until"], f["valid from"])
	}
	return nil
}

func decodeResident(f map[string]string, t CardType) (*Card, error) {
	c := &Card{Type: t, Name: f["name"], Address: f["address"], IDNumber: f["ID number"], Authority: f["authority"]}
	var err error
	if c.Gender, err = decodeGender(f["gender"]); err != nil {
		return nil, err
	}
	switch n := f["nation"]; {
	case len(n) == 2 && isDigits(n):
		c.Nation = Nation(n)
	case n == "" && t == CardHMTPermit:
	default:
		return nil, fmt.Errorf("%w: nation code %q", ErrText, n)
	}
	if c.Birth, err = parseDate("birth date", f["birth date"]); err != nil {
		return nil, err
	}
	if err := decodeValidity(c, f); err != nil {
		return nil, err
	}
	if t == CardHMTPermit {
		c.PassNumber = f["pass number"]
		if n := f["issue count"]; n != "" {
			if !isDigits(n) {
				return nil, fmt.Errorf("%w: issue count %q", ErrText, n)
			}
			c.IssueCount, _ = strconv.Atoi(n)
		}
	}
	return c, nil
}

func decodeForeign(f map[string]string) (*Card, error) {
	c := &Card{
		Type:        CardForeignPermanent,
		EnglishName: f["English name"],
		Name:        f["Chinese name"],
		IDNumber:    f["card number"],
		Nationality: f["nationality"],
		CardVersion: f["version"],
		Authority:   f["authority code"],
	}
	var err error
	if c.Gender, err = decodeGender(f["gender"]); err != nil {
		return nil, err
	}
	if c.Birth, err = parseDate("birth date", f["birth date"]); err != nil {
		return nil, err
	}
	if err := decodeValidity(c, f); err != nil {
		return nil, err
	}
	return c, nil
}

// EncodeText encodes the text fields of c into a 256-byte text block, as a
// reader returns it (UCS-2 LE, padded with spaces). Errors wrap
// ErrFieldTooLong or ErrText.
func EncodeText(c *Card) ([]byte, error) {
	var layout []field
	vals := map[string]string{
		"gender":     string(c.Gender),
		"valid from": c.ValidFrom.Format("20060102"),
		"birth date": c.Birth.Format("20060102"),
	}
	if c.LongTerm {
		vals["valid until"] = LongTermText
	} else {
		vals["valid until"] = c.ValidUntil.Format("20060102")
	}
	switch c.Type {
	case CardResident, CardHMTPermit:
		layout = residentLayout
		vals["name"] = c.Name
		vals["nation"] = string(c.Nation)
		vals["address"] = c.Address
		vals["ID number"] = c.IDNumber
		vals["authority"] = c.Authority
		if c.Type == CardHMTPermit {
			layout = permitLayout
			vals["pass number"] = c.PassNumber
			if c.IssueCount < 0 || c.IssueCount > 99 {
				return nil, fmt.Errorf("%w: issue count %d", ErrFieldTooLong, c.IssueCount)
			}
			vals["issue count"] = fmt.Sprintf("%02d", c.IssueCount)
			vals["type"] = "J"
		}
	case CardForeignPermanent:
		layout = foreignLayout
		vals["English name"] = c.EnglishName
		vals["card number"] = c.IDNumber
		vals["nationality"] = c.Nationality
		vals["Chinese name"] = c.Name
		vals["version"] = c.CardVersion
		vals["authority code"] = c.Authority
		vals["type"] = "I"
	default:
		return nil, fmt.Errorf("%w: card type %v", ErrText, c.Type)
	}
	if c.Type == CardResident && (len(c.Nation) != 2 || !isDigits(string(c.Nation))) {
		return nil, fmt.Errorf("%w: nation code %q", ErrText, c.Nation)
	}
	if len(c.Gender) != 1 || !isDigits(string(c.Gender)) {
		return nil, fmt.Errorf("%w: gender code %q", ErrText, c.Gender)
	}
	text := make([]byte, TextLen)
	off := 0
	for _, f := range layout {
		if err := putUCS2(text[off:off+f.size], f.name, vals[f.name]); err != nil {
			return nil, err
		}
		off += f.size
	}
	return text, nil
}

// DecodeAddress decodes the data of a successful 30 03 answer (the
// additional address a police station writes after a move, 70 bytes of
// UCS-2 like the address field).
func DecodeAddress(data []byte) (string, error) {
	if len(data)%2 != 0 || len(data) > 2*TextLen {
		return "", fmt.Errorf("%w: additional address of %d bytes", ErrText, len(data))
	}
	return decodeUCS2(data), nil
}
