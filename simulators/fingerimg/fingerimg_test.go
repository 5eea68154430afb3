package fingerimg

import (
	"bytes"
	"fmt"
	"image"
	"math"
	"runtime"
	"testing"
)

func capture(t testing.TB, fs, cs uint64, mod func(*Conditions)) (*image.Gray, *Truth) {
	t.Helper()
	c := DefaultConditions()
	c.Seed = cs
	if mod != nil {
		mod(&c)
	}
	return NewFinger(fs).CaptureTruth(c)
}

func TestDeterministic(t *testing.T) {
	for _, pl := range []Placement{Normal, Partial, Moved, Absent} {
		c := DefaultConditions()
		c.Seed = 99
		c.Placement = pl
		a := NewFinger(7).Capture(c)
		b := NewFinger(7).Capture(c)
		if !bytes.Equal(a.Pix, b.Pix) {
			t.Errorf("%v: two captures with the same seeds differ", pl)
		}
		// CaptureTruth renders the very same image.
		d, _ := NewFinger(7).CaptureTruth(c)
		if !bytes.Equal(a.Pix, d.Pix) {
			t.Errorf("%v: CaptureTruth image differs from Capture", pl)
		}
	}
}

func TestSeedsMatter(t *testing.T) {
	a, _ := capture(t, 1, 1, nil)
	b, _ := capture(t, 1, 2, nil)
	c, _ := capture(t, 2, 1, nil)
	if bytes.Equal(a.Pix, b.Pix) {
		t.Error("different capture seeds gave identical images")
	}
	if bytes.Equal(a.Pix, c.Pix) {
		t.Error("different fingers gave identical images")
	}
}

func meanMasked(img *image.Gray, mask *image.Gray, want bool) (float64, int) {
	var s float64
	n := 0
	for i, m := range mask.Pix {
		if (m != 0) == want {
			s += float64(img.Pix[i])
			n++
		}
	}
	if n == 0 {
		return 0, 0
	}
	return s / float64(n), n
}

func TestFingerBrighterThanBackground(t *testing.T) {
	for fs := uint64(1); fs <= 8; fs++ {
		img, tr := capture(t, fs, fs*3, nil)
		in, nin := meanMasked(img, tr.FingerMask, true)
		out, nout := meanMasked(img, tr.FingerMask, false)
		frac := float64(nin) / float64(nin+nout)
		if frac < 0.4 || frac > 0.95 {
			t.Errorf("finger %d covers %.2f of the frame, want 0.4..0.95", fs, frac)
		}
		if in < 70 || in > 200 {
			t.Errorf("finger %d: mean finger level %.1f at default LEDs, want mid-grey", fs, in)
		}
		if out > 40 || in < out+50 {
			t.Errorf("finger %d: finger %.1f, background %.1f", fs, in, out)
		}
	}
}

// TestVeinsDarker checks, along the ground-truth vessel centre lines, that
// the image is darker on the vessel than beside it.
func TestVeinsDarker(t *testing.T) {
	darker, total := 0, 0
	for fs := uint64(1); fs <= 6; fs++ {
		img, tr := capture(t, fs, 5, func(c *Conditions) { c.Quality = 1 })
		w, h := img.Rect.Dx(), img.Rect.Dy()
		at := func(x, y float64) (float64, bool) {
			xi, yi := int(math.Round(x)), int(math.Round(y))
			if xi < 1 || yi < 1 || xi >= w-1 || yi >= h-1 {
				return 0, false
			}
			var s float64
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					k := (yi+dy)*w + xi + dx
					if tr.FingerMask.Pix[k] == 0 || tr.VeinMask.Pix[k] != 0 {
						return 0, false
					}
					s += float64(img.Pix[k])
				}
			}
			return s / 9, true
		}
		for _, v := range tr.Veins {
			if v.Depth > 0.5 || v.Visibility < 0.8 || v.Width < 5 {
				continue
			}
			c := float64(img.Pix[int(math.Round(v.Y))*w+int(math.Round(v.X))])
			off := v.Width/2 + 7
			l, okl := at(v.X-v.DY*off, v.Y+v.DX*off)
			r, okr := at(v.X+v.DY*off, v.Y-v.DX*off)
			if !okl || !okr {
				continue
			}
			total++
			if c < (l+r)/2 {
				darker++
			}
		}
	}
	if total < 100 {
		t.Fatalf("only %d vessel samples with clear tissue on both sides", total)
	}
	if frac := float64(darker) / float64(total); frac < 0.85 {
		t.Errorf("vessel centre darker than its sides at %.2f of %d samples, want >= 0.85", frac, total)
	}
}

func TestLEDResponseMonotonic(t *testing.T) {
	_, tr := capture(t, 3, 1, nil)
	prev := -1.0
	for level := 0; level <= 255; level += 15 {
		img, _ := capture(t, 3, 1, func(c *Conditions) {
			c.LED = []uint8{uint8(level), uint8(level), uint8(level), uint8(level)}
		})
		m, _ := meanMasked(img, tr.FingerMask, true)
		if m <= prev {
			t.Errorf("LED %d: finger mean %.1f not above %.1f at the previous level", level, m, prev)
		}
		if level == 0 && m > 20 {
			t.Errorf("LEDs off: finger mean %.1f, want dark", m)
		}
		prev = m
	}
}

func TestLEDLocality(t *testing.T) {
	_, tr := capture(t, 4, 1, nil)
	half := func(img *image.Gray, left bool) float64 {
		w := img.Rect.Dx()
		var s float64
		n := 0
		for y := range img.Rect.Dy() {
			for x := range w {
				if (x < w/3) != left || (x >= w/3 && x < 2*w/3) {
					continue
				}
				if tr.FingerMask.Pix[y*w+x] != 0 {
					s += float64(img.Pix[y*w+x])
					n++
				}
			}
		}
		return s / float64(n)
	}
	base, _ := capture(t, 4, 1, func(c *Conditions) { c.LED = []uint8{80, 80, 80, 80} })
	up, _ := capture(t, 4, 1, func(c *Conditions) { c.LED = []uint8{200, 80, 80, 80} })
	dl := half(up, true) - half(base, true)
	dr := half(up, false) - half(base, false)
	if dl < 20 || dr > dl/4 {
		t.Errorf("raising the first LED brightened the left third by %.1f and the right third by %.1f", dl, dr)
	}
}

func TestSaturationAtMaxLED(t *testing.T) {
	for fs := uint64(1); fs <= 6; fs++ {
		img, tr := capture(t, fs, 2, func(c *Conditions) { c.LED = []uint8{255, 255, 255, 255} })
		sat, n := 0, 0
		for i, m := range tr.FingerMask.Pix {
			if m != 0 {
				n++
				if img.Pix[i] == 255 {
					sat++
				}
			}
		}
		if f := float64(sat) / float64(n); f < 0.25 {
			t.Errorf("finger %d at full LEDs: %.2f of the finger saturated, want >= 0.25", fs, f)
		}
	}
}

func TestPartialCoversLess(t *testing.T) {
	var normal, partial float64
	for s := uint64(0); s < 12; s++ {
		_, tn := capture(t, 5, s, nil)
		_, tp := capture(t, 5, s, func(c *Conditions) { c.Placement = Partial })
		_, an := meanMasked(tn.FingerMask, tn.FingerMask, true)
		_, ap := meanMasked(tp.FingerMask, tp.FingerMask, true)
		if float64(ap) > 0.85*float64(an) {
			t.Errorf("capture %d: partial placement covers %d pixels, normal %d", s, ap, an)
		}
		normal += float64(an)
		partial += float64(ap)
	}
	if partial > 0.75*normal {
		t.Errorf("partial placements cover %.0f%% of normal on average", 100*partial/normal)
	}
}

func TestAbsent(t *testing.T) {
	img, tr := capture(t, 5, 1, func(c *Conditions) { c.Placement = Absent })
	if _, n := meanMasked(img, tr.FingerMask, true); n != 0 {
		t.Errorf("absent finger has %d finger pixels", n)
	}
	if m, _ := meanMasked(img, tr.FingerMask, false); m > 25 {
		t.Errorf("absent finger: frame mean %.1f, want dark", m)
	}
}

// gradientEnergy is the mean squared horizontal+vertical difference inside
// the mask.
func gradientEnergy(img, mask *image.Gray) float64 {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	var s float64
	n := 0
	for y := 1; y < h; y++ {
		for x := 1; x < w; x++ {
			i := y*w + x
			if mask.Pix[i] == 0 {
				continue
			}
			a := float64(img.Pix[i]) - float64(img.Pix[i-1])
			b := float64(img.Pix[i]) - float64(img.Pix[i-w])
			s += a*a + b*b
			n++
		}
	}
	return s / float64(n)
}

func TestMovedIsBlurred(t *testing.T) {
	across := 0
	for s := uint64(0); s < 6; s++ {
		// A Moved capture has the pose and the sensor noise of the
		// Normal one with the same seed, smeared by the motion.
		a, ta := capture(t, 31, s, func(c *Conditions) { c.Quality = 1 })
		b, tb := capture(t, 31, s, func(c *Conditions) { c.Quality = 1; c.Placement = Moved })
		if tb.Pose.MotionLength < 12 {
			t.Errorf("moved capture %d: motion %.1f px", s, tb.Pose.MotionLength)
		}
		// Finger images are smooth: most of the pixel-scale energy is
		// sensor noise, the same in both. Motion removes the rest in its
		// direction, and most clearly when it crosses the vessels (which
		// run along the finger).
		inner := erode(ta.FingerMask, 20)
		ang := tb.Pose.MotionAngle
		ea, eb := directionalEnergy(a, inner, ang), directionalEnergy(b, inner, ang)
		if eb >= ea {
			t.Errorf("moved capture %d (angle %.2f): energy along the motion %.2f, still capture %.2f", s, ang, eb, ea)
		}
		if math.Abs(math.Sin(ang)) > 0.85 {
			across++
			if eb > 0.9*ea {
				t.Errorf("moved capture %d (angle %.2f) barely blurred: energy %.2f, still capture %.2f", s, ang, eb, ea)
			}
		}
	}
	if across < 2 {
		t.Errorf("only %d of 6 captures moved across the finger", across)
	}
}

// directionalEnergy is the mean squared derivative along angle inside the
// mask.
func directionalEnergy(img, mask *image.Gray, angle float64) float64 {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	c, s := math.Cos(angle), math.Sin(angle)
	var sum float64
	n := 0
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			i := y*w + x
			if mask.Pix[i] == 0 {
				continue
			}
			gx := (float64(img.Pix[i+1]) - float64(img.Pix[i-1])) / 2
			gy := (float64(img.Pix[i+w]) - float64(img.Pix[i-w])) / 2
			g := gx*c + gy*s
			sum += g * g
			n++
		}
	}
	return sum / float64(n)
}

// erode keeps the mask pixels whose row and column neighbours within r
// are all in the mask.
func erode(mask *image.Gray, r int) *image.Gray {
	w, h := mask.Rect.Dx(), mask.Rect.Dy()
	out := image.NewGray(mask.Rect)
	for y := r; y < h-r; y++ {
		for x := r; x < w-r; x++ {
			in := true
			for d := -r; d <= r && in; d++ {
				in = mask.Pix[(y+d)*w+x] != 0 && mask.Pix[y*w+x+d] != 0
			}
			if in {
				out.Pix[y*w+x] = 255
			}
		}
	}
	return out
}

func TestQualityAddsNoise(t *testing.T) {
	// Background noise (no texture there) rises as quality falls.
	bgNoise := func(q float64) float64 {
		img, tr := capture(t, 2, 3, func(c *Conditions) { c.Quality = q })
		// background at least 6 pixels from the finger
		inv := image.NewGray(tr.FingerMask.Rect)
		w, h := inv.Rect.Dx(), inv.Rect.Dy()
		for y := 6; y < h-6; y++ {
			for x := 6; x < w-6; x++ {
				clear := true
				for d := -6; d <= 6 && clear; d++ {
					clear = tr.FingerMask.Pix[(y+d)*w+x] == 0 && tr.FingerMask.Pix[y*w+x+d] == 0
				}
				if clear {
					inv.Pix[y*w+x] = 255
				}
			}
		}
		if _, n := meanMasked(img, inv, true); n < 1000 {
			t.Fatalf("only %d background pixels far from the finger", n)
		}
		return gradientEnergy(img, inv)
	}
	if hi, lo := bgNoise(1), bgNoise(0.2); lo < 1.5*hi {
		t.Errorf("background gradient energy %.2f at quality 0.2, %.2f at quality 1", lo, hi)
	}
}

func TestFingersDiffer(t *testing.T) {
	// Silhouette widths: real fingers differ by tens of percent.
	var minA, maxA float64 = math.Inf(1), 0
	for fs := uint64(0); fs < 20; fs++ {
		f := NewFinger(fs)
		a := f.hw
		minA, maxA = math.Min(minA, a), math.Max(maxA, a)
		if n := len(f.veins); n < 4 {
			t.Errorf("finger %d has %d vessels", fs, n)
		}
	}
	if maxA < 1.15*minA {
		t.Errorf("finger half widths span only %.1f..%.1f", minA, maxA)
	}
}

func TestSizes(t *testing.T) {
	for _, sz := range []struct{ w, h int }{{500, 200}, {640, 240}, {320, 128}, {0, 0}, {-5, 150}} {
		c := DefaultConditions()
		c.Width, c.Height = sz.w, sz.h
		img, tr := NewFinger(1).CaptureTruth(c)
		n := c.normalized()
		if img.Rect.Dx() != n.Width || img.Rect.Dy() != n.Height {
			t.Errorf("%dx%d: got %v, want %dx%d", sz.w, sz.h, img.Rect, n.Width, n.Height)
			continue
		}
		in, nin := meanMasked(img, tr.FingerMask, true)
		out, _ := meanMasked(img, tr.FingerMask, false)
		if frac := float64(nin) / float64(len(img.Pix)); frac < 0.3 || in < out+40 {
			t.Errorf("%v: finger covers %.2f, finger %.1f vs background %.1f", img.Rect, frac, in, out)
		}
	}
}

func TestNormalized(t *testing.T) {
	tests := []struct {
		name string
		in   Conditions
		want func(Conditions) bool
	}{
		{"zero size", Conditions{}, func(c Conditions) bool { return c.Width == DefaultWidth && c.Height == DefaultHeight }},
		{"nil LED", Conditions{}, func(c Conditions) bool { return len(c.LED) == 4 && c.LED[0] == DefaultLED }},
		{"empty LED stays dark", Conditions{LED: []uint8{}}, func(c Conditions) bool { return len(c.LED) == 0 }},
		{"huge", Conditions{Width: 1 << 30, Height: 1 << 30}, func(c Conditions) bool { return c.Width == MaxWidth && c.Height == MaxHeight }},
		{"quality clamp", Conditions{Quality: 7}, func(c Conditions) bool { return c.Quality == 1 }},
		{"quality NaN", Conditions{Quality: math.NaN()}, func(c Conditions) bool { return c.Quality == DefaultQuality }},
		{"bad placement", Conditions{Placement: 42}, func(c Conditions) bool { return c.Placement == Normal }},
		{"gain", Conditions{Gain: -3}, func(c Conditions) bool { return c.Gain == 0 }},
	}
	for _, tt := range tests {
		if got := tt.in.normalized(); !tt.want(got) {
			t.Errorf("%s: normalized = %+v", tt.name, got)
		}
	}
}

func TestPlacementString(t *testing.T) {
	if Moved.String() != "moved" || Placement(9).String() != "Placement(9)" {
		t.Error("Placement.String")
	}
}

func FuzzCapture(f *testing.F) {
	f.Add(uint64(1), uint64(2), 500, 200, []byte{128, 128, 128, 128}, 0.8, 0)
	f.Add(uint64(3), uint64(0), 17, 9, []byte{}, 0.0, 3)
	f.Add(uint64(5), uint64(7), 1, 1, []byte{255}, 1.0, 2)
	f.Fuzz(func(t *testing.T, fs, cs uint64, w, h int, led []byte, q float64, pl int) {
		c := Conditions{Width: w % 700, Height: h % 300, LED: led, Seed: cs, Quality: q, Placement: Placement(pl)}
		img := NewFinger(fs).Capture(c)
		n := c.normalized()
		if img.Rect.Dx() != n.Width || img.Rect.Dy() != n.Height {
			t.Fatalf("size %v for %dx%d", img.Rect, n.Width, n.Height)
		}
	})
}

// benchCPU runs f in a b.Loop on one locked OS thread and also reports
// the thread's CPU time per call (cpu-ns/op) where the platform has it.
func benchCPU(b *testing.B, f func(i int)) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	start := threadCPUTime()
	n := 0
	for b.Loop() {
		f(n)
		n++
	}
	if d := threadCPUTime() - start; d > 0 && n > 0 {
		b.ReportMetric(float64(d.Nanoseconds())/float64(n), "cpu-ns/op")
	}
}

func BenchmarkCapture(b *testing.B) {
	for _, sz := range []struct{ w, h int }{{500, 200}, {640, 480}} {
		b.Run(fmt.Sprintf("%dx%d", sz.w, sz.h), func(b *testing.B) {
			f := NewFinger(1)
			c := DefaultConditions()
			c.Width, c.Height = sz.w, sz.h
			benchCPU(b, func(i int) {
				c.Seed = uint64(i)
				f.Capture(c)
			})
		})
	}
}

func BenchmarkCaptureMoved(b *testing.B) {
	f := NewFinger(1)
	c := DefaultConditions()
	c.Placement = Moved
	benchCPU(b, func(i int) {
		c.Seed = uint64(i)
		f.Capture(c)
	})
}

func BenchmarkNewFinger(b *testing.B) {
	benchCPU(b, func(i int) { NewFinger(uint64(i)) })
}

func TestCarelessUsersSlip(t *testing.T) {
	count := func(q float64) int {
		n := 0
		for s := range uint64(100) {
			c := DefaultConditions()
			c.Seed, c.Quality = s, q
			// only the placement matters here: a small frame is enough
			c.Width, c.Height = 100, 40
			if _, tr := NewFinger(9).CaptureTruth(c); tr.Placement == Partial {
				n++
			}
		}
		return n
	}
	if n := count(1); n != 0 {
		t.Errorf("quality 1: %d of 100 normal captures came out partial", n)
	}
	if n := count(0.2); n < 3 || n > 30 {
		t.Errorf("quality 0.2: %d of 100 normal captures came out partial, want about 13", n)
	}
}

func TestConcurrentCaptures(t *testing.T) {
	f := NewFinger(12)
	want := make([]*image.Gray, 8)
	for i := range want {
		c := DefaultConditions()
		c.Seed = uint64(i)
		want[i] = f.Capture(c)
	}
	got := make([]*image.Gray, len(want))
	done := make(chan int)
	for i := range want {
		go func() {
			c := DefaultConditions()
			c.Seed = uint64(i)
			got[i] = f.Capture(c)
			done <- i
		}()
	}
	for range want {
		<-done
	}
	for i := range want {
		if !bytes.Equal(got[i].Pix, want[i].Pix) {
			t.Errorf("capture %d differs when run concurrently", i)
		}
	}
}

func TestRollIsNonlinear(t *testing.T) {
	roll := 12 * math.Pi / 180
	shift := func(t0, d float64) float64 {
		t1, vis := rollVessel(t0, d, roll)
		if vis <= 0 {
			return math.NaN()
		}
		return t1 - t0
	}
	if c, e := shift(0, 0.2), shift(0.8, 0.2); !(c > 1.5*e && e > 0) {
		t.Errorf("roll shifts the centre by %.3f and a vessel near the edge by %.3f: want the centre to move most", c, e)
	}
	// Order across the finger is kept, and rolling back undoes the roll.
	prev := -2.0
	for t0 := -0.6; t0 <= 0.6; t0 += 0.05 {
		t1, _ := rollVessel(t0, 0.3, roll)
		if t1 <= prev {
			t.Fatalf("roll reorders vessels at t=%.2f", t0)
		}
		prev = t1
		back, _ := rollVessel(t1, 0.3, -roll)
		if math.Abs(back-t0) > 1e-9 {
			t.Errorf("roll and back: %.3f -> %.3f -> %.3f", t0, t1, back)
		}
	}
	// A vessel turned towards the side fades; one turned past it vanishes.
	_, front := rollVessel(0, 0, 0)
	_, side := rollVessel(0.95, 0, roll)
	_, gone := rollVessel(0.99, 0, 30*math.Pi/180)
	if !(front == 1 && side < 0.6 && gone == 0) {
		t.Errorf("visibility front %.2f, side %.2f, past the edge %.2f", front, side, gone)
	}
}

// veinContrast is the mean relative darkening of shallow-enough, visible
// vessel centres against the tissue beside them, over samples selected by
// keep.
func veinContrast(img *image.Gray, tr *Truth, keep func(VeinSample) bool) (float64, int) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	at := func(x, y float64) (float64, bool) {
		xi, yi := int(math.Round(x)), int(math.Round(y))
		if xi < 0 || yi < 0 || xi >= w || yi >= h || tr.FingerMask.Pix[yi*w+xi] == 0 {
			return 0, false
		}
		return float64(img.Pix[yi*w+xi]), true
	}
	var sum float64
	n := 0
	for _, v := range tr.Veins {
		if !keep(v) || v.Visibility < 0.8 {
			continue
		}
		off := v.Width/2 + 8
		c, ok0 := at(v.X, v.Y)
		l, ok1 := at(v.X-v.DY*off, v.Y+v.DX*off)
		r, ok2 := at(v.X+v.DY*off, v.Y-v.DX*off)
		if !ok0 || !ok1 || !ok2 || l+r == 0 {
			continue
		}
		sum += 1 - 2*c/(l+r)
		n++
	}
	return sum / float64(n), n
}

func TestDeepVesselsAreFainter(t *testing.T) {
	var shallow, deep float64
	var ns, nd int
	for fs := uint64(1); fs <= 12; fs++ {
		img, tr := capture(t, fs, 1, func(c *Conditions) { c.Quality = 1 })
		mid := func(v VeinSample) bool { return v.Width >= 5 && v.Width <= 10 }
		s, n1 := veinContrast(img, tr, func(v VeinSample) bool { return mid(v) && v.Depth < 0.25 })
		d, n2 := veinContrast(img, tr, func(v VeinSample) bool { return mid(v) && v.Depth > 0.7 })
		if n1 > 0 {
			shallow += s * float64(n1)
			ns += n1
		}
		if n2 > 0 {
			deep += d * float64(n2)
			nd += n2
		}
	}
	if ns < 50 || nd < 50 {
		t.Fatalf("too few samples: %d shallow, %d deep", ns, nd)
	}
	shallow /= float64(ns)
	deep /= float64(nd)
	t.Logf("vessel contrast: shallow %.3f (%d samples), deep %.3f (%d)", shallow, ns, deep, nd)
	if !(shallow > 1.5*deep && deep > 0) {
		t.Errorf("contrast of shallow vessels %.3f, deep %.3f: want deep vessels visible but much fainter", shallow, deep)
	}
}

func TestPressureFadesShallowVessels(t *testing.T) {
	c := DefaultConditions()
	c.Quality = 1
	var light, hard float64
	for fs := uint64(1); fs <= 8; fs++ {
		f := NewFinger(fs)
		keep := func(v VeinSample) bool { return v.Depth < 0.4 && v.Width >= 4 }
		img, tr := f.render(c, true, func(rd *renderer) { rd.press = 0.1 })
		l, _ := veinContrast(img, tr, keep)
		img, tr = f.render(c, true, func(rd *renderer) { rd.press = 0.9 })
		hd, _ := veinContrast(img, tr, keep)
		light += l
		hard += hd
	}
	t.Logf("shallow vessel contrast: %.3f at pressure 0.1, %.3f at 0.9", light/8, hard/8)
	if !(hard < 0.8*light && hard > 0) {
		t.Errorf("shallow vessel contrast %.3f at light pressure, %.3f at hard pressure", light/8, hard/8)
	}
}
