// Package fingerimg synthesises near-infrared (NIR) transmission images of
// fingers, as a finger-vein scanner's camera sees them, for the scanner
// simulator and for tests that must not use real biometric data.
//
// A Finger is one identity, generated deterministically from a seed: its
// silhouette (width, taper, bend, rounded tip), joint positions, tissue
// texture and a branching vein network with per-vessel width and depth.
// Capture renders one image of it under Conditions: sensor size, LED
// intensities, a capture (placement) seed, a frame number and a quality
// knob. Every placement varies as real captures do (position, in-plane
// rotation, axial roll, pressure, exposure, blur, sometimes a partly placed
// finger); frames of one placement differ only in sensor noise. The same
// finger seed and conditions always give the same image, bit for bit.
// CaptureTruth adds the ground truth (finger and vessel masks, pose).
//
//	f := fingerimg.NewFinger(42)
//	c := fingerimg.DefaultConditions()
//	c.Seed = 7
//	img := f.Capture(c) // *image.Gray, 500 x 200, finger horizontal, tip right
//
// docs/synthetic-images.md describes the model and how its images differ
// from real ones.
package fingerimg

import (
	"fmt"
	"math"
)

// Placement is how the finger lies on the scanner during a capture.
type Placement int

// Placements.
const (
	// Normal: the finger lies on the guide, tip near the tip stop.
	Normal Placement = iota
	// Partial: the finger is only partly placed: not pushed in far enough,
	// or off to one side, so part of the frame that should show finger
	// shows background.
	Partial
	// Moved: the finger moved during the exposure (motion blur).
	Moved
	// Absent: no finger; the sensor sees only stray light and noise.
	Absent
)

var placementNames = [...]string{"normal", "partial", "moved", "absent"}

func (p Placement) String() string {
	if p >= 0 && int(p) < len(placementNames) {
		return placementNames[p]
	}
	return fmt.Sprintf("Placement(%d)", int(p))
}

// Sensor geometry defaults and limits.
const (
	DefaultWidth  = 500
	DefaultHeight = 200
	// MaxWidth and MaxHeight bound the sensor size; larger requests are
	// clamped (a capture allocates a few float32 planes of this size).
	MaxWidth  = 2048
	MaxHeight = 2048
	// DefaultLED is the intensity DefaultConditions gives every LED: a
	// mid-grey exposure for a typical finger, with room both ways for
	// automatic exposure.
	DefaultLED = 128
	// DefaultQuality is the quality of DefaultConditions: a co-operative
	// user on a clean scanner, with ordinary capture-to-capture variation.
	DefaultQuality = 0.8
)

// Conditions are the circumstances of one capture.
type Conditions struct {
	// Width and Height are the native sensor size in pixels; zero or
	// negative means the default 500 x 200. The finger lies horizontally,
	// tip to the right, about 100 to 145 pixels wide in a 500 x 200 frame;
	// other sizes scale that by min(Width/500, Height/200), so a taller
	// frame shows more background and a longer one more of the finger.
	Width, Height int
	// LED holds per-LED drive levels 0..255, LEDs evenly spaced along the
	// finger (left to right). The light each LED adds is linear in its level
	// above a small threshold and spreads over its neighbourhood, so the
	// exposure of each part of the finger follows the LEDs above it: all
	// zero is dark, all 255 saturates most of the finger. A nil slice means
	// four LEDs at DefaultLED; an empty non-nil slice means no light.
	LED []uint8
	// Gain is the sensor's analogue gain; zero means 1.
	Gain float64
	// Seed is the capture (placement) seed: everything that varies from
	// one placement of the finger to the next (pose, roll, pressure,
	// exposure drift, blur, noise) derives from it and the finger.
	Seed uint64
	// Frame numbers the frames of one placement: frames that share Seed
	// show the finger lying still (same pose, roll, pressure, exposure
	// drift and blur) and differ only in sensor noise and a sub-pixel
	// tremor, as consecutive frames of a scanner's exposure loop do.
	Frame uint64
	// Placement selects a normal capture or one of the faulty ones.
	Placement Placement
	// Quality, 0..1, scales how clean the capture is: 1 is a careful
	// capture (still with the small variation any two captures have);
	// lower values bring more blur, noise, rotation, roll, pressure and
	// exposure variation, and fainter veins. Out-of-range values are
	// clamped.
	Quality float64
}

// DefaultConditions returns a 500 x 200 capture under four LEDs at
// DefaultLED, Normal placement and DefaultQuality.
func DefaultConditions() Conditions {
	return Conditions{
		Width:     DefaultWidth,
		Height:    DefaultHeight,
		LED:       []uint8{DefaultLED, DefaultLED, DefaultLED, DefaultLED},
		Gain:      1,
		Placement: Normal,
		Quality:   DefaultQuality,
	}
}

// normalized returns c with defaults filled in and values clamped.
func (c Conditions) normalized() Conditions {
	if c.Width <= 0 {
		c.Width = DefaultWidth
	}
	if c.Height <= 0 {
		c.Height = DefaultHeight
	}
	c.Width = min(c.Width, MaxWidth)
	c.Height = min(c.Height, MaxHeight)
	if c.LED == nil {
		c.LED = []uint8{DefaultLED, DefaultLED, DefaultLED, DefaultLED}
	}
	if c.Gain == 0 || math.IsNaN(c.Gain) {
		c.Gain = 1
	}
	c.Gain = math.Max(0, math.Min(c.Gain, 64))
	if math.IsNaN(c.Quality) {
		c.Quality = DefaultQuality
	}
	c.Quality = math.Max(0, math.Min(c.Quality, 1))
	if c.Placement < Normal || c.Placement > Absent {
		c.Placement = Normal
	}
	return c
}
