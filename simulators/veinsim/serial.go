package veinsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan/wire"
	"github.com/qingshan-gov/veinkiosk/simulators/pty"
)

// PTYServer plays the device on a pseudo-terminal: a host opens Path as a
// serial port ("serial:PATH"). Unplugging the device closes the terminal
// (the path disappears, as a USB serial adapter's does); replugging opens a
// new one, whose path OnPlug receives.
type PTYServer struct {
	d      *Device
	OnPlug func(path string)

	mu   sync.Mutex
	path string
}

// ServePTY serves d on pseudo-terminals until ctx ends. It calls onPlug
// with the path of each terminal it opens (first at once).
func (d *Device) ServePTY(ctx context.Context, onPlug func(path string)) error {
	s := &PTYServer{d: d, OnPlug: onPlug}
	return s.Serve(ctx)
}

// Path is the current terminal's path ("" while unplugged).
func (s *PTYServer) Path() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.path
}

// Serve runs until ctx ends.
func (s *PTYServer) Serve(ctx context.Context) error {
	for {
		if err := s.waitPlugged(ctx); err != nil {
			return err
		}
		err := s.serveOne(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil && !errors.Is(err, wire.ErrDisconnected) {
			return err
		}
	}
}

func (s *PTYServer) waitPlugged(ctx context.Context) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for !s.d.Plugged() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// serveOne serves one terminal until unplug or ctx's end.
func (s *PTYServer) serveOne(ctx context.Context) error {
	p, err := pty.Open()
	if err != nil {
		return err
	}
	conn, err := s.d.Connect()
	if err != nil {
		p.Close()
		return err
	}
	s.mu.Lock()
	s.path = p.Path
	s.mu.Unlock()
	if s.OnPlug != nil {
		s.OnPlug(p.Path)
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	errc := make(chan error, 2)
	// host -> device
	go func() {
		defer wg.Done()
		buf := make([]byte, 4096)
		for {
			n, err := p.Master.Read(buf)
			if n > 0 {
				if werr := conn.Write(ctx, buf[:n]); werr != nil {
					errc <- werr
					return
				}
			}
			if err != nil {
				if ctx.Err() == nil && !errors.Is(err, os.ErrClosed) && !errors.Is(err, io.EOF) {
					errc <- fmt.Errorf("veinsim: pty read: %w", err)
				}
				return
			}
		}
	}()
	// device -> host
	go func() {
		defer wg.Done()
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(ctx, buf)
			if err != nil {
				errc <- err
				return
			}
			if _, err := p.Master.Write(buf[:n]); err != nil {
				errc <- fmt.Errorf("veinsim: pty write: %w", err)
				return
			}
		}
	}()
	var first error
	select {
	case <-ctx.Done():
	case first = <-errc:
	}
	cancel()
	s.mu.Lock()
	s.path = ""
	s.mu.Unlock()
	p.Close() // unblocks the reader; the path disappears
	conn.Close()
	wg.Wait()
	return first
}
