package matcher

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

func sampleTemplate(t testing.TB, seed uint64, withMask bool) *Template {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	p := DefaultParams
	p.Extraction = "test"
	vein := NewSynthFinger(rng, p.Width, p.Height).Sample(rng, 4, 12, 0.1)
	var mask *Pattern
	if withMask {
		mask = NewPattern(p.Width, p.Height)
		for x := 0; x < p.Width; x++ {
			for y := 2 + x%3; y < p.Height-3+x%2; y++ {
				mask.Set(x, y, true)
			}
		}
		for i := range vein.Bits {
			vein.Bits[i] &= mask.Bits[i]
		}
	}
	tp, err := NewTemplate(p, vein, mask, 77, 7)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

func equalTemplates(a, b *Template) bool {
	eqP := func(x, y *Pattern) bool {
		if x == nil || y == nil {
			return x == nil && y == nil
		}
		return x.W == y.W && x.H == y.H && x.Stride == y.Stride && slicesEqual(x.Bits, y.Bits)
	}
	return a.Algorithm == b.Algorithm && a.ParamsHash == b.ParamsHash && a.ShiftRows == b.ShiftRows &&
		a.ShiftCols == b.ShiftCols && a.Quality == b.Quality && a.Finger == b.Finger &&
		eqP(a.Vein, b.Vein) && eqP(a.Mask, b.Mask)
}

func slicesEqual(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestTemplateRoundTrip(t *testing.T) {
	for _, withMask := range []bool{false, true} {
		tp := sampleTemplate(t, 1, withMask)
		b, err := tp.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("mask %v: %d bytes", withMask, len(b))
		if len(b) > 2048 {
			t.Errorf("encoded template of %d bytes exceeds the 2 KiB budget", len(b))
		}
		got, err := ParseTemplate(b)
		if err != nil {
			t.Fatal(err)
		}
		if !equalTemplates(tp, got) {
			t.Errorf("mask %v: round trip changed the template", withMask)
		}
	}
	// A noisy mask falls back to the raw bitmap.
	tp := sampleTemplate(t, 2, false)
	tp.Mask = randomPattern(rand.New(rand.NewPCG(1, 1)), tp.Vein.W, tp.Vein.H, 0.5)
	b, err := tp.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if b[5] != maskRaw {
		t.Errorf("noisy mask encoded as %d, want raw", b[5])
	}
	// A mask with two bands in a column uses run lengths.
	tp.Mask = NewPattern(tp.Vein.W, tp.Vein.H)
	for x := 0; x < tp.Mask.W; x++ {
		tp.Mask.Set(x, 3, true)
		tp.Mask.Set(x, 30, true)
	}
	if b, err = tp.MarshalBinary(); err != nil || b[5] != maskRuns {
		t.Fatalf("two-band mask: encoding %d, %v; want run lengths", b[5], err)
	}
	if got, err := ParseTemplate(b); err != nil || !equalTemplates(tp, got) {
		t.Errorf("run-length mask round trip: %v", err)
	}
	tp.Mask = randomPattern(rand.New(rand.NewPCG(1, 1)), tp.Vein.W, tp.Vein.H, 0.5)
	b, _ = tp.MarshalBinary()
	if got, err := ParseTemplate(b); err != nil || !equalTemplates(tp, got) {
		t.Errorf("raw mask round trip: %v", err)
	}
}

// reseal recomputes the CRC after a test edits the bytes.
func reseal(b []byte) []byte {
	n := len(b) - 4
	binary.LittleEndian.PutUint32(b[n:], crc32.ChecksumIEEE(b[:n]))
	return b
}

func TestParseTemplateErrors(t *testing.T) {
	good, err := sampleTemplate(t, 3, true).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrCorrupt},
		{"magic", edit(func(b []byte) []byte { b[0] = 'X'; return b }), ErrCorrupt},
		{"format version", edit(func(b []byte) []byte { b[4] = 2; return reseal(b) }), ErrFormatVersion},
		{"format version 0", edit(func(b []byte) []byte { b[4] = 0; return b }), ErrFormatVersion},
		{"algorithm version", edit(func(b []byte) []byte { b[6] = AlgorithmVersion + 1; return reseal(b) }), ErrAlgorithmVersion},
		{"algorithm version, bad crc", edit(func(b []byte) []byte { b[6] = AlgorithmVersion + 1; return b }), ErrCorrupt},
		{"crc", edit(func(b []byte) []byte { b[100] ^= 1; return b }), ErrCorrupt},
		{"truncated", good[:len(good)-10], ErrCorrupt},
		{"header only", reseal(append(bytes.Clone(good[:headerSize]), 0, 0, 0, 0)), ErrCorrupt},
		{"trailing byte", edit(func(b []byte) []byte { return reseal(append(b, 0)) }), ErrCorrupt},
		{"width", edit(func(b []byte) []byte { b[12] = 0; b[13] = 0; return reseal(b) }), ErrCorrupt},
		{"quality", edit(func(b []byte) []byte { b[20] = 101; return reseal(b) }), ErrCorrupt},
		{"finger", edit(func(b []byte) []byte { b[21] = 11; return reseal(b) }), ErrCorrupt},
		{"shift", edit(func(b []byte) []byte { b[16] = 40; return reseal(b) }), ErrCorrupt},
		{"reserved", edit(func(b []byte) []byte { b[22] = 1; return reseal(b) }), ErrCorrupt},
		{"mask encoding", edit(func(b []byte) []byte { b[5] = 9; return reseal(b) }), ErrCorrupt},
		{"mask band", edit(func(b []byte) []byte { b[headerSize+1536] = 0x7f; return reseal(b) }), ErrCorrupt},
		{"mask runs", edit(func(b []byte) []byte { b[5] = maskRuns; return reseal(b) }), ErrCorrupt},
	}
	for _, tt := range tests {
		if _, err := ParseTemplate(tt.b); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}

// TestTemplateGolden pins the encoding: a change of the format must bump
// FormatVersion, not silently alter the bytes.
func TestTemplateGolden(t *testing.T) {
	p := Params{Width: 70, Height: 24, ShiftRows: 2, ShiftCols: 3, Extraction: "golden"}
	vein, mask := NewPattern(70, 24), NewPattern(70, 24)
	for x := 0; x < 70; x++ {
		vein.Set(x, (x/3)%24, x%3 != 0)
		for y := 2 + x%3; y < 20-x%2; y++ {
			mask.Set(x, y, true)
		}
	}
	tp, err := NewTemplate(p, vein, mask, 42, 3)
	if err != nil {
		t.Fatal(err)
	}
	b, err := tp.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if b[5] != maskBand {
		t.Fatalf("golden mask encoded as %d, want band", b[5])
	}
	path := filepath.Join("testdata", "golden-template.bin")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with UPDATE_GOLDEN=1 to create)", err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("encoding changed:\n got %x\nwant %x", b, want)
	}
	got, err := ParseTemplate(want)
	if err != nil || !equalTemplates(got, tp) {
		t.Errorf("golden template decodes to a different template: %v", err)
	}
}

func FuzzParseTemplate(f *testing.F) {
	for i, withMask := range []bool{false, true} {
		b, err := sampleTemplate(f, uint64(i), withMask).MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	if b, err := os.ReadFile(filepath.Join("testdata", "golden-template.bin")); err == nil {
		f.Add(b)
	}
	f.Add([]byte("QSVT\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tp, err := ParseTemplate(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrFormatVersion) && !errors.Is(err, ErrAlgorithmVersion) {
				t.Fatalf("error without a sentinel: %v", err)
			}
			return
		}
		again, err := tp.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded template does not encode: %v", err)
		}
		tp2, err := ParseTemplate(again)
		if err != nil || !equalTemplates(tp, tp2) {
			t.Fatalf("re-encoding changed the template: %v", err)
		}
		// A decoded template is safe to compare.
		p, err := NewProbe(tp)
		if err != nil {
			t.Fatal(err)
		}
		if s := p.Score(tp); s < 0 || s > 0.5 {
			t.Fatalf("self score %v outside [0, 0.5]", s)
		}
	})
}
