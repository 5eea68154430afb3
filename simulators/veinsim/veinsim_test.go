package veinsim

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan/wire"
	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/simulators/deck"
)

func newDevice(t *testing.T) *Device {
	t.Helper()
	deck, err := LoadDeck("", DefaultDeckSeed, 20)
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(Config{Residents: DeckResidents{Deck: deck}, Counter: 41})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// exchange sends one request on c and returns the response frame.
func exchange(t *testing.T, c *Conn, req *wire.Frame) *wire.Frame {
	t.Helper()
	b, _ := wire.AppendFrame(nil, req)
	return exchangeBytes(t, c, b)
}

func exchangeBytes(t *testing.T, c *Conn, b []byte) *wire.Frame {
	t.Helper()
	ctx := context.Background()
	if err := c.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	var s wire.Splitter
	buf := make([]byte, wire.MaxFrameSize)
	for {
		if f, err := s.Next(); err != nil {
			t.Fatal(err)
		} else if f != nil {
			return f
		}
		n, err := c.Read(ctx, buf)
		if err != nil {
			t.Fatal(err)
		}
		s.Write(buf[:n])
	}
}

func deviceError(t *testing.T, f *wire.Frame) wire.ErrorCode {
	t.Helper()
	if !f.IsError() {
		t.Fatalf("%v is not an error response", f)
	}
	var de wire.DeviceError
	if err := de.UnmarshalBinary(f.Payload); err != nil {
		t.Fatal(err)
	}
	return de.Code
}

func TestProtocol(t *testing.T) {
	d := newDevice(t)
	c, err := d.Connect()
	if err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, 32)
	if code := deviceError(t, exchange(t, c, &wire.Frame{Seq: 1, Command: wire.CmdCapture, Payload: nonce})); code != wire.CodeNoFinger {
		t.Fatalf("capture without finger: %v", code)
	}
	d.PlaceFinger(5)
	var counters []uint64
	for i := range 3 {
		f := exchange(t, c, &wire.Frame{Seq: uint16(10 + i), Command: wire.CmdCapture, Payload: nonce})
		var h wire.CaptureHeader
		if err := h.UnmarshalBinary(f.Payload); err != nil {
			t.Fatal(err)
		}
		counters = append(counters, h.Counter)
	}
	if counters[0] != 42 || counters[2] != 44 {
		t.Fatalf("counters %v", counters)
	}
	d.SetFault(FaultCounterBackwards)
	f := exchange(t, c, &wire.Frame{Seq: 20, Command: wire.CmdCapture, Payload: nonce})
	var h wire.CaptureHeader
	h.UnmarshalBinary(f.Payload)
	if h.Counter >= 44 {
		t.Fatalf("counter-backwards fault gave %d after 44", h.Counter)
	}
	d.SetFault(FaultNone)

	bad, _ := wire.AppendFrame(nil, &wire.Frame{Seq: 77, Command: wire.CmdGetInfo})
	bad[len(bad)-1] ^= 1
	if f := exchangeBytes(t, c, bad); deviceError(t, f) != wire.CodeBadCRC || f.Seq != 77 {
		t.Fatalf("bad CRC answered %v", f)
	}
	if code := deviceError(t, exchange(t, c, &wire.Frame{Seq: 78, Flags: wire.FlagResponse, Command: wire.CmdGetInfo})); code != wire.CodeBadFrame {
		t.Fatalf("response frame from host: %v", code)
	}
}

func TestUnplugConnections(t *testing.T) {
	d := newDevice(t)
	c, _ := d.Connect()
	d.Unplug()
	ctx := context.Background()
	if err := c.Write(ctx, []byte{1}); !errors.Is(err, wire.ErrDisconnected) {
		t.Fatalf("write after unplug: %v", err)
	}
	if _, err := c.Read(ctx, make([]byte, 8)); !errors.Is(err, wire.ErrDisconnected) {
		t.Fatalf("read after unplug: %v", err)
	}
	if _, err := d.Connect(); !errors.Is(err, wire.ErrDisconnected) {
		t.Fatalf("connect while unplugged: %v", err)
	}
	d.Replug()
	if _, err := c.Read(ctx, make([]byte, 8)); !errors.Is(err, wire.ErrDisconnected) {
		t.Fatalf("old connection after replug: %v", err)
	}
	c2, err := d.Connect()
	if err != nil {
		t.Fatal(err)
	}
	if f := exchange(t, c2, &wire.Frame{Seq: 1, Command: wire.CmdGetInfo}); f.IsError() {
		t.Fatalf("after replug: %v", f)
	}
}

func TestFaultNames(t *testing.T) {
	for _, f := range append(Faults(), FaultNone) {
		g, err := ParseFault(f.String())
		if err != nil || g != f {
			t.Errorf("%v: %v %v", f, g, err)
		}
	}
	if _, err := ParseFault("melt"); err == nil {
		t.Error("unknown fault parsed")
	}
}

func TestControlHTTP(t *testing.T) {
	d := newDevice(t)
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	id := "" // a resident of the deck
	deck, _ := LoadDeck("", DefaultDeckSeed, 20)
	id = deck.Residents[3].IDNumber

	do := func(method, path, ctype, body string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if strings.HasSuffix(path, "?rebound") {
			req.Host = "attacker.example:80"
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	const js = "application/json"
	for _, tc := range []struct {
		method, path, ctype, body string
		code                      int
		contains                  string
	}{
		{"GET", "/status", "", "", 200, `"plugged":true`},
		{"POST", "/finger", js, `{"again":true}`, 400, "no finger to place again"},
		{"POST", "/finger", js, `{"resident":"` + id + `","finger":3}`, 200, `finger 3`},
		{"POST", "/finger", js, `{"resident":"110101190001010000"}`, 400, "not a valid ID number"},
		{"POST", "/finger", js, `{"resident":"110101190001010006"}`, 200, `"finger":"resident 110101********0006 finger 2"`},
		{"POST", "/finger", js, `{"resident":"` + id + `","finger":11}`, 400, "outside 1..10"},
		{"POST", "/finger", js, `{"seed":9,"resident":"x"}`, 400, "not both"},
		{"POST", "/finger", js, `{"seed":9}`, 200, `"finger":"seed 9"`},
		{"POST", "/finger", "application/x-www-form-urlencoded", `{"seed":9}`, 415, "application/json"},
		{"POST", "/finger", "", `{"seed":9}`, 415, "application/json"},
		{"POST", "/finger", "text/plain", `{"seed":9}`, 415, "application/json"},
		{"POST", "/finger", "application/json; charset=utf-8", `{"seed":9}`, 200, `"finger":"seed 9"`},
		{"POST", "/finger", js, `{"seed":9,"extra":1}`, 400, "unknown field"},
		{"POST", "/finger", js, `{"seed":`, 400, "bad JSON"},
		{"POST", "/finger", js, `{"seed":1}{"seed":2}`, 400, "trailing"},
		{"POST", "/finger", js, `{"seed":1,"resident":"` + strings.Repeat("9", 5000) + `"}`, 400, "bad JSON"},
		{"DELETE", "/finger", "", "", 200, `"fault":"none"`},
		{"POST", "/finger", js, `{"again":true}`, 200, `"finger":"seed 9"`},
		{"POST", "/finger", js, `{"again":true,"seed":9}`, 400, "no resident or seed"},
		{"DELETE", "/finger", "", "", 200, `"fault":"none"`},
		{"POST", "/finger", js, `{"again":true}`, 200, `"finger":"seed 9"`},
		{"POST", "/finger", js, `{"again":true}`, 200, `"finger":"seed 9"`},
		{"DELETE", "/finger", "", "", 200, `"fault":"none"`},
		{"POST", "/fault", js, `{"fault":"bad-signature"}`, 200, `"fault":"bad-signature"`},
		{"POST", "/fault", js, `{"fault":"melt"}`, 400, "unknown fault"},
		{"DELETE", "/fault", "", "", 200, `"fault":"none"`},
		{"POST", "/quality", js, `{"quality":0.3}`, 200, `"quality":0.3`},
		{"POST", "/quality", js, `{"quality":3}`, 400, "outside"},
		{"POST", "/quality", js, `{}`, 400, "need quality"},
		{"POST", "/unplug", "", "", 415, "application/json"},
		{"POST", "/unplug", js, "", 200, `"plugged":false`},
		{"POST", "/replug", "", "", 415, "application/json"},
		{"POST", "/replug", js, "", 200, `"plugged":true`},
		{"GET", "/status", "", "", 200, `"maker_id":"pid.codes:1209:0001/test"`},
		{"GET", "/deck", "", "", 200, `"residents"`},
		{"GET", "/deck.csv", "", "", 200, "id_number,name"},
		{"GET", "/nothing", "", "", 404, ""},
		{"GET", "/status?rebound", "", "", 403, "loopback"},
	} {
		code, body := do(tc.method, tc.path, tc.ctype, tc.body)
		if code != tc.code || !strings.Contains(body, tc.contains) {
			t.Errorf("%s %s %s: %d %s, want %d containing %q", tc.method, tc.path, tc.body, code, body, tc.code, tc.contains)
		}
		if strings.Contains(body, id) && !strings.HasPrefix(tc.path, "/deck") { // the deck lists them: that is its purpose
			t.Errorf("%s %s: the response shows the resident's ID number", tc.method, tc.path)
		}
	}
}

func TestListenControlLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "192.0.2.1:0", ":0", "nonsense"} {
		if ln, err := ListenControl(addr); err == nil {
			ln.Close()
			t.Errorf("%s accepted", addr)
		}
	}
	ln, err := ListenControl("")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
}

// FuzzDeviceStream feeds arbitrary host bytes to the device: it must never
// panic, and everything it sends back must be well-formed response frames.
func FuzzDeviceStream(f *testing.F) {
	for _, fr := range []*wire.Frame{
		{Seq: 1, Command: wire.CmdGetInfo},
		{Seq: 2, Command: wire.CmdSetLED, Payload: []byte{4, 1, 2, 3, 4}},
		{Seq: 3, Command: wire.CmdReadChunk, Payload: make([]byte, 10)},
		{Seq: 4, Command: wire.CmdAttest, Payload: make([]byte, 32)},
		{Seq: 5, Command: wire.CmdEcho, Payload: []byte("VS\x01")},
	} {
		b, _ := wire.AppendFrame(nil, fr)
		f.Add(b)
	}
	f.Add([]byte("VSVSVS\x01\x00\x00"))
	d, err := New(Config{Counter: 1})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := d.Connect()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Write(context.Background(), data); err != nil {
			t.Fatal(err)
		}
		out := make([]byte, 1<<20)
		n, _ := c.TryRead(out)
		var s wire.Splitter
		s.Write(out[:n])
		for {
			fr, err := s.Next()
			if err != nil {
				t.Fatalf("device sent a damaged frame: %v", err)
			}
			if fr == nil {
				break
			}
			if !fr.IsResponse() {
				t.Fatalf("device sent a request frame %v", fr)
			}
		}
		if s.Buffered() != 0 || s.Skipped != 0 {
			t.Fatalf("device sent %d stray bytes", s.Buffered()+s.Skipped)
		}
	})
}

// read waits up to d for one response frame on c; nil when none came.
func readFrame(t *testing.T, c *Conn, d time.Duration) *wire.Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var s wire.Splitter
	buf := make([]byte, wire.MaxFrameSize)
	for {
		if f, err := s.Next(); err != nil {
			t.Fatal(err)
		} else if f != nil {
			if s.Buffered() != 0 {
				t.Fatalf("%d bytes after the frame", s.Buffered())
			}
			return f
		}
		n, err := c.Read(ctx, buf)
		if errors.Is(err, context.DeadlineExceeded) {
			if s.Buffered() != 0 {
				t.Fatalf("%d bytes of an incomplete response", s.Buffered())
			}
			return nil
		} else if err != nil {
			t.Fatal(err)
		}
		s.Write(buf[:n])
	}
}

// TestPartialFrameTimeout: a truncated request, or a stray header declaring
// 20,000 bytes, delays the next request by the partial-frame time-out and
// no more; with FaultKeepPartial the device wedges (the fault the
// conformance kit's framing.partial-timeout catches).
func TestPartialFrameTimeout(t *testing.T) {
	d, err := New(Config{Counter: 1, PartialFrameTimeout: 30 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := d.Connect()
	defer c.Close()
	ctx := context.Background()
	capture, _ := wire.AppendFrame(nil, &wire.Frame{Seq: 1, Command: wire.CmdCapture, Payload: make([]byte, 32)})
	info := func(seq uint16) []byte {
		b, _ := wire.AppendFrame(nil, &wire.Frame{Seq: seq, Command: wire.CmdGetInfo})
		return b
	}
	stray := []byte{'V', 'S', 1, 0, 0, 9, byte(wire.CmdEcho), 0, 0, 0, 0x4E, 0x20} // declares 20,000 bytes

	// truncated request, silence, then a request
	if err := c.Write(ctx, capture[:30]); err != nil {
		t.Fatal(err)
	}
	if f := readFrame(t, c, 150*time.Millisecond); f != nil {
		t.Fatalf("answer %v to a truncated request", f)
	}
	if f := exchangeBytes(t, c, info(2)); f.Seq != 2 || f.IsError() {
		t.Fatalf("after a truncated request: %v", f)
	}
	// a stray header followed at once by a request: the request is found
	// in the buffered bytes when the time-out gives the header up
	if f := exchangeBytes(t, c, append(append([]byte(nil), stray...), info(3)...)); f.Seq != 3 || f.IsError() {
		t.Fatalf("after a stray header: %v", f)
	}
	// a request split in two with a pause below the time-out is answered
	b := info(4)
	c.Write(ctx, b[:5])
	time.Sleep(5 * time.Millisecond)
	if f := exchangeBytes(t, c, b[5:]); f.Seq != 4 || f.IsError() {
		t.Fatalf("split request: %v", f)
	}
	if st := d.Status().Stats; st.PartialFramesDropped != 2 {
		t.Errorf("%d partial frames dropped, want 2", st.PartialFramesDropped)
	}

	// the faulty device wedges
	d.SetFault(FaultKeepPartial)
	if err := c.Write(ctx, append(append([]byte(nil), stray...), info(5)...)); err != nil {
		t.Fatal(err)
	}
	if f := readFrame(t, c, 200*time.Millisecond); f != nil {
		t.Fatalf("keep-partial device answered %v", f)
	}
}

func TestRequestFlagsAndPrecedence(t *testing.T) {
	d := newDevice(t)
	c, _ := d.Connect()
	defer c.Close()
	for _, tc := range []struct {
		name string
		f    wire.Frame
		want wire.ErrorCode
	}{
		{"ERROR flag only", wire.Frame{Flags: wire.FlagError, Command: wire.CmdGetInfo}, wire.CodeBadFrame},
		{"RESPONSE flag", wire.Frame{Flags: wire.FlagResponse, Command: wire.CmdGetInfo}, wire.CodeBadFrame},
		{"both flags", wire.Frame{Flags: wire.FlagResponse | wire.FlagError, Command: wire.CmdGetInfo}, wire.CodeBadFrame},
		{"version 2 with a response flag", wire.Frame{Version: 2, Flags: wire.FlagResponse, Command: 0x7E}, wire.CodeBadVersion},
		{"version 2, unknown command", wire.Frame{Version: 2, Command: 0x7E}, wire.CodeBadVersion},
		{"response flag, unknown command", wire.Frame{Flags: wire.FlagResponse, Command: 0x7E}, wire.CodeBadFrame},
		{"unknown command with a payload", wire.Frame{Command: 0x7E, Payload: []byte{1}}, wire.CodeUnknownCommand},
		{"CAPTURE with 31 bytes and no finger", wire.Frame{Command: wire.CmdCapture, Payload: make([]byte, 31)}, wire.CodeBadPayload},
		{"CAPTURE with 33 bytes", wire.Frame{Command: wire.CmdCapture, Payload: make([]byte, 33)}, wire.CodeBadPayload},
		{"READ_CHUNK with 11 bytes", wire.Frame{Command: wire.CmdReadChunk, Payload: make([]byte, 11)}, wire.CodeBadPayload},
		{"CAPTURE without a finger", wire.Frame{Command: wire.CmdCapture, Payload: make([]byte, 32)}, wire.CodeNoFinger},
	} {
		tc.f.Seq = 77
		if got := deviceError(t, exchange(t, c, &tc.f)); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	// BAD_CRC before everything else
	b, _ := wire.AppendFrame(nil, &wire.Frame{Version: 2, Flags: wire.FlagResponse, Seq: 78, Command: 0x7E})
	b[len(b)-1] ^= 1
	if got := deviceError(t, exchangeBytes(t, c, b)); got != wire.CodeBadCRC {
		t.Errorf("damaged version-2 response frame: %v, want BAD_CRC", got)
	}
}

// TestFailedCaptureDiscards: a failed CAPTURE leaves no image held and the
// counter unchanged.
func TestFailedCaptureDiscards(t *testing.T) {
	d := newDevice(t)
	d.PlaceFinger(5)
	c, _ := d.Connect()
	defer c.Close()
	f := exchange(t, c, &wire.Frame{Seq: 1, Command: wire.CmdCapture, Payload: make([]byte, 32)})
	var h wire.CaptureHeader
	if err := h.UnmarshalBinary(f.Payload); err != nil {
		t.Fatal(err)
	}
	chunk, _ := (&wire.ChunkRequest{Counter: h.Counter}).MarshalBinary()
	if f := exchange(t, c, &wire.Frame{Seq: 2, Command: wire.CmdReadChunk, Payload: chunk}); f.IsError() {
		t.Fatalf("chunk 0: %v", f)
	}
	// a rejected request changes nothing
	if code := deviceError(t, exchange(t, c, &wire.Frame{Seq: 3, Command: wire.CmdCapture, Payload: make([]byte, 31)})); code != wire.CodeBadPayload {
		t.Fatal(code)
	}
	if f := exchange(t, c, &wire.Frame{Seq: 4, Command: wire.CmdReadChunk, Payload: chunk}); f.IsError() {
		t.Fatalf("chunk 0 after BAD_PAYLOAD: %v", f)
	}
	d.LiftFinger()
	if code := deviceError(t, exchange(t, c, &wire.Frame{Seq: 5, Command: wire.CmdCapture, Payload: make([]byte, 32)})); code != wire.CodeNoFinger {
		t.Fatal(code)
	}
	if code := deviceError(t, exchange(t, c, &wire.Frame{Seq: 6, Command: wire.CmdReadChunk, Payload: chunk})); code != wire.CodeNoCapture {
		t.Fatalf("chunk of the image before a failed capture: %v, want NO_CAPTURE", code)
	}
	if d.Status().Counter != h.Counter {
		t.Fatalf("counter %d after a failed capture, want %d", d.Status().Counter, h.Counter)
	}
}

// TestAnyValidID: any valid ID number has a finger of its own; deck
// residents keep the deck's.
func TestAnyValidID(t *testing.T) {
	dk, _ := LoadDeck("", DefaultDeckSeed, 20)
	r := DeckResidents{Deck: dk}
	in := dk.Residents[0]
	if s, err := r.FingerSeed(in.IDNumber, 2); err != nil || s != in.FingerSeed(2) {
		t.Fatalf("deck resident: %d %v, want the deck's %d", s, err, in.FingerSeed(2))
	}
	const out = "110101190001010006"
	a, err := r.FingerSeed(out, 2)
	if err != nil {
		t.Fatal(err)
	}
	// the same with another deck, and with no deck
	b, _ := DeckResidents{Deck: deck.Generate(7, 5)}.FingerSeed(out, 2)
	c, _ := DeckResidents{}.FingerSeed(out, 2)
	if a != b || a != c {
		t.Fatalf("seeds %d %d %d differ", a, b, c)
	}
	if o, _ := r.FingerSeed(out, 3); o == a {
		t.Fatal("fingers 2 and 3 are the same")
	}
	otherID, _ := identity.MakeIDNumber("150204", 19500301, 123)
	other := string(otherID)
	if o, err := r.FingerSeed(other, 2); err != nil || o == a {
		t.Fatalf("another ID: %d %v", o, err)
	}
	for _, bad := range []string{"110101190001010000", "", "12345", "11010119000101000X0"} {
		if _, err := r.FingerSeed(bad, 2); !errors.Is(err, ErrInvalidID) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	// the documented derivation
	h := sha256.Sum256([]byte("veinkiosk/veinsim/finger/v1\x00" + out + "\x00" + "2"))
	if want := binary.BigEndian.Uint64(h[:8]); a != want {
		t.Fatalf("seed %d, the documented derivation gives %d", a, want)
	}
}

// TestNoDeck: a simulator without a deck serves any valid ID number and
// says it has no deck to list.
func TestNoDeck(t *testing.T) {
	d, err := New(Config{Counter: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.PlaceResident("110101190001010006", 2); err != nil {
		t.Fatal(err)
	}
	if err := d.PlaceResident("110101190001010000", 2); !errors.Is(err, ErrInvalidID) {
		t.Fatalf("invalid ID: %v", err)
	}
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/deck")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/deck without a deck: %d", resp.StatusCode)
	}
}
