// Package conformance checks a finger-vein scanner, real or simulated,
// against the requirements of docs/scanner-protocol.md: framing, every
// command, error handling, chunked transfer, attestation and counter
// monotonicity, and timing limits. "veinctl scanner conformance" runs it.
//
// The kit talks to the device with its own strict client (no retries, no
// tolerance of stray bytes) built on the shared codec, and uses the driver
// only for the automatic-exposure capture that a kiosk performs.
package conformance

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan"
	"github.com/qingshan-gov/veinkiosk/devices/veinscan/wire"
	"github.com/qingshan-gov/veinkiosk/matcher/extract"
)

// Status of a requirement.
type Status string

// Statuses.
const (
	Pass Status = "PASS"
	Fail Status = "FAIL"
	Skip Status = "SKIP"
)

// Result is the outcome of one requirement.
type Result struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Status Status `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Section is the section of docs/scanner-protocol.md that states the
	// requirement ("Frames › Receiving"), Ref its link
	// ("docs/scanner-protocol.md#receiving").
	Section  string        `json:"section"`
	Ref      string        `json:"ref"`
	Duration time.Duration `json:"duration_ns"`
}

func (r Result) String() string {
	s := fmt.Sprintf("%-4s %-24s %s", r.Status, r.ID, r.Title)
	if r.Detail != "" {
		s += ": " + r.Detail
	}
	if r.Section != "" {
		s += " [§ " + r.Section + "]"
	}
	return s
}

// Document is the protocol specification the requirements cite.
const Document = "docs/scanner-protocol.md"

// Anchor returns the link fragment of a heading of Document, as GitHub
// and most Markdown renderers make it: lower case, punctuation other than
// '-' and '_' dropped, spaces turned into '-'.
func Anchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// ref is the link to the section whose path is section ("Frames ›
// Receiving": the last heading counts).
func ref(section string) string {
	parts := strings.Split(section, "›")
	return Document + "#" + Anchor(parts[len(parts)-1])
}

// FingerControl places and removes a finger on the device under test: the
// simulator does it through its control API, a real device by asking the
// operator (Prompt).
type FingerControl interface {
	Place(ctx context.Context) error
	Remove(ctx context.Context) error
}

// Prompt is the FingerControl for real devices: it asks the operator,
// saying how long the kit waits (Wait, Options.FingerWait).
type Prompt struct {
	W    io.Writer
	Wait time.Duration
}

func (p Prompt) within() string {
	if p.Wait <= 0 {
		return ""
	}
	return fmt.Sprintf(" (within %v, or the requirement fails)", p.Wait)
}

// Place asks for a finger.
func (p Prompt) Place(ctx context.Context) error {
	fmt.Fprintf(p.W, ">>> place a finger on the scanner and keep it still%s\n", p.within())
	return nil
}

// Remove asks to lift the finger.
func (p Prompt) Remove(ctx context.Context) error {
	fmt.Fprintf(p.W, ">>> lift the finger off the scanner%s\n", p.within())
	return nil
}

// Options of Run.
type Options struct {
	// Finger places and removes a finger; nil skips the requirements that
	// need a finger change and assumes a finger is already placed.
	Finger FingerControl
	// FingerWait is how long to wait for FINGER_STATUS to follow a
	// Place or Remove (default 2 s; give an operator 30 s).
	FingerWait time.Duration
	// MakerKeys are trusted maker keys; empty skips cert.trusted.
	MakerKeys []ed25519.PublicKey
	// CommandLimit is the protocol's response-time limit for commands
	// other than CAPTURE (default 200 ms).
	CommandLimit time.Duration
	// TimingSlack is added to every time limit. It is 0 for a real
	// check; tests on loaded machines set it so that they check behaviour,
	// not speed.
	TimingSlack time.Duration
	// LinkBytesPerSecond is the link's throughput, used to add transfer
	// time to the limits on slow serial lines (0: ignore transfer time).
	LinkBytesPerSecond int
	// MinQuality is the quality a still, well-exposed finger must reach
	// (default 40 on the driver's 0-100 scale).
	MinQuality int
	// Driver are the driver options of the capture requirements
	// (quality function, exposure targets); retries are always off.
	Driver veinscan.Options
}

func (o *Options) defaults() {
	if o.FingerWait <= 0 {
		o.FingerWait = 2 * time.Second
	}
	if o.CommandLimit <= 0 {
		o.CommandLimit = 200 * time.Millisecond
	}
	if o.MinQuality == 0 {
		o.MinQuality = 40
	}
}

// Requirement is one check of the protocol.
type Requirement struct {
	ID    string
	Title string
	// Section is the path of headings of Document that states it,
	// separated by " › " ("Frames › Receiving").
	Section string
	run     func(ctx context.Context, e *env) error
}

// Ref is the link to the requirement's section of Document.
func (r Requirement) Ref() string { return ref(r.Section) }

// errSkip marks a requirement that cannot be checked in this setting.
type errSkip string

func (e errSkip) Error() string { return string(e) }

// env is the shared state of a run.
type env struct {
	opts   Options
	raw    *raw
	conn   veinscan.Conn
	info   *wire.DeviceInfo
	cert   *wire.DeviceCertificate
	nonce  [32]byte
	capHdr *wire.CaptureHeader
	capPix []byte
	capAtt *wire.Attestation
	ctrs   []uint64
	timing map[wire.Command]time.Duration // worst latency seen per command
}

// limit is the response-time limit for a response of n bytes.
func (e *env) limit(base time.Duration, n int) time.Duration {
	base += e.opts.TimingSlack
	if e.opts.LinkBytesPerSecond > 0 {
		base += time.Duration(float64(n+wire.Overhead) / float64(e.opts.LinkBytesPerSecond) * float64(time.Second))
	}
	return base
}

// timeout is the generous wait used while exchanging; limits are checked
// separately by the timing requirements.
func (e *env) timeout() time.Duration {
	return e.limit(5*e.opts.CommandLimit+time.Second, wire.MaxFrameSize) - e.opts.TimingSlack
}

func (e *env) note(cmd wire.Command, d time.Duration) {
	if d > e.timing[cmd] {
		e.timing[cmd] = d
	}
}

func (e *env) needInfo() error {
	if e.info == nil {
		return errSkip("GET_INFO failed")
	}
	return nil
}

// Requirements lists every requirement in the order Run checks them.
func Requirements() []Requirement { return requirements }

// Run checks the device on conn against every requirement and returns one
// result per requirement. It does not close conn.
func Run(ctx context.Context, conn veinscan.Conn, opts Options) []Result {
	opts.defaults()
	e := &env{opts: opts, raw: newRaw(conn), conn: conn, timing: map[wire.Command]time.Duration{}}
	rand.Read(e.nonce[:])
	var out []Result
	for _, r := range requirements {
		t0 := time.Now()
		err := r.run(ctx, e)
		res := Result{ID: r.ID, Title: r.Title, Status: Pass, Section: r.Section, Ref: ref(r.Section), Duration: time.Since(t0)}
		var skip errSkip
		switch {
		case errors.As(err, &skip):
			res.Status, res.Detail = Skip, skip.Error()
		case err != nil:
			res.Status, res.Detail = Fail, err.Error()
			// leave the link clean for the next requirement
			e.raw.drain(ctx, 100*time.Millisecond)
		}
		out = append(out, res)
		if ctx.Err() != nil {
			break
		}
	}
	return out
}

// Failed reports whether any result failed.
func Failed(rs []Result) bool {
	for _, r := range rs {
		if r.Status == Fail {
			return true
		}
	}
	return false
}

// Find returns the result with this ID.
func Find(rs []Result, id string) (Result, bool) {
	for _, r := range rs {
		if r.ID == id {
			return r, true
		}
	}
	return Result{}, false
}

var requirements = []Requirement{
	{"framing.info", "GET_INFO is answered with a valid frame and device description", "Commands › GET_INFO (0x01)", reqInfo},
	{"framing.sequence", "responses echo the request's sequence number, including 0 and 65535", "Frames › Sequence numbers", reqSequence},
	{"framing.pipelined", "two requests in one transfer are answered in order", "Transport", reqPipelined},
	{"framing.resync", "bytes that are not a frame are skipped and the next request answered", "Frames › Receiving", reqResync},
	{"framing.bad-header", "headers with reserved ≠ 0, an unknown flag or a length over 32768 get no answer; the next request does", "Frames › Receiving", reqBadHeader},
	{"framing.partial-timeout", "a truncated request or a stray header is given up after the partial-frame time-out; a request paused 20 ms is not", "Frames › Partial-frame time-out", reqPartial},
	{"framing.max-payload", "ECHO returns a maximum-size payload unchanged", "Commands › ECHO (0x07)", reqEcho},
	{"errors.bad-crc", "a request with a wrong CRC gets BAD_CRC with its sequence number", "Frames › Order of checks", reqBadCRC},
	{"errors.bad-version", "a request of protocol version 2 gets BAD_VERSION", "Frames › Order of checks", reqBadVersion},
	{"errors.request-flags", "a request with the RESPONSE or ERROR flag (alone or both) gets BAD_FRAME", "Frames › Order of checks", reqRequestFlags},
	{"errors.unknown-command", "an unknown command gets UNKNOWN_COMMAND", "Commands", reqUnknown},
	{"errors.bad-payload", "wrong payload lengths and trailing bytes get BAD_PAYLOAD", "Commands › Payloads", reqBadPayload},
	{"errors.precedence", "when several errors apply the first in the order of checks is answered", "Frames › Order of checks", reqPrecedence},
	{"cmd.certificate", "GET_CERTIFICATE returns a certificate for this serial and model", "Attestation › Device certificate", reqCert},
	{"cert.trusted", "the certificate verifies under a trusted maker key", "Attestation › Maker keys", reqCertTrusted},
	{"cmd.led", "SET_LED applies per-LED intensities 0..255 and GET_LED reads them back; a refused setting changes nothing", "Commands › SET_LED (0x04) and GET_LED (0x05)", reqLED},
	{"cmd.finger-absent", "without a finger FINGER_STATUS reports absent, CAPTURE fails with NO_FINGER (and a bad CAPTURE payload with BAD_PAYLOAD)", "Commands › CAPTURE (0x10)", reqNoFinger},
	{"cmd.finger-present", "FINGER_STATUS reports a still finger present", "Commands › FINGER_STATUS (0x03)", reqFinger},
	{"cmd.capture", "CAPTURE returns a header consistent with GET_INFO", "Commands › CAPTURE (0x10)", reqCapture},
	{"chunk.transfer", "READ_CHUNK delivers the image in chunks; bad index and stale capture are refused", "Commands › READ_CHUNK (0x11)", reqChunks},
	{"capture.failed", "a failed CAPTURE discards the held image and does not advance the counter", "Commands › CAPTURE (0x10)", reqFailedCapture},
	{"attest.binding", "the attestation names the nonce, serial, counter and image digest", "Attestation › What the host checks", reqBinding},
	{"attest.signature", "the attestation verifies under the certified device key", "Attestation › Signed message", reqSignature},
	{"attest.counter", "the capture counter strictly increases; ATTEST does not advance it", "Attestation › Capture counter", reqCounter},
	{"attest.command", "ATTEST signs a nonce with the device key", "Commands › ATTEST (0x06)", reqAttest},
	{"image.exposure", "automatic exposure brings the finger into range within 5 captures", "Illumination and exposure", reqExposure},
	{"image.quality", "a still finger yields a sharp, usable image", "Capture quality", reqQuality},
	{"image.server-extract", "a still finger's image is within the server's image limits and yields a template in the server's extraction pipeline", "Who extracts the template", reqServerExtract},
	{"timing.commands", "commands are answered within the limit (200 ms + transfer)", "Timing", reqTimingCommands},
	{"timing.capture", "CAPTURE is answered within the device's MaxCaptureMs", "Timing", reqTimingCapture},
}

func reqInfo(ctx context.Context, e *env) error {
	f, el, err := e.raw.call(ctx, wire.CmdGetInfo, nil, e.timeout())
	if err != nil {
		return err
	}
	e.note(wire.CmdGetInfo, el)
	var info wire.DeviceInfo
	if err := info.UnmarshalBinary(f.Payload); err != nil {
		return err
	}
	e.info = &info
	return nil
}

func reqSequence(ctx context.Context, e *env) error {
	if err := e.needInfo(); err != nil {
		return err
	}
	for _, seq := range []uint16{0, 65535, 1, 0x8000} {
		f := &wire.Frame{Seq: seq, Command: wire.CmdFingerStatus}
		resp, el, err := e.raw.exchange(ctx, f, true, e.timeout())
		if err != nil {
			return fmt.Errorf("seq %d: %w", seq, err)
		}
		e.note(wire.CmdFingerStatus, el)
		if resp.IsError() {
			return fmt.Errorf("seq %d: error response", seq)
		}
	}
	return nil
}

func reqPipelined(ctx context.Context, e *env) error {
	if err := e.needInfo(); err != nil {
		return err
	}
	a, b := e.raw.nextSeq(), e.raw.nextSeq()
	buf, _ := wire.AppendFrame(nil, &wire.Frame{Seq: a, Command: wire.CmdGetLED})
	buf, _ = wire.AppendFrame(buf, &wire.Frame{Seq: b, Command: wire.CmdFingerStatus})
	if err := e.raw.send(ctx, buf); err != nil {
		return err
	}
	for _, want := range []struct {
		seq uint16
		cmd wire.Command
	}{{a, wire.CmdGetLED}, {b, wire.CmdFingerStatus}} {
		f, err := e.raw.next(ctx, e.timeout())
		if err != nil {
			return err
		}
		if f.Seq != want.seq || f.Command != want.cmd || !f.IsResponse() || f.IsError() {
			return fmt.Errorf("got %v, want the response to %s seq %d", f, want.cmd, want.seq)
		}
	}
	return nil
}

func reqResync(ctx context.Context, e *env) error {
	if err := e.needInfo(); err != nil {
		return err
	}
	seq := e.raw.nextSeq()
	garbage := []byte{0x00, 0xFF, 'V', 0x13, 'V', 'S', 0x09, 0x00, 0x42}
	b, _ := wire.AppendFrame(append([]byte(nil), garbage...), &wire.Frame{Seq: seq, Command: wire.CmdGetInfo})
	f, _, err := e.raw.exchangeBytes(ctx, b, seq, e.timeout())
	if err != nil {
		return err
	}
	if f.IsError() || f.Command != wire.CmdGetInfo {
		return fmt.Errorf("got %v after garbage, want the GET_INFO response", f)
	}
	return nil
}

func reqEcho(ctx context.Context, e *env) error {
	if err := e.needInfo(); err != nil {
		return err
	}
	p := make([]byte, wire.MaxPayload)
	for i := range p {
		p[i] = byte(i*7 + i>>8)
	}
	p[0], p[1] = 'V', 'S' // a magic inside the payload must not confuse the device
	f, el, err := e.raw.call(ctx, wire.CmdEcho, p, e.limit(e.timeout(), 2*len(p)))
	if err != nil {
		return err
	}
	_ = el // ECHO of 32 KiB is a throughput test, not a latency one
	if !bytes.Equal(f.Payload, p) {
		return fmt.Errorf("ECHO returned %d bytes that differ from the %d sent", len(f.Payload), len(p))
	}
	return nil
}

func reqBadCRC(ctx context.Context, e *env) error {
	if err := e.needInfo(); err != nil {
		return err
	}
	seq := e.raw.nextSeq()
	b, _ := wire.AppendFrame(nil, &wire.Frame{Seq: seq, Command: wire.CmdGetInfo})
	b[len(b)-1] ^= 0xFF
	if err := e.raw.expectError(ctx, b, seq, wire.CmdGetInfo, wire.CodeBadCRC, e.timeout()); err != nil {
		return err
	}
	// and the device still works
	if _, _, err := e.raw.call(ctx, wire.CmdGetInfo, nil, e.timeout()); err != nil {
		return fmt.Errorf("after BAD_CRC: %w", err)
	}
	return nil
}

func reqBadVersion(ctx context.Context, e *env) error {
	if err := e.needInfo(); err != nil {
		return err
	}
	seq := e.raw.nextSeq()
	b, _ := wire.AppendFrame(nil, &wire.Frame{Version: 2, Seq: seq, Command: wire.CmdGetInfo})
	return e.raw.expectError(ctx, b, seq, wire.CmdGetInfo, wire.CodeBadVersion, e.timeout())
}

func reqUnknown(ctx context.Context, e *env) error {
	if err := e.needInfo(); err != nil {
		return err
	}
	seq := e.raw.nextSeq()
	b, _ := wire.AppendFrame(nil, &wire.Frame{Seq: seq, Command: 0x7E})
	return e.raw.expectError(ctx, b, seq, 0x7E, wire.CodeUnknownCommand, e.timeout())
}

func reqBadPayload(ctx context.Context, e *env) error {
	if err := e.needInfo(); err != nil {
		return err
	}
	cases := []struct {
		cmd     wire.Command
		payload []byte
	}{
		{wire.CmdGetInfo, []byte{1}},
		{wire.CmdSetLED, append([]byte{e.info.LEDCount + 1}, make([]byte, e.info.LEDCount+1)...)},
		{wire.CmdSetLED, []byte{e.info.LEDCount}}, // count without values
		{wire.CmdCapture, make([]byte, 31)},
		{wire.CmdReadChunk, make([]byte, 9)},
		// trailing bytes are errors too (Commands › Payloads)
		{wire.CmdGetCertificate, []byte{0}},
		{wire.CmdFingerStatus, []byte{0}},
		{wire.CmdGetLED, []byte{0}},
		{wire.CmdSetLED, append([]byte{e.info.LEDCount}, make([]byte, e.info.LEDCount+1)...)},
		{wire.CmdAttest, make([]byte, 33)},
		{wire.CmdCapture, make([]byte, 33)},
		{wire.CmdReadChunk, make([]byte, 11)},
	}
	for _, c := range cases {
		seq := e.raw.nextSeq()
		b, _ := wire.AppendFrame(nil, &wire.Frame{Seq: seq, Command: c.cmd, Payload: c.payload})
		if err := e.raw.expectError(ctx, b, seq, c.cmd, wire.CodeBadPayload, e.timeout()); err != nil {
			return fmt.Errorf("%s with %d payload bytes: %w", c.cmd, len(c.payload), err)
		}
	}
	return nil
}

func (e *env) needAttestation() error {
	if err := e.needInfo(); err != nil {
		return err
	}
	if e.info.Features&wire.FeatureAttestation == 0 {
		return errors.New("the device does not set the attestation feature, which protocol version 1 requires for kiosks")
	}
	return nil
}

func reqCert(ctx context.Context, e *env) error {
	if err := e.needAttestation(); err != nil {
		return err
	}
	f, el, err := e.raw.call(ctx, wire.CmdGetCertificate, nil, e.timeout())
	if err != nil {
		return err
	}
	e.note(wire.CmdGetCertificate, el)
	var c wire.DeviceCertificate
	if err := c.UnmarshalBinary(f.Payload); err != nil {
		return err
	}
	if c.Serial != e.info.Serial {
		return fmt.Errorf("certificate for serial %q, device says %q", c.Serial, e.info.Serial)
	}
	e.cert = &c
	if c.Model != e.info.Model {
		return fmt.Errorf("certificate for model %q, GET_INFO says %q", c.Model, e.info.Model)
	}
	return nil
}

func reqCertTrusted(ctx context.Context, e *env) error {
	if e.cert == nil {
		return errSkip("no certificate")
	}
	if len(e.opts.MakerKeys) == 0 {
		return errSkip("no trusted maker keys given (--maker-key)")
	}
	var last error
	for _, k := range e.opts.MakerKeys {
		if last = e.cert.Verify(k); last == nil {
			return nil
		}
	}
	return fmt.Errorf("maker %q: %w", e.cert.MakerID, last)
}

func reqLED(ctx context.Context, e *env) error {
	if err := e.needInfo(); err != nil {
		return err
	}
	f, _, err := e.raw.call(ctx, wire.CmdGetLED, nil, e.timeout())
	if err != nil {
		return err
	}
	var orig wire.LEDs
	if err := orig.UnmarshalBinary(f.Payload); err != nil {
		return err
	}
	if len(orig) != int(e.info.LEDCount) {
		return fmt.Errorf("GET_LED returned %d values for %d LEDs", len(orig), e.info.LEDCount)
	}
	want := make(wire.LEDs, len(orig))
	for i := range want {
		want[i] = []uint8{0, 255, 17, 200}[i%4]
	}
	p, _ := want.MarshalBinary()
	f, el, err := e.raw.call(ctx, wire.CmdSetLED, p, e.timeout())
	if err != nil {
		return err
	}
	e.note(wire.CmdSetLED, el)
	var applied wire.LEDs
	if err := applied.UnmarshalBinary(f.Payload); err != nil {
		return err
	}
	back, err := e.getLED(ctx)
	if err != nil {
		return err
	}
	if !bytes.Equal(applied, back) {
		return fmt.Errorf("SET_LED answered %v, GET_LED %v", applied, back)
	}
	if e.info.Features&wire.FeatureLEDControl != 0 && !ledClose(applied, want) {
		return fmt.Errorf("set %v, SET_LED applied %v (more than 8 levels off)", want, applied)
	}
	// full drive on every LED: applied, or refused with LED_RANGE and
	// the setting before kept
	full := make(wire.LEDs, len(orig))
	for i := range full {
		full[i] = 255
	}
	p, _ = full.MarshalBinary()
	f, _, err = e.raw.call(ctx, wire.CmdSetLED, p, e.timeout())
	switch {
	case errors.Is(err, wire.ErrLEDRange):
		if back, err = e.getLED(ctx); err != nil {
			return err
		} else if !bytes.Equal(back, applied) {
			return fmt.Errorf("after LED_RANGE GET_LED says %v, the setting before was %v", back, applied)
		}
	case err != nil:
		return fmt.Errorf("SET_LED to full drive: %w", err)
	default:
		if err := applied.UnmarshalBinary(f.Payload); err != nil {
			return err
		}
		if e.info.Features&wire.FeatureLEDControl != 0 && !ledClose(applied, full) {
			return fmt.Errorf("set %v, SET_LED applied %v", full, applied)
		}
	}
	p, _ = orig.MarshalBinary()
	_, _, err = e.raw.call(ctx, wire.CmdSetLED, p, e.timeout())
	return err
}

func (e *env) getLED(ctx context.Context) (wire.LEDs, error) {
	f, _, err := e.raw.call(ctx, wire.CmdGetLED, nil, e.timeout())
	if err != nil {
		return nil, err
	}
	var l wire.LEDs
	if err := l.UnmarshalBinary(f.Payload); err != nil {
		return nil, err
	}
	return l, nil
}

// fingerState polls FINGER_STATUS until cond holds or FingerWait passes.
func (e *env) fingerState(ctx context.Context, cond func(wire.FingerState) bool) (wire.FingerState, error) {
	deadline := time.Now().Add(e.opts.FingerWait)
	for {
		f, el, err := e.raw.call(ctx, wire.CmdFingerStatus, nil, e.timeout())
		if err != nil {
			return wire.FingerState{}, err
		}
		e.note(wire.CmdFingerStatus, el)
		var st wire.FingerState
		if err := st.UnmarshalBinary(f.Payload); err != nil {
			return st, err
		}
		if cond(st) || time.Now().After(deadline) {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func reqNoFinger(ctx context.Context, e *env) error {
	if err := e.needInfo(); err != nil {
		return err
	}
	if e.opts.Finger == nil {
		return errSkip("no finger control: cannot remove the finger")
	}
	if err := e.opts.Finger.Remove(ctx); err != nil {
		return err
	}
	st, err := e.fingerState(ctx, func(s wire.FingerState) bool { return s.State == wire.FingerAbsent })
	if err != nil {
		return err
	}
	if st.State != wire.FingerAbsent {
		return fmt.Errorf("FINGER_STATUS says %v with no finger", st)
	}
	seq := e.raw.nextSeq()
	b, _ := wire.AppendFrame(nil, &wire.Frame{Seq: seq, Command: wire.CmdCapture, Payload: e.nonce[:]})
	if err := e.raw.expectError(ctx, b, seq, wire.CmdCapture, wire.CodeNoFinger, e.capTimeout()); err != nil {
		return err
	}
	// BAD_PAYLOAD comes before NO_FINGER (Frames › Order of checks)
	seq = e.raw.nextSeq()
	b, _ = wire.AppendFrame(nil, &wire.Frame{Seq: seq, Command: wire.CmdCapture, Payload: e.nonce[:31]})
	if err := e.raw.expectError(ctx, b, seq, wire.CmdCapture, wire.CodeBadPayload, e.capTimeout()); err != nil {
		return fmt.Errorf("CAPTURE of 31 bytes without a finger: %w", err)
	}
	return nil
}

func (e *env) capTimeout() time.Duration {
	if e.info == nil {
		return 5 * time.Second
	}
	return time.Duration(e.info.MaxCaptureMs)*time.Millisecond*2 + time.Second
}

func reqFinger(ctx context.Context, e *env) error {
	if err := e.needInfo(); err != nil {
		return err
	}
	if e.opts.Finger != nil {
		if err := e.opts.Finger.Place(ctx); err != nil {
			return err
		}
	}
	st, err := e.fingerState(ctx, func(s wire.FingerState) bool { return s.State == wire.FingerPresent })
	if err != nil {
		return err
	}
	if st.State != wire.FingerPresent {
		return fmt.Errorf("FINGER_STATUS says %v with a still finger placed", st)
	}
	if st.Coverage == 0 {
		return errors.New("finger present with 0 % coverage")
	}
	return nil
}

// capture runs CAPTURE and reads every chunk with the raw client.
func (e *env) capture(ctx context.Context) (*wire.CaptureHeader, []byte, error) {
	f, el, err := e.raw.call(ctx, wire.CmdCapture, e.nonce[:], e.capTimeout())
	if err != nil {
		return nil, nil, fmt.Errorf("CAPTURE: %w", err)
	}
	e.note(wire.CmdCapture, el)
	var h wire.CaptureHeader
	if err := h.UnmarshalBinary(f.Payload); err != nil {
		return nil, nil, fmt.Errorf("CAPTURE response: %w", err)
	}
	pix := make([]byte, 0, h.ImageSize)
	for i := 0; i < int(h.ChunkCount); i++ {
		p, _ := (&wire.ChunkRequest{Counter: h.Counter, Index: uint16(i)}).MarshalBinary()
		f, el, err := e.raw.call(ctx, wire.CmdReadChunk, p, e.timeout())
		if err != nil {
			return &h, nil, fmt.Errorf("READ_CHUNK %d: %w", i, err)
		}
		e.note(wire.CmdReadChunk, el-e.limit(0, len(f.Payload)))
		var c wire.Chunk
		if err := c.UnmarshalBinary(f.Payload); err != nil {
			return &h, nil, fmt.Errorf("READ_CHUNK %d: %w", i, err)
		}
		want := min(int(h.ChunkSize), int(h.ImageSize)-i*int(h.ChunkSize))
		if c.Counter != h.Counter || int(c.Index) != i || len(c.Data) != want {
			return &h, nil, fmt.Errorf("READ_CHUNK %d: got capture %d chunk %d of %d bytes, want %d bytes", i, c.Counter, c.Index, len(c.Data), want)
		}
		pix = append(pix, c.Data...)
	}
	var a wire.Attestation
	if len(h.Attestation) > 0 {
		if err := a.UnmarshalBinary(h.Attestation); err != nil {
			return &h, pix, fmt.Errorf("attestation: %w", err)
		}
		e.capAtt = &a
	}
	e.ctrs = append(e.ctrs, h.Counter)
	return &h, pix, nil
}

func reqCapture(ctx context.Context, e *env) error {
	if err := e.needInfo(); err != nil {
		return err
	}
	// a fair exposure for the checks that follow
	mid := make(wire.LEDs, e.info.LEDCount)
	for i := range mid {
		mid[i] = 110
	}
	p, _ := mid.MarshalBinary()
	f, _, err := e.raw.call(ctx, wire.CmdSetLED, p, e.timeout())
	if err != nil {
		return err
	}
	if err := mid.UnmarshalBinary(f.Payload); err != nil { // as applied
		return err
	}
	h, pix, err := e.capture(ctx)
	e.capHdr, e.capPix = h, pix
	if err != nil {
		return err
	}
	switch {
	case h.Width != e.info.Width || h.Height != e.info.Height || h.BitDepth != e.info.BitDepth:
		return fmt.Errorf("capture %dx%dx%d, GET_INFO says %dx%dx%d", h.Width, h.Height, h.BitDepth, e.info.Width, e.info.Height, e.info.BitDepth)
	case h.ChunkSize != e.info.ChunkSize:
		return fmt.Errorf("chunk size %d, GET_INFO says %d", h.ChunkSize, e.info.ChunkSize)
	case !bytes.Equal(h.LED, mid):
		return fmt.Errorf("capture reports LEDs %v, %v were applied", h.LED, mid)
	}
	return nil
}

func reqChunks(ctx context.Context, e *env) error {
	h := e.capHdr
	if h == nil || e.capPix == nil {
		return errSkip("no capture")
	}
	// re-read the last chunk: must be identical
	last := h.ChunkCount - 1
	p, _ := (&wire.ChunkRequest{Counter: h.Counter, Index: last}).MarshalBinary()
	f, _, err := e.raw.call(ctx, wire.CmdReadChunk, p, e.timeout())
	if err != nil {
		return fmt.Errorf("re-reading chunk %d: %w", last, err)
	}
	var c wire.Chunk
	if err := c.UnmarshalBinary(f.Payload); err != nil {
		return err
	}
	if !bytes.Equal(c.Data, e.capPix[int(last)*int(h.ChunkSize):]) {
		return fmt.Errorf("chunk %d differs when read again", last)
	}
	seq := e.raw.nextSeq()
	p, _ = (&wire.ChunkRequest{Counter: h.Counter, Index: h.ChunkCount}).MarshalBinary()
	b, _ := wire.AppendFrame(nil, &wire.Frame{Seq: seq, Command: wire.CmdReadChunk, Payload: p})
	if err := e.raw.expectError(ctx, b, seq, wire.CmdReadChunk, wire.CodeBadChunk, e.timeout()); err != nil {
		return fmt.Errorf("chunk index %d of %d: %w", h.ChunkCount, h.ChunkCount, err)
	}
	seq = e.raw.nextSeq()
	p, _ = (&wire.ChunkRequest{Counter: h.Counter + 1000, Index: 0}).MarshalBinary()
	b, _ = wire.AppendFrame(nil, &wire.Frame{Seq: seq, Command: wire.CmdReadChunk, Payload: p})
	if err := e.raw.expectError(ctx, b, seq, wire.CmdReadChunk, wire.CodeNoCapture, e.timeout()); err != nil {
		return fmt.Errorf("chunk of a capture that was never taken: %w", err)
	}
	return nil
}

func reqBinding(ctx context.Context, e *env) error {
	if err := e.needAttestation(); err != nil {
		return err
	}
	if e.capHdr == nil || e.capPix == nil || e.capAtt == nil {
		return errSkip("no attested capture")
	}
	a := e.capAtt
	switch {
	case a.Nonce != e.nonce:
		return errors.New("attestation carries another nonce")
	case a.Serial != e.info.Serial:
		return fmt.Errorf("attestation serial %q, device %q", a.Serial, e.info.Serial)
	case a.Counter != e.capHdr.Counter:
		return fmt.Errorf("attestation counter %d, capture header %d", a.Counter, e.capHdr.Counter)
	}
	if err := a.VerifyImage(e.capPix); err != nil {
		return err
	}
	if d := time.Since(time.UnixMilli(a.TimestampMs)); d > 10*time.Minute || d < -10*time.Minute {
		return fmt.Errorf("device clock is off by %v", d.Round(time.Second))
	}
	return nil
}

func reqSignature(ctx context.Context, e *env) error {
	if e.capAtt == nil || e.cert == nil {
		return errSkip("no attested capture or certificate")
	}
	return e.capAtt.Verify(e.cert.PublicKey)
}

func reqCounter(ctx context.Context, e *env) error {
	if err := e.needAttestation(); err != nil {
		return err
	}
	if len(e.ctrs) == 0 {
		return errSkip("no capture")
	}
	for range 3 {
		if _, _, err := e.capture(ctx); err != nil {
			return err
		}
	}
	for i := 1; i < len(e.ctrs); i++ {
		if e.ctrs[i] <= e.ctrs[i-1] {
			return fmt.Errorf("capture counter went from %d to %d", e.ctrs[i-1], e.ctrs[i])
		}
	}
	return nil
}

func reqAttest(ctx context.Context, e *env) error {
	if err := e.needAttestation(); err != nil {
		return err
	}
	var n [32]byte
	rand.Read(n[:])
	f, el, err := e.raw.call(ctx, wire.CmdAttest, n[:], e.timeout())
	if err != nil {
		return err
	}
	e.note(wire.CmdAttest, el)
	var a wire.Attestation
	if err := a.UnmarshalBinary(f.Payload); err != nil {
		return err
	}
	if a.Nonce != n || a.Serial != e.info.Serial || a.ImageSHA256 != [32]byte{} {
		return errors.New("ATTEST answer names another nonce or serial, or a non-zero image digest")
	}
	if len(e.ctrs) > 0 && a.Counter != e.ctrs[len(e.ctrs)-1] {
		return fmt.Errorf("ATTEST counter %d, last capture %d", a.Counter, e.ctrs[len(e.ctrs)-1])
	}
	if e.cert == nil {
		return errSkip("no certificate to verify against")
	}
	return a.Verify(e.cert.PublicKey)
}

// scanner opens the driver on the same connection for the capture that a
// kiosk performs.
func (e *env) scanner(ctx context.Context) (*veinscan.Scanner, error) {
	o := e.opts.Driver
	o.Retries = -1 // no retries: the device must get it right
	return veinscan.New(ctx, noClose{e.conn}, &o)
}

// needCapture: the device answered GET_INFO and reqCapture's capture, or
// the requirement is skipped.
func (e *env) needCapture() error {
	if err := e.needInfo(); err != nil {
		return err
	}
	if e.capHdr == nil {
		return errSkip("no capture")
	}
	return nil
}

// driverCapture captures a finger as the kiosk does: the driver's Capture,
// exposure control and quality included, without retries.
func (e *env) driverCapture(ctx context.Context) (*veinscan.Result, error) {
	s, err := e.scanner(ctx)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.Capture(ctx, e.nonce)
}

func reqExposure(ctx context.Context, e *env) error {
	if err := e.needCapture(); err != nil {
		return err
	}
	r, err := e.driverCapture(ctx)
	if err != nil {
		return err
	}
	if !r.ExposureOK {
		return fmt.Errorf("after %d captures with LEDs %v the finger mean is %.0f (bands %.0f), %.1f %% saturated", r.Attempts, r.LED, r.Exposure.Mean, r.Exposure.BandMean, 100*r.Exposure.Saturated)
	}
	return nil
}

func reqQuality(ctx context.Context, e *env) error {
	if err := e.needCapture(); err != nil {
		return err
	}
	r, err := e.driverCapture(ctx)
	if err != nil {
		return err
	}
	if r.Quality < e.opts.MinQuality {
		q := r.QualityInfo
		return fmt.Errorf("quality %d < %d (coverage %.2f, mean %.0f, saturated %.3f, contrast %.2f, sharpness %.3f)",
			r.Quality, e.opts.MinQuality, q.Coverage, q.Mean, q.Saturation, q.Contrast, q.Sharpness)
	}
	return nil
}

// MaxServerImagePixels is the largest image (width x height) centrald takes
// with a capture (apiv1.MaxImagePixels; a test keeps them equal).
const MaxServerImagePixels = 1 << 20

// reqServerExtract: the server extracts every template itself from the
// attested image (docs/scanner-protocol.md, "Who extracts the template"),
// so a still finger's image must fit the server's limits and yield a
// template of the quality gate's level in the server's default pipeline
// (matcher/extract defaults, the pipeline of the shipped calibrations).
func reqServerExtract(ctx context.Context, e *env) error {
	if err := e.needCapture(); err != nil {
		return err
	}
	if px := int(e.info.Width) * int(e.info.Height); px > MaxServerImagePixels {
		return fmt.Errorf("images of %dx%d = %d pixels; the server takes at most %d", e.info.Width, e.info.Height, px, MaxServerImagePixels)
	}
	r, err := e.driverCapture(ctx)
	if err != nil {
		return err
	}
	x, err := extract.Extract(r.Image, extract.DefaultOptions())
	if err != nil {
		return fmt.Errorf("the server's extraction finds no template in the image: %w", err)
	}
	if x.Quality < e.opts.MinQuality {
		return fmt.Errorf("the server's extraction rates the image %d, below the gate %d", x.Quality, e.opts.MinQuality)
	}
	return nil
}

func reqTimingCommands(ctx context.Context, e *env) error {
	if err := e.needInfo(); err != nil {
		return err
	}
	// a few fresh measurements of the cheap commands
	for range 5 {
		for _, cmd := range []wire.Command{wire.CmdGetInfo, wire.CmdFingerStatus, wire.CmdGetLED} {
			_, el, err := e.raw.call(ctx, cmd, nil, e.timeout())
			if err != nil {
				return err
			}
			e.note(cmd, el)
		}
	}
	var slow []string
	for cmd, d := range e.timing {
		if cmd == wire.CmdCapture {
			continue
		}
		n := 256
		if cmd == wire.CmdReadChunk {
			n = 0 // transfer time already subtracted
		}
		if lim := e.limit(e.opts.CommandLimit, n); d > lim {
			slow = append(slow, fmt.Sprintf("%s took %v (limit %v)", cmd, d.Round(time.Millisecond), lim))
		}
	}
	if len(slow) > 0 {
		return errors.New(fmt.Sprint(slow))
	}
	return nil
}

func reqTimingCapture(ctx context.Context, e *env) error {
	if err := e.needInfo(); err != nil {
		return err
	}
	d, ok := e.timing[wire.CmdCapture]
	if !ok {
		return errSkip("no capture")
	}
	lim := e.limit(time.Duration(e.info.MaxCaptureMs)*time.Millisecond, 512)
	if d > lim {
		return fmt.Errorf("CAPTURE took %v, the device promises %v", d.Round(time.Millisecond), lim)
	}
	if e.info.MaxCaptureMs > 2000 {
		return fmt.Errorf("MaxCaptureMs %d exceeds the protocol's 2000 ms", e.info.MaxCaptureMs)
	}
	return nil
}
