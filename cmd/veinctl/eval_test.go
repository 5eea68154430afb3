package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qingshan-gov/veinkiosk/matcher/calib"
	"github.com/qingshan-gov/veinkiosk/simulators/fingerimg"
)

// TestEvalOnSimulatedDataset runs `veinctl eval` on a small data set from
// the scanner simulator and `veinctl template extract --debug` on one of
// its images.
func TestEvalOnSimulatedDataset(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := fingerimg.WriteDataset(data, fingerimg.Dataset{Fingers: 6, Samples: 3, FirstSeed: 100, Conditions: fingerimg.DefaultConditions()}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	code := realMain([]string{"eval", "--manifest", filepath.Join(data, fingerimg.ManifestName), "--out", out, "--workers", "2"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "EER") || !strings.Contains(stderr.String(), "extract 18/18") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
	b, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Images, Fingers, Genuine, Impostor int
		EER                                float64 `json:"eer"`
		FTE                                int     `json:"failures_to_extract"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if s.Images != 18 || s.Fingers != 6 || s.Genuine+s.Impostor == 0 {
		t.Errorf("summary %+v", s)
	}
	t.Logf("simulated data: %+v", s)
	if s.FTE > 2 || s.EER > 0.25 {
		t.Errorf("simulated captures: %d failures, EER %.3f", s.FTE, s.EER)
	}
	for _, f := range []string{"det.png", "scores.csv", "report.md"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}

	dbg := filepath.Join(dir, "debug")
	stdout.Reset()
	stderr.Reset()
	code = realMain([]string{"template", "extract", "--debug", dbg, filepath.Join(data, "f100_01.png")}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("template extract: exit %d: %s", code, stderr.String())
	}
	var res map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("template extract output %q: %v", stdout.String(), err)
	}
	if _, ok := res["quality"]; !ok {
		t.Errorf("no quality in %v", res)
	}
	for _, f := range []string{"2-edges.png", "4-enhanced.png", "8-vein.png"} {
		if _, err := os.Stat(filepath.Join(dbg, f)); err != nil {
			t.Error(err)
		}
	}
}

// TestEvalPolicyAndCalibration writes a calibration file from simulated
// captures of 6 subjects x 2 fingers x 6 samples (every-pair impostors;
// the calibration at the server's level, best of 3 enrolled samples) and
// plays the kiosk's transactions with it.
func TestEvalPolicyAndCalibration(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := fingerimg.WriteDataset(data, fingerimg.Dataset{Fingers: 12, Samples: 6, FirstSeed: 300, Conditions: fingerimg.DefaultConditions(), FingersPerSubject: 2, Sessions: 2}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	args := []string{"eval", "--manifest", filepath.Join(data, fingerimg.ManifestName), "--out", out, "--workers", "2",
		"--impostors", "all", "--scanner-model", "VS-T", "--description", "test captures", "--synthetic", "--policy", "kiosk", "--bootstrap", "100"}
	var stdout, stderr bytes.Buffer
	// 792 impostor attempts at the enrolment level resolve only FMR 1e-1:
	// the kiosk's 1e-4/2 is refused unless mapped.
	if code := realMain(args, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "--map-unresolved") {
		t.Fatalf("unresolved target: exit %d\n%s", code, stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	if code := realMain(append(args, "--map-unresolved"), &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	f, err := calib.ReadFile(filepath.Join(out, "calibration.json"))
	if err != nil {
		t.Fatal(err)
	}
	if f.ScannerModel != "VS-T" || !f.Synthetic || f.Data.Impostor != 72*11 || f.LowestResolvedFMR() != 0.1 || f.ComparisonLevel() != (calib.Level{Comparison: calib.LevelBestOfEnrolled, Enrolled: 3}) {
		t.Errorf("calibration %+v", f)
	}
	// The quality gates: measured at the gates tried, chosen within the
	// kiosk's gates (50 and 40).
	if g := f.QualityGates; g == nil || len(g.Measured) != 6 || g.Enrol > 50 || g.Verify > 40 || g.Verify > g.Enrol || g.Measured[0].Subjects != 6 || g.FNMRAtFMR != 0.1 {
		t.Errorf("quality gates %+v", f.QualityGates)
	}
	if !strings.Contains(stdout.String(), "level best_of_enrolled/3") || !strings.Contains(stdout.String(), "quality gate  40: FTE") {
		t.Errorf("stdout:\n%s", stdout.String())
	}
	// The transactions' kiosk takes the calibration's gates (it learns
	// them with each capture nonce), not its configured 50 and 40.
	if g := f.QualityGates; g != nil && !strings.Contains(stdout.String(), fmt.Sprintf("quality gates enrol %d, verify %d (the server's", g.Enrol, g.Verify)) {
		t.Errorf("the policy's gates are not the calibration's (%+v):\n%s", g, stdout.String())
	}
	// A version 1 calibration (single comparisons) is refused by --policy
	// as by centrald, and used with --adjust-level.
	f.Version, f.Level, f.QualityGates = 1, nil, nil
	v1 := filepath.Join(dir, "v1.json")
	var enc bytes.Buffer
	if err := f.Encode(&enc); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(v1, enc.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	v1args := []string{"eval", "--manifest", filepath.Join(data, fingerimg.ManifestName), "--out", filepath.Join(dir, "out-v1"), "--workers", "2",
		"--policy", "kiosk", "--bootstrap", "10", "--map-unresolved", "--calibration", v1}
	var o1, e1 bytes.Buffer
	if code := realMain(v1args, &o1, &e1); code != 1 || !strings.Contains(e1.String(), "--adjust-level") {
		t.Errorf("single-level calibration: exit %d\n%s", code, e1.String())
	}
	o1.Reset()
	e1.Reset()
	if code := realMain(append(v1args, "--adjust-level"), &o1, &e1); code != 0 || !strings.Contains(o1.String(), "ADJUSTED") {
		t.Errorf("--adjust-level: exit %d\n%s\n%s", code, o1.String(), e1.String())
	}
	b, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Policy struct {
			Subjects int `json:"subjects"`
			FNMR     struct {
				Trials int `json:"trials"`
			} `json:"transaction_fnmr"`
			FMR struct {
				Trials int `json:"trials"`
			} `json:"transaction_fmr"`
			Cross *struct{ Trials int } `json:"transaction_fnmr_cross_session"`
		} `json:"policy"`
		Sessions  *struct{} `json:"sessions"`
		Enrolment *struct {
			Samples  int `json:"enrolled_samples_per_finger"`
			Genuine  int `json:"genuine"`
			Impostor int `json:"impostor"`
		} `json:"enrolment"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	// 6 subjects x 2 fingers, one transaction each of samples 4-6
	// (session 2), unless the gates make a subject fail to enrol;
	// impostors: 5 other subjects x 2 fingers x 6 claimed.
	if s.Policy.Subjects != 6 || s.Policy.FNMR.Trials > 12 || s.Policy.FNMR.Trials < 10 || s.Policy.FMR.Trials > 60 || s.Policy.FMR.Trials < 50 || s.Policy.Cross == nil || s.Policy.Cross.Trials != s.Policy.FNMR.Trials || s.Sessions == nil {
		t.Errorf("summary policy %+v", s.Policy)
	}
	// The enrolment protocol (default --enrolled 3): 12 fingers, samples
	// 4-6 against samples 1-3; 72 images x 11 other fingers.
	if e := s.Enrolment; e == nil || e.Samples != 3 || e.Genuine != 36 || e.Impostor != 792 {
		t.Errorf("summary enrolment %+v", e)
	}
	md, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil || !strings.Contains(string(md), "transaction FNMR") || !strings.Contains(string(md), "3 enrolled samples") || !strings.Contains(string(md), "## Quality gates") || !strings.Contains(stdout.String(), "MAPPED") {
		t.Errorf("report.md %v:\n%s\nstdout:\n%s", err, md, stdout.String())
	}
}

func TestEvalUsage(t *testing.T) {
	for _, args := range [][]string{
		{"eval"},
		{"eval", "--manifest", "x.csv"},
		{"eval", "--manifest", "x.csv", "--out", "o", "--orientation", "diagonal"},
		{"eval", "--manifest", "x.csv", "--out", "o", "--impostors", "some"},
		{"eval", "--manifest", "x.csv", "--out", "o", "--scanner-model", "VS-1"},
		{"eval", "--manifest", "x.csv", "--out", "o", "--policy", "bank"},
		{"eval", "--manifest", "x.csv", "--out", "o", "--enrolled", "-1"},
		{"eval", "--manifest", "x.csv", "--out", "o", "--scanner-model", "VS-1", "--description", "d", "--enrolled", "0"},
		{"eval", "--manifest", "x.csv", "--out", "o", "--gates", "50,40"},
		{"eval", "--manifest", "x.csv", "--out", "o", "--gates", "101"},
		{"eval", "--manifest", "x.csv", "--out", "o", "--policy", "kiosk", "--enrol-quality-floor", "101"},
		{"eval", "--manifest", "x.csv", "--out", "o", "--policy", "kiosk", "--verify-quality-floor", "-1"},
		{"template"},
		{"template", "frobnicate"},
		{"template", "extract"},
	} {
		var stdout, stderr bytes.Buffer
		if code := realMain(args, &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, code, stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if code := realMain([]string{"eval", "--manifest", filepath.Join(t.TempDir(), "none.csv"), "--out", t.TempDir()}, &stdout, &stderr); code != 1 {
		t.Errorf("missing manifest: exit %d", code)
	}
}
