package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/qingshan-gov/veinkiosk/kiosk/session"
	"github.com/qingshan-gov/veinkiosk/matcher/calib"
	"github.com/qingshan-gov/veinkiosk/matcher/eval"
	"github.com/qingshan-gov/veinkiosk/matcher/extract"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
)

func init() {
	register(command{
		name:    "eval",
		summary: "measure the matcher on a manifest of labelled images (EER, FNMR at FMR, DET)",
		run:     runEval,
	})
}

// extractFlags binds the extraction options to fs.
type extractFlags struct {
	orientation string
	method      string
	opt         extract.Options
}

func addExtractFlags(fs *flag.FlagSet) *extractFlags {
	f := &extractFlags{opt: extract.DefaultOptions()}
	fs.StringVar(&f.orientation, "orientation", "auto", "finger axis in the images: auto (from the content), any (auto, and the tip direction from the content: every quarter turn), horizontal or vertical")
	fs.BoolVar(&f.opt.Cropped, "cropped", false, "images are already cropped to the finger (no background)")
	fs.IntVar(&f.opt.Width, "width", f.opt.Width, "template width in pixels (along the finger)")
	fs.IntVar(&f.opt.Height, "height", f.opt.Height, "template height in pixels (across the finger)")
	fs.IntVar(&f.opt.Scale, "scale", f.opt.Scale, "extraction resolution in multiples of the template resolution")
	fs.Float64Var(&f.opt.Sigma, "sigma", f.opt.Sigma, "Maximum Curvature sigma in extraction pixels")
	fs.Float64Var(&f.opt.Sigma2, "sigma2", f.opt.Sigma2, "second scale of the hessian detector (0: one scale)")
	fs.Float64Var(&f.opt.Isotropic, "isotropic", f.opt.Isotropic, "scale along the finger like across it, times this (0: fit the frame length)")
	fs.Float64Var(&f.opt.TipAnchor, "tip-anchor", f.opt.TipAnchor, "with --isotropic, place a visible fingertip at this fraction of the template width (0: centre the finger)")
	fs.Float64Var(&f.opt.Fill, "fill", f.opt.Fill, "fraction of the template height the finger width spans")
	fs.Float64Var(&f.opt.EdgeMargin, "edge-margin", f.opt.EdgeMargin, "mask margin at the finger edges, fraction of the finger width")
	fs.IntVar(&f.opt.WorkAcross, "work", f.opt.WorkAcross, "size across the finger of the image the finger region is searched in")
	fs.Float64Var(&f.opt.Flatten, "flatten", f.opt.Flatten, "local contrast normalisation sigma in extraction pixels (0: global stretch)")
	fs.Float64Var(&f.opt.FlattenClip, "flatten-clip", f.opt.FlattenClip, "local deviations mapped to the grey range")
	fs.StringVar(&f.method, "method", f.opt.Method.String(), "vein detector: mc (Maximum Curvature), hessian (principal curvature) or dark (local darkness)")
	fs.Float64Var(&f.opt.Density, "density", f.opt.Density, "fraction of the mask binarised as vein (0: Miura's median rule)")
	return f
}

func (f *extractFlags) options() (extract.Options, error) {
	o, err := extract.ParseOrientation(f.orientation)
	if err != nil {
		return f.opt, fmt.Errorf("%w: %v", errUsage, err)
	}
	f.opt.Orientation = o
	if f.opt.Method, err = extract.ParseMethod(f.method); err != nil {
		return f.opt, fmt.Errorf("%w: %v", errUsage, err)
	}
	return f.opt, nil
}

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	manifest := fs.String("manifest", "", "CSV manifest with header path,subject,finger,sample (paths relative to it)")
	out := fs.String("out", "", "output directory for summary.json, report.md, det.png, scores.csv, images.csv, failures.csv (and calibration.json with --scanner-model)")
	ef := addExtractFlags(fs)
	shiftRows := fs.Int("shift-rows", defaultShiftRows, "alignment search, template rows each way")
	shiftCols := fs.Int("shift-cols", defaultShiftCols, "alignment search, template columns each way")
	tolerance := fs.Bool("tolerance", false, "experimental comparison: count an enrolled vein pixel as matched when the probe has a vein within one pixel (not the production matcher)")
	exact := fs.Bool("exact", false, "exhaustive displacement search instead of the production coarse-to-fine one")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "parallel workers")
	fingers := fs.Int("fingers", 0, "use only the first N fingers of the manifest (0: all)")
	impostors := fs.String("impostors", "fvc", "impostor comparisons: fvc (first samples of every two fingers) or all (every two images of different fingers, ~images²/2: resolves lower FMRs for a calibration)")
	model := fs.String("scanner-model", "", "write a calibration file for this scanner model (as named in its device certificates)")
	calOut := fs.String("calibration-out", "", "where to write the calibration file (default OUT/calibration.json)")
	description := fs.String("description", "", "description of the data for the calibration file (required with --scanner-model)")
	synthetic := fs.Bool("synthetic", false, "mark the calibration synthetic (simulator images)")
	policy := fs.String("policy", "", "play the kiosk's enrolment and verification transactions (ISO/IEC 19795-1): kiosk (its default policy)")
	calIn := fs.String("calibration", "", "with --policy: the calibration file whose thresholds are in force (default: the one measured by this run, on the same data: optimistic)")
	verifyFMR := fs.Float64("verify-fmr", calib.DefaultPolicy.VerifyFMR, "with --policy: centrald's --verify-fmr")
	mapUnresolved := fs.Bool("map-unresolved", false, "with --policy: map a target FMR the calibration does not resolve to its lowest resolved point, as centrald --calibration-unresolved=lowest")
	adjustLevel := fs.Bool("adjust-level", false, "with --policy: use a calibration measured at another comparison level than the server's, its targets divided by the union bound, as centrald --calibration-level=adjust")
	serverMinQuality := fs.Int("server-min-quality", -1, "with --policy: centrald's --min-quality override (-1: the calibration's quality gates, as centrald by default)")
	maxFTE := fs.Float64("max-fte", 0.01, "with --scanner-model: the enrolment quality gate is the highest gate tried whose FTE is at most this")
	maxRecapture := fs.Float64("max-recapture", 0.15, "with --scanner-model: the verification quality gate is the highest gate tried (up to the enrolment gate) asking again for at most this share of genuine probes")
	gatesTried := fs.String("gates", "0,10,20,30,40,50", "with --scanner-model: the quality gates tried, rising; capped by the kiosk's gates (--enrol-min-quality, --verify-min-quality)")
	bootstrap := fs.Int("bootstrap", 1000, "with --policy: bootstrap replicates over subjects")
	consistency := fs.Bool("consistency", true, "with --policy: the server's enrolment consistency check (a finger's captures must match each other at the verification threshold in force) in the transactions and the enrolment protocol; false: off, to measure it")
	enrolled := fs.Int("enrolled", session.DefaultConfig().EnrolCaptures, "enrolment protocol: a probe against each finger's first N samples, best score (as the server's verification); 0: off")
	enrolMinQuality := fs.Int("enrol-min-quality", session.DefaultConfig().EnrolMinQuality, "with --scanner-model: the highest enrolment quality gate chosen (the kiosk's configured gate)")
	verifyMinQuality := fs.Int("verify-min-quality", session.DefaultConfig().VerifyMinQuality, "with --scanner-model: the highest verification quality gate chosen (the kiosk's configured gate)")
	enrolFloor := fs.Int("enrol-quality-floor", session.DefaultConfig().EnrolQualityFloor, "with --policy: the kiosk's enrol_quality_floor (it takes the server's enrolment gate, raised to this)")
	verifyFloor := fs.Int("verify-quality-floor", session.DefaultConfig().VerifyQualityFloor, "with --policy: the kiosk's verify_quality_floor (it takes the server's verification gate, raised to this)")
	subjects := fs.String("subjects", eval.SubjectsAll, "subject half: all, odd (the tuning half) or even (the checking half); numeric labels by their parity, others by a hash")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: veinctl eval --manifest FILE.csv --out DIR [flags]")
		fmt.Fprintln(stderr, "\nFVC protocol: genuine = every two samples of a finger; impostor = first samples of every two fingers.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *manifest == "" || *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("%w: --manifest and --out are required", errUsage)
	}
	opt, err := ef.options()
	if err != nil {
		return err
	}
	if *impostors != "fvc" && *impostors != "all" {
		return fmt.Errorf("%w: --impostors %q: fvc or all", errUsage, *impostors)
	}
	if *model != "" && *description == "" {
		return fmt.Errorf("%w: --scanner-model needs --description of the data", errUsage)
	}
	if *enrolled < 0 {
		return fmt.Errorf("%w: --enrolled %d", errUsage, *enrolled)
	}
	if *model != "" && *enrolled == 0 {
		return fmt.Errorf("%w: --scanner-model needs the enrolment level (--enrolled K, K = the captures the kiosk enrols per finger): centrald compares a capture with the best of a finger's K enrolled samples", errUsage)
	}
	gates, err := parseGates(*gatesTried)
	if err != nil {
		return err
	}
	if *policy != "" && *policy != "kiosk" {
		return fmt.Errorf("%w: --policy %q: only kiosk", errUsage, *policy)
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"enrol-quality-floor", *enrolFloor}, {"verify-quality-floor", *verifyFloor}} {
		if f.v < 0 || f.v > 100 {
			return fmt.Errorf("%w: --%s %d: 0..100", errUsage, f.name, f.v)
		}
	}
	var inForce *calib.File
	if *calIn != "" {
		if inForce, err = calib.ReadFile(*calIn); err != nil {
			return err
		}
	}
	entries, err := eval.ReadManifest(*manifest)
	if err != nil {
		return err
	}
	if entries, err = eval.FilterSubjects(entries, *subjects); err != nil {
		return err
	}
	if *fingers > 0 {
		entries = firstFingers(entries, *fingers)
	}
	start := time.Now()
	cfg := eval.Config{Entries: entries, Extract: opt, ShiftRows: *shiftRows, ShiftCols: *shiftCols, Tolerance: *tolerance, Exact: *exact, Workers: *workers, Progress: stderr,
		AllImpostors: *impostors == "all"}
	rep, err := eval.Run(ctx, cfg)
	if err != nil {
		return err
	}
	s := eval.Summarize(rep)
	s.Manifest = *manifest
	s.Workers = *workers
	s.Elapsed = time.Since(start).Round(time.Millisecond).String()
	s.Settings = map[string]any{
		"orientation": opt.Orientation.String(), "cropped": opt.Cropped,
		"width": opt.Width, "height": opt.Height, "scale": opt.Scale, "sigma": opt.Sigma, "sigma2": opt.Sigma2,
		"fill": opt.Fill, "isotropic": opt.Isotropic, "tip_anchor": opt.TipAnchor, "edge_margin": opt.EdgeMargin, "work": opt.WorkAcross, "flatten": opt.Flatten, "flatten_clip": opt.FlattenClip, "method": opt.Method.String(), "density": opt.Density,
		"subjects": *subjects, "shift_rows": *shiftRows, "shift_cols": *shiftCols, "tolerance": *tolerance, "exact": *exact, "impostors": *impostors,
	}
	var er *eval.Enrolment
	if *enrolled > 0 {
		if er, err = eval.ScoreEnrolment(ctx, rep, *enrolled, *workers); err != nil {
			return err
		}
		s.Enrolment = eval.SummarizeEnrolment(er, *enrolled)
		s.Enrolment.SingleAtLevel = eval.SingleThresholdsAtLevel(s.Calibration, er)
		s.Settings["enrolled"] = *enrolled
	}
	var gatesErr error
	if er != nil {
		rule := eval.GateRule{Gates: gates, EnrolFingers: apiv1.EnrolFingers, EnrolCaptures: *enrolled, MaxEnrolCaptures: apiv1.MaxCapturesPerFinger,
			MaxFTE: *maxFTE, MaxRecapture: *maxRecapture, MaxEnrol: *enrolMinQuality, MaxVerify: *verifyMinQuality}
		gatesErr = s.AddQualityGates(rep, er, rule)
	}
	var cal *calib.File
	if *model != "" {
		if gatesErr != nil {
			return fmt.Errorf("calibration: %w", gatesErr)
		}
		cal, err = s.CalibrationFile(*model, *description, *synthetic, time.Now())
		if err != nil {
			return fmt.Errorf("calibration: %w", err)
		}
	}
	consistencyTh := 0.0 // the enrolment consistency check's threshold (with --policy)
	if *policy != "" {
		src := "--calibration " + *calIn
		if inForce == nil {
			src = "this run's own measurement (thresholds from the data they are tested on: optimistic)"
			inForce = cal
			if inForce == nil {
				if gatesErr != nil {
					return fmt.Errorf("--policy: the run resolves no threshold of its own; give --calibration: %w", gatesErr)
				}
				if inForce, err = s.CalibrationFile("this-run", *manifest, false, time.Now()); err != nil {
					return fmt.Errorf("--policy: the run resolves no threshold of its own; give --calibration: %w", err)
				}
			}
		}
		if inForce.ParamsHash != s.ParamsHash {
			return fmt.Errorf("--policy: the calibration is for params hash %s, this run's pipeline is %s", inForce.ParamsHash, s.ParamsHash)
		}
		pol := kioskPolicy()
		pol.VerifyFMR = *verifyFMR
		th, err := calib.ResolveThresholds(inForce, pol, *mapUnresolved, *adjustLevel)
		if err != nil {
			switch {
			case errors.Is(err, calib.ErrUnresolved):
				return fmt.Errorf("--policy: %w (centrald would refuse to start; --map-unresolved maps it to the lowest resolved point)", err)
			case errors.Is(err, calib.ErrLevel):
				return fmt.Errorf("--policy: %w (centrald would refuse to start; --adjust-level uses it with the union bound)", err)
			}
			return fmt.Errorf("--policy: %w", err)
		}
		// The server's gates: the calibration's (a version 1 file has
		// none: centrald's default 40), or the --server-min-quality
		// override. The kiosk learns them with each capture nonce and
		// applies them, raised to its floors (kiosk/session Gates).
		enrolGate, verifyGate := 40, 40
		if g := inForce.QualityGates; g != nil {
			enrolGate, verifyGate = g.Enrol, g.Verify
		}
		if *serverMinQuality >= 0 {
			enrolGate, verifyGate = *serverMinQuality, *serverMinQuality
		}
		if *consistency {
			consistencyTh = th.Verify.Threshold // the server's rule (server/api consistency.go)
		}
		kc := session.DefaultConfig() // captures and attempts; the kiosk's floors come from the flags
		p := eval.Policy{
			EnrolFingers: apiv1.EnrolFingers, EnrolCaptures: kc.EnrolCaptures, MaxEnrolCaptures: apiv1.MaxCapturesPerFinger,
			EnrolMinQuality: max(*enrolFloor, enrolGate), VerifyMinQuality: max(*verifyFloor, verifyGate),
			MaxTries: kc.MaxTries, VerifyThreshold: th.Verify.Threshold, ConsistencyThreshold: consistencyTh, Bootstrap: *bootstrap, Seed: 1,
		}
		if s.Policy, err = eval.EvaluatePolicy(rep, p); err != nil {
			return err
		}
		mapped := ""
		if th.Verify.Mapped {
			mapped = fmt.Sprintf(", MAPPED to the lowest resolved %g", th.Verify.InForceFMR)
		}
		if th.LevelMismatch {
			mapped += fmt.Sprintf(", calibration level %s ADJUSTED by the union bound (x1/%g)", th.Level, th.LevelFactor)
		}
		s.Settings["policy_thresholds"] = fmt.Sprintf("from %s; verify FMR %g = %g per comparison at %s%s; threshold %.4f; quality gates enrol %d, verify %d (the server's, which the kiosk learns with each nonce, raised to its floors)",
			src, *verifyFMR, th.Verify.TargetFMR, pol.Level, mapped, th.Verify.Threshold, p.EnrolMinQuality, p.VerifyMinQuality)
	}
	if *enrolled > 0 && consistencyTh > 0 {
		// The enrolment protocol again, with the server's consistency
		// check. The calibration at this level (written above) stays the
		// one measured without it: the check refuses enrolments, it does
		// not change what impostors score.
		erc, err := eval.ScoreEnrolmentChecked(ctx, rep, *enrolled, *workers, consistencyTh)
		if err != nil {
			return err
		}
		cal0, lvl := s.Enrolment.Calibration, s.Enrolment.SingleAtLevel
		s.Enrolment = eval.SummarizeEnrolment(erc, *enrolled)
		s.Enrolment.Calibration, s.Enrolment.SingleAtLevel = cal0, lvl
		s.Settings["enrol_consistency_threshold"] = consistencyTh
	}
	if err := eval.WriteOutputs(*out, rep, s); err != nil {
		return err
	}
	if cal != nil {
		name := *calOut
		if name == "" {
			name = filepath.Join(*out, "calibration.json")
		}
		if err := writeCalibration(name, cal); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "calibration of %s at level %s (lowest resolved FMR %g; quality gates enrol %d, verify %d) written to %s\n",
			cal.ScannerModel, cal.ComparisonLevel(), cal.LowestResolvedFMR(), cal.QualityGates.Enrol, cal.QualityGates.Verify, name)
		for _, r := range cal.QualityGates.Measured {
			fmt.Fprintf(stdout, "  quality gate %3d: FTE %d/%d = %.1f %%, probes asked again %.1f %%, FNMR %.2f %% at FMR %g\n", r.Gate, r.FTESubjects, r.Subjects, 100*r.FTE, 100*r.Recaptured, 100*r.FNMR, cal.QualityGates.FNMRAtFMR)
		}
	}
	fmt.Fprintf(stdout, "images %d, fingers %d, failures to extract %d\n", s.Images, s.Fingers, s.FailuresToExtract)
	fmt.Fprintf(stdout, "genuine %d (+%d lost to failures to extract, counted as rejections), impostor %d (%s)\n", s.Genuine, s.GenuineFailed, s.Impostor, s.ImpostorProtocol)
	fmt.Fprintf(stdout, "EER %.2f %% (threshold %.4f)\n", 100*s.EER, s.EERThreshold)
	fmt.Fprintf(stdout, "FNMR at FMR 1e-2: %.2f %% (threshold %.4f)\n", 100*s.FNMRAtFMR1e2, s.ThresholdAtFMR1e2)
	res := ""
	if !s.FMR1e3Resolved {
		res = fmt.Sprintf("; not resolved: %d impostor comparisons expect %.0f errors, fewer than %d", s.Impostor, 1e-3*float64(s.Impostor), calib.RuleOf30)
	}
	fmt.Fprintf(stdout, "FNMR at FMR 1e-3: %.2f %% (threshold %.4f%s)\n", 100*s.FNMRAtFMR1e3, s.ThresholdAtFMR1e3, res)
	fmt.Fprintf(stdout, "quality vs genuine score: Spearman %.3f\n", s.QualityGenuineRank)
	fmt.Fprintf(stdout, "extract p50 %.1f ms, compare p50 %.1f us (prepared probe %.1f us), template %d bytes\n", s.ExtractMsP50, s.CompareUsP50, s.ScoreUsP50, s.TemplateBytes)
	if e := s.Enrolment; e != nil {
		fmt.Fprintf(stdout, "enrolment protocol (a probe against a finger's %d enrolled samples, best score): genuine %d (+%d lost), impostor %d; EER %.2f %%\n", e.Samples, e.Genuine, e.GenuineFailed, e.Impostor, 100*e.EER)
		for _, p := range e.Points {
			res := "resolved"
			if !p.Resolved {
				res = fmt.Sprintf("not resolved: %.1f errors expected", p.TargetFMR*float64(e.Impostor))
			}
			fmt.Fprintf(stdout, "  FNMR at FMR %g: %.2f %% (threshold %.4f, %d impostor errors, %s)\n", p.TargetFMR, 100*p.FNMR, p.Threshold, p.ImpostorErrors, res)
		}
		for _, r := range e.SingleAtLevel {
			fmt.Fprintf(stdout, "  single-pair threshold for FMR %g (%.4f): FMR %.2e at this level (%d impostor errors, 95 %% [%.2e, %.2e]), %.1fx the single pairs'\n",
				r.TargetFMR, r.Threshold, r.LevelFMR, r.LevelErrors, r.LevelCI95[0], r.LevelCI95[1], r.LevelFMR/max(r.SingleFMR, 1e-300))
		}
		if l := e.Single; l != nil {
			for _, p := range l.Points {
				fmt.Fprintf(stdout, "  against the first enrolled sample only: FNMR at FMR %g: %.2f %% (threshold %.4f, %d impostor errors)\n", p.TargetFMR, 100*p.FNMR, p.Threshold, p.ImpostorErrors)
			}
		}
		if c := e.Consistency; c != nil {
			fmt.Fprintf(stdout, "  consistency check at %.4f: %d refusals of %d fingers, %d captures retaken, %d fingers not enrolled\n", c.Threshold, c.Refusals, c.FingersRefused, c.Retaken, c.FingersFailed)
		}
		for _, r := range e.Recapture[1:] {
			fmt.Fprintf(stdout, "  re-capturing probes below quality %d (%.1f %% of them): FNMR at FMR 1e-4 %.2f %%\n", r.MinQuality, 100*r.ProbesBelow, 100*r.FNMRAtFMR1e4)
		}
	}
	b, _ := json.Marshal(s.QualityBands)
	fmt.Fprintf(stdout, "quality bands: %s\n", b)
	if p := s.Policy; p != nil {
		fmt.Fprintf(stdout, "policy: %s\n", s.Settings["policy_thresholds"])
		for _, r := range []struct {
			name string
			r    eval.Rate
		}{{"FTE", p.FTE}, {"FTA", p.FTA}, {"transaction FNMR", p.FNMR}, {"transaction FMR", p.FMR}} {
			fmt.Fprintf(stdout, "  %-17s %d/%d = %.3f %% (95 %% CP [%.3f, %.3f] %%, bootstrap over %d subjects [%.3f, %.3f] %%)\n", r.name, r.r.Errors, r.r.Trials, 100*r.r.Rate,
				100*r.r.CI95[0], 100*r.r.CI95[1], p.Subjects, 100*r.r.BootstrapCI[0], 100*r.r.BootstrapCI[1])
		}
		if c := p.Consistency; c != nil {
			fmt.Fprintf(stdout, "  consistency check at %.4f: %d refusals of %d fingers, %d captures retaken, %d fingers not enrolled\n", c.Threshold, c.Refusals, c.FingersRefused, c.Retaken, c.FingersFailed)
		}
	}
	fmt.Fprintf(stdout, "wrote %s\n", *out)
	return nil
}

// kioskPolicy is centrald's default policy (calib.DefaultPolicy) with the
// kiosk's fingers and comparison level.
func kioskPolicy() calib.Policy {
	p := calib.DefaultPolicy
	p.Fingers = apiv1.EnrolFingers
	p.Level = calib.Level{Comparison: calib.LevelBestOfEnrolled, Enrolled: apiv1.EnrolCapturesPerFinger}
	return p
}

// parseGates reads --gates: quality gates 0..100, rising.
func parseGates(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		g, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || g < 0 || g > 100 || (len(out) > 0 && g <= out[len(out)-1]) {
			return nil, fmt.Errorf("%w: --gates %q: quality gates 0..100, rising", errUsage, s)
		}
		out = append(out, g)
	}
	return out, nil
}

func writeCalibration(name string, f *calib.File) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	out, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := f.Encode(out); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// firstFingers keeps the entries of the first n fingers in manifest order.
func firstFingers(entries []eval.Entry, n int) []eval.Entry {
	keep := map[string]bool{}
	var out []eval.Entry
	for _, e := range entries {
		k := e.Key()
		if !keep[k] {
			if len(keep) >= n {
				continue
			}
			keep[k] = true
		}
		out = append(out, e)
	}
	return out
}
