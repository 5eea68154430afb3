package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qingshan-gov/veinkiosk/server/catalogue"
)

// TestLoadCatalogue: --catalogue loads a valid document and refuses an
// invalid one naming the file and the problem.
func TestLoadCatalogue(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(good, catalogue.DefaultJSON(), 0o644)
	os.WriteFile(bad, bytes.Replace(catalogue.DefaultJSON(), []byte(`"deadline_days": 30`), []byte(`"deadline_days": 0`), 1), 0o644)
	if c, err := loadCatalogue(""); c != nil || err != nil {
		t.Errorf("no flag: %v %v", c, err)
	}
	if c, err := loadCatalogue(good); err != nil || len(c.Services()) != 42 {
		t.Errorf("good file: %v", err)
	}
	_, err := loadCatalogue(bad)
	if !errors.Is(err, catalogue.ErrInvalid) || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "deadline_days") {
		t.Errorf("bad file: %v", err)
	}
	if _, err := loadCatalogue(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("missing file accepted")
	}
}
