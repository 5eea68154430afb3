package extract

import (
	"fmt"
	"strconv"

	"github.com/qingshan-gov/veinkiosk/matcher"
)

// Describe returns the canonical description of the settings that shape a
// template, for matcher.Params.Extraction: templates extracted with
// different settings get different ParamsHash values and are never
// compared. The leading "extract/N" is the version of the pipeline. It
// stays 1 with placement from content (issue 12): templates of horizontal
// captures that fill the frame (the simulator's, FV-USM's) are unchanged,
// so the shipped calibrations stay valid; vertical captures are now turned
// instead of transposed (their templates are mirrored), so a gallery of
// vertical-scanner templates must be re-extracted. Orientation is left out (it only says how to find the axis)
// and so is Debug.
func (o Options) Describe() string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	return fmt.Sprintf("extract/1 %s sigma=%s,%s density=%s scale=%d fill=%s iso=%s%s margin=%s flatten=%s/%s work=%d cropped=%t",
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
