package font

import "testing"

func TestROM(t *testing.T) {
	if n := Len(); n < 7000 {
		t.Fatalf("%d glyphs, want all of GB 2312 and ASCII", n)
	}
	for _, tc := range []struct {
		r     rune
		width int
	}{{'A', 12}, {'0', 12}, {'受', 24}, {'理', 24}, {'，', 24}, {'：', 24}, {'齄', 24}} {
		g, ok := Lookup(tc.r)
		if !ok || g.Width != tc.width {
			t.Fatalf("%c: ok %v width %d", tc.r, ok, g.Width)
		}
		black := 0
		for y := range Height {
			for x := range g.Width {
				if g.Set(x, y) {
					black++
				}
			}
		}
		if black < 10 || black > g.Width*Height/2 {
			t.Errorf("%c has %d black dots", tc.r, black)
		}
	}
	if _, ok := Lookup('한'); ok {
		t.Error("Hangul is not in GB 2312")
	}
	if _, ok := Lookup(' '); !ok {
		t.Error("space missing")
	}
	if m := Missing('€'); m.Width != 24 || !m.Set(1, 10) || m.Set(10, 10) {
		t.Error("missing box")
	}
}
