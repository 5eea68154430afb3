// Package extract turns a near-infrared finger image into a vein template:
// finger region, normalisation, contrast stretch, vein pattern extraction
// (Maximum Curvature), binarisation, a mask of valid finger pixels and a
// quality score. It is pure Go and does no I/O; docs/matcher.md describes
// the pipeline and why each parameter has its value.
package extract

import (
	"errors"
	"fmt"
	"image"
	"math"
	"slices"

	"github.com/qingshan-gov/veinkiosk/matcher"
)

// Errors returned by Extract.
var (
	// ErrImage reports an image that cannot be processed at all (nil,
	// too small or too large).
	ErrImage = errors.New("extract: unusable image")
	// ErrNoFinger reports an image in which no finger was found.
	ErrNoFinger = errors.New("extract: no finger found")
	// ErrOptions reports invalid options.
	ErrOptions = errors.New("extract: invalid options")
)

// Bounds on the input size.
const (
	MinImageSide = 32
	MaxImageSide = 8192
)

// Orientation tells where the finger axis runs in the input image.
type Orientation int

const (
	// Auto takes the finger axis from the image content (the direction of
	// its strongest edges, else the long side of the frame).
	Auto Orientation = iota
	// Horizontal: the finger runs left-right.
	Horizontal
	// Vertical: the finger runs top-bottom.
	Vertical
	// Any is Auto plus the direction along the axis from the content: the
	// image is turned half round when the fingertip is found on the left
	// (tipOnLeft), so a finger placed any of the four ways gives the same
	// template. Not the default: on the real sets the tip cues measured
	// wrong often enough to cost accuracy (docs/evaluation.md).
	Any
)

// ParseOrientation parses "auto", "any", "horizontal" or "vertical".
func ParseOrientation(s string) (Orientation, error) {
	switch s {
	case "auto", "":
		return Auto, nil
	case "horizontal", "h":
		return Horizontal, nil
	case "vertical", "v":
		return Vertical, nil
	case "any":
		return Any, nil
	}
	return Auto, fmt.Errorf("%w: orientation %q (want auto, any, horizontal or vertical)", ErrOptions, s)
}

func (o Orientation) String() string {
	switch o {
	case Horizontal:
		return "horizontal"
	case Vertical:
		return "vertical"
	case Any:
		return "any"
	}
	return "auto"
}

// Method selects the vein detector.
type Method int

const (
	// MethodMC is Maximum Curvature (Miura 2007).
	MethodMC Method = iota
	// MethodHessian is the positive principal curvature (largest Hessian
	// eigenvalue).
	MethodHessian
	// MethodDark marks pixels darker than their local mean.
	MethodDark
)

// ParseMethod parses "mc", "hessian" or "dark".
func ParseMethod(s string) (Method, error) {
	switch s {
	case "mc", "":
		return MethodMC, nil
	case "hessian":
		return MethodHessian, nil
	case "dark":
		return MethodDark, nil
	}
	return MethodMC, fmt.Errorf("%w: method %q (want mc, hessian or dark)", ErrOptions, s)
}

func (m Method) String() string {
	switch m {
	case MethodHessian:
		return "hessian"
	case MethodDark:
		return "dark"
	}
	return "mc"
}

// Options configure the pipeline. The zero value is not usable; start from
// DefaultOptions.
type Options struct {
	Orientation Orientation
	// Cropped says the image is already cropped to the finger (no
	// background): edge detection and rotation are skipped.
	Cropped bool
	// Width and Height are the template geometry in pixels (finger axis
	// along Width).
	Width, Height int
	// Scale is how many extraction pixels make one template pixel along
	// each axis: the vein pattern is extracted at Scale times the template
	// resolution and reduced afterwards.
	Scale int
	// Sigma is the scale of the vein detector's Gaussian, in extraction
	// pixels.
	Sigma float64
	// Sigma2, when positive, adds a second scale to the principal
	// curvature detector (for veins of mixed widths).
	Sigma2 float64
	// Fill is the fraction of the template height that the median finger
	// width spans (raw images).
	Fill float64
	// Isotropic, when positive, scales the finger along its axis like
	// across it (times Isotropic) and centres the template on the finger,
	// instead of fitting the whole frame length into the template width.
	Isotropic float64
	// TipAnchor, when positive (with Isotropic), places a visible
	// fingertip at this fraction of the template width instead of
	// centring the template on the finger: captures that show more or
	// less of the finger's base then still align at the tip. A finger
	// whose tip is not in the frame is centred as before.
	TipAnchor float64
	// EdgeMargin excludes pixels this close to a finger edge from the mask,
	// as a fraction of the finger width; the edges themselves are strong
	// curvature ridges that are not veins.
	EdgeMargin float64
	// WorkAcross is the size, across the finger axis, of the reduced image
	// on which the finger region is searched.
	WorkAcross int
	// Method is the vein detector.
	Method Method
	// Density, when positive, binarises so that this fraction of the mask
	// is vein; otherwise Miura's rule (above the median of the positive
	// responses) is used.
	Density float64
	// Flatten, when positive, is the sigma (extraction pixels) of the local
	// mean and deviation that the image is normalised by before the
	// curvature; FlattenClip is the number of deviations mapped to the
	// grey range.
	Flatten, FlattenClip float64
	// Debug, if not nil, receives an image of every stage.
	Debug func(stage string, img image.Image)
}

// DefaultOptions returns the measured defaults (docs/matcher.md).
func DefaultOptions() Options {
	return Options{
		Orientation: Auto,
		Width:       192,
		Height:      64,
		Scale:       2,
		Method:      MethodHessian,
		Sigma:       4,
		Density:     0.15,
		Fill:        0.92,
		Isotropic:   1.8,
		EdgeMargin:  0.06,
		WorkAcross:  160,
		Flatten:     6,
		FlattenClip: 2.5,
	}
}

func (o *Options) validate() error {
	switch {
	case o.Width < 16 || o.Height < 8 || o.Width > 1024 || o.Height > 512:
		return fmt.Errorf("%w: template %dx%d", ErrOptions, o.Width, o.Height)
	case o.Scale < 1 || o.Scale > 4:
		return fmt.Errorf("%w: scale %d", ErrOptions, o.Scale)
	case !(o.Sigma >= 0.5 && o.Sigma <= 20):
		return fmt.Errorf("%w: sigma %v", ErrOptions, o.Sigma)
	case !(o.Fill > 0.2 && o.Fill <= 1.5):
		return fmt.Errorf("%w: fill %v", ErrOptions, o.Fill)
	case !(o.EdgeMargin >= 0 && o.EdgeMargin < 0.4):
		return fmt.Errorf("%w: edge margin %v", ErrOptions, o.EdgeMargin)
	case !(o.Flatten >= 0 && o.Flatten <= 100) || !(o.FlattenClip > 0 && o.FlattenClip <= 10):
		return fmt.Errorf("%w: flatten %v clip %v", ErrOptions, o.Flatten, o.FlattenClip)
	case !(o.Sigma2 == 0 || (o.Sigma2 >= 0.5 && o.Sigma2 <= 20)):
		return fmt.Errorf("%w: sigma2 %v", ErrOptions, o.Sigma2)
	case !(o.Isotropic >= 0 && o.Isotropic <= 10):
		return fmt.Errorf("%w: isotropic %v", ErrOptions, o.Isotropic)
	case !(o.TipAnchor >= 0 && o.TipAnchor < 1):
		return fmt.Errorf("%w: tip anchor %v", ErrOptions, o.TipAnchor)
	case !(o.Density >= 0 && o.Density < 1):
		return fmt.Errorf("%w: density %v", ErrOptions, o.Density)
	case o.WorkAcross < 32 || o.WorkAcross > 2048:
		return fmt.Errorf("%w: work size %d", ErrOptions, o.WorkAcross)
	}
	return nil
}

// Result is an extracted vein pattern.
type Result struct {
	// Vein has 1 on vein pixels; it is already ANDed with Mask.
	Vein *matcher.Pattern
	// Mask has 1 on valid finger pixels.
	Mask *matcher.Pattern
	// Quality is the 0-100 capture quality; Metrics are its inputs.
	Quality int
	Metrics Metrics
	// Region is the finger region found in the working image.
	Region *Region
	// Turns is how many quarter turns counter-clockwise the input was
	// turned by to bring the finger along x, tip on the right; TipCue
	// says what decided the direction: "frame" (one end of the finger
	// leaves the frame), "taper" (the narrower end) or "" (undecided:
	// the input's direction was kept).
	Turns  int
	TipCue string
}

// Extract runs the whole pipeline on img.
func Extract(img image.Image, opt Options) (*Result, error) {
	if err := opt.validate(); err != nil {
		return nil, err
	}
	g, err := FromImage(img)
	if err != nil {
		return nil, err
	}
	return ExtractGray(g, opt)
}

// ExtractGray is Extract on an already converted image.
func ExtractGray(g *Gray, opt Options) (*Result, error) {
	if err := opt.validate(); err != nil {
		return nil, err
	}
	if g == nil || g.W < MinImageSide || g.H < MinImageSide || len(g.Pix) != g.W*g.H {
		return nil, fmt.Errorf("%w: bad gray image", ErrImage)
	}
	debug := func(stage string, g *Gray, lo, hi float32) {
		if opt.Debug != nil {
			opt.Debug(stage, g.Image(lo, hi))
		}
	}
	debug("0-input", g, 0, 255)

	// 1. Placement: the finger's axis turned along x and the image cropped
	// to the finger when it lies in a larger dark frame (place.go).
	var pl placement
	if opt.Cropped {
		pl = placement{x1: g.W, y1: g.H}
		if opt.Orientation == Vertical || (opt.Orientation == Auto && g.H > g.W) {
			pl.turns, pl.x1, pl.y1 = 3, g.H, g.W
		}
	} else {
		pl = locate(g, opt.Orientation)
	}
	fw, fh := g.W, g.H
	if pl.turns&1 == 1 {
		fw, fh = g.H, g.W
	}
	g = crop(rotate(g, pl.turns), pl.x0, pl.y0, pl.x1, pl.y1)
	if g.W < MinImageSide/2 || g.H < MinImageSide/2 {
		return nil, fmt.Errorf("%w: finger of %dx%d pixels", ErrNoFinger, g.W, g.H)
	}
	// 2-3. Working image and finger region; when the tip turns out to be
	// on the left, everything is turned half round and traced again.
	wk, r, err := trace(g, opt)
	if err != nil {
		return nil, err
	}
	if !opt.Cropped && opt.Orientation == Any {
		left, cue := tipOnLeft(wk, r, pl.x0 == 0, pl.x1 == fw)
		pl.tipCue = cue
		if left {
			g = rotate(g, 2)
			pl.turns = (pl.turns + 2) & 3
			pl.x0, pl.x1 = fw-pl.x1, fw-pl.x0
			pl.y0, pl.y1 = fh-pl.y1, fh-pl.y0
			if wk, r, err = trace(g, opt); err != nil {
				return nil, err
			}
		}
	}
	debug("1-work", wk, 0, 255)
	if opt.Debug != nil {
		opt.Debug("2-edges", drawRegion(wk, r))
	}

	// 4. Normalisation into the extraction geometry.
	ew, eh := opt.Width*opt.Scale, opt.Height*opt.Scale
	fill := opt.Fill
	if opt.Cropped {
		fill = 1
	}
	// The whole input frame in working coordinates, for the coverage.
	kx, ky := float64(wk.W)/float64(g.W), float64(wk.H)/float64(g.H)
	frame := [4]float64{-float64(pl.x0)*kx - 0.5, -float64(pl.y0)*ky - 0.5, float64(fw-pl.x0)*kx - 0.5, float64(fh-pl.y0)*ky - 0.5}
	norm, emask, efull, inFrame := normalize(wk, r, ew, eh, fill, opt.EdgeMargin*r.Width, opt.Isotropic, tipAnchor(r, wk.W, opt.TipAnchor), frame)
	debug("3-normalized", norm, 0, 255)

	// 5. Contrast: stretch the finger's grey levels to [0, 1], or
	// equalise local contrast.
	bright, sat := brightness(norm, emask)
	localSD := localDeviation(norm, efull, QualitySigma)
	if opt.Flatten > 0 {
		flatten(norm, efull, opt.Flatten, opt.FlattenClip)
	} else {
		contrastStretch(norm, efull)
	}
	debug("4-enhanced", norm, 0, 1)

	// 6. Vein pattern.
	var gm *Gray
	switch opt.Method {
	case MethodHessian:
		gm = principalCurvature(norm, efull, opt.Sigma)
		if opt.Sigma2 > 0 {
			// Scale-normalised maximum over two scales (Lindeberg):
			// sigma^2 times the curvature.
			g2 := principalCurvature(norm, efull, opt.Sigma2)
			k1, k2 := float32(opt.Sigma*opt.Sigma), float32(opt.Sigma2*opt.Sigma2)
			for i, v := range g2.Pix {
				gm.Pix[i] = max(gm.Pix[i]*k1, v*k2)
			}
		}
	case MethodDark:
		gm = darkness(norm, efull, opt.Sigma)
	default:
		gm = maximumCurvature(norm, efull, opt.Sigma)
	}
	debug("5-veins", gm, 0, 0)

	// 7. Reduction to the template geometry and binarisation.
	vein, mask, resp := reduce(gm, emask, opt.Scale, opt.Width, opt.Height, opt.Density)
	debug("6-response", resp, 0, 0)
	if opt.Debug != nil {
		opt.Debug("7-mask", patternImage(mask))
		opt.Debug("8-vein", patternImage(vein))
	}
	res := &Result{Vein: vein, Mask: mask, Region: r, Turns: pl.turns, TipCue: pl.tipCue}
	res.Metrics = measure(norm, emask, gm, vein, mask, r, inFrame, opt.Cropped)
	res.Metrics.Brightness, res.Metrics.Saturated, res.Metrics.LocalContrast = bright, sat, localSD
	res.Quality = res.Metrics.Score()
	return res, nil
}

// trace makes the working image of g (finger axis along x), reduced so
// that the side across the finger is WorkAcross pixels (never enlarged),
// and finds the finger region and midline in it.
func trace(g *Gray, opt Options) (*Gray, *Region, error) {
	s := min(1, float64(opt.WorkAcross)/float64(g.H))
	wk := resizeArea(g, max(MinImageSide/2, int(math.Round(float64(g.W)*s))), max(MinImageSide/2, int(math.Round(float64(g.H)*s))))
	if lo, hi := spread(wk); hi-lo < MinContrast {
		return nil, nil, fmt.Errorf("%w: grey levels span only %.0f (blank or saturated image)", ErrNoFinger, hi-lo)
	}
	if opt.Cropped {
		return wk, croppedRegion(wk.W, wk.H), nil
	}
	r, err := leeEdges(wk, 4, 3, opt.Orientation == Any)
	if err != nil {
		return nil, nil, err
	}
	if r.Width < 0.2*float64(wk.H) {
		return nil, nil, fmt.Errorf("%w: finger width %.0f of %d rows", ErrNoFinger, r.Width, wk.H)
	}
	if l := float64(r.Right - r.Left); l < 0.2*float64(wk.W) {
		return nil, nil, fmt.Errorf("%w: finger length %.0f of %d columns", ErrNoFinger, l, wk.W)
	}
	return wk, r, nil
}

// tipAnchor returns where the fingertip goes in the template (a fraction of
// its width), or 0 to centre the finger: the tip is visible when the
// finger stops inside the working image (TipAnchor set, not cropped).
func tipAnchor(r *Region, w int, anchor float64) float64 {
	if anchor <= 0 || r.Right >= float32(w-1)-float32(0.02*float64(w)) {
		return 0
	}
	return anchor
}

// brightness returns the mean grey level of the masked pixels and the
// fraction of them that are saturated (>= 250).
func brightness(g *Gray, mask []bool) (mean, saturated float64) {
	n := 0
	for i, ok := range mask {
		if ok {
			v := g.Pix[i]
			mean += float64(v)
			if v >= 250 {
				saturated++
			}
			n++
		}
	}
	if n == 0 {
		return 0, 0
	}
	return mean / float64(n), saturated / float64(n)
}

// MinContrast is the least spread between the 2nd and 98th percentile grey
// levels of an image that can hold a finger.
const MinContrast = 12

// spread returns the 2nd and 98th percentile of g's values.
func spread(g *Gray) (lo, hi float32) {
	var hist [256]int
	for _, v := range g.Pix {
		hist[int(max(0, min(255, v)))]++
	}
	n := len(g.Pix)
	acc := 0
	lo, hi = -1, 255
	for i, c := range hist {
		acc += c
		if lo < 0 && acc*50 >= n {
			lo = float32(i)
		}
		if acc*50 >= n*49 {
			hi = float32(i)
			break
		}
	}
	return lo, hi
}

// contrastStretch maps the 1st..99th percentile of the masked pixels of g to
// [0, 1], clamping. Pixels outside the mask are set to the mean.
func contrastStretch(g *Gray, mask []bool) {
	vals := make([]float32, 0, len(g.Pix))
	for i, v := range g.Pix {
		if mask[i] {
			vals = append(vals, v)
		}
	}
	if len(vals) < 16 {
		clear(g.Pix)
		return
	}
	slices.Sort(vals)
	lo, hi := vals[len(vals)/100], vals[len(vals)-1-len(vals)/100]
	if hi <= lo {
		hi = lo + 1
	}
	k := 1 / (hi - lo)
	for i, v := range g.Pix {
		g.Pix[i] = max(0, min(1, (v-lo)*k))
	}
}

// reduce averages the curvature response over scale x scale blocks into the
// template geometry, keeps as mask the blocks that lie wholly inside the
// finger, and marks as vein the masked pixels whose response exceeds the
// median of the positive responses (Miura's threshold).
func reduce(gm *Gray, emask []bool, scale, w, h int, density float64) (vein, mask *matcher.Pattern, resp *Gray) {
	resp = NewGray(w, h)
	mb := make([]bool, w*h)
	inv := 1 / float32(scale*scale)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var s float32
			all := true
			for j := 0; j < scale; j++ {
				row := (y*scale + j) * gm.W
				for i := 0; i < scale; i++ {
					s += gm.Pix[row+x*scale+i]
					all = all && emask[row+x*scale+i]
				}
			}
			resp.Pix[y*w+x] = s * inv
			mb[y*w+x] = all
		}
	}
	var thr float32
	if density > 0 {
		thr = quantile(resp, mb, 1-density)
	} else {
		thr = medianPositive(resp, mb)
	}
	vein, mask = matcher.NewPattern(w, h), matcher.NewPattern(w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := y*w + x
			if mb[i] {
				mask.Set(x, y, true)
				if thr > 0 && resp.Pix[i] > thr {
					vein.Set(x, y, true)
				}
			}
		}
	}
	return vein, mask, resp
}
