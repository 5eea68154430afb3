package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	for _, f := range []string{"det.png", "scores.csv", "calibration.json"} {
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

func TestEvalUsage(t *testing.T) {
	for _, args := range [][]string{
		{"eval"},
		{"eval", "--manifest", "x.csv"},
		{"eval", "--manifest", "x.csv", "--out", "o", "--orientation", "diagonal"},
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
