package matcher

// ReferenceMiuraScore is Miura's matching score computed the plain way, pixel
// by pixel, exactly as published: the enrolled pattern r is cropped by ch rows
// and cw columns on each side and slid over the probe p at every offset
// (t, s) in [0, 2ch] x [0, 2cw]; Nm(t, s) counts the pixels set in both.
// At the offset with the largest Nm (the first one in row-major order on a
// tie) the score is
//
//	Nm_max / (ones(r_crop) + ones(p[t:t+h-2ch, s:s+w-2cw]))
//
// which lies in [0, 0.5]. Both patterns must have the same geometry. It is
// the specification the fast comparison is tested against, not for
// production use.
func ReferenceMiuraScore(r, p *Pattern, ch, cw int) float64 {
	if r.W != p.W || r.H != p.H {
		panic("matcher: ReferenceMiuraScore on patterns of different geometry")
	}
	h, w := r.H, r.W
	ch = min(ch, (h-1)/2)
	cw = min(cw, (w-1)/2)
	ch2, cw2 := h-2*ch, w-2*cw
	rOnes := 0
	for y := 0; y < ch2; y++ {
		for x := 0; x < cw2; x++ {
			if r.At(x+cw, y+ch) {
				rOnes++
			}
		}
	}
	best, bt, bs := -1, 0, 0
	for t := 0; t <= 2*ch; t++ {
		for s := 0; s <= 2*cw; s++ {
			nm := 0
			for y := 0; y < ch2; y++ {
				for x := 0; x < cw2; x++ {
					if r.At(x+cw, y+ch) && p.At(x+s, y+t) {
						nm++
					}
				}
			}
			if nm > best {
				best, bt, bs = nm, t, s
			}
		}
	}
	pOnes := 0
	for y := 0; y < ch2; y++ {
		for x := 0; x < cw2; x++ {
			if p.At(x+bs, y+bt) {
				pOnes++
			}
		}
	}
	if rOnes+pOnes == 0 {
		return 0
	}
	return float64(best) / float64(rOnes+pOnes)
}
