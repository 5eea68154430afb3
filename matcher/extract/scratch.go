package extract

import "sync"

// The pipeline's intermediate images (the blurs of flatten, the
// derivative images of the curvature) are a few hundred kilobytes each and
// live only inside one stage: allocating and zeroing them afresh on every
// call cost about a sixth of an extraction's CPU (allocation, clearing,
// garbage collection). They are taken from and given back to this pool
// instead. A buffer is never shared: it belongs to one goroutine from
// getGray to putGray, and no result returned by Extract holds one.
var grayPool sync.Pool // of *[]float32

// getGray returns a w x h image from the pool; its pixels are zero when
// zero is set, else unspecified (the caller overwrites every one).
func getGray(w, h int, zero bool) *Gray {
	n := w * h
	if p, _ := grayPool.Get().(*[]float32); p != nil && cap(*p) >= n {
		pix := (*p)[:n]
		if zero {
			clear(pix)
		}
		return &Gray{W: w, H: h, Pix: pix}
	}
	return NewGray(w, h)
}

// putGray gives the images back to the pool; the caller must not use them
// afterwards.
func putGray(gs ...*Gray) {
	for _, g := range gs {
		if g != nil {
			p := g.Pix[:0]
			grayPool.Put(&p)
		}
	}
}
