//go:build linux

package matcher

import (
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The machine running the benchmarks is shared and often overloaded, so the
// single-goroutine benchmarks also report the CPU time of their thread
// ("cpu-ns/op"), which contention inflates much less than wall time.

// threadCPU returns the CPU time of the calling thread (nanosecond clock,
// unlike getrusage's scheduler ticks).
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// cpuLoop runs f b.N times (via b.Loop) on a locked thread and reports CPU
// ns per call.
func cpuLoop(b *testing.B, f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := threadCPU()
	n := 0
	for b.Loop() {
		f()
		n++
	}
	if d := threadCPU() - start; d > 0 && n > 0 {
		b.ReportMetric(float64(d.Nanoseconds())/float64(n), "cpu-ns/op")
	}
}

// processCPUTime returns the CPU time of the whole process.
func processCPUTime() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}
