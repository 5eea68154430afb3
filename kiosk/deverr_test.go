package kiosk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
	"testing"
)

func TestErrorKindOf(t *testing.T) {
	open := &fs.PathError{Op: "open", Path: "/dev/ttyUSB0", Err: syscall.ENOENT}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{fmt.Errorf("read: %w", context.DeadlineExceeded), ErrorKindTimeout},
		{fmt.Errorf("serial: %w", os.ErrDeadlineExceeded), ErrorKindTimeout},
		{fmt.Errorf("reader: %w", open), ErrorKindNotFound},
		{&fs.PathError{Op: "open", Path: "/dev/ttyUSB0", Err: syscall.ENODEV}, ErrorKindNotFound},
		{&fs.PathError{Op: "open", Path: "/dev/ttyUSB0", Err: syscall.EACCES}, ErrorKindPermission},
		{&fs.PathError{Op: "open", Path: "/dev/ttyUSB0", Err: syscall.EBUSY}, ErrorKindBusy},
		{fmt.Errorf("read frame: %w", io.ErrUnexpectedEOF), ErrorKindIO},
		{&fs.PathError{Op: "read", Path: "/dev/ttyACM0", Err: syscall.EIO}, ErrorKindIO},
		{fmt.Errorf("scanner: %w", ErrDeviceDown), ErrorKindDown},
		// As kiosk/hwdev wraps an open that failed: the cause wins.
		{fmt.Errorf("%w: %w", ErrDeviceDown, open), ErrorKindNotFound},
		{errors.New("something else"), ErrorKindOther},
	} {
		if got := ErrorKindOf(tc.err); got != tc.want {
			t.Errorf("ErrorKindOf(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
