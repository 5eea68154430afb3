package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"

	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/matcher/eval"
	"github.com/qingshan-gov/veinkiosk/matcher/extract"
)

// Defaults of the alignment search (template pixels): those of
// matcher.DefaultParams, which measured best (docs/evaluation.md).
var (
	defaultShiftRows = matcher.DefaultParams.ShiftRows
	defaultShiftCols = matcher.DefaultParams.ShiftCols
)

func init() {
	register(command{
		name:    "template",
		summary: "work with vein templates (extract)",
		run:     runTemplate,
	})
}

func runTemplate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: veinctl template extract [flags] IMAGE")
		return fmt.Errorf("%w: missing subcommand", errUsage)
	}
	switch args[0] {
	case "extract":
		return runTemplateExtract(ctx, args[1:], stdout, stderr)
	}
	return fmt.Errorf("%w: unknown subcommand %q (want extract)", errUsage, args[0])
}

func runTemplateExtract(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("template extract", flag.ContinueOnError)
	fs.SetOutput(stderr)
	debugDir := fs.String("debug", "", "write an image of every pipeline stage into this directory")
	ef := addExtractFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: veinctl template extract [flags] IMAGE")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("%w: want exactly one image", errUsage)
	}
	opt, err := ef.options()
	if err != nil {
		return err
	}
	img, err := eval.LoadImage(fs.Arg(0))
	if err != nil {
		return err
	}
	var dumpErr error
	if *debugDir != "" {
		if err := os.MkdirAll(*debugDir, 0o755); err != nil {
			return err
		}
		opt.Debug = func(stage string, im image.Image) {
			if dumpErr == nil {
				dumpErr = writePNG(filepath.Join(*debugDir, stage+".png"), im)
			}
		}
	}
	res, err := extract.Extract(img, opt)
	if err != nil {
		return err
	}
	if dumpErr != nil {
		return dumpErr
	}
	out := map[string]any{
		"width": res.Vein.W, "height": res.Vein.H,
		"vein_pixels": res.Vein.Count(), "mask_pixels": res.Mask.Count(),
		"quality": res.Quality, "metrics": res.Metrics,
		"tilt_degrees": res.Metrics.Tilt, "finger_width_px": res.Region.Width,
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func writePNG(name string, im image.Image) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := png.Encode(f, im); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
