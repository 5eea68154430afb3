package matcher

import (
	"math/rand/v2"
	"testing"
)

// TestAndCountGrid checks the architecture kernel (when the CPU has one)
// against the portable one on every length and grid shape, as hash/crc32
// checks its fast paths.
func TestAndCountGrid(t *testing.T) {
	if !useAVX512 {
		t.Log("no AVX-512 VPOPCNTQ on this CPU: only the portable kernel runs")
	}
	rng := rand.New(rand.NewPCG(9, 9))
	for trial := 0; trial < 300; trial++ {
		n := 1 + trial%150
		r := make([]uint64, n)
		for i := range r {
			r[i] = rng.Uint64() & rng.Uint64()
		}
		stride := 1 + rng.IntN(4)
		nx, ny := 1+rng.IntN(5), 1+rng.IntN(7)
		switch {
		case trial >= 150:
			nx, ny = 3, 3 // the 3 x 3 kernel, every length
		case n%2 == 0:
			ny = 3 * (1 + rng.IntN(3)) // the three-window kernel
		}
		cs := n + ny*stride + rng.IntN(5)
		// The windows end exactly at the end of p, so that an overread
		// would be caught by the race detector or a fault in a tail page.
		p := make([]uint64, (nx-1)*cs+(ny-1)*stride+n)
		for i := range p {
			p[i] = rng.Uint64() | rng.Uint64()
		}
		got, want := make([]int32, nx*ny), make([]int32, nx*ny)
		andCountGrid(r, p, cs, nx, stride, ny, got)
		andCountGridGeneric(r, p, cs, nx, stride, ny, want)
		for i := range want {
			naive := 0
			ix, iy := i/ny, i%ny
			for k := 0; k < n; k++ {
				naive += popcount(r[k] & p[ix*cs+iy*stride+k])
			}
			if got[i] != want[i] || int(want[i]) != naive {
				t.Fatalf("n=%d stride=%d grid %dx%d cell %d: arch %d, generic %d, naive %d", n, stride, nx, ny, i, got[i], want[i], naive)
			}
		}
	}
}

func popcount(x uint64) int {
	n := 0
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}

// TestScorePortable runs the exactness check on the portable kernel too.
func TestScorePortable(t *testing.T) {
	if !useAVX512 {
		t.Skip("the portable kernel is the only one")
	}
	useAVX512 = false
	defer func() { useAVX512 = true }()
	TestScoreExactMatchesReference(t)
	TestCoarseToFineAgreement(t)
}

// TestAndCountLanes checks the transposed kernel against a naive sum for
// every crop length and lane width, with the table ending exactly at the
// end of its slice.
func TestAndCountLanes(t *testing.T) {
	if !useAVX512 {
		t.Skip("no AVX-512 VPOPCNTQ on this CPU: the lane kernel is not used")
	}
	rng := rand.New(rand.NewPCG(10, 10))
	for n := 1; n <= 40; n++ {
		for w := 8; w <= 256; w += 8 * (1 + rng.IntN(3)) {
			r := make([]uint64, n)
			for i := range r {
				r[i] = rng.Uint64() & rng.Uint64()
			}
			lanes := make([]uint64, n*w)
			for i := range lanes {
				lanes[i] = rng.Uint64() | rng.Uint64()
			}
			got := make([]int32, w)
			if !andCountLanesArch(r, lanes, w, got) {
				t.Fatal("lane kernel refused")
			}
			for i := range got {
				naive := 0
				for k := 0; k < n; k++ {
					naive += popcount(r[k] & lanes[k*w+i])
				}
				if int(got[i]) != naive {
					t.Fatalf("n=%d width=%d lane %d: kernel %d, naive %d", n, w, i, got[i], naive)
				}
			}
		}
	}
}

// TestMaxFirst checks the first-maximum kernel against the portable loop
// on every length, with many ties.
func TestMaxFirst(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 11))
	for n := 1; n <= 200; n++ {
		for trial := 0; trial < 20; trial++ {
			vals := make([]int32, n)
			hi := 1 + rng.IntN(8) // few distinct values: ties everywhere
			for i := range vals {
				vals[i] = int32(rng.IntN(hi))
			}
			if trial == 0 {
				clear(vals)
			}
			got, want := maxFirst(vals), maxFirstGeneric(vals)
			if got != want {
				t.Fatalf("n=%d %v: maxFirst %d, generic %d", n, vals, got, want)
			}
			for i := range want {
				if vals[i] >= vals[want] {
					if i != want {
						t.Fatalf("n=%d %v: generic %d is not the first maximum", n, vals, want)
					}
					break
				}
			}
		}
	}
}

// TestKernelsSameScores checks that the scores do not depend on the
// kernels: coarse-to-fine and preselection scores with the AVX-512 lane,
// grid and first-maximum kernels equal those of the portable ones, bit for
// bit, on genuine and impostor pairs.
func TestKernelsSameScores(t *testing.T) {
	if !useAVX512 {
		t.Skip("the portable kernel is the only one")
	}
	rng := rand.New(rand.NewPCG(12, 12))
	p := DefaultParams
	type pair struct {
		probe *Probe
		gl    *Gallery
	}
	var pairs []pair
	var prev *Template
	for i := 0; i < 120; i++ {
		f := NewSynthFinger(rng, p.Width, p.Height)
		a := mustTemplate(t, p, f.Sample(rng, p.ShiftRows/2, p.ShiftCols/2, 0.2))
		b := mustTemplate(t, p, f.Sample(rng, p.ShiftRows/2, p.ShiftCols/2, 0.2))
		gl := NewGallery(GalleryOptions{})
		if err := gl.Add("mate", 1, a); err != nil {
			t.Fatal(err)
		}
		if prev != nil {
			if err := gl.Add("other", 1, prev); err != nil {
				t.Fatal(err)
			}
		}
		pairs = append(pairs, pair{newProbe(b, gl.g), gl})
		prev = a
	}
	scores := func() []float64 {
		var out []float64
		var c cand
		for _, pr := range pairs {
			for i := range pr.gl.entries {
				pr.gl.candAt(i, &c)
				s := pr.gl.slot2(i)
				out = append(out, pr.probe.scoreCoarseToFine(&c),
					pr.probe.refine1(s[:pr.gl.lens[1]], int(pr.gl.entries[i].ones1), pr.probe.coarseBest(s[pr.gl.lens[1]:])))
			}
		}
		return out
	}
	fast := scores()
	useAVX512 = false
	portable := scores()
	useAVX512 = true
	for i := range fast {
		if fast[i] != portable[i] {
			t.Fatalf("score %d: AVX-512 %v, portable %v", i, fast[i], portable[i])
		}
	}
}
