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
}

// ErrDataset reports an unusable Dataset description.
var ErrDataset = errors.New("fingerimg: bad dataset")

// ManifestName is the manifest file WriteDataset writes.
const ManifestName = "manifest.csv"

// WriteDataset renders d into dir as PNG files plus a manifest.csv with the
// header path,subject,finger,sample (the format of the project's real
// evaluation sets and of veinctl eval). The subject is the finger seed and
// the finger is always 1. dir is created if needed; existing files of the
// same names are overwritten.
func WriteDataset(dir string, d Dataset) error {
	if d.Fingers <= 0 || d.Samples <= 0 || d.Fingers > 1_000_000 || d.Samples > 1000 {
		return fmt.Errorf("%w: %d fingers x %d samples", ErrDataset, d.Fingers, d.Samples)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	mf, err := os.Create(filepath.Join(dir, ManifestName))
	if err != nil {
		return err
	}
	mw := bufio.NewWriter(mf)
	fmt.Fprintln(mw, "path,subject,finger,sample")
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
			fmt.Fprintf(mw, "%s,%d,1,%d\n", name, seed, s+1)
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
