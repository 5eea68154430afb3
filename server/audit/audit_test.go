package audit

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// memory is an in-memory chain for tests, as a database would hold it.
type memory struct {
	recs    []Record
	headSeq int64
	head    Hash
}

func (m *memory) append(t *testing.T, e Event) {
	t.Helper()
	r, err := Link(m.headSeq, m.head, e)
	if err != nil {
		t.Fatal(err)
	}
	m.recs = append(m.recs, r)
	m.headSeq, m.head = r.Seq, r.Hash
}

func (m *memory) ListAudit(_ context.Context, after int64, limit int) ([]Record, error) {
	var out []Record
	for _, r := range m.recs {
		if r.Seq > after && len(out) < limit {
			out = append(out, r)
		}
	}
	return out, nil
}

func (m *memory) AuditHead(context.Context) (int64, Hash, error) { return m.headSeq, m.head, nil }

var t0 = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

func chain(t *testing.T, n int) *memory {
	m := &memory{}
	for i := 0; i < n; i++ {
		m.append(t, Event{Time: t0.Add(time.Duration(i) * time.Second), Actor: Staff(int64(i % 3)), Action: "filing.transition",
			Target: "filing:" + string(rune('0'+i%10)), Details: map[string]string{"from": "submitted", "to": "in_review"}})
	}
	return m
}

func TestVerifyIntact(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 20} {
		m := chain(t, n)
		rep, err := Verify(context.Background(), m, VerifyOptions{PageSize: 3})
		if err != nil {
			t.Fatalf("%d records: %v", n, err)
		}
		if rep.Records != int64(n) || rep.LastSeq != int64(n) || rep.Head != m.head {
			t.Errorf("report %+v", rep)
		}
	}
}

// TestVerifyDetectsTampering: every kind of tampering is caught, at the
// right record.
func TestVerifyDetectsTampering(t *testing.T) {
	cases := []struct {
		name    string
		tamper  func(m *memory)
		wantSeq int64
		want    string
	}{
		{"edit action", func(m *memory) { m.recs[3].Action = "filing.create" }, 4, "edited"},
		{"edit detail", func(m *memory) { m.recs[3].Details = map[string]string{"from": "submitted", "to": "accepted"} }, 4, "edited"},
		{"add detail", func(m *memory) { m.recs[3].Details["extra"] = "x" }, 4, "edited"},
		{"edit time", func(m *memory) { m.recs[5].Time = m.recs[5].Time.Add(time.Microsecond) }, 6, "edited"},
		{"edit actor", func(m *memory) { m.recs[0].Actor = Staff(99) }, 1, "edited"},
		{"edit target", func(m *memory) { m.recs[9].Target = "filing:x" }, 10, "edited"},
		{"delete middle", func(m *memory) { m.recs = append(m.recs[:4], m.recs[5:]...) }, 6, "missing"},
		{"delete first", func(m *memory) { m.recs = m.recs[1:] }, 2, "missing"},
		{"delete last", func(m *memory) { m.recs = m.recs[:len(m.recs)-1] }, 0, "end deleted"},
		{"delete last and rewind head", func(m *memory) {
			m.recs = m.recs[:len(m.recs)-1]
			m.headSeq--
		}, 0, "end deleted"},
		{"swap two", func(m *memory) { m.recs[2], m.recs[3] = m.recs[3], m.recs[2] }, 4, "moved"},
		{"step back", func(m *memory) { m.recs[3].Seq = 2 }, 2, "reordered"},
		{"swap and renumber", func(m *memory) {
			m.recs[2], m.recs[3] = m.recs[3], m.recs[2]
			m.recs[2].Seq, m.recs[3].Seq = 3, 4
		}, 3, "previous-hash"},
		{"edit and rehash one record", func(m *memory) {
			m.recs[3].Action = "filing.create"
			m.recs[3].Hash = Chain(m.recs[3].PrevHash, m.recs[3].Seq, m.recs[3].Event)
		}, 5, "previous-hash"},
		{"forged head", func(m *memory) { m.head[0] ^= 1 }, 0, "head"},
	}
	for _, tc := range cases {
		m := chain(t, 12)
		tc.tamper(m)
		_, err := Verify(context.Background(), m, VerifyOptions{PageSize: 5})
		var ce *ChainError
		if !errors.As(err, &ce) || !errors.Is(err, ErrBroken) {
			t.Errorf("%s: Verify = %v, want a ChainError", tc.name, err)
			continue
		}
		if ce.Seq != tc.wantSeq || !strings.Contains(ce.Problem, tc.want) {
			t.Errorf("%s: %v; want record %d and %q", tc.name, err, tc.wantSeq, tc.want)
		}
	}
}

// TestVerifyAnchors: a chain rewritten from some point on, head included,
// verifies on its own but not against an anchor taken before.
func TestVerifyAnchors(t *testing.T) {
	m := chain(t, 10)
	anchor := map[int64]Hash{6: m.recs[5].Hash}
	// Rewrite from record 4 on, recomputing every hash and the head.
	rw := &memory{recs: append([]Record(nil), m.recs[:3]...), headSeq: 3, head: m.recs[2].Hash}
	for _, r := range m.recs[3:] {
		e := r.Event
		e.Action = "filing.create"
		rw.append(t, e)
	}
	if _, err := Verify(context.Background(), rw, VerifyOptions{}); err != nil {
		t.Fatalf("rewritten chain should be self-consistent: %v", err)
	}
	if _, err := Verify(context.Background(), rw, VerifyOptions{Anchors: anchor}); !errors.Is(err, ErrBroken) {
		t.Errorf("anchor did not catch the rewrite: %v", err)
	}
	if _, err := Verify(context.Background(), m, VerifyOptions{Anchors: anchor}); err != nil {
		t.Errorf("anchor rejects the original: %v", err)
	}
}

func TestCanonicalIsUnambiguous(t *testing.T) {
	base := Event{Time: t0, Actor: Staff(1), Action: "a.b", Target: "x", Details: map[string]string{"k": "v"}}
	variants := []Event{
		{Time: t0, Actor: Staff(1), Action: "a.b", Target: "x", Details: map[string]string{"k": "v", "": ""}},
		{Time: t0, Actor: Staff(1), Action: "a.bx", Target: "", Details: map[string]string{"k": "v"}},
		{Time: t0, Actor: Staff(1), Action: "a.b", Target: "x", Details: map[string]string{"kv": ""}},
		{Time: t0, Actor: Actor{Type: ActorStaff, ID: "1a"}, Action: ".b", Target: "x", Details: map[string]string{"k": "v"}},
	}
	h := Chain(Hash{}, 1, base)
	for i, v := range variants {
		if Chain(Hash{}, 1, v) == h {
			t.Errorf("variant %d hashes like the base event", i)
		}
	}
	if Chain(Hash{}, 2, base) == h {
		t.Error("sequence number not covered by the hash")
	}
	// Map order does not matter.
	a := Event{Time: t0, Actor: Staff(1), Action: "a.b", Details: map[string]string{"a": "1", "b": "2", "c": "3"}}
	b := Event{Time: t0, Actor: Staff(1), Action: "a.b", Details: map[string]string{"c": "3", "b": "2", "a": "1"}}
	if Chain(Hash{}, 1, a) != Chain(Hash{}, 1, b) {
		t.Error("hash depends on map order")
	}
}

func TestValidate(t *testing.T) {
	ok := Event{Time: t0, Actor: Kiosk("K-0001"), Action: "verification.attempt", Target: "resident:42", Details: map[string]string{"score": "0.93"}}
	if err := Validate(ok); err != nil {
		t.Fatalf("valid event: %v", err)
	}
	bad := []struct {
		name string
		mod  func(e *Event)
		want error
	}{
		{"zero time", func(e *Event) { e.Time = time.Time{} }, ErrInvalid},
		{"unknown actor", func(e *Event) { e.Actor.Type = "user" }, ErrInvalid},
		{"empty actor id", func(e *Event) { e.Actor.ID = "" }, ErrInvalid},
		{"bad action", func(e *Event) { e.Action = "Filing Create" }, ErrInvalid},
		{"long target", func(e *Event) { e.Target = strings.Repeat("x", MaxFieldLength+1) }, ErrInvalid},
		{"ID number in target", func(e *Event) { e.Target = "resident:11010519491231002X" }, ErrPersonalData},
		{"ID number in detail", func(e *Event) { e.Details["who"] = "110105194912310021" }, ErrPersonalData},
		{"old 15-digit ID number", func(e *Event) { e.Details["who"] = "id 110105491231002" }, ErrPersonalData},
		{"ID number as key", func(e *Event) { e.Details["110105194912310021"] = "x" }, ErrPersonalData},
		{"too many details", func(e *Event) {
			for i := 0; i <= MaxDetails; i++ {
				e.Details[strings.Repeat("k", i+1)] = "v"
			}
		}, ErrInvalid},
	}
	for _, tc := range bad {
		e := ok
		e.Details = map[string]string{"score": "0.93"}
		tc.mod(&e)
		if err := Validate(e); !errors.Is(err, tc.want) {
			t.Errorf("%s: Validate = %v, want %v", tc.name, err, tc.want)
		}
	}
	// Shorter and longer digit runs are fine (counters, timestamps).
	e := ok
	e.Details = map[string]string{"counter": "12345678901234", "ts": "1767225600123456"}
	if err := Validate(e); err != nil {
		t.Errorf("ordinary numbers rejected: %v", err)
	}
}

func TestParseHash(t *testing.T) {
	m := chain(t, 1)
	h, err := ParseHash(m.head.String())
	if err != nil || h != m.head {
		t.Errorf("ParseHash round trip: %v", err)
	}
	for _, s := range []string{"", "zz", m.head.String()[:62]} {
		if _, err := ParseHash(s); err == nil {
			t.Errorf("ParseHash(%q) succeeded", s)
		}
	}
}
