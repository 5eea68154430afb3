// Package shottest makes the synthetic captures the server's black-box
// tests send (server/api's harness and the attack suite): a synthetic NIR
// finger's image, as the scanner attests it, and the template a kiosk
// extracts from it. It is imported by tests only.
package shottest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/matcher/extract"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/simulators/fingerimg"
)

// The harness's fingers are fingerimg's synthetic NIR fingers: the server
// extracts every template from a capture image, so the tests send images.
// Careful captures (fingerimg quality 1) of one finger score 0.30 and above
// against each other, those of different fingers at most 0.22 (measured
// over 40 fingers x 4 captures, 12,480 impostor pairs): Threshold lies
// between.
const Threshold = 0.26

// Finger is one synthetic finger; its captures cycle through a few
// placements, each rendered and extracted once (cached: rendering and the
// kiosk-side extraction are the slow part of a test).
//
// The good captures of one finger position are chosen to match each other
// in both directions at Threshold + consistencyMargin: the server refuses an
// enrolment whose captures do not (the enrolment consistency check), and a
// test that enrols a finger must not fail because a synthetic placement
// happened to be an outlier.
type Finger struct {
	f    *fingerimg.Finger
	next atomic.Uint64
	mu   sync.Mutex                  // serialises rendering: good is read and grown under it
	good map[int][]*matcher.Template // finger position -> its good captures so far
}

// consistencyMargin is how far above Threshold the good captures of one
// finger score against each other.
const consistencyMargin = 0.03

var fingerSeq atomic.Uint64

// NewFinger returns a finger never returned before in this process.
func NewFinger() *Finger { return &Finger{f: fingerimg.NewFinger(7_000_000 + fingerSeq.Add(1))} }

// Shot is one capture as the kiosk sends it: the scanner's image and the
// template the kiosk extracted from it.
type Shot struct {
	Img     *apiv1.Image
	Tmpl    []byte
	Quality int
}

// shotsPerFinger is how many different good captures a finger cycles
// through.
const shotsPerFinger = 4

type shotKey struct {
	finger, seed uint64
	pos          int
	good         bool
}

var shotCache sync.Map // shotKey -> Shot

// Shot returns a capture of f for finger position fg: good (quality 50 and
// above, as a kiosk recaptures until it gets one) or poor (1..39: fails the
// server's gate of 40).
func (f *Finger) Shot(tb testing.TB, fg apiv1.Finger, good bool) Shot {
	tb.Helper()
	i := f.next.Add(1)
	k := shotKey{finger: f.f.Seed(), seed: i % shotsPerFinger, pos: fg.Position(), good: good}
	if v, ok := shotCache.Load(k); ok {
		return v.(Shot)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if v, ok := shotCache.Load(k); ok {
		return v.(Shot)
	}
	sh, err := f.renderShot(k)
	if err != nil {
		tb.Fatal(err)
	}
	shotCache.Store(k, sh)
	return sh
}

// KioskParams are the template parameters a kiosk extracts with.
var KioskParams = extract.DefaultOptions().Params(matcher.DefaultParams.ShiftRows, matcher.DefaultParams.ShiftCols)

// consistent reports whether t matches every good capture of its finger
// position so far, both ways, at Threshold + consistencyMargin.
func (f *Finger) consistent(pos int, t *matcher.Template) (bool, error) {
	for _, o := range f.good[pos] {
		for _, pair := range [][2]*matcher.Template{{o, t}, {t, o}} {
			s, err := matcher.Compare(pair[0], pair[1])
			if err != nil {
				return false, err
			}
			if s < Threshold+consistencyMargin {
				return false, nil
			}
		}
	}
	return true, nil
}

func (f *Finger) renderShot(k shotKey) (Shot, error) {
	fi := f.f
	for try := uint64(0); try < 64; try++ {
		c := fingerimg.DefaultConditions()
		c.Seed = 1 + k.seed + try*shotsPerFinger
		c.Quality = 1
		if !k.good {
			c.Quality, c.Placement = 0, fingerimg.Partial
		}
		img := fi.Capture(c)
		x, err := extract.Extract(img, extract.DefaultOptions())
		if err != nil || (k.good && x.Quality < 50) || (!k.good && (x.Quality >= 40 || x.Quality < 1)) {
			continue
		}
		t, err := x.Template(KioskParams, uint8(k.pos))
		if err != nil {
			return Shot{}, err
		}
		if k.good {
			if ok, err := f.consistent(k.pos, t); err != nil {
				return Shot{}, err
			} else if !ok {
				continue
			}
			if f.good == nil {
				f.good = map[int][]*matcher.Template{}
			}
			f.good[k.pos] = append(f.good[k.pos], t)
		}
		b, err := t.MarshalBinary()
		if err != nil {
			return Shot{}, err
		}
		return Shot{Img: &apiv1.Image{Width: img.Rect.Dx(), Height: img.Rect.Dy(), Pixels: img.Pix}, Tmpl: b, Quality: x.Quality}, nil
	}
	return Shot{}, fmt.Errorf("finger %d: no capture of the wanted quality (good=%v, consistent with its others) in 64 placements", fi.Seed(), k.good)
}
