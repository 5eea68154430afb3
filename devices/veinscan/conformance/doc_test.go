package conformance

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDocumentCitesEveryRequirement: the conformance table of
// docs/scanner-protocol.md lists every requirement with its section, and
// every section a requirement cites is a heading of the document (so the
// report's links resolve).
func TestDocumentCitesEveryRequirement(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "..", Document))
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^#{2,4} (.+)$`).FindAllStringSubmatch(string(doc), -1) {
		anchors[Anchor(m[1])] = true
	}
	rows := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^\| ([a-z]+\.[a-z-]+) \| .* \| \[(.+)\]\(#([^)]+)\) \|$`).FindAllStringSubmatch(string(doc), -1) {
		rows[m[1]] = m[2]
		if !anchors[m[3]] {
			t.Errorf("table row %s links to #%s, which is no heading", m[1], m[3])
		}
	}
	for _, r := range Requirements() {
		sec, ok := rows[r.ID]
		switch {
		case !ok:
			t.Errorf("%s is not in the document's conformance table", r.ID)
		case sec != r.Section:
			t.Errorf("%s: the document says section %q, the kit %q", r.ID, sec, r.Section)
		}
		if a := strings.TrimPrefix(r.Ref(), Document+"#"); !anchors[a] {
			t.Errorf("%s cites %q, which is no heading of %s", r.ID, r.Section, Document)
		}
		delete(rows, r.ID)
	}
	for id := range rows {
		t.Errorf("the document lists %s, which the kit does not check", id)
	}
}

func TestAnchor(t *testing.T) {
	for in, want := range map[string]string{
		"SET_LED (0x04) and GET_LED (0x05)": "set_led-0x04-and-get_led-0x05",
		"Partial-frame time-out":            "partial-frame-time-out",
		"Order of checks":                   "order-of-checks",
	} {
		if got := Anchor(in); got != want {
			t.Errorf("Anchor(%q) = %q, want %q", in, got, want)
		}
	}
}
