package conformance

import (
	"context"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"strings"
	"testing"
	"time"
)

func TestRequirementsWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Requirements() {
		if r.ID == "" || r.Title == "" || r.run == nil || strings.Contains(r.ID, " ") {
			t.Errorf("bad requirement %+v", r)
		}
		if seen[r.ID] {
			t.Errorf("duplicate id %s", r.ID)
		}
		seen[r.ID] = true
	}
}

// mute is a device that never answers.
type mute struct{}

func (mute) Write(ctx context.Context, p []byte) error { return nil }
func (mute) Read(ctx context.Context, p []byte) (int, error) {
	<-ctx.Done()
	return 0, ctx.Err()
}
func (mute) Close() error { return nil }

func TestSilentDevice(t *testing.T) {
	rs := Run(context.Background(), mute{}, Options{CommandLimit: 10 * time.Millisecond})
	if len(rs) != len(Requirements()) || !Failed(rs) {
		t.Fatalf("results %v", rs)
	}
	r, ok := Find(rs, "framing.info")
	if !ok || r.Status != Fail || !strings.Contains(r.Detail, "no response") {
		t.Fatalf("framing.info: %v", r)
	}
	for _, r := range rs[1:] {
		if r.Status == Pass {
			t.Errorf("%v passes on a silent device", r)
		}
	}
	if s := r.String(); !strings.HasPrefix(s, "FAIL framing.info") {
		t.Errorf("String() = %q", s)
	}
}

// TestPromptSaysHowLong: the operator is told how long the kit waits.
func TestPromptSaysHowLong(t *testing.T) {
	var b strings.Builder
	p := Prompt{W: &b, Wait: 30 * time.Second}
	p.Remove(context.Background())
	p.Place(context.Background())
	if n := strings.Count(b.String(), "within 30s"); n != 2 {
		t.Fatalf("prompts %q", b.String())
	}
}

// TestServerImageLimit: the kit checks the limit the server applies.
func TestServerImageLimit(t *testing.T) {
	if MaxServerImagePixels != apiv1.MaxImagePixels {
		t.Fatalf("MaxServerImagePixels %d, apiv1.MaxImagePixels %d", MaxServerImagePixels, apiv1.MaxImagePixels)
	}
}
