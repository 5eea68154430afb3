package wire

import (
	"bytes"
	"encoding"
	"path/filepath"
	"testing"
)

// seedFrames adds every golden frame (testdata/frames) to the corpus.
func seedFrames(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "frames", "*.hex"))
	if len(files) == 0 {
		f.Fatal("no golden frames in testdata/frames")
	}
	for _, p := range files {
		name, _ := filepath.Rel("testdata", p)
		b := readGolden(f, name)
		f.Add(b)
	}
}

func FuzzDecodeFrame(f *testing.F) {
	seedFrames(f)
	f.Add([]byte{})
	f.Add([]byte("VS\x01\x00\x00\x01\x01\x00\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := DecodeFrame(data)
		if err != nil {
			return
		}
		out, err := AppendFrame(nil, fr)
		if err != nil || !bytes.Equal(out, data) {
			t.Fatalf("re-encoding differs (%v):\n%x\n%x", err, out, data)
		}
	})
}

func FuzzSplitter(f *testing.F) {
	seedFrames(f)
	f.Add([]byte("VSVSVSVS\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Splitter
		// feed in two uneven parts; every frame found must re-encode to
		// bytes that occur in the input
		s.Write(data[:len(data)/3])
		n := 0
		drain := func() {
			for range len(data) + 1 {
				fr, err := s.Next()
				if err != nil {
					continue
				}
				if fr == nil {
					return
				}
				n++
				enc, err := AppendFrame(nil, fr)
				if err != nil || !bytes.Contains(data, enc) {
					t.Fatalf("splitter produced a frame not in the input: %v", fr)
				}
			}
		}
		drain()
		s.Write(data[len(data)/3:])
		drain()
		if s.Buffered() > len(data) {
			t.Fatalf("buffer grew beyond input")
		}
	})
}

// fuzzRoundTrip checks that whatever a decoder accepts re-encodes to the
// same bytes.
func fuzzRoundTrip[T any, P interface {
	*T
	encoding.BinaryUnmarshaler
	encoding.BinaryMarshaler
}](f *testing.F, seeds ...[]byte) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var v T
		if err := P(&v).UnmarshalBinary(data); err != nil {
			return
		}
		out, err := P(&v).MarshalBinary()
		if err != nil {
			t.Fatalf("accepted input does not re-encode: %v", err)
		}
		if !bytes.Equal(out, data) {
			t.Fatalf("re-encoding differs:\n%x\n%x", out, data)
		}
	})
}

func payloadOf(f *testing.F, name string) []byte {
	fr, err := DecodeFrame(readGolden(f, "frames/"+name+".hex"))
	if err != nil {
		f.Fatal(err)
	}
	return fr.Payload
}

func FuzzDeviceInfo(f *testing.F) {
	fuzzRoundTrip[DeviceInfo](f, payloadOf(f, "get_info_resp"))
}

func FuzzFingerState(f *testing.F) {
	fuzzRoundTrip[FingerState](f, payloadOf(f, "finger_status_resp"), []byte{3, 0})
}

func FuzzLEDs(f *testing.F) {
	fuzzRoundTrip[LEDs](f, payloadOf(f, "set_led_req"), []byte{0})
}

func FuzzNonceRequest(f *testing.F) {
	fuzzRoundTrip[NonceRequest](f, payloadOf(f, "capture_req"))
}

func FuzzCaptureHeader(f *testing.F) {
	fuzzRoundTrip[CaptureHeader](f, payloadOf(f, "capture_resp"))
}

func FuzzChunkRequest(f *testing.F) {
	fuzzRoundTrip[ChunkRequest](f, payloadOf(f, "read_chunk_req"))
}

func FuzzChunk(f *testing.F) {
	fuzzRoundTrip[Chunk](f, payloadOf(f, "read_chunk_resp"))
}

func FuzzDeviceError(f *testing.F) {
	fuzzRoundTrip[DeviceError](f, payloadOf(f, "error_no_finger"), payloadOf(f, "error_bad_crc"))
}
