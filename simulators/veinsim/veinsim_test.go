package veinsim

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan/wire"
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
		{"POST", "/finger", js, `{"resident":"110101190001010000"}`, 404, "unknown resident"},
		{"POST", "/finger", js, `{"resident":"` + id + `","finger":11}`, 400, "outside 1..10"},
		{"POST", "/finger", js, `{"seed":9,"resident":"x"}`, 400, "not both"},
		{"POST", "/finger", js, `{"seed":9}`, 200, `"finger":"seed 9"`},
		{"POST", "/finger", "application/x-www-form-urlencoded", `{"seed":9}`, 415, "application/json"},
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
		{"POST", "/unplug", "", "", 200, `"plugged":false`},
		{"POST", "/replug", "", "", 200, `"plugged":true`},
		{"GET", "/nothing", "", "", 404, ""},
		{"GET", "/status?rebound", "", "", 403, "loopback"},
	} {
		code, body := do(tc.method, tc.path, tc.ctype, tc.body)
		if code != tc.code || !strings.Contains(body, tc.contains) {
			t.Errorf("%s %s %s: %d %s, want %d containing %q", tc.method, tc.path, tc.body, code, body, tc.code, tc.contains)
		}
		if strings.Contains(body, id) {
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
