//go:build !linux

package fingerimg

import "time"

func threadCPUTime() time.Duration { return 0 }
