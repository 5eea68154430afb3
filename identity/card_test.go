package identity

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var (
	residentCard = Card{
		Type: CardResident, Name: "王建国", Gender: GenderMale, Nation: "01",
		Birth:     19900307,
		Address:   "内蒙古自治区包头市青山区富强路街道幸福小区12栋3单元502号",
		IDNumber:  "150204199003071235",
		Authority: "包头市公安局青山分局",
		Validity:  Validity{From: 20150601, Until: 20350601},
	}
	foreignCard = Card{
		Type: CardForeignPermanent, EnglishName: "SMITH, JOHN", Name: "史约翰",
		Gender: GenderMale, IDNumber: "CAN150080101011", Nationality: "CAN",
		Birth: 19800101, Validity: Validity{From: 20190520, Until: 20290519},
		CardVersion: "01", Authority: "1500",
	}
	permitCard = Card{
		Type: CardHMTPermit, Name: "陈大文", Gender: GenderMale,
		Birth:      19851130,
		Address:    "内蒙古自治区包头市青山区钢铁大街48号",
		IDNumber:   "810000198511300014",
		Authority:  "包头市公安局青山分局",
		Validity:   Validity{From: 20210201, Until: 20260201},
		PassNumber: "H12345678", IssueCount: 2,
	}
)

func init() {
	for _, c := range []*Card{&residentCard, &permitCard} {
		k, _ := CheckDigit(c.IDNumber[:17])
		c.IDNumber = c.IDNumber[:17] + string(k)
	}
}

func TestValidate(t *testing.T) {
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	mod := func(c Card, f func(c *Card)) Card { f(&c); return c }
	day := func(y int, m time.Month, dd int) time.Time { return time.Date(y, m, dd, 12, 0, 0, 0, time.UTC) }
	for _, tc := range []struct {
		name string
		card Card
		at   time.Time
		want []error
	}{
		{"valid", residentCard, at, nil},
		{"padded lower-case full-width number", mod(residentCard, func(c *Card) { c.IDNumber = " １５０２０４" + c.IDNumber[6:] + "\t" }), at, nil},
		{"bad check", mod(residentCard, func(c *Card) { c.IDNumber = c.IDNumber[:17] + "0" }), at, []error{ErrIDNumberChecksum}},
		{"birth mismatch", mod(residentCard, func(c *Card) { c.Birth = 19900308 }), at, []error{ErrBirthDateMismatch}},
		{"no birth date is not a mismatch", mod(residentCard, func(c *Card) { c.Birth = 0 }), at, nil},
		{"gender mismatch", mod(residentCard, func(c *Card) { c.Gender = GenderFemale }), at, []error{ErrGenderMismatch}},
		{"gender unspecified is not a mismatch", mod(residentCard, func(c *Card) { c.Gender = GenderUnspecified }), at, nil},
		{"expired", residentCard, day(2035, 6, 2), []error{ErrCardExpired}},
		{"last valid day (China time)", residentCard, time.Date(2035, 6, 1, 15, 59, 0, 0, time.UTC), nil},
		{"day after in China, still the last day in UTC", residentCard, time.Date(2035, 6, 1, 16, 1, 0, 0, time.UTC), []error{ErrCardExpired}},
		{"not yet valid", residentCard, day(2015, 5, 31), []error{ErrCardNotYetValid}},
		{"first valid day", residentCard, day(2015, 6, 1), nil},
		{"long term never expires", mod(residentCard, func(c *Card) { c.Until = LongTerm }), day(2090, 1, 1), nil},
		{"no expiry is malformed", mod(residentCard, func(c *Card) { c.Until = 0 }), at, []error{ErrCardData}},
		{"no start is malformed", mod(residentCard, func(c *Card) { c.From = 0 }), at, []error{ErrCardData}},
		{"ends before it starts", mod(residentCard, func(c *Card) { c.From, c.Until = 20200102, 20200101 }), at, []error{ErrCardData}},
		{"expiry not a date", mod(residentCard, func(c *Card) { c.Until = 20351301 }), at, []error{ErrCardData}},
		{"two problems", mod(residentCard, func(c *Card) { c.Gender = GenderFemale }), day(2040, 1, 1), []error{ErrGenderMismatch, ErrCardExpired}},
		{"foreign 2017 shape", foreignCard, at, nil},
		{"foreign 2017 shape, lower case", mod(foreignCard, func(c *Card) { c.IDNumber = "can150080101011" }), at, nil},
		{"foreign bad shape", mod(foreignCard, func(c *Card) { c.IDNumber = "C4N150080101011" }), at, []error{ErrIDNumberFormat}},
		{"a 15-character resident number", mod(residentCard, func(c *Card) { c.IDNumber = "CAN150080101011" }), at, []error{ErrIDNumberFormat}},
		{"permit", permitCard, at, nil},
		{"permit with a mainland number", mod(permitCard, func(c *Card) { c.IDNumber, c.Birth = residentCard.IDNumber, residentCard.Birth }), at, []error{ErrIDNumberFormat}},
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
			if p, ok := Explain(err); !ok || p != tc.want[0] {
				t.Errorf("Explain = %v, want %v", p, tc.want[0])
			}
		})
	}
}

func TestCardTypes(t *testing.T) {
	for ty, want := range map[CardType][2]string{
		CardResident:         {"resident", "居民身份证"},
		CardForeignPermanent: {"foreign_permanent", "外国人永久居留身份证"},
		CardHMTPermit:        {"hmt_permit", "港澳台居民居住证"},
		CardType(7):          {"CardType(7)", ""},
	} {
		if ty.String() != want[0] || ty.ChineseName() != want[1] {
			t.Errorf("%d: %q %q", int(ty), ty.String(), ty.ChineseName())
		}
		back, err := ParseCardType(want[0])
		if (err == nil) != (want[1] != "") || (err == nil && back != ty) || (err != nil && !errors.Is(err, ErrCardData)) {
			t.Errorf("ParseCardType(%q) = %v, %v", want[0], back, err)
		}
	}
	if foreignCard.DisplayName() != "史约翰" {
		t.Error("DisplayName with a Chinese name")
	}
	c := foreignCard
	c.Name = ""
	if c.DisplayName() != "SMITH, JOHN" {
		t.Error("DisplayName without a Chinese name")
	}
}

// TestCardJSON pins the wire encoding of a card (the apiv1 format of
// docs/api.md) to testdata/card*.json.
func TestCardJSON(t *testing.T) {
	long := residentCard
	long.Until = LongTerm
	long.Photo, long.Fingerprint = []byte{1, 2}, []byte{3}
	for name, c := range map[string]Card{"card.json": residentCard, "card_longterm.json": long, "card_minimal.json": {IDNumber: residentCard.IDNumber, Name: "王建国", Validity: Validity{From: 20150601, Until: 20350601}}} {
		got, err := json.MarshalIndent(c, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, '\n')
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s:\n%s\nwant\n%s", name, got, want)
		}
		var back Card
		dec := json.NewDecoder(bytes.NewReader(want))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&back); err != nil {
			t.Fatal(err)
		}
		// The fields that do not cross the wire come back empty.
		c.Type, c.Photo, c.Fingerprint = CardResident, nil, nil
		if back.IDNumber != c.IDNumber || back.Gender != c.Gender || back.Nation != c.Nation || back.Birth != c.Birth || back.Validity != c.Validity || back.Address != c.Address || back.Authority != c.Authority {
			t.Errorf("%s decodes to %+v, want %+v", name, back, c)
		}
	}
}

func TestCardJSONErrors(t *testing.T) {
	for _, body := range []string{
		`{"id_number":"x","name":"a","valid_from":"2020-01-01","valid_until":"soon"}`,
		`{"id_number":"x","name":"a","valid_from":"2020-13-01","valid_until":"长期"}`,
		`{"id_number":"x","name":"a","birth_date":"19900307","valid_from":"2020-01-01","valid_until":"长期"}`,
		`{"id_number":"x","name":"a","sex":"M","valid_from":"2020-01-01","valid_until":"长期"}`,
		`{"id_number":"x","name":"a","nation":"火星","valid_from":"2020-01-01","valid_until":"长期"}`,
	} {
		var c Card
		if err := json.Unmarshal([]byte(body), &c); !errors.Is(err, ErrCardData) {
			t.Errorf("%s: %v, want ErrCardData", body, err)
		}
	}
}

func TestGenderNationText(t *testing.T) {
	for in, want := range map[string]Gender{"男": GenderMale, "女": GenderFemale, "未知": GenderUnknown, "未说明": GenderUnspecified, "1": GenderMale, "": ""} {
		var g Gender
		if err := g.UnmarshalText([]byte(in)); err != nil || g != want {
			t.Errorf("Gender %q = %q, %v", in, g, err)
		}
	}
	if GenderMale.Letter() != "M" || GenderFemale.Letter() != "F" || GenderUnspecified.Letter() != "" || GenderUnknown.Letter() != "" {
		t.Error("Letter")
	}
	for _, g := range []Gender{GenderMale, GenderFemale} {
		if GenderOfLetter(g.Letter()) != g {
			t.Errorf("GenderOfLetter(%q)", g.Letter())
		}
	}
	if GenderOfLetter("X") != "" || GenderOfLetter("") != "" {
		t.Error("GenderOfLetter of a non-letter")
	}
	if b, _ := Gender("5").MarshalText(); string(b) != "5" {
		t.Errorf("unknown gender code marshals to %q", b)
	}
	for in, want := range map[string]Nation{"汉": "01", "汉族": "01", "蒙古族": "02", "外国血统": "98", "57": "57", "": ""} {
		var n Nation
		if err := n.UnmarshalText([]byte(in)); err != nil || n != want {
			t.Errorf("Nation %q = %q, %v", in, n, err)
		}
	}
	if b, _ := Nation("57").MarshalText(); string(b) != "57" {
		t.Errorf("unknown nation code marshals to %q", b)
	}
	if len(Nations()) != 58 || !Nation("56").Known() || Nation("57").Known() {
		t.Error("nation table")
	}
}
