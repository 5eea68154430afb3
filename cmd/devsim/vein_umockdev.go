//go:build umockdev

package main

// Built with -tags umockdev, "devsim vein --usb" emulates the scanner as a
// USB device (simulators/veinsim/umockusb: libumockdev through cgo; apt
// install umockdev libumockdev-dev pkg-config, run under umockdev-wrapper).

import (
	"fmt"

	"github.com/qingshan-gov/veinkiosk/simulators/veinsim"
	"github.com/qingshan-gov/veinkiosk/simulators/veinsim/umockusb"
)

func init() {
	attachUSB = func(dev *veinsim.Device) (string, string, func(), error) {
		emu, err := umockusb.Attach(dev)
		if err != nil {
			return "", "", nil, err
		}
		env := fmt.Sprintf("UMOCKDEV_DIR=%s LD_PRELOAD=libumockdev-preload.so.0", emu.TestbedDir())
		return env, emu.DevNode, umockusb.RemoveTestbed, nil
	}
}
