package extract

import (
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // real data for BenchmarkExtractReal
	_ "image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/qingshan-gov/veinkiosk/matcher"
)

func TestGaussianKernels(t *testing.T) {
	for _, sigma := range []float64{1, 2.5, 4} {
		g, d1, d2 := gaussianKernels(sigma, 4)
		var sg, r1, r2, c1, c2 float64
		r := len(g) / 2
		for i := range g {
			x := float64(i - r)
			sg += float64(g[i])
			// convolution at 0 of f(t) = t is sum f(-x) k(x)
			r1 += -x * float64(d1[i])
			r2 += x * x / 2 * float64(d2[i])
			c1 += float64(d1[i])
			c2 += float64(d2[i])
		}
		for name, got := range map[string]float64{"sum g": sg, "d1 on ramp": r1, "d2 on parabola": r2} {
			if math.Abs(got-1) > 1e-4 {
				t.Errorf("sigma %v: %s = %v, want 1", sigma, name, got)
			}
		}
		if math.Abs(c1) > 1e-5 || math.Abs(c2) > 1e-5 {
			t.Errorf("sigma %v: derivative kernels respond to a constant: %v %v", sigma, c1, c2)
		}
	}
}

func TestResizeAreaKeepsMean(t *testing.T) {
	g := NewGray(97, 41)
	var sum float64
	for i := range g.Pix {
		g.Pix[i] = float32(i % 13 * 7)
		sum += float64(g.Pix[i])
	}
	for _, sz := range [][2]int{{48, 20}, {31, 7}, {97, 41}, {150, 60}} {
		r := resizeArea(g, sz[0], sz[1])
		var s float64
		for _, v := range r.Pix {
			s += float64(v)
		}
		if got, want := s/float64(len(r.Pix)), sum/float64(len(g.Pix)); math.Abs(got-want) > 0.5 {
			t.Errorf("%v: mean %v, want %v", sz, got, want)
		}
	}
	c := NewGray(10, 10)
	for i := range c.Pix {
		c.Pix[i] = 77
	}
	for _, v := range resizeArea(c, 3, 7).Pix {
		if math.Abs(float64(v)-77) > 1e-3 {
			t.Fatalf("constant image resampled to %v", v)
		}
	}
}

func TestTranspose(t *testing.T) {
	g := NewGray(3, 2)
	copy(g.Pix, []float32{1, 2, 3, 4, 5, 6})
	tr := transpose(g)
	if tr.W != 2 || tr.H != 3 || tr.At(0, 2) != 3 || tr.At(1, 0) != 4 || tr.At(1, 2) != 6 {
		t.Fatalf("transpose: %+v", tr)
	}
}

func TestLeeEdgesFindTheFinger(t *testing.T) {
	spec := fingerSpec{w: 240, h: 120, width: 70, angle: 0.05, dy: 6, noise: 3, seed: 1}
	g, err := FromImage(spec.draw())
	if err != nil {
		t.Fatal(err)
	}
	r, err := leeEdges(g, 4, 3, false)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(r.B-math.Tan(spec.angle)) > 0.01 {
		t.Errorf("midline slope %v, want %v", r.B, math.Tan(spec.angle))
	}
	mid := r.A + r.B*120
	if want := 60 + spec.dy; math.Abs(mid-want) > 1.5 {
		t.Errorf("midline at the centre column %v, want %v", mid, want)
	}
	if want := spec.width / math.Cos(spec.angle); math.Abs(r.Width-want) > 3 {
		t.Errorf("width %v, want %v", r.Width, want)
	}
}

func TestFingerEnds(t *testing.T) {
	// A finger whose tip ends at 80 % of the image width.
	img := fingerSpec{w: 240, h: 100, width: 70, noise: 2, seed: 3}.draw()
	for y := 0; y < 100; y++ {
		for x := 192; x < 240; x++ {
			img.Pix[y*img.Stride+x] = 18
		}
	}
	g, _ := FromImage(img)
	r, err := leeEdges(g, 4, 3, false)
	if err != nil {
		t.Fatal(err)
	}
	if r.Left != 0 || math.Abs(float64(r.Right)-191) > 3 {
		t.Errorf("finger ends %v..%v, want 0..191", r.Left, r.Right)
	}
}

func TestMaximumCurvatureFindsALine(t *testing.T) {
	g := NewGray(60, 40)
	mask := make([]bool, len(g.Pix))
	for y := 0; y < g.H; y++ {
		for x := 0; x < g.W; x++ {
			d := float64(y - 20)
			g.Pix[y*g.W+x] = float32(0.8 - 0.5*math.Exp(-d*d/8))
			mask[y*g.W+x] = true
		}
	}
	for name, fn := range map[string]func(*Gray, []bool, float64) *Gray{"mc": maximumCurvature, "hessian": principalCurvature} {
		out := fn(g, mask, 2)
		// The strongest response of every inner column is on the line.
		for x := 10; x < 50; x++ {
			best, by := float32(-1), -1
			for y := 0; y < g.H; y++ {
				if v := out.Pix[y*g.W+x]; v > best {
					best, by = v, y
				}
			}
			if by < 19 || by > 21 {
				t.Errorf("%s: column %d peaks at row %d, want 20", name, x, by)
				break
			}
		}
	}
}

func TestExtractErrors(t *testing.T) {
	if _, err := Extract(nil, DefaultOptions()); !errors.Is(err, ErrImage) {
		t.Errorf("nil image: %v", err)
	}
	if _, err := Extract(image.NewGray(image.Rect(0, 0, 10, 300)), DefaultOptions()); !errors.Is(err, ErrImage) {
		t.Errorf("tiny image: %v", err)
	}
	blank := image.NewGray(image.Rect(0, 0, 300, 120))
	for i := range blank.Pix {
		blank.Pix[i] = 90
	}
	if _, err := Extract(blank, DefaultOptions()); !errors.Is(err, ErrNoFinger) {
		t.Errorf("blank image: %v", err)
	}
	bad := DefaultOptions()
	bad.Sigma = 0
	if _, err := Extract(fingerSpec{w: 300, h: 120, width: 70, seed: 1}.draw(), bad); !errors.Is(err, ErrOptions) {
		t.Errorf("sigma 0: %v", err)
	}
}

func TestParseOrientationAndMethod(t *testing.T) {
	for s, want := range map[string]Orientation{"auto": Auto, "horizontal": Horizontal, "vertical": Vertical} {
		if got, err := ParseOrientation(s); err != nil || got != want || got.String() != s {
			t.Errorf("ParseOrientation(%q) = %v, %v", s, got, err)
		}
	}
	for s, want := range map[string]Method{"mc": MethodMC, "hessian": MethodHessian, "dark": MethodDark} {
		if got, err := ParseMethod(s); err != nil || got != want || got.String() != s {
			t.Errorf("ParseMethod(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseOrientation("diagonal"); !errors.Is(err, ErrOptions) {
		t.Error("bad orientation accepted")
	}
	if _, err := ParseMethod("magic"); !errors.Is(err, ErrOptions) {
		t.Error("bad method accepted")
	}
}

// score compares two results with Miura's score and a small shift window.
func score(a, b *Result) float64 { return matcher.ReferenceMiuraScore(a.Vein, b.Vein, 4, 10) }

func mustExtract(t testing.TB, img image.Image, opt Options) *Result {
	t.Helper()
	r, err := Extract(img, opt)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Vein.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := r.Mask.Validate(); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestExtractSeparatesFingers is the pipeline end to end on synthetic
// fingers: a second capture of the same finger, moved, tilted and noisier,
// must score clearly higher than a different finger.
func TestExtractSeparatesFingers(t *testing.T) {
	opt := DefaultOptions()
	base := fingerSpec{w: 500, h: 200, width: 130, noise: 3, veins: randomVeins(1, 7), seed: 1}
	moved := base
	moved.angle, moved.dy, moved.width, moved.noise, moved.seed = 0.04, 9, 124, 5, 2
	other := base
	other.veins, other.seed = randomVeins(2, 7), 3

	a := mustExtract(t, base.draw(), opt)
	b := mustExtract(t, moved.draw(), opt)
	c := mustExtract(t, other.draw(), opt)
	for name, r := range map[string]*Result{"base": a, "moved": b, "other": c} {
		vein, mask := r.Vein.Count(), r.Mask.Count()
		if r.Metrics.Coverage < 0.6 {
			t.Errorf("%s: mask covers %.2f of the frame", name, r.Metrics.Coverage)
		}
		if d := float64(vein) / float64(mask); d < 0.1 || d > 0.5 {
			t.Errorf("%s: vein density %.2f", name, d)
		}
		if r.Quality < 50 {
			t.Errorf("%s: quality %d for a clean capture (%+v)", name, r.Quality, r.Metrics)
		}
		// The vein pattern lies inside the mask.
		for i, w := range r.Vein.Bits {
			if w&^r.Mask.Bits[i] != 0 {
				t.Fatalf("%s: vein pixels outside the mask", name)
			}
		}
	}
	gen, imp := score(a, b), score(a, c)
	t.Logf("genuine %.3f impostor %.3f", gen, imp)
	if gen < 0.3 || gen < imp+0.1 {
		t.Errorf("genuine score %.3f, impostor %.3f: the same finger does not stand out", gen, imp)
	}
}

// TestExtractVerticalEqualsHorizontal: the same finger turned upright
// gives the same template, with orientation detected or given.
func TestExtractVerticalEqualsHorizontal(t *testing.T) {
	h := fingerSpec{w: 450, h: 300, width: 220, noise: 2, veins: randomVeins(4, 6), seed: 5}
	opt := DefaultOptions()
	a := mustExtract(t, h.draw(), opt)
	v := turnImage(h.draw(), 1)
	b := mustExtract(t, v, opt)
	opt.Orientation = Vertical
	c := mustExtract(t, v, opt)
	other := h
	other.veins = randomVeins(5, 6)
	d := mustExtract(t, other.draw(), DefaultOptions())
	if s, si := score(a, b), score(a, d); s < si+0.1 {
		t.Errorf("vertical (auto) vs horizontal: score %.3f, other finger %.3f", s, si)
	}
	if b.Vein.Count() != c.Vein.Count() {
		t.Errorf("auto and explicit vertical differ: %d vs %d vein pixels", b.Vein.Count(), c.Vein.Count())
	}
}

func TestExtractCropped(t *testing.T) {
	// A finger filling the whole image, as a pre-cropped region of interest.
	spec := fingerSpec{w: 440, h: 150, width: 170, noise: 2, veins: randomVeins(6, 6), seed: 7}
	opt := DefaultOptions()
	opt.Cropped = true
	r := mustExtract(t, spec.draw(), opt)
	if r.Metrics.Coverage < 0.75 {
		t.Errorf("cropped: mask covers %.2f of the frame", r.Metrics.Coverage)
	}
}

// TestQualityDropsOnBadCaptures: a capture with faint veins and one where
// the finger covers only part of the window score lower than a good one.
func TestQualityDropsOnBadCaptures(t *testing.T) {
	opt := DefaultOptions()
	good := fingerSpec{w: 500, h: 200, width: 130, noise: 3, veins: randomVeins(8, 7), seed: 9}
	faint := good
	faint.veins = append([]vein(nil), good.veins...)
	for i := range faint.veins {
		faint.veins[i].depth /= 8
	}
	partial := good.draw()
	for y := 0; y < 200; y++ {
		for x := 230; x < 500; x++ {
			partial.Pix[y*partial.Stride+x] = 20
		}
	}
	qg := mustExtract(t, good.draw(), opt).Quality
	for name, img := range map[string]image.Image{"faint": faint.draw(), "partial": partial} {
		r, err := Extract(img, opt)
		if err != nil {
			continue // refusing the capture is also right
		}
		if r.Quality >= qg-10 {
			t.Errorf("%s capture quality %d, good capture %d (%+v)", name, r.Quality, qg, r.Metrics)
		}
	}
}

func TestDebugStages(t *testing.T) {
	opt := DefaultOptions()
	stages := map[string]image.Rectangle{}
	opt.Debug = func(stage string, img image.Image) { stages[stage] = img.Bounds() }
	mustExtract(t, fingerSpec{w: 500, h: 200, width: 130, veins: randomVeins(1, 5), seed: 1}.draw(), opt)
	for _, s := range []string{"0-input", "1-work", "2-edges", "3-normalized", "4-enhanced", "5-veins", "6-response", "7-mask", "8-vein"} {
		if _, ok := stages[s]; !ok {
			t.Errorf("no debug image for stage %s (have %v)", s, stages)
		}
	}
	if b := stages["8-vein"]; b.Dx() != opt.Width || b.Dy() != opt.Height {
		t.Errorf("vein stage %v", b)
	}
}

// BenchmarkExtract measures extraction of synthetic captures the size of
// the project's scanner (500 x 200, horizontal) and of NUPT-FPV (300 x 450,
// vertical).
func BenchmarkExtract(b *testing.B) {
	for _, spec := range []fingerSpec{
		{w: 500, h: 200, width: 130, noise: 3, veins: randomVeins(1, 7), seed: 1},
		{w: 300, h: 450, vertical: true, width: 230, noise: 3, veins: randomVeins(2, 7), seed: 2},
	} {
		img := spec.draw()
		b.Run(img.Bounds().Size().String(), func(b *testing.B) {
			opt := DefaultOptions()
			b.ReportAllocs()
			c0 := processCPU()
			for b.Loop() {
				if _, err := Extract(img, opt); err != nil {
					b.Fatal(err)
				}
			}
			// CPU time per extraction: on a shared machine wall time
			// includes waiting for a core.
			b.ReportMetric(float64(processCPU()-c0)/1e6/float64(b.N), "cpu-ms/op")
		})
	}
}

// BenchmarkExtractReal measures extraction of real images when
// ../shared/data is present (it is not in CI).
func BenchmarkExtractReal(b *testing.B) {
	for _, c := range []struct{ file string }{
		{"nupt-fpv/001_1_01.png"},
		{"fvusm-roi-dev/m_001_1_01.jpg"},
	} {
		name := filepath.Join("..", "..", "..", "shared", "data", c.file)
		f, err := os.Open(name)
		if err != nil {
			b.Skipf("real data not present: %v", err)
		}
		img, _, err := image.Decode(f)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		b.Run(filepath.Base(filepath.Dir(c.file)), func(b *testing.B) {
			opt := DefaultOptions()
			c0 := processCPU()
			for b.Loop() {
				if _, err := Extract(img, opt); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(processCPU()-c0)/1e6/float64(b.N), "cpu-ms/op")
		})
	}
}

// FuzzExtract runs the pipeline on arbitrary pixels and sizes: it must
// return a result or an error, never panic.
func FuzzExtract(f *testing.F) {
	f.Add(uint16(64), uint16(40), []byte{0, 255, 128, 7}, false, uint8(0))
	f.Add(uint16(200), uint16(90), []byte{20, 20, 200, 200, 200, 20}, true, uint8(2))
	f.Add(uint16(33), uint16(500), []byte{255}, false, uint8(1))
	f.Fuzz(func(t *testing.T, w, h uint16, pix []byte, cropped bool, orient uint8) {
		if w > 700 || h > 700 || len(pix) == 0 {
			return
		}
		img := image.NewGray(image.Rect(0, 0, int(w), int(h)))
		for i := range img.Pix {
			img.Pix[i] = pix[i%len(pix)] + byte(i/len(pix))
		}
		opt := DefaultOptions()
		opt.Cropped = cropped
		opt.Orientation = Orientation(orient % 3)
		r, err := Extract(img, opt)
		if err != nil {
			return
		}
		if r.Vein.Validate() != nil || r.Mask.Validate() != nil || r.Quality < 0 || r.Quality > 100 {
			t.Fatalf("bad result %+v", r)
		}
	})
}

func TestBoxBlur3ApproximatesGaussian(t *testing.T) {
	g := NewGray(121, 121)
	g.Pix[60*121+60] = 1000
	for _, sigma := range []float64{8, 12} { // the sizes flatten uses
		b := boxBlur3(g, sigma)
		k, _, _ := gaussianKernels(sigma, 4)
		want := separable(g, k, k, nil)
		var sum, l1, peak float64
		best := 0
		for i := range b.Pix {
			sum += float64(b.Pix[i])
			l1 += math.Abs(float64(b.Pix[i] - want.Pix[i]))
			if float64(b.Pix[i]) > peak {
				peak, best = float64(b.Pix[i]), i
			}
		}
		if math.Abs(sum-1000) > 1 {
			t.Errorf("sigma %v: mass %v", sigma, sum)
		}
		if best != 60*121+60 {
			t.Errorf("sigma %v: peak moved to %d", sigma, best)
		}
		if l1/1000 > 0.2 { // a coarse approximation, good enough for illumination
			t.Errorf("sigma %v: L1 distance to the Gaussian %.3f of the mass", sigma, l1/1000)
		}
	}
}

// convRowsPlain is convRows as it was before the four-wide loop: one output
// at a time. The reference for TestConvRowsBitIdentical.
func convRowsPlain(dst, src *Gray, k []float32) {
	r := len(k) / 2
	w := src.W
	buf := make([]float32, w+2*r)
	for y := 0; y < src.H; y++ {
		row := src.Row(y)
		copy(buf[r:], row)
		for i := 0; i < r; i++ {
			buf[i] = row[0]
			buf[r+w+i] = row[w-1]
		}
		out := dst.Row(y)
		for x := 0; x < w; x++ {
			var s float32
			win := buf[x : x+len(k)]
			for i, kv := range k {
				s += win[len(k)-1-i] * kv
			}
			out[x] = s
		}
	}
}

// TestConvRowsBitIdentical: the four-wide convRows gives exactly the plain
// loop's bits, for every kernel the pipeline uses and odd widths.
func TestConvRowsBitIdentical(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, sigma := range []float64{0.8, 1.5, 2, 4, 6, 9} {
		g, d1, d2 := gaussianKernels(sigma, 3)
		for _, k := range [][]float32{g, d1, d2} {
			for _, w := range []int{1, 3, 4, 5, 37, 160, 501} {
				src := NewGray(w, 7)
				for i := range src.Pix {
					src.Pix[i] = float32(r.NormFloat64()*40 + 120)
				}
				a, b := NewGray(w, 7), NewGray(w, 7)
				convRows(a, src, k)
				convRowsPlain(b, src, k)
				for i := range a.Pix {
					if math.Float32bits(a.Pix[i]) != math.Float32bits(b.Pix[i]) {
						t.Fatalf("sigma %v, kernel of %d, width %d: pixel %d is %v, plain %v", sigma, len(k), w, i, a.Pix[i], b.Pix[i])
					}
				}
			}
		}
	}
}

// boxRowsPlain is boxRows with every index clamped (before the interior
// loop): the reference for TestBoxRowsBitIdentical.
func boxRowsPlain(dst, src *Gray, r int) {
	w := src.W
	inv := 1 / float32(2*r+1)
	for y := 0; y < src.H; y++ {
		in := src.Row(y)
		out := dst.Row(y)
		at := func(i int) float32 { return in[min(max(i, 0), w-1)] }
		var s float32
		for i := -r; i <= r; i++ {
			s += at(i)
		}
		for x := 0; x < w; x++ {
			out[x] = s * inv
			s += at(x+r+1) - at(x-r)
		}
	}
}

func TestBoxRowsBitIdentical(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, r := range []int{1, 2, 3, 5, 9, 20} {
		for _, w := range []int{1, 2, 3, 7, 19, 40, 41, 42, 160, 501} {
			src := NewGray(w, 5)
			for i := range src.Pix {
				src.Pix[i] = float32(rng.NormFloat64()*40 + 120)
			}
			a, b := NewGray(w, 5), NewGray(w, 5)
			boxRows(a, src, r)
			boxRowsPlain(b, src, r)
			for i := range a.Pix {
				if math.Float32bits(a.Pix[i]) != math.Float32bits(b.Pix[i]) {
					t.Fatalf("r %d, width %d: pixel %d is %v, plain %v", r, w, i, a.Pix[i], b.Pix[i])
				}
			}
		}
	}
}

// TestExtractConcurrent: extractions on many goroutines at once (as the
// server runs them) give the templates of one at a time; under -race it
// checks that they share nothing.
func TestExtractConcurrent(t *testing.T) {
	imgs := goldenImages()
	opt := DefaultOptions()
	want := map[string]*Result{}
	for name, img := range imgs {
		r, err := Extract(img, opt)
		if err != nil {
			t.Fatal(err)
		}
		want[name] = r
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*len(imgs))
	for round := 0; round < 2; round++ {
		for name, img := range imgs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := Extract(img, opt)
				switch {
				case err != nil:
					errs <- err
				case r.Quality != want[name].Quality || !slices.Equal(r.Vein.Bits, want[name].Vein.Bits) || !slices.Equal(r.Mask.Bits, want[name].Mask.Bits):
					errs <- fmt.Errorf("%s: concurrent extraction differs", name)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
