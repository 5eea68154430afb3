// Package calib holds score calibrations as data: a File measured with
// `veinctl eval` for one scanner model and one extraction and comparison
// pipeline (its params hash), with the impostor counts and confidence
// interval of every threshold, and the Registry through which a server
// turns the calibrations of its scanner models into thresholds, refusing
// what the data do not resolve.
//
// docs/evaluation.md describes the file and how to make one.
package calib

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Format and Version identify the file format. Version 2 added the
// comparison level and the quality gates; a version 1 file is read as
// measured on single comparisons, without gates.
const (
	Format  = "veinkiosk-calibration"
	Version = 2
)

// Comparison levels: what one score of a calibration's points is.
const (
	// LevelSingle: one probe against one enrolled sample (FVC pairs).
	LevelSingle = "single"
	// LevelBestOfEnrolled: one probe against an enrolled finger, the best
	// score over its Enrolled samples (matcher.Gallery.Verify per finger;
	// what centrald compares a capture with).
	LevelBestOfEnrolled = "best_of_enrolled"
)

// MaxEnrolled bounds Level.Enrolled.
const MaxEnrolled = 16

// Level is the comparison level the points were measured at.
type Level struct {
	Comparison string `json:"comparison"`
	// Enrolled is K, the samples per enrolled finger whose best score is
	// one comparison (1 for LevelSingle).
	Enrolled int `json:"enrolled"`
}

// String is "single" or "best_of_enrolled/K".
func (l Level) String() string {
	if l.Comparison == LevelSingle {
		return LevelSingle
	}
	return fmt.Sprintf("%s/%d", l.Comparison, l.Enrolled)
}

// Samples is the number of single comparisons one comparison at this level
// takes the best of: 1 for single, K for best of K.
func (l Level) Samples() int {
	if l.Comparison == LevelSingle {
		return 1
	}
	return l.Enrolled
}

func (l Level) validate() error {
	switch {
	case l.Comparison == LevelSingle && l.Enrolled == 1:
	case l.Comparison == LevelBestOfEnrolled && l.Enrolled >= 1 && l.Enrolled <= MaxEnrolled:
	default:
		return fmt.Errorf("comparison level %q with %d enrolled samples: want %q with 1 or %q with 1..%d", l.Comparison, l.Enrolled, LevelSingle, LevelBestOfEnrolled, MaxEnrolled)
	}
	return nil
}

// QualityGates are the capture quality gates (0..100, on the quality of
// the server's extraction) chosen for the scanner model from the same
// measurement, by Rule, with what was measured at each gate tried.
type QualityGates struct {
	// Enrol gates enrolment captures, Verify verification and
	// identification captures.
	Enrol  int    `json:"enrol"`
	Verify int    `json:"verify"`
	Rule   string `json:"rule"`
	// FNMRAtFMR is the target FMR whose threshold (of the points) the
	// rows' FNMR is measured at.
	FNMRAtFMR float64   `json:"fnmr_at_fmr"`
	Measured  []GateRow `json:"measured"`
}

// GateRow is what one quality gate gives on the calibration's data.
type GateRow struct {
	Gate int `json:"gate"`
	// FTE: subjects who cannot enrol when enrolment captures must reach
	// the gate (the kiosk's rule: K captures of a finger among the first
	// tries, the policy's fingers, alternate fingers), of Subjects.
	FTESubjects int     `json:"fte_subjects"`
	Subjects    int     `json:"subjects"`
	FTE         float64 `json:"fte"`
	// Recaptured: genuine probes below the gate (asked again at
	// verification), of all genuine probes.
	Recaptured float64 `json:"recaptured"`
	// FNMR of the genuine probes at or above the gate at the FNMRAtFMR
	// threshold (at the file's comparison level).
	FNMR float64 `json:"fnmr"`
}

func (g *QualityGates) validate() error {
	ok := func(q int) bool { return q >= 0 && q <= 100 }
	switch {
	case !ok(g.Enrol) || !ok(g.Verify):
		return fmt.Errorf("quality gates enrol %d, verify %d: 0..100", g.Enrol, g.Verify)
	case strings.TrimSpace(g.Rule) == "":
		return errors.New("quality gates without the rule that chose them")
	case len(g.Measured) > 101:
		return fmt.Errorf("%d measured gates", len(g.Measured))
	case len(g.Measured) > 0 && !(g.FNMRAtFMR > 0 && g.FNMRAtFMR < 1):
		return fmt.Errorf("quality gates: FNMR measured at FMR %g", g.FNMRAtFMR)
	}
	for i, r := range g.Measured {
		rate := func(v float64) bool { return v >= 0 && v <= 1 }
		switch {
		case !ok(r.Gate) || (i > 0 && r.Gate <= g.Measured[i-1].Gate):
			return fmt.Errorf("measured gate %d: gates 0..100, rising", i)
		case r.Subjects < 0 || r.FTESubjects < 0 || r.FTESubjects > r.Subjects:
			return fmt.Errorf("measured gate %d: %d of %d subjects", r.Gate, r.FTESubjects, r.Subjects)
		case r.Subjects > 0 && math.Abs(r.FTE-float64(r.FTESubjects)/float64(r.Subjects)) > 1e-12, r.Subjects == 0 && r.FTE != 0:
			return fmt.Errorf("measured gate %d: FTE %g is not %d/%d", r.Gate, r.FTE, r.FTESubjects, r.Subjects)
		case !rate(r.Recaptured) || !rate(r.FNMR):
			return fmt.Errorf("measured gate %d: rates %g, %g", r.Gate, r.Recaptured, r.FNMR)
		}
	}
	return nil
}

// MaxFileSize bounds a calibration file.
const MaxFileSize = 1 << 20

// ErrInvalid reports a calibration file that does not decode or whose
// fields do not agree.
var ErrInvalid = errors.New("calib: invalid calibration")

// File is one calibration: versioned JSON.
type File struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	// ScannerModel is the model as named in the device certificates of
	// the scanners it applies to.
	ScannerModel string `json:"scanner_model"`
	// Synthetic marks a calibration measured on simulator images: good for
	// the simulator, meaningless for a real scanner.
	Synthetic bool `json:"synthetic"`
	// AlgorithmVersion and ParamsHash (matcher.Params.ParamsHash, 8 hex
	// digits) identify the extraction and comparison pipeline; Params
	// describes it for people.
	AlgorithmVersion int       `json:"algorithm_version"`
	ParamsHash       string    `json:"params_hash"`
	Params           string    `json:"params"`
	Created          time.Time `json:"created"`
	// Level is the comparison level of the points (version 2; a version 1
	// file has none and was measured on single comparisons).
	Level *Level `json:"level,omitempty"`
	// QualityGates are the gates for this model (version 2).
	QualityGates *QualityGates `json:"quality_gates,omitempty"`
	Data         Data          `json:"data"`
	// Points are the thresholds for target false match rates, higher FMR
	// first.
	Points []Point `json:"points"`

	digest string
}

// Data describes the measurement.
type Data struct {
	Description string `json:"description"`
	Protocol    string `json:"protocol"`
	Images      int    `json:"images"`
	Subjects    int    `json:"subjects"`
	Fingers     int    `json:"fingers"`
	// FailuresToExtract are images that gave no template (left out of the
	// comparisons; counted as rejections in FNMR).
	FailuresToExtract int `json:"failures_to_extract"`
	Genuine           int `json:"genuine"`
	Impostor          int `json:"impostor"`
}

// Point is the threshold for one target FMR and what was measured at it.
type Point struct {
	TargetFMR float64 `json:"target_fmr"`
	// Threshold is the lowest score threshold whose measured FMR is at
	// most TargetFMR: a comparison matches when its score >= Threshold.
	Threshold float64 `json:"threshold"`
	// ImpostorErrors of Impostors comparisons scored >= Threshold; FMR is
	// their ratio and FMRCI95 its Clopper-Pearson 95 % interval.
	ImpostorErrors int        `json:"impostor_errors"`
	Impostors      int        `json:"impostors"`
	FMR            float64    `json:"fmr"`
	FMRCI95        [2]float64 `json:"fmr_ci95"`
	// FNMR is the genuine rejection rate at Threshold, failures to
	// extract counted as rejections.
	FNMR float64 `json:"fnmr"`
	// Resolved: at least RuleOf30 impostor errors are expected at
	// TargetFMR. Only resolved points give thresholds.
	Resolved bool `json:"resolved"`
}

// NewPoint fills a point from its counts: the FMR, its interval and the
// rule of 30.
func NewPoint(target, threshold float64, errs, impostors int, fnmr float64) Point {
	p := Point{TargetFMR: target, Threshold: threshold, ImpostorErrors: errs, Impostors: impostors, FNMR: fnmr, Resolved: Resolves(target, impostors)}
	if impostors > 0 {
		p.FMR = float64(errs) / float64(impostors)
	}
	p.FMRCI95[0], p.FMRCI95[1] = ClopperPearson(errs, impostors, 0.95)
	return p
}

// Digest is the first 12 hex digits of the SHA-256 of the file as read
// (empty for a File not read by Decode): with the model, it names the
// calibration in force in logs, metrics and the admin API.
func (f *File) Digest() string { return f.digest }

// Decode reads and validates a calibration file.
func Decode(r io.Reader) (*File, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalid, MaxFileSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrInvalid)
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	f.digest = hex.EncodeToString(sum[:6])
	return &f, nil
}

// ReadFile reads and validates a calibration file.
func ReadFile(name string) (*File, error) {
	fh, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	f, err := Decode(fh)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return f, nil
}

// Encode writes the file as indented JSON.
func (f *File) Encode(w io.Writer) error {
	if err := f.Validate(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// Validate checks that the fields agree: format and version, a model, a
// params hash, and points whose FMR, interval and resolution follow from
// their counts, with thresholds that rise as the target FMR falls.
func (f *File) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, a...)...)
	}
	switch {
	case f.Format != Format:
		return bad("format %q, want %q", f.Format, Format)
	case f.Version != Version && f.Version != 1:
		return bad("version %d, this build reads 1 and %d", f.Version, Version)
	case f.Version == 1 && (f.Level != nil || f.QualityGates != nil):
		return bad("a version 1 file has no level or quality gates")
	case f.Version == Version && (f.Level == nil || f.QualityGates == nil):
		return bad("version %d needs the comparison level and the quality gates", f.Version)
	case f.ScannerModel == "" || len(f.ScannerModel) > 64 || !utf8.ValidString(f.ScannerModel) || strings.TrimSpace(f.ScannerModel) != f.ScannerModel:
		return bad("scanner model %q: 1..64 bytes of UTF-8 without surrounding space", f.ScannerModel)
	case f.AlgorithmVersion <= 0:
		return bad("algorithm version %d", f.AlgorithmVersion)
	case len(f.ParamsHash) != 8 || strings.Trim(f.ParamsHash, "0123456789abcdef") != "":
		return bad("params hash %q is not 8 lower-case hex digits", f.ParamsHash)
	case f.Created.IsZero():
		return bad("no creation date")
	case strings.TrimSpace(f.Data.Description) == "" || strings.TrimSpace(f.Data.Protocol) == "":
		return bad("the data need a description and a protocol")
	case f.Data.Impostor <= 0 || f.Data.Genuine < 0 || f.Data.Images < 0 || f.Data.FailuresToExtract < 0 || f.Data.FailuresToExtract > f.Data.Images:
		return bad("data counts: %d images, %d failures, %d genuine, %d impostor", f.Data.Images, f.Data.FailuresToExtract, f.Data.Genuine, f.Data.Impostor)
	case len(f.Points) == 0 || len(f.Points) > 64:
		return bad("%d points", len(f.Points))
	}
	finite := func(v ...float64) bool {
		for _, x := range v {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return false
			}
		}
		return true
	}
	if f.Level != nil {
		if err := f.Level.validate(); err != nil {
			return bad("%v", err)
		}
	}
	if f.QualityGates != nil {
		if err := f.QualityGates.validate(); err != nil {
			return bad("%v", err)
		}
		for _, r := range f.QualityGates.Measured {
			if !finite(r.FTE, r.Recaptured, r.FNMR) {
				return bad("quality gates: not a number")
			}
		}
	}
	for i, p := range f.Points {
		switch {
		case !finite(p.TargetFMR, p.Threshold, p.FMR, p.FNMR, p.FMRCI95[0], p.FMRCI95[1]):
			return bad("point %d: not a number", i)
		case !(p.TargetFMR > 0 && p.TargetFMR < 1):
			return bad("point %d: target FMR %g outside (0, 1)", i, p.TargetFMR)
		case !(p.Threshold >= 0 && p.Threshold <= 1):
			return bad("point %d: threshold %g outside [0, 1]", i, p.Threshold)
		case p.Impostors != f.Data.Impostor:
			return bad("point %d: %d impostors, the data have %d", i, p.Impostors, f.Data.Impostor)
		case p.ImpostorErrors < 0 || p.ImpostorErrors > p.Impostors:
			return bad("point %d: %d impostor errors of %d", i, p.ImpostorErrors, p.Impostors)
		case math.Abs(p.FMR-float64(p.ImpostorErrors)/float64(p.Impostors)) > 1e-12:
			return bad("point %d: FMR %g is not %d/%d", i, p.FMR, p.ImpostorErrors, p.Impostors)
		case p.FMR > p.TargetFMR:
			return bad("point %d: measured FMR %g above the target %g", i, p.FMR, p.TargetFMR)
		case !(0 <= p.FMRCI95[0] && p.FMRCI95[0] <= p.FMR && p.FMR <= p.FMRCI95[1] && p.FMRCI95[1] <= 1):
			return bad("point %d: interval %v does not hold FMR %g", i, p.FMRCI95, p.FMR)
		case !(p.FNMR >= 0 && p.FNMR <= 1):
			return bad("point %d: FNMR %g", i, p.FNMR)
		case p.Resolved != Resolves(p.TargetFMR, p.Impostors):
			return bad("point %d: resolved=%v, but %d impostors at target %g expect %.1f errors (rule of %d)", i, p.Resolved, p.Impostors, p.TargetFMR, p.TargetFMR*float64(p.Impostors), RuleOf30)
		}
		if i > 0 {
			q := f.Points[i-1]
			if p.TargetFMR >= q.TargetFMR || p.Threshold < q.Threshold {
				return bad("points %d and %d: targets must fall (%g, %g) and thresholds not (%g, %g)", i-1, i, q.TargetFMR, p.TargetFMR, q.Threshold, p.Threshold)
			}
		}
	}
	if !slices.ContainsFunc(f.Points, func(p Point) bool { return p.Resolved }) {
		return bad("no point is resolved: %d impostor comparisons resolve no target FMR", f.Data.Impostor)
	}
	return nil
}

// ComparisonLevel is the level the points were measured at: the file's,
// or single comparisons for a version 1 file.
func (f *File) ComparisonLevel() Level {
	if f.Level == nil {
		return Level{Comparison: LevelSingle, Enrolled: 1}
	}
	return *f.Level
}

// Resolved returns the resolved points, highest FMR first.
func (f *File) Resolved() []Point {
	var out []Point
	for _, p := range f.Points {
		if p.Resolved {
			out = append(out, p)
		}
	}
	return out
}

// LowestResolvedFMR is the smallest target FMR the file resolves.
func (f *File) LowestResolvedFMR() float64 {
	r := f.Resolved()
	return r[len(r)-1].TargetFMR
}

// ErrUnresolved reports a target FMR below what a calibration resolves.
var ErrUnresolved = errors.New("calib: target FMR not resolved by the calibration")

// Threshold returns the threshold for a target FMR from the resolved
// points, interpolating linearly in log(FMR) between them. A target above
// the highest resolved FMR gets that point's threshold (a lower FMR than
// asked for). A target below the lowest resolved FMR is ErrUnresolved,
// unless mapLowest: then it gets the lowest resolved point's threshold and
// mapped is true (the FMR in force is that point's, higher than asked).
func (f *File) Threshold(target float64, mapLowest bool) (threshold, inForceFMR float64, mapped bool, err error) {
	if !(target > 0 && target < 1) {
		return 0, 0, false, fmt.Errorf("%w: target FMR %g outside (0, 1)", ErrInvalid, target)
	}
	pts := f.Resolved()
	if len(pts) == 0 {
		return 0, 0, false, fmt.Errorf("%w: no resolved point", ErrInvalid)
	}
	if target >= pts[0].TargetFMR {
		return pts[0].Threshold, pts[0].TargetFMR, false, nil
	}
	for i := 1; i < len(pts); i++ {
		a, b := pts[i-1], pts[i]
		if target >= b.TargetFMR {
			t := (math.Log(target) - math.Log(a.TargetFMR)) / (math.Log(b.TargetFMR) - math.Log(a.TargetFMR))
			return a.Threshold + t*(b.Threshold-a.Threshold), target, false, nil
		}
	}
	low := pts[len(pts)-1]
	if !mapLowest {
		return 0, 0, false, fmt.Errorf("%w: %g is below %g, the lowest FMR that %d impostor comparisons of %s resolve (rule of %d)",
			ErrUnresolved, target, low.TargetFMR, f.Data.Impostor, f.ScannerModel, RuleOf30)
	}
	return low.Threshold, low.TargetFMR, true, nil
}
