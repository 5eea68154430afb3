package veinsim

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocumentedKeysAndStatus: docs/scanner-protocol.md ("Simulator")
// states the test maker key, its derivation and the default device key as
// the simulator makes them, every field of /status, and every fault.
func TestDocumentedKeysAndStatus(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "scanner-protocol.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	sim := doc[strings.Index(doc, "\n## Simulator"):]
	sim = sim[:strings.Index(sim, "\n## Test vectors")]
	seed := sha256.Sum256([]byte("veinkiosk veinsim TEST maker key - never trust"))
	if seed != testMakerSeed {
		t.Fatal("the maker key is no longer derived from the documented string")
	}
	dev := sha256.Sum256([]byte("veinkiosk veinsim TEST device key\x00" + DefaultSerial))
	if !ed25519.NewKeyFromSeed(dev[:]).Equal(deviceKeyFor(DefaultSerial)) {
		t.Fatal("device keys are no longer derived as documented")
	}
	for what, v := range map[string]string{
		"maker seed":         hex.EncodeToString(seed[:]),
		"maker public key":   hex.EncodeToString(TestMakerPublicKey()),
		"device public key":  hex.EncodeToString(deviceKeyFor(DefaultSerial).Public().(ed25519.PublicKey)),
		"maker ID":           DefaultMakerID,
		"default serial":     DefaultSerial,
		"maker seed string":  "veinkiosk veinsim TEST maker key - never trust",
		"device seed string": "veinkiosk veinsim TEST device key",
		"finger seed string": "veinkiosk/veinsim/finger/v1",
	} {
		if !strings.Contains(sim, v) {
			t.Errorf("the Simulator section does not state the %s %s", what, v)
		}
	}
	// every /status field, nested ones included
	d := newDevice(t)
	d.PlaceFinger(1)
	d.LiftFinger()
	js, _ := json.Marshal(d.Status())
	var m map[string]any
	json.Unmarshal(js, &m)
	m["finger"] = "" // omitted while lifted
	var names []string
	for k, v := range m {
		names = append(names, k)
		if sub, ok := v.(map[string]any); ok {
			for k := range sub {
				names = append(names, k)
			}
		}
	}
	for _, n := range names {
		if !strings.Contains(sim, "`"+n+"`") {
			t.Errorf("status field %s is not described", n)
		}
	}
	for _, f := range Faults() {
		if !strings.Contains(sim, "`"+f.String()+"`") {
			t.Errorf("fault %s is not described", f)
		}
	}
}
