//go:build unix

package matcher

import (
	"fmt"
	"os"
	"syscall"
)

// mapFile maps length bytes of f from off (a multiple of the page size),
// private and writable (copy on write).
func mapFile(f *os.File, off, length int64) ([]byte, error) {
	if length == 0 {
		return nil, nil
	}
	b, err := syscall.Mmap(int(f.Fd()), off, int(length), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE)
	if err != nil {
		return nil, fmt.Errorf("matcher: mapping the gallery file: %w", err)
	}
	return b, nil
}
