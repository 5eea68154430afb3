package api

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
)

// TestLoginLimiterCanonicalUsername attacks the per-username login limit
// with variants of one username (padded, upper-case, full-width): they are
// one key, so the eleventh attempt is refused even with the right password.
func TestLoginLimiterCanonicalUsername(t *testing.T) {
	e := newEnv(t)
	e.mustStaff("zhang", "station_staff", "", "QS-S01")
	ctx := context.Background()
	variants := []string{" zhang", "zhang\t", "ＺＨＡＮＧ", "Zhang", "\u3000zhang\r\n", "ｚｈａｎｇ", "zhang "}
	for i := 0; i < 10; i++ { // the limiter's burst
		_, err := e.client().Login(ctx, variants[i%len(variants)], "wrong password!")
		wantCode(t, err, apiv1.CodeBadCredentials)
	}
	for _, v := range append(variants, "zhang") {
		_, err := e.client().Login(ctx, v, testPassword)
		wantCode(t, err, apiv1.CodeRateLimited)
	}
}

// TestLoginCanonicalUsername: every variant of a username logs in to the
// one account, and the session carries the canonical name.
func TestLoginCanonicalUsername(t *testing.T) {
	e := newEnv(t)
	st := e.mustStaff("zhang", "station_staff", "", "QS-S01")
	for _, v := range []string{" zhang", "zhang\t", "ＺＨＡＮＧ", "Zhang"} {
		sess, err := e.client().Login(context.Background(), v, testPassword)
		if err != nil {
			t.Fatalf("login %q: %v", v, err)
		}
		if sess.StaffID != st.ID || sess.Username != "zhang" {
			t.Errorf("login %q: staff %d %q", v, sess.StaffID, sess.Username)
		}
	}
	// A username created through the API is stored canonical, and taken
	// in any form.
	admin := e.mustStaff("root", "admin", "", "")
	_ = admin
	c := e.login("root")
	var made apiv1.Staff
	if err := c.Do(context.Background(), "POST", apiv1.PathAdminStaff, apiv1.StaffCreate{Username: " Ｗang.Li ", Role: "station_staff", Station: "QS-S01", Password: "long enough password"}, &made); err != nil {
		t.Fatal(err)
	}
	if made.Username != "wang.li" {
		t.Errorf("created %q, want wang.li", made.Username)
	}
	err := c.Do(context.Background(), "POST", apiv1.PathAdminStaff, apiv1.StaffCreate{Username: "WANG.LI", Role: "station_staff", Station: "QS-S01", Password: "long enough password"}, nil)
	wantCode(t, err, apiv1.CodeConflict)
}

// personWithX returns an enrolled-able person whose ID number ends in the
// check character X.
func (e *env) personWithX(name string) *person {
	e.t.Helper()
	for d := 0; d < 200; d++ {
		birth := time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, d)
		n, err := identity.MakeIDNumber("150204", identity.DateOf(birth), (seq+1)*2+1)
		if err != nil {
			e.t.Fatal(err)
		}
		if n[17] == 'X' {
			return e.newPerson(name, birth)
		}
	}
	e.t.Fatal("no ID number with X in 200 days")
	return nil
}

// TestLockEscalationCanonicalID attacks the lock escalation with variants
// of one ID number ("...x", "...X", padded, full-width): the second lock
// of the day doubles whatever form the card's number came in.
func TestLockEscalationCanonicalID(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.KioskFailures = 100 })
	ctx := context.Background()
	e.mustStaff("zhang", "station_staff", "", "QS-S01")
	k := e.newKiosk("kiosk-01")
	p := e.personWithX("钱多")
	if !strings.HasSuffix(p.card.IDNumber, "X") {
		t.Fatalf("person %s has no X", p.card.Masked())
	}
	e.enrol(e.atKiosk(k, "zhang"), p)
	impostor := e.newPerson("孙少", time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC))
	as := func(id string) *person { q := *p; q.card.IDNumber = id; return &q }
	canon := p.card.IDNumber
	lower := strings.ToLower(canon)
	fullWidth := []rune{}
	for _, r := range canon {
		fullWidth = append(fullWidth, r+0xFEE0) // '0'-'9', 'X' to their full-width forms
	}

	lockWith := func(ids ...string) *apiv1.Error {
		t.Helper()
		var err error
		for i := 0; i < 5; i++ {
			_, err = k.Verify(ctx, e.verifyRequest(k, as(ids[i%len(ids)]), impostor.fingers[apiv1.RightIndex]))
		}
		wantCode(t, err, apiv1.CodeLocked)
		return err.(*apiv1.Error)
	}
	first := lockWith(lower, " "+lower+"\t")
	if first.RetryAfterSeconds > 300 {
		t.Fatalf("first lock lasts %d s, want the base 5 min", first.RetryAfterSeconds)
	}
	e.clock.Add(6 * time.Minute)
	// The genuine finger, under a lower-case number, finds the resident.
	must[*apiv1.VerifyResponse](t)(k.Verify(ctx, e.verifyRequest(k, as(lower), p.fingers[apiv1.RightIndex])))
	second := lockWith(canon, string(fullWidth))
	if second.RetryAfterSeconds < 500 {
		t.Fatalf("second lock of one identity (x, then X) lasts %d s, want doubled to 10 min", second.RetryAfterSeconds)
	}
	// Locked under every form.
	for _, id := range []string{canon, lower, string(fullWidth)} {
		_, err := k.Verify(ctx, e.verifyRequest(k, as(id), p.fingers[apiv1.RightIndex]))
		wantCode(t, err, apiv1.CodeLocked)
	}
}

// TestOpenAPICard checks the card's schema in the OpenAPI document: the
// identity types are strings on the wire, and the validity period (an
// embedded struct) stays required.
func TestOpenAPICard(t *testing.T) {
	e := newEnv(t)
	doc := e.srv.OpenAPI()
	card := doc["components"].(map[string]any)["schemas"].(map[string]any)["Card"].(map[string]any)
	props := card["properties"].(map[string]any)
	for _, f := range []string{"id_number", "name", "sex", "nation", "birth_date", "address", "issuing_authority", "valid_from", "valid_until"} {
		p, ok := props[f].(map[string]any)
		if !ok || p["type"] != "string" {
			t.Errorf("card.%s: %v", f, props[f])
		}
	}
	if len(props) != 9 {
		t.Errorf("card has %d properties, want the 9 of the wire format: %v", len(props), props)
	}
	if p := props["valid_until"].(map[string]any)["pattern"].(string); !regexp.MustCompile(p).MatchString(identity.LongTermText) || !regexp.MustCompile(p).MatchString("2040-01-01") {
		t.Errorf("valid_until pattern %q", p)
	}
	req := map[string]bool{}
	for _, r := range card["required"].([]string) {
		req[r] = true
	}
	if len(req) != 4 || !req["id_number"] || !req["name"] || !req["valid_from"] || !req["valid_until"] {
		t.Errorf("card required %v, want id_number, name, valid_from, valid_until", card["required"])
	}
}
