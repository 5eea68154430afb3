package matcher

import (
	"errors"
	"math"
	"testing"
)

func TestCalibrationThreshold(t *testing.T) {
	c := Calibration{Points: []CalibrationPoint{{1e-2, 0.10}, {1e-4, 0.20}, {1e-3, 0.15}}}
	tests := []struct {
		fmr, want float64
		err       error
	}{
		{1e-2, 0.10, nil},
		{1e-3, 0.15, nil},
		{1e-4, 0.20, nil},
		{math.Sqrt(1e-2 * 1e-3), 0.125, nil},
		{0.5, 0.10, nil},
		{1e-5, 0, ErrCalibration},
		{0, 0, ErrCalibration},
		{1, 0, ErrCalibration},
		{math.NaN(), 0, ErrCalibration},
	}
	for _, tt := range tests {
		got, err := c.Threshold(tt.fmr)
		if !errors.Is(err, tt.err) || math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("Threshold(%g) = %v, %v; want %v, %v", tt.fmr, got, err, tt.want, tt.err)
		}
	}
	for name, bad := range map[string]Calibration{
		"empty":        {},
		"not monotone": {Points: []CalibrationPoint{{1e-2, 0.2}, {1e-3, 0.1}}},
		"duplicate":    {Points: []CalibrationPoint{{1e-2, 0.2}, {1e-2, 0.3}}},
		"range":        {Points: []CalibrationPoint{{1e-2, 0.7}}},
	} {
		if _, err := bad.Threshold(1e-2); !errors.Is(err, ErrCalibration) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := DefaultCalibration.Validate(); err != nil {
		t.Errorf("DefaultCalibration: %v", err)
	}
	if !DefaultCalibration.Provisional {
		t.Log("DefaultCalibration is measured:", DefaultCalibration.Source)
	}
}
