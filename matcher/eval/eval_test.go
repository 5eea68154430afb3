package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/matcher/calib"
	"github.com/qingshan-gov/veinkiosk/matcher/extract"
)

func TestParseManifest(t *testing.T) {
	in := "\ufeffsubject,path,finger,sample,extra,Session\n1,a.png,2,01,x,s1\n1,b.png,2,02,y,s2\n\n2,c.png,1,01,z,s1\n"
	es, err := ParseManifest(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 3 || es[0].Path != "a.png" || es[0].Subject != "1" || es[2].Finger != "1" || es[1].Sample != "02" || es[1].Session != "s2" {
		t.Fatalf("entries %+v", es)
	}
	for name, bad := range map[string]string{
		"empty":      "",
		"no path":    "subject,finger,sample\n1,2,3\n",
		"short row":  "path,subject,finger,sample\na.png,1\n",
		"empty cell": "path,subject,finger,sample\na.png,,1,1\n",
		"duplicate":  "path,subject,finger,sample\na.png,1,1,1\nb.png,1,1,1\n",
		"no rows":    "path,subject,finger,sample\n",
	} {
		if _, err := ParseManifest(strings.NewReader(bad)); !errors.Is(err, ErrManifest) {
			t.Errorf("%s: err %v, want ErrManifest", name, err)
		}
	}
}

func TestPairsFollowFVCProtocol(t *testing.T) {
	var es []Entry
	for f := 0; f < 4; f++ {
		for s := 0; s < 5; s++ {
			es = append(es, Entry{Subject: string(rune('a' + f)), Finger: "1", Sample: string(rune('0' + s))})
		}
	}
	pairs, fingers := Pairs(es, nil)
	var gen, imp int
	for _, p := range pairs {
		if p.Genuine {
			gen++
			if es[p.Enrolled].Key() != es[p.Probe].Key() || p.Enrolled >= p.Probe {
				t.Fatalf("bad genuine pair %+v", p)
			}
		} else {
			imp++
			if es[p.Enrolled].Sample != "0" || es[p.Probe].Sample != "0" || es[p.Enrolled].Key() == es[p.Probe].Key() {
				t.Fatalf("bad impostor pair %+v", p)
			}
		}
	}
	if fingers != 4 || gen != 4*10 || imp != 6 {
		t.Fatalf("fingers %d genuine %d impostor %d, want 4, 40, 6", fingers, gen, imp)
	}
	// A failed first sample: the finger's first usable sample stands in.
	ok := make([]bool, len(es))
	for i := range ok {
		ok[i] = i != 0
	}
	pairs, _ = Pairs(es, ok)
	gen, imp = 0, 0
	for _, p := range pairs {
		if p.Enrolled == 0 || p.Probe == 0 {
			t.Fatal("failed image compared")
		}
		if p.Genuine {
			gen++
		} else {
			imp++
		}
	}
	if gen != 6+30 || imp != 6 {
		t.Fatalf("with a failure: genuine %d impostor %d", gen, imp)
	}
}

func TestErrorRates(t *testing.T) {
	s := Scores{
		Genuine:  []float64{0.1, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99},
		Impostor: []float64{0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.45, 0.55},
	}
	eer, thr := s.EER()
	// At t = 0.4: FMR = 2/10 (0.45, 0.55), FNMR = 2/10 (0.1, 0.3).
	if math.Abs(eer-0.2) > 1e-9 || math.Abs(thr-0.4) > 1e-9 {
		t.Errorf("EER %v at %v, want 0.2 at 0.4", eer, thr)
	}
	// Ten impostors resolve nothing by the rule of 30.
	op, ok := s.AtFMR(0.1)
	if ok || op.FMR != 0.1 || op.FNMR != 0.3 || op.Threshold != 0.5 {
		t.Errorf("AtFMR(0.1) = %+v %v", op, ok)
	}
	// Two genuine comparisons lost to failures to extract are rejections
	// at every threshold: FNMR (3+2)/12 at 0.5.
	lost := s
	lost.GenuineFailed = 2
	if op, _ := lost.AtFMR(0.1); math.Abs(op.FNMR-5.0/12) > 1e-12 {
		t.Errorf("with 2 lost genuine comparisons: FNMR %v, want 5/12", op.FNMR)
	}
	if eer, _ := lost.EER(); eer <= 0.2 {
		t.Errorf("with lost genuine comparisons: EER %v, want above 0.2", eer)
	}
	op, ok = s.AtFMR(1e-3)
	if ok || op.FMR != 0 || op.Threshold <= 0.55 || op.FNMR != 0.4 {
		t.Errorf("AtFMR(1e-3) = %+v resolved %v; want unresolved, just above 0.55", op, ok)
	}
	perfect := Scores{Genuine: []float64{0.8, 0.9}, Impostor: []float64{0.1, 0.2}}
	if eer, _ := perfect.EER(); eer != 0 {
		t.Errorf("separated scores: EER %v", eer)
	}
	if eer, _ := (Scores{}).EER(); !math.IsNaN(eer) {
		t.Errorf("no scores: EER %v", eer)
	}
	det := s.DET()
	for i := 1; i < len(det); i++ {
		if det[i].FMR > det[i-1].FMR || det[i].FNMR < det[i-1].FNMR {
			t.Fatalf("DET not monotone at %d: %+v %+v", i, det[i-1], det[i])
		}
	}
}

func TestSpearman(t *testing.T) {
	if r := Spearman([]float64{1, 2, 3, 4}, []float64{10, 20, 30, 40}); math.Abs(r-1) > 1e-12 {
		t.Errorf("monotone: %v", r)
	}
	if r := Spearman([]float64{1, 2, 3, 4}, []float64{4, 3, 2, 1}); math.Abs(r+1) > 1e-12 {
		t.Errorf("reversed: %v", r)
	}
	if r := Spearman([]float64{1, 1, 1}, []float64{1, 2, 3}); !math.IsNaN(r) {
		t.Errorf("constant: %v", r)
	}
}

func TestDilate(t *testing.T) {
	p := matcher.NewPattern(70, 5)
	p.Set(63, 2, true)
	p.Set(0, 0, true)
	d := dilate(p)
	for y := 0; y < 5; y++ {
		for x := 0; x < 70; x++ {
			want := (x >= 62 && x <= 64 && y >= 1 && y <= 3) || (x <= 1 && y <= 1)
			if d.At(x, y) != want {
				t.Fatalf("(%d,%d) = %v", x, y, d.At(x, y))
			}
		}
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
}

// drawFinger draws a synthetic horizontal finger with a few dark curved
// veins; seed picks the veins, jitter the capture.
func drawFinger(seed, jitter uint64) *image.Gray {
	const w, h = 320, 128
	img := image.NewGray(image.Rect(0, 0, w, h))
	vr := rand.New(rand.NewPCG(seed, 1))
	type v struct{ c, a, f, p float64 }
	var vs []v
	for i := 0; i < 6; i++ {
		vs = append(vs, v{vr.Float64()*1.2 - 0.6, 0.1 + vr.Float64()*0.3, 0.5 + vr.Float64()*2, vr.Float64() * 6})
	}
	jr := rand.New(rand.NewPCG(jitter, 2))
	dy := jr.Float64()*6 - 3
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			u := float64(x) / w
			n := (float64(y) - h/2 - dy) / 40
			val := 20.0
			if math.Abs(n) < 1 {
				val = 160 - 40*n*n
				for _, vv := range vs {
					d := (n - vv.c - vv.a*math.Sin(2*math.Pi*vv.f*u+vv.p)) * 40 / 3
					val -= 35 * math.Exp(-d*d/2)
				}
			}
			val += jr.NormFloat64() * 3
			img.Pix[y*img.Stride+x] = uint8(max(0, min(255, val)))
		}
	}
	return img
}

// TestRunEndToEnd evaluates a small synthetic data set through the whole
// path a user takes: manifest on disk, images, outputs.
func TestRunEndToEnd(t *testing.T) {
	dir := t.TempDir()
	var man strings.Builder
	man.WriteString("path,subject,finger,sample\n")
	for f := uint64(1); f <= 4; f++ {
		for s := uint64(1); s <= 3; s++ {
			name := filepath.Join("img", string(rune('a'+f))+string(rune('0'+s))+".png")
			if err := os.MkdirAll(filepath.Join(dir, "img"), 0o755); err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := png.Encode(&b, drawFinger(f, f*10+s)); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			man.WriteString(name + "," + string(rune('0'+f)) + ",1," + string(rune('0'+s)) + "\n")
		}
	}
	// One unreadable image: it must count as a failure to extract.
	if err := os.WriteFile(filepath.Join(dir, "img", "bad.png"), []byte("not a png"), 0o644); err != nil {
		t.Fatal(err)
	}
	man.WriteString("img/bad.png,9,1,1\n")
	if err := os.WriteFile(filepath.Join(dir, "manifest.csv"), []byte(man.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	entries, err := ReadManifest(filepath.Join(dir, "manifest.csv"))
	if err != nil {
		t.Fatal(err)
	}
	opt := extract.DefaultOptions()
	rep, err := Run(context.Background(), Config{Entries: entries, Extract: opt, ShiftRows: 8, ShiftCols: 24, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	s := Summarize(rep)
	if s.Images != 13 || s.Fingers != 5 || s.FailuresToExtract != 1 || s.Genuine != 12 || s.Impostor != 6 {
		t.Fatalf("summary %+v", s)
	}
	if s.EER > 0.1 {
		t.Errorf("synthetic fingers: EER %v", s.EER)
	}
	if s.TemplateBytes <= 0 || s.TemplateBytes > 4096 {
		t.Errorf("template bytes %d", s.TemplateBytes)
	}
	out := filepath.Join(dir, "out")
	if err := WriteOutputs(out, rep, s); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	b, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"images", "fingers", "failures_to_extract", "genuine", "genuine_lost_to_fte", "impostor", "impostor_protocol", "eer", "fnmr_at_fmr_1e-2", "fnmr_at_fmr_1e-3", "threshold_at_fmr_1e-3", "extract_ms_p50", "compare_us_p50", "template_bytes", "calibration"} {
		if _, ok := back[k]; !ok {
			t.Errorf("summary.json lacks %q", k)
		}
	}
	for _, f := range []string{"scores.csv", "det.png", "report.md", "failures.csv", "images.csv"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	// Six impostor comparisons resolve no FMR target of the table.
	if _, err := s.CalibrationFile("VS-T", "synthetic test", true, time.Now()); !errors.Is(err, calib.ErrInvalid) {
		t.Errorf("calibration from 6 impostors: %v", err)
	}
	if s.GenuineFailed != 0 {
		t.Errorf("the failed image's finger has one sample: %d genuine comparisons lost", s.GenuineFailed)
	}
	if s.Sessions != nil {
		t.Error("sessions reported for a manifest without a session column")
	}

	// Every two images of different fingers: C(12,2) - 4*C(3,2) = 54.
	rep, err = Run(context.Background(), Config{Entries: entries, Extract: opt, ShiftRows: 8, ShiftCols: 24, Workers: 2, AllImpostors: true})
	if err != nil {
		t.Fatal(err)
	}
	if s := Summarize(rep); s.Impostor != 54 || s.Genuine != 12 || s.ImpostorProtocol != ImpostorsAll {
		t.Errorf("all impostors: %d impostor, %d genuine, %s", s.Impostor, s.Genuine, s.ImpostorProtocol)
	}

	// A session column splits the genuine pairs: samples 1 and 2 are
	// session a, 3 is b; per finger one same-session pair and two cross.
	for i := range entries {
		entries[i].Session = "a"
		if entries[i].Sample == "3" {
			entries[i].Session = "b"
		}
	}
	rep, err = Run(context.Background(), Config{Entries: entries, Extract: opt, ShiftRows: 8, ShiftCols: 24, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if ss := Summarize(rep).Sessions; ss == nil || ss.Same.Genuine != 4 || ss.Cross.Genuine != 8 {
		t.Errorf("sessions %+v", ss)
	}
}

func TestCalibrationFile(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var sc Scores
	for i := 0; i < 200000; i++ {
		sc.Impostor = append(sc.Impostor, 0.1+0.02*r.NormFloat64())
		if i < 2000 {
			sc.Genuine = append(sc.Genuine, 0.3+0.05*r.NormFloat64())
		}
	}
	s := Summary{Calibration: sc.Calibration(CalibrationTargets), Impostor: 200000, Genuine: 2000, Images: 100, ParamsHash: "0123abcd", ImpostorProtocol: ImpostorsAll}
	if _, err := s.CalibrationFile("VS-T", "normal scores", true, time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)); !errors.Is(err, calib.ErrInvalid) {
		t.Errorf("a calibration without quality gates: %v", err)
	}
	s.QualityGates = &calib.QualityGates{Enrol: 40, Verify: 40, Rule: "test"}
	f, err := s.CalibrationFile("VS-T", "normal scores", true, time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	// Without the enrolment protocol the points are of single pairs, and
	// say so.
	if l := f.ComparisonLevel(); l.Comparison != calib.LevelSingle || f.Version != calib.Version {
		t.Errorf("level %v", l)
	}
	// 200,000 impostors resolve down to 3e-4 (60 errors expected); 1e-4
	// expects 20.
	if got := f.LowestResolvedFMR(); got != 3e-4 {
		t.Errorf("lowest resolved FMR %g, want 3e-4", got)
	}
	if _, _, _, err := f.Threshold(1e-4, false); !errors.Is(err, calib.ErrUnresolved) {
		t.Errorf("1e-4 from 200,000 impostors: %v", err)
	}
	thr, _, _, err := f.Threshold(1e-3, false)
	if err != nil {
		t.Fatal(err)
	}
	// The 99.9th percentile of N(0.1, 0.02) is 0.1618.
	if math.Abs(thr-0.1618) > 0.004 {
		t.Errorf("threshold at FMR 1e-3: %v", thr)
	}
	for _, p := range f.Points {
		if !(p.FMRCI95[0] <= p.TargetFMR && p.TargetFMR <= p.FMRCI95[1]) && p.Resolved {
			t.Errorf("target %g outside the interval %v of its resolved point", p.TargetFMR, p.FMRCI95)
		}
	}
}

func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, Config{Entries: []Entry{{Path: "x.png", Subject: "1", Finger: "1", Sample: "1"}}, Extract: extract.DefaultOptions(), ShiftRows: 8, ShiftCols: 24})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
}

// FuzzDecodeExtract feeds arbitrary bytes through the path every image of
// an evaluation takes: decoding, then extraction. It must return errors,
// never panic.
func FuzzDecodeExtract(f *testing.F) {
	var b bytes.Buffer
	_ = png.Encode(&b, drawFinger(1, 1))
	f.Add(b.Bytes())
	f.Add(b.Bytes()[:len(b.Bytes())/2])
	small := image.NewGray(image.Rect(0, 0, 40, 33))
	b.Reset()
	_ = png.Encode(&b, small)
	f.Add(b.Bytes())
	f.Add([]byte("\xff\xd8\xff\xe0garbage"))
	f.Add([]byte("BM\x00\x00"))
	opt := extract.DefaultOptions()
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := DecodeImage(data)
		if err != nil {
			if !errors.Is(err, ErrDecode) {
				t.Fatalf("decode error %v not ErrDecode", err)
			}
			return
		}
		r, err := extract.Extract(img, opt)
		if err != nil {
			return
		}
		if err := r.Vein.Validate(); err != nil {
			t.Fatal(err)
		}
		if r.Quality < 0 || r.Quality > 100 {
			t.Fatalf("quality %d", r.Quality)
		}
	})
}
