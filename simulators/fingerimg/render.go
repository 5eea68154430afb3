package fingerimg

import (
	"image"
	"math"
	"math/rand/v2"
	"sync"
)

// Pose is how the finger lay and what the capture did to it: the per-capture
// variation. Lengths are in sensor pixels.
type Pose struct {
	// ShiftX, ShiftY move the finger from its nominal placement (tip
	// near the right edge, axis on the middle row).
	ShiftX, ShiftY float64
	// Rotation is the in-plane rotation in degrees (positive turns the tip
	// downwards).
	Rotation float64
	// Roll is the axial rotation in degrees: vessels move across the
	// finger nonlinearly (most at the centre line, least near the edges).
	Roll float64
	// Scale is the magnification relative to nominal (finger height above
	// the sensor).
	Scale float64
	// Pressure, 0..1: how hard the finger pressed. Pressure empties and
	// narrows shallow vessels and brightens the tissue.
	Pressure float64
	// Exposure is the multiplicative exposure drift of this capture
	// (blood volume, temperature, LED ageing), 1 = nominal.
	Exposure float64
	// Blur is the optical blur (defocus) sigma.
	Blur float64
	// MotionLength and MotionAngle (radians, 0 = along the finger)
	// describe the motion blur of a Moved capture; MotionLength is 0
	// otherwise.
	MotionLength, MotionAngle float64
}

// VeinSample is a point on a vessel's centre line as seen in a capture.
type VeinSample struct {
	X, Y       float64 // sensor pixel coordinates (pixel centres at integers)
	DX, DY     float64 // unit direction of the vessel
	Width      float64 // apparent diameter, sensor pixels
	Depth      float64 // 0 (just under the skin) .. 1 (deep)
	Visibility float64 // 0..1: how much roll turned it away from the camera
}

// Truth is the ground truth of one capture, for tests and for measuring
// extraction: where the finger is and where its vessels are.
type Truth struct {
	Placement Placement
	Pose      Pose
	// FingerMask is 255 where the finger covers the pixel, 0 elsewhere.
	FingerMask *image.Gray
	// VeinMask is 255 on the visible, not deep (depth < 0.7) vessels
	// inside the finger.
	VeinMask *image.Gray
	// Veins samples the centre lines of all vessels in view.
	Veins []VeinSample
}

// Capture renders one image of the finger under c. The same finger, c and
// c.Seed always give the same image.
func (f *Finger) Capture(c Conditions) *image.Gray {
	img, _ := f.render(c, false, nil)
	return img
}

// CaptureTruth renders the same image as Capture and returns its ground
// truth as well.
func (f *Finger) CaptureTruth(c Conditions) (*image.Gray, *Truth) {
	return f.render(c, true, nil)
}

// Radiometric model constants. DN are sensor digital numbers (0..255).
const (
	fullScaleDN = 290.0 // DN of unit tissue transmission under full LEDs
	darkDN      = 5.0   // black level
	strayFrac   = 0.035 // LED light reaching the sensor around the finger
	ledThresh   = 3.0   // LED levels at or below this emit nothing
)

// Vessel layers by depth: their scattering blur (reference pixels) and the
// contrast factor of depth.
var layerSigma = [3]float64{3.2, 5.0, 7.5}

type renderer struct {
	f      *Finger
	c      Conditions
	w, h   int
	s      float64 // sensor pixels per reference pixel
	wr, hr float64 // frame size in reference pixels
	// placement is what happened: Conditions.Placement, or Partial when
	// a normal capture slipped.
	placement Placement
	pose      Pose    // in sensor pixels, reported
	tx, ty    float64 // shift in reference pixels
	cosA      float64
	sinA      float64
	sc        float64
	roll      float64 // radians
	press     float64
	flat      float64 // apparent widening by pressure
	blurRef   float64
	veinVis   float64
	scratch   *scratch
}

// scratch holds the float planes of one capture, reused across captures
// (a 500 x 200 capture needs five planes, 2 MB).
type scratch struct{ planes [5][]float32 }

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// plane returns plane i with n zeroed elements.
func (s *scratch) plane(i, n int) []float32 {
	if cap(s.planes[i]) < n {
		s.planes[i] = make([]float32, n)
	}
	p := s.planes[i][:n]
	clear(p)
	return p
}

// render draws a capture. adjust, if not nil, may change the sampled pose
// (tests use it to vary one factor at a time).
func (f *Finger) render(c Conditions, wantTruth bool, adjust func(*renderer)) (*image.Gray, *Truth) {
	c = c.normalized()
	rd := &renderer{f: f, c: c, w: c.Width, h: c.Height}
	// The finger model is drawn for a 500 x 200 frame; other frames scale
	// it so that it fits both ways (a taller frame shows more background
	// around the finger, a longer one more of the finger).
	rd.s = math.Min(float64(c.Height)/refHeight, float64(c.Width)/refWidth)
	rd.wr = float64(c.Width) / rd.s
	rd.hr = float64(c.Height) / rd.s
	// The placement (pose, roll, pressure, exposure drift, blur) derives
	// from the finger and c.Seed; the frame adds sensor noise and a
	// sub-pixel tremor.
	rng := newRand(f.seed^0x6361707475726521, c.Seed) // "capture!"
	rd.samplePose(rng)
	if adjust != nil {
		adjust(rd)
	}
	frng := newRand(mix64(f.seed)^c.Seed, c.Frame^0x6672616d65) // "frame"
	if c.Frame != 0 {
		rd.tx += frng.NormFloat64() * 0.25
		rd.ty += frng.NormFloat64() * 0.25
		rd.pose.ShiftX, rd.pose.ShiftY = rd.tx*rd.s, rd.ty*rd.s
	}

	w, h := rd.w, rd.h
	illum := ledProfile(c.LED, w)
	kexp := fullScaleDN * c.Gain * rd.pose.Exposure
	ambient := rng.Float64() * 4
	bg := make([]float32, w)
	for x := range bg {
		bg[x] = float32(darkDN + ambient + strayFrac*kexp*illum[x])
	}

	rd.scratch = scratchPool.Get().(*scratch)
	defer scratchPool.Put(rd.scratch)
	val := rd.scratch.plane(0, w*h)
	var truth *Truth
	if wantTruth {
		truth = &Truth{Placement: rd.placement, Pose: rd.pose}
		truth.FingerMask = image.NewGray(image.Rect(0, 0, w, h))
		truth.VeinMask = image.NewGray(image.Rect(0, 0, w, h))
	}
	if rd.placement == Absent {
		for y := range h {
			copy(val[y*w:(y+1)*w], bg)
		}
	} else {
		od := rd.vesselDensity(truth)
		rd.shade(val, od, illum, bg, kexp, truth)
		if rd.placement == Moved {
			tmp := od // reuse: same size
			motionBlur(val, tmp, w, h, rd.pose.MotionLength, rd.pose.MotionAngle)
			copy(val, tmp)
		}
	}
	img := rd.sense(val, frng)
	return img, truth
}

// samplePose draws the per-capture variation.
func (rd *renderer) samplePose(r *rand.Rand) {
	q := rd.c.Quality
	sp := 1 - q     // spread
	k := rd.f.habit // the owner's placement habit scales the pose spread
	rotDeg := clamp(r.NormFloat64()*(0.8+3.5*sp)*k, -12, 12)
	tx := r.NormFloat64() * (3 + 12*sp) * k
	// The tip stop keeps the tip from going much past its nominal place.
	tx = math.Min(tx, 0.6*rd.f.tipMargin)
	ty := r.NormFloat64() * (3 + 8*sp) * k
	sc := 1 + clamp(r.NormFloat64()*(0.012+0.02*sp), -0.06, 0.06)
	rollDeg := clamp(r.NormFloat64()*(4+12*sp)*k, -30, 30)
	press := clamp(0.45+r.NormFloat64()*(0.12+0.2*sp)*k, 0, 1)
	expo := math.Exp(r.NormFloat64() * (0.04 + 0.1*sp))
	blur := 0.5 + 1.6*sp + math.Abs(r.NormFloat64())*(0.15+0.5*sp)
	rd.veinVis = 1 - 0.35*sp*r.Float64()

	var motionLen, motionAng float64
	// Careless users sometimes do not place the finger fully even when
	// the capture is meant to be normal.
	rd.placement = rd.c.Placement
	if slip := r.Float64(); rd.placement == Normal && slip < 0.2*sp*sp {
		rd.placement = Partial
	}
	switch rd.placement {
	case Partial:
		kind := r.IntN(3)
		if kind != 1 { // not pushed in far enough
			tx -= uniform(r, 0.3, 0.55) * rd.wr
		}
		if kind != 0 { // off to one side
			side := 1.0
			if r.IntN(2) == 0 {
				side = -1
			}
			ty += side * ((rd.hr-refHeight)/2 + uniform(r, 0.28, 0.42)*refHeight)
		}
		rotDeg += r.NormFloat64() * 4
	case Moved:
		motionLen = uniform(r, 12, 36) * rd.s
		motionAng = uniform(r, -math.Pi/2, math.Pi/2) // sliding, lifting, rolling
	}

	rd.tx, rd.ty = tx, ty
	a := rotDeg * math.Pi / 180
	rd.cosA, rd.sinA = math.Cos(a), math.Sin(a)
	rd.sc = sc
	rd.roll = rollDeg * math.Pi / 180
	rd.press = press
	// A finger pressed harder flattens and looks wider.
	rd.flat = 1 + 0.06*(press-0.45)
	rd.blurRef = blur
	rd.pose = Pose{
		ShiftX: tx * rd.s, ShiftY: ty * rd.s,
		Rotation: rotDeg, Roll: rollDeg, Scale: sc,
		Pressure: press, Exposure: expo, Blur: blur * rd.s,
		MotionLength: motionLen, MotionAngle: motionAng,
	}
}

// toSensor maps nominal frame coordinates (reference pixels) to sensor
// pixel coordinates (pixel centres at integers).
func (rd *renderer) toSensor(xn, yn float64) (float64, float64) {
	cx, cy := rd.wr/2, rd.hr/2
	qx, qy := (xn-cx)*rd.sc, (yn-cy)*rd.sc
	xr := cx + rd.cosA*qx - rd.sinA*qy + rd.tx
	yr := cy + rd.sinA*qx + rd.cosA*qy + rd.ty
	return xr*rd.s - 0.5, yr*rd.s - 0.5
}

// toFinger maps a sensor pixel centre to finger coordinates (u, v) in
// reference pixels, before roll.
func (rd *renderer) toFinger(px, py int) (u, v float64) {
	cx, cy := rd.wr/2, rd.hr/2
	xr := (float64(px)+0.5)/rd.s - cx - rd.tx
	yr := (float64(py)+0.5)/rd.s - cy - rd.ty
	xn := cx + (rd.cosA*xr+rd.sinA*yr)/rd.sc
	yn := cy + (-rd.sinA*xr+rd.cosA*yr)/rd.sc
	u = rd.wr - rd.f.tipMargin - xn
	v = (yn - rd.hr/2 - lookup(rd.f.c, u)) / rd.flat
	return u, v
}

// ledProfile returns the relative illumination (1 = all LEDs at 255) of
// each sensor column. Each LED lights a Gaussian neighbourhood; the
// normalisation leaves a mild fall-off towards the frame ends, as a real
// LED bar does.
func ledProfile(leds []uint8, w int) []float64 {
	out := make([]float64, w)
	n := len(leds)
	if n == 0 {
		return out
	}
	spacing := float64(w) / float64(n)
	sigma := 0.75 * spacing
	all := make([]float64, w)
	for x := range w {
		fx := float64(x) + 0.5
		for i, l := range leds {
			g := math.Exp(-0.5 * sq((fx-(float64(i)+0.5)*spacing)/sigma))
			all[x] += g
			out[x] += g * math.Max(0, float64(l)-ledThresh) / (255 - ledThresh)
		}
	}
	centre := all[w/2]
	for x := range out {
		out[x] /= 0.3*centre + 0.7*all[x]
	}
	return out
}

// vesselDensity renders the optical density of the vessels in sensor
// space: each vessel is stamped as a cylinder (density proportional to the
// chord through it) into one of three depth layers, each layer is blurred by
// its scattering plus the optics, and the layers are summed.
func (rd *renderer) vesselDensity(truth *Truth) []float32 {
	w, h := rd.w, rd.h
	f := rd.f
	layers := [3][]float32{rd.scratch.plane(1, w*h), rd.scratch.plane(2, w*h), rd.scratch.plane(3, w*h)}
	used := [3]bool{}
	var vmask []uint8
	if truth != nil {
		vmask = truth.VeinMask.Pix
	}
	type proj struct {
		x, y, r, a, d, vis float64
		ok                 bool
	}
	var pts []proj
	margin := 20 * rd.s
	for _, vn := range f.veins {
		pts = pts[:0]
		for _, p := range vn.pts {
			u, v, d := float64(p.u), float64(p.v), float64(p.d)
			hu := lookup(f.h, u)
			if hu < 1 {
				pts = append(pts, proj{})
				continue
			}
			// Roll: the vessel sits on a cylinder of relative radius rr
			// (deeper vessels nearer the axis) and turns with it.
			t2, vis := rollVessel(v/hu, d, rd.roll)
			if vis <= 0 {
				pts = append(pts, proj{})
				continue
			}
			v2 := t2 * hu
			xn := rd.wr - f.tipMargin - u
			yn := rd.hr/2 + lookup(f.c, u) + v2*rd.flat
			x, y := rd.toSensor(xn, yn)
			// Pressure empties and narrows the shallow vessels.
			shallow := 1 - d
			wid := float64(p.w) * (1 - 0.3*rd.press*shallow)
			amp := f.mu * math.Exp(-1.0*d) * (1 - 0.55*rd.press*shallow) * vis * rd.veinVis
			pts = append(pts, proj{x: x, y: y, r: 0.5 * wid * rd.s * rd.sc, a: amp, d: d, vis: vis, ok: true})
		}
		for i, j := 0, 0; i+1 < len(pts); i = j {
			// Wide vessels are stamped with longer chords (up to about
			// their radius): fewer, overlapping stamps, the same shape.
			j = i + 1
			if k := min(int(pts[i].r/2.5), 4); k > 1 && pts[i].ok {
				j = min(i+k, len(pts)-1)
				for m := i + 1; m <= j; m++ {
					if !pts[m].ok {
						j = i + 1
						break
					}
				}
			}
			p0, p1 := pts[i], pts[j]
			if !p0.ok || !p1.ok {
				continue
			}
			if math.Max(p0.x, p1.x) < -margin || math.Min(p0.x, p1.x) > float64(w)+margin ||
				math.Max(p0.y, p1.y) < -margin || math.Min(p0.y, p1.y) > float64(h)+margin {
				continue
			}
			d := 0.5 * (p0.d + p1.d)
			pos := d * 2
			li := min(int(pos), 1)
			fr := pos - float64(li)
			used[li], used[li+1] = true, true
			var mk []uint8
			if vmask != nil && d < 0.7 && math.Min(p0.vis, p1.vis) > 0.3 {
				mk = vmask
			}
			stampCapsule(layers[li], layers[li+1], mk, w, h, p0.x, p0.y, p1.x, p1.y, p0.r, p1.r,
				p0.a*(1-fr), p1.a*(1-fr), p0.a*fr, p1.a*fr, rd.s)
			if truth != nil {
				dx, dy := p1.x-p0.x, p1.y-p0.y
				n := math.Hypot(dx, dy)
				if n > 0 && p0.x >= 0 && p0.y >= 0 && p0.x < float64(w) && p0.y < float64(h) {
					truth.Veins = append(truth.Veins, VeinSample{X: p0.x, Y: p0.y, DX: dx / n, DY: dy / n,
						Width: 2 * p0.r, Depth: p0.d, Visibility: p0.vis})
				}
			}
		}
	}
	tmp := rd.scratch.plane(4, w*h)
	od := layers[0]
	for i := range layers {
		if !used[i] {
			continue
		}
		sig := math.Hypot(layerSigma[i], rd.blurRef) * rd.s
		gaussianBlur(layers[i], tmp, w, h, sig)
		if i > 0 {
			for k, v := range layers[i] {
				od[k] += v
			}
		}
	}
	return od
}

// rollVessel moves a vessel at relative position t across the finger (-1
// .. 1) and depth d by the roll angle (radians). The vessel sits on a
// cylinder of relative radius 1 - 0.3 d (deeper vessels lie nearer the
// axis) and turns with it: it moves most on the centre line and least near
// the edges, and fades as it turns away from the camera. vis is 0 when it
// turned out of sight.
func rollVessel(t, d, roll float64) (t2, vis float64) {
	rr := 1 - 0.3*d
	th := math.Asin(clamp(t/rr, -1, 1)) + roll
	if math.Abs(th) >= math.Pi/2 {
		return 0, 0
	}
	return rr * math.Sin(th), clamp(1.6*math.Cos(th), 0, 1)
}

// stampCapsule draws a tapered capsule from (x0, y0) radius r0 to (x1, y1)
// radius r1: optical density = amplitude x chord length (reference pixels),
// combined by maximum so that overlapping stamps do not darken. Amplitudes
// a0/a1 go to layer la, b0/b1 to layer lb. mk, if not nil, is set to 255
// inside.
func stampCapsule(la, lb []float32, mk []uint8, w, h int, x0, y0, x1, y1, r0, r1, a0, a1, b0, b1, s float64) {
	// Very thin vessels: widen to a pixel and keep their integral.
	const rmin = 0.8
	if r0 < rmin {
		k := sq(r0 / rmin)
		a0, b0, r0 = a0*k, b0*k, rmin
	}
	if r1 < rmin {
		k := sq(r1 / rmin)
		a1, b1, r1 = a1*k, b1*k, rmin
	}
	rm := math.Max(r0, r1)
	minX := max(0, int(math.Floor(math.Min(x0, x1)-rm)))
	maxX := min(w-1, int(math.Ceil(math.Max(x0, x1)+rm)))
	minY := max(0, int(math.Floor(math.Min(y0, y1)-rm)))
	maxY := min(h-1, int(math.Ceil(math.Max(y0, y1)+rm)))
	dx, dy := x1-x0, y1-y0
	l2 := dx*dx + dy*dy
	for y := minY; y <= maxY; y++ {
		for x := minX; x <= maxX; x++ {
			px, py := float64(x)-x0, float64(y)-y0
			t := 0.0
			if l2 > 0 {
				t = clamp((px*dx+py*dy)/l2, 0, 1)
			}
			ex, ey := px-t*dx, py-t*dy
			d2 := ex*ex + ey*ey
			r := r0 + t*(r1-r0)
			if d2 >= r*r {
				continue
			}
			chord := 2 * math.Sqrt(r*r-d2) / s
			i := y*w + x
			if v := float32(chord * (a0 + t*(a1-a0))); v > la[i] {
				la[i] = v
			}
			if v := float32(chord * (b0 + t*(b1-b0))); v > lb[i] {
				lb[i] = v
			}
			if mk != nil && d2 < 0.8*r*r {
				mk[i] = 255
			}
		}
	}
}

// shade computes the sensor irradiance of every pixel: tissue transmission
// (thickness along and across the finger, joints, texture) times vessel
// transmission, under the LED illumination, composited over the background
// with a soft silhouette.
func (rd *renderer) shade(val, od []float32, illum []float64, bg []float32, kexp float64, truth *Truth) {
	f := rd.f
	w, h := rd.w, rd.h
	// Roll look-up: observed relative position across the finger -> the
	// tissue position that rolled there.
	const rollN = 256
	var rollLUT [rollN + 1]float32
	for i := range rollLUT {
		t := float64(i)/rollN*2 - 1
		th := math.Asin(t) - rd.roll
		th = clamp(th, -math.Pi/2, math.Pi/2)
		rollLUT[i] = float32(math.Sin(th))
	}
	const rimN = 256
	var rimLUT [rimN + 1]float32
	for i := range rimLUT {
		t := math.Min(float64(i)/rimN, 0.995)
		rimLUT[i] = float32(math.Exp(f.rim * (1 - math.Sqrt(1-t*t))))
	}
	ew := 1.6 + rd.blurRef // edge half-softness, reference pixels
	const haloReach = 40.0 // reference pixels around the finger that get its glow
	halo := f.haloAmp * kexp * f.transmit
	bright := (1 + 0.12*(rd.press-0.45)) * f.transmit
	texSeed := mix64(f.seed ^ 0x74657874)
	texSeed2 := mix64(texSeed)
	texAmp := f.texAmp
	// Blood filling varies from capture to capture and region to region
	// (temperature, pressure, vasomotion): it modulates vessel density.
	bloodSeed := mix64(f.seed ^ mix64(rd.c.Seed))
	bloodAmp := 0.12 + 0.25*(1-rd.c.Quality)
	// Look-up tables for the exponentials of the pixel loop.
	const boneN, haloN = 256, 256
	var boneLUT [boneN + 1]float32 // phalanx shade profile across, by |t|
	for i := range boneLUT {
		t := float64(i) / boneN
		boneLUT[i] = float32(f.boneAmp * math.Exp(-0.5*t*t/(f.boneWidth*f.boneWidth)))
	}
	var haloLUT [haloN + 1]float32 // glow by distance outside the edge
	for i := range haloLUT {
		haloLUT[i] = float32(halo * math.Exp(-float64(i)/haloN*haloReach/f.haloLen))
	}
	var fmask []uint8
	if truth != nil {
		fmask = truth.FingerMask.Pix
	}

	// Texture and blood filling are smooth (feature sizes of 14 px and
	// more): evaluate them on a grid of every texGrid-th pixel, in rolled
	// finger coordinates, and interpolate.
	const texGrid = 4
	gw, gh := (w-1)/texGrid+2, (h-1)/texGrid+2
	tex := rd.scratch.plane(4, 2*gw*gh)
	blood := tex[gw*gh:]
	for gy := range gh {
		for gx := range gw {
			u, v := rd.toFinger(gx*texGrid, gy*texGrid)
			hu := lookup(f.h, math.Max(u, 0))
			t := 0.0
			if hu > 1 {
				t = clamp(v/hu, -1, 1)
			}
			vs := float64(rollLUT[int((t+1)*0.5*rollN+0.5)]) * hu
			k := gy*gw + gx
			tex[k] = float32(texAmp * (0.09*float64(valueNoise(texSeed, u/50, vs/50)) +
				0.03*float64(valueNoise(texSeed2, u/14, vs/14))))
			blood[k] = float32(bloodAmp * float64(valueNoise(bloodSeed, u/70, vs/70)))
		}
	}
	grid := func(g []float32, px, py int) float64 {
		gx, gy := px/texGrid, py/texGrid
		fx := float32(px-gx*texGrid) * (1.0 / texGrid)
		fy := float32(py-gy*texGrid) * (1.0 / texGrid)
		k := gy*gw + gx
		top := g[k] + (g[k+1]-g[k])*fx
		bot := g[k+gw] + (g[k+gw+1]-g[k+gw])*fx
		return float64(top + (bot-top)*fy)
	}

	for py := range h {
		for px := range w {
			i := py*w + px
			u, v := rd.toFinger(px, py)
			av := math.Abs(v)
			// one interpolation position for all per-u tables
			ui, uf := 0, float32(0)
			if u > 0 {
				if u >= lutLen-1 {
					ui = lutLen - 2
					uf = 1
				} else {
					ui = int(u)
					uf = float32(u - float64(ui))
				}
			}
			at := func(t []float32) float64 { return float64(t[ui] + (t[ui+1]-t[ui])*uf) }
			hu := 0.0
			if u >= 0 {
				hu = at(f.h)
			}
			// rho: normalised radial position across the finger (0 on
			// the axis, 1 on the silhouette), with a super-ellipse cap
			// over the rounded tip; e: distance to the edge, positive
			// inside, in reference pixels.
			hb := at(f.hb)
			if av-hb >= haloReach || u < -haloReach {
				val[i] = bg[px]
				continue
			}
			rho := av / hb
			if u < f.tipR {
				a := (f.tipR - u) / f.tipR
				rho = table(f.tipRoot, tipRootMax,
					table(f.tipPow, tipPowMax, a)+table(f.tipPow, tipPowMax, rho))
			}
			e := (1 - rho) * hb
			if e <= -ew {
				// Light scattered out of the finger lights its
				// surroundings a little.
				k := int(math.Min(-(e+ew), haloReach) * (haloN / haloReach))
				val[i] = bg[px] + haloLUT[k]*float32(illum[px])
				continue
			}
			m := 1.0
			if e < ew {
				z := (e + ew) / (2 * ew)
				m = z * z * (3 - 2*z)
			}
			if fmask != nil && m >= 0.5 {
				fmask[i] = 255
			}
			t := 0.0
			if hu > 1 {
				t = clamp(v/hu, -1, 1)
			}
			n := grid(tex, px, py)
			// Across the finger the tissue is thinner towards the edges,
			// which therefore transmit more: a bright rim.
			cross := rimLUT[int(math.Min(rho, 1)*rimN+0.5)]
			jn := at(f.jnt) * (1 - 0.8*t*t)
			// The phalanges shade the middle of the finger between the
			// joints.
			bone := 1 - at(f.bone)*float64(boneLUT[int(math.Abs(t)*boneN+0.5)])
			tissue := bright * at(f.lum) * (1 + jn) * bone * float64(cross) * (1 + n)
			fing := kexp * illum[px] * tissue
			if d := float64(od[i]); d > 1e-4 {
				d *= 1 + grid(blood, px, py)
				if d < 0.25 {
					// Taylor series, error below 1e-5 here
					fing *= 1 - d*(1-d*(0.5-d*(1.0/6-d/24)))
				} else {
					fing *= math.Exp(-d)
				}
			}
			val[i] = float32(m*fing + (1-m)*float64(bg[px]))
		}
	}
	if truth != nil {
		for i, m := range fmask {
			if m == 0 {
				truth.VeinMask.Pix[i] = 0
			}
		}
		// keep only samples inside the finger
		k := 0
		for _, s := range truth.Veins {
			x, y := int(s.X+0.5), int(s.Y+0.5)
			if x >= 0 && y >= 0 && x < w && y < h && fmask[y*w+x] != 0 {
				truth.Veins[k] = s
				k++
			}
		}
		truth.Veins = truth.Veins[:k]
	}
}

// motionBlur averages src along a line of the given length (pixels) and
// angle into dst.
func motionBlur(src, dst []float32, w, h int, length, angle float64) {
	n := max(2, int(math.Ceil(length)))
	dx, dy := math.Cos(angle), math.Sin(angle)
	inv := 1 / float32(n)
	for i := range dst[:w*h] {
		dst[i] = 0
	}
	for k := range n {
		off := (float64(k)/float64(n-1) - 0.5) * length
		ox, oy := off*dx, off*dy
		ix, iy := int(math.Floor(ox)), int(math.Floor(oy))
		fx, fy := float32(ox-float64(ix)), float32(oy-float64(iy))
		w00, w10 := (1-fx)*(1-fy)*inv, fx*(1-fy)*inv
		w01, w11 := (1-fx)*fy*inv, fx*fy*inv
		for y := range h {
			y0, y1 := clampIdx(y+iy, h)*w, clampIdx(y+iy+1, h)*w
			out := dst[y*w : (y+1)*w]
			for x := range out {
				x0, x1 := clampIdx(x+ix, w), clampIdx(x+ix+1, w)
				out[x] += w00*src[y0+x0] + w10*src[y0+x1] + w01*src[y1+x0] + w11*src[y1+x1]
			}
		}
	}
}

// sense turns irradiance into 8-bit pixels: shot and read noise, a faint
// column fixed-pattern, saturation.
func (rd *renderer) sense(val []float32, r *rand.Rand) *image.Gray {
	w, h := rd.w, rd.h
	sp := 1 - rd.c.Quality
	read := 0.8 + 2.2*sp
	shot := 0.035 + 0.05*sp
	col := make([]float32, w)
	for x := range col {
		col[x] = 0.7 * hash2(0x73656e736f72, int64(x), 0) // "sensor": fixed per column
	}
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			i := y*w + x
			v := float64(val[i])
			sd := read
			if v > 0 {
				sd = math.Sqrt(read*read + shot*v)
			}
			v += r.NormFloat64()*sd + float64(col[x])
			img.Pix[y*img.Stride+x] = uint8(clamp(math.Round(v), 0, 255))
		}
	}
	return img
}
