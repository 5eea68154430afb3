package fingerimg

import "math"

// hash2 maps a lattice point to a pseudo-random value in [-1, 1).
func hash2(seed uint64, ix, iy int64) float32 {
	h := seed ^ uint64(ix)*0x9e3779b185ebca87 ^ uint64(iy)*0xc2b2ae3d27d4eb4f
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return float32(h>>40)*(2.0/(1<<24)) - 1
}

// valueNoise is smooth lattice noise in [-1, 1] with unit feature size.
func valueNoise(seed uint64, x, y float64) float32 {
	fx, fy := math.Floor(x), math.Floor(y)
	ix, iy := int64(fx), int64(fy)
	tx, ty := float32(x-fx), float32(y-fy)
	tx = tx * tx * (3 - 2*tx)
	ty = ty * ty * (3 - 2*ty)
	a := hash2(seed, ix, iy)
	b := hash2(seed, ix+1, iy)
	c := hash2(seed, ix, iy+1)
	d := hash2(seed, ix+1, iy+1)
	top := a + (b-a)*tx
	bot := c + (d-c)*tx
	return top + (bot-top)*ty
}
