package veinscan

import (
	"image"
	"math"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan/wire"
)

// ExposureOptions tune automatic exposure. The finger region of a
// transmission image is the bright part (light passes through the finger;
// the background sees only stray light); automatic exposure brings the
// mean of the finger pixels under each LED into [Low, High] with few
// saturated pixels.
type ExposureOptions struct {
	Target       float64 // grey level the finger mean is steered to
	Low, High    float64 // acceptable finger mean per LED band
	MaxSaturated float64 // acceptable fraction of finger pixels >= 250
	MaxAttempts  int     // captures per Capture call, at least 1
	StartLevel   uint8   // LED level to start from when the device's is near off
}

// DefaultExposure returns the defaults: target 120, acceptable 80..170, at
// most 2 % saturated, 5 attempts.
func DefaultExposure() ExposureOptions {
	return ExposureOptions{Target: 120, Low: 80, High: 170, MaxSaturated: 0.02, MaxAttempts: 5, StartLevel: 128}
}

// ExposureStats measure an image's exposure.
type ExposureStats struct {
	Threshold  int       `json:"threshold"`   // grey level separating finger from background (Otsu)
	Coverage   float64   `json:"coverage"`    // fraction of the frame that is finger
	Mean       float64   `json:"mean"`        // mean grey level of the finger
	Saturated  float64   `json:"saturated"`   // fraction of finger pixels >= 250
	Dark       float64   `json:"dark"`        // fraction of finger pixels <= 20
	BandMean   []float64 `json:"band_mean"`   // finger mean under each LED (0: no finger there)
	BandSat    []float64 `json:"band_sat"`    // saturated fraction under each LED
	BandPixels []int     `json:"band_pixels"` // finger pixels under each LED
	Score      float64   `json:"score"`       // distance from the target (0 is perfect)
	OK         bool      `json:"ok"`
}

// MeasureExposure measures img for nLED LEDs spread evenly along its width.
func MeasureExposure(img *image.Gray, nLED int, o ExposureOptions) ExposureStats {
	if nLED < 1 {
		nLED = 1
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	st := ExposureStats{BandMean: make([]float64, nLED), BandSat: make([]float64, nLED), BandPixels: make([]int, nLED)}
	if w == 0 || h == 0 {
		return st
	}
	var hist [256]int
	for y := 0; y < h; y++ {
		for _, v := range img.Pix[y*img.Stride : y*img.Stride+w] {
			hist[v]++
		}
	}
	st.Threshold = otsu(&hist)
	var sum float64
	var n, sat, dark int
	bandSum := make([]float64, nLED)
	bandSat := make([]int, nLED)
	for y := 0; y < h; y++ {
		row := img.Pix[y*img.Stride : y*img.Stride+w]
		for x, v := range row {
			if int(v) <= st.Threshold {
				continue
			}
			bi := x * nLED / w
			n++
			sum += float64(v)
			bandSum[bi] += float64(v)
			st.BandPixels[bi]++
			if v >= 250 {
				sat++
				bandSat[bi]++
			}
			if v <= 20 {
				dark++
			}
		}
	}
	st.Coverage = float64(n) / float64(w*h)
	if n == 0 {
		st.Score = math.Inf(1)
		return st
	}
	st.Mean = sum / float64(n)
	st.Saturated = float64(sat) / float64(n)
	st.Dark = float64(dark) / float64(n)
	st.OK = st.Coverage >= 0.1
	minPix := max(1, w*h/nLED/20) // a band needs 5 % finger to count
	for i := range nLED {
		if st.BandPixels[i] < minPix {
			continue
		}
		m := bandSum[i] / float64(st.BandPixels[i])
		st.BandMean[i] = m
		st.BandSat[i] = float64(bandSat[i]) / float64(st.BandPixels[i])
		st.Score += math.Abs(math.Log(m / o.Target))
		if m < o.Low || m > o.High || st.BandSat[i] > o.MaxSaturated {
			st.OK = false
		}
	}
	st.Score += 10 * st.Saturated
	if st.Saturated > o.MaxSaturated {
		st.OK = false
	}
	return st
}

// otsu returns the threshold that best separates the histogram in two
// classes; pixels above it are the finger.
func otsu(hist *[256]int) int {
	var total, sumAll float64
	for i, c := range hist {
		total += float64(c)
		sumAll += float64(i * c)
	}
	var wB, sumB, best float64
	t := 0
	for i, c := range hist {
		wB += float64(c)
		if wB == 0 {
			continue
		}
		wF := total - wB
		if wF == 0 {
			break
		}
		sumB += float64(i * c)
		mB, mF := sumB/wB, (sumAll-sumB)/wF
		if v := wB * wF * (mB - mF) * (mB - mF); v > best {
			best, t = v, i
		}
	}
	return t
}

// ledThreshold is the level below which LEDs emit (almost) nothing; light
// is taken as linear in the level above it.
const ledThreshold = 3

// nextLED proposes the next LED setting: each LED whose band shows finger
// is scaled so that its band mean moves to the target (more strongly down
// when the band saturates, since a saturated mean understates the light).
func nextLED(cur wire.LEDs, st ExposureStats, o ExposureOptions) wire.LEDs {
	next := append(wire.LEDs(nil), cur...)
	for i := range next {
		if i >= len(st.BandMean) || st.BandMean[i] == 0 {
			continue
		}
		ratio := o.Target / st.BandMean[i]
		if st.BandSat[i] > o.MaxSaturated {
			ratio = math.Min(ratio, 0.6)
		}
		ratio = math.Max(0.2, math.Min(ratio, 5))
		eff := math.Max(1, float64(cur[i])-ledThreshold)
		v := math.Round(ledThreshold + eff*ratio)
		next[i] = uint8(math.Max(ledThreshold+1, math.Min(255, v)))
	}
	// LEDs over background borrow the mean of the lit ones.
	var sum, k float64
	for i := range next {
		if i < len(st.BandMean) && st.BandMean[i] != 0 {
			sum += float64(next[i])
			k++
		}
	}
	if k > 0 {
		for i := range next {
			if i >= len(st.BandMean) || st.BandMean[i] == 0 {
				next[i] = uint8(math.Round(sum / k))
			}
		}
	}
	return next
}
