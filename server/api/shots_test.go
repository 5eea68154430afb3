package api

import "github.com/qingshan-gov/veinkiosk/server/internal/shottest"

// The harness's fingers are shottest's synthetic NIR fingers: the server
// extracts every template from a capture image, so the tests send images.
type (
	finger = shottest.Finger
	shot   = shottest.Shot
)

const testThreshold = shottest.Threshold

var kioskParams = shottest.KioskParams

func newFinger() *finger { return shottest.NewFinger() }
