package escpos

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// merge joins adjacent text commands, so decodings of differently chunked
// streams compare equal.
func merge(cmds []Command) []Command {
	var out []Command
	for _, c := range cmds {
		if c.Op == OpText && len(out) > 0 && out[len(out)-1].Op == OpText {
			out[len(out)-1].Text += c.Text
			continue
		}
		out = append(out, c)
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	var b Builder
	b.Init().Align(Center).Bold(true).Size(2, 2).Line("受理回执").Size(1, 1).Bold(false).Align(Left)
	b.Line("受理编号：QS-20261206-0001").Line("服务：最低生活保障（低保）新申请")
	b.Text("€ 𠀀 ㄅ ü").LF() // 2-byte and 4-byte GB18030
	b.QR("QS-20261206-0001", 6, ECMedium).Feed(3).Cut()
	job, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	got := merge(NewDecoder().Decode(job))
	want := []Command{
		{Op: OpInit}, {Op: OpChinese, N: 1}, {Op: OpAlign, N: 1}, {Op: OpBold, N: 1}, {Op: OpSize, N: 2, M: 2},
		{Op: OpText, Text: "受理回执"}, {Op: OpLF}, {Op: OpSize, N: 1, M: 1}, {Op: OpBold, N: 0}, {Op: OpAlign, N: 0},
		{Op: OpText, Text: "受理编号：QS-20261206-0001"}, {Op: OpLF},
		{Op: OpText, Text: "服务：最低生活保障（低保）新申请"}, {Op: OpLF},
		{Op: OpText, Text: "€ 𠀀 ㄅ ü"}, {Op: OpLF},
		{Op: OpQRModel, N: 50}, {Op: OpQRSize, N: 6}, {Op: OpQRLevel, N: 49},
		{Op: OpQRStore, Data: []byte("QS-20261206-0001")}, {Op: OpQRPrint, N: '0'},
		{Op: OpFeed, N: 3}, {Op: OpCut, N: 66},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded\n%+v\nwant\n%+v", got, want)
	}
	// Byte by byte, as a slow serial line delivers it: the same commands.
	d := NewDecoder()
	var slow []Command
	for i := range job {
		slow = append(slow, d.Decode(job[i:i+1])...)
	}
	if !reflect.DeepEqual(merge(slow), want) || d.Pending() != 0 {
		t.Fatalf("byte by byte: %+v (pending %d)", merge(slow), d.Pending())
	}
}

func TestBuilderRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func(*Builder)
		want error
	}{
		{"escape in text", func(b *Builder) { b.Text("a\x1b@b") }, ErrBadText},
		{"newline in text", func(b *Builder) { b.Text("a\nb") }, ErrBadText},
		{"C1 control", func(b *Builder) { b.Text("a\u0085") }, ErrBadText},
		{"bad UTF-8", func(b *Builder) { b.Text("a\xffb") }, ErrBadText},
		{"size 0", func(b *Builder) { b.Size(0, 1) }, ErrBadArgument},
		{"size 9", func(b *Builder) { b.Size(1, 9) }, ErrBadArgument},
		{"align", func(b *Builder) { b.Align(3) }, ErrBadArgument},
		{"feed", func(b *Builder) { b.Feed(256) }, ErrBadArgument},
		{"qr size", func(b *Builder) { b.QR("x", 17, ECLow) }, ErrBadArgument},
		{"qr level", func(b *Builder) { b.QR("x", 4, 52) }, ErrBadArgument},
		{"qr empty", func(b *Builder) { b.QR("", 4, ECLow) }, ErrBadArgument},
		{"qr long", func(b *Builder) { b.QR(strings.Repeat("x", MaxQRData+1), 4, ECLow) }, ErrTooLong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b Builder
			b.Init()
			tc.f(&b)
			b.Line("after") // the first error sticks
			if job, err := b.Bytes(); !errors.Is(err, tc.want) || job != nil {
				t.Fatalf("got %q, %v; want %v", job, err, tc.want)
			}
		})
	}
}

func TestDecoderBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want []Command // errors compared with errors.Is; Data not compared
	}{
		{"unknown ESC then text", []byte("\x1bZab\n"), []Command{{Op: OpInvalid, Err: ErrUnknownCommand}, {Op: OpText, Text: "ab"}, {Op: OpLF}}},
		{"bad align", []byte("\x1ba\x05x"), []Command{{Op: OpInvalid, Err: ErrBadArgument}, {Op: OpText, Text: "x"}}},
		{"bad GB18030 lead", []byte("a\xffb"), []Command{{Op: OpText, Text: "a"}, {Op: OpInvalid, Err: ErrBadText}, {Op: OpText, Text: "b"}}},
		{"bad trail", []byte("\xb0\x20x"), []Command{{Op: OpInvalid, Err: ErrBadText}, {Op: OpText, Text: " x"}}},
		{"bad 4-byte", []byte("\x81\x30\x20\x30"), []Command{{Op: OpInvalid, Err: ErrBadText}, {Op: OpText, Text: "0 0"}}},
		{"stray control", []byte("\x07a"), []Command{{Op: OpInvalid, Err: ErrUnknownCommand}, {Op: OpText, Text: "a"}}},
		{"status 5", []byte("\x10\x04\x05"), []Command{{Op: OpInvalid, Err: ErrBadArgument}}},
		{"status", []byte("\x10\x04\x02"), []Command{{Op: OpStatus, N: 2}}},
		{"DLE other", []byte("\x10\x05\x01"), []Command{{Op: OpInvalid, Err: ErrUnknownCommand}, {Op: OpInvalid, Err: ErrUnknownCommand}}},
		{"PDF417 skipped whole", []byte("\x1d(k\x03\x00\x30\x41\x00ok"), []Command{{Op: OpInvalid, Err: ErrUnknownCommand}, {Op: OpText, Text: "ok"}}},
		{"QR too long skipped", append(append([]byte("\x1d(k\xff\xff"), bytes.Repeat([]byte("A"), 65535)...), "ok"...), []Command{{Op: OpInvalid, Err: ErrBadArgument}, {Op: OpText, Text: "ok"}}},
		{"code page 437 after FS .", []byte("\x1c.\x81\x1c&\xc4\xe3"), []Command{{Op: OpChinese, N: 0}, {Op: OpText, Text: "ü"}, {Op: OpChinese, N: 1}, {Op: OpText, Text: "你"}}},
		{"tab prints as space", []byte("a\tb"), []Command{{Op: OpText, Text: "a b"}}},
		{"CR ignored", []byte("a\r\n"), []Command{{Op: OpText, Text: "a"}, {Op: OpLF}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := NewDecoder().Decode(tc.in)
			if len(got) != len(tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for i, g := range got {
				w := tc.want[i]
				if g.Op != w.Op || g.N != w.N || g.Text != w.Text || (w.Err != nil && !errors.Is(g.Err, w.Err)) || (w.Err == nil && g.Err != nil) {
					t.Fatalf("command %d: got %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestIncompleteWaits(t *testing.T) {
	d := NewDecoder()
	if got := d.Decode([]byte("ab\xc4")); len(got) != 1 || got[0].Text != "ab" || d.Pending() != 1 {
		t.Fatalf("got %+v pending %d", got, d.Pending())
	}
	if got := d.Decode([]byte("\xe3\x1d(k\x03")); len(got) != 1 || got[0].Text != "你" || d.Pending() != 4 {
		t.Fatalf("got %+v pending %d", got, d.Pending())
	}
	if got := d.Decode([]byte("\x001C\x08")); len(got) != 1 || got[0].Op != OpQRSize || got[0].N != 8 || d.Pending() != 0 {
		t.Fatalf("got %+v pending %d", got, d.Pending())
	}
}

func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		n    byte
		s    Status
		want byte
	}{
		{StatusPrinter, Status{}, 0x12},
		{StatusPrinter, Status{Offline: true}, 0x1a},
		{StatusOffline, Status{CoverOpen: true}, 0x16},
		{StatusOffline, Status{PaperStop: true, Error: true}, 0x72},
		{StatusError, Status{CutterError: true}, 0x1a},
		{StatusPaper, Status{}, 0x12},
		{StatusPaper, Status{PaperNearEnd: true}, 0x1e},
		{StatusPaper, Status{PaperEnd: true, PaperNearEnd: true}, 0x7e},
	} {
		b, err := StatusByte(tc.n, tc.s)
		if err != nil || b != tc.want {
			t.Fatalf("StatusByte(%d, %+v) = %#x, %v; want %#x", tc.n, tc.s, b, err, tc.want)
		}
		var back Status
		if err := back.Merge(tc.n, b); err != nil || back != tc.s {
			t.Fatalf("Merge(%d, %#x) = %+v, %v", tc.n, b, back, err)
		}
	}
	var s Status
	for _, b := range []byte{0x00, 0xff, 0x13, 0x92, 'A'} {
		if err := s.Merge(StatusPaper, b); !errors.Is(err, ErrBadStatus) {
			t.Errorf("Merge(%#x): %v, want ErrBadStatus", b, err)
		}
	}
	if _, err := StatusByte(5, Status{}); !errors.Is(err, ErrBadArgument) {
		t.Fatal(err)
	}
	if !(Status{PaperNearEnd: true}).Ready() || (Status{CoverOpen: true}).Ready() || (Status{PaperEnd: true}).Ready() {
		t.Fatal("Ready")
	}
}
