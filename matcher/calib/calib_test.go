package calib

import (
	"bytes"
	"errors"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"
)

// binomTail is P(X <= k) for X ~ Binomial(n, p), summed directly.
func binomTail(k, n int, p float64) float64 {
	var s float64
	for i := 0; i <= k; i++ {
		lc, _ := math.Lgamma(float64(n + 1))
		l1, _ := math.Lgamma(float64(i + 1))
		l2, _ := math.Lgamma(float64(n - i + 1))
		s += math.Exp(lc - l1 - l2 + float64(i)*math.Log(p) + float64(n-i)*math.Log1p(-p))
	}
	return s
}

func TestClopperPearson(t *testing.T) {
	// Closed forms at k = 0 and k = n.
	for _, n := range []int{1, 10, 100, 28680} {
		lo, hi := ClopperPearson(0, n, 0.95)
		if want := 1 - math.Pow(0.025, 1/float64(n)); lo != 0 || math.Abs(hi-want) > 1e-9*math.Max(want, 1e-6) {
			t.Errorf("k=0 n=%d: [%g, %g], want [0, %g]", n, lo, hi, want)
		}
		lo, hi = ClopperPearson(n, n, 0.95)
		if want := math.Pow(0.025, 1/float64(n)); hi != 1 || math.Abs(lo-want) > 1e-9 {
			t.Errorf("k=n=%d: [%g, %g], want [%g, 1]", n, lo, hi, want)
		}
	}
	// The defining equations, against direct binomial sums.
	for _, c := range []struct{ k, n int }{{1, 10}, {3, 28680}, {30, 1000}, {5, 50}, {200, 400}, {2, 190}} {
		lo, hi := ClopperPearson(c.k, c.n, 0.95)
		if got := 1 - binomTail(c.k-1, c.n, lo); math.Abs(got-0.025) > 1e-6 {
			t.Errorf("k=%d n=%d: P(X>=k | %g) = %g, want 0.025", c.k, c.n, lo, got)
		}
		if got := binomTail(c.k, c.n, hi); math.Abs(got-0.025) > 1e-6 {
			t.Errorf("k=%d n=%d: P(X<=k | %g) = %g, want 0.025", c.k, c.n, hi, got)
		}
		if p := float64(c.k) / float64(c.n); !(lo < p && p < hi) {
			t.Errorf("k=%d n=%d: [%g, %g] misses %g", c.k, c.n, lo, hi, p)
		}
	}
	if lo, hi := ClopperPearson(0, 0, 0.95); lo != 0 || hi != 1 {
		t.Errorf("n=0: [%g, %g]", lo, hi)
	}
}

func TestResolves(t *testing.T) {
	for _, c := range []struct {
		target float64
		n      int
		want   bool
	}{{1e-3, 30000, true}, {1e-3, 29999, false}, {1e-4, 28680, false}, {1e-4, 300000, true}} {
		if got := Resolves(c.target, c.n); got != c.want {
			t.Errorf("Resolves(%g, %d) = %v", c.target, c.n, got)
		}
	}
}

// testFile is a valid calibration: 1e6 impostors resolve down to 3e-5.
func testFile(model string) *File {
	n := 1_000_000
	f := &File{Format: Format, Version: Version, ScannerModel: model, AlgorithmVersion: 1, ParamsHash: "0123abcd",
		Params: "test", Created: time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC),
		Level: &Level{Comparison: LevelBestOfEnrolled, Enrolled: 3},
		QualityGates: &QualityGates{Enrol: 40, Verify: 30, Rule: "test", FNMRAtFMR: 1e-4, Measured: []GateRow{
			{Gate: 30, FTESubjects: 0, Subjects: 60, FTE: 0, Recaptured: 0.05, FNMR: 0.03},
			{Gate: 40, FTESubjects: 0, Subjects: 60, FTE: 0, Recaptured: 0.2, FNMR: 0.025},
			{Gate: 50, FTESubjects: 6, Subjects: 60, FTE: 0.1, Recaptured: 0.4, FNMR: 0.02}}},
		Data: Data{Description: "test scores", Protocol: "all pairs", Images: 1500, Subjects: 60, Fingers: 240, Genuine: 3600, Impostor: n}}
	for i, target := range []float64{1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6} {
		errs := int(target * float64(n))
		f.Points = append(f.Points, NewPoint(target, 0.10+0.02*float64(i), errs, n, 0.01*float64(i)))
	}
	return f
}

func encode(t testing.TB, f *File) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := f.Encode(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestFileRoundTrip(t *testing.T) {
	f := testFile("VS-1")
	b := encode(t, f)
	g, err := Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if g.Digest() == "" || len(g.Digest()) != 12 {
		t.Errorf("digest %q", g.Digest())
	}
	if !bytes.Equal(encode(t, g), b) {
		t.Error("re-encoding differs")
	}
	if got := g.LowestResolvedFMR(); got != 1e-4 {
		t.Errorf("lowest resolved %g, want 1e-4 (1e-5 expects 10 errors)", got)
	}
}

// TestFileValidate breaks one field at a time; each must be refused.
func TestFileValidate(t *testing.T) {
	for name, mut := range map[string]func(f *File){
		"format":          func(f *File) { f.Format = "other" },
		"version":         func(f *File) { f.Version = 3 },
		"v1 with a level": func(f *File) { f.Version = 1; f.QualityGates = nil },
		"v1 with gates":   func(f *File) { f.Version = 1; f.Level = nil },
		"v2 no level":     func(f *File) { f.Level = nil },
		"v2 no gates":     func(f *File) { f.QualityGates = nil },
		"level name":      func(f *File) { f.Level.Comparison = "mean_of_enrolled" },
		"level k":         func(f *File) { f.Level.Enrolled = 0 },
		"single k":        func(f *File) { f.Level.Comparison = LevelSingle },
		"gate range":      func(f *File) { f.QualityGates.Enrol = 101 },
		"gate rule":       func(f *File) { f.QualityGates.Rule = "" },
		"gate order":      func(f *File) { f.QualityGates.Measured[1].Gate = 30 },
		"gate fte":        func(f *File) { f.QualityGates.Measured[2].FTE = 0.2 },
		"gate subjects":   func(f *File) { f.QualityGates.Measured[2].FTESubjects = 61 },
		"gate rate":       func(f *File) { f.QualityGates.Measured[0].FNMR = 1.5 },
		"gate nan":        func(f *File) { f.QualityGates.Measured[0].Recaptured = math.NaN() },
		"no model":        func(f *File) { f.ScannerModel = "" },
		"spaced model":    func(f *File) { f.ScannerModel = " VS" },
		"hash":            func(f *File) { f.ParamsHash = "XYZ" },
		"algorithm":       func(f *File) { f.AlgorithmVersion = 0 },
		"date":            func(f *File) { f.Created = time.Time{} },
		"description":     func(f *File) { f.Data.Description = " " },
		"no impostors":    func(f *File) { f.Data.Impostor = 0 },
		"no points":       func(f *File) { f.Points = nil },
		"claims resolved": func(f *File) { f.Points[4].Resolved = true },
		"denies resolved": func(f *File) {
			f.Points[0].Resolved = false
			f.Points[1].Resolved = false
			f.Points[2].Resolved = false
			f.Points[3].Resolved = false
		},
		"fmr not counts":  func(f *File) { f.Points[1].FMR = 0.02 },
		"fmr over target": func(f *File) { f.Points[1] = NewPoint(1e-2, 0.12, 20000, 1_000_000, 0) },
		"interval":        func(f *File) { f.Points[1].FMRCI95 = [2]float64{0.5, 0.6} },
		"impostors":       func(f *File) { f.Points[1].Impostors = 5 },
		"errors":          func(f *File) { f.Points[1].ImpostorErrors = -1 },
		"threshold falls": func(f *File) { f.Points[2].Threshold = 0.01 },
		"target order":    func(f *File) { f.Points[0], f.Points[1] = f.Points[1], f.Points[0] },
		"nan":             func(f *File) { f.Points[0].FNMR = math.NaN() },
		"target range":    func(f *File) { f.Points[0].TargetFMR = 1 },
	} {
		f := testFile("VS-1")
		mut(f)
		if err := f.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := testFile("VS-1").Validate(); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]string{
		"empty":   "",
		"unknown": strings.Replace(string(encode(t, testFile("VS-1"))), `"synthetic"`, `"synthetik"`, 1),
		"trailer": string(encode(t, testFile("VS-1"))) + "{}",
		"huge":    strings.Repeat(" ", MaxFileSize+1),
	} {
		if _, err := Decode(strings.NewReader(s)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestThreshold(t *testing.T) {
	f := testFile("VS-1") // resolved: 1e-1 0.10, 1e-2 0.12, 1e-3 0.14, 1e-4 0.16
	for _, c := range []struct {
		target, want, inForce float64
		mapLowest, mapped     bool
		err                   error
	}{
		{0.5, 0.10, 0.1, false, false, nil},
		{1e-2, 0.12, 1e-2, false, false, nil},
		{math.Sqrt(1e-3 * 1e-4), 0.15, math.Sqrt(1e-3 * 1e-4), false, false, nil},
		{1e-4, 0.16, 1e-4, false, false, nil},
		{1e-5, 0, 0, false, false, ErrUnresolved},
		{1e-5, 0.16, 1e-4, true, true, nil},
		{0, 0, 0, true, false, ErrInvalid},
	} {
		got, inForce, mapped, err := f.Threshold(c.target, c.mapLowest)
		if !errors.Is(err, c.err) || math.Abs(got-c.want) > 1e-12 || math.Abs(inForce-c.inForce) > 1e-15 || mapped != c.mapped {
			t.Errorf("Threshold(%g, %v) = %v, %v, %v, %v; want %v, %v, %v, %v", c.target, c.mapLowest, got, inForce, mapped, err, c.want, c.inForce, c.mapped, c.err)
		}
	}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)) }

func TestRegistry(t *testing.T) {
	a, b := testFile("VS-A"), testFile("VS-B")
	b.Points[2].Threshold, b.Points[3].Threshold, b.Points[4].Threshold, b.Points[5].Threshold = 0.2, 0.3, 0.31, 0.32
	// The default policy asks for 3e-6: refused, as no file resolves it.
	if _, err := NewRegistry([]*File{a}, Options{Policy: DefaultPolicy, Logger: quiet()}); !errors.Is(err, ErrUnresolved) {
		t.Fatalf("unresolved target: %v", err)
	}
	var logs bytes.Buffer
	r, err := NewRegistry([]*File{a, b}, Options{Policy: DefaultPolicy, MapUnresolved: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "mapped to the lowest resolved point") {
		t.Errorf("mapping not logged: %s", logs.String())
	}
	th, err := r.For("VS-B", 0x0123abcd)
	if err != nil {
		t.Fatal(err)
	}
	if th.Verify.Threshold != 0.3 || !th.Verify.Mapped || th.Verify.InForceFMR != 1e-4 || th.Verify.TargetFMR != 1e-4/2 || th.Identify.Threshold < th.Verify.Threshold {
		t.Errorf("VS-B thresholds %+v", th)
	}
	if _, err := r.For("VS-C", 0x0123abcd); !errors.Is(err, ErrUncalibrated) {
		t.Errorf("uncalibrated model: %v", err)
	}
	if _, err := r.For("VS-A", 0x0123abce); !errors.Is(err, ErrPipeline) {
		t.Errorf("other pipeline: %v", err)
	}
	policy := Policy{VerifyFMR: 2e-3, Fingers: 2, Level: DefaultPolicy.Level, DedupFMR: 1e-3, IdentifyFMR: 1e-4}
	if _, err := NewRegistry([]*File{a, testFile("VS-A")}, Options{Policy: policy, Logger: quiet()}); !errors.Is(err, ErrDuplicate) {
		t.Errorf("duplicate model: %v", err)
	}
	if _, err := NewRegistry([]*File{a}, Options{Policy: policy, Fallback: "VS-B", Logger: quiet()}); !errors.Is(err, ErrUncalibrated) {
		t.Errorf("fallback without a calibration: %v", err)
	}
	r, err = NewRegistry([]*File{a, b}, Options{Policy: policy, Fallback: "VS-B", Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	th, err = r.For("VS-C", 0x0123abcd)
	if err != nil || !th.Fallback || th.Source != "VS-B" || th.ScannerModel != "VS-C" || th.Verify.Threshold != 0.2 || th.Verify.Mapped {
		t.Errorf("fallback: %+v, %v", th, err)
	}
	if th, err := r.Model("VS-C"); err != nil || !th.Fallback {
		t.Errorf("Model of an uncalibrated model with a fallback: %+v, %v", th, err)
	}
	// Bulk templates: the most cautious of the pipeline's calibrations.
	pl, err := r.ForPipeline(0x0123abcd)
	if err != nil || pl.Verify.Threshold != 0.2 || pl.Identify.Threshold != 0.3 || pl.Dedup.Threshold != 0.14 || pl.Source != "VS-A, VS-B" {
		t.Errorf("ForPipeline: %+v, %v", pl, err)
	}
	if _, err := r.ForPipeline(1); !errors.Is(err, ErrPipeline) {
		t.Errorf("ForPipeline of another pipeline: %v", err)
	}
	in := r.InForce()
	if len(in) != 3 || in[0].ScannerModel != "VS-A" || in[2].ScannerModel != "*" || !in[2].Fallback {
		t.Errorf("in force: %+v", in)
	}
}

// TestVersion1IsSingle: a version 1 file (no level, no gates) reads as a
// calibration of single comparisons.
func TestVersion1IsSingle(t *testing.T) {
	f := testFile("VS-1")
	f.Version, f.Level, f.QualityGates = 1, nil, nil
	g, err := Decode(bytes.NewReader(encode(t, f)))
	if err != nil {
		t.Fatal(err)
	}
	if l := g.ComparisonLevel(); l != (Level{Comparison: LevelSingle, Enrolled: 1}) || l.String() != "single" || l.Samples() != 1 {
		t.Errorf("level of a version 1 file: %+v", l)
	}
	if l := (Level{Comparison: LevelBestOfEnrolled, Enrolled: 3}); l.String() != "best_of_enrolled/3" || l.Samples() != 3 {
		t.Errorf("best of 3: %v %d", l, l.Samples())
	}
}

// TestRegistryLevel: a calibration measured at another comparison level
// than the server's is refused; with AdjustLevel it is used with its
// targets divided by the union bound, and marked.
func TestRegistryLevel(t *testing.T) {
	single := testFile("VS-S")
	single.Level = &Level{Comparison: LevelSingle, Enrolled: 1}
	policy := Policy{VerifyFMR: 2e-2, Fingers: 2, Level: Level{Comparison: LevelBestOfEnrolled, Enrolled: 3}, DedupFMR: 1e-3, IdentifyFMR: 1e-3}
	if _, err := NewRegistry([]*File{single}, Options{Policy: policy, Logger: quiet()}); !errors.Is(err, ErrLevel) || !strings.Contains(err.Error(), "single") || !strings.Contains(err.Error(), "best_of_enrolled/3") {
		t.Fatalf("single-level calibration in a best-of-3 server: %v", err)
	}
	v1 := testFile("VS-1")
	v1.Version, v1.Level, v1.QualityGates = 1, nil, nil
	if _, err := NewRegistry([]*File{v1}, Options{Policy: policy, Logger: quiet()}); !errors.Is(err, ErrLevel) {
		t.Fatalf("version 1 calibration in a best-of-3 server: %v", err)
	}
	other := testFile("VS-5")
	other.Level.Enrolled = 5
	if _, err := NewRegistry([]*File{other}, Options{Policy: policy, Logger: quiet()}); !errors.Is(err, ErrLevel) {
		t.Fatalf("best-of-5 calibration in a best-of-3 server: %v", err)
	}
	var logs bytes.Buffer
	r, err := NewRegistry([]*File{single, v1, other, testFile("VS-3")}, Options{Policy: policy, AdjustLevel: true, DefaultMinQuality: 45, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "another comparison level") || !strings.Contains(logs.String(), "no quality gates") {
		t.Errorf("adjustment not logged: %s", logs.String())
	}
	for _, c := range []struct {
		model          string
		mismatch       bool
		factor         float64
		verify, dedup  float64 // per-level targets
		enrol, verifyQ int
	}{
		{"VS-S", true, 3, 1e-2 / 3, 1e-3 / 3, 40, 30},
		{"VS-1", true, 3, 1e-2 / 3, 1e-3 / 3, 45, 45},
		{"VS-5", true, 1, 1e-2, 1e-3, 40, 30}, // best of 5 is stricter than best of 3: nothing to divide
		{"VS-3", false, 1, 1e-2, 1e-3, 40, 30},
	} {
		th, err := r.For(c.model, 0x0123abcd)
		if err != nil {
			t.Fatal(err)
		}
		if th.LevelMismatch != c.mismatch || th.LevelFactor != c.factor || math.Abs(th.Verify.TargetFMR-c.verify) > 1e-15 || math.Abs(th.Dedup.TargetFMR-c.dedup) > 1e-15 ||
			th.EnrolMinQuality != c.enrol || th.VerifyMinQuality != c.verifyQ {
			t.Errorf("%s: %+v", c.model, th)
		}
	}
}

func FuzzDecode(f *testing.F) {
	valid := encode(f, testFile("VS-1"))
	f.Add(valid)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"format":"veinkiosk-calibration","version":1}`))
	v1 := testFile("VS-1")
	v1.Version, v1.Level, v1.QualityGates = 1, nil, nil
	f.Add(encode(f, v1))
	f.Add(bytes.Replace(valid, []byte(`"resolved": false`), []byte(`"resolved": true`), 1))
	f.Add(bytes.Replace(valid, []byte(`0.14`), []byte(`1e999`), 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Decode(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error not ErrInvalid: %v", err)
			}
			return
		}
		// A file that decodes is usable: re-encodes, decodes to the same,
		// and gives a threshold for its lowest resolved FMR.
		b := encode(t, c)
		d, err := Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
		if !bytes.Equal(encode(t, d), b) {
			t.Fatal("round trip differs")
		}
		if _, _, _, err := c.Threshold(c.LowestResolvedFMR(), false); err != nil {
			t.Fatalf("lowest resolved FMR refused: %v", err)
		}
	})
}
