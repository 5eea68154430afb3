package sam

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// FrameReader reads frames from a byte stream and resynchronises on the
// preamble: bytes before a preamble are skipped and counted, and after a
// broken frame (bad checksum, impossible LEN, truncated at end of stream) it
// resumes the search one byte after the broken frame's preamble, so a valid
// frame that follows is never lost.
//
// Errors of the underlying reader (a serial timeout, say) are returned as
// they are and the bytes read so far are kept: calling Next again continues
// the same frame.
type FrameReader struct {
	r         io.Reader
	maxLen    int
	buf       []byte
	tmp       []byte
	err       error // read error to report once buf holds no frame
	discarded int64
}

// NewFrameReader returns a FrameReader on r accepting LEN up to maxLen
// (MaxLen when maxLen <= 0 or larger).
func NewFrameReader(r io.Reader, maxLen int) *FrameReader {
	if maxLen <= 0 || maxLen > MaxLen {
		maxLen = MaxLen
	}
	return &FrameReader{r: r, maxLen: maxLen, tmp: make([]byte, 512)}
}

// Next returns the next complete, checksum-verified frame (preamble through
// CHK). The returned slice is the caller's.
//
// It returns an error wrapping ErrChecksum or ErrLength for a broken frame
// (already skipped: call Next again for the following one), ErrTruncated
// when the stream ends inside a frame, io.EOF when it ends between frames,
// and any other error of the underlying reader unchanged.
func (fr *FrameReader) Next() ([]byte, error) {
	for {
		frame, err := fr.scan()
		if frame != nil || err != nil {
			return frame, err
		}
		if fr.err != nil {
			err := fr.err
			fr.err = nil
			if err == io.EOF && fr.Partial() {
				// Skip this preamble so the remaining bytes are searched
				// for another frame on the next call.
				fr.drop(1)
				return nil, fmt.Errorf("%w: stream ended %d bytes into a frame", ErrTruncated, len(fr.buf)+1)
			}
			if err == io.EOF {
				fr.drop(len(fr.buf)) // a partial preamble: nothing will complete it
			}
			return nil, err
		}
		n, err := fr.r.Read(fr.tmp)
		fr.buf = append(fr.buf, fr.tmp[:n]...)
		if err != nil {
			fr.err = err
		} else if n == 0 {
			// A reader that returns 0, nil repeatedly would spin here;
			// io.Reader discourages it, so treat it like no progress.
			fr.err = io.ErrNoProgress
		}
	}
}

// scan looks for a frame in the buffered bytes. It returns a frame, an error
// for a broken frame, or neither when it needs more input.
func (fr *FrameReader) scan() (frame []byte, err error) {
	i := bytes.Index(fr.buf, Preamble[:])
	if i < 0 {
		// Keep a tail that may be the start of a preamble.
		keep := 0
		for k := min(len(Preamble)-1, len(fr.buf)); k > 0; k-- {
			if bytes.Equal(fr.buf[len(fr.buf)-k:], Preamble[:k]) {
				keep = k
				break
			}
		}
		fr.drop(len(fr.buf) - keep)
		return nil, nil
	}
	fr.drop(i)
	if len(fr.buf) < HeaderLen {
		return nil, nil
	}
	n := int(fr.buf[5])<<8 | int(fr.buf[6])
	if n < MinCommandLen || n > fr.maxLen {
		fr.drop(1)
		return nil, fmt.Errorf("%w: LEN %#04x outside %d..%d", ErrLength, n, MinCommandLen, fr.maxLen)
	}
	if len(fr.buf) < HeaderLen+n {
		return nil, nil
	}
	f := fr.buf[:HeaderLen+n]
	if got, want := f[len(f)-1], Checksum(f[5:len(f)-1]); got != want {
		fr.drop(1)
		return nil, fmt.Errorf("%w: got %#02x, computed %#02x (LEN %#04x)", ErrChecksum, got, want, n)
	}
	frame = bytes.Clone(f)
	fr.buf = fr.buf[len(f):]
	return frame, nil
}

func (fr *FrameReader) drop(n int) {
	if n <= 0 {
		return
	}
	// Garbage is counted; the leading byte of a broken frame too.
	fr.discarded += int64(n)
	fr.buf = fr.buf[n:]
	if len(fr.buf) == 0 {
		fr.buf = fr.buf[:0:0]
	}
}

// Partial reports whether a frame has begun (a preamble was seen) but is not
// complete. A driver whose deadline passes while Partial is true has seen a
// truncated answer rather than silence.
func (fr *FrameReader) Partial() bool {
	return bytes.HasPrefix(fr.buf, Preamble[:])
}

// Buffered returns the number of bytes read but not yet returned.
func (fr *FrameReader) Buffered() int { return len(fr.buf) }

// Discarded returns the number of bytes skipped so far while resynchronising.
func (fr *FrameReader) Discarded() int64 { return fr.discarded }

// Reset drops buffered bytes and any remembered read error, as after
// flushing the port before a new command.
func (fr *FrameReader) Reset() {
	fr.buf = fr.buf[:0:0]
	fr.err = nil
}

// IsFrameError reports whether err is a broken-frame error of this package
// (checksum, length or truncation), as opposed to an I/O error.
func IsFrameError(err error) bool {
	return errors.Is(err, ErrChecksum) || errors.Is(err, ErrLength) || errors.Is(err, ErrTruncated)
}
