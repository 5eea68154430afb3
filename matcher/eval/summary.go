package eval

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/matcher/calib"
)

// CalibrationTargets are the FMRs of the calibration table, highest first:
// two per decade, so that interpolation between resolved points is short.
var CalibrationTargets = []float64{1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 3e-6, 1e-6}

// Summary is summary.json. Every FNMR counts the genuine comparisons lost
// to failures to extract as rejections (GenuineFailed of them).
type Summary struct {
	Manifest           string         `json:"manifest"`
	Images             int            `json:"images"`
	Subjects           int            `json:"subjects"`
	Fingers            int            `json:"fingers"`
	FailuresToExtract  int            `json:"failures_to_extract"`
	FTE                float64        `json:"fte_rate"`
	Genuine            int            `json:"genuine"`
	GenuineFailed      int            `json:"genuine_lost_to_fte"`
	Impostor           int            `json:"impostor"`
	ImpostorProtocol   string         `json:"impostor_protocol"`
	EER                float64        `json:"eer"`
	EERThreshold       float64        `json:"eer_threshold"`
	FNMRAtFMR1e2       float64        `json:"fnmr_at_fmr_1e-2"`
	ThresholdAtFMR1e2  float64        `json:"threshold_at_fmr_1e-2"`
	FMR1e2Resolved     bool           `json:"fmr_1e-2_resolved"`
	FNMRAtFMR1e3       float64        `json:"fnmr_at_fmr_1e-3"`
	ThresholdAtFMR1e3  float64        `json:"threshold_at_fmr_1e-3"`
	FMR1e3Resolved     bool           `json:"fmr_1e-3_resolved"`
	ExtractMsP50       float64        `json:"extract_ms_p50"`
	ExtractMsP95       float64        `json:"extract_ms_p95"`
	CompareUsP50       float64        `json:"compare_us_p50"`        // one 1:1 comparison, probe preparation included, one goroutine
	ScoreUsP50         float64        `json:"score_prepared_us_p50"` // scoring with an already prepared probe (per candidate of a 1:N search)
	TemplateBytes      int            `json:"template_bytes"`
	GenuineMean        float64        `json:"genuine_mean"`
	ImpostorMean       float64        `json:"impostor_mean"`
	QualityGenuineRank float64        `json:"quality_genuine_spearman"`
	QualityBands       []Band         `json:"quality_bands"`
	Calibration        []calib.Point  `json:"calibration"`
	Sessions           *Sessions      `json:"sessions,omitempty"`
	Policy             *PolicyReport  `json:"policy,omitempty"`
	ParamsHash         string         `json:"params_hash"`
	Params             matcher.Params `json:"params"`
	Settings           map[string]any `json:"settings"`
	Workers            int            `json:"workers"`
	Elapsed            string         `json:"elapsed"`

	// Enrolment is the enrolment protocol (a probe against a finger's
	// enrolled samples, best score), with --enrolled.
	Enrolment *EnrolmentSummary `json:"enrolment,omitempty"`
	// QualityGates are the quality gates measured and chosen for a
	// calibration file (AddQualityGates).
	QualityGates *calib.QualityGates `json:"quality_gates,omitempty"`
}

// Sessions are the genuine error rates of same-session and cross-session
// pairs apart (manifests with a session column), against all impostors.
type Sessions struct {
	Same  SessionRates `json:"same_session"`
	Cross SessionRates `json:"cross_session"`
}

// SessionRates are the rates of one kind of genuine pair.
type SessionRates struct {
	Genuine       int     `json:"genuine"`
	GenuineFailed int     `json:"genuine_lost_to_fte"`
	EER           float64 `json:"eer"`
	FNMRAtFMR1e2  float64 `json:"fnmr_at_fmr_1e-2"`
	FNMRAtFMR1e3  float64 `json:"fnmr_at_fmr_1e-3"`
}

// Band is the genuine score statistics of the pairs whose lower quality
// falls in [Lo, Hi).
type Band struct {
	Lo, Hi       int     `json:"-"`
	Name         string  `json:"quality"`
	Pairs        int     `json:"genuine_pairs"`
	MeanScore    float64 `json:"mean_genuine_score"`
	FNMRAtFMR1e2 float64 `json:"fnmr_at_fmr_1e-2"`
}

// Summarize computes the summary of a report.
func Summarize(r *Report) Summary {
	var sizes []float64
	for _, t := range r.Templates {
		if t == nil {
			continue
		}
		if b, err := t.MarshalBinary(); err == nil {
			sizes = append(sizes, float64(len(b)))
		}
	}
	templateBytes := 0
	if len(sizes) > 0 {
		templateBytes = int(percentile(sizes, 50))
	}
	subjects := map[string]bool{}
	for _, e := range r.Entries {
		subjects[e.Subject] = true
	}
	s := Summary{
		Images:            len(r.Entries),
		Subjects:          len(subjects),
		Fingers:           r.Fingers,
		FailuresToExtract: len(r.Failures),
		Genuine:           len(r.Scores.Genuine),
		GenuineFailed:     r.Scores.GenuineFailed,
		Impostor:          len(r.Scores.Impostor),
		ImpostorProtocol:  r.ImpostorProtocol,
		TemplateBytes:     templateBytes,
	}
	if s.Images > 0 {
		s.FTE = float64(s.FailuresToExtract) / float64(s.Images)
	}
	s.EER, s.EERThreshold = r.Scores.EER()
	op2, ok2 := r.Scores.AtFMR(1e-2)
	s.FMR1e2Resolved = ok2
	op3, ok3 := r.Scores.AtFMR(1e-3)
	s.FNMRAtFMR1e2, s.ThresholdAtFMR1e2 = op2.FNMR, op2.Threshold
	s.FNMRAtFMR1e3, s.ThresholdAtFMR1e3, s.FMR1e3Resolved = op3.FNMR, op3.Threshold, ok3
	var et []time.Duration
	for i, d := range r.ExtractTime {
		if r.Results[i] != nil {
			et = append(et, d)
		}
	}
	s.ExtractMsP50 = durationsP50(et, time.Millisecond)
	if len(et) > 0 {
		f := make([]float64, len(et))
		for i, d := range et {
			f[i] = float64(d) / float64(time.Millisecond)
		}
		s.ExtractMsP95 = percentile(f, 95)
	}
	s.CompareUsP50 = durationsP50(r.CompareTime, time.Microsecond)
	s.ScoreUsP50 = durationsP50(r.ScoreTime, time.Microsecond)
	s.GenuineMean, s.ImpostorMean = mean(r.Scores.Genuine), mean(r.Scores.Impostor)
	s.Calibration = r.Scores.Calibration(CalibrationTargets)
	s.Params = r.Params
	s.ParamsHash = fmt.Sprintf("%08x", r.Params.ParamsHash())
	s.Sessions = sessionRates(r)

	// Does quality predict the genuine score?
	var q, sc []float64
	for _, c := range r.Comparisons {
		if c.Genuine {
			q = append(q, float64(min(r.Results[c.Enrolled].Quality, r.Results[c.Probe].Quality)))
			sc = append(sc, c.Score)
		}
	}
	s.QualityGenuineRank = Spearman(q, sc)
	for _, b := range [][2]int{{0, 20}, {20, 40}, {40, 60}, {60, 80}, {80, 101}} {
		band := Band{Lo: b[0], Hi: b[1], Name: fmt.Sprintf("%d-%d", b[0], min(b[1], 100))}
		var fails int
		var sum float64
		for i := range q {
			if int(q[i]) >= b[0] && int(q[i]) < b[1] {
				band.Pairs++
				sum += sc[i]
				if sc[i] < op2.Threshold {
					fails++
				}
			}
		}
		if band.Pairs > 0 {
			band.MeanScore = sum / float64(band.Pairs)
			band.FNMRAtFMR1e2 = float64(fails) / float64(band.Pairs)
		}
		s.QualityBands = append(s.QualityBands, band)
	}
	return s
}

// sessionRates splits the genuine pairs by session, when every entry has
// one.
func sessionRates(r *Report) *Sessions {
	for _, e := range r.Entries {
		if e.Session == "" {
			return nil
		}
	}
	same := Scores{Impostor: r.Scores.Impostor}
	cross := Scores{Impostor: r.Scores.Impostor}
	pick := func(c Comparison) *Scores {
		if r.Entries[c.Enrolled].Session == r.Entries[c.Probe].Session {
			return &same
		}
		return &cross
	}
	for _, c := range r.Comparisons {
		if c.Genuine {
			sc := pick(c)
			sc.Genuine = append(sc.Genuine, c.Score)
		}
	}
	full, _ := Pairs(r.Entries, nil)
	for _, c := range full {
		if c.Genuine && (r.Templates[c.Enrolled] == nil || r.Templates[c.Probe] == nil) {
			pick(c).GenuineFailed++
		}
	}
	rates := func(sc Scores) SessionRates {
		out := SessionRates{Genuine: len(sc.Genuine), GenuineFailed: sc.GenuineFailed}
		out.EER, _ = sc.EER()
		op2, _ := sc.AtFMR(1e-2)
		op3, _ := sc.AtFMR(1e-3)
		out.FNMRAtFMR1e2, out.FNMRAtFMR1e3 = op2.FNMR, op3.FNMR
		return out
	}
	return &Sessions{Same: rates(same), Cross: rates(cross)}
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// WriteOutputs writes into dir: summary.json, scores.csv (every comparison
// of Report.Comparisons), failures.csv, images.csv (quality metrics and
// mean genuine score per image), det.png and, with a policy evaluation,
// report.md. scores.csv and images.csv are derived from the images: keep
// them out of the repository.
func WriteOutputs(dir string, r *Report, s Summary) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(dir, "summary.json"), s); err != nil {
		return err
	}
	if err := writeScores(filepath.Join(dir, "scores.csv"), r); err != nil {
		return err
	}
	if err := writeFailures(filepath.Join(dir, "failures.csv"), r); err != nil {
		return err
	}
	if err := writeImages(filepath.Join(dir, "images.csv"), r); err != nil {
		return err
	}
	if err := WriteDET(filepath.Join(dir, "det.png"), r.Scores, s); err != nil {
		return err
	}
	return WriteReport(filepath.Join(dir, "report.md"), s)
}

func writeJSON(name string, v any) error {
	b, err := json.MarshalIndent(sanitize(v), "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(name, append(b, '\n'), 0o644)
}

// sanitize replaces the NaN and Inf values that JSON cannot hold (rates
// without comparisons, timings without samples) by -1.
func sanitize(v any) any {
	switch x := v.(type) {
	case Summary:
		fix := func(f *float64) {
			if math.IsNaN(*f) || math.IsInf(*f, 0) {
				*f = -1
			}
		}
		for _, f := range []*float64{&x.EER, &x.EERThreshold, &x.FNMRAtFMR1e2, &x.ThresholdAtFMR1e2, &x.FNMRAtFMR1e3, &x.ThresholdAtFMR1e3, &x.ExtractMsP50, &x.ExtractMsP95, &x.CompareUsP50, &x.ScoreUsP50, &x.GenuineMean, &x.ImpostorMean, &x.QualityGenuineRank} {
			fix(f)
		}
		x.Calibration = slices.Clone(x.Calibration)
		for i := range x.Calibration {
			fix(&x.Calibration[i].Threshold)
			fix(&x.Calibration[i].FMR)
			fix(&x.Calibration[i].FNMR)
		}
		if x.Sessions != nil {
			ss := *x.Sessions
			for _, r := range []*SessionRates{&ss.Same, &ss.Cross} {
				fix(&r.EER)
				fix(&r.FNMRAtFMR1e2)
				fix(&r.FNMRAtFMR1e3)
			}
			x.Sessions = &ss
		}
		if x.Enrolment != nil {
			e := *x.Enrolment
			e.Calibration = slices.Clone(e.Calibration)
			for i := range e.Calibration {
				fix(&e.Calibration[i].Threshold)
				fix(&e.Calibration[i].FMR)
				fix(&e.Calibration[i].FNMR)
			}
			fix(&e.EER)
			fix(&e.EERThreshold)
			e.Points = slices.Clone(e.Points)
			for i := range e.Points {
				fix(&e.Points[i].Threshold)
				fix(&e.Points[i].FMR)
				fix(&e.Points[i].FNMR)
			}
			e.Recapture = slices.Clone(e.Recapture)
			for i := range e.Recapture {
				fix(&e.Recapture[i].FNMRAtFMR1e4)
			}
			if e.Single != nil {
				l := *e.Single
				fix(&l.EER)
				fix(&l.EERThreshold)
				l.Points = slices.Clone(l.Points)
				for i := range l.Points {
					fix(&l.Points[i].Threshold)
					fix(&l.Points[i].FMR)
					fix(&l.Points[i].FNMR)
				}
				e.Single = &l
			}
			x.Enrolment = &e
		}
		return x
	}
	return v
}

func writeScores(name string, r *Report) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"enrolled", "probe", "type", "score", "enrolled_quality", "probe_quality"})
	for _, c := range r.Comparisons {
		kind := "impostor"
		if c.Genuine {
			kind = "genuine"
		}
		_ = w.Write([]string{
			r.Entries[c.Enrolled].Path, r.Entries[c.Probe].Path, kind,
			strconv.FormatFloat(c.Score, 'f', 6, 64),
			strconv.Itoa(r.Results[c.Enrolled].Quality), strconv.Itoa(r.Results[c.Probe].Quality),
		})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writeFailures(name string, r *Report) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"path", "error"})
	for _, fl := range r.Failures {
		_ = w.Write([]string{r.Entries[fl.Index].Path, fl.Err})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeImages writes one row per extracted image: quality, its metrics and
// the mean genuine score of the image, to study what predicts a bad match.
func writeImages(name string, r *Report) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	sum := make([]float64, len(r.Entries))
	cnt := make([]int, len(r.Entries))
	for _, c := range r.Comparisons {
		if c.Genuine {
			for _, i := range []int{c.Enrolled, c.Probe} {
				sum[i] += c.Score
				cnt[i]++
			}
		}
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"path", "quality", "coverage", "edge_contrast", "vein_contrast", "density", "sharpness", "brightness", "saturated", "local_contrast", "tilt", "finger_width", "extract_ms", "mean_genuine_score"})
	ff := func(v float64) string { return strconv.FormatFloat(v, 'f', 4, 64) }
	for i, res := range r.Results {
		if res == nil {
			continue
		}
		m := res.Metrics
		mg := math.NaN()
		if cnt[i] > 0 {
			mg = sum[i] / float64(cnt[i])
		}
		_ = w.Write([]string{r.Entries[i].Path, strconv.Itoa(res.Quality), ff(m.Coverage), ff(m.EdgeContrast), ff(m.VeinContrast),
			ff(m.Density), ff(m.Sharpness), ff(m.Brightness), ff(m.Saturated), ff(m.LocalContrast), ff(m.Tilt), ff(res.Region.Width), ff(float64(r.ExtractTime[i]) / 1e6), ff(mg)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// AddQualityGates measures and picks the quality gates of a calibration
// (QualityGates) at the threshold of the lowest resolved point of the
// calibration's level: the enrolment protocol's (ScoreEnrolment, e).
func (s *Summary) AddQualityGates(r *Report, e *Enrolment, rule GateRule) error {
	if s.Enrolment == nil || e == nil {
		return fmt.Errorf("eval: quality gates need the enrolment protocol (--enrolled)")
	}
	var low *calib.Point
	for i, p := range s.Enrolment.Calibration {
		if p.Resolved && !math.IsNaN(p.Threshold) && !math.IsInf(p.Threshold, 0) {
			low = &s.Enrolment.Calibration[i]
		}
	}
	if low == nil {
		return fmt.Errorf("eval: no resolved FMR at the enrolment level (%d impostor attempts) to measure the quality gates at", s.Enrolment.Impostor)
	}
	g, err := QualityGates(r, e, rule, low.TargetFMR, low.Threshold)
	if err != nil {
		return err
	}
	s.QualityGates = g
	return nil
}

// CalibrationFile makes the calibration file of the measurement: the
// points of the table (resolved or not, with their intervals) for the
// scanner model, with a description of the data and the quality gates
// (AddQualityGates). With the enrolment protocol the points are at its
// level (best of the K enrolled samples of a finger, what centrald
// compares); without it, of single comparisons.
func (s Summary) CalibrationFile(model, description string, synthetic bool, created time.Time) (*calib.File, error) {
	if s.QualityGates == nil {
		return nil, fmt.Errorf("%w: no quality gates measured", calib.ErrInvalid)
	}
	proto := "FVC: genuine = every two samples of a finger; impostor = first samples of every two fingers"
	if s.ImpostorProtocol == ImpostorsAll {
		proto = "genuine = every two samples of a finger; impostor = every two images of different fingers"
	}
	level := calib.Level{Comparison: calib.LevelSingle, Enrolled: 1}
	points, genuine, impostor := s.Calibration, s.Genuine, s.Impostor
	if e := s.Enrolment; e != nil {
		level = calib.Level{Comparison: calib.LevelBestOfEnrolled, Enrolled: e.Samples}
		points, genuine, impostor = e.Calibration, e.Genuine, e.Impostor
		proto = fmt.Sprintf("best of %d enrolled: each finger enrolled with its first %d samples that extracted, a comparison is the best score of a probe against them; genuine = every other sample of the finger; impostor = every image against the enrolment of every other finger", e.Samples, e.Samples)
	}
	gates := *s.QualityGates
	f := &calib.File{
		Format: calib.Format, Version: calib.Version, ScannerModel: model, Synthetic: synthetic,
		AlgorithmVersion: matcher.AlgorithmVersion, ParamsHash: s.ParamsHash,
		Params:  fmt.Sprintf("%dx%d shift %d/%d; %s", s.Params.Width, s.Params.Height, s.Params.ShiftRows, s.Params.ShiftCols, s.Params.Extraction),
		Created: created.UTC(), Level: &level, QualityGates: &gates,
		Data: calib.Data{Description: description, Protocol: proto, Images: s.Images, Subjects: s.Subjects, Fingers: s.Fingers,
			FailuresToExtract: s.FailuresToExtract, Genuine: genuine, Impostor: impostor},
	}
	for _, p := range points {
		if math.IsNaN(p.Threshold) || math.IsInf(p.Threshold, 0) {
			continue
		}
		f.Points = append(f.Points, p)
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return f, nil
}
