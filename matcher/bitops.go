package matcher

import "math/bits"

// andCount returns the number of bits set in both a and b (len(b) >= len(a)).
func andCount(a, b []uint64) int {
	b = b[:len(a)]
	var n0, n1, n2, n3 int
	for len(a) >= 4 && len(b) >= 4 {
		n0 += bits.OnesCount64(a[0] & b[0])
		n1 += bits.OnesCount64(a[1] & b[1])
		n2 += bits.OnesCount64(a[2] & b[2])
		n3 += bits.OnesCount64(a[3] & b[3])
		a, b = a[4:], b[4:]
	}
	for i := range a {
		n0 += bits.OnesCount64(a[i] & b[i])
	}
	return n0 + n1 + n2 + n3
}

// onesCount returns the number of set bits in a.
func onesCount(a []uint64) int {
	n := 0
	for _, w := range a {
		n += bits.OnesCount64(w)
	}
	return n
}

// maskedCount returns the number of set bits of rows (of len(mask) words)
// within mask.
func maskedCount(rows, mask []uint64) int {
	n, s := 0, len(mask)
	for len(rows) >= s {
		for i, m := range mask {
			n += bits.OnesCount64(rows[i] & m)
		}
		rows = rows[s:]
	}
	return n
}

// shiftRow sets dst so that its bit X is bit X+d of src (zero where X+d is
// outside src). len(dst) == len(src).
func shiftRow(dst, src []uint64, d int) {
	n := len(src)
	if d >= 0 {
		q, b := d/64, uint(d%64)
		for i := range dst {
			var v uint64
			if j := i + q; j < n {
				v = src[j] >> b
				if b != 0 && j+1 < n {
					v |= src[j+1] << (64 - b)
				}
			}
			dst[i] = v
		}
		return
	}
	q, b := (-d)/64, uint((-d)%64)
	for i := range dst {
		var v uint64
		if j := i - q; j >= 0 {
			v = src[j] << b
			if b != 0 && j-1 >= 0 {
				v |= src[j-1] >> (64 - b)
			}
		}
		dst[i] = v
	}
}

// compactEven gathers the even bits of x into its low 32 bits.
func compactEven(x uint64) uint64 {
	x &= 0x5555555555555555
	x = (x | x>>1) & 0x3333333333333333
	x = (x | x>>2) & 0x0f0f0f0f0f0f0f0f
	x = (x | x>>4) & 0x00ff00ff00ff00ff
	x = (x | x>>8) & 0x0000ffff0000ffff
	x = (x | x>>16) & 0x00000000ffffffff
	return x
}

// down2 pools a pattern of w x h pixels (rows of stride words) by 2 x 2
// into dst, a pattern of ceil(w/2) x ceil(h/2) with rows of
// (ceil(w/2)+63)/64 words. It returns the new geometry.
func down2(dst, src []uint64, w, h, stride int) (w2, h2, stride2 int) {
	w2, h2 = (w+1)/2, (h+1)/2
	stride2 = (w2 + 63) / 64
	for y := 0; y < h2; y++ {
		a := src[2*y*stride : (2*y+1)*stride]
		b := a
		if 2*y+1 < h {
			b = src[(2*y+1)*stride : (2*y+2)*stride]
		}
		out := dst[y*stride2 : (y+1)*stride2]
		for j := range out {
			var lo, hi uint64
			if 2*j < stride {
				lo = compactEven(pool2(a[2*j], b[2*j]))
			}
			if 2*j+1 < stride {
				hi = compactEven(pool2(a[2*j+1], b[2*j+1]))
			}
			out[j] = lo | hi<<32
		}
	}
	return w2, h2, stride2
}

// andCountDy3 returns, for d = 0, 1, 2, the number of bits set in both r
// and p[d*stride : d*stride+len(r)]: the overlaps of r with three windows
// one row apart, loading every word of r once.
func andCountDy3(r, p []uint64, stride int) (n0, n1, n2 int) {
	n := len(r)
	p0, p1, p2 := p[:n], p[stride:stride+n], p[2*stride:2*stride+n]
	for i, v := range r {
		n0 += bits.OnesCount64(v & p0[i])
		n1 += bits.OnesCount64(v & p1[i])
		n2 += bits.OnesCount64(v & p2[i])
	}
	return n0, n1, n2
}

// andCountDy5 is andCountDy3 for five windows.
func andCountDy5(r, p []uint64, stride int) (n0, n1, n2, n3, n4 int) {
	n := len(r)
	p0, p1, p2 := p[:n], p[stride:stride+n], p[2*stride:2*stride+n]
	p3, p4 := p[3*stride:3*stride+n], p[4*stride:4*stride+n]
	for i, v := range r {
		n0 += bits.OnesCount64(v & p0[i])
		n1 += bits.OnesCount64(v & p1[i])
		n2 += bits.OnesCount64(v & p2[i])
		n3 += bits.OnesCount64(v & p3[i])
		n4 += bits.OnesCount64(v & p4[i])
	}
	return n0, n1, n2, n3, n4
}

// andCountGrid sets out[ix*ny+iy], for ix < nx and iy < ny, to the number
// of bits set in both r and the window p[ix*cs+iy*stride:][:len(r)]: the
// overlaps of r with a grid of displaced windows. It uses the AVX-512
// kernel where the CPU has one.
func andCountGrid(r, p []uint64, cs, nx, stride, ny int, out []int32) {
	if nx <= 0 || ny <= 0 {
		return
	}
	// One bounds check for the whole grid.
	_ = p[(nx-1)*cs+(ny-1)*stride+len(r)-1]
	_ = out[nx*ny-1]
	if andCountGridArch(r, p, cs, nx, stride, ny, out) {
		return
	}
	andCountGridGeneric(r, p, cs, nx, stride, ny, out)
}

func andCountGridGeneric(r, p []uint64, cs, nx, stride, ny int, out []int32) {
	for ix := 0; ix < nx; ix++ {
		q := p[ix*cs:]
		o := out[ix*ny : (ix+1)*ny]
		iy := 0
		for ; iy+5 <= ny; iy += 5 {
			a, b, c, d, e := andCountDy5(r, q[iy*stride:], stride)
			o[iy], o[iy+1], o[iy+2], o[iy+3], o[iy+4] = int32(a), int32(b), int32(c), int32(d), int32(e)
		}
		for ; iy+3 <= ny; iy += 3 {
			a, b, c := andCountDy3(r, q[iy*stride:], stride)
			o[iy], o[iy+1], o[iy+2] = int32(a), int32(b), int32(c)
		}
		for ; iy < ny; iy++ {
			o[iy] = int32(andCount(r, q[iy*stride:]))
		}
	}
}

// pool2 returns, at the even bit positions, the pooled value of the 2 x 2
// blocks formed by the bit pairs of rows a and b: set when at least two of
// the four pixels are. (OR pooling saturates on patterns of 15-20 %
// density: on real templates it made the coarse levels far less
// discriminating.)
func pool2(a, b uint64) uint64 {
	return a&(a>>1) | b&(b>>1) | (a|a>>1)&(b|b>>1)
}

// maxFirstGeneric returns the index of the first largest of vals.
func maxFirstGeneric(vals []int32) int {
	bi := 0
	for i, v := range vals {
		if v > vals[bi] {
			bi = i
		}
	}
	return bi
}
