package kiosk_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/kiosk"
	"github.com/qingshan-gov/veinkiosk/kiosk/kiosktest"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func getView(t *testing.T, base string) kiosk.View {
	t.Helper()
	resp, err := http.Get(base + "/view")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v kiosk.View
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func waitPhase(t *testing.T, base, phase string) kiosk.View {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v := getView(t, base)
		if v.Phase == phase {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("phase %s (problem %q hint %q), want %s", v.Phase, v.Problem, v.Hint, phase)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func touch(t *testing.T, base, body string) int {
	t.Helper()
	resp, err := http.Post(base+"/touch", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestJourneyLeavesNoPersonalDataInLogs runs a filing over the daemon's HTTP
// endpoints and checks the logs, the metrics and the touch endpoint's
// defences.
func TestJourneyLeavesNoPersonalDataInLogs(t *testing.T) {
	logs := &syncBuffer{}
	r := newRigLog(t, logs)
	waitPhase(t, r.url, "idle")
	r.reader.Insert(zhang)
	waitPhase(t, r.url, "place_finger")
	r.scanner.Place(kiosktest.Finger{Person: "zhang", Quality: 90})
	waitPhase(t, r.url, "menu")
	touch(t, r.url, `{"action":"choose","arg":"dibao_renewal"}`)
	v := waitPhase(t, r.url, "form")
	for _, f := range v.Form.Fields {
		if f.Value == zhang.IDNumber {
			t.Errorf("the form shows the full ID number in field %s", f.Key)
		}
	}
	touch(t, r.url, `{"action":"confirm"}`)
	v = waitPhase(t, r.url, "receipt")
	if v.Receipt == nil || v.Receipt.Reference == "" {
		t.Fatal("no reference on the receipt")
	}
	r.reader.Remove()
	waitPhase(t, r.url, "idle")

	out := logs.String()
	if !strings.Contains(out, `"phase"`) || !strings.Contains(out, v.Receipt.Reference) {
		t.Fatalf("the log lacks the journey:\n%s", out)
	}
	for _, secret := range []string{zhang.Name, zhang.IDNumber, zhang.IDNumber[len(zhang.IDNumber)-4:] + `"`, zhang.Address, "tok-"} {
		if strings.Contains(out, secret) {
			t.Errorf("the log contains %q:\n%s", secret, out)
		}
	}

	resp, err := http.Get(r.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`veinkiosk_filings_total{outcome="filed"} 1`, `veinkiosk_device_up{device="reader"} 1`, `veinkiosk_server_up 1`, `veinkiosk_captures_total{outcome="ok",purpose="verify"} 1`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(string(b), zhang.Name) {
		t.Error("/metrics carries personal data")
	}

	// The touch endpoint refuses other origins, other media types and junk.
	req, _ := http.NewRequest(http.MethodPost, r.url+"/touch", strings.NewReader(`{"action":"staff"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "http://evil.example")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin touch: %v %v", resp.StatusCode, err)
	}
	if resp, _ := http.Post(r.url+"/touch", "text/plain", strings.NewReader(`{"action":"staff"}`)); resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain touch: %d", resp.StatusCode)
	}
	for _, bad := range []string{`{`, `{"action":""}`, `{"action":"x","extra":1}`, `{"action":"` + strings.Repeat("a", 40) + `"}`, strings.Repeat(" ", 9000) + `{}`} {
		if code := touch(t, r.url, bad); code != http.StatusBadRequest && code != http.StatusRequestEntityTooLarge {
			t.Errorf("touch %.30q: %d", bad, code)
		}
	}
}

// TestStaffLogoutEndsTheServerSession: when staff mode ends at the kiosk,
// the daemon ends the staff session at the server too (the server's idle
// time-out is only the backstop).
func TestStaffLogoutEndsTheServerSession(t *testing.T) {
	r := newRig(t)
	waitPhase(t, r.url, "idle")
	touch(t, r.url, `{"action":"staff"}`)
	waitPhase(t, r.url, "staff_login")
	touch(t, r.url, `{"action":"login","values":{"user":"liu","pin":"246813"}}`)
	waitPhase(t, r.url, "staff_menu")
	if got := r.server.LoggedOutTokens(); len(got) != 0 {
		t.Fatalf("logged out before the logout: %v", got)
	}
	touch(t, r.url, `{"action":"logout"}`)
	waitPhase(t, r.url, "idle")
	deadline := time.Now().Add(10 * time.Second)
	for len(r.server.LoggedOutTokens()) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the staff session was not ended at the server")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
