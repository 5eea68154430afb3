package fingerimg

import (
	"image"
	"math"
	"testing"
)

// hpImage is a high-pass filtered, half-size image with the eroded finger
// region: the input of a simple correlation matcher.
type hpImage struct {
	w, h int
	v    []float32
	m    []bool
}

func highPass(img, mask *image.Gray) hpImage {
	W, H := img.Rect.Dx(), img.Rect.Dy()
	w, h := W/2, H/2
	out := hpImage{w: w, h: h, v: make([]float32, w*h), m: make([]bool, w*h)}
	low := make([]float32, w*h)
	for y := range h {
		for x := range w {
			var s float32
			in := true
			for dy := range 2 {
				for dx := range 2 {
					k := (2*y+dy)*W + 2*x + dx
					s += float32(img.Pix[k])
					in = in && mask.Pix[k] != 0
				}
			}
			out.v[y*w+x] = s / 4
			out.m[y*w+x] = in
		}
	}
	copy(low, out.v)
	gaussianBlur(low, make([]float32, w*h), w, h, 4)
	for i := range out.v {
		out.v[i] -= low[i]
	}
	// erode the mask by 4 pixels: the silhouette edge is not vein texture
	m := make([]bool, w*h)
	for y := range h {
		for x := range w {
			ok := true
			for d := -4; d <= 4 && ok; d++ {
				ok = out.m[clampIdx(y+d, h)*w+x] && out.m[y*w+clampIdx(x+d, w)]
			}
			m[y*w+x] = ok
		}
	}
	out.m = m
	return out
}

// bestCorrelation is the highest Pearson correlation of a and b over
// shifts of up to +-rx, +-ry pixels with enough overlap.
func bestCorrelation(a, b hpImage, rx, ry int) float64 {
	na := 0
	for _, m := range a.m {
		if m {
			na++
		}
	}
	best := -1.0
	for dy := -ry; dy <= ry; dy++ {
		for dx := -rx; dx <= rx; dx++ {
			var sa, sb, saa, sbb, sab float64
			n := 0
			for y := max(0, -dy); y < min(a.h, b.h-dy); y++ {
				for x := max(0, -dx); x < min(a.w, b.w-dx); x++ {
					i, j := y*a.w+x, (y+dy)*b.w+x+dx
					if !a.m[i] || !b.m[j] {
						continue
					}
					p, q := float64(a.v[i]), float64(b.v[j])
					sa += p
					sb += q
					saa += p * p
					sbb += q * q
					sab += p * q
					n++
				}
			}
			if n < na/3 {
				continue
			}
			fn := float64(n)
			cov := sab/fn - sa*sb/fn/fn
			va, vb := saa/fn-sa*sa/fn/fn, sbb/fn-sb*sb/fn/fn
			if va <= 0 || vb <= 0 {
				continue
			}
			if c := cov / math.Sqrt(va*vb); c > best {
				best = c
			}
		}
	}
	return best
}

// TestIdentitySurvivesCapture checks that two captures of one finger
// correlate (after alignment, on high-passed images) more than captures of
// two different fingers, but not perfectly.
func TestIdentitySurvivesCapture(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	const fingers, samples = 5, 3
	imgs := make([][]hpImage, fingers)
	for fi := range fingers {
		for s := range samples {
			img, tr := capture(t, uint64(100+fi), uint64(s), nil)
			imgs[fi] = append(imgs[fi], highPass(img, tr.FingerMask))
		}
	}
	var gen, imp []float64
	for fi := range fingers {
		for s := range samples {
			for s2 := s + 1; s2 < samples; s2++ {
				gen = append(gen, bestCorrelation(imgs[fi][s], imgs[fi][s2], 14, 8))
			}
		}
		for fj := fi + 1; fj < fingers; fj++ {
			imp = append(imp, bestCorrelation(imgs[fi][0], imgs[fj][0], 14, 8))
		}
	}
	mg, mi := mean(gen), mean(imp)
	t.Logf("genuine %.3f (min %.3f), impostor %.3f (max %.3f)", mg, minOf(gen), mi, maxOf(imp))
	if mg < mi+0.15 {
		t.Errorf("genuine mean %.3f not clearly above impostor mean %.3f", mg, mi)
	}
	if mg > 0.97 {
		t.Errorf("genuine mean %.3f: captures are nearly identical, real captures are not", mg)
	}
}

func mean(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

func minOf(x []float64) float64 {
	m := math.Inf(1)
	for _, v := range x {
		m = math.Min(m, v)
	}
	return m
}

func maxOf(x []float64) float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, v)
	}
	return m
}
