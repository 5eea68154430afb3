//go:build linux

package fingerimg

import (
	"syscall"
	"time"
)

// threadCPUTime is the user+system CPU time of the calling OS thread
// (getrusage RUSAGE_THREAD): on the shared, overloaded build machine it is
// a steadier measure than wall time.
func threadCPUTime() time.Duration {
	const rusageThread = 1
	var ru syscall.Rusage
	if syscall.Getrusage(rusageThread, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
