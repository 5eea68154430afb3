package ui

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// screenKeys are the prompt keys the UI can ask for (voice.js voiceKey):
// every session phase, problem and hint (from kiosk/session's constants)
// and every print outcome but "printing" (from kiosk/printing.go).
func screenKeys(t *testing.T) []string {
	t.Helper()
	var keys []string
	fset := token.NewFileSet()
	for _, file := range []string{"../session/machine.go", "../printing.go"} {
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					val, _ := strconv.Unquote(lit.Value)
					typ, _ := vs.Type.(*ast.Ident)
					switch n := name.Name; {
					case typ != nil && typ.Name == "Phase":
						keys = append(keys, "phase."+val)
					case strings.HasPrefix(n, "Problem"):
						keys = append(keys, "problem."+val)
					case strings.HasPrefix(n, "Hint"):
						keys = append(keys, "hint."+val)
					case strings.HasPrefix(n, "Print") && val != "printing":
						keys = append(keys, "print."+val)
					}
				}
			}
		}
	}
	if len(keys) < 40 {
		t.Fatalf("found only %d screen keys: %q", len(keys), keys)
	}
	return keys
}

// TestVoicePrompts: every screen, problem, hint and print outcome has a
// prompt text and its audio file; every file has a prompt; each file is
// Ogg Opus and small.
func TestVoicePrompts(t *testing.T) {
	b, err := FS.ReadFile("static/voice/prompts.json")
	if err != nil {
		t.Fatal(err)
	}
	var prompts map[string]string
	if err := json.Unmarshal(b, &prompts); err != nil {
		t.Fatal(err)
	}
	for _, k := range screenKeys(t) {
		if strings.TrimSpace(prompts[k]) == "" {
			t.Errorf("screen key %s has no prompt in prompts.json", k)
		}
	}
	files, err := fs.Glob(FS, "static/voice/*.opus")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	total := 0
	for _, f := range files {
		key := strings.TrimSuffix(strings.TrimPrefix(f, "static/voice/"), ".opus")
		have[key] = true
		data, _ := FS.ReadFile(f)
		total += len(data)
		if !bytes.HasPrefix(data, []byte("OggS")) || !bytes.Contains(data[:min(len(data), 200)], []byte("OpusHead")) {
			t.Errorf("%s is not Ogg Opus", f)
		}
		if len(data) > 40<<10 {
			t.Errorf("%s is %d bytes: keep prompts short", f, len(data))
		}
		if _, ok := prompts[key]; !ok {
			t.Errorf("%s has no prompt in prompts.json (run scripts/gen-voice.sh)", f)
		}
	}
	var missing []string
	for k := range prompts {
		if !have[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("prompts without audio (run scripts/gen-voice.sh): %q", missing)
	}
	t.Logf("%d prompts, %d bytes of audio", len(files), total)
}
