package extract

import (
	"fmt"
	"image"
	"math"
	"testing"

	"github.com/qingshan-gov/veinkiosk/matcher"
)

// Placement tests: the same synthetic finger turned, moved into a larger
// frame and placed beside a neighbouring finger must give the template of
// the finger as drawn upright (tip on the right).

// turnImage returns img turned by turns quarter turns counter-clockwise
// (the test's own implementation, independent of rotate).
func turnImage(img *image.Gray, turns int) *image.Gray {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := img
	for k := 0; k < turns&3; k++ {
		r := image.NewGray(image.Rect(0, 0, h, w))
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				// counter-clockwise: (x, y) -> (y, w-1-x)
				r.Pix[(w-1-x)*r.Stride+y] = out.Pix[y*out.Stride+x]
			}
		}
		out, w, h = r, h, w
	}
	return out
}

// padImage puts img at (x, y) in a w x h frame of grey level bg.
func padImage(img *image.Gray, w, h, x, y int, bg uint8) *image.Gray {
	out := image.NewGray(image.Rect(0, 0, w, h))
	for i := range out.Pix {
		out.Pix[i] = bg
	}
	b := img.Bounds()
	for j := 0; j < b.Dy(); j++ {
		copy(out.Pix[(y+j)*out.Stride+x:], img.Pix[j*img.Stride:j*img.Stride+b.Dx()])
	}
	return out
}

// prodScore is the production comparison (matcher.DefaultParams shifts).
func prodScore(a, b *Result) float64 {
	return matcher.ReferenceMiuraScore(a.Vein, b.Vein, matcher.DefaultParams.ShiftRows, matcher.DefaultParams.ShiftCols)
}

// placeFixture is an upright finger with a visible tip, a second capture of
// it (other noise), and another finger.
type placeFixture struct {
	spec            fingerSpec
	ref, again, oth *Result
}

func newPlaceFixture(t *testing.T) *placeFixture {
	t.Helper()
	spec := fingerSpec{w: 480, h: 180, width: 130, noise: 3, veins: randomVeins(21, 7), seed: 22, tip: 0.9, taper: 0.08}
	again := spec
	again.seed = 23
	other := spec
	other.veins = randomVeins(24, 7)
	opt := anyOptions()
	f := &placeFixture{spec: spec, ref: mustExtract(t, spec.draw(), opt),
		again: mustExtract(t, again.draw(), opt), oth: mustExtract(t, other.draw(), opt)}
	if f.ref.Turns != 0 || f.ref.TipCue != "frame" {
		t.Fatalf("upright finger: turns %d, cue %q; want 0, frame", f.ref.Turns, f.ref.TipCue)
	}
	return f
}

// anyOptions are the defaults with the direction taken from the content.
func anyOptions() Options {
	o := DefaultOptions()
	o.Orientation = Any
	return o
}

// check fails unless r matches the upright capture about as well as a
// second capture does, and far better than another finger.
func (f *placeFixture) check(t *testing.T, name string, r *Result) {
	t.Helper()
	gen, imp, got := prodScore(f.ref, f.again), prodScore(f.ref, f.oth), prodScore(f.ref, r)
	if got < 0.85*gen || got < imp+0.1 {
		t.Errorf("%s: score %.3f against the upright capture; a second capture scores %.3f, another finger %.3f", name, got, gen, imp)
	}
}

func TestPlacementAnyQuarterTurn(t *testing.T) {
	f := newPlaceFixture(t)
	up := f.spec.draw()
	for turns := 0; turns < 4; turns++ {
		img := turnImage(up, turns)
		r := mustExtract(t, img, anyOptions())
		if want := (4 - turns) & 3; r.Turns != want {
			t.Errorf("turned %d: extraction turned it %d quarter turns, want %d", turns, r.Turns, want)
		}
		f.check(t, fmt.Sprintf("turned %d", turns), r)
		// The default (Auto) finds the same axis; an explicit axis too.
		if e := mustExtract(t, img, DefaultOptions()); e.Turns&1 != r.Turns&1 {
			t.Errorf("turned %d: auto turned it %d quarter turns, want %d", turns, e.Turns, r.Turns)
		}
		opt := DefaultOptions()
		opt.Orientation = Horizontal
		if turns&1 == 1 {
			opt.Orientation = Vertical
		}
		if e := mustExtract(t, img, opt); e.Turns&1 != r.Turns&1 {
			t.Errorf("turned %d: orientation %v turned it %d quarter turns, want %d", turns, opt.Orientation, e.Turns, r.Turns)
		}
	}
}

func TestPlacementInLargerFrame(t *testing.T) {
	f := newPlaceFixture(t)
	up := f.spec.draw()
	for _, c := range []struct {
		name       string
		w, h, x, y int
		turns      int
	}{
		{"centred", 900, 600, 210, 210, 0},
		{"corner", 1000, 700, 10, 500, 0},
		{"centred, upside down", 800, 800, 160, 310, 2},
		{"left, turned", 700, 900, 30, 100, 1},
		{"right, turned back", 640, 1000, 400, 300, 3},
	} {
		img := turnImage(up, c.turns)
		b := img.Bounds()
		x, y := c.x, c.y
		if x+b.Dx() > c.w || y+b.Dy() > c.h {
			x, y = min(x, c.w-b.Dx()), min(y, c.h-b.Dy())
		}
		r := mustExtract(t, padImage(img, c.w, c.h, x, y, 20), anyOptions())
		f.check(t, c.name, r)
		// Cropped to the finger, it is traced at about the resolution of
		// the upright capture, not shrunk with the frame.
		if w, ref := r.Region.Width, f.ref.Region.Width; math.Abs(w-ref) > 0.15*ref {
			t.Errorf("%s: finger traced %.0f pixels wide, upright %.0f", c.name, w, ref)
		}
	}
}

// TestPlacementNeighbourFinger: a second finger in the frame, parallel and
// separated by a dark gap, above or below: its edges are not taken for
// the finger's, whichever finger is larger in the frame.
func TestPlacementNeighbourFinger(t *testing.T) {
	f := newPlaceFixture(t)
	up := f.spec.draw()
	nb := fingerSpec{w: 480, h: 180, width: 110, noise: 3, veins: randomVeins(31, 7), seed: 32}.draw()
	for _, c := range []struct {
		name   string
		nbY    int // neighbour row in the frame
		fY     int // finger row
		cutTop int // rows of the neighbour left in the frame
	}{
		{"neighbour above, half in view", 0, 90, 90},
		{"neighbour below, part in view", 180, 0, 70},
	} {
		frame := image.NewGray(image.Rect(0, 0, 480, 270))
		for i := range frame.Pix {
			frame.Pix[i] = 20
		}
		// the neighbour: the rows of nb that fall in the frame
		for j := 0; j < 180; j++ {
			fy := c.nbY + j - (180 - c.cutTop)
			if c.nbY > 0 {
				fy = c.nbY + j - 90
			}
			if fy >= 0 && fy < 270 {
				copy(frame.Pix[fy*frame.Stride:], nb.Pix[j*nb.Stride:j*nb.Stride+480])
			}
		}
		// the finger, drawn over (its own dark background trimmed to the
		// finger with a gap of 15 rows each side)
		for j := 10; j < 170; j++ {
			fy := c.fY + j
			if fy < 0 || fy >= 270 {
				continue
			}
			copy(frame.Pix[fy*frame.Stride:], up.Pix[j*up.Stride:j*up.Stride+480])
		}
		r := mustExtract(t, frame, anyOptions())
		f.check(t, c.name, r)
	}
}

// TestRotateCrop checks the image operations placement uses.
func TestRotateCrop(t *testing.T) {
	g := NewGray(3, 2)
	copy(g.Pix, []float32{1, 2, 3, 4, 5, 6})
	for turns, want := range [][]float32{{1, 2, 3, 4, 5, 6}, {3, 6, 2, 5, 1, 4}, {6, 5, 4, 3, 2, 1}, {4, 1, 5, 2, 6, 3}} {
		r := rotate(g, turns)
		if fmt.Sprint(r.Pix) != fmt.Sprint(want) {
			t.Errorf("rotate %d: %v, want %v", turns, r.Pix, want)
		}
		if back := rotate(r, 4-turns); fmt.Sprint(back.Pix) != fmt.Sprint(g.Pix) || back.W != 3 {
			t.Errorf("rotate %d and back: %v", turns, back.Pix)
		}
	}
	if c := crop(g, 1, 0, 3, 2); fmt.Sprint(c.Pix) != "[2 3 5 6]" || c.W != 2 || c.H != 2 {
		t.Errorf("crop: %v", c.Pix)
	}
}
