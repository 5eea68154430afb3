package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Command is a frame's command byte. A response carries the command of its
// request.
type Command byte

// Commands (docs/scanner-protocol.md, "Commands").
const (
	CmdGetInfo        Command = 0x01 // -> DeviceInfo
	CmdGetCertificate Command = 0x02 // -> DeviceCertificate
	CmdFingerStatus   Command = 0x03 // -> FingerState
	CmdSetLED         Command = 0x04 // LEDs -> LEDs (as applied)
	CmdGetLED         Command = 0x05 // -> LEDs
	CmdAttest         Command = 0x06 // Nonce -> Attestation (no image)
	CmdEcho           Command = 0x07 // bytes -> same bytes
	CmdCapture        Command = 0x10 // Nonce -> CaptureHeader
	CmdReadChunk      Command = 0x11 // ChunkRequest -> Chunk
)

var commandNames = map[Command]string{
	CmdGetInfo: "GET_INFO", CmdGetCertificate: "GET_CERTIFICATE", CmdFingerStatus: "FINGER_STATUS",
	CmdSetLED: "SET_LED", CmdGetLED: "GET_LED", CmdAttest: "ATTEST", CmdEcho: "ECHO",
	CmdCapture: "CAPTURE", CmdReadChunk: "READ_CHUNK",
}

func (c Command) String() string {
	if n, ok := commandNames[c]; ok {
		return n
	}
	return fmt.Sprintf("CMD_%02X", byte(c))
}

// Known reports whether c is a command of protocol version 1.
func (c Command) Known() bool { _, ok := commandNames[c]; return ok }

// ErrorCode is the code of an error response.
type ErrorCode uint16

// Error codes (docs/scanner-protocol.md, "Errors").
const (
	CodeBadCRC           ErrorCode = 0x0001 // request CRC mismatch; host should retry
	CodeBadFrame         ErrorCode = 0x0002 // malformed header
	CodeBadVersion       ErrorCode = 0x0003 // protocol version not supported
	CodeUnknownCommand   ErrorCode = 0x0004
	CodeBadPayload       ErrorCode = 0x0005 // payload length or content invalid for the command
	CodeBusy             ErrorCode = 0x0006
	CodeNoFinger         ErrorCode = 0x0007
	CodeNoCapture        ErrorCode = 0x0008 // READ_CHUNK for a capture that is not (or no longer) held
	CodeBadChunk         ErrorCode = 0x0009 // chunk index out of range
	CodeLEDRange         ErrorCode = 0x000A
	CodeHardware         ErrorCode = 0x000B // sensor or LED failure
	CodeTamper           ErrorCode = 0x000C // tamper detected: the device refuses to sign
	CodeKeyUnavailable   ErrorCode = 0x000D // device key missing or expired
	CodeFingerMoved      ErrorCode = 0x000E // finger moved during exposure
	CodeInternal         ErrorCode = 0x00FF
	CodeVendorFirst      ErrorCode = 0x8000 // 0x8000..0xFFFF: vendor-specific
	maxErrorMessageBytes           = 255
)

var codeNames = map[ErrorCode]string{
	CodeBadCRC: "BAD_CRC", CodeBadFrame: "BAD_FRAME", CodeBadVersion: "BAD_VERSION",
	CodeUnknownCommand: "UNKNOWN_COMMAND", CodeBadPayload: "BAD_PAYLOAD", CodeBusy: "BUSY",
	CodeNoFinger: "NO_FINGER", CodeNoCapture: "NO_CAPTURE", CodeBadChunk: "BAD_CHUNK",
	CodeLEDRange: "LED_RANGE", CodeHardware: "HARDWARE", CodeTamper: "TAMPER",
	CodeKeyUnavailable: "KEY_UNAVAILABLE", CodeFingerMoved: "FINGER_MOVED", CodeInternal: "INTERNAL",
}

func (c ErrorCode) String() string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	if c >= CodeVendorFirst {
		return fmt.Sprintf("VENDOR_%04X", uint16(c))
	}
	return fmt.Sprintf("ERROR_%04X", uint16(c))
}

// DeviceError is an error response from the device. errors.Is matches two
// DeviceErrors with the same code, so callers write
// errors.Is(err, wire.ErrNoFinger).
type DeviceError struct {
	Code    ErrorCode
	Message string // diagnostic text from the device (may be empty)
}

func (e *DeviceError) Error() string {
	if e.Message == "" {
		return "veinscan: device error " + e.Code.String()
	}
	return fmt.Sprintf("veinscan: device error %s: %s", e.Code, e.Message)
}

// Is matches any *DeviceError with the same code.
func (e *DeviceError) Is(target error) bool {
	var t *DeviceError
	return errors.As(target, &t) && t.Code == e.Code
}

// Sentinel device errors for errors.Is.
var (
	ErrDeviceBadCRC     = &DeviceError{Code: CodeBadCRC}
	ErrUnknownCommand   = &DeviceError{Code: CodeUnknownCommand}
	ErrBadPayload       = &DeviceError{Code: CodeBadPayload}
	ErrBusy             = &DeviceError{Code: CodeBusy}
	ErrNoFinger         = &DeviceError{Code: CodeNoFinger}
	ErrNoCapture        = &DeviceError{Code: CodeNoCapture}
	ErrBadChunk         = &DeviceError{Code: CodeBadChunk}
	ErrLEDRange         = &DeviceError{Code: CodeLEDRange}
	ErrFingerMoved      = &DeviceError{Code: CodeFingerMoved}
	ErrTamper           = &DeviceError{Code: CodeTamper}
	ErrKeyUnavailable   = &DeviceError{Code: CodeKeyUnavailable}
	ErrHardware         = &DeviceError{Code: CodeHardware}
	ErrDeviceBadVersion = &DeviceError{Code: CodeBadVersion}
)

// MarshalBinary encodes an error payload: u16 code, u8 message length,
// message (UTF-8, at most 255 bytes; longer messages are cut at a rune
// boundary).
func (e *DeviceError) MarshalBinary() ([]byte, error) {
	msg := e.Message
	for len(msg) > maxErrorMessageBytes {
		_, size := utf8.DecodeLastRuneInString(msg)
		msg = msg[:len(msg)-size]
	}
	b := binary.BigEndian.AppendUint16(nil, uint16(e.Code))
	return appendStr8(b, msg), nil
}

// UnmarshalBinary decodes an error payload.
func (e *DeviceError) UnmarshalBinary(data []byte) error {
	r := reader{b: data}
	code := ErrorCode(r.u16())
	msg := r.str8()
	if err := r.done("error payload"); err != nil {
		return err
	}
	e.Code, e.Message = code, msg
	return nil
}

// Feature bits of DeviceInfo.Features.
const (
	FeatureFingerDetect uint32 = 1 << 0 // FINGER_STATUS reports real presence
	FeatureLEDControl   uint32 = 1 << 1 // SET_LED changes the illumination
	FeatureAttestation  uint32 = 1 << 2 // captures are signed; GET_CERTIFICATE and ATTEST work
	FeatureMotionDetect uint32 = 1 << 3 // CAPTURE fails with FINGER_MOVED on motion
	featuresKnown              = FeatureFingerDetect | FeatureLEDControl | FeatureAttestation | FeatureMotionDetect
)

// FeatureNames maps feature bits to names for display.
var FeatureNames = []struct {
	Bit  uint32
	Name string
}{
	{FeatureFingerDetect, "finger-detect"},
	{FeatureLEDControl, "led-control"},
	{FeatureAttestation, "attestation"},
	{FeatureMotionDetect, "motion-detect"},
}

// DeviceInfo is the GET_INFO response.
type DeviceInfo struct {
	ProtocolVersion byte
	Vendor          string
	Model           string
	Serial          string
	Firmware        string
	Width, Height   uint16
	BitDepth        byte // 8 in protocol version 1
	LEDCount        byte // 1..32
	Features        uint32
	ChunkSize       uint16 // bytes of image per READ_CHUNK response, 512..MaxChunkBytes
	MaxCaptureMs    uint16 // the longest a CAPTURE may take on this device
}

// Limits of DeviceInfo fields.
const (
	MaxLEDs       = 32
	MinImageSide  = 64
	MaxImageSide  = 4096
	MinChunkBytes = 512
)

// Validate checks DeviceInfo against the protocol's limits.
func (d *DeviceInfo) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if d.ProtocolVersion != Version {
		bad("protocol version %d", d.ProtocolVersion)
	}
	for _, s := range []struct{ name, v string }{{"vendor", d.Vendor}, {"model", d.Model}, {"serial", d.Serial}, {"firmware", d.Firmware}} {
		if len(s.v) == 0 || len(s.v) > 64 || !utf8.ValidString(s.v) {
			bad("%s must be 1..64 bytes of UTF-8", s.name)
		}
	}
	if d.Width < MinImageSide || d.Width > MaxImageSide || d.Height < MinImageSide || d.Height > MaxImageSide {
		bad("image %dx%d outside %d..%d", d.Width, d.Height, MinImageSide, MaxImageSide)
	}
	if d.BitDepth != 8 {
		bad("bit depth %d (version 1 has 8)", d.BitDepth)
	}
	if d.LEDCount == 0 || d.LEDCount > MaxLEDs {
		bad("LED count %d outside 1..%d", d.LEDCount, MaxLEDs)
	}
	if d.Features&^featuresKnown != 0 {
		bad("unknown feature bits %#x", d.Features&^featuresKnown)
	}
	if d.ChunkSize < MinChunkBytes || d.ChunkSize > MaxChunkBytes {
		bad("chunk size %d outside %d..%d", d.ChunkSize, MinChunkBytes, MaxChunkBytes)
	}
	if d.MaxCaptureMs == 0 {
		bad("max capture time 0")
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: device info: %w", ErrMalformed, errors.Join(errs...))
	}
	return nil
}

// MarshalBinary encodes the GET_INFO response payload:
//
//	u8 protocol version, str8 vendor, str8 model, str8 serial, str8 firmware,
//	u16 width, u16 height, u8 bit depth, u8 LED count, u32 features,
//	u16 chunk size, u16 max capture ms
func (d *DeviceInfo) MarshalBinary() ([]byte, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	b := []byte{d.ProtocolVersion}
	b = appendStr8(b, d.Vendor)
	b = appendStr8(b, d.Model)
	b = appendStr8(b, d.Serial)
	b = appendStr8(b, d.Firmware)
	b = binary.BigEndian.AppendUint16(b, d.Width)
	b = binary.BigEndian.AppendUint16(b, d.Height)
	b = append(b, d.BitDepth, d.LEDCount)
	b = binary.BigEndian.AppendUint32(b, d.Features)
	b = binary.BigEndian.AppendUint16(b, d.ChunkSize)
	b = binary.BigEndian.AppendUint16(b, d.MaxCaptureMs)
	return b, nil
}

// UnmarshalBinary decodes and validates a GET_INFO response payload.
func (d *DeviceInfo) UnmarshalBinary(data []byte) error {
	r := reader{b: data}
	var o DeviceInfo
	o.ProtocolVersion = r.u8()
	o.Vendor, o.Model, o.Serial, o.Firmware = r.str8(), r.str8(), r.str8(), r.str8()
	o.Width, o.Height = r.u16(), r.u16()
	o.BitDepth, o.LEDCount = r.u8(), r.u8()
	o.Features = r.u32()
	o.ChunkSize, o.MaxCaptureMs = r.u16(), r.u16()
	if err := r.done("device info"); err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return err
	}
	*d = o
	return nil
}

// ImageSize is the number of bytes of one image.
func (d *DeviceInfo) ImageSize() int { return int(d.Width) * int(d.Height) * int(d.BitDepth) / 8 }

// Finger states of FingerState.State.
const (
	FingerAbsent  = 0
	FingerPresent = 1
	FingerMoving  = 2 // present but not still: capture now may blur
)

// FingerState is the FINGER_STATUS response: u8 state, u8 coverage (0..100,
// percent of the sensor window the finger covers; 0 when absent).
type FingerState struct {
	State    byte
	Coverage byte
}

// MarshalBinary encodes the FINGER_STATUS response.
func (s *FingerState) MarshalBinary() ([]byte, error) {
	if s.State > FingerMoving || s.Coverage > 100 {
		return nil, fmt.Errorf("%w: finger state %d coverage %d", ErrMalformed, s.State, s.Coverage)
	}
	return []byte{s.State, s.Coverage}, nil
}

// UnmarshalBinary decodes the FINGER_STATUS response.
func (s *FingerState) UnmarshalBinary(data []byte) error {
	if len(data) != 2 {
		return fmt.Errorf("%w: finger status of %d bytes", ErrMalformed, len(data))
	}
	o := FingerState{data[0], data[1]}
	if _, err := o.MarshalBinary(); err != nil {
		return err
	}
	*s = o
	return nil
}

func (s FingerState) String() string {
	switch s.State {
	case FingerAbsent:
		return "absent"
	case FingerPresent:
		return fmt.Sprintf("present (%d%%)", s.Coverage)
	case FingerMoving:
		return fmt.Sprintf("moving (%d%%)", s.Coverage)
	}
	return fmt.Sprintf("state %d", s.State)
}

// LEDs is the SET_LED request and the SET_LED / GET_LED response: u8 count,
// then one intensity byte (0 = off .. 255 = full) per LED, LED 0 first.
// LED i lights mainly the i-th of n equal bands of the image width,
// counted from the left (hand-side) edge; the fingertip is at the right
// (docs/scanner-protocol.md, "SET_LED").
type LEDs []uint8

// MarshalBinary encodes LEDs.
func (l LEDs) MarshalBinary() ([]byte, error) {
	if len(l) == 0 || len(l) > MaxLEDs {
		return nil, fmt.Errorf("%w: %d LEDs", ErrMalformed, len(l))
	}
	return append([]byte{byte(len(l))}, l...), nil
}

// UnmarshalBinary decodes LEDs.
func (l *LEDs) UnmarshalBinary(data []byte) error {
	if len(data) < 2 || int(data[0]) != len(data)-1 || data[0] > MaxLEDs {
		return fmt.Errorf("%w: LED payload of %d bytes", ErrMalformed, len(data))
	}
	*l = append(LEDs(nil), data[1:]...)
	return nil
}

// NonceRequest is the CAPTURE and ATTEST request: the host's 32-byte nonce.
type NonceRequest struct{ Nonce [32]byte }

// MarshalBinary encodes the request.
func (n *NonceRequest) MarshalBinary() ([]byte, error) {
	return append([]byte(nil), n.Nonce[:]...), nil
}

// UnmarshalBinary decodes the request.
func (n *NonceRequest) UnmarshalBinary(data []byte) error {
	if len(data) != 32 {
		return fmt.Errorf("%w: nonce of %d bytes", ErrMalformed, len(data))
	}
	copy(n.Nonce[:], data)
	return nil
}

// CaptureHeader is the CAPTURE response. The image itself follows through
// READ_CHUNK requests; the attestation covers the whole image.
type CaptureHeader struct {
	Counter       uint64 // the capture counter; equals Attestation.Counter
	Width, Height uint16
	BitDepth      byte
	ImageSize     uint32 // Width*Height*BitDepth/8
	ChunkSize     uint16
	ChunkCount    uint16 // ceil(ImageSize/ChunkSize)
	ExposureUs    uint32
	LED           LEDs // the illumination used
	Attestation   []byte
}

// Validate checks the header's internal consistency.
func (h *CaptureHeader) Validate() error {
	switch {
	case h.Width < MinImageSide || h.Width > MaxImageSide || h.Height < MinImageSide || h.Height > MaxImageSide:
		return fmt.Errorf("%w: capture %dx%d", ErrMalformed, h.Width, h.Height)
	case h.BitDepth != 8:
		return fmt.Errorf("%w: bit depth %d", ErrMalformed, h.BitDepth)
	case h.ImageSize != uint32(h.Width)*uint32(h.Height):
		return fmt.Errorf("%w: image size %d for %dx%d", ErrMalformed, h.ImageSize, h.Width, h.Height)
	case h.ChunkSize < MinChunkBytes || h.ChunkSize > MaxChunkBytes:
		return fmt.Errorf("%w: chunk size %d", ErrMalformed, h.ChunkSize)
	case uint32(h.ChunkCount) != (h.ImageSize+uint32(h.ChunkSize)-1)/uint32(h.ChunkSize):
		return fmt.Errorf("%w: %d chunks of %d for %d bytes", ErrMalformed, h.ChunkCount, h.ChunkSize, h.ImageSize)
	case len(h.LED) == 0 || len(h.LED) > MaxLEDs:
		return fmt.Errorf("%w: %d LEDs", ErrMalformed, len(h.LED))
	case len(h.Attestation) > 1024:
		return fmt.Errorf("%w: attestation of %d bytes", ErrMalformed, len(h.Attestation))
	}
	return nil
}

// MarshalBinary encodes the CAPTURE response:
//
//	u64 counter, u16 width, u16 height, u8 bit depth, u32 image size,
//	u16 chunk size, u16 chunk count, u32 exposure µs, LEDs (u8 n + n bytes),
//	u16 attestation length, attestation (Attestation.MarshalBinary; may be
//	empty when the device has no FeatureAttestation)
func (h *CaptureHeader) MarshalBinary() ([]byte, error) {
	if err := h.Validate(); err != nil {
		return nil, err
	}
	b := binary.BigEndian.AppendUint64(nil, h.Counter)
	b = binary.BigEndian.AppendUint16(b, h.Width)
	b = binary.BigEndian.AppendUint16(b, h.Height)
	b = append(b, h.BitDepth)
	b = binary.BigEndian.AppendUint32(b, h.ImageSize)
	b = binary.BigEndian.AppendUint16(b, h.ChunkSize)
	b = binary.BigEndian.AppendUint16(b, h.ChunkCount)
	b = binary.BigEndian.AppendUint32(b, h.ExposureUs)
	b = append(b, byte(len(h.LED)))
	b = append(b, h.LED...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(h.Attestation)))
	return append(b, h.Attestation...), nil
}

// UnmarshalBinary decodes and validates the CAPTURE response.
func (h *CaptureHeader) UnmarshalBinary(data []byte) error {
	r := reader{b: data}
	var o CaptureHeader
	o.Counter = r.u64()
	o.Width, o.Height = r.u16(), r.u16()
	o.BitDepth = r.u8()
	o.ImageSize = r.u32()
	o.ChunkSize, o.ChunkCount = r.u16(), r.u16()
	o.ExposureUs = r.u32()
	if n := int(r.u8()); r.err == nil {
		o.LED = append(LEDs(nil), r.n(n)...)
	}
	if n := int(r.u16()); r.err == nil {
		o.Attestation = append([]byte(nil), r.n(n)...)
	}
	if err := r.done("capture header"); err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return err
	}
	*h = o
	return nil
}

// ChunkRequest is the READ_CHUNK request: u64 capture counter, u16 index.
type ChunkRequest struct {
	Counter uint64
	Index   uint16
}

// MarshalBinary encodes the request.
func (c *ChunkRequest) MarshalBinary() ([]byte, error) {
	b := binary.BigEndian.AppendUint64(nil, c.Counter)
	return binary.BigEndian.AppendUint16(b, c.Index), nil
}

// UnmarshalBinary decodes the request.
func (c *ChunkRequest) UnmarshalBinary(data []byte) error {
	if len(data) != 10 {
		return fmt.Errorf("%w: chunk request of %d bytes", ErrMalformed, len(data))
	}
	c.Counter = binary.BigEndian.Uint64(data)
	c.Index = binary.BigEndian.Uint16(data[8:])
	return nil
}

// Chunk is the READ_CHUNK response: u64 capture counter, u16 index, then
// the image bytes [index*chunkSize, min((index+1)*chunkSize, imageSize)).
type Chunk struct {
	Counter uint64
	Index   uint16
	Data    []byte
}

// MarshalBinary encodes the response.
func (c *Chunk) MarshalBinary() ([]byte, error) {
	if len(c.Data) == 0 || len(c.Data) > MaxChunkBytes {
		return nil, fmt.Errorf("%w: chunk of %d bytes", ErrMalformed, len(c.Data))
	}
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 10+len(c.Data)), c.Counter)
	b = binary.BigEndian.AppendUint16(b, c.Index)
	return append(b, c.Data...), nil
}

// UnmarshalBinary decodes the response.
func (c *Chunk) UnmarshalBinary(data []byte) error {
	if len(data) < 11 || len(data) > 10+MaxChunkBytes {
		return fmt.Errorf("%w: chunk payload of %d bytes", ErrMalformed, len(data))
	}
	c.Counter = binary.BigEndian.Uint64(data)
	c.Index = binary.BigEndian.Uint16(data[8:])
	c.Data = append([]byte(nil), data[10:]...)
	return nil
}
