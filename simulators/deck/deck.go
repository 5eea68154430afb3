// Package deck generates and stores a deterministic deck of synthetic
// residents of Qingshan district, Baotou (内蒙古自治区包头市青山区) and its
// neighbouring districts. The same deck drives every simulator (the ID-card
// reader, the finger-vein scanner), the server's resident import and the
// demo: a resident's card, address, household and finger seeds all come
// from it.
//
// Every resident is synthetic: names come from frequency lists, ID numbers
// are built with valid check characters from real division codes, and the
// photo and fingerprint bytes are placeholders (not decodable WLT).
//
//	d := deck.Generate(42, 200)
//	r, _ := d.Lookup("150204198703120021")
//	card, _ := r.Card()            // *identity.Card for the reader simulator
//	seed := r.FingerSeed(2)         // right index finger, for the vein simulator
//	d.SaveFile("deck.json")
package deck

import (
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/qingshan-gov/veinkiosk/devices/idcard/sam"
	"github.com/qingshan-gov/veinkiosk/identity"
)

// DefaultAsOf is the date decks are generated for: the validity periods are
// chosen so that, on this date, most cards are valid and a few are expired or
// not valid yet. Tests should check validity at Deck.AsOf, not time.Now.
var DefaultAsOf = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// Categories of residents for public services.
const (
	CategoryDibao    = "dibao"    // minimum living allowance (低保) household
	CategoryElderly  = "elderly"  // 60 or older
	CategoryDisabled = "disabled" // holds a disability certificate (残疾人证)
	CategoryTekun    = "tekun"    // extreme poverty support (特困人员)
)

// Resident is one synthetic person with a card. Dates are written
// "YYYY-MM-DD", and a card without expiry is valid until 长期
// (identity.LongTerm).
type Resident struct {
	IDNumber    string        `json:"id_number"` // 18 characters; 15 for a 2017 foreign card
	Name        string        `json:"name"`
	EnglishName string        `json:"english_name,omitempty"`
	CardType    string        `json:"card_type"` // identity.CardType: resident, foreign_permanent, hmt_permit
	Gender      string        `json:"gender"`    // GB/T 2261.1: "1" male, "2" female
	Nation      string        `json:"nation,omitempty"`
	BirthDate   identity.Date `json:"birth_date"`
	Address     string        `json:"address,omitempty"`
	District    string        `json:"district"` // GB/T 2260 code of the address
	Authority   string        `json:"authority"`
	ValidFrom   identity.Date `json:"valid_from"`
	ValidUntil  identity.Date `json:"valid_until"` // or identity.LongTerm
	Nationality string        `json:"nationality,omitempty"`
	CardVersion string        `json:"card_version,omitempty"`
	PassNumber  string        `json:"pass_number,omitempty"`
	IssueCount  int           `json:"issue_count,omitempty"`
	Fingerprint bool          `json:"fingerprint"` // the card carries fingerprint data
	GridCell    string        `json:"grid_cell"`   // e.g. "QS-017"
	Household   string        `json:"household"`
	// Relationship is the relation to the household head as the
	// population database words it (户主, 配偶, 子女, 父母): with Household
	// it decides who may file for whom (代办).
	Relationship string   `json:"relationship,omitempty"`
	Categories   []string `json:"categories,omitempty"`

	deckSeed int64
}

// Deck is a set of residents.
type Deck struct {
	Seed      int64       `json:"seed"`
	AsOf      string      `json:"as_of"`
	Residents []*Resident `json:"residents"`

	index map[string]*Resident
}

// Lookup finds a resident by ID (or foreign card) number.
func (d *Deck) Lookup(id string) (*Resident, bool) {
	if d.index == nil {
		d.reindex()
	}
	r, ok := d.index[identity.CanonicalIDNumber(id)]
	return r, ok
}

func (d *Deck) reindex() {
	d.index = make(map[string]*Resident, len(d.Residents))
	for _, r := range d.Residents {
		r.deckSeed = d.Seed
		d.index[r.IDNumber] = r
	}
}

// AsOfTime returns AsOf as a time (DefaultAsOf when unset or malformed).
func (d *Deck) AsOfTime() time.Time {
	t, err := time.Parse(time.DateOnly, d.AsOf)
	if err != nil {
		return DefaultAsOf
	}
	return t
}

// mix derives a well-spread 64-bit value from its inputs (SplitMix64
// finaliser over an FNV-1a hash), so that derived seeds are independent.
func mix(parts ...any) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		fmt.Fprintf(h, "%v\x00", p)
	}
	z := h.Sum64() + 0x9E3779B97F4A7C15
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// FingerSeed returns the seed of the synthetic vein pattern of one finger,
// by ISO/IEC 19794 finger position: 1 right thumb, 2 right index, 3 right
// middle, 4 right ring, 5 right little, 6-10 the same on the left hand. It
// depends only on the deck seed, the ID number and the finger, so every
// simulator that loads the deck agrees on it. It returns 0 for a finger
// outside 1..10.
func (r *Resident) FingerSeed(finger int) uint64 {
	if finger < 1 || finger > 10 {
		return 0
	}
	s := mix("finger", r.deckSeed, r.IDNumber, finger)
	if s == 0 {
		s = 1
	}
	return s
}

// Age returns the resident's age in whole years on the day of at.
func (r *Resident) Age(at time.Time) int { return r.BirthDate.AgeOn(identity.DateOf(at)) }

// HasCategory reports whether the resident is in category c.
func (r *Resident) HasCategory(c string) bool {
	for _, x := range r.Categories {
		if x == c {
			return true
		}
	}
	return false
}

// placeholder returns n deterministic bytes standing in for data the card
// holds but the simulator cannot produce for real (the WLT photo, the
// fingerprint templates). They are not decodable.
func placeholder(n int, parts ...any) []byte {
	rng := rand.New(rand.NewPCG(mix(parts...), 0x5EED))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], rng.Uint64())
		copy(b[i:], w[:])
	}
	return b
}

// Card returns the resident's card as the reader's SAM returns it: the text
// fields, a 1024-byte placeholder photo and, when the card has fingerprint
// data, 1024 placeholder fingerprint bytes.
func (r *Resident) Card() (*identity.Card, error) {
	c := &identity.Card{
		Name:        r.Name,
		EnglishName: r.EnglishName,
		Gender:      identity.Gender(r.Gender),
		Nation:      identity.Nation(r.Nation),
		Birth:       r.BirthDate,
		Address:     r.Address,
		IDNumber:    r.IDNumber,
		Authority:   r.Authority,
		Validity:    identity.Validity{From: r.ValidFrom, Until: r.ValidUntil},
		Nationality: r.Nationality,
		CardVersion: r.CardVersion,
		PassNumber:  r.PassNumber,
		IssueCount:  r.IssueCount,
	}
	var err error
	if c.Type, err = identity.ParseCardType(r.CardType); err != nil {
		return nil, fmt.Errorf("deck: %s: %w", r.IDNumber, err)
	}
	if c.Type == identity.CardForeignPermanent {
		c.Address = "" // the foreign card has no address field
	}
	if err := c.Validity.Check(); err != nil {
		return nil, fmt.Errorf("deck: %s: %w", r.IDNumber, err)
	}
	if !r.BirthDate.Valid() || r.BirthDate.IsLongTerm() || r.BirthDate.IsZero() {
		return nil, fmt.Errorf("deck: %s: birth date %q: %w", r.IDNumber, r.BirthDate.String(), identity.ErrCardData)
	}
	c.Photo = placeholder(sam.PhotoLen, "photo", r.deckSeed, r.IDNumber)
	if r.Fingerprint {
		c.Fingerprint = placeholder(sam.FingerprintLen, "fingerprint", r.deckSeed, r.IDNumber)
	}
	return c, nil
}

// Load reads a deck in JSON and checks it.
func Load(rd io.Reader) (*Deck, error) {
	var d Deck
	dec := json.NewDecoder(rd)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("deck: %w", err)
	}
	if err := d.check(); err != nil {
		return nil, err
	}
	return &d, nil
}

// LoadFile reads a deck from a JSON file.
func LoadFile(path string) (*Deck, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d, err := Load(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

func (d *Deck) check() error {
	seen := map[string]bool{}
	var errs []error
	for i, r := range d.Residents {
		if r == nil {
			errs = append(errs, fmt.Errorf("deck: resident %d is null", i))
			continue
		}
		r.IDNumber = identity.CanonicalIDNumber(r.IDNumber)
		if seen[r.IDNumber] {
			errs = append(errs, fmt.Errorf("deck: resident %d: duplicate ID number %s", i, r.IDNumber))
		}
		seen[r.IDNumber] = true
		r.deckSeed = d.Seed
		c, err := r.Card()
		if err != nil {
			errs = append(errs, fmt.Errorf("deck: resident %d: %w", i, err))
			continue
		}
		if _, err := sam.EncodeText(c); err != nil {
			errs = append(errs, fmt.Errorf("deck: resident %d (%s): %w", i, r.IDNumber, err))
		}
		if err := c.CheckIDNumber(); err != nil {
			errs = append(errs, fmt.Errorf("deck: resident %d (%s): %w", i, r.IDNumber, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	d.reindex()
	return nil
}

// Save writes the deck as indented JSON.
func (d *Deck) Save(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(d)
}

// SaveFile writes the deck to a JSON file.
func (d *Deck) SaveFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := d.Save(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// CSVHeader is the header row of WriteCSV.
var CSVHeader = []string{"id_number", "name", "gender", "birth_date", "address", "district", "grid_cell", "household", "categories", "relationship"}

// WriteCSV writes one row per resident for the server's resident import;
// categories are separated by ";".
func (d *Deck) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, r := range d.Residents {
		cats := append([]string(nil), r.Categories...)
		sort.Strings(cats)
		if err := cw.Write([]string{r.IDNumber, r.Name, r.Gender, r.BirthDate.String(), r.Address, r.District,
			r.GridCell, r.Household, strings.Join(cats, ";"), r.Relationship}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
