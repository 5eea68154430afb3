package sam

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/qingshan-gov/veinkiosk/identity"
)

// Seeds: every golden frame, the sample cards' frames, and broken variants.
func seedFrames(f *testing.F) [][]byte {
	var out [][]byte
	for _, g := range goldenCommands {
		out = append(out, unhex(f, g.frame))
	}
	for _, g := range goldenResponses {
		out = append(out, unhex(f, g.frame))
	}
	for _, c := range []*identity.Card{residentCard, foreignCard, permitCard} {
		cc := *c
		cc.Photo = photo(3)
		data, err := EncodeCard(&cc, OpReadText)
		if err != nil {
			f.Fatal(err)
		}
		fr, _ := Response{Status: StatusOK, Data: data}.Append(nil)
		out = append(out, fr)
	}
	out = append(out,
		unhex(f, "AA AA AA 96 69 00 04 00 00 80 85"),
		unhex(f, "AA AA AA 96 69 FF FF 00"),
		unhex(f, "00 AA AA AA 96 69 00 04 00 00 80 84 AA AA"),
		nil,
	)
	return out
}

func FuzzDecodeCommand(f *testing.F) {
	for _, s := range seedFrames(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		c, err := DecodeCommand(frame)
		if err != nil {
			return
		}
		back, err := c.Append(nil)
		if err != nil || !bytes.Equal(back, frame) {
			t.Fatalf("re-encode % X (%v) != % X", back, err, frame)
		}
	})
}

func FuzzDecodeResponse(f *testing.F) {
	for _, s := range seedFrames(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		r, err := DecodeResponse(frame)
		if err != nil {
			if !errors.Is(err, ErrPreamble) && !IsFrameError(err) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		back, err := r.Append(nil)
		if err != nil || !bytes.Equal(back, frame) {
			t.Fatalf("re-encode % X (%v) != % X", back, err, frame)
		}
		_ = r.Err() // must not panic for any status
	})
}

func FuzzFrameReader(f *testing.F) {
	seeds := seedFrames(f)
	for _, s := range seeds {
		f.Add(s)
	}
	f.Add(bytes.Join(seeds, []byte{0x55}))
	f.Fuzz(func(t *testing.T, stream []byte) {
		fr := NewFrameReader(bytes.NewReader(stream), 0)
		total := 0
		for i := 0; ; i++ {
			if i > len(stream)+2 {
				t.Fatal("FrameReader does not terminate")
			}
			frame, err := fr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				if !IsFrameError(err) {
					t.Fatalf("unexpected error %v", err)
				}
				continue
			}
			if _, err := SplitFrame(frame); err != nil {
				t.Fatalf("returned a bad frame % X: %v", frame, err)
			}
			total += len(frame)
		}
		if int64(total)+fr.Discarded() != int64(len(stream)) {
			t.Fatalf("frames %d + discarded %d != input %d", total, fr.Discarded(), len(stream))
		}
	})
}

func FuzzDecodeText(f *testing.F) {
	for _, c := range []*identity.Card{residentCard, foreignCard, permitCard} {
		text, err := EncodeText(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(text)
	}
	f.Add(make([]byte, TextLen))
	f.Add(bytes.Repeat([]byte{0x20, 0x00}, TextLen/2))
	f.Fuzz(func(t *testing.T, text []byte) {
		c, err := DecodeText(text)
		if err != nil {
			return
		}
		again, err := EncodeText(c)
		if err != nil {
			t.Fatalf("decoded card does not encode: %v\n%+v", err, c)
		}
		c2, err := DecodeText(again)
		if err != nil {
			t.Fatalf("re-encoded text does not decode: %v", err)
		}
		if !reflect.DeepEqual(c, c2) {
			t.Fatalf("round trip changed the card:\n%+v\n%+v", c, c2)
		}
		_ = c.Validate(c.From.Time()) // must not panic
		if strings.ContainsRune(c.Name, 0) && strings.HasSuffix(c.Name, "\x00") {
			t.Fatal("padding kept in name")
		}
	})
}

func FuzzDecodeReadData(f *testing.F) {
	for _, s := range seedFrames(f) {
		if r, err := DecodeResponse(s); err == nil {
			f.Add(true, r.Data)
			f.Add(false, r.Data)
		}
	}
	f.Fuzz(func(t *testing.T, finger bool, data []byte) {
		op := OpReadText
		if finger {
			op = OpReadTextFinger
		}
		rd, err := DecodeReadData(op, data)
		if err != nil {
			return
		}
		back, err := rd.Append(nil, op)
		if err != nil || !bytes.Equal(back, data) {
			t.Fatalf("re-encode differs (%v)", err)
		}
		_, _ = DecodeCard(op, data)
	})
}

func FuzzDecodeAddress(f *testing.F) {
	f.Add([]byte{0x85, 0x51, 0x92, 0x84, 0x20, 0x00})
	f.Add([]byte{0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeAddress(data)
		if err != nil {
			return
		}
		if strings.HasSuffix(s, " ") || strings.HasSuffix(s, "\x00") {
			t.Fatalf("padding kept: %q", s)
		}
	})
}

func FuzzDecodeSAMID(f *testing.F) {
	f.Add(make([]byte, 16))
	f.Add([]byte{0xFF})
	f.Fuzz(func(t *testing.T, data []byte) {
		id, err := DecodeSAMID(data)
		if err == nil && !bytes.Equal(id[:], data) {
			t.Fatal("SAM id differs from the data")
		}
		_ = id.String()
	})
}
