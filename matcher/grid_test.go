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
	for n := 1; n <= 150; n++ {
		r := make([]uint64, n)
		for i := range r {
			r[i] = rng.Uint64() & rng.Uint64()
		}
		stride := 1 + rng.IntN(4)
		nx, ny := 1+rng.IntN(5), 1+rng.IntN(7)
		if n%2 == 0 {
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
