// Package veinsim is the device side of the finger-vein scanner protocol
// (docs/scanner-protocol.md), built on the same codec as the driver
// (devices/veinscan/wire). A Device renders near-infrared images of synthetic
// fingers (simulators/fingerimg) under the LED settings the host chose,
// signs every capture with its Ed25519 device key, and can be told to
// misbehave in the ways real scanners do (Fault).
//
// A Device is reachable three ways: in-process through Conn (unit tests and
// "veinctl --device sim"), on a pseudo-terminal through ServePTY (the serial
// transport), and as an emulated USB device through the umockusb
// sub-package (the real gousb code path under umockdev).
//
// Hardware developers and tests control it like libfprint's virtual device
// or MOSIP's mock device: place or remove a resident's finger, choose a
// fault, set the quality; in-process through the methods of Device, or over
// HTTP with JSON through Handler.
package veinsim

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"math"
	"sync"
	"time"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan/wire"
	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/simulators/fingerimg"
)

// USB identity of the simulator (docs/scanner-protocol.md, "USB"): pid.codes'
// open-hardware vendor ID 0x1209 and its test product ID 0x0001, which must
// never ship in a product. A maker registers its own PID with pid.codes.
const (
	USBVendorID  = 0x1209
	USBProductID = 0x0001
)

// Defaults of Config.
const (
	DefaultVendor    = "veinkiosk project"
	DefaultModel     = "VS-SIM-1"
	DefaultFirmware  = "sim-1.0.0"
	DefaultSerial    = "SIM-00000001"
	DefaultLEDCount  = 4
	DefaultChunkSize = 8192
	DefaultMakerID   = "pid.codes:1209:0001/test"
	MaxCaptureMs     = 1500
	// DefaultPartialFrameTimeout is the simulator's partial-frame
	// time-out: within the protocol's 50..200 ms.
	DefaultPartialFrameTimeout = 100 * time.Millisecond
	// ExposureUs is the exposure time the simulator reports.
	ExposureUs = 8000
)

// ResidentLookup maps a resident's ID number and ISO finger position
// (1..10) to the seed of that finger's synthetic identity. simulators/deck
// provides one (see DeckLookup).
type ResidentLookup interface {
	FingerSeed(idNumber string, finger int) (uint64, error)
}

// ErrUnknownResident is returned by a ResidentLookup for an unknown ID.
var ErrUnknownResident = errors.New("veinsim: unknown resident")

// Config describes the simulated device. Zero fields take the defaults.
type Config struct {
	Vendor, Model, Firmware, Serial string
	Width, Height                   int // default 500 x 200
	LEDCount                        int // default 4
	ChunkSize                       int // bytes per READ_CHUNK response, default 8192
	// MakerKey signs the device certificate; default TestMakerKey (a fixed
	// key: simulators are not trusted devices).
	MakerKey ed25519.PrivateKey
	MakerID  string
	// DeviceKey is the device's attestation key; default derived from the
	// serial (deterministic, test only).
	DeviceKey ed25519.PrivateKey
	// Counter is the capture counter before the first capture. Zero means
	// "derive from the wall clock" (milliseconds since the epoch), so that
	// successive runs of a simulator with the same serial keep the counter
	// growing, as a real device that persists it in flash does.
	Counter uint64
	// Clock gives the device time (default time.Now).
	Clock func() time.Time
	// Residents resolves PlaceResident; nil means DeckResidents without a
	// deck: any valid ID number has its own finger (IDFingerSeed).
	Residents ResidentLookup
	// Quality 0..1 is fingerimg's quality knob (default fingerimg.DefaultQuality).
	Quality float64
	// PartialFrameTimeout is how long the device waits, after the last
	// byte the host sent, for the rest of an incomplete request frame
	// before giving it up (docs/scanner-protocol.md, "Receiving"; the
	// protocol allows 50..200 ms). Default DefaultPartialFrameTimeout.
	PartialFrameTimeout time.Duration
	// Seed varies the captures (pose, noise) of the whole session. Each
	// placement of a finger on the window gets its own fingerimg seed
	// (derived from Seed and a placement number that starts at Counter,
	// so successive runs differ); the captures of one placement are
	// successive frames of it (fingerimg Conditions.Frame): a finger
	// lying still, differing only in sensor noise and tremor.
	Seed uint64
}

// testMakerSeed derives the fixed test maker key. Anything signed with it
// proves nothing but that the simulator made it.
var testMakerSeed = sha256.Sum256([]byte("veinkiosk veinsim TEST maker key - never trust"))

// TestMakerKey is the simulator's default maker key.
func TestMakerKey() ed25519.PrivateKey { return ed25519.NewKeyFromSeed(testMakerSeed[:]) }

// TestMakerPublicKey is the public half of TestMakerKey: trust it only in
// tests and demonstrations.
func TestMakerPublicKey() ed25519.PublicKey {
	return TestMakerKey().Public().(ed25519.PublicKey)
}

// deviceKeyFor derives a deterministic test device key from a serial.
func deviceKeyFor(serial string) ed25519.PrivateKey {
	s := sha256.Sum256([]byte("veinkiosk veinsim TEST device key\x00" + serial))
	return ed25519.NewKeyFromSeed(s[:])
}

// Fault is a misbehaviour the simulator can be told to show.
type Fault int

// Faults. Each breaks one protocol requirement (see the conformance kit).
const (
	FaultNone             Fault = iota
	FaultUnplug                 // the device disappears; transports report disconnection
	FaultStall                  // the device stops answering (firmware hang)
	FaultCorruptFrame           // responses carry a wrong CRC
	FaultTruncateFrame          // responses are cut short
	FaultWrongLength            // responses declare a shorter payload than they carry
	FaultNoFinger               // the sensor does not see the finger
	FaultFingerMoved            // the finger moves during exposures (motion blur)
	FaultOverExposure           // sensor gain far too high: saturated whatever the LEDs
	FaultUnderExposure          // sensor gain far too low: dark whatever the LEDs
	FaultBadSignature           // attestation signatures do not verify
	FaultCounterBackwards       // the capture counter goes backwards
	FaultKeepPartial            // never gives up a partial request frame (no partial-frame time-out)
	faultCount
)

var faultNames = [...]string{"none", "unplug", "stall", "corrupt-frame", "truncate-frame", "wrong-length",
	"no-finger", "finger-moved", "over-exposure", "under-exposure", "bad-signature", "counter-backwards", "keep-partial"}

func (f Fault) String() string {
	if f >= 0 && f < faultCount {
		return faultNames[f]
	}
	return fmt.Sprintf("Fault(%d)", int(f))
}

// Faults lists every fault but FaultNone.
func Faults() []Fault {
	out := make([]Fault, 0, faultCount-1)
	for f := FaultNone + 1; f < faultCount; f++ {
		out = append(out, f)
	}
	return out
}

// ParseFault parses a fault name as printed by String.
func ParseFault(s string) (Fault, error) {
	for i, n := range faultNames {
		if n == s {
			return Fault(i), nil
		}
	}
	return 0, fmt.Errorf("veinsim: unknown fault %q (known: %v)", s, faultNames)
}

// Device is one simulated scanner. All methods are safe for concurrent use.
type Device struct {
	cfg    Config
	info   wire.DeviceInfo
	cert   wire.DeviceCertificate
	devKey ed25519.PrivateKey

	mu        sync.Mutex
	led       wire.LEDs
	counter   uint64
	finger    *fingerimg.Finger
	fingerRef string // "resident ID#finger" or "seed N", for status
	placement uint64 // numbers the placements of a finger on the window
	frame     uint64 // captures of the current placement so far
	lifted    *fingerimg.Finger
	liftedRef string
	fault     Fault
	quality   float64
	unplugged bool
	gen       int // plug generation: bumps on every unplug
	last      *heldCapture
	stats     Stats
	gone      chan struct{} // closed on unplug; replaced on replug
}

type heldCapture struct {
	hdr wire.CaptureHeader
	pix []byte
}

// Stats counts what the device did.
type Stats struct {
	Requests      int `json:"requests"`        // request frames answered (good or not)
	Captures      int `json:"captures"`        // successful CAPTUREs
	ErrorsSent    int `json:"errors_sent"`     // error responses sent
	BadFramesSeen int `json:"bad_frames_seen"` // requests answered BAD_CRC, BAD_FRAME or BAD_VERSION
	// PartialFramesDropped counts partial-frame time-outs: the host fell
	// silent with an incomplete request buffered, which was given up.
	PartialFramesDropped int `json:"partial_frames_dropped"`
}

// New builds a device from cfg.
func New(cfg Config) (*Device, error) {
	if cfg.Vendor == "" {
		cfg.Vendor = DefaultVendor
	}
	if cfg.Model == "" {
		cfg.Model = DefaultModel
	}
	if cfg.Firmware == "" {
		cfg.Firmware = DefaultFirmware
	}
	if cfg.Serial == "" {
		cfg.Serial = DefaultSerial
	}
	if cfg.Width == 0 {
		cfg.Width = fingerimg.DefaultWidth
	}
	if cfg.Height == 0 {
		cfg.Height = fingerimg.DefaultHeight
	}
	if cfg.LEDCount == 0 {
		cfg.LEDCount = DefaultLEDCount
	}
	if cfg.ChunkSize == 0 {
		cfg.ChunkSize = DefaultChunkSize
	}
	if cfg.MakerKey == nil {
		cfg.MakerKey = TestMakerKey()
	}
	if cfg.MakerID == "" {
		cfg.MakerID = DefaultMakerID
	}
	if cfg.DeviceKey == nil {
		cfg.DeviceKey = deviceKeyFor(cfg.Serial)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Residents == nil {
		cfg.Residents = DeckResidents{}
	}
	if cfg.Counter == 0 {
		cfg.Counter = uint64(cfg.Clock().UnixMilli())
	}
	if cfg.Quality == 0 {
		cfg.Quality = fingerimg.DefaultQuality
	}
	if cfg.PartialFrameTimeout <= 0 {
		cfg.PartialFrameTimeout = DefaultPartialFrameTimeout
	}
	if cfg.Width > fingerimg.MaxWidth || cfg.Height > fingerimg.MaxHeight {
		return nil, fmt.Errorf("veinsim: sensor %dx%d larger than fingerimg's %dx%d", cfg.Width, cfg.Height, fingerimg.MaxWidth, fingerimg.MaxHeight)
	}
	d := &Device{cfg: cfg, devKey: cfg.DeviceKey, counter: cfg.Counter, placement: cfg.Counter,
		quality: cfg.Quality, gone: make(chan struct{})}
	d.info = wire.DeviceInfo{
		ProtocolVersion: wire.Version,
		Vendor:          cfg.Vendor, Model: cfg.Model, Serial: cfg.Serial, Firmware: cfg.Firmware,
		Width: uint16(cfg.Width), Height: uint16(cfg.Height), BitDepth: 8,
		LEDCount:     uint8(cfg.LEDCount),
		Features:     wire.FeatureFingerDetect | wire.FeatureLEDControl | wire.FeatureAttestation,
		ChunkSize:    uint16(cfg.ChunkSize),
		MaxCaptureMs: MaxCaptureMs,
	}
	if err := d.info.Validate(); err != nil {
		return nil, fmt.Errorf("veinsim: config: %w", err)
	}
	d.cert = wire.DeviceCertificate{Serial: cfg.Serial, Model: cfg.Model,
		PublicKey: cfg.DeviceKey.Public().(ed25519.PublicKey), MakerID: cfg.MakerID}
	if err := d.cert.Sign(cfg.MakerKey); err != nil {
		return nil, fmt.Errorf("veinsim: certificate: %w", err)
	}
	d.led = make(wire.LEDs, cfg.LEDCount)
	for i := range d.led {
		d.led[i] = fingerimg.DefaultLED
	}
	return d, nil
}

// Info returns the device's GET_INFO answer.
func (d *Device) Info() wire.DeviceInfo { return d.info }

// Certificate returns the device certificate.
func (d *Device) Certificate() wire.DeviceCertificate { return d.cert }

// MakerPublicKey returns the public key that verifies the certificate.
func (d *Device) MakerPublicKey() ed25519.PublicKey {
	return d.cfg.MakerKey.Public().(ed25519.PublicKey)
}

// PlaceFinger puts the finger with the given fingerimg seed on the window.
func (d *Device) PlaceFinger(seed uint64) {
	f := fingerimg.NewFinger(seed)
	d.mu.Lock()
	d.place(f, fmt.Sprintf("seed %d", seed))
	d.mu.Unlock()
}

// PlaceResident puts finger (ISO position 1..10) of the resident with this
// ID number on the window.
func (d *Device) PlaceResident(idNumber string, finger int) error {
	if finger < 1 || finger > 10 {
		return fmt.Errorf("veinsim: finger position %d outside 1..10", finger)
	}
	seed, err := d.cfg.Residents.FingerSeed(idNumber, finger)
	if err != nil {
		return err
	}
	f := fingerimg.NewFinger(seed)
	d.mu.Lock()
	d.place(f, fmt.Sprintf("resident %s finger %d", identity.MaskIDNumber(idNumber), finger))
	d.mu.Unlock()
	return nil
}

// place puts f on the window as a new placement (a new pose, pressure,
// roll...). Call with d.mu held.
func (d *Device) place(f *fingerimg.Finger, ref string) {
	d.finger, d.fingerRef = f, ref
	d.placement++
	d.frame = 0
}

// placementSeed is the fingerimg capture seed of placement n of a session.
func placementSeed(session, n uint64) uint64 {
	z := session + n*0x9E3779B97F4A7C15 // splitmix64
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return z ^ z>>31
}

// RemoveFinger takes the finger off the window.
func (d *Device) RemoveFinger() {
	d.mu.Lock()
	d.finger, d.fingerRef = nil, ""
	d.mu.Unlock()
}

// SetFault selects the fault the device shows from now on (FaultNone to
// heal). Setting FaultUnplug unplugs the device (see Unplug); setting
// anything else while unplugged plugs it back in.
func (d *Device) SetFault(f Fault) error {
	if f < 0 || f >= faultCount {
		return fmt.Errorf("veinsim: unknown fault %d", int(f))
	}
	if f == FaultUnplug {
		d.Unplug()
		return nil
	}
	d.mu.Lock()
	d.fault = f
	d.mu.Unlock()
	d.Replug()
	return nil
}

// Fault returns the fault in effect.
func (d *Device) Fault() Fault {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.unplugged {
		return FaultUnplug
	}
	return d.fault
}

// SetQuality sets fingerimg's quality knob (0..1) for later captures.
func (d *Device) SetQuality(q float64) error {
	if math.IsNaN(q) || q < 0 || q > 1 {
		return fmt.Errorf("veinsim: quality %v outside 0..1", q)
	}
	d.mu.Lock()
	d.quality = q
	d.mu.Unlock()
	return nil
}

// Unplug makes the device vanish: every open connection fails with
// wire.ErrDisconnected and new ones cannot be made until Replug.
func (d *Device) Unplug() {
	d.mu.Lock()
	if !d.unplugged {
		d.unplugged = true
		d.gen++
		d.last = nil
		close(d.gone)
	}
	d.mu.Unlock()
}

// Replug plugs the device back in.
func (d *Device) Replug() {
	d.mu.Lock()
	if d.unplugged {
		d.unplugged = false
		d.gone = make(chan struct{})
	}
	d.mu.Unlock()
}

// Plugged reports whether the device is attached.
func (d *Device) Plugged() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return !d.unplugged
}

// Status is a snapshot of the device for the control channel; every field
// is described in docs/scanner-protocol.md ("Simulator", a test keeps the
// two in step).
type Status struct {
	Serial         string    `json:"serial"`
	Model          string    `json:"model"`
	Plugged        bool      `json:"plugged"`
	Finger         string    `json:"finger,omitempty"`
	Lifted         string    `json:"lifted,omitempty"`
	Fault          string    `json:"fault"`
	Quality        float64   `json:"quality"`
	LED            []int     `json:"led"`
	Counter        uint64    `json:"counter"`
	Stats          Stats     `json:"stats"`
	Time           time.Time `json:"time"`
	USBID          string    `json:"usb_id"`
	Protocol       int       `json:"protocol_version"`
	MakerID        string    `json:"maker_id"`
	MakerPublicKey string    `json:"maker_public_key"`
	PartialFrameMs int       `json:"partial_frame_timeout_ms"`
}

// Status returns a snapshot.
func (d *Device) Status() Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := Status{Serial: d.info.Serial, Model: d.info.Model, Plugged: !d.unplugged, Finger: d.fingerRef,
		Fault: d.fault.String(), Quality: d.quality, Counter: d.counter, Stats: d.stats, Time: d.cfg.Clock().UTC(),
		USBID: fmt.Sprintf("%04x:%04x", USBVendorID, USBProductID), Protocol: wire.Version,
		MakerID: d.cert.MakerID, MakerPublicKey: hex.EncodeToString(d.MakerPublicKey()),
		PartialFrameMs: int(d.cfg.PartialFrameTimeout / time.Millisecond)}
	if d.finger == nil && d.lifted != nil {
		s.Lifted = d.liftedRef
	}
	if d.unplugged {
		s.Fault = FaultUnplug.String()
	}
	for _, v := range d.led {
		s.LED = append(s.LED, int(v))
	}
	return s
}

// handle answers one request frame. It returns the response bytes to send
// (possibly damaged by the fault in effect), or nil to send nothing.
func (d *Device) handle(req *wire.Frame, decodeErr error) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.unplugged || d.fault == FaultStall {
		return nil
	}
	d.stats.Requests++
	var resp *wire.Frame
	if decodeErr != nil {
		d.stats.BadFramesSeen++
		code := wire.CodeBadFrame
		if errors.Is(decodeErr, wire.ErrBadVersion) {
			code = wire.CodeBadVersion
		}
		resp = d.errFrame(req, code, decodeErr.Error())
	} else if req.Flags != 0 {
		// a request has flags 0: RESPONSE or ERROR set (alone or
		// together) is BAD_FRAME ("Errors", order of checks)
		d.stats.BadFramesSeen++
		resp = d.errFrame(req, wire.CodeBadFrame, fmt.Sprintf("request with flags %#02x; requests have flags 0", req.Flags))
	} else {
		payload, err := d.dispatch(req)
		if err != nil {
			var de *wire.DeviceError
			if !errors.As(err, &de) {
				de = &wire.DeviceError{Code: wire.CodeInternal, Message: err.Error()}
			}
			resp = d.errFrame(req, de.Code, de.Message)
		} else {
			resp = &wire.Frame{Flags: wire.FlagResponse, Seq: req.Seq, Command: req.Command, Payload: payload}
		}
	}
	return d.encode(resp)
}

func (d *Device) errFrame(req *wire.Frame, code wire.ErrorCode, msg string) *wire.Frame {
	d.stats.ErrorsSent++
	p, _ := (&wire.DeviceError{Code: code, Message: msg}).MarshalBinary()
	return &wire.Frame{Flags: wire.FlagResponse | wire.FlagError, Seq: req.Seq, Command: req.Command, Payload: p}
}

// partialTimedOut reports whether the device gives up a partial frame now
// (the time-out passed), counting it.
func (d *Device) partialTimedOut() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.unplugged || d.fault == FaultKeepPartial || d.fault == FaultStall {
		return false
	}
	d.stats.PartialFramesDropped++
	return true
}

// badCRC answers a request whose CRC did not match.
func (d *Device) badCRC(h wire.Header) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.unplugged || d.fault == FaultStall {
		return nil
	}
	d.stats.Requests++
	d.stats.BadFramesSeen++
	return d.encode(d.errFrame(&wire.Frame{Seq: h.Seq, Command: h.Command}, wire.CodeBadCRC, "request CRC mismatch"))
}

// encode frames resp and applies the framing faults.
func (d *Device) encode(resp *wire.Frame) []byte {
	b, err := wire.AppendFrame(nil, resp)
	if err != nil {
		b, _ = wire.AppendFrame(nil, d.errFrame(resp, wire.CodeInternal, err.Error()))
	}
	switch d.fault {
	case FaultCorruptFrame:
		b[len(b)-1] ^= 0x5A
	case FaultTruncateFrame:
		b = b[:len(b)/2+1]
	case FaultWrongLength:
		// declare up to 4 payload bytes fewer than are sent, with a CRC
		// that is right for the declared frame: the receiver gets a
		// consistent but short payload followed by stray bytes.
		if n := len(resp.Payload); n > 0 {
			cut := min(4, n)
			short := *resp
			short.Payload = resp.Payload[:n-cut]
			fb, _ := wire.AppendFrame(nil, &short)
			b = append(fb, resp.Payload[n-cut:]...)
		}
	}
	return b
}

func deviceErr(code wire.ErrorCode, format string, a ...any) error {
	return &wire.DeviceError{Code: code, Message: fmt.Sprintf(format, a...)}
}

// dispatch runs one command with d.mu held.
func (d *Device) dispatch(req *wire.Frame) ([]byte, error) {
	switch req.Command {
	case wire.CmdGetInfo:
		if len(req.Payload) != 0 {
			return nil, deviceErr(wire.CodeBadPayload, "GET_INFO takes no payload")
		}
		return d.info.MarshalBinary()
	case wire.CmdGetCertificate:
		if len(req.Payload) != 0 {
			return nil, deviceErr(wire.CodeBadPayload, "GET_CERTIFICATE takes no payload")
		}
		return d.cert.MarshalBinary()
	case wire.CmdFingerStatus:
		if len(req.Payload) != 0 {
			return nil, deviceErr(wire.CodeBadPayload, "FINGER_STATUS takes no payload")
		}
		return d.fingerState().MarshalBinary()
	case wire.CmdGetLED:
		if len(req.Payload) != 0 {
			return nil, deviceErr(wire.CodeBadPayload, "GET_LED takes no payload")
		}
		return d.led.MarshalBinary()
	case wire.CmdSetLED:
		var l wire.LEDs
		if err := l.UnmarshalBinary(req.Payload); err != nil {
			return nil, deviceErr(wire.CodeBadPayload, "%v", err)
		}
		if len(l) != len(d.led) {
			return nil, deviceErr(wire.CodeBadPayload, "SET_LED with %d values; this device has %d LEDs", len(l), len(d.led))
		}
		copy(d.led, l)
		return d.led.MarshalBinary()
	case wire.CmdEcho:
		return append([]byte(nil), req.Payload...), nil
	case wire.CmdAttest:
		var n wire.NonceRequest
		if err := n.UnmarshalBinary(req.Payload); err != nil {
			return nil, deviceErr(wire.CodeBadPayload, "%v", err)
		}
		a := wire.Attestation{Nonce: n.Nonce, Serial: d.info.Serial, Counter: d.counter, TimestampMs: d.cfg.Clock().UnixMilli()}
		if err := d.sign(&a); err != nil {
			return nil, err
		}
		return a.MarshalBinary()
	case wire.CmdCapture:
		var n wire.NonceRequest
		if err := n.UnmarshalBinary(req.Payload); err != nil {
			return nil, deviceErr(wire.CodeBadPayload, "%v", err)
		}
		return d.capture(n.Nonce)
	case wire.CmdReadChunk:
		var cr wire.ChunkRequest
		if err := cr.UnmarshalBinary(req.Payload); err != nil {
			return nil, deviceErr(wire.CodeBadPayload, "%v", err)
		}
		return d.chunk(cr)
	}
	return nil, deviceErr(wire.CodeUnknownCommand, "command %s", req.Command)
}

func (d *Device) fingerState() *wire.FingerState {
	switch {
	case d.finger == nil || d.fault == FaultNoFinger:
		return &wire.FingerState{State: wire.FingerAbsent}
	case d.fault == FaultFingerMoved:
		return &wire.FingerState{State: wire.FingerMoving, Coverage: 70}
	}
	return &wire.FingerState{State: wire.FingerPresent, Coverage: 85}
}

func (d *Device) sign(a *wire.Attestation) error {
	if err := a.Sign(d.devKey); err != nil {
		return deviceErr(wire.CodeKeyUnavailable, "%v", err)
	}
	if d.fault == FaultBadSignature {
		a.Signature[len(a.Signature)/2] ^= 0x01
	}
	return nil
}

// capture renders, signs and holds one image. It first discards the image
// held so far; a capture that fails holds none and leaves the counter as it
// was (docs/scanner-protocol.md, "CAPTURE").
func (d *Device) capture(nonce [32]byte) ([]byte, error) {
	d.last = nil
	if d.finger == nil || d.fault == FaultNoFinger {
		return nil, deviceErr(wire.CodeNoFinger, "no finger on the window")
	}
	counter := d.counter
	if d.fault == FaultCounterBackwards && counter > 2 {
		counter -= 2
	}
	counter++
	cond := fingerimg.DefaultConditions()
	cond.Width, cond.Height = int(d.info.Width), int(d.info.Height)
	cond.LED = append([]uint8(nil), d.led...)
	// One placement, successive frames: the finger has not moved since
	// it was put on the window (auto-exposure frames, recaptures).
	cond.Seed = placementSeed(d.cfg.Seed, d.placement)
	cond.Frame = d.frame
	d.frame++
	cond.Quality = d.quality
	switch d.fault {
	case FaultFingerMoved:
		cond.Placement = fingerimg.Moved
	case FaultOverExposure:
		cond.Gain = 4
	case FaultUnderExposure:
		cond.Gain = 0.12
	}
	pix := grayPix(d.finger.Capture(cond), int(d.info.Width), int(d.info.Height))
	if d.fault == FaultOverExposure {
		// ambient light floods the window: no LED setting can fix it
		for i, v := range pix {
			pix[i] = uint8(min(255, int(v)+150))
		}
	}
	a := wire.Attestation{Nonce: nonce, Serial: d.info.Serial, Counter: counter,
		TimestampMs: d.cfg.Clock().UnixMilli(), ImageSHA256: sha256.Sum256(pix)}
	if err := d.sign(&a); err != nil {
		return nil, err
	}
	ab, err := a.MarshalBinary()
	if err != nil {
		return nil, err
	}
	size := uint32(len(pix))
	cs := uint32(d.info.ChunkSize)
	hdr := wire.CaptureHeader{Counter: counter, Width: d.info.Width, Height: d.info.Height, BitDepth: 8,
		ImageSize: size, ChunkSize: d.info.ChunkSize, ChunkCount: uint16((size + cs - 1) / cs),
		ExposureUs: ExposureUs, LED: append(wire.LEDs(nil), d.led...), Attestation: ab}
	b, err := hdr.MarshalBinary()
	if err != nil {
		return nil, err
	}
	d.counter = counter
	d.stats.Captures++
	d.last = &heldCapture{hdr: hdr, pix: pix}
	return b, nil
}

func (d *Device) chunk(cr wire.ChunkRequest) ([]byte, error) {
	if d.last == nil || d.last.hdr.Counter != cr.Counter {
		return nil, deviceErr(wire.CodeNoCapture, "capture %d is not held", cr.Counter)
	}
	if cr.Index >= d.last.hdr.ChunkCount {
		return nil, deviceErr(wire.CodeBadChunk, "chunk %d of %d", cr.Index, d.last.hdr.ChunkCount)
	}
	cs := int(d.last.hdr.ChunkSize)
	lo := int(cr.Index) * cs
	hi := min(lo+cs, len(d.last.pix))
	c := wire.Chunk{Counter: cr.Counter, Index: cr.Index, Data: d.last.pix[lo:hi]}
	return c.MarshalBinary()
}

// grayPix returns the w*h pixels of img, row-major without padding.
func grayPix(img *image.Gray, w, h int) []byte {
	pix := make([]byte, w*h)
	if img == nil {
		return pix
	}
	b := img.Bounds()
	for y := 0; y < h && y < b.Dy(); y++ {
		row := img.Pix[y*img.Stride : y*img.Stride+min(w, b.Dx())]
		copy(pix[y*w:], row)
	}
	return pix
}

// LiftFinger takes the finger off the window, remembering it for
// PutBackFinger (a conformance kit lifts and replaces the same finger).
func (d *Device) LiftFinger() {
	d.mu.Lock()
	if d.finger != nil {
		d.lifted, d.liftedRef = d.finger, d.fingerRef
	}
	d.finger, d.fingerRef = nil, ""
	d.mu.Unlock()
}

// PutBackFinger places the finger LiftFinger took off again, as a new
// placement (new pose, pressure...); a finger still on the window is
// lifted and put back. It reports false when there is no finger to place.
func (d *Device) PutBackFinger() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.finger != nil:
		d.place(d.finger, d.fingerRef)
	case d.lifted != nil:
		d.place(d.lifted, d.liftedRef)
	default:
		return false
	}
	return true
}
