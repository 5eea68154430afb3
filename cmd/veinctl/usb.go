//go:build usb

package main

// Built with -tags usb, veinctl drives real USB scanners: this import
// registers the "usb" transport and USB discovery (devices/veinscan/usb,
// gousb over libusb-1.0 through cgo: apt install pkg-config libusb-1.0-0-dev).
// Without the tag veinctl has the serial and sim transports only and links
// no C library.
import _ "github.com/qingshan-gov/veinkiosk/devices/veinscan/usb"
