package fingerimg

import "math"

// gaussianBlur blurs the w x h plane buf in place with a Gaussian of the
// given standard deviation (pixels), clamping at the borders. Small sigmas
// use an exact separable kernel; larger ones three box passes per axis,
// whose cost does not depend on sigma. tmp must hold w*h values.
func gaussianBlur(buf, tmp []float32, w, h int, sigma float64) {
	if sigma < 0.3 {
		return
	}
	if sigma <= 2.0 {
		k := gaussKernel(sigma)
		convRows(buf, tmp, w, h, k)
		convCols(tmp, buf, w, h, k)
		return
	}
	for _, r := range boxRadii(sigma) {
		boxRows(buf, tmp, w, h, r)
		boxCols(tmp, buf, w, h, r)
	}
}

func gaussKernel(sigma float64) []float32 {
	r := int(math.Ceil(3 * sigma))
	k := make([]float32, 2*r+1)
	var sum float64
	for i := -r; i <= r; i++ {
		v := math.Exp(-0.5 * float64(i*i) / (sigma * sigma))
		k[i+r] = float32(v)
		sum += v
	}
	for i := range k {
		k[i] /= float32(sum)
	}
	return k
}

// boxRadii returns the radii of three box filters whose cascade has the
// variance of a Gaussian of sigma (Kovesi's construction: boxes of two
// adjacent odd widths).
func boxRadii(sigma float64) [3]int {
	const n = 3
	wIdeal := math.Sqrt(12*sigma*sigma/n + 1)
	wl := int(math.Floor(wIdeal))
	if wl%2 == 0 {
		wl--
	}
	wu := wl + 2
	mIdeal := (12*sigma*sigma - n*float64(wl*wl) - 4*n*float64(wl) - 3*n) / (-4*float64(wl) - 4)
	m := int(math.Round(mIdeal))
	var r [3]int
	for i := range r {
		if i < m {
			r[i] = (wl - 1) / 2
		} else {
			r[i] = (wu - 1) / 2
		}
	}
	return r
}

func clampIdx(i, n int) int {
	if i < 0 {
		return 0
	}
	if i >= n {
		return n - 1
	}
	return i
}

func convRows(src, dst []float32, w, h int, k []float32) {
	r := len(k) / 2
	for y := range h {
		row := src[y*w : (y+1)*w]
		out := dst[y*w : (y+1)*w]
		for x := range w {
			var s float32
			if x >= r && x+r < w {
				seg := row[x-r : x+r+1]
				for i, kv := range k {
					s += kv * seg[i]
				}
			} else {
				for i, kv := range k {
					s += kv * row[clampIdx(x+i-r, w)]
				}
			}
			out[x] = s
		}
	}
}

func convCols(src, dst []float32, w, h int, k []float32) {
	r := len(k) / 2
	for y := range h {
		out := dst[y*w : (y+1)*w]
		for x := range out {
			out[x] = 0
		}
		for i, kv := range k {
			sy := clampIdx(y+i-r, h)
			in := src[sy*w : (sy+1)*w]
			for x := range out {
				out[x] += kv * in[x]
			}
		}
	}
}

// boxRows is a running-sum box filter of radius r along rows.
func boxRows(src, dst []float32, w, h, r int) {
	inv := 1 / float32(2*r+1)
	for y := range h {
		row := src[y*w : (y+1)*w]
		out := dst[y*w : (y+1)*w]
		var s float32
		for i := -r; i <= r; i++ {
			s += row[clampIdx(i, w)]
		}
		// Interior columns need no clamping.
		lo := min(r, w)
		hi := max(w-r-1, lo)
		x := 0
		for ; x < lo; x++ {
			out[x] = s * inv
			s += row[clampIdx(x+r+1, w)] - row[clampIdx(x-r, w)]
		}
		for ; x < hi; x++ {
			out[x] = s * inv
			s += row[x+r+1] - row[x-r]
		}
		for ; x < w; x++ {
			out[x] = s * inv
			s += row[clampIdx(x+r+1, w)] - row[clampIdx(x-r, w)]
		}
	}
}

// boxCols is a running-sum box filter of radius r along columns, processed
// a row at a time for cache friendliness.
func boxCols(src, dst []float32, w, h, r int) {
	inv := 1 / float32(2*r+1)
	acc := make([]float32, w)
	for i := -r; i <= r; i++ {
		in := src[clampIdx(i, h)*w:]
		for x := range w {
			acc[x] += in[x]
		}
	}
	for y := range h {
		out := dst[y*w : (y+1)*w]
		add := src[clampIdx(y+r+1, h)*w:]
		sub := src[clampIdx(y-r, h)*w:]
		for x := range w {
			out[x] = acc[x] * inv
			acc[x] += add[x] - sub[x]
		}
	}
}
