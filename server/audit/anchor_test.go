package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// anchorKey is a fixed test key (seed 1, 2, 3, ...).
func anchorKey() ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i + 1)
	}
	return ed25519.NewKeyFromSeed(seed)
}

// fixedClock returns t0, t0+1m, t0+2m, ...
func fixedClock() func() time.Time {
	n := 0
	return func() time.Time { n++; return t0.Add(time.Duration(n) * time.Minute) }
}

func newTestAnchorer(t *testing.T, m *memory, replica, path string) *Anchorer {
	t.Helper()
	a, err := NewAnchorer(m, anchorKey(), replica, path, fixedClock())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func mustAnchor(t *testing.T, a *Anchorer) Anchor {
	t.Helper()
	an, err := a.Anchor(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return an
}

func readFile(t *testing.T, path string) ([]Anchor, error) {
	t.Helper()
	return ReadAnchorFiles(anchorKey().Public().(ed25519.PublicKey), path)
}

func TestAnchorLineRoundTrip(t *testing.T) {
	a := Anchor{Replica: "centrald-1", Seq: 42, Records: 42, Time: t0.Add(1234567 * time.Nanosecond)}
	a.Hash[0], a.Prev[31] = 0xab, 0xcd
	if err := a.Sign(anchorKey()); err != nil {
		t.Fatal(err)
	}
	line, err := a.MarshalLine()
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseAnchorLine(line)
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	if err := b.Check(anchorKey().Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	if b.Digest() != a.Digest() || b.Time != t0.Add(1234*time.Microsecond) {
		t.Errorf("decoded %+v, signed %+v", b, a)
	}
	golden := `{"v":1,"replica":"centrald-1","seq":42,"hash":"ab00000000000000000000000000000000000000000000000000000000000000","records":42,"time":"2026-03-01T08:00:00.001234Z","prev":"00000000000000000000000000000000000000000000000000000000000000cd","sig":"`
	if !strings.HasPrefix(string(line), golden) {
		t.Errorf("line format changed:\n%s\nwant prefix\n%s", line, golden)
	}
}

// TestParseAnchorLineRefuses: every malformed line is refused with a reason.
func TestParseAnchorLineRefuses(t *testing.T) {
	a := Anchor{Replica: "r1", Seq: 3, Records: 3, Time: t0}
	if err := a.Sign(anchorKey()); err != nil {
		t.Fatal(err)
	}
	good, _ := a.MarshalLine()
	edit := func(old, new string) string { return strings.Replace(string(good), old, new, 1) }
	cases := map[string]string{
		"empty":           "",
		"not json":        "seq=3",
		"array":           "[1]",
		"unknown field":   edit(`{"v":1,`, `{"v":1,"x":1,`),
		"missing field":   edit(`"records":3,`, ``),
		"version":         edit(`"v":1`, `"v":2`),
		"bad replica":     edit(`"replica":"r1"`, `"replica":"r 1"`),
		"negative seq":    edit(`"seq":3`, `"seq":-3`),
		"records > seq":   edit(`"records":3`, `"records":4`),
		"short hash":      edit(`"hash":"00`, `"hash":"`),
		"time zone":       edit(`08:00:00.000000Z`, `08:00:00.000000+08:00`),
		"short signature": edit(`"sig":"`, `"sig":"AAAA`),
		"trailing data":   string(good) + `{}`,
		"too long":        string(good) + strings.Repeat(" ", MaxAnchorLine),
	}
	for name, line := range cases {
		if _, err := ParseAnchorLine([]byte(line)); err == nil {
			t.Errorf("%s: %q accepted", name, line)
		}
	}
	if _, err := ParseAnchorLine(good); err != nil {
		t.Errorf("the good line: %v", err)
	}
}

// TestAnchorerWritesVerifiableFile: anchors appended by the Anchorer read
// back, verify and link; a new Anchorer over the same file continues its
// replica's links; two replicas share a file.
func TestAnchorerWritesVerifiableFile(t *testing.T) {
	m := chain(t, 3)
	path := filepath.Join(t.TempDir(), "anchors.jsonl")
	a := newTestAnchorer(t, m, "r1", path)
	mustAnchor(t, a)
	m.append(t, Event{Time: t0, Actor: System("t"), Action: "x.y"})
	mustAnchor(t, a)
	b := newTestAnchorer(t, m, "r2", path)
	mustAnchor(t, b)
	again := newTestAnchorer(t, m, "r1", path) // a restart of r1
	mustAnchor(t, again)
	as, err := readFile(t, path)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 4 || as[0].Seq != 3 || as[1].Seq != 4 || as[3].Replica != "r1" || as[3].Prev != as[1].Digest() {
		t.Fatalf("anchors %+v", as)
	}
	if as[2].Prev != (Hash{}) || as[0].Where != path+":1" {
		t.Errorf("r2's first anchor links to %s; where %q", as[2].Prev, as[0].Where)
	}
	if _, err := Verify(context.Background(), m, VerifyOptions{Signed: as}); err != nil {
		t.Errorf("the honest chain against its anchors: %v", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Fatal(err)
	}
}

// TestAnchorsCatchRewrite: a chain rewritten from some record on, hashes
// and head recomputed, passes Verify alone and fails against the anchors,
// naming the first anchor it contradicts; a truncated chain too.
func TestAnchorsCatchRewrite(t *testing.T) {
	m := chain(t, 10)
	path := filepath.Join(t.TempDir(), "anchors")
	an := newTestAnchorer(t, m, "r1", path)
	for i := 0; i < 5; i++ { // anchors at 10, 11, ..., 14
		mustAnchor(t, an)
		m.append(t, Event{Time: t0, Actor: System("t"), Action: "x.y"})
	}
	as, err := readFile(t, path)
	if err != nil {
		t.Fatal(err)
	}
	rewrite := func(from int) *memory {
		rw := &memory{recs: append([]Record(nil), m.recs[:from-1]...), headSeq: int64(from - 1), head: m.recs[from-2].Hash}
		for _, r := range m.recs[from-1:] {
			e := r.Event
			e.Details = map[string]string{"to": "accepted"}
			rw.append(t, e)
		}
		return rw
	}
	cases := []struct {
		name    string
		chain   *memory
		wantSeq int64
		want    string
	}{
		{"rewrite from 4", rewrite(4), 10, path + ":1 "},
		{"rewrite from 12", rewrite(12), 12, path + ":3 "},
		{"truncate to 11", &memory{recs: m.recs[:11], headSeq: 11, head: m.recs[10].Hash}, 12, "truncated"},
	}
	for _, tc := range cases {
		if _, err := Verify(context.Background(), tc.chain, VerifyOptions{}); err != nil {
			t.Fatalf("%s: the attack does not even pass plain Verify: %v", tc.name, err)
		}
		_, err := Verify(context.Background(), tc.chain, VerifyOptions{Signed: as, PageSize: 4})
		var ce *ChainError
		if !errors.As(err, &ce) || ce.Seq != tc.wantSeq || !strings.Contains(ce.Problem, tc.want) {
			t.Errorf("%s: %v; want record %d and %q", tc.name, err, tc.wantSeq, tc.want)
		}
	}
	// What anchors cannot see: a rewrite after the newest anchor (14).
	if _, err := Verify(context.Background(), rewrite(15), VerifyOptions{Signed: as}); err != nil {
		t.Errorf("a rewrite past the newest anchor is not expected to be seen, got %v", err)
	}
}

// TestAnchorFileAttacks: forged, edited and removed lines and an old copy
// of the file put back.
func TestAnchorFileAttacks(t *testing.T) {
	m := chain(t, 4)
	dir := t.TempDir()
	path := filepath.Join(dir, "anchors")
	an := newTestAnchorer(t, m, "r1", path)
	for i := 0; i < 3; i++ {
		mustAnchor(t, an)
		m.append(t, Event{Time: t0, Actor: System("t"), Action: "x.y"})
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(good), "\n")
	lines = lines[:len(lines)-1] // the empty string after the last newline
	otherKey := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
	forged := Anchor{Replica: "r1", Seq: 6, Records: 6, Time: t0, Hash: m.recs[5].Hash}
	if err := forged.Sign(otherKey); err != nil {
		t.Fatal(err)
	}
	fl, _ := forged.MarshalLine()
	edited := strings.Replace(lines[1], `"seq":5,`, `"seq":6,`, 1)
	cases := []struct {
		name, content, want string
	}{
		{"forged line (another key)", lines[0] + string(fl) + "\n" + lines[2], ":2: signature does not verify"},
		{"edited line", lines[0] + edited + lines[2], ":2: signature does not verify"},
		{"garbage line", lines[0] + "hello\n" + lines[2], ":2: not a JSON object"},
		{"line removed", lines[0] + lines[2], ":2: does not follow the previous anchor"},
	}
	for _, tc := range cases {
		p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
		if err := os.WriteFile(p, []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ReadAnchorFiles(anchorKey().Public().(ed25519.PublicKey), p)
		if !errors.Is(err, ErrAnchor) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	// An unterminated last line (an append in progress) is skipped.
	p := filepath.Join(dir, "torn")
	if err := os.WriteFile(p, []byte(lines[0]+lines[1][:40]), 0o644); err != nil {
		t.Fatal(err)
	}
	if as, err := ReadAnchorFiles(anchorKey().Public().(ed25519.PublicKey), p); err != nil || len(as) != 1 {
		t.Errorf("torn last line: %d anchors, %v", len(as), err)
	}

	// An old copy put back: the replica's next anchor does not follow the
	// copy's last line.
	old := lines[0]
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	as, err := readFile(t, path)
	if err != nil {
		t.Fatalf("the old copy alone reads fine: %v", err)
	}
	// ... but it is old.
	if err := CheckAnchorAge(as, t0.Add(time.Hour), 10*time.Minute); !errors.Is(err, ErrAnchorStale) {
		t.Errorf("an hour-old file with a 10m limit: %v", err)
	}
	if err := CheckAnchorAge(as, as[0].Time.Add(time.Minute), 10*time.Minute); err != nil {
		t.Errorf("a fresh file: %v", err)
	}
	mustAnchor(t, an)
	if _, err := readFile(t, path); !errors.Is(err, ErrAnchor) || !strings.Contains(err.Error(), ":2: does not follow") {
		t.Errorf("the old copy and the next anchor: %v", err)
	}
	// A rotated file (moved away): the new file's first anchor links to
	// the rotated one's last, and the two read in order link.
	rot := filepath.Join(dir, "rotated")
	if err := os.Rename(path, rot); err != nil {
		t.Fatal(err)
	}
	mustAnchor(t, an)
	if _, err := readFile(t, path); err != nil {
		t.Errorf("the new file after rotation: %v", err)
	}
}

// TestAnchorKeyFiles: generated keys load; a private key readable by
// others is refused.
func TestAnchorKeyFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "anchor.key")
	pub, err := GenerateAnchorKey(path)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := LoadAnchorKey(path)
	if err != nil {
		t.Fatal(err)
	}
	pub2, err := LoadAnchorPublicKey(path + ".pub")
	if err != nil || !pub.Equal(pub2) || !pub.Equal(priv.Public()) {
		t.Fatalf("public keys differ: %v", err)
	}
	if _, err := GenerateAnchorKey(path); err == nil {
		t.Error("an existing key was overwritten")
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadAnchorKey(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a group-readable anchor key: %v", err)
	}
	if _, err := LoadAnchorPublicKey(path); err == nil {
		t.Error("a private key file loaded as the public key")
	}
}

// FuzzParseAnchorLine: no line panics the decoder, and what it accepts
// re-encodes to a line that decodes to the same anchor.
func FuzzParseAnchorLine(f *testing.F) {
	a := Anchor{Replica: "centrald-1", Seq: 7, Records: 7, Time: t0}
	if err := a.Sign(anchorKey()); err != nil {
		f.Fatal(err)
	}
	good, _ := a.MarshalLine()
	f.Add(good)
	f.Add([]byte(`{"v":1}`))
	f.Add([]byte(`{}`))
	f.Add([]byte("\n"))
	f.Fuzz(func(t *testing.T, line []byte) {
		a, err := ParseAnchorLine(line)
		if err != nil {
			return
		}
		out, err := a.MarshalLine()
		if err != nil {
			t.Fatalf("accepted %q but cannot encode it: %v", line, err)
		}
		b, err := ParseAnchorLine(out)
		if err != nil {
			t.Fatalf("re-encoded %q does not decode: %v", out, err)
		}
		if a.Digest() != b.Digest() || a.Replica != b.Replica || a.Seq != b.Seq {
			t.Fatalf("round trip changed %q into %q", line, out)
		}
		_ = a.Check(anchorKey().Public().(ed25519.PublicKey))
	})
}
