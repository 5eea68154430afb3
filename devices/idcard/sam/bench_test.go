package sam

import (
	"bytes"
	"testing"
)

func readFrame(b *testing.B, op Op) []byte {
	c := *residentCard
	c.Photo, c.Fingerprint = photo(1), photo(2)
	data, err := EncodeCard(&c, op)
	if err != nil {
		b.Fatal(err)
	}
	f, err := Response{Status: StatusOK, Data: data}.Append(nil)
	if err != nil {
		b.Fatal(err)
	}
	return f
}

// BenchmarkReadAnswer: frame reader, response and card decoding of a 30 10
// answer, as the driver does per card.
func BenchmarkReadAnswer(b *testing.B) {
	f := readFrame(b, OpReadTextFinger)
	b.SetBytes(int64(len(f)))
	r := bytes.NewReader(f)
	for b.Loop() {
		r.Reset(f)
		frame, err := NewFrameReader(r, 0).Next()
		if err != nil {
			b.Fatal(err)
		}
		resp, err := DecodeResponse(frame)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := DecodeCard(OpReadTextFinger, resp.Data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeAnswer: what the simulator does per read.
func BenchmarkEncodeAnswer(b *testing.B) {
	c := *residentCard
	c.Photo, c.Fingerprint = photo(1), photo(2)
	for b.Loop() {
		data, err := EncodeCard(&c, OpReadTextFinger)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := (Response{Status: StatusOK, Data: data}).Append(nil); err != nil {
			b.Fatal(err)
		}
	}
}
