//go:build linux

package matcher

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

// The machine running the benchmarks is shared and often overloaded, so the
// single-goroutine benchmarks also report the CPU time of their thread
// ("cpu-ns/op"), which contention inflates much less than wall time.

// threadCPU returns the CPU time (user + system) of the calling thread.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
