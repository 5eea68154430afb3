//go:build cgo && !nousb

package umockusb

import (
	"strings"
	"testing"

	"github.com/qingshan-gov/veinkiosk/simulators/veinsim"
)

func TestDescriptors(t *testing.T) {
	d := descriptors()
	if len(d) != 18+32 || d[0] != 18 || d[1] != 1 {
		t.Fatalf("descriptors % x", d)
	}
	cfg := d[18:]
	if total := int(cfg[2]) | int(cfg[3])<<8; total != len(cfg) {
		t.Fatalf("wTotalLength %d, configuration is %d bytes", total, len(cfg))
	}
	intf := cfg[9:18]
	if intf[5] != 0xFF || intf[6] != 0x56 || intf[7] != 0x01 || intf[4] != 2 {
		t.Fatalf("interface % x", intf)
	}
	if vid := int(d[8]) | int(d[9])<<8; vid != veinsim.USBVendorID {
		t.Fatalf("VID %04x", vid)
	}
	dev, _ := veinsim.New(veinsim.Config{Serial: "X-1"})
	desc := description(dev.Info(), 1, 7)
	for _, want := range []string{"N: bus/usb/001/007=", "A: idVendor=1209", "A: serial=X-1", "A: speed=480"} {
		if !strings.Contains(desc, want) {
			t.Errorf("description lacks %q", want)
		}
	}
}
