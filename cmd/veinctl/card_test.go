package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/devices/conntest"
	"github.com/qingshan-gov/veinkiosk/devices/idcard/sam"
	"github.com/qingshan-gov/veinkiosk/simulators/deck"
	"github.com/qingshan-gov/veinkiosk/simulators/idcardsim"
)

// These tests run "veinctl card" (realMain, as the binary does) against the
// reader simulator over a pseudo-terminal.

func cardSim(t *testing.T) (*idcardsim.Sim, *deck.Deck) {
	t.Helper()
	d := deck.Generate(42, 30)
	sim, err := idcardsim.Start(d, idcardsim.Options{Timing: idcardsim.FastTiming()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	return sim, d
}

func veinctl(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := realMain(args, &out, &errb)
	return code, out.String(), errb.String()
}

var requiredCardKeys = []string{"card_type", "name", "gender", "gender_name", "nation_code", "nation",
	"birth_date", "address", "id_number", "authority", "valid_from", "valid_until", "photo_bytes"}

func TestCardReadJSON(t *testing.T) {
	sim, d := cardSim(t)
	at := d.AsOf
	seen := map[string]bool{}
	for _, r := range d.Residents {
		if seen[r.CardType] && r.CardType != "resident" {
			continue
		}
		seen[r.CardType] = true
		if err := sim.Insert(r.IDNumber); err != nil {
			t.Fatal(err)
		}
		code, out, errs := veinctl("card", "read", "--port", sim.Path(), "--json", "--at", at)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", r.IDNumber, code, errs)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, out)
		}
		for _, k := range requiredCardKeys {
			if _, ok := m[k]; !ok {
				t.Fatalf("key %q missing from %s", k, out)
			}
		}
		if strings.Count(strings.TrimSpace(out), "\n") != 0 {
			t.Fatalf("not one JSON object on one line: %q", out)
		}
		c, _ := r.Card()
		want := map[string]any{
			"card_type": r.CardType, "name": r.Name, "gender": r.Gender, "gender_name": c.Gender.Name(),
			"nation_code": r.Nation, "nation": c.Nation.Name(), "birth_date": r.BirthDate.String(),
			"id_number": r.IDNumber, "authority": r.Authority, "valid_from": r.ValidFrom.String(),
			"valid_until": r.ValidUntil.String(), "photo_bytes": float64(1024),
			"id_number_valid": true, "expired": c.Expired(d.AsOfTime()), "checked_on": at,
		}
		if r.CardType != "foreign_permanent" {
			want["address"] = r.Address
		}
		for k, v := range want {
			if m[k] != v {
				t.Errorf("%s: %s = %v, want %v", r.IDNumber, k, m[k], v)
			}
		}
		if c.Expired(d.AsOfTime()) && !strings.Contains(out, `"card_expired"`) {
			t.Errorf("expired card without the problem: %s", out)
		}
	}
	if len(seen) != 3 {
		t.Fatalf("card types covered: %v", seen)
	}
	// Keys of a resident card, for the record.
	sim.Insert(d.Residents[0].IDNumber)
	_, out, _ := veinctl("card", "read", "--port", sim.Path(), "--json", "--fingerprint")
	var m map[string]any
	json.Unmarshal([]byte(out), &m)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	t.Logf("keys: %v", keys)
	if m["nation"] == "" || strings.HasSuffix(m["nation"].(string), "族") {
		t.Errorf("nation %q", m["nation"])
	}
}

func TestCardReadHuman(t *testing.T) {
	sim, d := cardSim(t)
	r := d.Residents[0]
	sim.Insert(r.IDNumber)
	code, out, errs := veinctl("card", "read", "--port", sim.Path())
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"居民身份证", r.Name, r.IDNumber, "check digit OK", "1024 bytes"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

func TestCardErrors(t *testing.T) {
	sim, d := cardSim(t)
	port := sim.Path()
	oneLine := func(t *testing.T, errs, want string) {
		t.Helper()
		if !strings.Contains(errs, want) || strings.Count(errs, "\n") != 1 {
			t.Fatalf("stderr %q, want one line with %q", errs, want)
		}
	}
	code, _, errs := veinctl("card", "read", "--port", port)
	if code != 1 {
		t.Fatalf("no card: exit %d", code)
	}
	oneLine(t, errs, "no card on the reader")

	start := time.Now()
	code, _, errs = veinctl("card", "read", "--port", port, "--wait", "300ms")
	if code != 1 || time.Since(start) < 300*time.Millisecond {
		t.Fatalf("--wait with no card: exit %d after %v", code, time.Since(start))
	}
	oneLine(t, errs, "no card on the reader (waited 300ms)")

	time.AfterFunc(200*time.Millisecond, func() { sim.Insert(d.Residents[1].IDNumber) })
	if code, out, errs := veinctl("card", "read", "--port", port, "--wait", "5s", "--json"); code != 0 || !strings.Contains(out, d.Residents[1].IDNumber) {
		t.Fatalf("card put on while waiting: exit %d %s %s", code, out, errs)
	}

	sim.InjectFault(idcardsim.FaultHang, 5)
	code, _, errs = veinctl("card", "read", "--port", port, "--timeout", "200ms", "--retries", "1")
	if code != 1 {
		t.Fatalf("hung reader: exit %d", code)
	}
	oneLine(t, errs, "reader not responding")
	sim.ClearFaults()

	sim.InjectFault(idcardsim.FaultCardAuth, 1)
	code, _, errs = veinctl("card", "read", "--port", port, "-v")
	if code != 1 {
		t.Fatalf("auth fault: exit %d", code)
	}
	oneLine(t, errs, "failed to authenticate")
	if !strings.Contains(errs, "status 31") {
		t.Errorf("-v lacks the detail: %q", errs)
	}

	// Every other fault: its own one-line message, and the next read works.
	for _, tc := range []struct {
		kind  idcardsim.FaultKind
		count int
		want  string
	}{
		{idcardsim.FaultChecksum, -1, "corrupted answer from the reader"},
		{idcardsim.FaultTruncated, -1, "corrupted answer from the reader"},
		{idcardsim.FaultSAM, 1, "security module (SAM) failed"},
		{idcardsim.FaultSAMAuth, 1, "failed to authenticate"},
		{idcardsim.FaultDataVerification, 1, "failed verification"},
		{idcardsim.FaultReadFailed, 1, "reading the card failed"},
		{idcardsim.FaultNoCard, 1, "no card on the reader"},
	} {
		sim.Insert(d.Residents[1].IDNumber)
		sim.InjectFault(tc.kind, tc.count)
		code, _, errs = veinctl("card", "read", "--port", port, "--timeout", "300ms", "--retries", "1")
		if code != 1 {
			t.Fatalf("%s: exit %d", tc.kind, code)
		}
		oneLine(t, errs, tc.want)
		sim.ClearFaults()
		if code, out, errs := veinctl("card", "read", "--port", port, "--json"); code != 0 || !strings.Contains(out, d.Residents[1].IDNumber) {
			t.Fatalf("after %s: exit %d %s %s", tc.kind, code, out, errs)
		}
	}

	sim.Unplug()
	code, _, errs = veinctl("card", "read", "--port", port)
	if code != 1 {
		t.Fatalf("unplugged: exit %d", code)
	}
	oneLine(t, errs, "device disconnected")

	for _, args := range [][]string{{"card"}, {"card", "eject"}, {"card", "read"}, {"card", "read", "--port", "x", "extra"}, {"card", "read", "--port", "x", "--at", "soon"}} {
		if code, _, _ := veinctl(args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage)", args, code)
		}
	}
}

func TestCardSAMAndRecord(t *testing.T) {
	sim, d := cardSim(t)
	code, out, errs := veinctl("card", "samid", "--port", sim.Path())
	if code != 0 || !strings.HasPrefix(out, "05.01-20190315-") {
		t.Fatalf("samid: %d %q %s", code, out, errs)
	}
	if code, out, _ := veinctl("card", "samid", "--port", sim.Path(), "--json"); code != 0 || !strings.Contains(out, `"sam_id":"05.01-`) {
		t.Fatalf("samid --json: %d %q", code, out)
	}
	if code, out, _ := veinctl("card", "reset", "--port", sim.Path()); code != 0 || out != "SAM reset\n" {
		t.Fatalf("reset: %d %q", code, out)
	}
	sim.Insert(d.Residents[0].IDNumber)
	file := filepath.Join(t.TempDir(), "rec.txt")
	if code, _, errs := veinctl("card", "read", "--port", sim.Path(), "--record", file); code != 0 {
		t.Fatalf("read --record: %d %s", code, errs)
	}
	ops, err := conntest.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 6 || ops[0].Kind != conntest.Write || ops[5].Kind != conntest.Read {
		t.Fatalf("recorded %d ops: %v", len(ops), ops)
	}
	resp, err := sam.DecodeResponse(ops[5].Data)
	if err != nil || resp.Status != sam.StatusOK || len(resp.Data) != 4+256+1024 {
		t.Fatalf("recorded read answer: %v %v", resp.Status, err)
	}
	// The recording replays through the same command, without a reader.
	code, out, errs = veinctl("card", "read", "--replay", file, "--json")
	if code != 0 || !strings.Contains(out, d.Residents[0].IDNumber) || errs != "" {
		t.Fatalf("--replay: %d %q %q", code, out, errs)
	}
	// A different command sequence is reported.
	code, _, errs = veinctl("card", "read", "--replay", file, "--fingerprint", "--timeout", "50ms")
	if code == 0 || !strings.Contains(errs, "mismatch") {
		t.Fatalf("--replay with 30 10: %d %q", code, errs)
	}
}
