// Package shardwire is the wire format of 1:N searches between centrald
// and the matcher shards (docs/scaling.md): a Request carries the probe and
// the plan of the whole gallery to one partition; a Reply carries that
// partition's part of the answer (matcher.Part), with the partition and
// the change-log position its gallery had applied, or the shard's error.
// (Gallery changes reach the shards through the store's change log, not
// this wire: server/shard.LogFeed.)
//
// Both are binary: a four-byte magic ("VKQ1", "VKR1"), then fields in a
// fixed order as unsigned varints, IEEE 754 float64 bits (little endian)
// and length-prefixed byte strings. Decoding rejects trailing bytes, counts
// that the rest of the message cannot hold, and values outside their
// range, so a decoded message always re-encodes to the same bytes.
package shardwire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Limits of the format.
const (
	MaxProbe   = 1 << 16 // bytes of a probe template
	MaxSubject = 64      // bytes of a subject (a resident's internal id)
	MaxError   = 1024    // bytes of an error message
	MaxK       = 1000    // candidates asked for
)

var (
	magicRequest = [4]byte{'V', 'K', 'Q', '1'}
	magicReply   = [4]byte{'V', 'K', 'R', '1'}
)

// ErrFormat reports a message that does not decode.
var ErrFormat = errors.New("shardwire: malformed message")

// Request asks one partition for its part of a search.
type Request struct {
	ID        uint64 // chosen by the asker; echoed in the reply
	Partition int    // the partition asked
	K         int    // candidates wanted
	// The plan of the whole gallery (matcher.Plan).
	Preselect      int
	Reps           bool
	CoarseFraction float64
	Probe          []byte // the probe template (matcher format)
}

// Ranked is a preselection score and how many templates have it.
type Ranked struct {
	Score float64
	Count int
}

// Candidate is one candidate of a part.
type Candidate struct {
	Subject string
	Finger  int
	Score   float64
	Coarse  float64
}

// Reply is one partition's answer.
type Reply struct {
	ID        uint64
	Partition int
	Applied   uint64 // the change-log sequence number up to which the answering shard had applied every change (0: it follows no log)
	Err       string // the shard's error; the rest is empty when set
	Templates int
	Groups    int
	Preselect int
	Ranking   []Ranked
	Cands     []Candidate
}

// MarshalBinary encodes r.
func (r *Request) MarshalBinary() ([]byte, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 48+len(r.Probe))
	b = append(b, magicRequest[:]...)
	b = binary.AppendUvarint(b, r.ID)
	b = binary.AppendUvarint(b, uint64(r.Partition))
	b = binary.AppendUvarint(b, uint64(r.K))
	b = binary.AppendUvarint(b, uint64(r.Preselect))
	b = appendBool(b, r.Reps)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(r.CoarseFraction))
	b = appendBytes(b, r.Probe)
	return b, nil
}

func (r *Request) check() error {
	switch {
	case r.Partition < 0 || r.Partition > math.MaxInt32:
		return fmt.Errorf("%w: partition %d", ErrFormat, r.Partition)
	case r.K < 1 || r.K > MaxK:
		return fmt.Errorf("%w: k %d", ErrFormat, r.K)
	case r.Preselect < 0 || r.Preselect > math.MaxInt32:
		return fmt.Errorf("%w: preselect %d", ErrFormat, r.Preselect)
	case !(r.CoarseFraction >= 0 && r.CoarseFraction <= 1):
		return fmt.Errorf("%w: coarse fraction %v", ErrFormat, r.CoarseFraction)
	case len(r.Probe) == 0 || len(r.Probe) > MaxProbe:
		return fmt.Errorf("%w: probe of %d bytes", ErrFormat, len(r.Probe))
	}
	return nil
}

// UnmarshalBinary decodes a request.
func (r *Request) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	d.magic(magicRequest)
	var out Request
	out.ID = d.uvarint()
	out.Partition = d.int(math.MaxInt32)
	out.K = d.int(MaxK)
	out.Preselect = d.int(math.MaxInt32)
	out.Reps = d.bool()
	out.CoarseFraction = d.float()
	out.Probe = d.bytes(MaxProbe)
	if err := d.end(); err != nil {
		return err
	}
	if err := out.check(); err != nil {
		return err
	}
	*r = out
	return nil
}

// MarshalBinary encodes r.
func (r *Reply) MarshalBinary() ([]byte, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 64+12*len(r.Ranking)+40*len(r.Cands))
	b = append(b, magicReply[:]...)
	b = binary.AppendUvarint(b, r.ID)
	b = binary.AppendUvarint(b, uint64(r.Partition))
	b = binary.AppendUvarint(b, r.Applied)
	b = appendBytes(b, []byte(r.Err))
	b = binary.AppendUvarint(b, uint64(r.Templates))
	b = binary.AppendUvarint(b, uint64(r.Groups))
	b = binary.AppendUvarint(b, uint64(r.Preselect))
	b = binary.AppendUvarint(b, uint64(len(r.Ranking)))
	for _, x := range r.Ranking {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x.Score))
		b = binary.AppendUvarint(b, uint64(x.Count))
	}
	b = binary.AppendUvarint(b, uint64(len(r.Cands)))
	for _, c := range r.Cands {
		b = appendBytes(b, []byte(c.Subject))
		b = append(b, byte(c.Finger))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(c.Score))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(c.Coarse))
	}
	return b, nil
}

func score(v float64) bool { return v >= 0 && v <= 1 }

func (r *Reply) check() error {
	switch {
	case r.Partition < 0 || r.Partition > math.MaxInt32:
		return fmt.Errorf("%w: partition %d", ErrFormat, r.Partition)
	case len(r.Err) > MaxError:
		return fmt.Errorf("%w: error of %d bytes", ErrFormat, len(r.Err))
	case r.Templates < 0 || r.Groups < 0 || r.Groups > r.Templates || r.Preselect < 0 || r.Preselect > math.MaxInt32:
		return fmt.Errorf("%w: sizes %d/%d/%d", ErrFormat, r.Templates, r.Groups, r.Preselect)
	case r.Err != "" && (r.Templates != 0 || r.Groups != 0 || r.Preselect != 0 || len(r.Ranking) != 0 || len(r.Cands) != 0):
		return fmt.Errorf("%w: an error reply with results", ErrFormat)
	}
	for i, x := range r.Ranking {
		if !score(x.Score) || x.Count < 1 || (i > 0 && x.Score >= r.Ranking[i-1].Score) {
			return fmt.Errorf("%w: ranking entry %d", ErrFormat, i)
		}
	}
	for i, c := range r.Cands {
		if c.Subject == "" || len(c.Subject) > MaxSubject || c.Finger < 0 || c.Finger > 10 || !score(c.Score) || !score(c.Coarse) {
			return fmt.Errorf("%w: candidate %d", ErrFormat, i)
		}
	}
	return nil
}

// UnmarshalBinary decodes a reply.
func (r *Reply) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	d.magic(magicReply)
	var out Reply
	out.ID = d.uvarint()
	out.Partition = d.int(math.MaxInt32)
	out.Applied = d.uvarint()
	out.Err = string(d.bytes(MaxError))
	out.Templates = d.int(math.MaxInt)
	out.Groups = d.int(math.MaxInt)
	out.Preselect = d.int(math.MaxInt32)
	if n := d.count(9); n > 0 {
		out.Ranking = make([]Ranked, n)
		for i := range out.Ranking {
			out.Ranking[i].Score = d.float()
			out.Ranking[i].Count = d.int(math.MaxInt)
		}
	}
	if n := d.count(19); n > 0 {
		out.Cands = make([]Candidate, n)
		for i := range out.Cands {
			c := &out.Cands[i]
			c.Subject = string(d.bytes(MaxSubject))
			c.Finger = int(d.byte())
			c.Score = d.float()
			c.Coarse = d.float()
		}
	}
	if err := d.end(); err != nil {
		return err
	}
	if err := out.check(); err != nil {
		return err
	}
	*r = out
	return nil
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads fields, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrFormat, what)
	}
	d.b = nil
}

func (d *decoder) magic(m [4]byte) {
	if len(d.b) < 4 || [4]byte(d.b[:4]) != m {
		d.fail("magic")
		return
	}
	d.b = d.b[4:]
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	// Only the shortest encoding, so that decoding then encoding is the
	// identity.
	if n <= 0 || n != len(binary.AppendUvarint(nil, v)) {
		d.fail("varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) int(limit int) int {
	v := d.uvarint()
	if v > uint64(limit) {
		d.fail("value out of range")
		return 0
	}
	return int(v)
}

// count reads a number of items of at least minSize bytes each.
func (d *decoder) count(minSize int) int {
	n := d.uvarint()
	if n > uint64(len(d.b)/minSize) {
		d.fail("count")
		return 0
	}
	return int(n)
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 1 {
		d.fail("short")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) bool() bool {
	switch d.byte() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail("bool")
	return false
}

func (d *decoder) float() float64 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 8 {
		d.fail("short")
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	return v
}

func (d *decoder) bytes(limit int) []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(limit) || n > uint64(len(d.b)) {
		d.fail("length")
		return nil
	}
	v := append([]byte(nil), d.b[:n]...)
	d.b = d.b[n:]
	return v
}

func (d *decoder) end() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	return d.err
}
