package hwdev

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan"
	"github.com/qingshan-gov/veinkiosk/devices/veinscan/wire"
	"github.com/qingshan-gov/veinkiosk/kiosk"
)

// The adapters report the kiosk's sentinels, so the device manager can tell
// a missing device from a missing finger.
func TestErrorsMapToKioskSentinels(t *testing.T) {
	for _, tc := range []struct {
		in   error
		want error
	}{
		{fmt.Errorf("x: %w", veinscan.ErrNoFinger), kiosk.ErrNoFinger},
		{fmt.Errorf("x: %w", wire.ErrFingerMoved), kiosk.ErrBadPlacement},
		{fmt.Errorf("x: %w", wire.ErrFingerMoved), kiosk.ErrFingerMoving},
		{fmt.Errorf("x: %w", veinscan.ErrDisconnected), kiosk.ErrDeviceDown},
		{errors.New("anything else"), kiosk.ErrDeviceDown},
		{context.DeadlineExceeded, context.DeadlineExceeded},
	} {
		if got := devErr(tc.in); !errors.Is(got, tc.want) {
			t.Errorf("devErr(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestOpenFailuresAreDeviceDown(t *testing.T) {
	ctx := context.Background()
	if _, err := OpenIDCardReader(filepath.Join(t.TempDir(), "no-such-tty"))(ctx); !errors.Is(err, kiosk.ErrDeviceDown) {
		t.Errorf("reader on a missing port: %v", err)
	}
	// This package does not link the USB transport: "usb" fails as a
	// device that is down, with the reason.
	_, err := OpenVeinScanner("usb", nil)(ctx)
	if !errors.Is(err, kiosk.ErrDeviceDown) {
		t.Errorf("usb scanner without the transport: %v", err)
	}
	if _, err := OpenVeinScanner("serial:"+filepath.Join(t.TempDir(), "none"), nil)(ctx); !errors.Is(err, kiosk.ErrDeviceDown) {
		t.Errorf("serial scanner on a missing port: %v", err)
	}
}
