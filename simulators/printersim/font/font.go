// Package font is the simulated receipt printer's character ROM: ASCII
// (12x24 dots) and every character of GB 2312 (24x24), rendered once from
// Noto Sans Mono CJK SC by gen.go and embedded, so the simulator draws the
// same receipt on any machine, with or without system fonts
// (LICENSE-OFL.txt). A character outside the ROM is drawn as a box, as a
// printer without the glyph prints one, and reported to the caller.
package font

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
)

//go:generate go run gen.go

//go:embed glyphs.bin.gz
var packed []byte

// Height is the height of every glyph in dots.
const Height = 24

// Glyph is one character's bitmap: Width dots by Height rows, each row
// (Width+7)/8 bytes, most significant bit leftmost.
type Glyph struct {
	Width int
	Rows  []byte
}

// Set reports whether dot (x, y) is black.
func (g Glyph) Set(x, y int) bool {
	stride := (g.Width + 7) / 8
	return g.Rows[y*stride+x/8]&(0x80>>(x%8)) != 0
}

var (
	once   sync.Once
	glyphs map[rune]Glyph
	loadEr error
)

func load() {
	zr, err := gzip.NewReader(bytes.NewReader(packed))
	if err != nil {
		loadEr = err
		return
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		loadEr = err
		return
	}
	if !bytes.HasPrefix(raw, []byte("VKPF1")) {
		loadEr = fmt.Errorf("font: bad ROM header")
		return
	}
	raw = raw[5:]
	glyphs = make(map[rune]Glyph, 8000)
	for len(raw) >= 5 {
		r := rune(binary.LittleEndian.Uint32(raw))
		w := int(raw[4])
		n := (w + 7) / 8 * Height
		if w == 0 || len(raw) < 5+n {
			loadEr = fmt.Errorf("font: truncated ROM at %U", r)
			return
		}
		glyphs[r] = Glyph{Width: w, Rows: raw[5 : 5+n]}
		raw = raw[5+n:]
	}
}

// Lookup returns the glyph of r; ok is false for a character the ROM does
// not have (Missing draws its box).
func Lookup(r rune) (g Glyph, ok bool) {
	once.Do(load)
	if loadEr != nil {
		panic(loadEr) // the embedded ROM is part of the build
	}
	g, ok = glyphs[r]
	return g, ok
}

// Len is the number of characters in the ROM.
func Len() int {
	once.Do(load)
	return len(glyphs)
}

// Missing is the box printed for a character not in the ROM: full width
// for a character outside ASCII.
func Missing(r rune) Glyph {
	w := 24
	if r < 0x80 {
		w = 12
	}
	stride := (w + 7) / 8
	rows := make([]byte, stride*Height)
	g := Glyph{Width: w, Rows: rows}
	set := func(x, y int) { rows[y*stride+x/8] |= 0x80 >> (x % 8) }
	for x := 1; x < w-1; x++ {
		set(x, 2)
		set(x, Height-3)
	}
	for y := 2; y < Height-2; y++ {
		set(1, y)
		set(w-2, y)
	}
	return g
}
