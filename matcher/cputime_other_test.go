//go:build !linux

package matcher

import (
	"testing"
	"time"
)

func threadCPU() time.Duration { return 0 }

func cpuLoop(b *testing.B, f func()) {
	for b.Loop() {
		f()
	}
}

func processCPUTime() time.Duration { return 0 }
