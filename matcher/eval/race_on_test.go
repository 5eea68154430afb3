//go:build race

package eval

// raceDetector: the tests are built with -race.
const raceDetector = true
