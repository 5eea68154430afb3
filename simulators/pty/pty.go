// Package pty opens Linux pseudo-terminals for serial device simulators.
//
// A simulator plays the device on the master side; the driver under test
// opens the slave path (for example /dev/pts/3) exactly as it would open
// /dev/ttyUSB0, through the real serial code. Closing the master hangs the
// terminal up: the driver's reads and writes then fail with EIO, which is
// what an unplugged USB serial adapter looks like (Linux: reads return end
// of file, writes EIO, and the slave path disappears).
//
//	p, err := pty.Open()
//	...
//	fmt.Println("device:", p.Path)
//	go serve(p.Master) // read commands from, write responses to the master
//	...
//	p.Close()          // "unplug"
package pty

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// PTY is an open pseudo-terminal pair.
type PTY struct {
	// Master is the device side. Reading it returns what the driver wrote to
	// the slave; writing it makes bytes available to the driver. Reads and
	// writes honour deadlines (SetReadDeadline) and a concurrent Close
	// unblocks them.
	Master *os.File
	// Path is the slave device path that a driver opens, e.g. /dev/pts/3.
	Path string

	// keep is an open slave descriptor held by the PTY itself, so that the
	// master never sees EIO while no driver has the slave open (between
	// two runs of a command line tool, say). It never reads, so it does not
	// steal the driver's bytes.
	keep *os.File

	closeOnce sync.Once
	closeErr  error
}

// Open allocates a new pseudo-terminal, unlocks it, puts the slave into raw
// mode (no echo, no line discipline, 8 bit clean) and returns the pair.
func Open() (*PTY, error) {
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("pty: open /dev/ptmx: %w", err)
	}
	path, err := slaveName(master)
	if err != nil {
		master.Close()
		return nil, err
	}
	keep, err := os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		master.Close()
		return nil, fmt.Errorf("pty: open slave %s: %w", path, err)
	}
	if err := makeRaw(keep); err != nil {
		keep.Close()
		master.Close()
		return nil, fmt.Errorf("pty: raw mode on %s: %w", path, err)
	}
	return &PTY{Master: master, Path: path, keep: keep}, nil
}

// slaveName unlocks the slave of master and returns its path.
func slaveName(master *os.File) (string, error) {
	rc, err := master.SyscallConn()
	if err != nil {
		return "", fmt.Errorf("pty: %w", err)
	}
	var n int
	var opErr error
	err = rc.Control(func(fd uintptr) {
		if opErr = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); opErr != nil {
			opErr = fmt.Errorf("pty: unlock (TIOCSPTLCK): %w", opErr)
			return
		}
		n, opErr = unix.IoctlGetInt(int(fd), unix.TIOCGPTN)
		if opErr != nil {
			opErr = fmt.Errorf("pty: slave number (TIOCGPTN): %w", opErr)
		}
	})
	if err == nil {
		err = opErr
	}
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("/dev/pts/%d", n), nil
}

// makeRaw applies the equivalent of cfmakeraw(3) to the terminal f.
func makeRaw(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var opErr error
	err = rc.Control(func(fd uintptr) {
		t, err := unix.IoctlGetTermios(int(fd), unix.TCGETS)
		if err != nil {
			opErr = err
			return
		}
		t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
		t.Oflag &^= unix.OPOST
		t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		t.Cflag &^= unix.CSIZE | unix.PARENB
		t.Cflag |= unix.CS8
		t.Cc[unix.VMIN] = 1
		t.Cc[unix.VTIME] = 0
		opErr = unix.IoctlSetTermios(int(fd), unix.TCSETS, t)
	})
	if err != nil {
		return err
	}
	return opErr
}

// Close closes the master (hanging up the terminal, so a driver holding the
// slave sees the device as unplugged) and the PTY's own slave descriptor.
// The slave path disappears. Close is safe to call more than once.
func (p *PTY) Close() error {
	p.closeOnce.Do(func() {
		p.closeErr = errors.Join(p.Master.Close(), p.keep.Close())
	})
	return p.closeErr
}
