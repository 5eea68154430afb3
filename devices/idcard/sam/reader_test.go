package sam

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func frames(t testing.TB, hexes ...string) [][]byte {
	var out [][]byte
	for _, h := range hexes {
		out = append(out, unhex(t, h))
	}
	return out
}

type step struct {
	frame []byte
	err   error
}

func readAll(fr *FrameReader) []step {
	var out []step
	for i := 0; i < 100; i++ {
		f, err := fr.Next()
		out = append(out, step{f, err})
		if err != nil && !IsFrameError(err) {
			break
		}
	}
	return out
}

func TestFrameReaderResync(t *testing.T) {
	fs := frames(t,
		"AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97",
		"AA AA AA 96 69 00 04 00 00 80 84",
		"AA AA AA 96 69 00 0C 00 00 90 00 00 00 00 00 00 00 00 9C",
	)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	garbage := []byte{0x00, 0xFF, 0xAA, 0xAA, 0x96, 0xAA, 0xAA, 0xAA, 0x96, 0x13}
	badChk := bytes.Clone(fs[0])
	badChk[len(badChk)-1] ^= 0x01
	absurd := unhex(t, "AA AA AA 96 69 7F FF 00 00 90")
	truncated := fs[2][:12]

	for _, tc := range []struct {
		name    string
		in      []byte
		want    []error // nil entries are frames, in order of fs use
		frames  [][]byte
		discard int64
	}{
		{"clean", cat(fs[0], fs[1], fs[2]), []error{nil, nil, nil, io.EOF}, fs, 0},
		{"garbage first", cat(garbage, fs[1]), []error{nil, io.EOF}, fs[1:], int64(len(garbage))},
		{"bad checksum then good", cat(badChk, fs[1]), []error{ErrChecksum, nil, io.EOF}, fs[1:], int64(len(badChk))},
		{"absurd LEN then good", cat(absurd, fs[1]), []error{ErrLength, nil, io.EOF}, fs[1:], int64(len(absurd))},
		// A frame cut short is followed by a good one; the reader first
		// takes the next frame as the cut frame's tail, sees the checksum
		// fail, and rescans.
		{"truncated then good", cat(truncated, fs[0], fs[1]), []error{ErrChecksum, nil, nil, io.EOF}, fs[:2], int64(len(truncated))},
		{"truncated at end", cat(fs[1], truncated), []error{nil, ErrTruncated, io.EOF}, fs[1:2], int64(len(truncated))},
		{"partial preamble at end", cat(fs[1], []byte{0xAA, 0xAA}), []error{nil, io.EOF}, fs[1:2], 2},
	} {
		for _, mode := range []string{"whole", "bytewise"} {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				var r io.Reader = bytes.NewReader(tc.in)
				if mode == "bytewise" {
					r = iotest.OneByteReader(r)
				}
				fr := NewFrameReader(r, 0)
				got := readAll(fr)
				if len(got) != len(tc.want) {
					t.Fatalf("got %d results %v, want %d", len(got), got, len(tc.want))
				}
				fi := 0
				for i, w := range tc.want {
					if w == nil {
						if got[i].err != nil || !bytes.Equal(got[i].frame, tc.frames[fi]) {
							t.Fatalf("result %d = % X, %v; want frame % X", i, got[i].frame, got[i].err, tc.frames[fi])
						}
						fi++
					} else if !errors.Is(got[i].err, w) {
						t.Fatalf("result %d = %v, want %v", i, got[i].err, w)
					}
				}
				// Bytes skipped, the final EOF drop included.
				if fr.Discarded() < tc.discard {
					t.Errorf("discarded %d bytes, want at least %d", fr.Discarded(), tc.discard)
				}
			})
		}
	}
}

// timeoutReader returns its chunks one per Read, with errTimeout between.
type timeoutReader struct{ chunks [][]byte }

var errTimeout = errors.New("timeout")

func (r *timeoutReader) Read(b []byte) (int, error) {
	if len(r.chunks) == 0 {
		return 0, io.EOF
	}
	c := r.chunks[0]
	r.chunks = r.chunks[1:]
	if c == nil {
		return 0, errTimeout
	}
	return copy(b, c), nil
}

func TestFrameReaderKeepsStateAcrossErrors(t *testing.T) {
	f := unhex(t, "AA AA AA 96 69 00 0C 00 00 90 00 00 00 00 00 00 00 00 9C")
	fr := NewFrameReader(&timeoutReader{chunks: [][]byte{f[:3], nil, f[3:9], nil, f[9:]}}, 0)
	for i := 0; i < 2; i++ {
		if _, err := fr.Next(); !errors.Is(err, errTimeout) {
			t.Fatalf("Next %d: %v, want the reader's error", i, err)
		}
		if i == 1 && !fr.Partial() {
			t.Fatal("Partial() false in the middle of a frame")
		}
	}
	got, err := fr.Next()
	if err != nil || !bytes.Equal(got, f) {
		t.Fatalf("Next = % X, %v", got, err)
	}
	if fr.Partial() || fr.Buffered() != 0 {
		t.Fatal("state left after a complete frame")
	}
	fr.Reset()
	if _, err := fr.Next(); err != io.EOF {
		t.Fatalf("after Reset: %v", err)
	}
}

func TestFrameReaderMaxLen(t *testing.T) {
	f, _ := Response{Status: StatusOK, Data: make([]byte, 100)}.Append(nil)
	fr := NewFrameReader(bytes.NewReader(f), 50)
	if _, err := fr.Next(); !errors.Is(err, ErrLength) {
		t.Fatalf("frame above maxLen: %v", err)
	}
}
