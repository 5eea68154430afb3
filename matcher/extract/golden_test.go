package extract

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"image"
	"os"
	"strings"
	"testing"

	"github.com/qingshan-gov/veinkiosk/matcher"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/templates.golden from the current pipeline")

// goldenImages are the synthetic captures whose templates are pinned:
// horizontal and vertical fingers, tilted, offset, with a visible tip and
// taper, noisy, at two sizes, so that every stage of the pipeline runs.
func goldenImages() map[string]*image.Gray {
	out := map[string]*image.Gray{}
	for i := 0; i < 24; i++ {
		s := fingerSpec{w: 500, h: 200, width: 120 + float64(i%5)*8, noise: 2 + float64(i%3), veins: randomVeins(uint64(100+i), 5+i%4), seed: uint64(200 + i)}
		if i%4 == 1 {
			s.angle, s.dy = 0.05, 6
		}
		if i%4 == 2 {
			s.tip, s.taper = 0.85, 0.2
		}
		if i%4 == 3 {
			s.w, s.h, s.vertical, s.width = 300, 450, true, 210
		}
		if i%6 == 5 {
			s.w, s.h = 640, 240
		}
		out[fmt.Sprintf("synth-%02d", i)] = s.draw()
	}
	return out
}

// TestTemplatesGolden: the pipeline's templates are bit for bit those
// pinned in testdata/templates.golden (SHA-256 of each template's
// encoding, default options). A speed-up of the extraction must leave them
// unchanged; a deliberate change of the pipeline regenerates the file
// (go test ./matcher/extract -run TestTemplatesGolden -update) and bumps
// the extract/N version of Options.Describe, so that calibrations follow.
func TestTemplatesGolden(t *testing.T) {
	opt := DefaultOptions()
	p := opt.Params(matcher.DefaultParams.ShiftRows, matcher.DefaultParams.ShiftCols)
	got := map[string]string{}
	imgs := goldenImages()
	for name, img := range imgs {
		r, err := Extract(img, opt)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		tm, err := r.Template(p, 2)
		if err != nil {
			t.Fatal(err)
		}
		b, err := tm.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		got[name] = fmt.Sprintf("%s q=%d", hex.EncodeToString(sum[:]), r.Quality)
	}
	const file = "testdata/templates.golden"
	if *updateGolden {
		var b strings.Builder
		for i := 0; i < len(imgs); i++ {
			name := fmt.Sprintf("synth-%02d", i)
			fmt.Fprintf(&b, "%s %s\n", name, got[name])
		}
		if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, want, _ := strings.Cut(sc.Text(), " ")
		if got[name] != want {
			t.Errorf("%s: template %s, golden %s", name, got[name], want)
		}
		n++
	}
	if n != len(got) {
		t.Errorf("%d golden templates, %d extracted", n, len(got))
	}
}
