package deck

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary JSON to Load (a deck file is user input of
// devsim --deck and veinctl --deck): it must never panic, and a deck it
// accepts must save and load again to the same bytes, with every resident
// found by ID number and every card encodable.
func FuzzLoad(f *testing.F) {
	var buf bytes.Buffer
	if err := Generate(3, 20).Save(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(`{"seed":1,"as_of":"2026-11-01","residents":[]}`))
	f.Add([]byte(`{"seed":1,"residents":[null]}`))
	f.Add([]byte(`{"residents":[{"id_number":"150204199003071235","name":"张三","card_type":"resident","gender":"1","nation":"01","birth_date":"1990-03-07"}]}`))
	f.Add([]byte(`{"residents":[{"id_number":"150204199003071235"},{"id_number":"150204199003071235"}]}`))
	f.Add([]byte(`{"seed":1,"extra":true}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Load(bytes.NewReader(data))
		if err != nil {
			if d != nil {
				t.Fatal("a deck and an error")
			}
			return
		}
		for _, r := range d.Residents {
			if got, ok := d.Lookup(strings.ToLower(r.IDNumber)); !ok || got != r {
				if got, ok = d.Lookup(r.IDNumber); !ok || got != r {
					t.Fatalf("Lookup(%q) = %v, %v", r.IDNumber, got, ok)
				}
			}
			if _, err := r.Card(); err != nil {
				t.Fatalf("accepted resident %s has no card: %v", r.IDNumber, err)
			}
		}
		var a, b bytes.Buffer
		if err := d.Save(&a); err != nil {
			t.Fatal(err)
		}
		d2, err := Load(bytes.NewReader(a.Bytes()))
		if err != nil {
			t.Fatalf("a saved deck does not load: %v\n%s", err, a.Bytes())
		}
		if err := d2.Save(&b); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Fatalf("save/load/save differs:\n%s\n%s", a.Bytes(), b.Bytes())
		}
	})
}
