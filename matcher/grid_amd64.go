//go:build !purego

package matcher

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// kernelFeatures are the CPU features the kernels of andcount_amd64.s
// need, every one of them: AVX512F (the Z registers, VPXORQ, VPANDQ,
// VEXTRACTI64X4, VPMOVQD, masked loads, KMOVW), AVX512BW (KMOVQ, the
// 64-bit mask moves), AVX512VPOPCNTDQ (VPOPCNTQ) and AVX2 (VEXTRACTI128 and
// the VEX forms on Y and X registers). x/sys/cpu reports the AVX-512
// features only when the operating system saves the AVX-512 state.
// TestKernelFeatures checks this list against the instructions of the
// assembly file.
var kernelFeatures = []struct {
	name string
	has  bool
}{
	{"AVX2", cpu.X86.HasAVX2},
	{"AVX512F", cpu.X86.HasAVX512F},
	{"AVX512BW", cpu.X86.HasAVX512BW},
	{"AVX512VPOPCNTDQ", cpu.X86.HasAVX512VPOPCNTDQ},
}

// kernelsUsable reports whether has says yes to every kernel feature.
func kernelsUsable(has func(feature string) bool) bool {
	for _, f := range kernelFeatures {
		if !has(f.name) {
			return false
		}
	}
	return true
}

// useAVX512 selects the AVX-512 VPOPCNTQ kernels (x86-64 from Intel Ice
// Lake and AMD Zen 4 on). Tests switch it off to check the portable path.
var useAVX512 = kernelsUsable(func(name string) bool {
	for _, f := range kernelFeatures {
		if f.name == name {
			return f.has
		}
	}
	return false
})

//go:noescape
func andCountGridAVX512(r, p *uint64, nvec int, tail uint64, cs, nx, stride, ny int, out *int32)

//go:noescape
func andCountGrid3AVX512(r, p *uint64, nvec int, tail uint64, cs, nx, stride, ngroups int, out *int32)

func andCountGridArch(r, p []uint64, cs, nx, stride, ny int, out []int32) bool {
	if !useAVX512 || len(r) == 0 {
		return false
	}
	n := len(r)
	if ny%3 == 0 {
		andCountGrid3AVX512(unsafe.SliceData(r), unsafe.SliceData(p), n/8, uint64(1)<<(n%8)-1,
			cs*8, nx, stride*8, ny/3, unsafe.SliceData(out))
		return true
	}
	andCountGridAVX512(unsafe.SliceData(r), unsafe.SliceData(p), n/8, uint64(1)<<(n%8)-1,
		cs*8, nx, stride*8, ny, unsafe.SliceData(out))
	return true
}

//go:noescape
func andCountLanesAVX512(r *uint64, n int, p *uint64, rowBytes, nvec int, out *int32)

func andCountLanesArch(r, lanes []uint64, width int, out []int32) bool {
	if !useAVX512 || len(r) == 0 || width%8 != 0 {
		return false
	}
	_ = lanes[len(r)*width-1]
	_ = out[width-1]
	andCountLanesAVX512(unsafe.SliceData(r), len(r), unsafe.SliceData(lanes), width*8, width/8, unsafe.SliceData(out))
	return true
}

//go:noescape
func maxFirstAVX512(v *int32, nvec int, tail uint64) int

// maxFirst returns the index of the first largest of vals (all >= 0).
func maxFirst(vals []int32) int {
	if useAVX512 && len(vals) > 0 {
		return maxFirstAVX512(unsafe.SliceData(vals), len(vals)/16, uint64(1)<<(len(vals)%16)-1)
	}
	return maxFirstGeneric(vals)
}

//go:noescape
func prefetchBytes(p *uint64, n int)

// prefetch asks the CPU to load the cache lines of s ahead of their use.
func prefetch(s []uint64) {
	if len(s) > 0 {
		prefetchBytes(unsafe.SliceData(s), len(s)*8)
	}
}
