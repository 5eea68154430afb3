package fingerimg

import (
	"bytes"
	"encoding/csv"
	"errors"
	"flag"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteDataset(t *testing.T) {
	dir := t.TempDir()
	c := DefaultConditions()
	c.Seed = 10
	if err := WriteDataset(dir, Dataset{Fingers: 2, Samples: 3, FirstSeed: 40, Conditions: c}); err != nil {
		t.Fatal(err)
	}
	mf, err := os.Open(filepath.Join(dir, ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	defer mf.Close()
	recs, err := csv.NewReader(mf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 7 || recs[0][0] != "path" || recs[1][1] != "40" || recs[6][1] != "41" || recs[6][3] != "3" {
		t.Fatalf("manifest %q", recs)
	}
	// Each file is exactly the capture it names.
	f, err := os.Open(filepath.Join(dir, recs[5][0]))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	c.Seed = 11
	want := NewFinger(41).Capture(c)
	var got []byte
	for y := range want.Rect.Dy() {
		for x := range want.Rect.Dx() {
			r, _, _, _ := img.At(x, y).RGBA()
			got = append(got, uint8(r>>8))
		}
	}
	if !bytes.Equal(got, want.Pix) {
		t.Error("dataset image differs from the capture")
	}
	if err := WriteDataset(dir, Dataset{}); !errors.Is(err, ErrDataset) {
		t.Errorf("empty dataset: %v", err)
	}
	// Two fingers per subject and two sessions.
	c.Width, c.Height = 120, 60
	if err := WriteDataset(dir, Dataset{Fingers: 3, Samples: 4, FirstSeed: 40, Conditions: c, FingersPerSubject: 2, Sessions: 2}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	recs, err = csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// Rows: header, finger 0 (subject 40 finger 1), finger 1 (40, 2),
	// finger 2 (41, 1); samples 1-2 session 1, 3-4 session 2.
	if len(recs) != 13 || recs[0][4] != "session" || recs[5][1] != "40" || recs[5][2] != "2" || recs[9][1] != "41" || recs[9][2] != "1" || recs[2][4] != "1" || recs[3][4] != "2" {
		t.Fatalf("manifest %q", recs)
	}
	if err := WriteDataset(dir, Dataset{Fingers: 1, Samples: 2, Sessions: 3, Conditions: c}); !errors.Is(err, ErrDataset) {
		t.Errorf("more sessions than samples: %v", err)
	}
}

// Writing a dataset for evaluation, e.g. with veinctl eval:
//
//	go test ./simulators/fingerimg -run '^TestDatasetFlag$' -dataset /tmp/synth -fingers 60 -samples 5 -quality 0.8
var (
	datasetDir     = flag.String("dataset", "", "TestDatasetFlag writes a synthetic dataset here")
	datasetFingers = flag.Int("fingers", 60, "fingers of the -dataset")
	datasetSamples = flag.Int("samples", 5, "captures per finger of the -dataset")
	datasetQuality = flag.Float64("quality", DefaultQuality, "capture quality of the -dataset")
	datasetSeed    = flag.Uint64("first-seed", 1000, "seed of the first finger of the -dataset")
	datasetPerSubj = flag.Int("per-subject", 1, "fingers per subject of the -dataset")
	datasetSession = flag.Int("sessions", 0, "sessions of the -dataset's samples (0: no session column)")
)

func TestDatasetFlag(t *testing.T) {
	if *datasetDir == "" {
		t.Skip("no -dataset directory")
	}
	c := DefaultConditions()
	c.Quality = *datasetQuality
	d := Dataset{Fingers: *datasetFingers, Samples: *datasetSamples, FirstSeed: *datasetSeed, Conditions: c, FingersPerSubject: *datasetPerSubj, Sessions: *datasetSession}
	if err := WriteDataset(*datasetDir, d); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d images and %s to %s", d.Fingers*d.Samples, ManifestName, *datasetDir)
}
