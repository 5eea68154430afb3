package catalogue

import (
	"errors"
	"testing"
)

// FuzzParse: any input either parses into a catalogue whose every service
// can be looked up and whose document parses again to the same catalogue,
// or is refused with a *catalogue.Error that names at least one problem;
// it never panics.
func FuzzParse(f *testing.F) {
	f.Add(DefaultJSON())
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"format":"veinkiosk-catalogue/1","version":1,"district":"青山区","categories":[{"code":"dibao","name":"低保","name_en":"d"}],` +
		`"units":[{"code":"u","name":"单位","name_en":"u"}],"services":[{"code":"s","name":"事项","name_en":"s","unit":"u","deadline_days":5,` +
		`"eligibility":{"any":[{"category":"dibao"},{"all":[{"age_at_least":60},{"registered_in":"青山区"}]}]},` +
		`"fields":[{"name":"n","label":"份数","label_en":"n","type":"integer","required":true,"min":1,"max":3}]}]}`))
	f.Add([]byte(`{"format":"veinkiosk-catalogue/1","version":1,"services":[{"fields":[{"use":"x"}]}]}`))
	f.Add([]byte(`[1,2,3]`))
	f.Add([]byte(`{"version":1e400}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) || len(ce.Problems) == 0 || !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not a *catalogue.Error with problems", err)
			}
			return
		}
		for _, s := range c.Services() {
			if _, ok := c.Service(s.Code); !ok {
				t.Fatalf("service %q listed but not found", s.Code)
			}
			c.Eligible(s.Code, Person{}, 20261206)
		}
		c2, err := Parse(c.JSON())
		if err != nil || c2.Version() != c.Version() || len(c2.Services()) != len(c.Services()) {
			t.Fatalf("the document does not parse again: %v", err)
		}
	})
}
