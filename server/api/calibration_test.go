package api

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan/wire"
	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/matcher/calib"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
)

// testCalibration is a calibration of model for the harness's templates:
// 1,000,000 impostors, resolved down to 3e-5; the threshold at 1e-3 (and
// every other point) is thr.
func testCalibration(t *testing.T, model string, thr float64) *calib.File {
	t.Helper()
	return testCalibrationFor(t, model, thr, kioskParams)
}

// testCalibrationFor is testCalibration for the templates of params, with
// the quality gates 40 and 40.
func testCalibrationFor(t *testing.T, model string, thr float64, params matcher.Params) *calib.File {
	t.Helper()
	return testCalibrationGates(t, model, thr, params, 40, 40)
}

// testCalibrationGates is testCalibrationFor with the quality gates enrol
// and verify, measured at the server's level (best of 3).
func testCalibrationGates(t *testing.T, model string, thr float64, params matcher.Params, enrol, verify int) *calib.File {
	t.Helper()
	n := 1_000_000
	f := &calib.File{Format: calib.Format, Version: calib.Version, ScannerModel: model, AlgorithmVersion: matcher.AlgorithmVersion,
		ParamsHash: fmt.Sprintf("%08x", params.ParamsHash()), Created: time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC),
		Data:         calib.Data{Description: "test", Protocol: "test", Impostor: n},
		Level:        &calib.Level{Comparison: calib.LevelBestOfEnrolled, Enrolled: apiv1.EnrolCapturesPerFinger},
		QualityGates: &calib.QualityGates{Enrol: enrol, Verify: verify, Rule: "test"}}
	for _, target := range []float64{1e-2, 1e-3, 1e-4} {
		f.Points = append(f.Points, calib.NewPoint(target, thr, int(target*float64(n)), n, 0.05))
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	return f
}

// testPolicy asks for 1e-3 per comparison (a probe against an enrolled
// finger) everywhere.
var testPolicy = calib.Policy{VerifyFMR: 2e-3, Fingers: apiv1.EnrolFingers, Level: calib.Level{Comparison: calib.LevelBestOfEnrolled, Enrolled: apiv1.EnrolCapturesPerFinger},
	DedupFMR: 1e-3, IdentifyFMR: 1e-3}

func withCalibrations(t *testing.T, opt calib.Options, files ...*calib.File) option {
	reg, err := calib.NewRegistry(files, opt)
	if err != nil {
		t.Fatal(err)
	}
	return func(c *Config) {
		c.Calibrations = reg
		c.VerifyThreshold, c.DedupThreshold, c.IdentifyThreshold = 0, 0, 0
	}
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// scannerOfModel gives the kiosk a new scanner of another model.
func (k *kiosk) scannerOfModel(t *testing.T, serial, model string) {
	_, dk, _ := ed25519.GenerateKey(nil)
	cert := wire.DeviceCertificate{Serial: serial, Model: model, PublicKey: dk.Public().(ed25519.PublicKey), MakerID: "test-maker"}
	if err := cert.Sign(k.e.maker); err != nil {
		t.Fatal(err)
	}
	k.scanner = &fakeScanner{cert: cert, key: dk}
}

// TestCalibrationPerScannerModel: the thresholds of a capture come from
// the calibration of its scanner's model; a model without one is refused.
func TestCalibrationPerScannerModel(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, withCalibrations(t, calib.Options{Policy: testPolicy, Logger: quietLog()}, testCalibration(t, "VS-1", 0.2),
		testCalibrationFor(t, "VS-OLD", 0.2, matcher.DefaultParams)))
	e.mustStaff("zhang", "station_staff", "", "QS-S01")
	k := e.newKiosk("kiosk-01")
	p := e.newPerson("王秀英", time.Date(1950, 3, 4, 0, 0, 0, 0, time.UTC))
	e.enrol(e.atKiosk(k, "zhang"), p)
	must[*apiv1.VerifyResponse](t)(k.Verify(ctx, e.verifyRequest(k, p, p.fingers[apiv1.RightIndex])))

	// Another model: refused, before any comparison.
	k2 := e.newKiosk("kiosk-02")
	k2.scannerOfModel(t, "SN-OTHER", "VS-2")
	_, err := k2.Verify(ctx, e.verifyRequest(k2, p, p.fingers[apiv1.RightIndex]))
	wantCode(t, err, apiv1.CodeUncalibrated)

	// A model whose calibration was made for an extraction pipeline this
	// server does not run: refused, before any extraction.
	k3 := e.newKiosk("kiosk-03")
	k3.scannerOfModel(t, "SN-OLD", "VS-OLD")
	_, err = k3.Verify(ctx, e.verifyRequest(k3, p, p.fingers[apiv1.RightIndex]))
	wantCode(t, err, apiv1.CodeUncalibrated)

	// The admin API and /metrics say what is in force.
	var cl apiv1.CalibrationList
	if err := e.admin.Do(ctx, http.MethodGet, apiv1.PathAdminCalibrations, nil, &cl); err != nil {
		t.Fatal(err)
	}
	if len(cl.Calibrations) != 2 || cl.Calibrations[0].ScannerModel != "VS-1" || cl.Calibrations[0].Verify.Threshold != 0.2 || cl.Calibrations[0].Verify.TargetFMR != 1e-3 {
		t.Errorf("calibrations %+v", cl)
	}
	var sl apiv1.ScannerList
	if err := e.admin.Do(ctx, http.MethodGet, apiv1.PathAdminScanners, nil, &sl); err != nil {
		t.Fatal(err)
	}
	for _, sc := range sl.Scanners {
		if want := map[string]string{"VS-1": "VS-1@2026-12-05", "VS-2": "none", "VS-OLD": "VS-OLD@2026-12-05"}[sc.Model]; !strings.HasPrefix(sc.Calibration, want) {
			t.Errorf("scanner %s of %s: calibration %q, want %q...", sc.Serial, sc.Model, sc.Calibration, want)
		}
	}
	resp, err := e.http.Get("http://centrald.test/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`veinkiosk_calibration_info{`, `model="VS-1"`, `level="best_of_enrolled/3",level_mismatch="false"`, `veinkiosk_calibration_threshold{mapped="false",model="VS-1",use="verify"} 0.2`, `veinkiosk_calibration_fmr{model="VS-1",use="dedup"} 0.001`,
		`veinkiosk_calibration_quality_gate{from="calibration",model="VS-1",use="enrol"} 40`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestCalibrationThresholdsBite: the same genuine capture fails when the
// calibration in force puts the threshold above every score, and a
// fallback admits an uncalibrated model at the fallback's thresholds.
func TestCalibrationThresholdsBite(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, withCalibrations(t, calib.Options{Policy: testPolicy, Fallback: "VS-1", Logger: quietLog()}, testCalibration(t, "VS-1", 0.2), testCalibration(t, "VS-STRICT", 0.9)))
	e.mustStaff("zhang", "station_staff", "", "QS-S01")
	k := e.newKiosk("kiosk-01")
	p := e.newPerson("王秀英", time.Date(1950, 3, 4, 0, 0, 0, 0, time.UTC))
	e.enrol(e.atKiosk(k, "zhang"), p)

	strict := e.newKiosk("kiosk-02")
	strict.scannerOfModel(t, "SN-STRICT", "VS-STRICT")
	_, err := strict.Verify(ctx, e.verifyRequest(strict, p, p.fingers[apiv1.RightIndex]))
	wantCode(t, err, apiv1.CodeNoMatch)

	other := e.newKiosk("kiosk-03")
	other.scannerOfModel(t, "SN-OTHER", "VS-2")
	must[*apiv1.VerifyResponse](t)(other.Verify(ctx, e.verifyRequest(other, p, p.fingers[apiv1.RightIndex])))
	var cl apiv1.CalibrationList
	if err := e.admin.Do(ctx, http.MethodGet, apiv1.PathAdminCalibrations, nil, &cl); err != nil {
		t.Fatal(err)
	}
	if n := len(cl.Calibrations); n != 3 || cl.Calibrations[n-1].ScannerModel != "*" || !cl.Calibrations[n-1].Fallback {
		t.Errorf("calibrations %+v", cl)
	}
}

// TestQualityGatePerScannerModel: a capture meets the quality gate of its
// scanner model's calibration, the enrolment gate at enrolment and the
// verification gate at verification; the same capture passes one model's
// gate and fails another's. --min-quality (MinQualityOverride) replaces
// every model's gates.
func TestQualityGatePerScannerModel(t *testing.T) {
	ctx := context.Background()
	// Good harness captures have quality 50..99 (shottest), so 50 admits
	// them and 100 refuses them.
	cals := []*calib.File{
		testCalibrationGates(t, "VS-1", 0.2, kioskParams, 50, 50),
		testCalibrationGates(t, "VS-HI", 0.2, kioskParams, 100, 100),
		testCalibrationGates(t, "VS-MIX", 0.2, kioskParams, 100, 50),
	}
	e := newEnv(t, withCalibrations(t, calib.Options{Policy: testPolicy, Logger: quietLog()}, cals...))
	e.mustStaff("zhang", "station_staff", "", "QS-S01")
	k := e.newKiosk("kiosk-01")
	p := e.newPerson("王秀英", time.Date(1950, 3, 4, 0, 0, 0, 0, time.UTC))
	e.enrol(e.atKiosk(k, "zhang"), p)

	hi := e.newKiosk("kiosk-02")
	hi.scannerOfModel(t, "SN-HI", "VS-HI")
	req := e.verifyRequest(hi, p, p.fingers[apiv1.RightIndex])
	var sent matcher.Template
	if err := sent.UnmarshalBinary(req.Capture.Template); err != nil {
		t.Fatal(err)
	}
	if sent.Quality < 50 || sent.Quality >= 100 {
		t.Fatalf("the harness capture has quality %d; the test needs 50..99", sent.Quality)
	}
	_, err := hi.Verify(ctx, req)
	wantCode(t, err, apiv1.CodeQualityTooLow)
	if !strings.Contains(err.Error(), `gate 100 of scanner model "VS-HI"`) {
		t.Errorf("the refusal does not name the model's gate: %v", err)
	}
	// The same finger at a scanner of the model whose verification gate
	// is 50: accepted.
	must[*apiv1.VerifyResponse](t)(k.Verify(ctx, e.verifyRequest(k, p, p.fingers[apiv1.RightIndex])))

	// VS-MIX: the verification gate (50) admits, the enrolment gate (100)
	// refuses every capture of an enrolment.
	mix := e.newKiosk("kiosk-03")
	mix.scannerOfModel(t, "SN-MIX", "VS-MIX")
	must[*apiv1.VerifyResponse](t)(mix.Verify(ctx, e.verifyRequest(mix, p, p.fingers[apiv1.RightIndex])))
	q := e.newPerson("李建国", time.Date(1948, 7, 1, 0, 0, 0, 0, time.UTC))
	staffMix := e.atKiosk(mix, "zhang")
	_, err = staffMix.Enrol(ctx, e.enrolRequest(staffMix, q))
	wantCode(t, err, apiv1.CodeEnrolmentIncomplete)
	var ae *apiv1.Error
	if !errors.As(err, &ae) || len(ae.Fields) != 6 {
		t.Errorf("enrolment at VS-MIX: want all 6 captures listed below the gate, got %v", err)
	}
	// At the default model, whose enrolment gate is 50, the same person
	// enrols.
	e.enrol(e.atKiosk(k, "zhang"), q)

	// The admin API shows each model's gates.
	var cl apiv1.CalibrationList
	if err := e.admin.Do(ctx, http.MethodGet, apiv1.PathAdminCalibrations, nil, &cl); err != nil {
		t.Fatal(err)
	}
	for _, c := range cl.Calibrations {
		want := map[string][2]int{"VS-1": {50, 50}, "VS-HI": {100, 100}, "VS-MIX": {100, 50}}[c.ScannerModel]
		if c.EnrolMinQuality != want[0] || c.VerifyMinQuality != want[1] || c.QualityGatesFrom != "calibration" || c.Level != "best_of_enrolled/3" || c.LevelMismatch {
			t.Errorf("%s: %+v", c.ScannerModel, c)
		}
	}

	// The operator's override applies one gate to every model.
	e2 := newEnv(t, withCalibrations(t, calib.Options{Policy: testPolicy, Logger: quietLog()}, cals...), func(c *Config) { c.MinQuality, c.MinQualityOverride = 50, true })
	e2.mustStaff("zhang", "station_staff", "", "QS-S01")
	k2 := e2.newKiosk("kiosk-01")
	p2 := e2.newPerson("王秀英", time.Date(1950, 3, 4, 0, 0, 0, 0, time.UTC))
	e2.enrol(e2.atKiosk(k2, "zhang"), p2)
	hi2 := e2.newKiosk("kiosk-02")
	hi2.scannerOfModel(t, "SN-HI", "VS-HI")
	must[*apiv1.VerifyResponse](t)(hi2.Verify(ctx, e2.verifyRequest(hi2, p2, p2.fingers[apiv1.RightIndex])))
	if err := e2.admin.Do(ctx, http.MethodGet, apiv1.PathAdminCalibrations, nil, &cl); err != nil {
		t.Fatal(err)
	}
	for _, c := range cl.Calibrations {
		if c.EnrolMinQuality != 50 || c.VerifyMinQuality != 50 || c.QualityGatesFrom != "override" {
			t.Errorf("override: %s: %+v", c.ScannerModel, c)
		}
	}
}

// TestNonceCarriesScannerGates: a kiosk that names its scanner by its
// device certificate learns with each capture nonce the quality gates the
// server applies to that scanner's model (the same as the capture step's);
// a certificate that does not verify, or a model without a calibration,
// learns none, and the nonce is issued all the same.
func TestNonceCarriesScannerGates(t *testing.T) {
	ctx := context.Background()
	cals := []*calib.File{
		testCalibrationGates(t, "VS-1", 0.2, kioskParams, 50, 45),
		testCalibrationGates(t, "VS-HI", 0.2, kioskParams, 100, 100),
	}
	e := newEnv(t, withCalibrations(t, calib.Options{Policy: testPolicy, Logger: quietLog()}, cals...))
	certOf := func(serial, model string, maker ed25519.PrivateKey) []byte {
		_, dk, _ := ed25519.GenerateKey(nil)
		c := wire.DeviceCertificate{Serial: serial, Model: model, PublicKey: dk.Public().(ed25519.PublicKey), MakerID: "test-maker"}
		if err := c.Sign(maker); err != nil {
			t.Fatal(err)
		}
		raw, err := c.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	_, forger, _ := ed25519.GenerateKey(nil)
	k := e.newKiosk("kiosk-01")
	for _, tc := range []struct {
		name string
		cert []byte
		want *apiv1.QualityGates
	}{
		{"no certificate", nil, nil},
		{"VS-1", certOf("SN-A", "VS-1", e.maker), &apiv1.QualityGates{ScannerModel: "VS-1", EnrolMinQuality: 50, VerifyMinQuality: 45, From: "calibration"}},
		{"VS-HI", certOf("SN-B", "VS-HI", e.maker), &apiv1.QualityGates{ScannerModel: "VS-HI", EnrolMinQuality: 100, VerifyMinQuality: 100, From: "calibration"}},
		{"uncalibrated model", certOf("SN-C", "VS-NONE", e.maker), nil},
		{"certificate of an untrusted maker key", certOf("SN-D", "VS-1", forger), nil},
		{"not a certificate", []byte("not a certificate"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := k.NonceFor(ctx, tc.cert)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Nonce) != 32 {
				t.Errorf("nonce of %d bytes", len(r.Nonce))
			}
			if (r.QualityGates == nil) != (tc.want == nil) || (tc.want != nil && *r.QualityGates != *tc.want) {
				t.Errorf("gates %+v, want %+v", r.QualityGates, tc.want)
			}
		})
	}
	// The gates said are the ones the capture step applies: VS-HI's 100
	// refuses the harness capture (quality 50..99) that VS-1's 45 admits.
	e.mustStaff("zhang", "station_staff", "", "QS-S01")
	p := e.newPerson("王秀英", time.Date(1950, 3, 4, 0, 0, 0, 0, time.UTC))
	e.enrol(e.atKiosk(k, "zhang"), p)
	must[*apiv1.VerifyResponse](t)(k.Verify(ctx, e.verifyRequest(k, p, p.fingers[apiv1.RightIndex])))
	hi := e.newKiosk("kiosk-02")
	hi.scannerOfModel(t, "SN-HI", "VS-HI")
	_, err := hi.Verify(ctx, e.verifyRequest(hi, p, p.fingers[apiv1.RightIndex]))
	wantCode(t, err, apiv1.CodeQualityTooLow)

	// A body that is not a NonceRequest is refused.
	now := e.clock.Now()
	for _, body := range []string{`{"scanner_certificate": 5}`, `{"scanner": "VS-1"}`, `[]`} {
		if st, code, _ := e.raw(k.signed("POST", apiv1.PathKioskNonce, []byte(body), now)); st != 400 || code != apiv1.CodeBadRequest {
			t.Errorf("nonce body %s: %d %s, want 400 %s", body, st, code, apiv1.CodeBadRequest)
		}
		now = now.Add(time.Millisecond)
	}

	// The operator's override is what every model's kiosks are told; a
	// server on fixed thresholds tells its one gate.
	for _, tc := range []struct {
		name string
		opts []option
		want apiv1.QualityGates
	}{
		{"override", []option{withCalibrations(t, calib.Options{Policy: testPolicy, Logger: quietLog()}, cals...), func(c *Config) { c.MinQuality, c.MinQualityOverride = 30, true }},
			apiv1.QualityGates{ScannerModel: "VS-HI", EnrolMinQuality: 30, VerifyMinQuality: 30, From: "override"}},
		{"fixed thresholds", nil, apiv1.QualityGates{ScannerModel: "VS-HI", EnrolMinQuality: 40, VerifyMinQuality: 40, From: "config"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e2 := newEnv(t, tc.opts...)
			r, err := e2.newKiosk("kiosk-01").NonceFor(ctx, certOf("SN-E", "VS-HI", e2.maker))
			if err != nil {
				t.Fatal(err)
			}
			if r.QualityGates == nil || *r.QualityGates != tc.want {
				t.Errorf("gates %+v, want %+v", r.QualityGates, tc.want)
			}
		})
	}
}
