package reports

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"
)

func TestDefault(t *testing.T) {
	k := Default()
	if len(k.Kinds) != 27 || len(k.Units) != 13 {
		t.Fatalf("%d kinds, %d units; want 27 and 13", len(k.Kinds), len(k.Units))
	}
	used := map[string]bool{}
	for _, kd := range k.Kinds {
		used[kd.Unit] = true
	}
	for _, u := range k.Units {
		if !used[u.Code] {
			t.Errorf("unit %s has no kind", u.Code)
		}
	}
	if kd, ok := k.Kind("cold_radiator"); !ok || kd.Unit != "heating" || kd.DeadlineDays != 3 {
		t.Errorf("cold_radiator: %+v %v", kd, ok)
	}
	if _, ok := k.Kind("nope"); ok {
		t.Error("unknown kind found")
	}
}

func TestParseProblems(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"unknown key", `{"format":"veinkiosk-report-kinds/1","version":1,"units":[],"kinds":[],"extra":1}`, "unknown field"},
		{"format", `{"format":"x","version":1,"units":[{"code":"a","name":"甲","name_en":"A"}],"kinds":[{"code":"k","name":"乙","name_en":"K","unit":"a","deadline_days":3}]}`, "format:"},
		{"han in name_en", `{"format":"veinkiosk-report-kinds/1","version":1,"units":[{"code":"a","name":"甲","name_en":"A"}],"kinds":[{"code":"k","name":"乙","name_en":"About 低保","unit":"a","deadline_days":3}]}`, "Chinese characters"},
		{"unit missing", `{"format":"veinkiosk-report-kinds/1","version":1,"units":[{"code":"a","name":"甲","name_en":"A"}],"kinds":[{"code":"k","name":"乙","name_en":"K","unit":"b","deadline_days":3}]}`, `kinds[0].unit: "b"`},
		{"deadline", `{"format":"veinkiosk-report-kinds/1","version":1,"units":[{"code":"a","name":"甲","name_en":"A"}],"kinds":[{"code":"k","name":"乙","name_en":"K","unit":"a","deadline_days":0}]}`, "deadline_days: 0"},
		{"repeated", `{"format":"veinkiosk-report-kinds/1","version":1,"units":[{"code":"a","name":"甲","name_en":"A"}],"kinds":[{"code":"k","name":"乙","name_en":"K","unit":"a","deadline_days":1},{"code":"k","name":"乙","name_en":"K","unit":"a","deadline_days":1}]}`, `"k" repeated`},
		{"bad code", `{"format":"veinkiosk-report-kinds/1","version":1,"units":[{"code":"A b","name":"甲","name_en":"A"}],"kinds":[]}`, "units[0].code"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}

func pngOf(w, h int) []byte {
	img := image.NewGray(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.Gray{Y: 200})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// PNGClaiming returns a tiny PNG whose header claims w x h pixels.
func pngClaiming(w, h uint32) []byte {
	b := pngOf(1, 1)
	// IHDR data starts at byte 16: width, height; the CRC follows the 13 data bytes.
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

func TestCheckPhoto(t *testing.T) {
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, image.NewGray(image.Rect(0, 0, 8, 8)), nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		b       []byte
		typ     string
		wantErr error
	}{
		{"png", pngOf(64, 48), "image/png", nil},
		{"jpeg", jb.Bytes(), "image/jpeg", nil},
		{"empty", nil, "", ErrPhotoType},
		{"gif", []byte("GIF89a\x01\x00\x01\x00"), "", ErrPhotoType},
		{"html", []byte("<html><script>alert(1)</script>"), "", ErrPhotoType},
		{"png signature, garbage", append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0}, 64)...), "", ErrPhotoType},
		{"jpeg signature, png body", append([]byte("\xff\xd8\xff"), pngOf(2, 2)...), "", ErrPhotoType},
		{"oversized file", append(pngOf(4, 4), make([]byte, MaxPhotoBytes)...), "", ErrPhotoTooLarge},
		{"decompression bomb header", pngClaiming(100000, 100000), "", ErrPhotoTooLarge},
		{"just too wide", pngClaiming(MaxPhotoSide+1, 1), "", ErrPhotoTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			typ, err := CheckPhoto(tc.b)
			if !errors.Is(err, tc.wantErr) || typ != tc.typ {
				t.Fatalf("CheckPhoto = %q, %v; want %q, %v", typ, err, tc.typ, tc.wantErr)
			}
		})
	}
}

func FuzzCheckPhoto(f *testing.F) {
	f.Add(pngOf(3, 3))
	f.Add(pngClaiming(5000, 1))
	f.Add([]byte("\xff\xd8\xff\xe0"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		typ, err := CheckPhoto(b)
		if err == nil && typ != "image/png" && typ != "image/jpeg" {
			t.Fatalf("accepted as %q", typ)
		}
		if err != nil && !errors.Is(err, ErrPhotoType) && !errors.Is(err, ErrPhotoTooLarge) {
			t.Fatalf("unwrapped error %v", err)
		}
	})
}

func FuzzParse(f *testing.F) {
	f.Add(defaultJSON)
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("unwrapped error %v", err)
			}
			return
		}
		for _, kd := range k.Kinds {
			if _, ok := k.Unit(kd.Unit); !ok {
				t.Fatalf("kind %s routed to unknown unit", kd.Code)
			}
		}
	})
}
