// Package escpos is the wire codec of ESC/POS receipt printers, the subset
// the kiosk uses (docs/printer-protocol.md): initialise, alignment, bold,
// character size, Chinese (GB18030) text, line feeds, paper feed, cut, QR
// codes (GS ( k) and the real-time status queries (DLE EOT) with their
// one-byte answers.
//
// Builder writes a print job; Decoder reads one back, byte stream in
// chunks, as a printer does (the simulator in simulators/printersim uses
// it). Both are pure: no I/O, no goroutines. The package imports nothing
// of this module (a leaf).
package escpos

import "errors"

// Control bytes.
const (
	HT  = 0x09
	LF  = 0x0a
	CR  = 0x0d
	DLE = 0x10
	EOT = 0x04
	ESC = 0x1b
	FS  = 0x1c
	GS  = 0x1d
)

// Errors of the codec. Decoder reports them in Command.Err; Builder
// returns them from Bytes.
var (
	// ErrUnknownCommand: a control byte or command this subset does not
	// define; the decoder skips the command byte and its function byte.
	ErrUnknownCommand = errors.New("escpos: unknown command")
	// ErrBadArgument: a known command with an argument out of range.
	ErrBadArgument = errors.New("escpos: argument out of range")
	// ErrBadText: bytes that are not valid GB18030 (or, from the
	// builder, text with control characters, which would be commands).
	ErrBadText = errors.New("escpos: invalid text")
	// ErrBadStatus: a status byte whose fixed bits are wrong (not an
	// answer to DLE EOT).
	ErrBadStatus = errors.New("escpos: not a status byte")
	// ErrTooLong: QR data longer than a version 40 code holds.
	ErrTooLong = errors.New("escpos: data too long")
)

// Align is a justification (ESC a n).
type Align byte

const (
	Left   Align = 0
	Center Align = 1
	Right  Align = 2
)

// ECLevel is a QR error-correction level (GS ( k fn 69).
type ECLevel byte

const (
	ECLow      ECLevel = 48 // L, 7 %
	ECMedium   ECLevel = 49 // M, 15 %
	ECQuartile ECLevel = 50 // Q, 25 %
	ECHigh     ECLevel = 51 // H, 30 %
)

// MaxQRData is the most bytes GS ( k fn 80 stores (QR version 40, level L,
// byte mode: 2953; printers accept up to 7089 numeric digits, the kiosk
// only sends bytes).
const MaxQRData = 2953
