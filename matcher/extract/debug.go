package extract

import (
	"image"
	"image/color"

	"github.com/qingshan-gov/veinkiosk/matcher"
)

// drawRegion renders the working image with the detected edges (red) and
// the fitted midline (green), for `veinctl template extract --debug`.
func drawRegion(g *Gray, r *Region) image.Image {
	out := image.NewRGBA(image.Rect(0, 0, g.W, g.H))
	for i, v := range g.Pix {
		c := uint8(max(0, min(255, v)))
		out.Pix[4*i], out.Pix[4*i+1], out.Pix[4*i+2], out.Pix[4*i+3] = c, c, c, 255
	}
	red, green := color.RGBA{255, 0, 0, 255}, color.RGBA{0, 255, 0, 255}
	for x := 0; x < g.W; x++ {
		out.Set(x, int(r.Upper[x]+0.5), red)
		out.Set(x, int(r.Lower[x]+0.5), red)
		out.Set(x, int(r.A+r.B*float64(x)+0.5), green)
	}
	for y := 0; y < g.H; y++ {
		out.Set(int(r.Left+0.5), y, red)
		out.Set(int(r.Right+0.5), y, red)
	}
	return out
}

// patternImage renders a pattern white on black.
func patternImage(p *matcher.Pattern) image.Image {
	out := image.NewGray(image.Rect(0, 0, p.W, p.H))
	for y := 0; y < p.H; y++ {
		for x := 0; x < p.W; x++ {
			if p.At(x, y) {
				out.Pix[y*p.W+x] = 255
			}
		}
	}
	return out
}
