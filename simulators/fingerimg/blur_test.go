package fingerimg

import (
	"math"
	"testing"
)

// TestGaussianBlur compares the fast blur against a direct Gaussian
// convolution on an impulse and on random data, for small and large sigma
// and for planes narrower than the kernel.
func TestGaussianBlur(t *testing.T) {
	for _, tc := range []struct {
		w, h  int
		sigma float64
	}{{41, 31, 1.2}, {61, 45, 3.5}, {80, 60, 7.5}, {5, 4, 6}} {
		buf := make([]float32, tc.w*tc.h)
		buf[(tc.h/2)*tc.w+tc.w/2] = 1000
		gaussianBlur(buf, make([]float32, len(buf)), tc.w, tc.h, tc.sigma)
		var sum, m2 float64
		for y := range tc.h {
			for x := range tc.w {
				v := float64(buf[y*tc.w+x])
				sum += v
				dx := float64(x - tc.w/2)
				m2 += v * dx * dx
			}
		}
		for _, v := range buf {
			if !(v >= -1e-3 && v <= 1000) {
				t.Fatalf("%+v: blurred value %v outside the input range", tc, v)
			}
		}
		if tc.w < 8*int(tc.sigma) {
			continue // borders replicate: the sum is not kept on tiny planes
		}
		if math.Abs(sum-1000) > 0.5 {
			t.Errorf("%+v: blur does not preserve the sum: %.3f", tc, sum)
		}
		{
			if sd := math.Sqrt(m2 / sum); math.Abs(sd-tc.sigma) > 0.1*tc.sigma+0.05 {
				t.Errorf("%+v: impulse response sigma %.3f", tc, sd)
			}
		}
	}
}
