//go:build ignore

// gen.go makes glyphs.bin.gz, the simulated printer's character ROM: every
// character of ASCII and GB 2312 rendered once, as a thermal printer's
// built-in font is, from Noto Sans Mono CJK SC (SIL Open Font License 1.1;
// Debian's fonts-noto-cjk). Run where that package is installed:
//
//	go generate ./simulators/printersim/font
//
// Format (gzip): "VKPF1", then per glyph, sorted by code point: the rune as
// uint32 little-endian, its width in dots (12 or 24), and 24 rows of
// width/8 rounded up bytes, most significant bit leftmost.
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"image"
	"log"
	"os"
	"sort"

	"golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
	"golang.org/x/text/encoding/simplifiedchinese"
)

const (
	source = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
	family = "Noto Sans Mono CJK SC"
	height = 24
)

func main() {
	b, err := os.ReadFile(source)
	if err != nil {
		log.Fatalf("%v (install fonts-noto-cjk)", err)
	}
	coll, err := opentype.ParseCollection(b)
	if err != nil {
		log.Fatal(err)
	}
	var face font.Face
	for i := range coll.NumFonts() {
		f, err := coll.Font(i)
		if err != nil {
			log.Fatal(err)
		}
		if n, _ := f.Name(nil, 4); n == family {
			face, err = opentype.NewFace(f, &opentype.FaceOptions{Size: 22, DPI: 72, Hinting: font.HintingFull})
			if err != nil {
				log.Fatal(err)
			}
		}
	}
	if face == nil {
		log.Fatalf("%s not in %s", family, source)
	}
	runes := map[rune]bool{}
	for r := rune(0x20); r < 0x7f; r++ {
		runes[r] = true
	}
	// GB 2312 in EUC-CN: rows A1-A9 (symbols) and B0-F7 (hanzi).
	dec := simplifiedchinese.GBK.NewDecoder()
	for hi := 0xa1; hi <= 0xf7; hi++ {
		if hi > 0xa9 && hi < 0xb0 {
			continue
		}
		for lo := 0xa1; lo <= 0xfe; lo++ {
			s, err := dec.Bytes([]byte{byte(hi), byte(lo)})
			if err != nil {
				continue
			}
			rs := []rune(string(s))
			if len(rs) != 1 || rs[0] == 0xfffd || (rs[0] >= 0xe000 && rs[0] <= 0xf8ff) {
				continue
			}
			if _, ok := face.GlyphAdvance(rs[0]); ok {
				runes[rs[0]] = true
			}
		}
	}
	sorted := make([]rune, 0, len(runes))
	for r := range runes {
		sorted = append(sorted, r)
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	var raw bytes.Buffer
	raw.WriteString("VKPF1")
	for _, r := range sorted {
		w := 24
		if r < 0x80 {
			w = 12
		}
		img := image.NewGray(image.Rect(0, 0, w, height))
		d := font.Drawer{Dst: img, Src: image.White, Face: face, Dot: fixed.P(0, 20)}
		d.DrawString(string(r))
		binary.Write(&raw, binary.LittleEndian, uint32(r))
		raw.WriteByte(byte(w))
		rowBytes := (w + 7) / 8
		for y := range height {
			row := make([]byte, rowBytes)
			for x := range w {
				if img.GrayAt(x, y).Y >= 112 {
					row[x/8] |= 0x80 >> (x % 8)
				}
			}
			raw.Write(row)
		}
	}
	out, err := os.Create("glyphs.bin.gz")
	if err != nil {
		log.Fatal(err)
	}
	zw, _ := gzip.NewWriterLevel(out, gzip.BestCompression)
	zw.Write(raw.Bytes())
	if err := zw.Close(); err != nil {
		log.Fatal(err)
	}
	if err := out.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d glyphs, %d bytes raw\n", len(sorted), raw.Len())
}
