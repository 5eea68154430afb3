package deck

import (
	"bytes"
	"encoding/csv"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/qingshan-gov/veinkiosk/identity"

	"github.com/qingshan-gov/veinkiosk/devices/idcard/sam"
)

func TestGenerateDeterministicAndPrefix(t *testing.T) {
	a, b := Generate(7, 300), Generate(7, 300)
	var ja, jb bytes.Buffer
	a.Save(&ja)
	b.Save(&jb)
	if ja.String() != jb.String() {
		t.Fatal("same seed, different decks")
	}
	small := Generate(7, 40)
	if !reflect.DeepEqual(small.Residents, a.Residents[:40]) {
		t.Fatal("Generate(7, 40) is not a prefix of Generate(7, 300)")
	}
	if other := Generate(8, 40); reflect.DeepEqual(other.Residents, small.Residents) {
		t.Fatal("different seeds, same deck")
	}
	if len(Generate(1, 0).Residents) != 0 || len(Generate(1, 1).Residents) != 1 {
		t.Fatal("wrong sizes")
	}
}

func TestDeckContents(t *testing.T) {
	d := Generate(2026, 1000)
	at := d.AsOfTime()
	counts := map[string]int{}
	seen := map[string]bool{}
	for _, r := range d.Residents {
		if seen[r.IDNumber] {
			t.Fatalf("duplicate %s", r.IDNumber)
		}
		seen[r.IDNumber] = true
		c, err := r.Card()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sam.EncodeText(c); err != nil {
			t.Fatalf("%s: %v", r.IDNumber, err)
		}
		if err := c.CheckIDNumber(); err != nil {
			t.Fatalf("%s: %v", r.IDNumber, err)
		}
		if len(c.Photo) != sam.PhotoLen || (r.Fingerprint && len(c.Fingerprint) != sam.FingerprintLen) {
			t.Fatalf("%s: photo %d, fingerprint %d bytes", r.IDNumber, len(c.Photo), len(c.Fingerprint))
		}
		counts[r.CardType]++
		counts["nation "+r.Nation]++
		counts["district "+r.District]++
		switch {
		case c.Expired(at):
			counts["expired"]++
		case c.NotYetValid(at):
			counts["notyet"]++
		}
		if c.LongTerm() {
			counts["longterm"]++
			if r.CardType == "resident" && r.Age(at) < 46 {
				t.Errorf("%s: long-term card at age %d", r.IDNumber, r.Age(at))
			}
		}
		for _, cat := range r.Categories {
			counts[cat]++
		}
		if r.HasCategory(CategoryElderly) != (r.Age(at) >= 60) {
			t.Errorf("%s: elderly category at age %d", r.IDNumber, r.Age(at))
		}
		if r.CardType == "resident" && !strings.HasPrefix(r.Address, "内蒙古自治区包头市") {
			t.Errorf("%s: address %q", r.IDNumber, r.Address)
		}
		if !strings.Contains(r.GridCell, "-") || r.Household == "" || r.Authority == "" {
			t.Errorf("%s: grid %q household %q authority %q", r.IDNumber, r.GridCell, r.Household, r.Authority)
		}
	}
	t.Logf("counts: %v", counts)
	for key, lo := range map[string]int{
		"resident": 900, "foreign_permanent": 5, "hmt_permit": 5, "expired": 10, "notyet": 3,
		"longterm": 200, "nation 01": 850, "nation 02": 15, "district 150204": 550,
		"district 150203": 40, "dibao": 20, "elderly": 150, "disabled": 10,
	} {
		if counts[key] < lo {
			t.Errorf("%s: %d, want at least %d", key, counts[key], lo)
		}
	}
	if counts["nation 01"] > 980 {
		t.Errorf("too many Han: %d", counts["nation 01"])
	}
}

func TestHouseholds(t *testing.T) {
	d := Generate(7, 2000)
	households := map[string]map[string]bool{}
	addr := map[string]string{}
	for _, r := range d.Residents {
		if households[r.Household] == nil {
			households[r.Household] = map[string]bool{}
			addr[r.Household] = r.Address
		}
		if households[r.Household][r.Name] {
			t.Errorf("household %s has two residents named %s", r.Household, r.Name)
		}
		households[r.Household][r.Name] = true
		if addr[r.Household] != r.Address {
			t.Errorf("household %s at two addresses", r.Household)
		}
	}
	if n := len(households); n < 600 || n > 1500 {
		t.Errorf("%d households for 2000 residents", n)
	}
	// Every household has one head; the others are named by their
	// relation to the head (who may file for whom: 代办).
	heads, parents := map[string]int{}, 0
	for _, r := range d.Residents {
		switch r.Relationship {
		case "户主":
			heads[r.Household]++
		case "父母":
			parents++
		case "配偶", "子女":
		default:
			t.Errorf("resident of %s with relationship %q", r.Household, r.Relationship)
		}
	}
	for h := range households {
		if heads[h] != 1 {
			t.Errorf("household %s has %d heads", h, heads[h])
		}
	}
	if parents < 20 {
		t.Errorf("%d parents living with a household head: too few to try 代办", parents)
	}
}

func TestSmallDeckHasEveryCase(t *testing.T) {
	for seed := int64(0); seed < 40; seed++ {
		smallDeck(t, Generate(seed, 16))
	}
}

func smallDeck(t *testing.T, d *Deck) {
	at := d.AsOfTime()
	var expired, notyet, foreign, hmt bool
	for _, r := range d.Residents {
		c, _ := r.Card()
		expired = expired || c.Expired(at)
		notyet = notyet || c.NotYetValid(at)
		foreign = foreign || c.Type == identity.CardForeignPermanent
		hmt = hmt || c.Type == identity.CardHMTPermit
	}
	if !expired || !notyet || !foreign || !hmt {
		t.Fatalf("seed %d: expired %v, not yet valid %v, foreign %v, permit %v", d.Seed, expired, notyet, foreign, hmt)
	}
	first, _ := d.Residents[0].Card()
	if first.Validate(at) != nil || first.Type != identity.CardResident || d.Residents[0].District != "150204" {
		t.Fatalf("seed %d: first resident is not a valid Qingshan resident: %+v", d.Seed, d.Residents[0])
	}
}

func TestFingerSeeds(t *testing.T) {
	d := Generate(5, 20)
	seen := map[uint64]bool{}
	for _, r := range d.Residents {
		for f := 1; f <= 10; f++ {
			s := r.FingerSeed(f)
			if s == 0 || seen[s] {
				t.Fatalf("%s finger %d: seed %d repeated or zero", r.IDNumber, f, s)
			}
			seen[s] = true
		}
		if r.FingerSeed(0) != 0 || r.FingerSeed(11) != 0 {
			t.Fatal("seed for a finger outside 1..10")
		}
	}
	// The seed depends on the deck seed, not only on the ID number.
	r := d.Residents[0]
	moved := *r
	moved.deckSeed = 6
	if moved.FingerSeed(1) == r.FingerSeed(1) {
		t.Fatal("finger seed ignores the deck seed")
	}
}

func TestSaveLoad(t *testing.T) {
	d := Generate(3, 50)
	path := filepath.Join(t.TempDir(), "deck.json")
	if err := d.SaveFile(path); err != nil {
		t.Fatal(err)
	}
	back, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Residents, d.Residents) || back.Seed != 3 {
		t.Fatal("deck changed through JSON")
	}
	r := d.Residents[10]
	got, ok := back.Lookup(strings.ToLower(r.IDNumber))
	if !ok || got.Name != r.Name || got.FingerSeed(3) != r.FingerSeed(3) {
		t.Fatalf("Lookup(%s) = %+v, %v", r.IDNumber, got, ok)
	}
	if _, ok := back.Lookup("150204190001010000"); ok {
		t.Fatal("found a resident who is not in the deck")
	}
	for name, text := range map[string]string{
		"duplicate":  `{"seed":1,"residents":[` + one + `,` + one + `]}`,
		"bad check":  `{"seed":1,"residents":[` + strings.Replace(one, "150204199003071235", "150204199003071234", 1) + `]}`,
		"bad date":   `{"seed":1,"residents":[` + strings.Replace(one, "1990-03-07", "1990-02-30", 1) + `]}`,
		"long name":  `{"seed":1,"residents":[` + strings.Replace(one, "王建国", strings.Repeat("王", 16), 1) + `]}`,
		"unknown":    `{"seed":1,"residentz":[]}`,
		"not json":   `[`,
		"null entry": `{"seed":1,"residents":[null]}`,
	} {
		if _, err := Load(strings.NewReader(text)); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
	if d, err := Load(strings.NewReader(`{"seed":1,"residents":[` + one + `]}`)); err != nil || len(d.Residents) != 1 {
		t.Fatalf("hand-written deck: %v", err)
	}
}

const one = `{"id_number":"150204199003071235","name":"王建国","card_type":"resident","gender":"1","nation":"01",
"birth_date":"1990-03-07","address":"内蒙古自治区包头市青山区幸福路5号街坊3单元502号","district":"150204",
"authority":"包头市公安局青山分局","valid_from":"2015-06-01","valid_until":"2035-06-01","fingerprint":true,
"grid_cell":"QS-017","household":"H150204-00001"}`

func TestCSV(t *testing.T) {
	d := Generate(4, 30)
	var buf bytes.Buffer
	if err := d.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 31 || !reflect.DeepEqual(rows[0], CSVHeader) {
		t.Fatalf("%d rows, header %v", len(rows), rows[0])
	}
	if rows[1][0] != d.Residents[0].IDNumber || rows[1][6] != d.Residents[0].GridCell {
		t.Fatalf("row 1 = %v", rows[1])
	}
}

func TestCardErrors(t *testing.T) {
	r := &Resident{IDNumber: "X", CardType: "passport"}
	if _, err := r.Card(); err == nil {
		t.Fatal("unknown card type accepted")
	}
	r = &Resident{IDNumber: "X", CardType: "resident", BirthDate: 19901301, ValidFrom: 20200101, ValidUntil: identity.LongTerm}
	if _, err := r.Card(); !errors.Is(err, identity.ErrCardData) {
		t.Fatalf("bad birth date accepted: %v", err)
	}
	r = &Resident{IDNumber: "X", CardType: "resident", BirthDate: 19900101, ValidFrom: 20200101, ValidUntil: 20191231}
	if _, err := r.Card(); !errors.Is(err, identity.ErrCardData) {
		t.Fatalf("validity ending before it starts accepted: %v", err)
	}
	// An old deck file's "long-term" is not a date.
	if _, err := Load(strings.NewReader(`{"seed":1,"as_of":"2026-11-01","residents":[{"id_number":"X","valid_until":"long-term"}]}`)); !errors.Is(err, identity.ErrCardData) {
		t.Fatalf("long-term: %v", err)
	}
}
