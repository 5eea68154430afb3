package sam

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/qingshan-gov/veinkiosk/identity"
)

// Sizes of the blocks of a read response.
const (
	TextLen        = 256
	PhotoLen       = 1024 // WLT-compressed photo
	FingerprintLen = 1024 // two 512-byte templates
)

// Errors about the text block.
var (
	// ErrText is a malformed text block; it is identity.ErrCardData, the
	// error of a malformed card field.
	ErrText         = identity.ErrCardData
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

func parseDate(name, s string) (identity.Date, error) {
	d, err := identity.ParseCompactDate(s)
	if err != nil {
		return 0, fmt.Errorf("%w: %s %q is not YYYYMMDD", ErrText, name, s)
	}
	return d, nil
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
func DecodeText(text []byte) (*identity.Card, error) {
	if len(text) != TextLen {
		return nil, fmt.Errorf("%w: text block of %d bytes, want %d", ErrText, len(text), TextLen)
	}
	letter := decodeUCS2(text[TypeOffset : TypeOffset+2])
	var c *identity.Card
	var err error
	switch letter {
	case "":
		c, err = decodeResident(split(text, residentLayout), identity.CardResident)
	case "I":
		c, err = decodeForeign(split(text, foreignLayout))
	case "J":
		c, err = decodeResident(split(text, permitLayout), identity.CardHMTPermit)
	default:
		return nil, fmt.Errorf("%w: type letter %q at offset %d", ErrUnknownCardType, letter, TypeOffset)
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

func decodeGender(s string) (identity.Gender, error) {
	if len(s) != 1 || !isDigits(s) {
		return "", fmt.Errorf("%w: gender code %q", ErrText, s)
	}
	return identity.Gender(s), nil
}

func decodeValidity(c *identity.Card, f map[string]string) error {
	var err error
	if c.From, err = parseDate("valid from", f["valid from"]); err != nil {
		return err
	}
	if f["valid until"] == identity.LongTermText {
		c.Until = identity.LongTerm
	} else if c.Until, err = parseDate("valid until", f["valid until"]); err != nil {
		return err
	}
	return c.Validity.Check()
}

func decodeResident(f map[string]string, t identity.CardType) (*identity.Card, error) {
	c := &identity.Card{Type: t, Name: f["name"], Address: f["address"], IDNumber: f["ID number"], Authority: f["authority"]}
	var err error
	if c.Gender, err = decodeGender(f["gender"]); err != nil {
		return nil, err
	}
	switch n := f["nation"]; {
	case len(n) == 2 && isDigits(n):
		c.Nation = identity.Nation(n)
	case n == "" && t == identity.CardHMTPermit:
	default:
		return nil, fmt.Errorf("%w: nation code %q", ErrText, n)
	}
	if c.Birth, err = parseDate("birth date", f["birth date"]); err != nil {
		return nil, err
	}
	if err := decodeValidity(c, f); err != nil {
		return nil, err
	}
	if t == identity.CardHMTPermit {
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

func decodeForeign(f map[string]string) (*identity.Card, error) {
	c := &identity.Card{
		Type:        identity.CardForeignPermanent,
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
func EncodeText(c *identity.Card) ([]byte, error) {
	var layout []field
	vals := map[string]string{
		"gender":      string(c.Gender),
		"valid from":  c.From.Compact(),
		"valid until": c.Until.Compact(), // LongTermText for LongTerm
		"birth date":  c.Birth.Compact(),
	}
	if !c.From.Valid() || c.From.IsLongTerm() || !c.Until.Valid() || !c.Birth.Valid() || c.Birth.IsLongTerm() {
		return nil, fmt.Errorf("%w: dates %v, %v, %v", ErrText, c.Birth, c.From, c.Until)
	}
	switch c.Type {
	case identity.CardResident, identity.CardHMTPermit:
		layout = residentLayout
		vals["name"] = c.Name
		vals["nation"] = string(c.Nation)
		vals["address"] = c.Address
		vals["ID number"] = c.IDNumber
		vals["authority"] = c.Authority
		if c.Type == identity.CardHMTPermit {
			layout = permitLayout
			vals["pass number"] = c.PassNumber
			if c.IssueCount < 0 || c.IssueCount > 99 {
				return nil, fmt.Errorf("%w: issue count %d", ErrFieldTooLong, c.IssueCount)
			}
			vals["issue count"] = fmt.Sprintf("%02d", c.IssueCount)
			vals["type"] = "J"
		}
	case identity.CardForeignPermanent:
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
	if c.Type == identity.CardResident && (len(c.Nation) != 2 || !isDigits(string(c.Nation))) {
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
