package idcardsim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/devices/idcard/sam"
	"github.com/qingshan-gov/veinkiosk/simulators/deck"
)

// host is a minimal host side on the raw slave, built on the codec only.
type host struct {
	t  *testing.T
	f  *os.File
	fr *sam.FrameReader
}

func dial(t *testing.T, path string) *host {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &host{t: t, f: f, fr: sam.NewFrameReader(f, 0)}
}

func (h *host) send(op sam.Op) {
	h.t.Helper()
	b, _ := sam.Command{Op: op}.Append(nil)
	if _, err := h.f.Write(b); err != nil {
		h.t.Fatal(err)
	}
}

func (h *host) recv() (sam.Response, error) {
	h.t.Helper()
	f, err := h.fr.Next()
	if err != nil {
		return sam.Response{}, err
	}
	return sam.DecodeResponse(f)
}

func (h *host) do(op sam.Op) sam.Response {
	h.t.Helper()
	h.send(op)
	r, err := h.recv()
	if err != nil {
		h.t.Fatalf("%v: %v", op, err)
	}
	return r
}

func start(t *testing.T) (*Sim, *host) {
	t.Helper()
	s, err := Start(deck.Generate(1, 20), Options{Timing: FastTiming()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dial(t, s.Path())
}

func TestReadCard(t *testing.T) {
	s, h := start(t)
	if r := h.do(sam.OpFindCard); r.Status != sam.StatusNoCard {
		t.Fatalf("find with no card: %v", r.Status)
	}
	if r := h.do(sam.OpSelectCard); r.Status != sam.StatusSelectFailed {
		t.Fatalf("select with no card: %v", r.Status)
	}
	res := s.Deck().Residents[0]
	if err := s.Insert(res.IDNumber); err != nil {
		t.Fatal(err)
	}
	if r := h.do(sam.OpSelectCard); r.Status != sam.StatusSelectFailed {
		t.Fatalf("select before find: %v", r.Status)
	}
	if r := h.do(sam.OpFindCard); r.Status != sam.StatusFindOK || len(r.Data) != 4 {
		t.Fatalf("find: %v % X", r.Status, r.Data)
	}
	if r := h.do(sam.OpSelectCard); r.Status != sam.StatusOK || len(r.Data) != 8 {
		t.Fatalf("select: %v", r.Status)
	}
	want, _ := res.Card()
	for _, op := range []sam.Op{sam.OpReadText, sam.OpReadTextFinger} {
		r := h.do(op)
		if r.Status != sam.StatusOK {
			t.Fatalf("%v: %v", op, r.Status)
		}
		c, err := sam.DecodeCard(op, r.Data)
		if err != nil {
			t.Fatal(err)
		}
		w := *want
		if op == sam.OpReadText {
			w.Fingerprint = nil
		} else if w.Fingerprint == nil {
			w.Fingerprint = []byte{}
		}
		if !reflect.DeepEqual(c, &w) {
			t.Fatalf("%v:\n got %+v\nwant %+v", op, c, &w)
		}
	}
	if r := h.do(sam.OpReadNewAddress); r.Status != sam.StatusNoItem {
		t.Fatalf("new address: %v", r.Status)
	}
	r := h.do(sam.OpReadSAMID)
	id, err := sam.DecodeSAMID(r.Data)
	if err != nil || !strings.HasPrefix(id.String(), "05.01-") {
		t.Fatalf("SAM id %v %v", id, err)
	}
	if r := h.do(sam.OpResetSAM); r.Status != sam.StatusOK {
		t.Fatalf("reset: %v", r.Status)
	}
	if r := h.do(sam.OpReadText); r.Status != sam.StatusReadFailed {
		t.Fatalf("read after reset without select: %v", r.Status)
	}
	if r := h.do(sam.NewOp(0x77, 0x01)); r.Status != sam.StatusUnknownCommand {
		t.Fatalf("unknown command: %v", r.Status)
	}
	s.Remove()
	if r := h.do(sam.OpFindCard); r.Status != sam.StatusNoCard {
		t.Fatalf("find after remove: %v", r.Status)
	}
	if st := s.State(); st.Commands < 10 || st.Card != nil || !st.Plugged {
		t.Fatalf("state %+v", st)
	}
}

func TestBrokenCommands(t *testing.T) {
	_, h := start(t)
	bad := []byte{0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x03, 0x20, 0x01, 0x23}
	h.f.Write(append([]byte{1, 2, 3}, bad...))
	if r, err := h.recv(); err != nil || r.Status != sam.StatusCommandChecksum {
		t.Fatalf("bad command checksum: %v %v", r.Status, err)
	}
	h.f.Write([]byte{0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x7F, 0x00})
	if r, err := h.recv(); err != nil || r.Status != sam.StatusCommandLength {
		t.Fatalf("absurd LEN: %v %v", r.Status, err)
	}
	if r := h.do(sam.OpFindCard); r.Status != sam.StatusNoCard {
		t.Fatalf("after broken commands: %v", r.Status)
	}
}

func TestFaults(t *testing.T) {
	s, h := start(t)
	id := s.Deck().Residents[0].IDNumber
	s.Insert(id)
	findSelect := func() {
		h.do(sam.OpFindCard)
		if r := h.do(sam.OpSelectCard); r.Status != sam.StatusOK {
			t.Fatalf("select: %v", r.Status)
		}
	}
	for kind, want := range map[FaultKind]sam.Status{
		FaultCardAuth: sam.StatusCardAuthSAM, FaultSAMAuth: sam.StatusSAMAuthCard,
		FaultDataVerification: sam.StatusDataVerification, FaultReadFailed: sam.StatusReadFailed,
	} {
		findSelect()
		s.InjectFault(kind, 1)
		if r := h.do(sam.OpReadText); r.Status != want {
			t.Errorf("%s: %v, want %v", kind, r.Status, want)
		}
		if r := h.do(sam.OpReadText); r.Status != sam.StatusOK {
			t.Errorf("after %s: %v", kind, r.Status)
		}
	}
	s.InjectFault(FaultNoCard, 2)
	for i := 0; i < 2; i++ {
		if r := h.do(sam.OpFindCard); r.Status != sam.StatusNoCard {
			t.Errorf("nocard %d: %v", i, r.Status)
		}
	}
	s.InjectFault(FaultSAM, 1)
	if r := h.do(sam.OpReadSAMID); r.Status != sam.StatusSelfTestFailed {
		t.Errorf("sam fault: %v", r.Status)
	}
	findSelect()
	s.InjectFault(FaultPull, 1)
	if r := h.do(sam.OpReadText); r.Status != sam.StatusReadFailed || s.State().Card != nil {
		t.Errorf("pull: %v, card %v", r.Status, s.State().Card)
	}
	s.Insert(id)

	s.InjectFault(FaultChecksum, 1)
	h.send(sam.OpFindCard)
	if _, err := h.recv(); !errors.Is(err, sam.ErrChecksum) {
		t.Errorf("checksum fault: %v", err)
	}
	s.InjectFault(FaultGarbage, 1)
	before := h.fr.Discarded()
	if r := h.do(sam.OpFindCard); r.Status != sam.StatusFindOK || h.fr.Discarded() < before+4 {
		t.Errorf("garbage: %v, %d bytes skipped", r.Status, h.fr.Discarded()-before)
	}
	// Truncated and hang: the host sees nothing complete; a deadline ends
	// its wait.
	for _, kind := range []FaultKind{FaultTruncated, FaultHang} {
		s.InjectFault(kind, 1)
		h.send(sam.OpFindCard)
		h.f.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		_, err := h.recv()
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%s: %v, want a timeout", kind, err)
		}
		if kind == FaultTruncated && !h.fr.Partial() {
			t.Errorf("truncated: no partial frame")
		}
		h.f.SetReadDeadline(time.Time{})
		h.fr.Reset()
		if r := h.do(sam.OpFindCard); r.Status != sam.StatusFindOK {
			t.Errorf("after %s: %v", kind, r.Status)
		}
	}
	s.InjectFault(FaultSlow, 1)
	t0 := time.Now()
	if r := h.do(sam.OpFindCard); r.Status != sam.StatusFindOK || time.Since(t0) < s.timing.Slow {
		t.Errorf("slow: %v after %v", r.Status, time.Since(t0))
	}
	s.InjectFault(FaultChecksum, -1)
	if len(s.State().Faults) != 1 || s.State().Faults[0].Count != -1 {
		t.Errorf("state faults %+v", s.State().Faults)
	}
	s.ClearFaults()
	if err := s.InjectFault("bogus", 1); err == nil {
		t.Error("unknown fault accepted")
	}
}

func TestUnplugReplug(t *testing.T) {
	s, h := start(t)
	old := s.Path()
	if err := s.InjectFault(FaultUnplug, 0); err != nil {
		t.Fatal(err)
	}
	if n, err := h.f.Read(make([]byte, 8)); n != 0 || (err != io.EOF && !errors.Is(err, syscall.EIO)) {
		t.Fatalf("read after unplug = %d, %v", n, err)
	}
	if s.Path() != "" || s.State().Plugged {
		t.Fatal("still plugged")
	}
	if err := s.Unplug(); !errors.Is(err, ErrUnplugged) {
		t.Fatalf("second unplug: %v", err)
	}
	path, err := s.Replug()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("replugged %s -> %s", old, path)
	h2 := dial(t, path)
	if r := h2.do(sam.OpFindCard); r.Status != sam.StatusNoCard {
		t.Fatalf("after replug: %v", r.Status)
	}
}

func TestHTTPControl(t *testing.T) {
	s, h := start(t)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	call := func(method, path, body string, wantCode int) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		raw, _ := io.ReadAll(resp.Body)
		json.Unmarshal(raw, &out)
		if resp.StatusCode != wantCode {
			t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, raw, wantCode)
		}
		return out
	}
	id := s.Deck().Residents[3].IDNumber
	st := call("POST", "/card", `{"id_number":"`+id+`"}`, 200)
	if card, _ := st["card"].(map[string]any); card["id_number"] != id {
		t.Fatalf("state after insert: %v", st)
	}
	if r := h.do(sam.OpFindCard); r.Status != sam.StatusFindOK {
		t.Fatalf("find after HTTP insert: %v", r.Status)
	}
	call("POST", "/card", `{"id_number":"150204190001010000"}`, 404)
	call("POST", "/card", `{"id_number":`, 400)
	call("POST", "/card", `{"id":"x"}`, 400)
	call("POST", "/card", strings.Repeat(" ", 5000)+`{}`, 400)
	call("POST", "/fault", `{"kind":"checksum","count":3}`, 200)
	call("POST", "/fault", `{"kind":"melt"}`, 400)
	st = call("GET", "/state", "", 200)
	if f, _ := st["faults"].([]any); len(f) != 1 {
		t.Fatalf("faults %v", st["faults"])
	}
	call("DELETE", "/fault", "", 200)
	call("DELETE", "/card", "", 200)
	if r := h.do(sam.OpFindCard); r.Status != sam.StatusNoCard {
		t.Fatalf("find after HTTP remove: %v", r.Status)
	}
	resp, _ := http.Get(srv.URL + "/residents")
	var rs []ResidentInfo
	json.NewDecoder(resp.Body).Decode(&rs)
	resp.Body.Close()
	if len(rs) != 20 || rs[0].IDNumber != s.Deck().Residents[0].IDNumber || !rs[0].Valid {
		t.Fatalf("residents %v", rs)
	}
	call("POST", "/unplug", "", 200)
	st = call("POST", "/replug", "", 200)
	if st["device"] == "" || st["plugged"] != true {
		t.Fatalf("after replug %v", st)
	}
	call("GET", "/nothing", "", 404)
}

func TestConsole(t *testing.T) {
	s, _ := start(t)
	id := s.Deck().Residents[0].IDNumber
	in := strings.NewReader("insert " + id + "\nstate\nfault checksum 2\nfault melt\nfault garbage x\nclear\nremove\nlist\nbogus\n\nhelp\nfaults\nunplug\nreplug\n")
	var out bytes.Buffer
	if err := s.Console(context.Background(), in, &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"ok inserted " + id, `"id_number":"` + id, "ok fault checksum", `error: idcardsim: unknown fault "melt"`,
		"error: count", "ok faults cleared", "ok removed", "ok\n  " + id, `error: unknown command "bogus"`, "commands:", "truncated", "ok unplugged", "ok device: /dev/pts/"} {
		if !strings.Contains(got, want) {
			t.Errorf("console output lacks %q:\n%s", want, got)
		}
	}
}

func TestRemoveDuringRead(t *testing.T) {
	s, err := Start(deck.Generate(1, 5), Options{Timing: Timing{Read: 300 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h := dial(t, s.Path())
	s.Insert(s.Deck().Residents[0].IDNumber)
	h.do(sam.OpFindCard)
	h.do(sam.OpSelectCard)
	time.AfterFunc(100*time.Millisecond, s.Remove)
	if r := h.do(sam.OpReadText); r.Status != sam.StatusReadFailed {
		t.Fatalf("card removed during the read: %v", r.Status)
	}
}

func TestServeHTTPLoopbackOnly(t *testing.T) {
	s := New(nil, Options{})
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:80", "nonsense"} {
		if err := s.ServeHTTP(context.Background(), addr, nil); err == nil {
			t.Errorf("ServeHTTP(%q) accepted", addr)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- s.ServeHTTP(ctx, "127.0.0.1:0", func(a string) { got <- a }) }()
	addr := <-got
	resp, err := http.Get("http://" + addr + "/state")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
