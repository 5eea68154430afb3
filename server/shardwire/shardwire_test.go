package shardwire

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"
)

func sampleRequest() Request {
	return Request{ID: 77, Partition: 3, K: 5, Preselect: 512, Reps: true, CoarseFraction: 0.25, Probe: []byte("VT..template..")}
}

func sampleReply() Reply {
	return Reply{ID: 77, Partition: 3, Applied: 1234, Templates: 3000, Groups: 1000, Preselect: 512,
		Ranking: []Ranked{{0.31, 2}, {0.2, 700}},
		Cands:   []Candidate{{Subject: "1042", Finger: 2, Score: 0.4, Coarse: 0.31}, {Subject: "77", Finger: 7, Score: 0.1, Coarse: 0.2}}}
}

func TestRoundTrip(t *testing.T) {
	q := sampleRequest()
	b, err := q.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var q2 Request
	if err := q2.UnmarshalBinary(b); err != nil || !reflect.DeepEqual(q, q2) {
		t.Fatalf("%+v %v", q2, err)
	}
	for _, r := range []Reply{sampleReply(), {ID: 1, Partition: 0, Applied: 9, Err: "gallery loading"}, {}} {
		b, err := r.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var r2 Reply
		if err := r2.UnmarshalBinary(b); err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("%+v -> %+v %v", r, r2, err)
		}
	}
}

// TestRejects: every kind of bad message is refused with ErrFormat, on
// encoding and on decoding.
func TestRejects(t *testing.T) {
	reqs := map[string]func(*Request){
		"k 0":          func(r *Request) { r.K = 0 },
		"k too big":    func(r *Request) { r.K = MaxK + 1 },
		"no probe":     func(r *Request) { r.Probe = nil },
		"big probe":    func(r *Request) { r.Probe = make([]byte, MaxProbe+1) },
		"NaN fraction": func(r *Request) { r.CoarseFraction = math.NaN() },
		"partition":    func(r *Request) { r.Partition = -1 },
	}
	for name, mut := range reqs {
		r := sampleRequest()
		mut(&r)
		if _, err := r.MarshalBinary(); !errors.Is(err, ErrFormat) {
			t.Errorf("request %s: %v", name, err)
		}
	}
	reps := map[string]func(*Reply){
		"error with results": func(r *Reply) { r.Err = "x" },
		"unsorted ranking":   func(r *Reply) { r.Ranking[0], r.Ranking[1] = r.Ranking[1], r.Ranking[0] },
		"zero count":         func(r *Reply) { r.Ranking[0].Count = 0 },
		"score above 1":      func(r *Reply) { r.Cands[0].Score = 1.5 },
		"NaN coarse":         func(r *Reply) { r.Cands[0].Coarse = math.NaN() },
		"empty subject":      func(r *Reply) { r.Cands[0].Subject = "" },
		"finger 11":          func(r *Reply) { r.Cands[0].Finger = 11 },
		"groups > templates": func(r *Reply) { r.Groups = r.Templates + 1 },
	}
	for name, mut := range reps {
		r := sampleReply()
		mut(&r)
		if _, err := r.MarshalBinary(); !errors.Is(err, ErrFormat) {
			t.Errorf("reply %s: %v", name, err)
		}
	}
	good, _ := func() ([]byte, error) { r := sampleReply(); return r.MarshalBinary() }()
	bad := map[string][]byte{
		"empty":         {},
		"request magic": append([]byte("VKQ1"), good[4:]...),
		"trailing":      append(bytes.Clone(good), 0),
		"truncated":     good[:len(good)-1],
		"long varint":   append([]byte("VKR1\x80\x00"), good[5:]...),
		"huge count":    append([]byte("VKR1"), 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f),
	}
	for name, b := range bad {
		var r Reply
		if err := r.UnmarshalBinary(b); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzRequest(f *testing.F) {
	q := sampleRequest()
	b, _ := q.MarshalBinary()
	f.Add(b)
	f.Add([]byte("VKQ1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r Request
		if r.UnmarshalBinary(data) != nil {
			return
		}
		out, err := r.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded request does not re-encode: %v", err)
		}
		if !bytes.Equal(out, data) {
			t.Fatalf("re-encoded %x, decoded %x", out, data)
		}
	})
}

func FuzzReply(f *testing.F) {
	for _, r := range []Reply{sampleReply(), {ID: 1, Err: "partition 2 is loading"}} {
		b, _ := r.MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte("VKR1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r Reply
		if r.UnmarshalBinary(data) != nil {
			return
		}
		out, err := r.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded reply does not re-encode: %v", err)
		}
		if !bytes.Equal(out, data) {
			t.Fatalf("re-encoded %x, decoded %x", out, data)
		}
	})
}
