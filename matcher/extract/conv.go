package extract

import "math"

// gaussianKernels returns the sampled Gaussian of standard deviation sigma
// and its first and second derivatives over [-r, r] with r = ceil(radius *
// sigma). The smoothing kernel sums to one; the derivative kernels are the
// analytic derivatives, corrected so that the first has zero mean and unit
// response to a ramp and the second zero mean and unit response to x^2/2.
func gaussianKernels(sigma, radius float64) (g, d1, d2 []float32) {
	r := max(1, int(math.Ceil(radius*sigma)))
	n := 2*r + 1
	gf := make([]float64, n)
	var sum float64
	for i := range gf {
		x := float64(i - r)
		gf[i] = math.Exp(-x * x / (2 * sigma * sigma))
		sum += gf[i]
	}
	s2 := sigma * sigma
	d1f, d2f := make([]float64, n), make([]float64, n)
	var m1, mean2, m2 float64
	for i := range gf {
		x := float64(i - r)
		gf[i] /= sum
		d1f[i] = -x / s2 * gf[i]
		d2f[i] = (x*x/s2 - 1) / s2 * gf[i]
		m1 += -x * d1f[i] // response of (f*k) to f(t) = t
		mean2 += d2f[i]
	}
	for i := range gf {
		d2f[i] -= mean2 * gf[i] // no response to a constant
		x := float64(i - r)
		m2 += x * x / 2 * d2f[i] // response to f(t) = t^2/2
	}
	g, d1, d2 = make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range gf {
		g[i] = float32(gf[i])
		d1[i] = float32(d1f[i] / m1)
		d2[i] = float32(d2f[i] / m2)
	}
	return g, d1, d2
}

// The convolution kernels below (convRows, convCols, boxRows, boxCols)
// are pure: they read src and write dst, buffers that one Extract call
// allocated and shares with no other goroutine, and touch nothing else.
// They are marked //go:norace: under the race detector their inner loops
// cost about 20 times their normal time, and the server extracts every
// capture it receives, so the race-enabled server and attack suites would
// spend most of their time here. Extract as a whole is still instrumented
// everywhere else, and TestExtractConcurrent runs it from many goroutines
// under -race.

// convRows convolves every row of src with k (centred, odd length),
// replicating border pixels, into dst (same size). Four outputs are summed
// at once in independent accumulators, each in the same order as one at a
// time (term i = pixel at offset r-i times k[i], i ascending), so the
// result is bit for bit that of the plain loop (TestConvRowsBitIdentical):
// the four chains only overlap their floating-point latencies.
//
//go:norace
func convRows(dst, src *Gray, k []float32) {
	n := len(k)
	r := n / 2
	w := src.W
	buf := make([]float32, w+2*r+3)
	for y := 0; y < src.H; y++ {
		row := src.Row(y)
		copy(buf[r:], row)
		for i := 0; i < r; i++ {
			buf[i] = row[0]
			buf[r+w+i] = row[w-1]
		}
		out := dst.Row(y)
		x := 0
		for ; x+4 <= w; x += 4 {
			var s0, s1, s2, s3 float32
			win := buf[x : x+n+3]
			for i, kv := range k {
				j := n - 1 - i
				s0 += win[j] * kv
				s1 += win[j+1] * kv
				s2 += win[j+2] * kv
				s3 += win[j+3] * kv
			}
			out[x], out[x+1], out[x+2], out[x+3] = s0, s1, s2, s3
		}
		for ; x < w; x++ {
			var s float32
			win := buf[x : x+n]
			// correlation with the reversed kernel == convolution
			for i, kv := range k {
				s += win[n-1-i] * kv
			}
			out[x] = s
		}
	}
}

// convCols convolves every column of src with k into dst, replicating
// border rows. It walks whole rows so memory access stays sequential.
//
//go:norace
func convCols(dst, src *Gray, k []float32) {
	for y := 0; y < src.H; y++ {
		convColsRow(dst.Row(y), src, k, y)
	}
}

// convColsRow is row y of convCols(src, k), into out (src.W pixels).
//
//go:norace
func convColsRow(out []float32, src *Gray, k []float32, y int) {
	r := len(k) / 2
	w, h := src.W, src.H
	clear(out)
	for i, kv := range k {
		sy := min(max(y+r-i, 0), h-1)
		in := src.Pix[sy*w : sy*w+w]
		for x := range out {
			out[x] += in[x] * kv
		}
	}
}

// separable applies kx along rows and then ky along columns.
func separable(src *Gray, kx, ky []float32, tmp *Gray) *Gray {
	if tmp == nil {
		tmp = NewGray(src.W, src.H)
	}
	convRows(tmp, src, kx)
	out := NewGray(src.W, src.H)
	convCols(out, tmp, ky)
	return out
}

// boxBlur3 approximates a Gaussian of standard deviation sigma by three
// passes of a running-sum box filter along each axis (central limit), at a
// cost independent of sigma. Borders replicate the edge pixels.
func boxBlur3(src *Gray, sigma float64) *Gray {
	// Three boxes of width w have variance 3 (w^2 - 1) / 12.
	r := max(1, int(math.Round((math.Sqrt(4*sigma*sigma+1)-1)/2)))
	a := getGray(src.W, src.H, false)
	copy(a.Pix, src.Pix)
	b := getGray(src.W, src.H, false)
	for pass := 0; pass < 3; pass++ {
		boxRows(b, a, r)
		boxCols(a, b, r)
	}
	putGray(b)
	return a
}

// boxRows sets every pixel of dst to the mean of the 2r+1 pixels around it
// in its row of src.
//
//go:norace
func boxRows(dst, src *Gray, r int) {
	w := src.W
	inv := 1 / float32(2*r+1)
	for y := 0; y < src.H; y++ {
		in := src.Row(y)
		out := dst.Row(y)
		at := func(i int) float32 { return in[min(max(i, 0), w-1)] }
		var s float32
		for i := -r; i <= r; i++ {
			s += at(i)
		}
		// The same sums as one clamped loop; only the interior, where no
		// index needs clamping, skips the clamps.
		lo, hi := min(r, w), max(min(r, w), w-r-1)
		for x := 0; x < lo; x++ {
			out[x] = s * inv
			s += at(x+r+1) - at(x-r)
		}
		for x := lo; x < hi; x++ {
			out[x] = s * inv
			s += in[x+r+1] - in[x-r]
		}
		for x := hi; x < w; x++ {
			out[x] = s * inv
			s += at(x+r+1) - at(x-r)
		}
	}
}

// boxCols is boxRows along columns, walking whole rows.
//
//go:norace
func boxCols(dst, src *Gray, r int) {
	w, h := src.W, src.H
	inv := 1 / float32(2*r+1)
	acc := make([]float32, w)
	row := func(i int) []float32 { return src.Row(min(max(i, 0), h-1)) }
	for i := -r; i <= r; i++ {
		for x, v := range row(i) {
			acc[x] += v
		}
	}
	for y := 0; y < h; y++ {
		out := dst.Row(y)
		for x := range out {
			out[x] = acc[x] * inv
		}
		add, sub := row(y+r+1), row(y-r)
		for x := range acc {
			acc[x] += add[x] - sub[x]
		}
	}
}
