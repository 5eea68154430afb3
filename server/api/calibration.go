package api

import (
	"errors"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan/wire"
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
		th := calib.Thresholds{ScannerModel: model, Calibration: fixedCalibration, LevelFactor: 1,
			EnrolMinQuality: s.cfg.MinQuality, VerifyMinQuality: s.cfg.MinQuality, QualityGatesFrom: "config"}
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

// gatesOf is the quality gates in force for the scanner model of th: the
// calibration's, or Config.MinQuality for every model when the operator
// overrides them (a server on fixed thresholds has MinQuality in th
// already). Captures (qualityGate), the admin API, the metrics and the
// kiosks' nonces (scannerGates) all read the gates through it.
func (s *Server) gatesOf(th calib.Thresholds) apiv1.QualityGates {
	if s.cfg.Calibrations != nil && s.cfg.MinQualityOverride {
		return apiv1.QualityGates{ScannerModel: th.ScannerModel, EnrolMinQuality: s.cfg.MinQuality, VerifyMinQuality: s.cfg.MinQuality, From: "override"}
	}
	return apiv1.QualityGates{ScannerModel: th.ScannerModel, EnrolMinQuality: th.EnrolMinQuality, VerifyMinQuality: th.VerifyMinQuality, From: th.QualityGatesFrom}
}

// scannerGates returns the quality gates for captures of the scanner whose
// device certificate is raw, for the kiosk's retake prompts: nil when raw
// is empty, does not parse, is not signed by a trusted maker key, or names
// a model without a calibration (the capture step refuses such captures
// with its own error; the gates are advice, never a check).
func (s *Server) scannerGates(raw []byte) *apiv1.QualityGates {
	if len(raw) == 0 {
		return nil
	}
	var cert wire.DeviceCertificate
	if err := cert.UnmarshalBinary(raw); err != nil {
		return nil
	}
	makerKey, ok := s.makers.Key(cert.MakerID)
	if !ok || !s.certs.verified(raw, makerKey, &cert) {
		return nil
	}
	var th calib.Thresholds
	if s.cfg.Calibrations == nil {
		th, _ = s.thresholds(cert.Model, nil)
	} else {
		var err error
		if th, err = s.cfg.Calibrations.Model(cert.Model); err != nil {
			return nil
		}
	}
	g := s.gatesOf(th)
	return &g
}

// calibrationsInForce lists the calibrations for the admin API and the
// metrics.
func (s *Server) calibrationsInForce() []calib.Thresholds {
	if s.cfg.Calibrations == nil {
		th, _ := s.thresholds("*", nil)
		return []calib.Thresholds{th}
	}
	ths := s.cfg.Calibrations.InForce()
	for i := range ths {
		g := s.gatesOf(ths[i])
		ths[i].EnrolMinQuality, ths[i].VerifyMinQuality, ths[i].QualityGatesFrom = g.EnrolMinQuality, g.VerifyMinQuality, g.From
	}
	return ths
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
			Level: th.Level, LevelMismatch: th.LevelMismatch, LevelFactor: th.LevelFactor,
			EnrolMinQuality: th.EnrolMinQuality, VerifyMinQuality: th.VerifyMinQuality, QualityGatesFrom: th.QualityGatesFrom,
		})
	}
	return c.JSON(out)
}

// registerCalibrations exports the calibrations in force: an info gauge
// per model (1, with the calibration's name, source, synthetic, fallback,
// params hash, comparison level and whether that level is the server's as
// labels), the threshold and in-force FMR of each use, and the quality
// gates.
func (m *metrics) registerCalibrations(ths []calib.Thresholds) {
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "veinkiosk", Name: "calibration_info",
		Help: "The score calibration in force per scanner model (\"*\": the fallback for uncalibrated models); always 1. level_mismatch=\"true\": measured at another comparison level than the server's, used by --calibration-level=adjust.",
	}, []string{"model", "calibration", "source", "synthetic", "fallback", "params_hash", "level", "level_mismatch"})
	gate := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "veinkiosk", Name: "calibration_quality_gate",
		Help: "Capture quality gate in force per scanner model and use (enrol, verify); from: calibration, default (a calibration without gates), override (--min-quality) or config.",
	}, []string{"model", "use", "from"})
	thr := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "veinkiosk", Name: "calibration_threshold",
		Help: "Score threshold in force per scanner model and use (a probe against one enrolled finger: the best of its samples).",
	}, []string{"model", "use", "mapped"})
	fmr := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "veinkiosk", Name: "calibration_fmr",
		Help: "False match rate per comparison at the server's level (a probe against one enrolled finger) the threshold in force is calibrated at (above the target when mapped).",
	}, []string{"model", "use"})
	b := func(v bool) string {
		if v {
			return "true"
		}
		return "false"
	}
	for _, th := range ths {
		info.WithLabelValues(th.ScannerModel, th.Calibration, th.Source, b(th.Synthetic), b(th.Fallback), th.ParamsHash, th.Level, b(th.LevelMismatch)).Set(1)
		gate.WithLabelValues(th.ScannerModel, "enrol", th.QualityGatesFrom).Set(float64(th.EnrolMinQuality))
		gate.WithLabelValues(th.ScannerModel, "verify", th.QualityGatesFrom).Set(float64(th.VerifyMinQuality))
		for use, t := range map[string]calib.Threshold{"verify": th.Verify, "dedup": th.Dedup, "identify": th.Identify} {
			thr.WithLabelValues(th.ScannerModel, use, b(t.Mapped)).Set(t.Threshold)
			fmr.WithLabelValues(th.ScannerModel, use).Set(t.InForceFMR)
		}
	}
	m.reg.MustRegister(info, thr, fmr, gate)
}
