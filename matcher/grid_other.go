//go:build !amd64 || purego

package matcher

var useAVX512 = false

func andCountGridArch(r, p []uint64, cs, nx, stride, ny int, out []int32) bool { return false }

func andCountLanesArch(r, lanes []uint64, width int, out []int32) bool { return false }

func maxFirst(vals []int32) int { return maxFirstGeneric(vals) }

func prefetch(s []uint64) {}
