package printersim

import (
	"bytes"
	"image/png"
	"strings"
	"testing"

	"github.com/qingshan-gov/veinkiosk/devices/escpos"
)

func job(t *testing.T, f func(b *escpos.Builder)) []byte {
	t.Helper()
	var b escpos.Builder
	b.Init()
	f(&b)
	out, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func statusOf(t *testing.T, s *Sim) escpos.Status {
	t.Helper()
	var st escpos.Status
	for n := byte(1); n <= 4; n++ {
		ans := s.Write(escpos.StatusQuery(n))
		if len(ans) != 1 {
			t.Fatalf("DLE EOT %d: %d answer bytes", n, len(ans))
		}
		if err := st.Merge(n, ans[0]); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func TestPrintsLinesAndQR(t *testing.T) {
	s := New(Options{})
	s.Write(job(t, func(b *escpos.Builder) {
		b.Align(escpos.Center).Size(2, 2).Line("受理回执").Size(1, 1).Align(escpos.Left)
		b.Text("编号：").Bold(true).Text("QS-1").Bold(false).LF()
		b.QR("QS-1", 4, escpos.ECMedium).Cut()
	}))
	rs := s.Receipts()
	if len(rs) != 1 {
		t.Fatalf("%d receipts", len(rs))
	}
	r := rs[0]
	if got := r.Text(); got != "受理回执\n编号：QS-1\n" {
		t.Fatalf("text %q", got)
	}
	if r.Lines[0].Align != "center" || r.Lines[0].Width != 2 || r.Lines[0].Height != 2 || !r.Lines[1].Bold {
		t.Fatalf("lines %+v", r.Lines)
	}
	if len(r.QR) != 1 || r.QR[0] != "QS-1" || r.Incomplete || len(r.Missing) != 0 {
		t.Fatalf("receipt %+v", r)
	}
	img, err := png.Decode(bytes.NewReader(r.PNG))
	if err != nil || img.Bounds().Dx() != Width {
		t.Fatalf("PNG: %v %v", err, img.Bounds())
	}
}

func TestWrapAndMissingGlyph(t *testing.T) {
	s := New(Options{})
	long := strings.Repeat("办", 30) // 24 fit on a line
	s.Write(job(t, func(b *escpos.Builder) { b.Line(long).Line("한").Cut() }))
	r := s.Receipts()[0]
	if len(r.Lines) != 3 || r.Lines[0].Text != strings.Repeat("办", 24) || r.Lines[1].Text != strings.Repeat("办", 6) {
		t.Fatalf("lines %+v", r.Lines)
	}
	if len(r.Missing) != 1 || r.Missing[0] != "한" {
		t.Fatalf("missing %q", r.Missing)
	}
}

func TestFaults(t *testing.T) {
	s := New(Options{})
	if st := statusOf(t, s); !st.Ready() || st.PaperNearEnd {
		t.Fatalf("fresh printer: %+v", st)
	}
	s.SetCoverOpen(true)
	if st := statusOf(t, s); !st.CoverOpen || !st.Offline || st.Ready() {
		t.Fatalf("cover open: %+v", st)
	}
	s.Write(job(t, func(b *escpos.Builder) { b.Line("dropped").Cut() }))
	if n := len(s.Receipts()); n != 0 || s.State().Dropped == 0 {
		t.Fatalf("printed with the cover open: %d receipts, %+v", n, s.State())
	}
	s.SetCoverOpen(false)
	s.SetPaperOut(true)
	if st := statusOf(t, s); !st.PaperEnd || !st.PaperStop || st.Ready() {
		t.Fatalf("paper out: %+v", st)
	}
	s.SetPaperLines(25)
	if st := statusOf(t, s); !st.Ready() || st.PaperNearEnd {
		t.Fatalf("new roll of 25 lines: %+v", st)
	}
	// The roll ends in the middle of a receipt: what was printed comes out
	// marked incomplete, the rest is dropped.
	s.Write(job(t, func(b *escpos.Builder) {
		for i := range 30 {
			b.Line(strings.Repeat("x", i+1))
		}
		b.Cut()
	}))
	rs := s.Receipts()
	if len(rs) != 1 || !rs[0].Incomplete || len(rs[0].Lines) != 24 {
		t.Fatalf("receipts %+v", rs)
	}
	if st := statusOf(t, s); !st.PaperEnd || st.Ready() {
		t.Fatalf("after the roll ended: %+v", st)
	}
}

func TestBadInputIsCountedNotPrinted(t *testing.T) {
	s := New(Options{})
	s.Write([]byte("\x1bZ\x1d\x99ok\n\x1dVB\x00"))
	r := s.Receipts()
	if len(r) != 1 || r[0].Text() != "ok\n" || s.State().Invalid != 2 {
		t.Fatalf("%+v %+v", r, s.State())
	}
}

func TestConsole(t *testing.T) {
	s := New(Options{})
	for _, tc := range []struct{ in, want string }{
		{"cover open", "cover open true"}, {"cover closed", "cover open false"},
		{"paper out", "paper out true"}, {"paper in 40", "paper lines 40"}, {"paper in x", "must be a number"},
		{"bogus", "unknown command"},
	} {
		if got := s.Command(tc.in); !strings.Contains(got, tc.want) {
			t.Errorf("%q: %q, want %q", tc.in, got, tc.want)
		}
	}
}
