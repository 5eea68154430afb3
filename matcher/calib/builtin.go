package calib

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"path"
)

// builtin holds the calibrations shipped with the code. Only synthetic
// ones (made from simulator images) may be here: a calibration measured
// on real images is derived from them and is supplied by the operator as a
// file (centrald --calibration), never committed.
//
//go:embed builtin
var builtin embed.FS

// Builtin returns the shipped calibrations: the simulator scanner model's
// (VS-SIM-1, made with scripts/simulator-calibration.sh).
func Builtin() ([]*File, error) {
	names, err := fs.Glob(builtin, "builtin/*.json")
	if err != nil {
		return nil, err
	}
	var out []*File
	for _, n := range names {
		b, err := builtin.ReadFile(n)
		if err != nil {
			return nil, err
		}
		f, err := Decode(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("built-in %s: %w", path.Base(n), err)
		}
		if !f.Synthetic {
			return nil, fmt.Errorf("%w: built-in %s is not synthetic: real-data calibrations are supplied as files", ErrInvalid, path.Base(n))
		}
		out = append(out, f)
	}
	return out, nil
}
