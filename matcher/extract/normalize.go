package extract

import "math"

// normalize resamples the finger of the working image g (axis along x,
// region r) into an ew x eh image: the fitted midline is rotated to the
// horizontal and moved to the middle row (Huang), the finger length spans
// the columns and the median finger width spans fill of the rows, so every
// capture of a finger lands on the same geometry whatever its position,
// tilt and distance to the camera. mask is 1 where the sample lies inside
// the finger, at least margin working pixels from either edge.
//
// With isotropic > 0 the along-axis scale follows the across scale (times
// isotropic) instead of fitting the frame length, and the template is
// centred on the middle of the finger found between its ends: the same
// finger then maps to the same pixel scale whatever the frame or crop.
//
// With tip > 0 the fingertip (r.Right) goes to that fraction of the
// template width instead.
//
// inFrame counts the samples that fall inside frame, the input frame in
// the working image's pixel-centre coordinates (it extends beyond g when g
// was cropped out of a larger frame).
func normalize(g *Gray, r *Region, ew, eh int, fill, margin, isotropic, tip float64, frame [4]float64) (out *Gray, mask, full []bool, inFrame int) {
	out = NewGray(ew, eh)
	mask = make([]bool, ew*eh)
	full = make([]bool, ew*eh)
	theta := math.Atan(r.B)
	cos, sin := math.Cos(theta), math.Sin(theta)
	length := float64(g.W)
	xc := (length - 1) / 2
	band := r.Width / fill
	sv := band / float64(eh)
	if isotropic > 0 {
		length = sv * isotropic * float64(ew)
		xc = float64(r.Left+r.Right) / 2
		if tip > 0 {
			xc = float64(r.Right) - (tip-0.5)*length*math.Cos(theta)
		}
	}
	yc := r.A + r.B*xc
	su := length / float64(ew)
	for v := 0; v < eh; v++ {
		n := (float64(v)+0.5)*sv - band/2
		for u := 0; u < ew; u++ {
			t := (float64(u)+0.5)*su - length/2
			x := xc + t*cos - n*sin
			y := yc + t*sin + n*cos
			i := v*ew + u
			val, _ := bilinear(g, x, y)
			out.Pix[i] = val
			if x < frame[0] || y < frame[1] || x > frame[2] || y > frame[3] {
				continue
			}
			inFrame++
			xi := min(max(int(x+0.5), 0), g.W-1)
			mask[i] = y >= float64(r.Upper[xi])+margin && y <= float64(r.Lower[xi])-margin &&
				x >= float64(r.Left)+margin && x <= float64(r.Right)-margin
			full[i] = y >= float64(r.Upper[xi]) && y <= float64(r.Lower[xi]) &&
				x >= float64(r.Left) && x <= float64(r.Right)
		}
	}
	return out, mask, full, inFrame
}

// bilinear samples g at (x, y) in pixel-centre coordinates, clamping to the
// border; ok is false when (x, y) lies outside the image.
func bilinear(g *Gray, x, y float64) (float32, bool) {
	ok := x >= -0.5 && y >= -0.5 && x <= float64(g.W)-0.5 && y <= float64(g.H)-0.5
	x = min(max(x, 0), float64(g.W-1))
	y = min(max(y, 0), float64(g.H-1))
	x0, y0 := int(x), int(y)
	x1, y1 := min(x0+1, g.W-1), min(y0+1, g.H-1)
	fx, fy := float32(x-float64(x0)), float32(y-float64(y0))
	a := g.Pix[y0*g.W+x0]*(1-fx) + g.Pix[y0*g.W+x1]*fx
	b := g.Pix[y1*g.W+x0]*(1-fx) + g.Pix[y1*g.W+x1]*fx
	return a*(1-fy) + b*fy, ok
}
