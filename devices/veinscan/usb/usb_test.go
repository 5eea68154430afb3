package usb

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan"
)

func TestParseID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ID
		ok   bool
	}{
		{"1209:0001", ID{Vendor: 0x1209, Product: 0x0001}, true},
		{"05e3:0608", ID{Vendor: 0x05e3, Product: 0x0608}, true},
		{"1209", ID{}, false},
		{"12345:1", ID{}, false},
		{"xyz:0001", ID{}, false},
	} {
		got, err := ParseID(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseID(%q) = %v, %v", tc.in, got, err)
		}
		if tc.ok && got.String() != strings.ToLower(tc.in) {
			t.Errorf("String() = %s", got)
		}
	}
}

// TestUdevRuleShipped keeps udev/70-veinscan.rules in step with Known.
func TestUdevRuleShipped(t *testing.T) {
	shipped, err := os.ReadFile(filepath.Join("..", "..", "..", "udev", "70-veinscan.rules"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(UdevRule(Known), "\n") {
		if strings.HasPrefix(line, "SUBSYSTEM") && !strings.Contains(string(shipped), line) {
			t.Errorf("udev/70-veinscan.rules lacks\n%s", line)
		}
	}
}

func TestPermissionHelp(t *testing.T) {
	h := PermissionHelp(Device{ID: ID{Vendor: 0x1209, Product: 1}, Path: "/dev/bus/usb/001/002"}, Known)
	for _, want := range []string{"1209:0001", "/dev/bus/usb/001/002", `ATTRS{idVendor}=="1209"`, "udevadm", "plugdev"} {
		if !strings.Contains(h, want) {
			t.Errorf("help lacks %q:\n%s", want, h)
		}
	}
}

// Importing the package registers "usb" with the driver.
func TestRegistersTransport(t *testing.T) {
	found := false
	for _, n := range veinscan.Transports() {
		found = found || n == "usb"
	}
	if !found {
		t.Fatalf(`"usb" not registered: %v`, veinscan.Transports())
	}
	_, err := veinscan.Dial(context.Background(), "usb:zz", nil)
	if err == nil || errors.Is(err, veinscan.ErrNoUSB) {
		t.Errorf("usb:zz: %v", err)
	}
}
