package kiosk

import (
	"testing"

	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/matcher/extract"
	"github.com/qingshan-gov/veinkiosk/simulators/fingerimg"
)

// TestMatcherExtractorParamsHash checks that the kiosk's templates carry
// the params hash of the extraction pipeline (extract.Options.Params), the
// one `veinctl eval` records in calibration files and centrald checks.
func TestMatcherExtractorParamsHash(t *testing.T) {
	img := fingerimg.NewFinger(7).Capture(fingerimg.DefaultConditions())
	b, _, err := MatcherExtractor{}.Extract(&ScanImage{Width: img.Rect.Dx(), Height: img.Rect.Dy(), Pixels: img.Pix}, "right_index")
	if err != nil {
		t.Fatal(err)
	}
	tm, err := matcher.ParseTemplate(b)
	if err != nil {
		t.Fatal(err)
	}
	want := extract.DefaultOptions().Params(matcher.DefaultParams.ShiftRows, matcher.DefaultParams.ShiftCols).ParamsHash()
	if tm.ParamsHash != want {
		t.Errorf("kiosk template params hash %08x, the pipeline's %08x", tm.ParamsHash, want)
	}
}
