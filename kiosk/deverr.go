package kiosk

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// Kinds of device errors (Health.ErrorKind): what the staff's diagnostics
// screen says in Chinese instead of the driver's English.
const (
	ErrorKindTimeout    = "timeout"    // the device did not answer in time
	ErrorKindNotFound   = "not_found"  // no such device (unplugged, wrong port)
	ErrorKindPermission = "permission" // the daemon may not open it
	ErrorKindBusy       = "busy"       // another program holds it
	ErrorKindIO         = "io"         // the link broke (unplugged while open)
	ErrorKindDown       = "down"       // not connected, reconnecting
	ErrorKindOther      = "other"
)

// ErrorKindOf classifies a device error by the system errors in its chain
// (kiosk/hwdev keeps the driver's error in the chain under ErrDeviceDown),
// the most specific first.
func ErrorKindOf(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, syscall.ETIMEDOUT):
		return ErrorKindTimeout
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENODEV) || errors.Is(err, syscall.ENXIO):
		return ErrorKindNotFound
	case errors.Is(err, fs.ErrPermission):
		return ErrorKindPermission
	case errors.Is(err, syscall.EBUSY):
		return ErrorKindBusy
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.EIO) || errors.Is(err, fs.ErrClosed):
		return ErrorKindIO
	case errors.Is(err, ErrDeviceDown):
		return ErrorKindDown
	}
	return ErrorKindOther
}
