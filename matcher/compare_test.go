package matcher

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

func randomPattern(rng *rand.Rand, w, h int, density float64) *Pattern {
	p := NewPattern(w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if rng.Float64() < density {
				p.Set(x, y, true)
			}
		}
	}
	return p
}

// linePattern draws a few straight lines, a structured pattern with a
// sharp correlation peak and many ties.
func linePattern(rng *rand.Rand, w, h int) *Pattern {
	p := NewPattern(w, h)
	for i := 0; i < 1+rng.IntN(4); i++ {
		if rng.IntN(2) == 0 {
			y := rng.IntN(h)
			for x := rng.IntN(w); x < w; x++ {
				p.Set(x, y, true)
			}
		} else {
			x := rng.IntN(w)
			for y := 0; y < h; y++ {
				p.Set(x, y, true)
			}
		}
	}
	return p
}

func mustTemplate(t testing.TB, params Params, vein *Pattern) *Template {
	t.Helper()
	tp, err := NewTemplate(params, vein, nil, 50, 2)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

// TestScoreExactMatchesReference checks the fast exhaustive search against
// ReferenceMiuraScore, bit for bit, on many geometries (strides 1 to 4 and
// odd widths), shift windows and densities, and on structured patterns.
func TestScoreExactMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	type geo struct{ w, h, ch, cw int }
	geos := []geo{
		{1, 1, 0, 0}, {5, 3, 1, 2}, {17, 9, 2, 3}, {63, 10, 3, 7}, {64, 16, 4, 8}, {65, 12, 2, 30},
		{100, 20, 4, 10}, {128, 32, 8, 24}, {130, 31, 5, 9}, {192, 64, 8, 24}, {191, 40, 6, 20},
		{200, 24, 3, 40}, {256, 18, 2, 12}, {257, 12, 1, 5}, {96, 48, 23, 47},
	}
	if testing.Short() {
		geos = geos[:8]
	}
	for _, g := range geos {
		params := Params{Width: g.w, Height: g.h, ShiftRows: g.ch, ShiftCols: g.cw}
		for i := 0; i < 6; i++ {
			var a, b *Pattern
			switch i {
			case 0:
				a, b = NewPattern(g.w, g.h), randomPattern(rng, g.w, g.h, 0.3) // empty enrolled
			case 1, 2:
				d := []float64{0.02, 0.15, 0.5}[rng.IntN(3)]
				a, b = randomPattern(rng, g.w, g.h, d), randomPattern(rng, g.w, g.h, d)
			case 3:
				a, b = linePattern(rng, g.w, g.h), linePattern(rng, g.w, g.h)
			case 4:
				a = randomPattern(rng, g.w, g.h, 0.2)
				b = a.Clone()
			default:
				if g.w < 16 || g.h < 8 {
					continue
				}
				f := NewSynthFinger(rng, g.w, g.h)
				a, b = f.Sample(rng, g.ch, g.cw, 0.1), f.Sample(rng, g.ch, g.cw, 0.1)
			}
			ta, tb := mustTemplate(t, params, a), mustTemplate(t, params, b)
			want := ReferenceMiuraScore(a, b, g.ch, g.cw)
			got, err := CompareExact(ta, tb)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("%dx%d ch=%d cw=%d case %d: exact %v, reference %v", g.w, g.h, g.ch, g.cw, i, got, want)
			}
			// The coarse-to-fine search runs on every geometry too; on
			// identical patterns it must find the exact score (unless the
			// crop is so small that other displacements tie).
			c2f, err := Compare(ta, tb)
			bigCrop := g.h-2*g.ch >= 8 && g.w-2*g.cw >= 8
			if err != nil || c2f < 0 || c2f > 0.5 || (i == 4 && bigCrop && c2f != want) {
				t.Errorf("%dx%d ch=%d cw=%d case %d: coarse-to-fine %v (%v), exact %v", g.w, g.h, g.ch, g.cw, i, c2f, err, want)
			}
		}
	}
}

func TestScoreAllocatesNothing(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	f := NewSynthFinger(rng, 192, 64)
	a := mustTemplate(t, DefaultParams, f.Sample(rng, 8, 24, 0.1))
	b := mustTemplate(t, DefaultParams, f.Sample(rng, 8, 24, 0.1))
	p, err := NewProbe(b)
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { p.Score(a) }); n != 0 {
		t.Errorf("Score: %v allocations per run", n)
	}
	if n := testing.AllocsPerRun(20, func() { p.ScoreExact(a) }); n != 0 {
		t.Errorf("ScoreExact: %v allocations per run", n)
	}
}

func TestCompareIncompatible(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	a := mustTemplate(t, DefaultParams, randomPattern(rng, 192, 64, 0.15))
	other := DefaultParams
	other.ShiftCols = 20
	b := mustTemplate(t, other, randomPattern(rng, 192, 64, 0.15))
	if _, err := Compare(a, b); !errors.Is(err, ErrIncompatible) {
		t.Errorf("different params: %v, want ErrIncompatible", err)
	}
	small := Params{Width: 128, Height: 64, ShiftRows: 8, ShiftCols: 24}
	c := mustTemplate(t, small, randomPattern(rng, 128, 64, 0.15))
	if _, err := Compare(a, c); !errors.Is(err, ErrIncompatible) {
		t.Errorf("different geometry: %v, want ErrIncompatible", err)
	}
	d := *a
	d.Algorithm = AlgorithmVersion + 1
	if _, err := Compare(&d, a); !errors.Is(err, ErrIncompatible) {
		t.Errorf("different algorithm: %v, want ErrIncompatible", err)
	}
	p, err := NewProbe(a)
	if err != nil {
		t.Fatal(err)
	}
	if s := p.Score(c); s != 0 {
		t.Errorf("Score of an incompatible template = %v, want 0", s)
	}
}

// FuzzCompare builds two patterns of an arbitrary small geometry and shift
// window from the input: the exhaustive score must equal the reference
// and the coarse-to-fine one must stay in [0, 0.5] without panicking.
func FuzzCompare(f *testing.F) {
	f.Add([]byte{63, 15, 3, 7, 0x55, 0xaa, 0x0f})
	f.Add([]byte{100, 23, 11, 49, 0xff})
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{17, 5, 2, 8, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 5 {
			return
		}
		w, h := 1+int(b[0])%100, 1+int(b[1])%24
		params := Params{Width: w, Height: h, ShiftRows: int(b[2]) % (h/2 + 1), ShiftCols: int(b[3]) % (w/2 + 1)}
		if params.Validate() != nil {
			return
		}
		data := b[4:]
		mk := func(off int) *Pattern {
			p := NewPattern(w, h)
			for i := 0; i < w*h; i++ {
				if data[(off+i/8)%len(data)]>>(uint(i)%8)&1 == 1 {
					p.Set(i%w, i/w, true)
				}
			}
			return p
		}
		a, c := mk(0), mk(len(data)/2+1)
		ta, tc := mustTemplate(t, params, a), mustTemplate(t, params, c)
		want := ReferenceMiuraScore(a, c, params.ShiftRows, params.ShiftCols)
		if got, err := CompareExact(ta, tc); err != nil || got != want {
			t.Fatalf("%dx%d ch %d cw %d: exact %v (%v), reference %v", w, h, params.ShiftRows, params.ShiftCols, got, err, want)
		}
		if got, err := Compare(ta, tc); err != nil || got < 0 || got > 0.5 {
			t.Fatalf("coarse-to-fine %v (%v)", got, err)
		}
	})
}

// TestProbeConcurrent scores from several goroutines with one probe; run
// with -race. Every goroutine must see the same scores.
func TestProbeConcurrent(t *testing.T) {
	g, pr := synthTemplates(t, 13, 20, 1)
	p, err := NewProbe(pr[0])
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float64, len(g))
	for i, c := range g {
		want[i] = p.Score(c)
	}
	done := make(chan error, 4)
	for w := 0; w < 4; w++ {
		go func() {
			for rep := 0; rep < 20; rep++ {
				for i, c := range g {
					if s := p.Score(c); s != want[i] {
						done <- fmt.Errorf("template %d: %v, want %v", i, s, want[i])
						return
					}
				}
			}
			done <- nil
		}()
	}
	for w := 0; w < 4; w++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
