package api

import (
	"context"
	"errors"
	"fmt"
	"image"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan/wire"
	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/matcher/extract"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
)

// Server-side extraction (docs/scanner-protocol.md, "Who extracts the
// template"): the kiosk sends the image its scanner attested, the server
// checks the image against the attested digest and extracts the template
// itself, with the extraction pipeline of the calibration in force for the
// scanner's model. A template is only ever tied to a device signature
// through the image it came from.

// pipeline is one extraction the server can run: the options and the
// matcher parameters (whose hash names the pipeline in calibrations).
type pipeline struct {
	opt    extract.Options
	params matcher.Params
	hash   string // params.ParamsHash() as calibrations write it (%08x)
}

// extractor runs the server's extractions: it knows the pipelines, picks
// one per scanner model and bounds how many run at once.
type extractor struct {
	pipelines []pipeline // [0] is the pipeline of fixed thresholds (no calibrations)
	slots     chan struct{}
	took      prometheus.Histogram
	waited    prometheus.Histogram
	failures  *prometheus.CounterVec
}

// newExtractor builds the extractor of cfg (after withDefaults).
func newExtractor(cfg *Config, m *metrics) (*extractor, error) {
	x := &extractor{slots: make(chan struct{}, cfg.ExtractConcurrency)}
	for i, o := range cfg.Pipelines {
		p := o.Params(matcher.DefaultParams.ShiftRows, matcher.DefaultParams.ShiftCols)
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("api: extraction pipeline %d: %w", i, err)
		}
		o.Debug = nil
		x.pipelines = append(x.pipelines, pipeline{opt: o, params: p, hash: fmt.Sprintf("%08x", p.ParamsHash())})
	}
	x.took = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "veinkiosk", Name: "extraction_duration_seconds",
		Help:    "Server-side template extraction from an attested capture image (wall time of one extraction, not counting the wait for a slot).",
		Buckets: []float64{.002, .005, .0075, .01, .0125, .015, .02, .025, .03, .04, .05, .075, .1, .25, .5, 1},
	})
	x.waited = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "veinkiosk", Name: "extraction_wait_seconds",
		Help:    "Time a capture waited for one of the bounded extraction slots.",
		Buckets: []float64{.0001, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	})
	x.failures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "veinkiosk", Name: "extraction_refusals_total",
		Help: "Attested images refused at extraction, by reason (image_invalid, image_unusable, template_mismatch, quality_too_low).",
	}, []string{"reason"})
	m.reg.MustRegister(x.took, x.waited, x.failures)
	return x, nil
}

// defaultExtractConcurrency is one extraction per core: extraction is pure
// CPU, so more at once only lengthens each.
func defaultExtractConcurrency() int { return runtime.GOMAXPROCS(0) }

// pipelineFor returns the pipeline of the calibration in force for a
// scanner model (the first pipeline when the server runs on fixed
// thresholds). A model without a calibration, or whose calibration was
// made for a pipeline this server cannot run, is errUncalibrated.
func (s *Server) pipelineFor(model string) (*pipeline, error) {
	ps := s.extractor.pipelines
	if s.cfg.Calibrations == nil {
		return &ps[0], nil
	}
	th, err := s.cfg.Calibrations.Model(model)
	if err != nil {
		return nil, stepErr(stepCapture, errUncalibrated, "no score calibration for scanner model %q: %v", model, err)
	}
	for i := range ps {
		if ps[i].hash == th.ParamsHash {
			return &ps[i], nil
		}
	}
	return nil, stepErr(stepCapture, errUncalibrated, "the calibration of scanner model %q (%s) is for extraction pipeline %s, which this server does not run", model, th.Calibration, th.ParamsHash)
}

// decodeImage checks an attested capture image as the kiosk sent it and
// wraps it without copying: present, both sides within what a scanner may
// send (wire.MinImageSide..wire.MaxImageSide, and no smaller than the
// extraction needs), at most apiv1.MaxImagePixels, and exactly width x
// height bytes. Every failure is errImageInvalid with a plain reason.
func decodeImage(im *apiv1.Image) (*image.Gray, error) {
	if im == nil {
		return nil, stepErr(stepCapture, errImageInvalid, "image missing: the server extracts the template from the attested image, so every capture carries it")
	}
	minSide := max(wire.MinImageSide, extract.MinImageSide)
	switch {
	case im.Width < minSide || im.Height < minSide || im.Width > wire.MaxImageSide || im.Height > wire.MaxImageSide:
		return nil, stepErr(stepCapture, errImageInvalid, "image of %dx%d pixels: each side must be %d..%d", im.Width, im.Height, minSide, wire.MaxImageSide)
	case im.Width*im.Height > apiv1.MaxImagePixels:
		return nil, stepErr(stepCapture, errImageInvalid, "image of %dx%d pixels: more than %d pixels", im.Width, im.Height, apiv1.MaxImagePixels)
	case len(im.Pixels) != im.Width*im.Height:
		return nil, stepErr(stepCapture, errImageInvalid, "image of %dx%d pixels carries %d bytes, not %d (8-bit grey, row-major, no padding)", im.Width, im.Height, len(im.Pixels), im.Width*im.Height)
	}
	return &image.Gray{Pix: im.Pixels, Stride: im.Width, Rect: image.Rect(0, 0, im.Width, im.Height)}, nil
}

// extract runs pipeline p on img in one of the bounded slots and returns
// the template of finger (ISO/IEC 19794 position). An image in which the
// pipeline finds no finger is errImageUnusable.
func (x *extractor) extract(ctx context.Context, p *pipeline, img *image.Gray, finger int) (*matcher.Template, error) {
	t0 := time.Now()
	select {
	case x.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	t1 := time.Now()
	x.waited.Observe(t1.Sub(t0).Seconds())
	res, err := extract.Extract(img, p.opt)
	x.took.Observe(time.Since(t1).Seconds())
	<-x.slots
	switch {
	case errors.Is(err, extract.ErrImage) || errors.Is(err, extract.ErrNoFinger):
		x.failures.WithLabelValues(apiv1.CodeImageUnusable).Inc()
		return nil, stepErr(stepCapture, errImageUnusable, "the attested image yields no template: %v", err)
	case err != nil:
		return nil, err
	}
	return res.Template(p.params, uint8(finger))
}
