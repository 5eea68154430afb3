package extract

import (
	"fmt"
	"strconv"

	"github.com/qingshan-gov/veinkiosk/matcher"
)

// Describe returns the canonical description of the settings that shape a
// template, for matcher.Params.Extraction: templates extracted with
// different settings get different ParamsHash values and are never
// compared. The leading "extract/N" is the version of the pipeline
// (2: placement from content, quarter turns instead of transposition, a
// finger alone in a larger frame cropped to itself). Templates of
// horizontal captures that fill the frame are unchanged by version 2, but
// vertical captures are now turned instead of transposed (mirrored), so the
// version says which pipeline made a template and which calibration
// applies. Orientation is left out (it only says how to find the axis)
// and so is Debug.
func (o Options) Describe() string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	return fmt.Sprintf("extract/2 %s sigma=%s,%s density=%s scale=%d fill=%s iso=%s%s margin=%s flatten=%s/%s work=%d cropped=%t",
		o.Method, f(o.Sigma), f(o.Sigma2), f(o.Density), o.Scale, f(o.Fill), f(o.Isotropic), tipDesc(o.TipAnchor), f(o.EdgeMargin), f(o.Flatten), f(o.FlattenClip), o.WorkAcross, o.Cropped)
}

// Params returns the matcher parameters for templates made with o and
// compared with the given alignment search.
func (o Options) Params(shiftRows, shiftCols int) matcher.Params {
	return matcher.Params{Width: o.Width, Height: o.Height, ShiftRows: shiftRows, ShiftCols: shiftCols, Extraction: o.Describe()}
}

// Template wraps the result as a matcher template made with p (from
// Options.Params). finger is the ISO/IEC 19794 finger position (0 unknown).
func (r *Result) Template(p matcher.Params, finger uint8) (*matcher.Template, error) {
	return matcher.NewTemplate(p, r.Vein, r.Mask, uint8(max(0, min(100, r.Quality))), finger)
}

func tipDesc(a float64) string {
	if a <= 0 {
		return ""
	}
	return " tip=" + strconv.FormatFloat(a, 'g', -1, 64)
}
