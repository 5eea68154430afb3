package veinsim

import (
	"testing"
)

// grab captures one image directly (no transport) and returns its pixels.
func grab(t *testing.T, d *Device) []byte {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.capture([32]byte{1}); err != nil {
		t.Fatal(err)
	}
	return d.last.pix
}

// meanAbsDiff is the mean absolute difference of two images' pixels.
func meanAbsDiff(a, b []byte) float64 {
	var sum int
	for i := range a {
		d := int(a[i]) - int(b[i])
		if d < 0 {
			d = -d
		}
		sum += d
	}
	return float64(sum) / float64(len(a))
}

// TestCapturesOfOnePlacement: while a finger stays on the window, the
// captures are frames of one placement (same pose, pressure, roll; new
// sensor noise and tremor), as in a real scanner's exposure loop; a finger
// lifted and put back lies differently. So two frames differ a little and
// two placements differ much more, and no two captures are identical.
func TestCapturesOfOnePlacement(t *testing.T) {
	d := newDevice(t)
	id := "" // the first resident of the test deck
	if lk, ok := d.cfg.Residents.(DeckResidents); ok {
		id = lk.Deck.Residents[0].IDNumber
	}
	if err := d.PlaceResident(id, 2); err != nil {
		t.Fatal(err)
	}
	f0, f1, f2 := grab(t, d), grab(t, d), grab(t, d)
	d.LiftFinger()
	d.PutBackFinger()
	p1 := grab(t, d)
	if err := d.PlaceResident(id, 2); err != nil {
		t.Fatal(err)
	}
	p2 := grab(t, d)

	frames := []float64{meanAbsDiff(f0, f1), meanAbsDiff(f1, f2)}
	placements := []float64{meanAbsDiff(f2, p1), meanAbsDiff(p1, p2), meanAbsDiff(f0, p2)}
	t.Logf("frames of one placement: %.2f; different placements: %.2f", frames, placements)
	for _, fd := range frames {
		if fd == 0 {
			t.Fatal("two frames are identical: no sensor noise")
		}
		for _, pd := range placements {
			if pd < 2*fd {
				t.Errorf("placements differ by %.2f, frames of one placement by %.2f: want the placements at least twice as different", pd, fd)
			}
		}
	}
}
