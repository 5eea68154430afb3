package eval

import (
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// probit is the inverse of the standard normal distribution function.
func probit(p float64) float64 { return math.Sqrt2 * math.Erfinv(2*p-1) }

// probitScale is a plot.Normalizer for error rates on a normal deviate
// axis, the DET convention (Martin et al. 1997): a pair of Gaussian score
// distributions plots as a straight line.
type probitScale struct{}

func (probitScale) Normalize(lo, hi, x float64) float64 {
	a, b := probit(lo), probit(hi)
	return (probit(x) - a) / (b - a)
}

// probitTicks labels the usual DET rates, in percent.
type probitTicks struct{}

func (probitTicks) Ticks(lo, hi float64) []plot.Tick {
	major := []float64{1e-5, 1e-4, 1e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9}
	var out []plot.Tick
	for _, v := range major {
		if v >= lo*(1-1e-9) && v <= hi*(1+1e-9) {
			out = append(out, plot.Tick{Value: v, Label: strconv.FormatFloat(v*100, 'g', -1, 64)})
		}
	}
	return out
}

// WriteDET draws the DET curve (FNMR against FMR, both in percent on probit
// axes) with the EER point and the measured operating points of the
// calibration table, and saves it as a PNG. The FMR axis ends at
// 1/impostors, the smallest non-zero FMR the data can show: points where
// the measured FMR (or FNMR) is 0 are not drawn, rather than drawn at the
// axis floor as if measured there. Each square sits at the FMR measured at
// its threshold, not at the nominal target.
func WriteDET(name string, sc Scores, s Summary) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("DET: %d genuine (+%d lost to FTE), %d impostor comparisons, EER %.2f %%", len(sc.Genuine), sc.GenuineFailed, len(sc.Impostor), s.EER*100)
	p.X.Label.Text = "False match rate FMR (%)"
	p.Y.Label.Text = "False non-match rate FNMR (%)"
	minF := 1 / math.Max(1, float64(len(sc.Impostor)))
	minN := 1 / math.Max(1, float64(len(sc.Genuine)+sc.GenuineFailed))
	p.X.Min, p.X.Max = minF, 0.9
	p.Y.Min, p.Y.Max = math.Min(minN, 1e-3), 0.9
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Scale = probitScale{}
		a.Tick.Marker = probitTicks{}
	}
	p.Add(plotter.NewGrid())
	inside := func(fmr, fnmr float64) bool {
		return fmr >= p.X.Min && fmr <= p.X.Max && fnmr >= p.Y.Min && fnmr <= p.Y.Max
	}
	var pts plotter.XYs
	var last plotter.XY
	for _, op := range sc.DET() {
		if op.FMR > 0 && op.FNMR > 0 && inside(op.FMR, op.FNMR) {
			// Thin to steps visible on the plot (millions of impostor
			// scores would make millions of points).
			pt := plotter.XY{X: op.FMR, Y: op.FNMR}
			if len(pts) > 0 && math.Abs(probit(pt.X)-probit(last.X)) < 0.002 && math.Abs(probit(pt.Y)-probit(last.Y)) < 0.002 {
				continue
			}
			pts = append(pts, pt)
			last = pt
		}
	}
	if len(pts) > 0 {
		line, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		line.Color = color.RGBA{B: 200, A: 255}
		line.Width = vg.Points(1.5)
		p.Add(line)
		p.Legend.Add("matcher", line)
	}

	diag, err := plotter.NewLine(plotter.XYs{{X: minF, Y: minF}, {X: 0.9, Y: 0.9}})
	if err == nil {
		diag.Color = color.Gray{Y: 160}
		diag.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
		p.Add(diag)
	}
	if s.EER > 0 && inside(s.EER, s.EER) {
		sct, err := plotter.NewScatter(plotter.XYs{{X: s.EER, Y: s.EER}})
		if err == nil {
			sct.GlyphStyle.Color = color.RGBA{R: 220, A: 255}
			sct.GlyphStyle.Radius = vg.Points(4)
			sct.GlyphStyle.Shape = draw.CircleGlyph{}
			p.Add(sct)
			p.Legend.Add(fmt.Sprintf("EER %.2f %%", s.EER*100), sct)
		}
	}
	for _, c := range s.Calibration {
		if !(c.FMR > 0 && c.FNMR > 0) || !inside(c.FMR, c.FNMR) {
			continue
		}
		sct, err := plotter.NewScatter(plotter.XYs{{X: c.FMR, Y: c.FNMR}})
		if err != nil {
			continue
		}
		sct.GlyphStyle.Color = color.RGBA{G: 150, A: 255}
		if !c.Resolved {
			sct.GlyphStyle.Color = color.RGBA{R: 200, G: 120, A: 255}
		}
		sct.GlyphStyle.Radius = vg.Points(3.5)
		sct.GlyphStyle.Shape = draw.BoxGlyph{}
		p.Add(sct)
		res := ""
		if !c.Resolved {
			res = ", unresolved"
		}
		p.Legend.Add(fmt.Sprintf("at %.4f: FMR %.2g (%d), FNMR %.2f %%%s", c.Threshold, c.FMR, c.ImpostorErrors, c.FNMR*100, res), sct)
	}
	p.Legend.Top = true
	return p.Save(6*vg.Inch, 6*vg.Inch, name)
}
