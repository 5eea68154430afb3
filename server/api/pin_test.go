package api

import (
	"errors"
	"testing"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
)

func TestCheckNewPIN(t *testing.T) {
	for _, tc := range []struct {
		pin string
		ok  bool
	}{
		{"246813", true},
		{"318642", true},
		{"012345", false}, // a run up
		{"345678", false},
		{"890123", false}, // a run up through 0
		{"987654", false}, // a run down
		{"210987", false},
		{"111111", false},
		{"12345", false},
		{"1234567", false},
		{"12345a", false},
		{"１２３４５６", false},
		{"", false},
	} {
		err := checkNewPIN(tc.pin)
		var ae *apiError
		if tc.ok != (err == nil) || (err != nil && (!errors.As(err, &ae) || ae.detail.Code != apiv1.CodePINInvalid)) {
			t.Errorf("checkNewPIN(%q) = %v, want ok %v", tc.pin, err, tc.ok)
		}
	}
}
