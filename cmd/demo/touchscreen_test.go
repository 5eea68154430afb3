package main

import (
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/qingshan-gov/veinkiosk/kiosk"
	"github.com/qingshan-gov/veinkiosk/simulators/deck"
)

// kbType fills a text box from the on-screen keyboard: letters in ABC
// mode, digits and '-' in 123 mode.
func (s screen) kbType(sel, text string) {
	s.t.Helper()
	s.click(sel)
	s.click("#kbclear")
	mode := "abc"
	for _, r := range text {
		want := "abc"
		if r >= '0' && r <= '9' || r == '-' {
			want = "digits"
		}
		if want != mode {
			s.click(`#keyboard button[data-k="@` + want + `"]`)
			mode = want
		}
		s.click(`#keyboard button[data-k="` + string(r) + `"]`)
	}
	s.click("#kbok")
}

// pinyin types syllables on the pinyin keyboard, choosing each character.
func (s screen) pinyin(pairs ...string) {
	s.t.Helper()
	for i := 0; i+1 < len(pairs); i += 2 {
		for _, r := range pairs[i] {
			s.click(`#keyboard button[data-k="` + string(r) + `"]`)
		}
		cand := `#kbcands button[data-cand="` + pairs[i+1] + `"]`
		for page := 0; s.count(cand) == 0; page++ {
			if page > 40 || s.count(`#kbcands button[data-nav="more"]`) == 0 {
				s.t.Fatalf("%s not among the candidates of %s", pairs[i+1], pairs[i])
			}
			s.click(`#kbcands button[data-nav="more"]`)
		}
		s.click(cand)
	}
}

// TestBrowserEveryServiceFromTheTouchscreen files every service of the
// real server's catalogue from the kiosk screen alone, against the real
// server, drivers and simulators: choices by touch, numbers, accounts and
// phones on the keypad, free text from the common answers or typed on the
// pinyin keyboard (names, certificate numbers), missing fields named.
func TestBrowserEveryServiceFromTheTouchscreen(t *testing.T) {
	d := startDemo(t, "--residents", "1000", "--enrol-now", "40")
	ctx, w, k, o := d.ctx, d.w, d.k, d.o
	s := d.openScreen(8 * time.Minute)
	s.wait("ready", func(v kiosk.View) bool { return v.Phase == "idle" && v.ServerUp })

	// A resident of 60 or more (the senior card asks for it), enrolled.
	var who *deck.Resident
	for _, r := range w.enrol[:o.enrolNow] {
		if r.Age(time.Now()) >= 60 && validCard(r, time.Now()) && w.enrolled(r.IDNumber) {
			who = r
			break
		}
	}
	if who == nil {
		t.Fatal("no enrolled resident of 60 or more with a valid card")
	}
	if err := verify(ctx, w, k, who); err != nil {
		t.Fatal(err)
	}
	v := s.wait("menu", func(v kiosk.View) bool { return v.Phase == "menu" })
	var codes []string
	certifies := false
	for _, sv := range v.Services {
		if sv.Certification {
			// The proof of life has no form to file: the resident (60 or
			// more, a pensioner in the demo) is offered it; its journey is
			// kiosk's TestBrowserProofOfLife.
			certifies = true
			continue
		}
		codes = append(codes, sv.Code)
	}
	if !certifies {
		t.Errorf("the pensioner is not offered the proof of life: %v", codes)
	}
	if len(codes) < 6 {
		t.Fatalf("catalogue %v", codes)
	}
	filed := map[string]string{}
	untranslated := map[string]string{}
	for i, code := range codes {
		if i > 0 {
			// Another service: the filing spent the token, so the finger
			// again, then the menu.
			// The receipt screen is redrawn when the print state arrives: a
			// click on the button being replaced is lost, so it is given
			// again while the kiosk still shows the receipt.
			for try := 0; ; try++ {
				s.click(`button[data-act="back"]`)
				v, err := k.wait(ctx, "finger again", 10*time.Second, func(v kiosk.View) bool { return v.Phase == "place_finger" })
				if err == nil {
					break
				}
				if try == 3 || v.Phase != "receipt" {
					t.Fatalf("after back on the receipt: %v", err)
				}
			}
			time.Sleep(200 * time.Millisecond)
			for try := 0; ; try++ {
				if err := w.vein.PlaceResident(who.IDNumber, 2); err != nil {
					t.Fatal(err)
				}
				v := s.wait("menu again", func(v kiosk.View) bool { return v.Phase == "menu" || v.Hint != "" && v.Hint != "reverify" })
				w.vein.RemoveFinger()
				if v.Phase == "menu" {
					break
				}
				if try > 2 {
					t.Fatalf("finger again: %s", v.Hint)
				}
				time.Sleep(300 * time.Millisecond)
			}
		}
		s.click(`button[data-act="choose"][data-arg="` + code + `"]`)
		v := s.wait("form "+code, func(v kiosk.View) bool { return v.Phase == "form" })
		// English: every choice of the catalogue in English too.
		s.click("#lang")
		s.wait("english", func(v kiosk.View) bool { return v.Lang == "en" })
		txt, err := chromedp.Run(s.ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("#formtable .choices button")].map((b) => b.textContent).join("|")`))
		if err != nil {
			t.Fatal(err)
		}
		// Every choice in English: the catalogue's choices_en.
		for _, r := range txt {
			if unicode.Is(unicode.Han, r) {
				untranslated[code] = txt
				break
			}
		}
		s.click("#lang")
		s.wait("chinese", func(v kiosk.View) bool { return v.Lang == "zh" })
		// Confirm at once: every required empty field is named.
		var empty []string
		for _, f := range v.Form.Fields {
			if f.Editable && f.Required && f.Value == "" {
				empty = append(empty, f.LabelZH)
			}
		}
		if len(empty) > 0 {
			s.click(`button[data-act="confirm"]`)
			v := s.wait("missing named", func(v kiosk.View) bool { return v.Problem == "missing" })
			if strings.Join(v.Missing, "、") != strings.Join(empty, "、") {
				t.Fatalf("%s: missing %v, want %v", code, v.Missing, empty)
			}
			if s.count("tr.missing") != len(empty) {
				t.Fatalf("%s: %d rows marked, want %d", code, s.count("tr.missing"), len(empty))
			}
		}
		for _, f := range v.Form.Fields {
			if !f.Editable || f.Value != "" {
				continue
			}
			switch {
			case len(f.Choices) > 0:
				s.click(`button[data-act="edit"][data-arg="` + f.Key + `"]`) // the first choice
			case f.Kind == "number" || f.Kind == "digits" || f.Kind == "phone" || f.Kind == "integer" || f.Kind == "id_number" || f.Kind == "date":
				val := map[string]string{"number": "20", "integer": "2", "phone": "13847200000", "date": "20261201"}[f.Kind]
				switch f.Kind {
				case "digits": // an account or certificate number, as long as the field takes
					val = strings.Repeat("6", min(max(f.MaxLen, 12), 30))
				case "id_number": // another resident's number (a spouse, a child)
					val = w.people[len(w.people)-1].IDNumber
				}
				s.click(`button[data-act="keypad"][data-arg="` + f.Key + `"]`)
				for _, r := range val {
					s.click(`#keypad button[data-key="` + string(r) + `"]`)
				}
				s.click("#padok")
			case f.Kind == "text":
				s.click(`button[data-act="keyboard"][data-arg="` + f.Key + `"]`)
				switch {
				case len(f.Suggestions) > 0:
					s.click(`#kbcommon button.kbanswer`) // the first common answer
				case strings.HasSuffix(f.LabelZH, "号"):
					// A certificate number: the keyboard's 123 keys.
					s.click(`#keyboard button[data-k="@digits"]`)
					for _, r := range "15020719450101123441" {
						s.click(`#keyboard button[data-k="` + string(r) + `"]`)
					}
				default:
					s.pinyin("wang", "王", "li", "丽") // a name
				}
				if code == codes[0] || f.Key == "emergency_contact" {
					s.shot("real-kb-" + code + "-" + f.Key)
				}
				s.click("#kbok")
			default:
				t.Fatalf("%s: no touch input for field %s of kind %q", code, f.Key, f.Kind)
			}
			s.wait(f.Key+" filled", func(v kiosk.View) bool {
				for _, g := range v.Form.Fields {
					if g.Key == f.Key {
						return g.Value != ""
					}
				}
				return false
			})
		}
		s.click(`button[data-act="confirm"]`)
		v = s.wait("receipt "+code, func(v kiosk.View) bool { return v.Phase == "receipt" || v.Problem != "" && v.Problem != "missing" })
		if v.Phase != "receipt" {
			t.Fatalf("%s: not filed: %s %v", code, v.Problem, v.Missing)
		}
		filed[code] = v.Receipt.Reference
	}
	s.shot("real-every-service-last-receipt")
	if len(filed) != len(codes) {
		t.Fatalf("filed %v of %v", filed, codes)
	}
	t.Logf("filed from the touchscreen: %v", filed)
	for code, txt := range untranslated {
		t.Errorf("%s: a choice in Chinese on the English screen: %q", code, txt)
	}
}

// hold presses on sel's centre for d (a long press), then lets go.
func (s screen) hold(sel string, d time.Duration) {
	s.t.Helper()
	type pt struct{ X, Y float64 }
	p, err := chromedp.Run(s.ctx, chromedp.Evaluate[pt](`(() => { const r = document.querySelector('`+sel+`').getBoundingClientRect(); return {X: r.x + r.width / 2, Y: r.y + r.height / 2}; })()`))
	if err != nil {
		s.t.Fatalf("hold %s: %v", sel, err)
	}
	if err := chromedp.Do(s.ctx, chromedp.MouseEvent(input.DispatchMouseEventTypeMousePressed, p.X, p.Y, chromedp.ButtonLeft, chromedp.ClickCount(1))); err != nil {
		s.t.Fatalf("hold %s: %v", sel, err)
	}
	time.Sleep(d)
	if err := chromedp.Do(s.ctx, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseReleased, p.X, p.Y, chromedp.ButtonLeft, chromedp.ClickCount(1))); err != nil {
		s.t.Fatalf("hold %s: %v", sel, err)
	}
}

// pinType types a PIN on the keypad of the PIN box sel.
func (s screen) pinType(sel, pin string) {
	s.t.Helper()
	s.click(sel)
	for _, r := range pin {
		s.click(`#keypad button[data-key="` + string(r) + `"]`)
	}
	s.click("#padok")
}
