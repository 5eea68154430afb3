package pty

import (
	"bytes"
	"errors"
	"io"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestRoundTripRaw(t *testing.T) {
	p, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s, err := os.OpenFile(p.Path, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// Every byte value must pass unchanged both ways (raw mode: no CR/LF
	// translation, no echo, no signals on 0x03).
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	if _, err := s.Write(all); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(all))
	p.Master.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(p.Master, got); err != nil {
		t.Fatalf("master read: %v", err)
	}
	if !bytes.Equal(got, all) {
		t.Fatalf("slave->master changed bytes:\n got %x\nwant %x", got, all)
	}
	if _, err := p.Master.Write(all); err != nil {
		t.Fatal(err)
	}
	got = make([]byte, len(all))
	if _, err := io.ReadFull(s, got); err != nil {
		t.Fatalf("slave read: %v", err)
	}
	if !bytes.Equal(got, all) {
		t.Fatalf("master->slave changed bytes:\n got %x\nwant %x", got, all)
	}
	// No echo: the master must not see what it wrote.
	p.Master.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	n, err := p.Master.Read(make([]byte, 16))
	if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("master read after write = %d, %v; want nothing (no echo)", n, err)
	}
}

func TestCloseIsUnplug(t *testing.T) {
	p, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(p.Path, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// A hung-up terminal reads as end of file (Linux returns 0 bytes) and
	// refuses writes with EIO.
	if n, err := s.Read(make([]byte, 1)); n != 0 || (err != io.EOF && !errors.Is(err, syscall.EIO)) {
		t.Fatalf("slave read after master close = %d, %v; want EOF or EIO", n, err)
	}
	if _, err := s.Write([]byte{1}); !errors.Is(err, syscall.EIO) {
		t.Fatalf("slave write after master close: %v, want EIO", err)
	}
	if _, err := os.Stat(p.Path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("slave path still exists after close: %v", err)
	}
}

func TestMasterSurvivesSlaveReopen(t *testing.T) {
	p, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for i := 0; i < 2; i++ {
		s, err := os.OpenFile(p.Path, os.O_RDWR|syscall.O_NOCTTY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Write([]byte{0xAA, byte(i)}); err != nil {
			t.Fatal(err)
		}
		s.Close()
		got := make([]byte, 2)
		p.Master.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(p.Master, got); err != nil {
			t.Fatalf("round %d: master read after the driver closed: %v", i, err)
		}
		if got[1] != byte(i) {
			t.Fatalf("round %d: got %x", i, got)
		}
	}
}
