//go:build !amd64 || purego

package matcher

var useAVX512 = false

func andCountGridArch(r, p []uint64, cs, nx, stride, ny int, out []int32) bool { return false }
