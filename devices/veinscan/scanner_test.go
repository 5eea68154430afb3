package veinscan

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"image"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan/wire"
)

// fakeDevice is a scripted device built on the real codec: handle returns
// the raw bytes to send for each request (nil: no answer).
type fakeDevice struct {
	mu     sync.Mutex
	split  wire.Splitter
	out    []byte
	ready  chan struct{}
	gone   bool
	handle func(req *wire.Frame) []byte
}

func newFake(handle func(req *wire.Frame) []byte) *fakeDevice {
	return &fakeDevice{ready: make(chan struct{}, 1), handle: handle}
}

func (f *fakeDevice) Write(ctx context.Context, p []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gone {
		return wire.ErrDisconnected
	}
	f.split.Write(p)
	for {
		req, err := f.split.Next()
		if err != nil {
			continue
		}
		if req == nil {
			break
		}
		f.out = append(f.out, f.handle(req)...)
	}
	select {
	case f.ready <- struct{}{}:
	default:
	}
	return nil
}

func (f *fakeDevice) Read(ctx context.Context, p []byte) (int, error) {
	for {
		f.mu.Lock()
		if f.gone {
			f.mu.Unlock()
			return 0, wire.ErrDisconnected
		}
		n := copy(p, f.out)
		f.out = f.out[n:]
		f.mu.Unlock()
		if n > 0 {
			return n, nil
		}
		select {
		case <-f.ready:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

func (f *fakeDevice) Close() error { return nil }

func (f *fakeDevice) unplug() {
	f.mu.Lock()
	f.gone = true
	f.mu.Unlock()
	select {
	case f.ready <- struct{}{}:
	default:
	}
}

func frame(t testing.TB, f *wire.Frame) []byte {
	b, err := wire.AppendFrame(nil, f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testInfo() wire.DeviceInfo {
	return wire.DeviceInfo{ProtocolVersion: 1, Vendor: "T", Model: "M", Serial: "S1", Firmware: "1",
		Width: 64, Height: 64, BitDepth: 8, LEDCount: 2, Features: wire.FeatureFingerDetect | wire.FeatureLEDControl,
		ChunkSize: 1000, MaxCaptureMs: 100}
}

// answer builds the normal response to req with payload p.
func answer(t testing.TB, req *wire.Frame, p []byte) []byte {
	return frame(t, &wire.Frame{Flags: wire.FlagResponse, Seq: req.Seq, Command: req.Command, Payload: p})
}

func infoHandler(t testing.TB, next func(req *wire.Frame) []byte) func(req *wire.Frame) []byte {
	info := testInfo()
	ib, _ := info.MarshalBinary()
	return func(req *wire.Frame) []byte {
		if req.Command == wire.CmdGetInfo {
			return answer(t, req, ib)
		}
		return next(req)
	}
}

func TestExchangeDropsStaleAndDecodesErrors(t *testing.T) {
	f := newFake(infoHandler(t, func(req *wire.Frame) []byte {
		stale := frame(t, &wire.Frame{Flags: wire.FlagResponse, Seq: req.Seq - 1, Command: req.Command, Payload: []byte{1, 50}})
		junk := []byte("noise")
		var resp []byte
		if req.Command == wire.CmdFingerStatus {
			resp = answer(t, req, []byte{wire.FingerPresent, 90})
		} else {
			p, _ := (&wire.DeviceError{Code: wire.CodeBusy, Message: "exposing"}).MarshalBinary()
			resp = frame(t, &wire.Frame{Flags: wire.FlagResponse | wire.FlagError, Seq: req.Seq, Command: req.Command, Payload: p})
		}
		return bytes.Join([][]byte{stale, junk, resp}, nil)
	}))
	ctx := context.Background()
	s, err := New(ctx, f, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.FingerStatus(ctx)
	if err != nil || st.State != wire.FingerPresent || st.Coverage != 90 {
		t.Fatalf("FingerStatus = %v, %v", st, err)
	}
	_, err = s.LEDs(ctx)
	var de *wire.DeviceError
	if !errors.As(err, &de) || !errors.Is(err, wire.ErrBusy) || de.Message != "exposing" {
		t.Fatalf("LEDs = %v, want BUSY", err)
	}
	if st := s.Stats(); st.StaleFrames != 2 || st.SkippedBytes == 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestTimeoutRetryAndDisconnect(t *testing.T) {
	calls := 0
	f := newFake(infoHandler(t, func(req *wire.Frame) []byte {
		calls++
		if calls < 3 {
			return nil // lost
		}
		return answer(t, req, []byte{wire.FingerAbsent, 0})
	}))
	ctx := context.Background()
	s, err := New(ctx, f, &Options{CommandTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.FingerStatus(ctx); err != nil {
		t.Fatalf("third try should answer: %v", err)
	}
	calls = -10
	if _, err := s.FingerStatus(ctx); !errors.Is(err, ErrTimeout) {
		t.Fatalf("silent device: %v, want ErrTimeout", err)
	}
	f.unplug()
	if _, err := s.FingerStatus(ctx); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("unplugged: %v", err)
	}
	if _, err := s.Capture(ctx, [32]byte{}); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("sticky: %v", err)
	}
	s.Close()
	if _, err := s.FingerStatus(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed: %v", err)
	}
}

func TestProtocolViolations(t *testing.T) {
	f := newFake(infoHandler(t, func(req *wire.Frame) []byte {
		switch req.Command {
		case wire.CmdFingerStatus: // answers with the wrong command
			return frame(t, &wire.Frame{Flags: wire.FlagResponse, Seq: req.Seq, Command: wire.CmdGetLED, Payload: []byte{1, 1}})
		default: // a payload that does not decode
			return answer(t, req, []byte{9})
		}
	}))
	ctx := context.Background()
	s, err := New(ctx, f, &Options{Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.FingerStatus(ctx); !errors.Is(err, ErrProtocol) {
		t.Fatalf("wrong command: %v", err)
	}
	if _, err := s.LEDs(ctx); !errors.Is(err, ErrProtocol) || !errors.Is(err, wire.ErrMalformed) {
		t.Fatalf("bad payload: %v", err)
	}
	if _, err := s.SetLEDs(ctx, wire.LEDs{1, 2, 3}); err == nil {
		t.Fatal("SetLEDs with the wrong count succeeded")
	}
}

// attestingDevice serves captures of img, signed with key; tamper changes
// what it sends.
func attestingDevice(t *testing.T, img []byte, key ed25519.PrivateKey, tamper func(h *wire.CaptureHeader, a *wire.Attestation, pix []byte)) *fakeDevice {
	info := testInfo()
	info.Features |= wire.FeatureAttestation
	ib, _ := info.MarshalBinary()
	cert := wire.DeviceCertificate{Serial: info.Serial, Model: info.Model, PublicKey: key.Public().(ed25519.PublicKey), MakerID: "test"}
	maker := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
	cert.Sign(maker)
	cb, _ := cert.MarshalBinary()
	led := wire.LEDs{100, 100}
	var counter uint64 = 10
	var held []byte
	return newFake(func(req *wire.Frame) []byte {
		switch req.Command {
		case wire.CmdGetInfo:
			return answer(t, req, ib)
		case wire.CmdGetCertificate:
			return answer(t, req, cb)
		case wire.CmdFingerStatus:
			return answer(t, req, []byte{1, 80})
		case wire.CmdGetLED, wire.CmdSetLED:
			if req.Command == wire.CmdSetLED {
				led.UnmarshalBinary(req.Payload)
			}
			p, _ := led.MarshalBinary()
			return answer(t, req, p)
		case wire.CmdCapture:
			counter++
			pix := append([]byte(nil), img...)
			a := wire.Attestation{Serial: info.Serial, Counter: counter, TimestampMs: 1, ImageSHA256: sha256.Sum256(pix)}
			copy(a.Nonce[:], req.Payload)
			a.Sign(key)
			h := wire.CaptureHeader{Counter: counter, Width: 64, Height: 64, BitDepth: 8, ImageSize: 4096, ChunkSize: 1000, ChunkCount: 5, LED: led}
			if tamper != nil {
				tamper(&h, &a, pix)
			}
			h.Attestation, _ = a.MarshalBinary()
			held = pix
			p, _ := h.MarshalBinary()
			return answer(t, req, p)
		case wire.CmdReadChunk:
			var cr wire.ChunkRequest
			cr.UnmarshalBinary(req.Payload)
			lo := int(cr.Index) * 1000
			p, _ := (&wire.Chunk{Counter: cr.Counter, Index: cr.Index, Data: held[lo:min(lo+1000, len(held))]}).MarshalBinary()
			return answer(t, req, p)
		}
		return nil
	})
}

// fingerImage is a 64x64 test image: a bright band (the finger) with a
// darker line (a vein) on a dark background.
func fingerImage(level byte) []byte {
	pix := make([]byte, 64*64)
	for y := 16; y < 48; y++ {
		for x := 0; x < 64; x++ {
			v := level
			if y == 30 || y == 31 {
				v = level / 2
			}
			pix[y*64+x] = v
		}
	}
	return pix
}

func TestCaptureChecksAttestation(t *testing.T) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32))
	makerPub := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32)).Public().(ed25519.PublicKey)
	img := fingerImage(120)
	ctx := context.Background()

	s, err := New(ctx, attestingDevice(t, img, key, nil), &Options{MakerKeys: []ed25519.PublicKey{makerPub}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Capture(ctx, [32]byte{5})
	if err != nil {
		t.Fatal(err)
	}
	if !r.SignatureValid || !r.CertificateTrusted || !r.CounterIncreased || !bytes.Equal(r.Image.Pix, img) || r.Attestation.Nonce != [32]byte{5} {
		t.Fatalf("result %+v", r)
	}

	for name, tc := range map[string]struct {
		tamper func(h *wire.CaptureHeader, a *wire.Attestation, pix []byte)
		want   error
	}{
		"image changed after signing": {func(h *wire.CaptureHeader, a *wire.Attestation, pix []byte) { pix[100]++ }, ErrIntegrity},
		"other nonce":                 {func(h *wire.CaptureHeader, a *wire.Attestation, pix []byte) { a.Nonce[0] ^= 1; a.Sign(key) }, ErrIntegrity},
		"counter mismatch":            {func(h *wire.CaptureHeader, a *wire.Attestation, pix []byte) { h.Counter++ }, ErrIntegrity},
		"wrong size": {func(h *wire.CaptureHeader, a *wire.Attestation, pix []byte) {
			h.Width, h.ImageSize = 128, 8192
			h.ChunkCount = 9
		}, ErrProtocol},
	} {
		s, err := New(ctx, attestingDevice(t, img, key, tc.tamper), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Capture(ctx, [32]byte{5}); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}

	// a signature by another key is reported, not hidden
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, 32))
	s, _ = New(ctx, attestingDevice(t, img, key, func(h *wire.CaptureHeader, a *wire.Attestation, pix []byte) { a.Sign(other) }), nil)
	r, err = s.Capture(ctx, [32]byte{5})
	if err != nil || r.SignatureValid || r.SignatureError == "" || r.CertificateTrusted {
		t.Fatalf("foreign signature: %+v, %v", r, err)
	}
}

// TestAutoExposureConverges steers a model device whose finger brightness
// is 1.3 times the LED level.
func TestAutoExposureConverges(t *testing.T) {
	img := func(level byte) *image.Gray {
		return &image.Gray{Pix: fingerImage(level), Stride: 64, Rect: image.Rect(0, 0, 64, 64)}
	}
	m := MeasureExposure(img(240), 2, DefaultExposure())
	if m.OK || m.Mean < 200 {
		t.Fatalf("bright image judged OK: %+v", m)
	}
	for _, start := range []uint8{200, 10, 255} {
		cur := wire.LEDs{start, start}
		ok := false
		for range 5 {
			m = MeasureExposure(img(byte(min(255, 1.3*float64(cur[0])))), 2, DefaultExposure())
			if ok = m.OK; ok {
				break
			}
			cur = nextLED(cur, m, DefaultExposure())
		}
		if !ok {
			t.Errorf("from %d: did not converge: LEDs %v, %+v", start, cur, m)
		}
	}
}

func TestDialAndRegistry(t *testing.T) {
	ctx := context.Background()
	if _, err := Dial(ctx, "nosuch:x", nil); err == nil {
		t.Fatal("unknown transport accepted")
	}
	if _, err := Dial(ctx, "serial", nil); err == nil {
		t.Fatal("serial without a path accepted")
	}
	if _, err := Dial(ctx, "usb:zz", nil); err == nil {
		t.Fatal("bad VID:PID accepted")
	}
	missing := filepath.Join(t.TempDir(), "ttyACM9")
	if _, err := Dial(ctx, "serial:"+missing, nil); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), missing) {
		t.Fatalf("missing serial device: %v, want ErrNotFound naming the path", err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("bad registration did not panic")
		}
	}()
	RegisterTransport("a:b", func(context.Context, string, *Options) (Conn, error) { return nil, nil })
}

func TestQualityOfEmptyImages(t *testing.T) {
	for _, img := range []*image.Gray{
		image.NewGray(image.Rect(0, 0, 10, 10)),
		image.NewGray(image.Rect(0, 0, 100, 100)),
	} {
		if q := AssessQuality(img); q.Score != 0 {
			t.Errorf("%v: score %d", img.Bounds(), q.Score)
		}
	}
}

// FuzzResponses gives the driver arbitrary device answers: it must never
// panic or hang, only return errors.
func FuzzResponses(f *testing.F) {
	info := testInfo()
	ib, _ := info.MarshalBinary()
	good, _ := wire.AppendFrame(nil, &wire.Frame{Flags: wire.FlagResponse, Seq: 0, Command: wire.CmdFingerStatus, Payload: []byte{1, 50}})
	f.Add(good, ib)
	f.Add([]byte("VS\x01\x01\x00\x00\x03\x00\xff\xff\xff\xff"), ib)
	f.Fuzz(func(t *testing.T, resp, infoPayload []byte) {
		dev := newFake(func(req *wire.Frame) []byte {
			if req.Command == wire.CmdGetInfo {
				return frame(t, &wire.Frame{Flags: wire.FlagResponse, Seq: req.Seq, Command: req.Command, Payload: infoPayload})
			}
			// the fuzz bytes, with the request's sequence number patched in
			// where a header would carry it
			b := append([]byte(nil), resp...)
			if len(b) >= 6 {
				b[4], b[5] = byte(req.Seq>>8), byte(req.Seq)
			}
			return b
		})
		ctx := context.Background()
		s, err := New(ctx, dev, &Options{CommandTimeout: 5 * time.Millisecond, Retries: -1})
		if err != nil {
			return
		}
		s.FingerStatus(ctx)
		s.LEDs(ctx)
		s.Capture(ctx, [32]byte{})
	})
}
