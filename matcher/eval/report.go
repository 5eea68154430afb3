package eval

import (
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/qingshan-gov/veinkiosk/matcher/calib"
)

// WriteReport writes a short evaluation report in the manner of ISO/IEC
// 19795-1 (markdown, with the DET plot beside it).
func WriteReport(name string, s Summary) error {
	return os.WriteFile(name, []byte(Report19795(s)), 0o644)
}

func pct(v float64) string {
	if math.IsNaN(v) || v < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f %%", 100*v)
}

func sci(v float64) string {
	if v == 0 {
		return "0"
	}
	return fmt.Sprintf("%.2g", v)
}

// Report19795 renders the report.
func Report19795(s Summary) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("# Evaluation report\n\n")
	w("Technology evaluation after ISO/IEC 19795-1: offline, on a fixed set of images.\n\n")
	w("## Data and protocol\n\n")
	w("- manifest: `%s`\n- %d images of %d fingers of %d subjects\n", s.Manifest, s.Images, s.Fingers, s.Subjects)
	w("- failures to extract: %d (%s of images); they make %d genuine comparisons impossible, counted as rejections in every FNMR below\n", s.FailuresToExtract, pct(s.FTE), s.GenuineFailed)
	w("- comparisons: %d genuine (every two samples of a finger), %d impostor (%s)\n", s.Genuine, s.Impostor, s.ImpostorProtocol)
	w("- pipeline: params hash %s, %s\n\n", s.ParamsHash, s.Params.Extraction)
	w("## Single comparisons\n\n")
	w("EER %s (threshold %.4f). The DET curve is `det.png`: it stops at FMR = 1/%d impostor comparisons; squares mark the measured operating points.\n\n", pct(s.EER), s.EERThreshold, max(s.Impostor, 1))
	w("| target FMR | threshold | impostor errors | measured FMR | 95 %% interval (Clopper-Pearson) | FNMR | resolved (>= %d errors expected) |\n|---|---|---|---|---|---|---|\n", calib.RuleOf30)
	for _, p := range s.Calibration {
		res := "yes"
		if !p.Resolved {
			res = fmt.Sprintf("no (%.1f expected)", p.TargetFMR*float64(p.Impostors))
		}
		w("| %s | %.4f | %d / %d | %s | [%s, %s] | %s | %s |\n", sci(p.TargetFMR), p.Threshold, p.ImpostorErrors, p.Impostors, sci(p.FMR), sci(p.FMRCI95[0]), sci(p.FMRCI95[1]), pct(p.FNMR), res)
	}
	w("\nOnly resolved rows may give thresholds; the others say only that the FMR lies in their interval.\n\n")
	if e := s.Enrolment; e != nil {
		w("## Verification attempts against a finger's %d enrolled samples\n\n", e.Samples)
		w("Each finger's first %d usable samples are its enrolment; every other sample of the finger is one genuine attempt (%d, plus %d lost to failures to extract, counted as rejections), every usable image against every other finger's enrolment one impostor attempt (%d; they share images, so their errors are not independent). Score: %s. EER %s.\n\n", e.Samples, e.Genuine, e.GenuineFailed, e.Impostor, e.Fusion, pct(e.EER))
		w("| target FMR | threshold | impostor errors | 95 %% interval | FNMR | resolved |\n|---|---|---|---|---|---|\n")
		for _, p := range e.Points {
			res := "yes"
			if !p.Resolved {
				res = fmt.Sprintf("no (%.1f expected)", p.TargetFMR*float64(e.Impostor))
			}
			w("| %s | %.4f | %d | [%s, %s] | %s | %s |\n", sci(p.TargetFMR), p.Threshold, p.ImpostorErrors, sci(p.FMRCI95[0]), sci(p.FMRCI95[1]), pct(p.FNMR), res)
		}
		if len(e.SingleAtLevel) > 0 {
			w("\nThe single-comparison thresholds at this level (what a calibration of single comparisons runs at in a server that takes the best of %d):\n\n| single target FMR | threshold | FMR at this level | impostor errors | 95 %% interval |\n|---|---|---|---|---|\n", e.Samples)
			for _, r := range e.SingleAtLevel {
				w("| %s | %.4f | %s | %d | [%s, %s] |\n", sci(r.TargetFMR), r.Threshold, sci(r.LevelFMR), r.LevelErrors, sci(r.LevelCI95[0]), sci(r.LevelCI95[1]))
			}
		}
		if l := e.Single; l != nil {
			w("\nAgainst the first enrolled sample only (one template per finger): EER %s", pct(l.EER))
			for _, p := range l.Points {
				w("; FNMR at FMR %s %s (%d impostor errors)", sci(p.TargetFMR), pct(p.FNMR), p.ImpostorErrors)
			}
			w(".\n")
		}
		if c := e.Consistency; c != nil {
			w("\n%s\n", c.sentence())
		}
		w("\nRe-capturing probes below a quality gate (the threshold stays that of FMR 1e-4 over all impostor attempts):\n\n| probe quality gate | probes below it | FNMR at FMR 1e-4 of the rest |\n|---|---|---|\n")
		for _, r := range e.Recapture {
			w("| %d | %s | %s |\n", r.MinQuality, pct(r.ProbesBelow), pct(r.FNMRAtFMR1e4))
		}
		w("\n")
	}
	if g := s.QualityGates; g != nil {
		w("## Quality gates\n\nChosen: enrolment %d, verification %d (%s).\n\n| gate | FTE (subjects) | probes asked again | FNMR at FMR %s of the rest |\n|---|---|---|---|\n", g.Enrol, g.Verify, g.Rule, sci(g.FNMRAtFMR))
		for _, r := range g.Measured {
			w("| %d | %d / %d | %s | %s |\n", r.Gate, r.FTESubjects, r.Subjects, pct(r.Recaptured), pct(r.FNMR))
		}
		w("\n")
	}
	if ss := s.Sessions; ss != nil {
		w("## Sessions\n\n| genuine pairs | count | lost to FTE | EER | FNMR at FMR 1e-2 | FNMR at FMR 1e-3 |\n|---|---|---|---|---|---|\n")
		for _, r := range []struct {
			name string
			v    SessionRates
		}{{"same session", ss.Same}, {"cross session", ss.Cross}} {
			w("| %s | %d | %d | %s | %s | %s |\n", r.name, r.v.Genuine, r.v.GenuineFailed, pct(r.v.EER), pct(r.v.FNMRAtFMR1e2), pct(r.v.FNMRAtFMR1e3))
		}
		w("\n")
	}
	if p := s.Policy; p != nil {
		pol := p.Policy
		w("## Transactions (the kiosk's policy)\n\n")
		w("Enrolment: %d fingers per subject (%d here), %d captures per finger of quality >= %d, at most %d captures per finger; verification: up to %d attempts, each capture of quality >= %d compared with every enrolled template of the claimed subject (matcher.Gallery.Verify, as the server) at the per-comparison threshold %.4f.\n\n",
			pol.EnrolFingers, p.FingersEnrolled, pol.EnrolCaptures, max(pol.EnrolMinQuality, pol.ServerMinQuality), pol.MaxEnrolCaptures, pol.MaxTries, max(pol.VerifyMinQuality, pol.ServerMinQuality), pol.VerifyThreshold)
		w("| rate | errors / trials | rate | 95 %% Clopper-Pearson | 95 %% bootstrap over %d subjects |\n|---|---|---|---|---|\n", p.Subjects)
		row := func(name string, r Rate, boot bool) {
			bs := "-"
			if boot {
				bs = fmt.Sprintf("[%s, %s]", pct(r.BootstrapCI[0]), pct(r.BootstrapCI[1]))
			}
			w("| %s | %d / %d | %s | [%s, %s] | %s |\n", name, r.Errors, r.Trials, pct(r.Rate), pct(r.CI95[0]), pct(r.CI95[1]), bs)
		}
		row("FTE (subjects)", p.FTE, true)
		row("FTA (attempts)", p.FTA, true)
		row("transaction FNMR (FTA counted)", p.FNMR, true)
		row("attempt FNMR (compared attempts)", p.AttemptFNMR, false)
		row("transaction FMR (zero-effort)", p.FMR, true)
		if p.SameSession != nil {
			row("transaction FNMR, same session", *p.SameSession, false)
			row("transaction FNMR, cross session", *p.CrossSession, false)
		}
		w("\n%d samples left over could not fill a transaction and were not used.\n", p.LeftoverSamples)
		if c := p.Consistency; c != nil {
			w("\n%s\n", c.sentence())
		}
		if p.FMR.Errors == 0 && p.FMR.Trials > 0 {
			w("No impostor transaction was accepted: with %d trials the FMR is below %s at 95 %% confidence (rule of 3: %s), nothing finer.\n", p.FMR.Trials, sci(p.FMR.CI95[1]), sci(3/float64(p.FMR.Trials)))
		}
		w("\n")
	}
	w("![DET](det.png)\n")
	return b.String()
}

// sentence says what the consistency check did, for report.md.
func (c *ConsistencyReport) sentence() string {
	return fmt.Sprintf("Enrolment consistency check (matcher.CheckConsistency at %.4f, the server's rule): %d refusals of %d fingers, %d captures taken again from the finger's next samples, %d fingers not enrolled because their samples ran out.",
		c.Threshold, c.Refusals, c.FingersRefused, c.Retaken, c.FingersFailed)
}
