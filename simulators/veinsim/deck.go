package veinsim

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/simulators/deck"
)

// Default deck of the simulators' command lines ("devsim vein", "veinctl
// scanner ... --device sim"): the same seed and size give the same
// residents and the same fingers in every program.
const (
	DefaultDeckSeed = 42
	DefaultDeckSize = 200
)

// ErrInvalidID is returned for a resident ID number that is neither in the
// deck nor a valid 18-character ID number.
var ErrInvalidID = errors.New("veinsim: not a valid ID number")

// DeckResidents resolves residents: a resident of the deck has the finger
// the deck gives (the one the demo enrols), and any other valid
// 18-character ID number a finger derived from the number alone
// (IDFingerSeed), so that the same number always gives the same finger.
type DeckResidents struct{ Deck *deck.Deck }

// FingerSeed implements ResidentLookup.
func (r DeckResidents) FingerSeed(id string, finger int) (uint64, error) {
	if finger < 1 || finger > 10 {
		return 0, fmt.Errorf("veinsim: finger position %d outside 1..10", finger)
	}
	if r.Deck != nil {
		if res, ok := r.Deck.Lookup(id); ok {
			return res.FingerSeed(finger), nil
		}
	}
	return IDFingerSeed(id, finger)
}

// Residents returns the deck (for the control channel's /deck).
func (r DeckResidents) Residents() *deck.Deck { return r.Deck }

// IDFingerSeed is the fingerimg identity seed of finger (ISO position
// 1..10) of a person who is not in the deck, derived from the ID number
// alone (docs/scanner-protocol.md, "Simulator"): the first 8 bytes,
// big-endian, of SHA-256("veinkiosk/veinsim/finger/v1" 0x00 ID 0x00
// finger-in-decimal), with the ID's check character in upper case; 0
// becomes 1. It fails with ErrInvalidID unless id is a valid 18-character
// ID number (GB 11643 check character).
func IDFingerSeed(id string, finger int) (uint64, error) {
	if finger < 1 || finger > 10 {
		return 0, fmt.Errorf("veinsim: finger position %d outside 1..10", finger)
	}
	n, err := identity.ParseIDNumber(id) // the canonical form: upper-case X
	if err != nil {
		return 0, fmt.Errorf("%w: %s", ErrInvalidID, identity.MaskIDNumber(id))
	}
	h := sha256.Sum256([]byte("veinkiosk/veinsim/finger/v1\x00" + string(n) + "\x00" + strconv.Itoa(finger)))
	s := binary.BigEndian.Uint64(h[:8])
	if s == 0 {
		s = 1
	}
	return s, nil
}

// LoadDeck returns the deck in path, or, when path is empty, the generated
// deck of seed and size.
func LoadDeck(path string, seed int64, size int) (*deck.Deck, error) {
	if path != "" {
		d, err := deck.LoadFile(path)
		if err != nil {
			return nil, fmt.Errorf("veinsim: deck %s: %w", path, err)
		}
		return d, nil
	}
	if size <= 0 {
		return nil, fmt.Errorf("veinsim: deck size %d", size)
	}
	return deck.Generate(seed, size), nil
}
