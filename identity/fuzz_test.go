package identity

import (
	"encoding/json"
	"testing"
)

// FuzzParseIDNumber checks that whatever ParseIDNumber accepts is canonical
// (parsing it again gives it back), has the check character its digits
// give, and is rebuilt by MakeIDNumber from its parts.
func FuzzParseIDNumber(f *testing.F) {
	for _, s := range []string{"150204199003071235", "11010519491231002X", "11010519491231002x",
		" 11010519491231002x\t", "１１０１０５１９４９１２３１００２Ｘ", "150204199003071234",
		"15020419901307123X", "", "9111241980010100", "91112419800101001" + "5", "810000198511300014",
		"15020419900229123X", "\u300015020419900307123５"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		n, err := ParseIDNumber(id)
		if err != nil {
			if n != "" {
				t.Fatalf("error %v with a number", err)
			}
			return
		}
		if string(n) != CanonicalIDNumber(id) || len(n) != 18 {
			t.Fatalf("ParseIDNumber(%q) = %q, canonical %q", id, string(n), CanonicalIDNumber(id))
		}
		if again, err := ParseIDNumber(string(n)); err != nil || again != n {
			t.Fatalf("not idempotent: %q -> %q, %v", string(n), string(again), err)
		}
		k, err := CheckDigit(string(n[:17]))
		if err != nil || k != n[17] {
			t.Fatalf("check character of %q: %c, %v", string(n), k, err)
		}
		made, err := MakeIDNumber(n.Region(), n.Birth(), n.Sequence())
		if err != nil || made != n {
			t.Fatalf("MakeIDNumber(%s, %v, %d) = %q, %v; want %q", n.Region(), n.Birth(), n.Sequence(), string(made), err, string(n))
		}
		if m := n.Masked(); len(m) != 18 || m[:6] != string(n[:6]) || m[14:] != string(n[14:]) {
			t.Fatalf("masked %q", m)
		}
	})
}

// FuzzCardJSON checks that a card that decodes re-encodes and decodes to the
// same card.
func FuzzCardJSON(f *testing.F) {
	for _, s := range []string{
		`{"id_number":"150204199003071235","name":"王建国","sex":"男","nation":"汉","birth_date":"1990-03-07","valid_from":"2015-06-01","valid_until":"2035-06-01"}`,
		`{"id_number":"150204199003071235","name":"a","valid_from":"2015-06-01","valid_until":"长期"}`,
		`{"valid_until":"soon"}`, `{"sex":"9","nation":"97"}`, `{}`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var c Card
		if json.Unmarshal(b, &c) != nil {
			return
		}
		out, err := json.Marshal(c)
		if err != nil {
			// A decoded card holds only what decoding accepts, which
			// always encodes.
			t.Fatalf("%s decodes but does not encode: %v", b, err)
		}
		var back Card
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("%s does not decode: %v", out, err)
		}
		if back.IDNumber != c.IDNumber || back.Name != c.Name || back.Gender != c.Gender || back.Nation != c.Nation ||
			back.Birth != c.Birth || back.Validity != c.Validity || back.Address != c.Address || back.Authority != c.Authority {
			t.Fatalf("%s -> %s -> %+v", b, out, back)
		}
	})
}

// FuzzCanonical checks that both canonical forms are idempotent: a stored
// canonical value canonicalises to itself at lookup.
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{" 11010519491231002x", "１１０１０５１９４９１２３１００２ｘ", "ＵＳＥＲ\t", "\u3000Clerk", "ｶﾀｶﾅ", "\u212a", "ß", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if c := CanonicalIDNumber(s); CanonicalIDNumber(c) != c {
			t.Fatalf("CanonicalIDNumber(%q) = %q, again %q", s, c, CanonicalIDNumber(c))
		}
		if c := CanonicalUsername(s); CanonicalUsername(c) != c {
			t.Fatalf("CanonicalUsername(%q) = %q, again %q", s, c, CanonicalUsername(c))
		}
	})
}
