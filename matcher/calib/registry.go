package calib

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
)

// Policy is the false match rates a server promises, per use of the
// matcher, and how the server compares.
type Policy struct {
	// VerifyFMR is the false match rate of one 1:1 verification attempt:
	// a probe compared with every enrolled finger of the claimed resident.
	VerifyFMR float64
	// Fingers is how many enrolled fingers one verification compares the
	// probe with (2 at the kiosk); the target per comparison at the
	// server's level is VerifyFMR / Fingers (union bound).
	Fingers int
	// Level is how the server compares a probe with one enrolled finger:
	// the best score over its K enrolled samples (LevelBestOfEnrolled,
	// K = the captures enrolled per finger). A calibration measured at
	// another level is refused unless Options.AdjustLevel.
	Level Level
	// DedupFMR and IdentifyFMR are per comparison at Level (a probe
	// against one enrolled finger), for the enrolment 1:N deduplication
	// and card-less identification.
	DedupFMR, IdentifyFMR float64
}

// DefaultPolicy is centrald's default. The 1:N targets, 3e-6 per enrolled
// finger (the best of its 3 samples), are what the former default of 1e-6
// per single comparison came to at the server (union bound over the 3
// samples), now stated at the level the server decides on.
var DefaultPolicy = Policy{VerifyFMR: 1e-4, Fingers: 2, Level: Level{Comparison: LevelBestOfEnrolled, Enrolled: 3}, DedupFMR: 3e-6, IdentifyFMR: 3e-6}

// Threshold is the threshold of one use and how it was derived.
type Threshold struct {
	// TargetFMR is the per-comparison false match rate asked for.
	TargetFMR float64 `json:"target_fmr"`
	Threshold float64 `json:"threshold"`
	// InForceFMR is the per-comparison FMR the threshold is calibrated at:
	// TargetFMR, or the lowest resolved point when Mapped.
	InForceFMR float64 `json:"in_force_fmr"`
	// Mapped: TargetFMR lies below what the calibration resolves and was
	// mapped to its lowest resolved point (by explicit option).
	Mapped bool `json:"mapped"`
}

// Thresholds are the thresholds in force for one scanner model.
type Thresholds struct {
	ScannerModel string `json:"scanner_model"`
	// Calibration names the file: its model, digest and date.
	Calibration string `json:"calibration"`
	// Source is the model whose calibration is used: ScannerModel, or the
	// fallback model for an uncalibrated one.
	Source     string `json:"source"`
	Fallback   bool   `json:"fallback"`
	Synthetic  bool   `json:"synthetic"`
	ParamsHash string `json:"params_hash"`
	// Level is the comparison level the calibration was measured at;
	// LevelMismatch: it is not the server's (accepted by
	// Options.AdjustLevel, the targets divided by LevelFactor, the union
	// bound from the calibration's level to the server's).
	Level         string  `json:"level"`
	LevelMismatch bool    `json:"level_mismatch"`
	LevelFactor   float64 `json:"level_factor"`
	// Verify is per comparison at the server's level (the policy's
	// VerifyFMR divided by the fingers per resident); Identify is never
	// below Verify.
	Verify   Threshold `json:"verify"`
	Dedup    Threshold `json:"dedup"`
	Identify Threshold `json:"identify"`
	// EnrolMinQuality and VerifyMinQuality are the calibration's quality
	// gates (Options.DefaultMinQuality for a file without them);
	// QualityGatesFrom says where they come from.
	EnrolMinQuality  int    `json:"enrol_min_quality"`
	VerifyMinQuality int    `json:"verify_min_quality"`
	QualityGatesFrom string `json:"quality_gates_from"`
}

// Options configure a Registry.
type Options struct {
	Policy Policy
	// MapUnresolved maps a target FMR below what a calibration resolves
	// to its lowest resolved point, logging it; without it such a target
	// is refused when the registry is built.
	MapUnresolved bool
	// Fallback names a loaded calibration's model whose thresholds apply
	// to scanner models without a calibration (logged, and marked in the
	// metrics and admin API). Empty: captures of uncalibrated models are
	// refused. Choose the calibration with the highest thresholds.
	Fallback string
	// AdjustLevel accepts a calibration measured at another comparison
	// level than Policy.Level (a single-comparison calibration in a server
	// that takes the best of K enrolled samples), dividing its targets by
	// the union bound K_server / K_file and logging it; without it such a
	// calibration is refused (ErrLevel).
	AdjustLevel bool
	// DefaultMinQuality is the quality gate of a calibration without
	// gates (a version 1 file).
	DefaultMinQuality int
	Logger            *slog.Logger
}

// Errors of the registry.
var (
	ErrUncalibrated = errors.New("calib: scanner model not calibrated")
	ErrPipeline     = errors.New("calib: calibration made for another extraction or comparison pipeline")
	ErrDuplicate    = errors.New("calib: two calibrations for one scanner model")
	ErrLevel        = errors.New("calib: calibration measured at another comparison level than the server's")
)

// Registry holds the calibrations of the scanner models a server accepts
// and the thresholds they give under a policy. It is immutable and safe
// for concurrent use.
type Registry struct {
	byModel  map[string]Thresholds
	fallback *Thresholds
}

// ResolveThresholds derives the thresholds of policy from one
// calibration: the single place where a server's (and `veinctl eval
// --policy`'s) thresholds come from. A calibration measured at another
// comparison level than policy.Level is ErrLevel unless adjustLevel: then
// every target is divided by K_server / K_file (when above 1: a max over
// K_server scores false-matches up to that many times as often as one over
// K_file, by the union bound) and the thresholds are marked LevelMismatch.
func ResolveThresholds(f *File, policy Policy, mapUnresolved, adjustLevel bool) (Thresholds, error) {
	if policy.Fingers <= 0 {
		return Thresholds{}, fmt.Errorf("%w: %d fingers per resident", ErrInvalid, policy.Fingers)
	}
	if err := policy.Level.validate(); err != nil {
		return Thresholds{}, fmt.Errorf("%w: the server's %v", ErrInvalid, err)
	}
	lvl := f.ComparisonLevel()
	th := Thresholds{ScannerModel: f.ScannerModel, Source: f.ScannerModel, Synthetic: f.Synthetic, ParamsHash: f.ParamsHash,
		Calibration: fmt.Sprintf("%s@%s (%s)", f.ScannerModel, f.Created.UTC().Format("2006-01-02"), f.Digest()),
		Level:       lvl.String(), LevelFactor: 1}
	if lvl != policy.Level {
		if !adjustLevel {
			return th, fmt.Errorf("%w: the calibration of %q was measured at %s, the server compares at %s", ErrLevel, f.ScannerModel, lvl, policy.Level)
		}
		th.LevelMismatch = true
		th.LevelFactor = max(1, float64(policy.Level.Samples())/float64(lvl.Samples()))
	}
	for _, u := range []struct {
		name   string
		target float64
		out    *Threshold
	}{
		{"verify", policy.VerifyFMR / float64(policy.Fingers) / th.LevelFactor, &th.Verify},
		{"dedup", policy.DedupFMR / th.LevelFactor, &th.Dedup},
		{"identify", policy.IdentifyFMR / th.LevelFactor, &th.Identify},
	} {
		t, inForce, mapped, err := f.Threshold(u.target, mapUnresolved)
		if err != nil {
			return th, fmt.Errorf("%s: %w", u.name, err)
		}
		*u.out = Threshold{TargetFMR: u.target, Threshold: t, InForceFMR: inForce, Mapped: mapped}
	}
	if th.Identify.Threshold < th.Verify.Threshold {
		th.Identify.Threshold, th.Identify.InForceFMR = th.Verify.Threshold, th.Verify.InForceFMR
	}
	if g := f.QualityGates; g != nil {
		th.EnrolMinQuality, th.VerifyMinQuality, th.QualityGatesFrom = g.Enrol, g.Verify, "calibration"
	}
	return th, nil
}

// NewRegistry builds the registry of files (at most one per scanner
// model), resolving every policy target now: a target that a calibration
// does not resolve fails here unless Options.MapUnresolved.
func NewRegistry(files []*File, opt Options) (*Registry, error) {
	log := opt.Logger
	if log == nil {
		log = slog.Default()
	}
	r := &Registry{byModel: map[string]Thresholds{}}
	for _, f := range files {
		if err := f.Validate(); err != nil {
			return nil, err
		}
		if _, dup := r.byModel[f.ScannerModel]; dup {
			return nil, fmt.Errorf("%w: %q", ErrDuplicate, f.ScannerModel)
		}
		th, err := ResolveThresholds(f, opt.Policy, opt.MapUnresolved, opt.AdjustLevel)
		if err != nil {
			return nil, fmt.Errorf("calibration of %q: %w", f.ScannerModel, err)
		}
		if f.QualityGates == nil {
			th.EnrolMinQuality, th.VerifyMinQuality, th.QualityGatesFrom = opt.DefaultMinQuality, opt.DefaultMinQuality, "default"
			log.Warn("calibration: no quality gates (a version 1 file); the default gate applies", "model", f.ScannerModel, "gate", opt.DefaultMinQuality)
		}
		if th.LevelMismatch {
			log.Warn("calibration: measured at another comparison level than the server's; used with the targets divided by the union bound",
				"model", f.ScannerModel, "calibration_level", th.Level, "server_level", opt.Policy.Level.String(), "factor", th.LevelFactor)
		}
		for _, u := range []struct {
			name string
			t    Threshold
		}{{"verify", th.Verify}, {"dedup", th.Dedup}, {"identify", th.Identify}} {
			if u.t.Mapped {
				log.Warn("calibration: target FMR below what the data resolve; mapped to the lowest resolved point",
					"model", f.ScannerModel, "use", u.name, "target_fmr", u.t.TargetFMR, "in_force_fmr", u.t.InForceFMR, "threshold", u.t.Threshold)
			}
		}
		if f.Synthetic {
			log.Warn("calibration: synthetic (simulator images), valid for the simulator only", "model", f.ScannerModel)
		}
		log.Info("calibration", "model", f.ScannerModel, "calibration", th.Calibration, "params_hash", f.ParamsHash, "level", th.Level,
			"enrol_min_quality", th.EnrolMinQuality, "verify_min_quality", th.VerifyMinQuality,
			"verify", strconv.FormatFloat(th.Verify.Threshold, 'f', 4, 64), "dedup", strconv.FormatFloat(th.Dedup.Threshold, 'f', 4, 64),
			"identify", strconv.FormatFloat(th.Identify.Threshold, 'f', 4, 64))
		r.byModel[f.ScannerModel] = th
	}
	if opt.Fallback != "" {
		th, ok := r.byModel[opt.Fallback]
		if !ok {
			return nil, fmt.Errorf("%w: the fallback %q has no calibration", ErrUncalibrated, opt.Fallback)
		}
		th.Fallback = true
		r.fallback = &th
		log.Warn("calibration: scanner models without a calibration use a fallback", "fallback", opt.Fallback)
	}
	return r, nil
}

// For returns the thresholds for a capture by a scanner of model whose
// template was made with the params hash paramsHash. An uncalibrated model
// is ErrUncalibrated unless there is a fallback; a calibration made for
// another pipeline is ErrPipeline.
func (r *Registry) For(model string, paramsHash uint32) (Thresholds, error) {
	th, ok := r.byModel[model]
	if !ok {
		if r.fallback == nil {
			return Thresholds{}, fmt.Errorf("%w: %q", ErrUncalibrated, model)
		}
		th = *r.fallback
		th.ScannerModel = model
	}
	if h := fmt.Sprintf("%08x", paramsHash); h != th.ParamsHash {
		return Thresholds{}, fmt.Errorf("%w: the template's params hash is %s, the calibration of %q is for %s", ErrPipeline, h, th.Source, th.ParamsHash)
	}
	return th, nil
}

// InForce lists the calibrations by model (the fallback, if any, last
// under the model "*").
func (r *Registry) InForce() []Thresholds {
	out := make([]Thresholds, 0, len(r.byModel)+1)
	for _, th := range r.byModel {
		out = append(out, th)
	}
	slices.SortFunc(out, func(a, b Thresholds) int {
		switch {
		case a.ScannerModel < b.ScannerModel:
			return -1
		case a.ScannerModel > b.ScannerModel:
			return 1
		}
		return 0
	})
	if r.fallback != nil {
		fb := *r.fallback
		fb.ScannerModel = "*"
		out = append(out, fb)
	}
	return out
}

// Model returns the thresholds in force for a scanner model (the
// fallback's for an uncalibrated one), whatever the pipeline.
func (r *Registry) Model(model string) (Thresholds, error) {
	if th, ok := r.byModel[model]; ok {
		return th, nil
	}
	if r.fallback != nil {
		th := *r.fallback
		th.ScannerModel = model
		return th, nil
	}
	return Thresholds{}, fmt.Errorf("%w: %q", ErrUncalibrated, model)
}

// ForPipeline returns thresholds for a template that no scanner vouches
// for (bulk enrolment of extracted templates): of the calibrations made
// for its pipeline, the most cautious for each use: the highest verify and
// identify thresholds (fewest false matches) and the lowest dedup
// threshold (the most duplicates found, for staff to review).
func (r *Registry) ForPipeline(paramsHash uint32) (Thresholds, error) {
	h := fmt.Sprintf("%08x", paramsHash)
	var out Thresholds
	n := 0
	for _, th := range r.InForce() {
		if th.ParamsHash != h || th.ScannerModel == "*" {
			continue
		}
		if n == 0 {
			out = th
			out.ScannerModel, out.Source = "", th.ScannerModel
		} else {
			out.Calibration += ", " + th.Calibration
			out.Source += ", " + th.ScannerModel
			out.Synthetic = out.Synthetic || th.Synthetic
			out.LevelMismatch = out.LevelMismatch || th.LevelMismatch
			out.EnrolMinQuality = max(out.EnrolMinQuality, th.EnrolMinQuality)
			out.VerifyMinQuality = max(out.VerifyMinQuality, th.VerifyMinQuality)
			if th.Verify.Threshold > out.Verify.Threshold {
				out.Verify = th.Verify
			}
			if th.Identify.Threshold > out.Identify.Threshold {
				out.Identify = th.Identify
			}
			if th.Dedup.Threshold < out.Dedup.Threshold {
				out.Dedup = th.Dedup
			}
		}
		n++
	}
	if n == 0 {
		return Thresholds{}, fmt.Errorf("%w: no calibration for params hash %s", ErrPipeline, h)
	}
	return out, nil
}
