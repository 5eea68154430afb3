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
// axes) with the EER point and the FMR 1e-2 / 1e-3 operating points, and
// saves it as a PNG.
func WriteDET(name string, sc Scores, s Summary) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("DET: %d genuine, %d impostor comparisons, EER %.2f %%", len(sc.Genuine), len(sc.Impostor), s.EER*100)
	p.X.Label.Text = "False match rate FMR (%)"
	p.Y.Label.Text = "False non-match rate FNMR (%)"
	// Axis limits: the smallest measurable rates.
	minF := 0.5 / math.Max(1, float64(len(sc.Impostor)))
	minN := 0.5 / math.Max(1, float64(len(sc.Genuine)))
	p.X.Min, p.X.Max = math.Min(minF, 1e-3), 0.9
	p.Y.Min, p.Y.Max = math.Min(minN, 1e-3), 0.9
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Scale = probitScale{}
		a.Tick.Marker = probitTicks{}
	}
	p.Add(plotter.NewGrid())
	clip := func(v, lo float64) float64 { return math.Min(math.Max(v, lo), 0.9) }
	var pts plotter.XYs
	for _, op := range sc.DET() {
		pts = append(pts, plotter.XY{X: clip(op.FMR, p.X.Min), Y: clip(op.FNMR, p.Y.Min)})
	}
	line, err := plotter.NewLine(pts)
	if err != nil {
		return err
	}
	line.Color = color.RGBA{B: 200, A: 255}
	line.Width = vg.Points(1.5)
	p.Add(line)
	p.Legend.Add("matcher", line)

	diag, err := plotter.NewLine(plotter.XYs{{X: 1e-6, Y: 1e-6}, {X: 0.9, Y: 0.9}})
	if err == nil {
		diag.Color = color.Gray{Y: 160}
		diag.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
		p.Add(diag)
	}
	if !math.IsNaN(s.EER) {
		e := clip(s.EER, math.Max(p.X.Min, p.Y.Min))
		sct, err := plotter.NewScatter(plotter.XYs{{X: e, Y: e}})
		if err == nil {
			sct.GlyphStyle.Color = color.RGBA{R: 220, A: 255}
			sct.GlyphStyle.Radius = vg.Points(4)
			sct.GlyphStyle.Shape = draw.CircleGlyph{}
			p.Add(sct)
			p.Legend.Add(fmt.Sprintf("EER %.2f %%", s.EER*100), sct)
		}
	}
	for _, t := range []struct {
		fmr  float64
		fnmr float64
		c    color.Color
	}{{1e-2, s.FNMRAtFMR1e2, color.RGBA{G: 150, A: 255}}, {1e-3, s.FNMRAtFMR1e3, color.RGBA{R: 200, G: 120, A: 255}}} {
		if math.IsNaN(t.fnmr) || t.fmr < p.X.Min {
			continue
		}
		sct, err := plotter.NewScatter(plotter.XYs{{X: t.fmr, Y: clip(t.fnmr, p.Y.Min)}})
		if err != nil {
			continue
		}
		sct.GlyphStyle.Color = t.c
		sct.GlyphStyle.Radius = vg.Points(3.5)
		sct.GlyphStyle.Shape = draw.BoxGlyph{}
		p.Add(sct)
		p.Legend.Add(fmt.Sprintf("FMR %g: FNMR %.2f %%", t.fmr, t.fnmr*100), sct)
	}
	p.Legend.Top = true
	return p.Save(6*vg.Inch, 6*vg.Inch, name)
}
