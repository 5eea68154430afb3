package hwdev

import (
	"context"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/simulators/deck"
	"github.com/qingshan-gov/veinkiosk/simulators/idcardsim"
)

// TestSAMReaderKeepsTextOnly reads a card from the reader simulator through
// the real driver (which returns its 1024-byte photo, and fingerprint data
// on a 30 10 read): the kiosk's card is the identity card of the deck
// without the photo or the fingerprint bytes.
func TestSAMReaderKeepsTextOnly(t *testing.T) {
	d := deck.Generate(11, 24)
	var r *deck.Resident
	for _, x := range d.Residents {
		if x.Fingerprint {
			r = x
			break
		}
	}
	if r == nil {
		t.Fatal("no resident with fingerprint data in the deck")
	}
	sim, err := idcardsim.Start(d, idcardsim.Options{Timing: idcardsim.FastTiming()})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	want, err := r.Card()
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Photo) == 0 || len(want.Fingerprint) == 0 {
		t.Fatal("the deck card has no photo or fingerprint to drop")
	}
	sim.InsertCard(want)
	cr, err := OpenIDCardReader(sim.Path())(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer cr.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := cr.ReadCard(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Photo != nil || got.Fingerprint != nil {
		t.Errorf("the kiosk kept %d photo and %d fingerprint bytes", len(got.Photo), len(got.Fingerprint))
	}
	if got.IDNumber != want.IDNumber || got.Name != want.Name || got.Validity != want.Validity || got.Birth != want.Birth || got.Gender != want.Gender {
		t.Errorf("card %+v, want %+v", got, want)
	}
}
