package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/qingshan-gov/veinkiosk/matcher/eval"
	"github.com/qingshan-gov/veinkiosk/matcher/extract"
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
	fs.StringVar(&f.orientation, "orientation", "auto", "finger axis in the images: auto (the long side), horizontal or vertical")
	fs.BoolVar(&f.opt.Cropped, "cropped", false, "images are already cropped to the finger (no background)")
	fs.IntVar(&f.opt.Width, "width", f.opt.Width, "template width in pixels (along the finger)")
	fs.IntVar(&f.opt.Height, "height", f.opt.Height, "template height in pixels (across the finger)")
	fs.IntVar(&f.opt.Scale, "scale", f.opt.Scale, "extraction resolution in multiples of the template resolution")
	fs.Float64Var(&f.opt.Sigma, "sigma", f.opt.Sigma, "Maximum Curvature sigma in extraction pixels")
	fs.Float64Var(&f.opt.Sigma2, "sigma2", f.opt.Sigma2, "second scale of the hessian detector (0: one scale)")
	fs.Float64Var(&f.opt.Isotropic, "isotropic", f.opt.Isotropic, "scale along the finger like across it, times this (0: fit the frame length)")
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
	out := fs.String("out", "", "output directory for summary.json, scores.csv, images.csv, calibration.json, matcher-calibration.json, det.png")
	ef := addExtractFlags(fs)
	shiftRows := fs.Int("shift-rows", defaultShiftRows, "alignment search, template rows each way")
	shiftCols := fs.Int("shift-cols", defaultShiftCols, "alignment search, template columns each way")
	tolerance := fs.Bool("tolerance", false, "experimental comparison: count an enrolled vein pixel as matched when the probe has a vein within one pixel (not the production matcher)")
	exact := fs.Bool("exact", false, "exhaustive displacement search instead of the production coarse-to-fine one")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "parallel workers")
	fingers := fs.Int("fingers", 0, "use only the first N fingers of the manifest (0: all)")
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
	entries, err := eval.ReadManifest(*manifest)
	if err != nil {
		return err
	}
	if *fingers > 0 {
		entries = firstFingers(entries, *fingers)
	}
	start := time.Now()
	cfg := eval.Config{Entries: entries, Extract: opt, ShiftRows: *shiftRows, ShiftCols: *shiftCols, Tolerance: *tolerance, Exact: *exact, Workers: *workers, Progress: stderr}
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
		"fill": opt.Fill, "isotropic": opt.Isotropic, "edge_margin": opt.EdgeMargin, "work": opt.WorkAcross, "flatten": opt.Flatten, "flatten_clip": opt.FlattenClip, "method": opt.Method.String(), "density": opt.Density,
		"shift_rows": *shiftRows, "shift_cols": *shiftCols, "tolerance": *tolerance, "exact": *exact,
	}
	if err := eval.WriteOutputs(*out, rep, s); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "images %d, fingers %d, failures to extract %d\n", s.Images, s.Fingers, s.FailuresToExtract)
	fmt.Fprintf(stdout, "genuine %d, impostor %d\n", s.Genuine, s.Impostor)
	fmt.Fprintf(stdout, "EER %.2f %% (threshold %.4f)\n", 100*s.EER, s.EERThreshold)
	fmt.Fprintf(stdout, "FNMR at FMR 1e-2: %.2f %% (threshold %.4f)\n", 100*s.FNMRAtFMR1e2, s.ThresholdAtFMR1e2)
	res := ""
	if !s.FMR1e3Resolved {
		res = fmt.Sprintf("; not resolved: only %d impostor comparisons", s.Impostor)
	}
	fmt.Fprintf(stdout, "FNMR at FMR 1e-3: %.2f %% (threshold %.4f%s)\n", 100*s.FNMRAtFMR1e3, s.ThresholdAtFMR1e3, res)
	fmt.Fprintf(stdout, "quality vs genuine score: Spearman %.3f\n", s.QualityGenuineRank)
	fmt.Fprintf(stdout, "extract p50 %.1f ms, compare p50 %.1f us (prepared probe %.1f us), template %d bytes\n", s.ExtractMsP50, s.CompareUsP50, s.ScoreUsP50, s.TemplateBytes)
	b, _ := json.Marshal(s.QualityBands)
	fmt.Fprintf(stdout, "quality bands: %s\n", b)
	fmt.Fprintf(stdout, "wrote %s\n", *out)
	return nil
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
