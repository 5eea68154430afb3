// Package eval measures the matcher the way ISO/IEC 19795-1 asks: a fixed
// protocol over a manifest of labelled images, failure-to-extract counts,
// genuine and impostor score distributions, EER, FNMR at fixed FMR, a DET
// curve and a calibration table of thresholds for target FMRs.
package eval

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"image"
	_ "image/gif"  // decoders for every format
	_ "image/jpeg" // finger-vein datasets are
	_ "image/png"  // published in
	"io"
	"os"
	"path/filepath"
	"strings"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/tiff"
)

// Errors.
var (
	ErrManifest = errors.New("eval: bad manifest")
	ErrDecode   = errors.New("eval: cannot decode image")
)

// Entry is one image of a manifest.
type Entry struct {
	Path    string // absolute, or relative to the working directory
	Subject string
	Finger  string
	Sample  string
	// Session is the optional session column: when every entry has one,
	// same-session and cross-session genuine pairs are reported apart.
	Session string
	Line    int
}

// Key identifies the finger (subject, finger) of the entry.
func (e Entry) Key() string { return e.Subject + "\x00" + e.Finger }

// ReadManifest reads a CSV manifest with the header path,subject,finger,sample
// and optionally session (in any column order; extra columns are ignored). Relative paths are
// resolved against the manifest's directory.
func ReadManifest(name string) ([]Entry, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	entries, err := ParseManifest(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	dir := filepath.Dir(name)
	for i := range entries {
		if !filepath.IsAbs(entries[i].Path) {
			entries[i].Path = filepath.Join(dir, entries[i].Path)
		}
	}
	return entries, nil
}

// ParseManifest parses manifest CSV text; paths are returned as written.
func ParseManifest(r io.Reader) ([]Entry, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: empty", ErrManifest)
		}
		return nil, fmt.Errorf("%w: %v", ErrManifest, err)
	}
	col := map[string]int{}
	for i, h := range head {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		col[h] = i
	}
	need := []string{"path", "subject", "finger", "sample"}
	idx := make([]int, len(need))
	for i, n := range need {
		c, ok := col[n]
		if !ok {
			return nil, fmt.Errorf("%w: header %q lacks column %q (want path,subject,finger,sample)", ErrManifest, strings.Join(head, ","), n)
		}
		idx[i] = c
	}
	sessionCol, hasSession := col["session"]
	var out []Entry
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrManifest, err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		var v [4]string
		for i, c := range idx {
			if c >= len(rec) {
				return nil, fmt.Errorf("%w: line %d: %d fields, column %q missing", ErrManifest, line, len(rec), need[i])
			}
			v[i] = strings.TrimSpace(rec[c])
			if v[i] == "" {
				return nil, fmt.Errorf("%w: line %d: empty %s", ErrManifest, line, need[i])
			}
		}
		e := Entry{Path: v[0], Subject: v[1], Finger: v[2], Sample: v[3], Line: line}
		if hasSession && sessionCol < len(rec) {
			e.Session = strings.TrimSpace(rec[sessionCol])
		}
		id := e.Key() + "\x00" + e.Sample
		if prev, dup := seen[id]; dup {
			return nil, fmt.Errorf("%w: line %d repeats subject %s finger %s sample %s of line %d", ErrManifest, line, e.Subject, e.Finger, e.Sample, prev)
		}
		seen[id] = line
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no images", ErrManifest)
	}
	return out, nil
}

// MaxPixels bounds the size of an image DecodeImage accepts, so that a
// corrupt or hostile header cannot make it allocate gigabytes.
const MaxPixels = 64 << 20

// DecodeImage decodes a PNG, JPEG, GIF, BMP or TIFF image after checking its
// declared size.
func DecodeImage(data []byte) (image.Image, error) {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDecode, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > MaxPixels {
		return nil, fmt.Errorf("%w: declared size %dx%d", ErrDecode, cfg.Width, cfg.Height)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDecode, err)
	}
	return img, nil
}

// LoadImage reads and decodes an image file.
func LoadImage(name string) (image.Image, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	img, err := DecodeImage(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return img, nil
}
