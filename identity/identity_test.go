package identity

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func d(y int, m time.Month, day int) Date {
	v, err := NewDate(y, m, day)
	if err != nil {
		panic(err)
	}
	return v
}

func TestCheckDigit(t *testing.T) {
	for first, want := range map[string]byte{
		"11010519491231002": 'X', // GB 11643 annex example: weighted sum 167
		"15020419900307123": '5', // weighted sum 227
		"11010119450101123": '0', // weighted sum 111
	} {
		got, err := CheckDigit(first)
		if err != nil || got != want {
			t.Errorf("CheckDigit(%s) = %c, %v; want %c", first, got, err, want)
		}
	}
	for _, bad := range []string{"", "1101051949123100", "1101051949123100A", "１１０１０５１９４９１２３１００"} {
		if _, err := CheckDigit(bad); !errors.Is(err, ErrIDNumberFormat) {
			t.Errorf("CheckDigit(%q): %v", bad, err)
		}
	}
}

func TestCanonicalIDNumber(t *testing.T) {
	const want = "11010519491231002X"
	for _, in := range []string{
		"11010519491231002X",
		"11010519491231002x",
		" 11010519491231002x",
		"11010519491231002X\t",
		"\u300011010519491231002X\r\n", // ideographic space
		"１１０１０５１９４９１２３１００２Ｘ",
		"１１０１０５１９４９１２３１００２ｘ",
		"110105１９４９1231002x",
	} {
		if got := CanonicalIDNumber(in); got != want {
			t.Errorf("CanonicalIDNumber(%q) = %q, want %q", in, got, want)
		}
		n, err := ParseIDNumber(in)
		if err != nil || string(n) != want {
			t.Errorf("ParseIDNumber(%q) = %q, %v; want %q", in, string(n), err, want)
		}
	}
	// Foreign card numbers are upper-cased too.
	if got := CanonicalIDNumber(" can150080101011"); got != "CAN150080101011" {
		t.Errorf("foreign number: %q", got)
	}
	// Inner space is not removed: that is a different (invalid) string.
	if ValidIDNumber("110105 19491231002X") {
		t.Error("inner space accepted")
	}
}

func TestParseIDNumber(t *testing.T) {
	n, err := ParseIDNumber("150204199003071235")
	if err != nil {
		t.Fatal(err)
	}
	if n.Region() != "150204" || n.Birth() != d(1990, 3, 7) || n.Sequence() != 123 || n.Gender() != GenderMale || n.Foreign() || n.HMT() {
		t.Fatalf("parsed %q: %s %v %d %v", string(n), n.Region(), n.Birth(), n.Sequence(), n.Gender())
	}
	if n, err := ParseIDNumber("11010519491231002x"); err != nil || n.Gender() != GenderFemale {
		t.Fatalf("lower-case x: %q %v", string(n), err)
	}
	first := "91112419800101001" // 2023 foreign permanent resident number
	c, _ := CheckDigit(first)
	if n, err := ParseIDNumber(first + string(c)); err != nil || !n.Foreign() || n.Birth() != d(1980, 1, 1) {
		t.Fatalf("foreign number: %q %v", string(n), err)
	}
	for id, want := range map[string]error{
		"150204199003071234":  ErrIDNumberChecksum,
		"15020419900307123":   ErrIDNumberFormat,
		"1502041990030712355": ErrIDNumberFormat,
		"15020419901307123X":  ErrIDNumberFormat, // month 13
		"15020419900229123X":  ErrIDNumberFormat, // 1990 is not a leap year
		"15020419900307123A":  ErrIDNumberFormat,
		"1502041990O307123X":  ErrIDNumberFormat,
		"15020400000101123X":  ErrIDNumberFormat, // year 0
		"":                    ErrIDNumberFormat,
	} {
		_, err := ParseIDNumber(id)
		if !errors.Is(err, want) {
			t.Errorf("ParseIDNumber(%s) = %v, want %v", id, err, want)
		}
		if err != nil && len(id) > 6 && strings.Contains(err.Error(), id[6:14]) {
			t.Errorf("error %q quotes the number", err)
		}
	}
	if ValidIDNumber("150204199003071234") || !ValidIDNumber("150204199003071235") {
		t.Error("ValidIDNumber wrong")
	}
}

func TestZeroIDNumber(t *testing.T) {
	for _, n := range []IDNumber{"", "123", IDNumber("ABCDEFGHIJKLMNOPQR")} {
		if n.Region() != "" || n.Birth() != 0 || n.Sequence() != 0 || n.Gender() != "" || n.Foreign() || n.HMT() {
			t.Errorf("%q has parts", string(n))
		}
	}
}

func TestMakeIDNumber(t *testing.T) {
	id, err := MakeIDNumber("150204", d(2001, 12, 31), 42)
	if err != nil || id[:17] != "15020420011231042" || !ValidIDNumber(string(id)) || id.Gender() != GenderFemale {
		t.Fatalf("MakeIDNumber = %s, %v", string(id), err)
	}
	for _, bad := range []struct {
		region string
		birth  Date
		seq    int
	}{{"1502", d(2001, 12, 31), 42}, {"15020A", d(2001, 12, 31), 42}, {"150204", 0, 42}, {"150204", LongTerm, 1}, {"150204", d(2001, 1, 1), 1000}, {"150204", d(2001, 1, 1), -1}} {
		if _, err := MakeIDNumber(bad.region, bad.birth, bad.seq); !errors.Is(err, ErrIDNumberFormat) {
			t.Errorf("MakeIDNumber(%q, %d, %d) = %v", bad.region, bad.birth, bad.seq, err)
		}
	}
}

// TestMaskIDNumber holds the golden examples of the one masking rule.
func TestMaskIDNumber(t *testing.T) {
	for in, want := range map[string]string{
		"150204199003071235": "150204********1235",
		"11010519491231002X": "110105********002X",
		"CAN150080101011":    "CAN150*****1011",
		"１５０２０４１９９００３０７１２３５": "１５０２０４********１２３５", // characters, not bytes
		"12345678901": "123456*8901",
		"1234567890":  "**********",
		"12345":       "*****",
		"":            "",
	} {
		if got := MaskIDNumber(in); got != want {
			t.Errorf("MaskIDNumber(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIDNumberPrintsMasked(t *testing.T) {
	n, _ := ParseIDNumber("150204199003071235")
	for _, s := range []string{fmt.Sprint(n), fmt.Sprintf("%v", n), fmt.Sprintf("id %s", n)[3:], n.String()} {
		if s != "150204********1235" {
			t.Errorf("printed %q", s)
		}
	}
	if err := fmt.Errorf("resident %v", n); strings.Contains(err.Error(), "19900307") {
		t.Errorf("error %q carries the number", err)
	}
	c := &Card{IDNumber: " 11010519491231002x"}
	if c.Masked() != "110105********002X" {
		t.Errorf("Card.Masked = %q", c.Masked())
	}
}

func TestCanonicalUsername(t *testing.T) {
	for in, want := range map[string]string{
		"user":           "user",
		" user":          "user",
		"user\t":         "user",
		"\u3000user\r\n": "user",
		"USER":           "user",
		"ＵＳＥＲ":           "user",
		"ｕｓｅｒ":           "user",
		"Clerk.Zhang-01": "clerk.zhang-01",
		"ｃｌｅｒｋ＿０１":       "clerk_01",
		"a b":            "a b", // inner space stays: the username rule rejects it
		"":               "",
	} {
		if got := CanonicalUsername(in); got != want {
			t.Errorf("CanonicalUsername(%q) = %q, want %q", in, got, want)
		}
	}
}
