package api

import (
	"errors"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/matcher/calib"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
)

// fixedCalibration names the thresholds of Config when it has no
// Calibrations.
const fixedCalibration = "fixed thresholds (api.Config)"

// thresholds returns the thresholds for a template captured by a scanner
// of model ("" for a template without a device, as in bulk enrolment: the
// calibrations of its pipeline combined, see calib.Registry.ForPipeline).
// A model or pipeline without a calibration is a compare-step error
// (errUncalibrated: scanner_uncalibrated); callers answer through apiErr.
func (s *Server) thresholds(model string, t *matcher.Template) (calib.Thresholds, error) {
	reg := s.cfg.Calibrations
	if reg == nil {
		th := calib.Thresholds{ScannerModel: model, Calibration: fixedCalibration}
		th.Verify.Threshold, th.Dedup.Threshold, th.Identify.Threshold = s.cfg.VerifyThreshold, s.cfg.DedupThreshold, s.cfg.IdentifyThreshold
		return th, nil
	}
	var th calib.Thresholds
	var err error
	if model == "" {
		th, err = reg.ForPipeline(t.ParamsHash)
	} else {
		th, err = reg.For(model, t.ParamsHash)
	}
	if errors.Is(err, calib.ErrUncalibrated) || errors.Is(err, calib.ErrPipeline) {
		return th, stepErr(stepCompare, errUncalibrated, "no score calibration for this capture: %v", err)
	}
	return th, err
}

// calibrationsInForce lists the calibrations for the admin API and the
// metrics.
func (s *Server) calibrationsInForce() []calib.Thresholds {
	if s.cfg.Calibrations == nil {
		th, _ := s.thresholds("*", nil)
		return []calib.Thresholds{th}
	}
	return s.cfg.Calibrations.InForce()
}

// calibrationOf names the calibration in force for a scanner model.
func (s *Server) calibrationOf(model string) string {
	if s.cfg.Calibrations == nil {
		return fixedCalibration
	}
	th, err := s.cfg.Calibrations.Model(model)
	if err != nil {
		return "none: captures refused (" + err.Error() + ")"
	}
	if th.Fallback {
		return "fallback " + th.Calibration
	}
	return th.Calibration
}

func (s *Server) handleListCalibrations(c *fiber.Ctx) error {
	out := apiv1.CalibrationList{Calibrations: []apiv1.Calibration{}}
	conv := func(t calib.Threshold) apiv1.CalibrationThreshold {
		return apiv1.CalibrationThreshold{TargetFMR: t.TargetFMR, Threshold: t.Threshold, InForceFMR: t.InForceFMR, Mapped: t.Mapped}
	}
	for _, th := range s.calibrationsInForce() {
		out.Calibrations = append(out.Calibrations, apiv1.Calibration{
			ScannerModel: th.ScannerModel, Calibration: th.Calibration, Source: th.Source, Fallback: th.Fallback, Synthetic: th.Synthetic,
			ParamsHash: th.ParamsHash, Verify: conv(th.Verify), Dedup: conv(th.Dedup), Identify: conv(th.Identify),
		})
	}
	return c.JSON(out)
}

// registerCalibrations exports the calibrations in force: an info gauge
// per model (1, with the calibration's name, source, synthetic, fallback
// and params hash as labels) and the threshold and in-force FMR of each use.
func (m *metrics) registerCalibrations(ths []calib.Thresholds) {
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "veinkiosk", Name: "calibration_info",
		Help: "The score calibration in force per scanner model (\"*\": the fallback for uncalibrated models); always 1.",
	}, []string{"model", "calibration", "source", "synthetic", "fallback", "params_hash"})
	thr := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "veinkiosk", Name: "calibration_threshold",
		Help: "Score threshold in force per scanner model and use (verify: per comparison).",
	}, []string{"model", "use", "mapped"})
	fmr := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "veinkiosk", Name: "calibration_fmr",
		Help: "Per-comparison false match rate the threshold in force is calibrated at (above the target when mapped).",
	}, []string{"model", "use"})
	b := func(v bool) string {
		if v {
			return "true"
		}
		return "false"
	}
	for _, th := range ths {
		info.WithLabelValues(th.ScannerModel, th.Calibration, th.Source, b(th.Synthetic), b(th.Fallback), th.ParamsHash).Set(1)
		for use, t := range map[string]calib.Threshold{"verify": th.Verify, "dedup": th.Dedup, "identify": th.Identify} {
			thr.WithLabelValues(th.ScannerModel, use, b(t.Mapped)).Set(t.Threshold)
			fmr.WithLabelValues(th.ScannerModel, use).Set(t.InForceFMR)
		}
	}
	m.reg.MustRegister(info, thr, fmr)
}
