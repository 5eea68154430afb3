package escpos

import "fmt"

// The four real-time status queries (DLE EOT n).
const (
	StatusPrinter byte = 1 // online/offline
	StatusOffline byte = 2 // why offline: cover, feed button, paper end, error
	StatusError   byte = 3 // which error: cutter, unrecoverable, auto-recoverable
	StatusPaper   byte = 4 // paper roll sensor: near end, end
)

// StatusQuery is the 3-byte DLE EOT n request. A printer answers it at
// once, even in the middle of a job or while offline.
func StatusQuery(n byte) []byte { return []byte{DLE, EOT, n} }

// Status is what the answers to the status queries say, merged.
type Status struct {
	Offline       bool // n=1 bit 3
	CoverOpen     bool // n=2 bit 2
	FeedButton    bool // n=2 bit 3: paper being fed by the button
	PaperStop     bool // n=2 bit 5: printing stopped at paper end
	Error         bool // n=2 bit 6
	CutterError   bool // n=3 bit 3
	Unrecoverable bool // n=3 bit 5
	AutoRecover   bool // n=3 bit 6: e.g. head temperature
	PaperNearEnd  bool // n=4 bits 2,3
	PaperEnd      bool // n=4 bits 5,6
}

// Every answer has bit 1 and bit 4 set and bits 0 and 7 clear.
const (
	fixedMask = 0x93
	fixedBits = 0x12
)

// StatusByte is the printer's answer to DLE EOT n for status s.
func StatusByte(n byte, s Status) (byte, error) {
	b := byte(fixedBits)
	set := func(cond bool, bits byte) {
		if cond {
			b |= bits
		}
	}
	switch n {
	case StatusPrinter:
		set(s.Offline, 0x08)
	case StatusOffline:
		set(s.CoverOpen, 0x04)
		set(s.FeedButton, 0x08)
		set(s.PaperStop, 0x20)
		set(s.Error, 0x40)
	case StatusError:
		set(s.CutterError, 0x08)
		set(s.Unrecoverable, 0x20)
		set(s.AutoRecover, 0x40)
	case StatusPaper:
		set(s.PaperNearEnd, 0x0c)
		set(s.PaperEnd, 0x60)
	default:
		return 0, fmt.Errorf("%w: DLE EOT %d", ErrBadArgument, n)
	}
	return b, nil
}

// Merge adds the answer b to DLE EOT n into s.
func (s *Status) Merge(n, b byte) error {
	if b&fixedMask != fixedBits {
		return fmt.Errorf("%w: %#02x", ErrBadStatus, b)
	}
	switch n {
	case StatusPrinter:
		s.Offline = b&0x08 != 0
	case StatusOffline:
		s.CoverOpen = b&0x04 != 0
		s.FeedButton = b&0x08 != 0
		s.PaperStop = b&0x20 != 0
		s.Error = b&0x40 != 0
	case StatusError:
		s.CutterError = b&0x08 != 0
		s.Unrecoverable = b&0x20 != 0
		s.AutoRecover = b&0x40 != 0
	case StatusPaper:
		// Either bit of a pair is enough: models set one or both.
		s.PaperNearEnd = b&0x0c != 0
		s.PaperEnd = b&0x60 != 0
	default:
		return fmt.Errorf("%w: DLE EOT %d", ErrBadArgument, n)
	}
	return nil
}

// Ready reports a printer that can print now.
func (s Status) Ready() bool {
	return !s.Offline && !s.CoverOpen && !s.PaperEnd && !s.PaperStop && !s.Error && !s.CutterError && !s.Unrecoverable
}
