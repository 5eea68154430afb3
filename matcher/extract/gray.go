package extract

import (
	"fmt"
	"image"
	"image/color"
	"math"
)

// Gray is a float32 grayscale image, row-major, used for every stage of the
// pipeline. Values are on the 0-255 scale of the input unless a stage says
// otherwise.
type Gray struct {
	W, H int
	Pix  []float32
}

// NewGray returns a zero image of w x h pixels.
func NewGray(w, h int) *Gray {
	return &Gray{W: w, H: h, Pix: make([]float32, w*h)}
}

// At returns the value at (x, y); the caller keeps (x, y) in range.
func (g *Gray) At(x, y int) float32 { return g.Pix[y*g.W+x] }

// Row returns row y as a slice.
func (g *Gray) Row(y int) []float32 { return g.Pix[y*g.W : (y+1)*g.W] }

// FromImage converts any image to Gray (ITU-R BT.601 luma for colour
// images), with fast paths for the types the standard decoders return for
// grayscale files (*image.Gray, *image.Gray16, *image.YCbCr).
func FromImage(img image.Image) (*Gray, error) {
	if img == nil {
		return nil, fmt.Errorf("%w: nil image", ErrImage)
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w < MinImageSide || h < MinImageSide {
		return nil, fmt.Errorf("%w: %dx%d is smaller than %dx%d", ErrImage, w, h, MinImageSide, MinImageSide)
	}
	if w > MaxImageSide || h > MaxImageSide {
		return nil, fmt.Errorf("%w: %dx%d is larger than %dx%d", ErrImage, w, h, MaxImageSide, MaxImageSide)
	}
	g := NewGray(w, h)
	switch m := img.(type) {
	case *image.Gray:
		for y := 0; y < h; y++ {
			src := m.Pix[(y+b.Min.Y-m.Rect.Min.Y)*m.Stride+(b.Min.X-m.Rect.Min.X):]
			dst := g.Row(y)
			for x := range dst {
				dst[x] = float32(src[x])
			}
		}
	case *image.YCbCr:
		for y := 0; y < h; y++ {
			off := m.YOffset(b.Min.X, y+b.Min.Y)
			src := m.Y[off : off+w]
			dst := g.Row(y)
			for x := range dst {
				dst[x] = float32(src[x])
			}
		}
	case *image.Gray16:
		for y := 0; y < h; y++ {
			dst := g.Row(y)
			for x := range dst {
				dst[x] = float32(m.Gray16At(x+b.Min.X, y+b.Min.Y).Y) / 257
			}
		}
	default:
		for y := 0; y < h; y++ {
			dst := g.Row(y)
			for x := range dst {
				c := color.Gray16Model.Convert(img.At(x+b.Min.X, y+b.Min.Y)).(color.Gray16)
				dst[x] = float32(c.Y) / 257
			}
		}
	}
	return g, nil
}

// Image returns g as an 8-bit image, linearly mapping [lo, hi] to [0, 255].
// With lo == hi the range of g is used. It is for debugging dumps.
func (g *Gray) Image(lo, hi float32) *image.Gray {
	if lo == hi {
		lo, hi = float32(math.Inf(1)), float32(math.Inf(-1))
		for _, v := range g.Pix {
			lo, hi = min(lo, v), max(hi, v)
		}
		if hi <= lo {
			hi = lo + 1
		}
	}
	out := image.NewGray(image.Rect(0, 0, g.W, g.H))
	k := 255 / (hi - lo)
	for i, v := range g.Pix {
		out.Pix[i] = uint8(max(0, min(255, (v-lo)*k+0.5)))
	}
	return out
}

// transpose returns g with x and y swapped.
func transpose(g *Gray) *Gray {
	t := NewGray(g.H, g.W)
	for y := 0; y < g.H; y++ {
		row := g.Row(y)
		for x, v := range row {
			t.Pix[x*t.W+y] = v
		}
	}
	return t
}

// resizeArea resamples g to w x h by area averaging (a box filter as wide as
// the scale), which is the right anti-aliasing filter for downscaling; for
// upscaling it degenerates to linear interpolation between pixel areas.
func resizeArea(g *Gray, w, h int) *Gray {
	if w == g.W && h == g.H {
		c := NewGray(w, h)
		copy(c.Pix, g.Pix)
		return c
	}
	xw := areaWeights(g.W, w)
	yw := areaWeights(g.H, h)
	// Horizontal pass: g.H rows of w samples.
	tmp := NewGray(w, g.H)
	for y := 0; y < g.H; y++ {
		src := g.Row(y)
		dst := tmp.Row(y)
		for x := range dst {
			var s float32
			for _, t := range xw[x] {
				s += src[t.i] * t.w
			}
			dst[x] = s
		}
	}
	out := NewGray(w, h)
	for y := 0; y < h; y++ {
		dst := out.Row(y)
		for _, t := range yw[y] {
			src := tmp.Row(t.i)
			for x := range dst {
				dst[x] += src[x] * t.w
			}
		}
	}
	return out
}

type tap struct {
	i int
	w float32
}

// areaWeights returns, for each of the n output samples, the source samples
// overlapping its footprint and their normalised weights.
func areaWeights(src, n int) [][]tap {
	scale := float64(src) / float64(n)
	out := make([][]tap, n)
	for i := range out {
		a, b := float64(i)*scale, float64(i+1)*scale
		if scale < 1 { // upscaling: a unit-wide footprint centred on the sample
			c := (float64(i) + 0.5) * scale
			a, b = c-0.5, c+0.5
		}
		var taps []tap
		var sum float64
		for j := int(math.Floor(a)); float64(j) < b; j++ {
			lo, hi := math.Max(a, float64(j)), math.Min(b, float64(j+1))
			if hi <= lo {
				continue
			}
			k := min(max(j, 0), src-1)
			taps = append(taps, tap{k, float32(hi - lo)})
			sum += hi - lo
		}
		for t := range taps {
			taps[t].w /= float32(sum)
		}
		out[i] = taps
	}
	return out
}
