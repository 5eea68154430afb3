package ui

import (
	"bytes"
	"compress/bzip2"
	"errors"
	"os"
	"strings"
	"testing"
)

const (
	synthReadings = "# comment\n" +
		"U+4E86\tkHanyuPinlu\tle(30101) liǎo(654) liào(19)\n" +
		"U+4E86\tkMandarin\tle\n" +
		"U+4E50\tkHanyuPinlu\tlè(1000) yuè(300)\n" +
		"U+4E50\tkMandarin\tlè\n" +
		"U+52D2\tkMandarin\tlè\n" +
		"U+7EFF\tkMandarin\tlǜ\n" +
		"U+7EFF\tkTGHZ2013\t237.080:lù 239.010:lǜ\n" +
		"U+9CD3\tkMandarin\tlè\n" +
		"U+3400\tkMandarin\tqiū\n"
	synthMappings = "U+4E86\tkGB0\t3373\n" +
		"U+4E50\tkGB0\t3246\n" +
		"U+52D2\tkGB0\t3249\n" +
		"U+7EFF\tkGB0\t3472\n" +
		"U+9CD3\tkGB0\t8752\n" +
		"U+4E86\tkBigFive\tA446\n"
)

func TestPinyinDictGolden(t *testing.T) {
	got, err := PinyinDict(strings.NewReader(synthReadings), strings.NewReader(synthMappings), "synthetic")
	if err != nil {
		t.Fatal(err)
	}
	golden := "testdata/pinyin-synthetic.golden"
	if os.Getenv("UPDATE_GOLDEN") != "" {
		os.WriteFile(golden, got, 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	d, err := ParsePinyinDict(got)
	if err != nil {
		t.Fatal(err)
	}
	// le: 了 (30101) before 乐 (no "le" frequency), level 1 乐/勒 before level 2 鳓.
	if s := string(d["le"]); s != "了乐勒鳓" {
		t.Errorf("le = %q, want 了乐勒鳓", s)
	}
	if s := string(d["lv"]); s != "绿" {
		t.Errorf("lv = %q", s)
	}
	if _, ok := d["qiu"]; ok {
		t.Error("U+3400 is not in GB 2312 but was listed")
	}
}

func TestPinyinDictRefusesBadInput(t *testing.T) {
	for name, in := range map[string][2]string{
		"bad line":      {"U+4E86 kMandarin le\n", synthMappings},
		"bad code":      {"U+ZZZZ\tkMandarin\tle\n", synthMappings},
		"bad reading":   {"U+4E86\tkMandarin\tle1\n", synthMappings},
		"bad pinlu":     {"U+4E86\tkHanyuPinlu\tle(x)\n", synthMappings},
		"bad gb":        {synthReadings, "U+4E86\tkGB0\t99\n"},
		"no gb entries": {synthReadings, ""},
	} {
		if _, err := PinyinDict(strings.NewReader(in[0]), strings.NewReader(in[1]), "x"); !errors.Is(err, ErrUnihan) {
			t.Errorf("%s: err = %v, want ErrUnihan", name, err)
		}
	}
}

// The shipped dictionary parses, covers what residents type in the
// kiosk's free-text fields, and is what the generator makes from the
// installed Unihan (when unicode-data is installed).
func TestShippedPinyinDict(t *testing.T) {
	data, err := FS.ReadFile("static/pinyin.txt")
	if err != nil {
		t.Fatal(err)
	}
	d, err := ParsePinyinDict(data)
	if err != nil {
		t.Fatal(err)
	}
	n := map[rune]bool{}
	for _, rs := range d {
		for _, r := range rs {
			n[r] = true
		}
	}
	if len(n) != 6763 {
		t.Errorf("%d characters, want the 6,763 of GB 2312", len(n))
	}
	for syl, want := range map[string]rune{"shen": '申', "qing": '请', "bing": '病', "zhu": '住', "fang": '房', "xue": '学', "lv": '绿'} {
		if !strings.ContainsRune(string(d[syl]), want) {
			t.Errorf("%s has no %c", syl, want)
		}
	}
	if _, err := FS.ReadFile("static/LICENSE-UNICODE.txt"); err != nil {
		t.Error("the Unicode licence is not shipped with the dictionary")
	}
	if !regenerate {
		t.Skip("not regenerating under -race (see regen_test.go)")
	}
	rf, err1 := os.Open("/usr/share/unicode/Unihan_Readings.txt.bz2")
	of, err2 := os.Open("/usr/share/unicode/Unihan_OtherMappings.txt.bz2")
	if err1 != nil || err2 != nil {
		t.Skip("unicode-data not installed: not regenerating")
	}
	defer rf.Close()
	defer of.Close()
	gen, err := PinyinDict(bzip2.NewReader(rf), bzip2.NewReader(of), "x")
	if err != nil {
		t.Fatal(err)
	}
	strip := func(b []byte) string {
		var out []string
		for _, l := range strings.Split(string(b), "\n") {
			if !strings.HasPrefix(l, "#") {
				out = append(out, l)
			}
		}
		return strings.Join(out, "\n")
	}
	if strip(gen) != strip(data) {
		t.Error("static/pinyin.txt differs from what the installed Unihan gives: run go generate ./kiosk/ui")
	}
}

func FuzzParsePinyinDict(f *testing.F) {
	f.Add([]byte("# x\nle\t了乐\nlv\t绿\n"))
	f.Add([]byte("le\t\n"))
	f.Add([]byte("LE\t了\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParsePinyinDict(b)
		if err != nil {
			return
		}
		for s, rs := range d {
			if s == "" || len(rs) == 0 {
				t.Fatalf("accepted an empty entry %q", s)
			}
		}
	})
}
