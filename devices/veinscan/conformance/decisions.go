package conformance

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan/wire"
)

// frameBytes encodes a frame; the kit's frames always encode.
func frameBytes(f *wire.Frame) []byte {
	b, _ := wire.AppendFrame(nil, f)
	return b
}

// reseal recomputes the CRC of an encoded frame after its header was
// changed, so that only the change is wrong.
func reseal(b []byte) []byte {
	binary.BigEndian.PutUint32(b[len(b)-wire.TrailerSize:], wire.CRC32C(b[:len(b)-wire.TrailerSize]))
	return b
}

// expectOnly sends b and checks that the only answer is a normal GET_INFO
// response with sequence number seq, within limit.
func (e *env) expectOnly(ctx context.Context, b []byte, seq uint16, limit time.Duration) (time.Duration, error) {
	f, el, err := e.raw.exchangeBytes(ctx, b, seq, e.timeout())
	if err != nil {
		return el, err
	}
	if f.IsError() || f.Command != wire.CmdGetInfo {
		return el, fmt.Errorf("got %v, want the GET_INFO response", f)
	}
	if n := e.raw.drain(ctx, 50*time.Millisecond); n > 0 {
		return el, fmt.Errorf("%d more bytes after the GET_INFO response", n)
	}
	if limit > 0 && el > limit {
		return el, fmt.Errorf("answered after %v, limit %v", el.Round(time.Millisecond), limit)
	}
	return el, nil
}

func reqBadHeader(ctx context.Context, e *env) error {
	if err := e.needInfo(); err != nil {
		return err
	}
	for _, c := range []struct {
		name string
		mut  func(h []byte)
	}{
		{"reserved byte 01", func(h []byte) { h[7] = 1 }},
		{"flag 0x04", func(h []byte) { h[3] = 0x04 }},
		{"length 32769", func(h []byte) { binary.BigEndian.PutUint32(h[8:12], wire.MaxPayload+1) }},
	} {
		bad := frameBytes(&wire.Frame{Seq: e.raw.nextSeq(), Command: wire.CmdGetInfo})
		c.mut(bad)
		seq := e.raw.nextSeq()
		b := append(reseal(bad), frameBytes(&wire.Frame{Seq: seq, Command: wire.CmdGetInfo})...)
		if _, err := e.expectOnly(ctx, b, seq, 0); err != nil {
			return fmt.Errorf("header with %s, then GET_INFO: %w", c.name, err)
		}
	}
	return nil
}

func reqPartial(ctx context.Context, e *env) error {
	if err := e.needInfo(); err != nil {
		return err
	}
	// a truncated request, then silence longer than any device's time-out
	trunc := frameBytes(&wire.Frame{Seq: e.raw.nextSeq(), Command: wire.CmdCapture, Payload: e.nonce[:]})
	if err := e.raw.send(ctx, trunc[:wire.HeaderSize+16]); err != nil {
		return err
	}
	if n := e.raw.drain(ctx, wire.PartialFrameTimeoutMax+100*time.Millisecond); n > 0 {
		return fmt.Errorf("the device sent %d bytes after a truncated request", n)
	}
	seq := e.raw.nextSeq()
	if _, err := e.expectOnly(ctx, frameBytes(&wire.Frame{Seq: seq, Command: wire.CmdGetInfo}), seq, 0); err != nil {
		return fmt.Errorf("GET_INFO %v after a truncated request: %w", wire.PartialFrameTimeoutMax+100*time.Millisecond, err)
	}
	// a stray header declaring 20,000 bytes followed at once by a request:
	// answered once the device gives the header up
	stray := frameBytes(&wire.Frame{Seq: e.raw.nextSeq(), Command: wire.CmdEcho})[:wire.HeaderSize]
	binary.BigEndian.PutUint32(stray[8:12], 20000)
	seq = e.raw.nextSeq()
	b := append(stray, frameBytes(&wire.Frame{Seq: seq, Command: wire.CmdGetInfo})...)
	if _, err := e.expectOnly(ctx, b, seq, e.limit(wire.PartialFrameTimeoutMax+e.opts.CommandLimit, 256)); err != nil {
		return fmt.Errorf("a header declaring 20000 bytes, then GET_INFO: %w", err)
	}
	// a request with a pause inside, shorter than the shortest time-out
	for try := 0; ; try++ {
		seq = e.raw.nextSeq()
		b = frameBytes(&wire.Frame{Seq: seq, Command: wire.CmdGetInfo})
		t0 := time.Now()
		if err := e.raw.send(ctx, b[:7]); err != nil {
			return err
		}
		time.Sleep(wire.HostMaxGap)
		pause := time.Since(t0)
		if _, err := e.expectOnly(ctx, b[7:], seq, 0); err != nil {
			if pause >= wire.PartialFrameTimeoutMin && try < 3 {
				// this machine paused longer than asked: not the device's fault
				e.raw.drain(ctx, wire.PartialFrameTimeoutMax)
				continue
			}
			return fmt.Errorf("GET_INFO sent in two parts %v apart: %w", pause.Round(time.Millisecond), err)
		}
		return nil
	}
}

func reqRequestFlags(ctx context.Context, e *env) error {
	if err := e.needInfo(); err != nil {
		return err
	}
	for _, fl := range []byte{wire.FlagError, wire.FlagResponse, wire.FlagResponse | wire.FlagError} {
		seq := e.raw.nextSeq()
		b := frameBytes(&wire.Frame{Flags: fl, Seq: seq, Command: wire.CmdGetInfo})
		if err := e.raw.expectError(ctx, b, seq, wire.CmdGetInfo, wire.CodeBadFrame, e.timeout()); err != nil {
			return fmt.Errorf("GET_INFO with flags %#02x: %w", fl, err)
		}
	}
	return nil
}

func reqPrecedence(ctx context.Context, e *env) error {
	if err := e.needInfo(); err != nil {
		return err
	}
	cases := []struct {
		name string
		f    wire.Frame
		crc  bool // damage the CRC
		want wire.ErrorCode
	}{
		{"damaged CRC of a version-2 request with the RESPONSE flag and command 0x7E", wire.Frame{Version: 2, Flags: wire.FlagResponse, Command: 0x7E}, true, wire.CodeBadCRC},
		{"version 2 with the RESPONSE flag and command 0x7E", wire.Frame{Version: 2, Flags: wire.FlagResponse, Command: 0x7E}, false, wire.CodeBadVersion},
		{"the ERROR flag on command 0x7E", wire.Frame{Flags: wire.FlagError, Command: 0x7E}, false, wire.CodeBadFrame},
		{"command 0x7E with a payload", wire.Frame{Command: 0x7E, Payload: []byte{1, 2, 3}}, false, wire.CodeUnknownCommand},
		{"READ_CHUNK of 9 bytes", wire.Frame{Command: wire.CmdReadChunk, Payload: make([]byte, 9)}, false, wire.CodeBadPayload},
	}
	for _, c := range cases {
		c.f.Seq = e.raw.nextSeq()
		b := frameBytes(&c.f)
		if c.crc {
			b[len(b)-1] ^= 0xFF
		}
		if err := e.raw.expectError(ctx, b, c.f.Seq, c.f.Command, c.want, e.timeout()); err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
	}
	return nil
}

func reqFailedCapture(ctx context.Context, e *env) error {
	h := e.capHdr
	switch {
	case h == nil || e.capPix == nil:
		return errSkip("no capture")
	case e.opts.Finger == nil:
		return errSkip("no finger control: cannot make a capture fail")
	}
	if err := e.opts.Finger.Remove(ctx); err != nil {
		return err
	}
	defer func() {
		e.opts.Finger.Place(ctx)
		e.fingerState(ctx, func(s wire.FingerState) bool { return s.State == wire.FingerPresent })
	}()
	if st, err := e.fingerState(ctx, func(s wire.FingerState) bool { return s.State == wire.FingerAbsent }); err != nil {
		return err
	} else if st.State != wire.FingerAbsent {
		return fmt.Errorf("FINGER_STATUS says %v with no finger", st)
	}
	seq := e.raw.nextSeq()
	b := frameBytes(&wire.Frame{Seq: seq, Command: wire.CmdCapture, Payload: e.nonce[:]})
	if err := e.raw.expectError(ctx, b, seq, wire.CmdCapture, wire.CodeNoFinger, e.capTimeout()); err != nil {
		return fmt.Errorf("CAPTURE without a finger: %w", err)
	}
	seq = e.raw.nextSeq()
	p, _ := (&wire.ChunkRequest{Counter: h.Counter, Index: 0}).MarshalBinary()
	b = frameBytes(&wire.Frame{Seq: seq, Command: wire.CmdReadChunk, Payload: p})
	if err := e.raw.expectError(ctx, b, seq, wire.CmdReadChunk, wire.CodeNoCapture, e.timeout()); err != nil {
		return fmt.Errorf("READ_CHUNK of capture %d after a failed CAPTURE: %w", h.Counter, err)
	}
	if e.info.Features&wire.FeatureAttestation == 0 {
		return nil
	}
	var n [32]byte
	f, _, err := e.raw.call(ctx, wire.CmdAttest, n[:], e.timeout())
	if err != nil {
		return err
	}
	var a wire.Attestation
	if err := a.UnmarshalBinary(f.Payload); err != nil {
		return err
	}
	if a.Counter != h.Counter {
		return fmt.Errorf("counter %d after a failed CAPTURE, %d before", a.Counter, h.Counter)
	}
	return nil
}

// ledClose reports whether a device that rounds to at least 16 evenly
// spaced levels applied got for want.
func ledClose(got, want wire.LEDs) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if d := int(got[i]) - int(want[i]); d > 8 || d < -8 {
			return false
		}
	}
	return true
}
