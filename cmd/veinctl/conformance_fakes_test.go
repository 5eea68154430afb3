package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan/conformance"
	"github.com/qingshan-gov/veinkiosk/devices/veinscan/wire"
	"github.com/qingshan-gov/veinkiosk/simulators/veinsim"
)

// faultyDevice is a fake of a scanner that gets one decision of
// docs/scanner-protocol.md wrong, built on the real codec: it sits between
// the conformance kit and a conforming simulator and changes requests on
// the way in (onRequest: the bytes to pass on, and frames to answer
// itself) or responses on the way out (onResponse).
type faultyDevice struct {
	inner      *veinsim.Conn
	onRequest  func(p []byte) (pass []byte, answer []*wire.Frame)
	onResponse func(f *wire.Frame) *wire.Frame
	split      wire.Splitter
	out, buf   []byte
}

func (c *faultyDevice) Write(ctx context.Context, p []byte) error {
	pass := p
	if c.onRequest != nil {
		var answer []*wire.Frame
		pass, answer = c.onRequest(bytes.Clone(p))
		for _, f := range answer {
			c.out, _ = wire.AppendFrame(c.out, f)
		}
	}
	if len(pass) == 0 {
		return nil
	}
	return c.inner.Write(ctx, pass)
}

func (c *faultyDevice) Read(ctx context.Context, p []byte) (int, error) {
	if c.buf == nil {
		c.buf = make([]byte, wire.MaxFrameSize)
	}
	for len(c.out) == 0 {
		n, err := c.inner.Read(ctx, c.buf)
		c.split.Write(c.buf[:n])
		for {
			f, ferr := c.split.Next()
			if ferr != nil || f == nil {
				break
			}
			if c.onResponse != nil {
				f = c.onResponse(f)
			}
			c.out, _ = wire.AppendFrame(c.out, f)
		}
		if err != nil {
			return 0, err
		}
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	return n, nil
}

func (c *faultyDevice) Close() error { return c.inner.Close() }

// request decodes p when it is exactly one request frame.
func request(p []byte) *wire.Frame {
	f, err := wire.DecodeFrame(p)
	if err != nil {
		return nil
	}
	return f
}

func encode(f *wire.Frame) []byte {
	b, _ := wire.AppendFrame(nil, f)
	return b
}

func errorFrame(seq uint16, cmd wire.Command, code wire.ErrorCode) *wire.Frame {
	p, _ := (&wire.DeviceError{Code: code}).MarshalBinary()
	return &wire.Frame{Flags: wire.FlagResponse | wire.FlagError, Seq: seq, Command: cmd, Payload: p}
}

// TestConformanceFakes: each decision of the protocol document that the
// kit checks fails on a fake device that decides otherwise.
func TestConformanceFakes(t *testing.T) {
	type fake struct {
		onRequest  func(p []byte) ([]byte, []*wire.Frame)
		onResponse func(f *wire.Frame) *wire.Frame
	}
	chunkReqs := map[uint16]wire.ChunkRequest{}
	chunks := map[wire.ChunkRequest][]byte{}
	cases := []struct {
		name  string
		fails []string
		fake  fake
	}{
		{"answers implausible headers with BAD_FRAME", []string{"framing.bad-header"}, fake{onRequest: func(p []byte) ([]byte, []*wire.Frame) {
			var answer []*wire.Frame
			for i := 0; i+wire.HeaderSize <= len(p); i++ {
				if p[i] != 'V' || p[i+1] != 'S' {
					continue
				}
				if h, err := wire.ParseHeader(p[i:]); err != nil && !errors.Is(err, wire.ErrBadMagic) {
					answer = append(answer, errorFrame(h.Seq, h.Command, wire.CodeBadFrame))
				}
			}
			return p, answer
		}}},
		{"serves requests with only the ERROR flag", []string{"errors.request-flags"}, fake{onRequest: func(p []byte) ([]byte, []*wire.Frame) {
			if f := request(p); f != nil && f.Flags == wire.FlagError {
				f.Flags = 0
				return encode(f), nil
			}
			return p, nil
		}}},
		{"checks the command before the flags", []string{"errors.precedence"}, fake{onRequest: func(p []byte) ([]byte, []*wire.Frame) {
			if f := request(p); f != nil && f.Flags != 0 && !f.Command.Known() {
				return nil, []*wire.Frame{errorFrame(f.Seq, f.Command, wire.CodeUnknownCommand)}
			}
			return p, nil
		}}},
		{"ignores trailing payload bytes", []string{"errors.bad-payload"}, fake{onRequest: func(p []byte) ([]byte, []*wire.Frame) {
			if f := request(p); f != nil && f.Command == wire.CmdCapture && len(f.Payload) > 32 {
				f.Payload = f.Payload[:32]
				return encode(f), nil
			}
			return p, nil
		}}},
		{"certifies another model", []string{"cmd.certificate"}, fake{onResponse: func(f *wire.Frame) *wire.Frame {
			var in wire.DeviceInfo
			if f.Command == wire.CmdGetInfo && !f.IsError() && in.UnmarshalBinary(f.Payload) == nil {
				in.Model += " sim"
				f.Payload, _ = in.MarshalBinary()
			}
			return f
		}}},
		{"answers LED_RANGE but applies the setting", []string{"cmd.led"}, fake{onResponse: func(f *wire.Frame) *wire.Frame {
			if f.Command == wire.CmdSetLED && !f.IsError() && bytes.Count(f.Payload[1:], []byte{255}) == len(f.Payload)-1 {
				return errorFrame(f.Seq, f.Command, wire.CodeLEDRange)
			}
			return f
		}}},
		{"keeps the image after a failed CAPTURE", []string{"capture.failed"}, fake{
			onRequest: func(p []byte) ([]byte, []*wire.Frame) {
				var cr wire.ChunkRequest
				if f := request(p); f != nil && f.Command == wire.CmdReadChunk && cr.UnmarshalBinary(f.Payload) == nil {
					chunkReqs[f.Seq] = cr
				}
				return p, nil
			},
			onResponse: func(f *wire.Frame) *wire.Frame {
				if f.Command != wire.CmdReadChunk {
					return f
				}
				cr := chunkReqs[f.Seq]
				if !f.IsError() {
					chunks[cr] = f.Payload
				} else if p, ok := chunks[cr]; ok {
					return &wire.Frame{Flags: wire.FlagResponse, Seq: f.Seq, Command: f.Command, Payload: p}
				}
				return f
			},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newSim(t)
			c, err := d.Connect()
			if err != nil {
				t.Fatal(err)
			}
			fd := &faultyDevice{inner: c, onRequest: tc.fake.onRequest, onResponse: tc.fake.onResponse}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			rs := conformance.Run(ctx, fd, conformance.Options{
				Finger: scanSimFinger(d), FingerWait: 500 * time.Millisecond,
				MakerKeys:   []ed25519.PublicKey{veinsim.TestMakerPublicKey()},
				TimingSlack: 30 * time.Second,
			})
			for _, id := range tc.fails {
				if r, ok := conformance.Find(rs, id); !ok || r.Status != conformance.Fail {
					t.Errorf("%s: %v, want FAIL", id, r)
				}
			}
			for _, r := range rs {
				if r.Status == conformance.Fail {
					t.Logf("%v", r)
				}
			}
		})
	}
}
