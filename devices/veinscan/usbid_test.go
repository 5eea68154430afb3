package veinscan

import (
	"context"
	"errors"
	"testing"
)

// The driver does not link the USB transport: a program that did not
// import devices/veinscan/usb gets an error that says so, not "unknown".
func TestUSBNotLinked(t *testing.T) {
	for _, n := range Transports() {
		if n == "usb" {
			t.Fatal(`package veinscan registered "usb" itself: it must come from devices/veinscan/usb`)
		}
	}
	_, err := Dial(context.Background(), "usb:1209:0001", nil)
	if !errors.Is(err, ErrNoUSB) || !errors.Is(err, ErrUnsupported) {
		t.Errorf("Dial usb without the transport: %v", err)
	}
	if _, err := Discover(nil); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Discover without the transport: %v", err)
	}
	if _, err := Dial(context.Background(), "bogus", nil); err == nil || errors.Is(err, ErrUnsupported) {
		t.Errorf("unknown transport: %v", err)
	}
}

func TestParseUSBID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want USBID
		ok   bool
	}{
		{"1209:0001", USBID{Vendor: 0x1209, Product: 1}, true},
		{"05E3:0608", USBID{Vendor: 0x05e3, Product: 0x0608}, true},
		{"1209", USBID{}, false},
		{"12345:1", USBID{}, false},
	} {
		got, err := ParseUSBID(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseUSBID(%q) = %v, %v", tc.in, got, err)
		}
	}
}
