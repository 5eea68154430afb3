package api

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
)

// apiv1Codes parses server/apiv1/errors.go and returns the value of every
// Code... constant, so a constant added without a status is caught.
func apiv1Codes(t *testing.T) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../apiv1/errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, sp := range gd.Specs {
			vs := sp.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if !strings.HasPrefix(n.Name, "Code") || i >= len(vs.Values) {
					continue
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Fatalf("%s is not a string literal", n.Name)
				}
				v, _ := strconv.Unquote(lit.Value)
				out[n.Name] = v
			}
		}
	}
	if len(out) < 40 {
		t.Fatalf("found only %d Code constants in apiv1/errors.go", len(out))
	}
	return out
}

// docCodes reads the "Error codes" table of docs/api.md.
func docCodes(t *testing.T) map[string]int {
	t.Helper()
	b, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "\n## Error codes\n")
	if !ok {
		t.Fatal(`docs/api.md has no "## Error codes" section`)
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	row := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| (\\d{3}) \\|")
	out := map[string]int{}
	for _, m := range row.FindAllStringSubmatch(sec, -1) {
		st, _ := strconv.Atoi(m[2])
		if _, dup := out[m[1]]; dup {
			t.Errorf("docs/api.md lists %s twice", m[1])
		}
		out[m[1]] = st
	}
	return out
}

// TestErrorCodeStatuses checks the one code -> status table: every Code
// constant of apiv1 has a status, every status is an error status, and
// docs/api.md and the OpenAPI document list exactly the same table.
func TestErrorCodeStatuses(t *testing.T) {
	table := apiv1.ErrorCodes()
	consts := apiv1Codes(t)
	values := map[string]bool{}
	for name, code := range consts {
		if values[code] {
			t.Errorf("code %q is the value of two constants", code)
		}
		values[code] = true
		st, ok := apiv1.HTTPStatus(code)
		if !ok {
			t.Errorf("apiv1.%s (%q) has no HTTP status", name, code)
			continue
		}
		if st < 400 || st > 599 {
			t.Errorf("apiv1.%s: status %d is not an error status", name, st)
		}
	}
	for code := range table {
		if !values[code] {
			t.Errorf("the status table has %q, which is no Code constant", code)
		}
	}
	if docs := docCodes(t); !maps.Equal(docs, table) {
		for _, c := range slices.Sorted(maps.Keys(table)) {
			if docs[c] != table[c] {
				t.Errorf("docs/api.md: %s is %d, the table says %d", c, docs[c], table[c])
			}
		}
		for c := range docs {
			if _, ok := table[c]; !ok {
				t.Errorf("docs/api.md lists %s, which the table does not", c)
			}
		}
	}

	e := newEnv(t)
	resp, err := e.srv.App().Test(httptestGet(apiv1.PathOpenAPI), -1)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	var doc struct {
		Codes map[string]int `json:"x-error-codes"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(doc.Codes, table) {
		t.Errorf("OpenAPI x-error-codes = %v, want %v", doc.Codes, table)
	}
}

// TestErrorStatusFromTable checks that the status written is the table's,
// whatever the handler: an API error of every code is answered with the
// code's status, and a code outside the table with 500.
func TestErrorStatusFromTable(t *testing.T) {
	for code, want := range apiv1.ErrorCodes() {
		if got := errf(code, "x").status(); got != want {
			t.Errorf("errf(%q).status() = %d, want %d", code, got, want)
		}
	}
	if got := errf("no_such_code", "x").status(); got != 500 {
		t.Errorf("unknown code: status %d, want 500", got)
	}
}
