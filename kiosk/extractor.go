package kiosk

import (
	"fmt"
	"image"

	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/matcher/extract"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
)

// MatcherExtractor extracts templates with matcher/extract in the
// matcher's default parameters (what the server compares).
type MatcherExtractor struct {
	Options extract.Options // zero: extract.DefaultOptions()
}

// Extract implements Extractor. finger is an apiv1 finger name, or "" for
// a verification probe (finger position 0: any enrolled finger).
func (m MatcherExtractor) Extract(img *ScanImage, finger string) ([]byte, int, error) {
	opt := m.Options
	if opt.Width == 0 {
		opt = extract.DefaultOptions()
	}
	if img.Width*img.Height != len(img.Pixels) || img.Width <= 0 {
		return nil, 0, fmt.Errorf("kiosk: image of %d bytes is not %dx%d", len(img.Pixels), img.Width, img.Height)
	}
	g := &image.Gray{Pix: img.Pixels, Stride: img.Width, Rect: image.Rect(0, 0, img.Width, img.Height)}
	res, err := extract.Extract(g, opt)
	if err != nil {
		return nil, 0, err
	}
	// The params name the extraction too (Options.Params), so that the
	// template's params hash is the pipeline's, as calibrations made with
	// veinctl eval record it and the server checks it.
	params := opt.Params(matcher.DefaultParams.ShiftRows, matcher.DefaultParams.ShiftCols)
	params.Width, params.Height = res.Vein.W, res.Vein.H
	t, err := matcher.NewTemplate(params, res.Vein, res.Mask, uint8(res.Quality), uint8(apiv1.Finger(finger).Position()))
	if err != nil {
		return nil, 0, err
	}
	b, err := t.MarshalBinary()
	return b, res.Quality, err
}
