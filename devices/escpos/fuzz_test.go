package escpos

import (
	"bytes"
	"testing"
)

// FuzzDecode: any input decodes without panicking, into the same commands
// whether it arrives at once or in two chunks, with bounded pending bytes;
// and text the decoder returns goes back through the builder unchanged.
// Seeds: testdata/fuzz/FuzzDecode and the cases below.
func FuzzDecode(f *testing.F) {
	var b Builder
	b.Init().Align(Center).Size(2, 2).Line("受理回执").Size(1, 1).Line("€𠀀").QR("QS-1", 6, ECMedium).Feed(2).Cut()
	job, _ := b.Bytes()
	f.Add(job, 7)
	f.Add([]byte("\x10\x04\x01\x10\x04\x04"), 1)
	f.Add([]byte("\x1d(k\xff\xff1P0abc"), 3)
	f.Add([]byte("\x1c.\x81\x82\x1c&\x81\x30\x81\x30"), 5)
	f.Add([]byte("\x1bZ\x1d\x99\xff\x80\x1ba9"), 2)
	f.Fuzz(func(t *testing.T, in []byte, cut int) {
		whole := NewDecoder()
		all := merge(whole.Decode(in))
		if whole.Pending() > 5+MaxQRData+3 {
			t.Fatalf("pending %d", whole.Pending())
		}
		if len(in) > 0 {
			cut = ((cut % len(in)) + len(in)) % len(in)
		} else {
			cut = 0
		}
		split := NewDecoder()
		two := append(split.Decode(in[:cut]), split.Decode(in[cut:])...)
		if got := merge(two); !sameCommands(got, all) || split.Pending() != whole.Pending() {
			t.Fatalf("split at %d:\n%+v\nwhole:\n%+v", cut, got, all)
		}
		for _, c := range all {
			if c.Op != OpText {
				continue
			}
			// Decoded text (GB18030 or code page 437) re-encodes in
			// GB18030 to bytes that decode the same.
			var b Builder
			enc, err := b.Text(c.Text).Bytes()
			if err != nil {
				continue // a C1 control character (GB18030 maps 0x81 0x30 0x81 0x30.. to U+0080..)
			}
			if got := merge(NewDecoder().Decode(enc)); len(got) != 1 || got[0].Text != c.Text {
				t.Fatalf("text %q re-decoded as %+v", c.Text, got)
			}
		}
	})
}

func sameCommands(a, b []Command) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Op != y.Op || x.N != y.N || x.M != y.M || x.Text != y.Text || !bytes.Equal(x.Data, y.Data) {
			return false
		}
		if (x.Err == nil) != (y.Err == nil) || (x.Err != nil && x.Err.Error() != y.Err.Error()) {
			return false
		}
	}
	return true
}
