package fingerimg

import (
	"bufio"
	"errors"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
)

// Dataset describes a synthetic evaluation set: Fingers fingers (seeds
// FirstSeed, FirstSeed+1, ...) with Samples captures each, under
// Conditions (whose Seed is the first capture seed; sample s uses
// Conditions.Seed+s).
type Dataset struct {
	Fingers, Samples int
	FirstSeed        uint64
	Conditions       Conditions
	// FingersPerSubject groups consecutive fingers into subjects (for the
	// kiosk's two-finger enrolment in `veinctl eval --policy`); 0 or 1:
	// one finger per subject.
	FingersPerSubject int
	// Sessions splits each finger's samples into this many sessions of
	// consecutive samples, written in a session column; 0: no column.
	Sessions int
}

// ErrDataset reports an unusable Dataset description.
var ErrDataset = errors.New("fingerimg: bad dataset")

// ManifestName is the manifest file WriteDataset writes.
const ManifestName = "manifest.csv"

// WriteDataset renders d into dir as PNG files plus a manifest.csv with the
// header path,subject,finger,sample (the format of the project's real
// evaluation sets and of veinctl eval), plus session with Sessions. With
// one finger per subject the subject is the finger seed and the finger is
// always 1; with FingersPerSubject k, finger i belongs to subject
// FirstSeed + i/k as finger i%k + 1. dir is created if needed; existing files of the
// same names are overwritten.
func WriteDataset(dir string, d Dataset) error {
	if d.Fingers <= 0 || d.Samples <= 0 || d.Fingers > 1_000_000 || d.Samples > 1000 || d.FingersPerSubject < 0 || d.FingersPerSubject > 10 || d.Sessions < 0 || d.Sessions > d.Samples {
		return fmt.Errorf("%w: %d fingers x %d samples, %d fingers per subject, %d sessions", ErrDataset, d.Fingers, d.Samples, d.FingersPerSubject, d.Sessions)
	}
	perSubject := max(1, d.FingersPerSubject)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	mf, err := os.Create(filepath.Join(dir, ManifestName))
	if err != nil {
		return err
	}
	mw := bufio.NewWriter(mf)
	if d.Sessions > 0 {
		fmt.Fprintln(mw, "path,subject,finger,sample,session")
	} else {
		fmt.Fprintln(mw, "path,subject,finger,sample")
	}
	for i := range d.Fingers {
		seed := d.FirstSeed + uint64(i)
		f := NewFinger(seed)
		for s := range d.Samples {
			c := d.Conditions
			c.Seed = d.Conditions.Seed + uint64(s)
			name := fmt.Sprintf("f%d_%02d.png", seed, s+1)
			if err := writePNG(filepath.Join(dir, name), f, c); err != nil {
				mf.Close()
				return err
			}
			subject, finger := seed, 1
			if perSubject > 1 {
				subject, finger = d.FirstSeed+uint64(i/perSubject), i%perSubject+1
			}
			if d.Sessions > 0 {
				fmt.Fprintf(mw, "%s,%d,%d,%d,%d\n", name, subject, finger, s+1, 1+s*d.Sessions/d.Samples)
			} else {
				fmt.Fprintf(mw, "%s,%d,%d,%d\n", name, subject, finger, s+1)
			}
		}
	}
	if err := mw.Flush(); err != nil {
		mf.Close()
		return err
	}
	return mf.Close()
}

func writePNG(path string, f *Finger, c Conditions) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(out, f.Capture(c)); err != nil {
		out.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return out.Close()
}
