//go:build !unix

package matcher

import (
	"io"
	"os"
)

// mapFile reads length bytes of f from off: no memory mapping here.
func mapFile(f *os.File, off, length int64) ([]byte, error) {
	b := make([]byte, length)
	_, err := io.ReadFull(io.NewSectionReader(f, off, length), b)
	return b, err
}
