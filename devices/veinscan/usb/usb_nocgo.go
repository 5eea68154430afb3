//go:build !cgo || nousb

package usb

import (
	"context"
	"fmt"
)

// Discover reports that USB is not built in.
func Discover(ids []ID) ([]Device, error) { return nil, ErrNoCgo }

// Conn is the stub of the USB connection; Open never returns one.
type Conn struct{}

// Open reports that USB is not built in.
func Open(ctx context.Context, ids []ID, serial string) (*Conn, error) {
	return nil, fmt.Errorf("usb: %w", ErrNoCgo)
}

func (c *Conn) Write(ctx context.Context, p []byte) error       { return ErrNoCgo }
func (c *Conn) Read(ctx context.Context, p []byte) (int, error) { return 0, ErrNoCgo }
func (c *Conn) Close() error                                    { return nil }
func (c *Conn) Device() Device                                  { return Device{} }
