//go:build ignore

// genpinyin writes static/pinyin.txt, the pinyin keyboard's dictionary, from
// the Unihan files of Debian's unicode-data package (apt install
// unicode-data). Run it with `go generate ./kiosk/ui`.
package main

import (
	"compress/bzip2"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/qingshan-gov/veinkiosk/kiosk/ui"
)

func open(dir, name string) (io.Reader, func(), error) {
	for _, cand := range []string{name, name + ".bz2"} {
		f, err := os.Open(filepath.Join(dir, cand))
		if err != nil {
			continue
		}
		if strings.HasSuffix(cand, ".bz2") {
			return bzip2.NewReader(f), func() { f.Close() }, nil
		}
		return f, func() { f.Close() }, nil
	}
	return nil, nil, fmt.Errorf("%s not found in %s (apt install unicode-data)", name, dir)
}

func main() {
	dir := flag.String("unihan", "/usr/share/unicode", "directory with Unihan_Readings.txt and Unihan_OtherMappings.txt (.bz2 or plain)")
	out := flag.String("out", "static/pinyin.txt", "output file")
	flag.Parse()
	rd, c1, err := open(*dir, "Unihan_Readings.txt")
	if err != nil {
		log.Fatal(err)
	}
	defer c1()
	om, c2, err := open(*dir, "Unihan_OtherMappings.txt")
	if err != nil {
		log.Fatal(err)
	}
	defer c2()
	data, err := ui.PinyinDict(rd, om, "Unihan "+unihanVersion(*dir))
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, data, 0o644); err != nil {
		log.Fatal(err)
	}
}

// unihanVersion reads the UCD version from ReadMe.txt ("for Version 15.0.0").
func unihanVersion(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "ReadMe.txt"))
	if err == nil {
		if i := strings.Index(string(b), "for Version "); i >= 0 {
			v := strings.Fields(string(b[i+len("for Version "):]))
			if len(v) > 0 {
				return strings.TrimRight(v[0], ".,") + " (Debian unicode-data)"
			}
		}
	}
	return "(version unknown)"
}
