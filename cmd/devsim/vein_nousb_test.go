//go:build !umockdev

package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

// Without -tags umockdev devsim links no USB emulation, and --usb says how
// to get it instead of failing obscurely.
func TestVeinUSBNeedsTag(t *testing.T) {
	err := runVein(context.Background(), []string{"--usb", "--control", "", "--residents", "2"}, io.Discard, io.Discard)
	if !errors.Is(err, errNoUSBEmulation) || !strings.Contains(err.Error(), "-tags umockdev") {
		t.Fatalf("--usb without the emulation: %v", err)
	}
}
