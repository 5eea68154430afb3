package wire

import "testing"

func BenchmarkAppendFrame8K(b *testing.B) {
	f := &Frame{Seq: 1, Flags: FlagResponse, Command: CmdReadChunk, Payload: make([]byte, 8192+10)}
	buf := make([]byte, 0, MaxFrameSize)
	b.SetBytes(int64(len(f.Payload)))
	for b.Loop() {
		buf, _ = AppendFrame(buf[:0], f)
	}
}

func BenchmarkSplitter8K(b *testing.B) {
	fr, _ := AppendFrame(nil, &Frame{Seq: 1, Flags: FlagResponse, Command: CmdReadChunk, Payload: make([]byte, 8192+10)})
	var s Splitter
	b.SetBytes(int64(len(fr)))
	for b.Loop() {
		s.Write(fr[:4000])
		s.Write(fr[4000:])
		if f, err := s.Next(); f == nil || err != nil {
			b.Fatal(f, err)
		}
	}
}
