package veinsim

import (
	"fmt"

	"github.com/qingshan-gov/veinkiosk/simulators/deck"
)

// Default deck of the simulators' command lines ("devsim vein", "veinctl
// scanner ... --device sim"): the same seed and size give the same
// residents and the same fingers in every program.
const (
	DefaultDeckSeed = 42
	DefaultDeckSize = 200
)

// DeckResidents resolves residents of a deck.
type DeckResidents struct{ Deck *deck.Deck }

// FingerSeed implements ResidentLookup.
func (r DeckResidents) FingerSeed(id string, finger int) (uint64, error) {
	res, ok := r.Deck.Lookup(id)
	if !ok {
		return 0, fmt.Errorf("%w: %s", ErrUnknownResident, maskID(id))
	}
	s := res.FingerSeed(finger)
	if s == 0 {
		return 0, fmt.Errorf("veinsim: finger position %d outside 1..10", finger)
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
