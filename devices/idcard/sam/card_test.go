package sam

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/identity"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func date(y int, m time.Month, d int) identity.Date {
	v, err := identity.NewDate(y, m, d)
	if err != nil {
		panic(err)
	}
	return v
}

func photo(seed byte) []byte {
	p := make([]byte, PhotoLen)
	for i := range p {
		p[i] = byte(i)*7 + seed
	}
	return p
}

var (
	residentCard = &identity.Card{
		Type: identity.CardResident, Name: "王建国", Gender: identity.GenderMale, Nation: "01",
		Birth:     date(1990, 3, 7),
		Address:   "内蒙古自治区包头市青山区富强路街道幸福小区12栋3单元502号",
		IDNumber:  "150204199003071235",
		Authority: "包头市公安局青山分局",
		Validity:  identity.Validity{From: date(2015, 6, 1), Until: date(2035, 6, 1)},
	}
	foreignCard = &identity.Card{
		Type: identity.CardForeignPermanent, EnglishName: "SMITH, JOHN", Name: "史约翰",
		Gender: identity.GenderMale, IDNumber: "CAN150080101011", Nationality: "CAN",
		Birth: date(1980, 1, 1), Validity: identity.Validity{From: date(2019, 5, 20), Until: date(2029, 5, 19)},
		CardVersion: "01", Authority: "1500",
	}
	permitCard = &identity.Card{
		Type: identity.CardHMTPermit, Name: "陈大文", Gender: identity.GenderMale,
		Birth:      date(1985, 11, 30),
		Address:    "内蒙古自治区包头市青山区钢铁大街48号",
		IDNumber:   "810000198511300014",
		Authority:  "包头市公安局青山分局",
		Validity:   identity.Validity{From: date(2021, 2, 1), Until: date(2026, 2, 1)},
		PassNumber: "H12345678", IssueCount: 2,
	}
)

func init() {
	// Fix the check characters of the samples.
	for _, c := range []*identity.Card{residentCard, permitCard} {
		d, _ := identity.CheckDigit(c.IDNumber[:17])
		c.IDNumber = c.IDNumber[:17] + string(d)
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	enc := hexDump(got)
	if *update {
		if err := os.WriteFile(path, []byte(enc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != enc {
		t.Fatalf("%s differs from the golden file; run go test -update if intended\ngot:\n%s", path, enc)
	}
}

// hexDump writes 16 bytes a line, upper case, as the docs show frames.
func hexDump(b []byte) string {
	var sb strings.Builder
	for i := 0; i < len(b); i += 16 {
		line := b[i:min(i+16, len(b))]
		sb.WriteString(strings.ToUpper(hex.EncodeToString(line)))
		sb.WriteByte('\n')
	}
	return sb.String()
}

func TestTextGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		card *identity.Card
	}{
		{"text_resident.hex", residentCard},
		{"text_foreign.hex", foreignCard},
		{"text_permit.hex", permitCard},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text, err := EncodeText(tc.card)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name, text)
			back, err := DecodeText(text)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, tc.card) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", back, tc.card)
			}
			if err := back.Validate(date(2025, 1, 1).Time()); err != nil {
				t.Fatalf("sample card invalid: %v", err)
			}
		})
	}
}

// TestTextLayout checks offsets by hand, independent of the encoder.
func TestTextLayout(t *testing.T) {
	text, err := EncodeText(residentCard)
	if err != nil {
		t.Fatal(err)
	}
	// 王 U+738B little-endian, then 建 U+5EFA.
	if !bytes.Equal(text[0:4], []byte{0x8B, 0x73, 0xFA, 0x5E}) {
		t.Errorf("name starts % X", text[0:4])
	}
	if text[6] != 0x20 || text[7] != 0 || text[28] != 0x20 {
		t.Errorf("name not padded with UCS-2 spaces: % X", text[6:30])
	}
	at := func(off, n int) string { return decodeUCS2(text[off : off+n]) }
	for _, tc := range []struct {
		off, n int
		want   string
	}{
		{30, 2, "1"}, {32, 4, "01"}, {36, 16, "19900307"},
		{122, 36, residentCard.IDNumber}, {158, 30, "包头市公安局青山分局"},
		{188, 16, "20150601"}, {204, 16, "20350601"}, {TypeOffset, 2, ""},
	} {
		if got := at(tc.off, tc.n); got != tc.want {
			t.Errorf("offset %d: %q, want %q", tc.off, got, tc.want)
		}
	}
	long := *residentCard
	long.Until = identity.LongTerm
	text, _ = EncodeText(&long)
	if got := decodeUCS2(text[204:220]); got != "长期" {
		t.Errorf("long-term valid until %q", got)
	}
	back, err := DecodeText(text)
	if err != nil || !back.LongTerm() || back.Until != identity.LongTerm {
		t.Errorf("long-term decode: %+v, %v", back, err)
	}

	ftext, _ := EncodeText(foreignCard)
	if got := decodeUCS2(ftext[TypeOffset : TypeOffset+2]); got != "I" {
		t.Errorf("foreign type letter %q", got)
	}
	if got := decodeUCS2(ftext[152:158]); got != "CAN" {
		t.Errorf("nationality at 152: %q", got)
	}
	ptext, _ := EncodeText(permitCard)
	if got := decodeUCS2(ptext[220:238]); got != "H12345678" {
		t.Errorf("pass number at 220: %q", got)
	}
	if got := decodeUCS2(ptext[238:242]); got != "02" {
		t.Errorf("issue count at 238: %q", got)
	}
	if got := decodeUCS2(ptext[TypeOffset : TypeOffset+2]); got != "J" {
		t.Errorf("permit type letter %q", got)
	}
}

func TestTextErrors(t *testing.T) {
	good, _ := EncodeText(residentCard)
	mutate := func(off int, s string) []byte {
		b := bytes.Clone(good)
		for i, r := range s {
			b[off+2*i], b[off+2*i+1] = byte(r), byte(r>>8)
		}
		return b
	}
	for _, tc := range []struct {
		name string
		text []byte
		want error
	}{
		{"short", good[:255], ErrText},
		{"bad birth", mutate(36, "19901307"), ErrText},
		{"bad gender", mutate(30, "M"), ErrText},
		{"bad nation", mutate(32, "X1"), ErrText},
		{"until before from", mutate(204, "20100101"), ErrText},
		{"bad valid until", mutate(204, "长久"), ErrText},
		{"unknown type", mutate(TypeOffset, "Y"), ErrUnknownCardType},
	} {
		if _, err := DecodeText(tc.text); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	long := *residentCard
	long.Address = strings.Repeat("长", 36)
	if _, err := EncodeText(&long); !errors.Is(err, ErrFieldTooLong) {
		t.Errorf("too long address: %v", err)
	}
	bad := *residentCard
	bad.Gender = "M"
	if _, err := EncodeText(&bad); !errors.Is(err, ErrText) {
		t.Errorf("unknown gender encoded: %v", err)
	}
}

func TestReadResponseLayout(t *testing.T) {
	c := *residentCard
	c.Photo = photo(1)
	c.Fingerprint = photo(2)
	data, err := EncodeCard(&c, OpReadText)
	if err != nil {
		t.Fatal(err)
	}
	frame, err := Response{Status: StatusOK, Data: data}.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(frame) != 1295 || frame[5] != 0x05 || frame[6] != 0x08 {
		t.Fatalf("30 01 frame: %d bytes, LEN %02X %02X; want 1295, 05 08", len(frame), frame[5], frame[6])
	}
	text, _ := EncodeText(&c)
	if !bytes.Equal(frame[14:270], text) || !bytes.Equal(frame[270:1294], c.Photo) {
		t.Fatal("text not at offset 14 or photo not at 270")
	}
	golden(t, "read_3001_response.hex", frame)
	resp, err := DecodeResponse(frame)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeCard(OpReadText, resp.Data)
	if err != nil {
		t.Fatal(err)
	}
	want := c
	want.Fingerprint = nil
	if !reflect.DeepEqual(back, &want) {
		t.Fatalf("decode:\n got %+v\nwant %+v", back, &want)
	}

	data, _ = EncodeCard(&c, OpReadTextFinger)
	frame, _ = Response{Status: StatusOK, Data: data}.Append(nil)
	if len(frame) != 1295+2+1024 || !bytes.Equal(frame[16:272], text) || !bytes.Equal(frame[1296:2320], c.Fingerprint) {
		t.Fatalf("30 10 frame layout wrong (%d bytes)", len(frame))
	}
	resp, _ = DecodeResponse(frame)
	back, err = DecodeCard(OpReadTextFinger, resp.Data)
	if err != nil || !reflect.DeepEqual(back, &c) {
		t.Fatalf("30 10 decode: %v\n got %+v", err, back)
	}
	// Read data of the wrong command, or with lying lengths.
	if _, err := DecodeReadData(OpReadText, resp.Data); !errors.Is(err, ErrLength) {
		t.Errorf("30 10 data decoded as 30 01: %v", err)
	}
	if _, err := DecodeReadData(OpFindCard, resp.Data); err == nil {
		t.Error("find card data decoded as a read")
	}
	lying := bytes.Clone(resp.Data)
	lying[2] = 0x08
	if _, err := DecodeReadData(OpReadTextFinger, lying); !errors.Is(err, ErrLength) {
		t.Errorf("photo length 0x0800 accepted: %v", err)
	}
}

// Names with characters outside the BMP (生僻字) travel as UTF-16 surrogate
// pairs and take two characters of the field.
func TestRareCharacters(t *testing.T) {
	c := *residentCard
	c.Name = "吉\U00020BB7" // 𠮷
	text, err := EncodeText(&c)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeText(text)
	if err != nil || back.Name != c.Name {
		t.Fatalf("round trip: %q, %v", back.Name, err)
	}
	c.Name = strings.Repeat("\U00020BB7", 8) // 16 UTF-16 units > 15
	if _, err := EncodeText(&c); !errors.Is(err, ErrFieldTooLong) {
		t.Fatalf("8 surrogate pairs in a 15-character field: %v", err)
	}
}
