package matcher

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestGalleryFile: a gallery written to a file and opened (memory-mapped)
// searches exactly as the original, with and without preselection; a
// limit keeps the first templates; a mapped gallery still takes Add and
// Remove; a damaged file is refused.
func TestGalleryFile(t *testing.T) {
	gl, _, probes := testGallery(t, GalleryOptions{}, 30)
	gl.Remove("subject-004") // a free subject slot in the file
	path := filepath.Join(t.TempDir(), "g.vkgf")
	var buf bytes.Buffer
	if err := gl.WriteGalleryFile(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	mapped, err := OpenGalleryFile(path, GalleryOptions{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if mapped.Len() != gl.Len() || !slices.Equal(mapped.Subjects(), gl.Subjects()) || mapped.Groups() != gl.Groups() {
		t.Fatalf("mapped %d templates %d groups, original %d %d", mapped.Len(), mapped.Groups(), gl.Len(), gl.Groups())
	}
	ctx := context.Background()
	for _, p := range probes {
		for _, so := range []SearchOptions{{}, {Preselect: 5}, {Preselect: 5, Representatives: 1}} {
			want, _ := gl.SearchWith(ctx, p, 4, so)
			got, err := mapped.SearchWith(ctx, p, 4, so)
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("%+v: mapped %v, original %v (%v)", so, got, want, err)
			}
		}
	}
	// The first 10 templates: the subjects enrolled first.
	head, err := OpenGalleryFile(path, GalleryOptions{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if head.Len() != 10 || len(head.Subjects()) != 3 {
		t.Fatalf("limit 10: %d templates, subjects %v", head.Len(), head.Subjects())
	}
	if mapped.Remove("subject-001") != 4 {
		t.Fatal("remove from a mapped gallery")
	}
	tp := probes["subject-002/2"]
	if err := mapped.Add("new", 3, tp); err != nil {
		t.Fatal(err)
	}
	if got, _ := mapped.Search(ctx, tp, 1); got[0].Subject != "new" {
		t.Fatalf("after Add: %v", got)
	}
	// The file is unchanged (copy on write).
	if b, _ := os.ReadFile(path); !bytes.Equal(b, buf.Bytes()) {
		t.Fatal("the mapped gallery wrote to its file")
	}
	for name, b := range map[string][]byte{
		"truncated": buf.Bytes()[:buf.Len()-8],
		"magic":     append([]byte("XKGF"), buf.Bytes()[4:]...),
		"short":     buf.Bytes()[:30],
	} {
		bad := filepath.Join(t.TempDir(), name)
		_ = os.WriteFile(bad, b, 0o600)
		if _, err := OpenGalleryFile(bad, GalleryOptions{}, 0); !errors.Is(err, ErrGalleryFile) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzOpenGalleryFile(f *testing.F) {
	gl, _, _ := testGallery(f, GalleryOptions{}, 2)
	var buf bytes.Buffer
	if err := gl.WriteGalleryFile(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(buf.Bytes()[:200])
	f.Add([]byte("VKGF\x01\x00\x00\x00"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "g")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		g, err := OpenGalleryFile(path, GalleryOptions{}, 0)
		if err != nil {
			return
		}
		// Whatever opened must be searchable.
		_, _ = g.Search(context.Background(), gl.ref, 3)
	})
}
