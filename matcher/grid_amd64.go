//go:build !purego

package matcher

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// useAVX512 selects the AVX-512 VPOPCNTQ kernel (x86-64 from Intel Ice
// Lake and AMD Zen 4 on). Tests switch it off to check the portable path.
var useAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512VPOPCNTDQ

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
