package eval

import (
	"math/rand/v2"
	"testing"

	"github.com/qingshan-gov/veinkiosk/matcher"
)

func randomPattern(r *rand.Rand, w, h int, density float64) *matcher.Pattern {
	p := matcher.NewPattern(w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if r.Float64() < density {
				p.Set(x, y, true)
			}
		}
	}
	return p
}

// shifted returns p moved by (dx, dy), dropping what falls outside.
func shifted(p *matcher.Pattern, dx, dy int) *matcher.Pattern {
	q := matcher.NewPattern(p.W, p.H)
	for y := 0; y < p.H; y++ {
		for x := 0; x < p.W; x++ {
			if p.At(x, y) && x+dx >= 0 && x+dx < p.W && y+dy >= 0 && y+dy < p.H {
				q.Set(x+dx, y+dy, true)
			}
		}
	}
	return q
}

func TestMiuraScoreMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ w, h, ch, cw int }{
		{40, 20, 3, 5}, {64, 16, 2, 8}, {70, 24, 4, 10}, {130, 30, 5, 20}, {20, 10, 9, 30},
	} {
		for i := 0; i < 5; i++ {
			a := randomPattern(r, tc.w, tc.h, 0.3)
			b := shifted(a, r.IntN(2*tc.cw+1)-tc.cw, r.IntN(2*tc.ch+1)-tc.ch)
			if i%2 == 1 {
				b = randomPattern(r, tc.w, tc.h, 0.2)
			}
			want := matcher.ReferenceMiuraScore(a, b, tc.ch, tc.cw)
			got := MiuraScore(a, b, tc.ch, tc.cw)
			if got != want {
				t.Errorf("%dx%d ch %d cw %d #%d: MiuraScore %v, reference %v", tc.w, tc.h, tc.ch, tc.cw, i, got, want)
			}
		}
	}
}

func TestShiftRow(t *testing.T) {
	src := []uint64{0x8000000000000001, 0x3}
	for _, tc := range []struct {
		dx   int
		want []uint64
	}{
		{0, []uint64{0x8000000000000001, 0x3}},
		{1, []uint64{0xC000000000000000, 0x1}},
		{-1, []uint64{0x2, 0x7}},
		{64, []uint64{0x3, 0}},
		{-64, []uint64{0, 0x8000000000000001}},
		{65, []uint64{0x1, 0}},
	} {
		dst := make([]uint64, 2)
		shiftRow(dst, src, tc.dx)
		if dst[0] != tc.want[0] || dst[1] != tc.want[1] {
			t.Errorf("dx %d: %x, want %x", tc.dx, dst, tc.want)
		}
	}
}
