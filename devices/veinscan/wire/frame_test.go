package wire

import (
	"bytes"
	"encoding"
	"errors"
	"testing"
)

func TestCRC32CCheckValue(t *testing.T) {
	if got := CRC32C([]byte("123456789")); got != 0xE3069283 {
		t.Fatalf("CRC-32C check value = %08x, want e3069283", got)
	}
}

func sampleInfo() *DeviceInfo {
	return &DeviceInfo{ProtocolVersion: 1, Vendor: "Qingshan", Model: "VS-1", Serial: "VS1-000042", Firmware: "1.0.0",
		Width: 500, Height: 200, BitDepth: 8, LEDCount: 4,
		Features: FeatureFingerDetect | FeatureLEDControl | FeatureAttestation, ChunkSize: 4096, MaxCaptureMs: 1500}
}

func mustMarshal(t testing.TB, m encoding.BinaryMarshaler) []byte {
	t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// goldenFrames are the worked examples of docs/scanner-protocol.md; the hex
// files under testdata/frames are what a firmware engineer can diff against.
func goldenFrames(t testing.TB) map[string]*Frame {
	var nonce NonceRequest
	for i := range nonce.Nonce {
		nonce.Nonce[i] = 0xA0 + byte(i%16)
	}
	a := sampleAttestation()
	a.Nonce = nonce.Nonce
	_ = a.Sign(testKey(1))
	att := mustMarshal(t, a)
	var resp byte = FlagResponse
	return map[string]*Frame{
		"get_info_req":       {Seq: 1, Command: CmdGetInfo},
		"get_info_resp":      {Seq: 1, Flags: resp, Command: CmdGetInfo, Payload: mustMarshal(t, sampleInfo())},
		"finger_status_req":  {Seq: 2, Command: CmdFingerStatus},
		"finger_status_resp": {Seq: 2, Flags: resp, Command: CmdFingerStatus, Payload: mustMarshal(t, &FingerState{FingerPresent, 87})},
		"set_led_req":        {Seq: 3, Command: CmdSetLED, Payload: mustMarshal(t, LEDs{128, 140, 140, 128})},
		"set_led_resp":       {Seq: 3, Flags: resp, Command: CmdSetLED, Payload: mustMarshal(t, LEDs{128, 140, 140, 128})},
		"capture_req":        {Seq: 4, Command: CmdCapture, Payload: mustMarshal(t, &nonce)},
		"capture_resp": {Seq: 4, Flags: resp, Command: CmdCapture, Payload: mustMarshal(t, &CaptureHeader{
			Counter: 7, Width: 500, Height: 200, BitDepth: 8, ImageSize: 100000, ChunkSize: 4096, ChunkCount: 25,
			ExposureUs: 8000, LED: LEDs{128, 140, 140, 128}, Attestation: att})},
		"read_chunk_req":  {Seq: 5, Command: CmdReadChunk, Payload: mustMarshal(t, &ChunkRequest{Counter: 7, Index: 24})},
		"read_chunk_resp": {Seq: 5, Flags: resp, Command: CmdReadChunk, Payload: mustMarshal(t, &Chunk{Counter: 7, Index: 24, Data: bytes.Repeat([]byte{0x5A}, 16)})},
		"error_no_finger": {Seq: 6, Flags: resp | FlagError, Command: CmdCapture, Payload: mustMarshal(t, &DeviceError{Code: CodeNoFinger, Message: "no finger on the window"})},
		"error_bad_crc":   {Seq: 7, Flags: resp | FlagError, Command: CmdGetInfo, Payload: mustMarshal(t, &DeviceError{Code: CodeBadCRC})},
	}
}

func TestGoldenFrames(t *testing.T) {
	for name, f := range goldenFrames(t) {
		t.Run(name, func(t *testing.T) {
			b, err := AppendFrame(nil, f)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "frames/"+name+".hex", b)
			got, err := DecodeFrame(b)
			if err != nil {
				t.Fatal(err)
			}
			if got.Version != Version || got.Flags != f.Flags || got.Seq != f.Seq || got.Command != f.Command || !bytes.Equal(got.Payload, f.Payload) {
				t.Fatalf("decoded %v, want %v", got, f)
			}
		})
	}
}

func TestDecodeFrameErrors(t *testing.T) {
	good, _ := AppendFrame(nil, &Frame{Seq: 9, Command: CmdEcho, Payload: []byte("hi")})
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrShortFrame},
		{"short header", good[:11], ErrShortFrame},
		{"short payload", good[:len(good)-1], ErrShortFrame},
		{"magic", mod(func(b []byte) []byte { b[0] = 'X'; return b }), ErrBadMagic},
		{"crc", mod(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), ErrBadCRC},
		{"payload bit", mod(func(b []byte) []byte { b[12] ^= 0x10; return b }), ErrBadCRC},
		{"flags", mod(func(b []byte) []byte { b[3] = 0x80; return b }), ErrBadHeader},
		{"reserved", mod(func(b []byte) []byte { b[7] = 1; return b }), ErrBadHeader},
		{"huge length", mod(func(b []byte) []byte { b[8] = 0x7f; return b }), ErrFrameTooLarge},
		{"trailing", append(bytes.Clone(good), 0), ErrBadHeader},
	}
	for _, tc := range tests {
		if _, err := DecodeFrame(tc.in); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	v2, _ := AppendFrame(nil, &Frame{Version: 2, Seq: 77, Command: CmdGetInfo})
	f, err := DecodeFrame(v2)
	if !errors.Is(err, ErrBadVersion) || f == nil || f.Seq != 77 {
		t.Fatalf("version 2: %v %v", f, err)
	}
	if _, err := AppendFrame(nil, &Frame{Payload: make([]byte, MaxPayload+1)}); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("oversized encode: %v", err)
	}
}

func TestSplitter(t *testing.T) {
	f1, _ := AppendFrame(nil, &Frame{Seq: 1, Command: CmdEcho, Payload: []byte("one")})
	f2, _ := AppendFrame(nil, &Frame{Seq: 2, Command: CmdEcho, Payload: []byte("VS two VS")})
	bad := bytes.Clone(f1)
	bad[len(bad)-2] ^= 0xff
	stream := bytes.Join([][]byte{[]byte("garbage V"), f1, []byte{0x56, 0x53, 0x01}, bad, f2}, nil)

	// Byte-at-a-time and all-at-once must give the same result.
	for _, step := range []int{1, 3, len(stream)} {
		var s Splitter
		var seqs []uint16
		var crcErrs int
		for i := 0; i < len(stream); i += step {
			s.Write(stream[i:min(i+step, len(stream))])
			for {
				f, err := s.Next()
				if err != nil {
					var de *DamagedFrameError
					if !errors.As(err, &de) || !errors.Is(err, ErrBadCRC) || de.Header.Seq != 1 {
						t.Fatalf("step %d: unexpected error %v", step, err)
					}
					crcErrs++
					continue
				}
				if f == nil {
					break
				}
				seqs = append(seqs, f.Seq)
			}
		}
		if len(seqs) != 2 || seqs[0] != 1 || seqs[1] != 2 || crcErrs != 1 {
			t.Fatalf("step %d: frames %v, crc errors %d", step, seqs, crcErrs)
		}
		if s.Buffered() != 0 {
			t.Fatalf("step %d: %d bytes left", step, s.Buffered())
		}
	}
}

func TestMessageRoundTrips(t *testing.T) {
	a := sampleAttestation()
	_ = a.Sign(testKey(1))
	msgs := []struct {
		in  encoding.BinaryMarshaler
		out encoding.BinaryUnmarshaler
	}{
		{sampleInfo(), new(DeviceInfo)},
		{&FingerState{FingerMoving, 40}, new(FingerState)},
		{LEDs{0, 255, 7}, new(LEDs)},
		{&NonceRequest{Nonce: [32]byte{1, 2, 3}}, new(NonceRequest)},
		{&ChunkRequest{Counter: 1 << 40, Index: 3}, new(ChunkRequest)},
		{&Chunk{Counter: 5, Index: 1, Data: []byte{1, 2, 3}}, new(Chunk)},
		{&DeviceError{Code: CodeTamper, Message: "lid open"}, new(DeviceError)},
		{&CaptureHeader{Counter: 1, Width: 500, Height: 200, BitDepth: 8, ImageSize: 100000, ChunkSize: 16384, ChunkCount: 7, LED: LEDs{1}, Attestation: mustMarshal(t, a)}, new(CaptureHeader)},
	}
	for _, m := range msgs {
		b := mustMarshal(t, m.in)
		if err := m.out.UnmarshalBinary(b); err != nil {
			t.Fatalf("%T: %v", m.in, err)
		}
		again := mustMarshal(t, m.out.(encoding.BinaryMarshaler))
		if !bytes.Equal(b, again) {
			t.Fatalf("%T round trip differs", m.in)
		}
		for i := 0; i < len(b); i++ {
			if err := m.out.UnmarshalBinary(b[:i]); err == nil {
				if _, ok := m.in.(*Chunk); ok && i >= 11 {
					continue // a shorter chunk is still a chunk
				}
				t.Fatalf("%T truncated to %d bytes decoded", m.in, i)
			}
		}
	}
}

func TestDeviceErrorIs(t *testing.T) {
	var err error = &DeviceError{Code: CodeNoFinger, Message: "x"}
	if !errors.Is(err, ErrNoFinger) || errors.Is(err, ErrBusy) {
		t.Fatal("DeviceError.Is does not match by code")
	}
	long := &DeviceError{Code: 1, Message: string(bytes.Repeat([]byte("指"), 100))}
	b, _ := long.MarshalBinary()
	var back DeviceError
	if err := back.UnmarshalBinary(b); err != nil || len(back.Message) != 255 {
		t.Fatalf("long message: %v, %d bytes", err, len(back.Message))
	}
}

func TestInfoValidate(t *testing.T) {
	for name, mut := range map[string]func(*DeviceInfo){
		"depth":   func(d *DeviceInfo) { d.BitDepth = 16 },
		"leds":    func(d *DeviceInfo) { d.LEDCount = 0 },
		"chunk":   func(d *DeviceInfo) { d.ChunkSize = 100 },
		"size":    func(d *DeviceInfo) { d.Width = 10 },
		"serial":  func(d *DeviceInfo) { d.Serial = "" },
		"feature": func(d *DeviceInfo) { d.Features |= 1 << 20 },
	} {
		d := sampleInfo()
		mut(d)
		if _, err := d.MarshalBinary(); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
