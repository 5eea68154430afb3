package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

func TestCheckNewPIN(t *testing.T) {
	for _, tc := range []struct {
		pin string
		ok  bool
	}{
		{"246813", true},
		{"318642", true},
		{"012345", false}, // a run up
		{"345678", false},
		{"890123", false}, // a run up through 0
		{"987654", false}, // a run down
		{"210987", false},
		{"111111", false},
		{"12345", false},
		{"1234567", false},
		{"12345a", false},
		{"１２３４５６", false},
		{"", false},
	} {
		err := checkNewPIN(tc.pin)
		var ae *apiError
		if tc.ok != (err == nil) || (err != nil && (!errors.As(err, &ae) || ae.detail.Code != apiv1.CodePINInvalid)) {
			t.Errorf("checkNewPIN(%q) = %v, want ok %v", tc.pin, err, tc.ok)
		}
	}
}

// TestOfficePIN: station staff set their own kiosk PIN on the back-office
// page, confirmed with their password; refusals are said in Chinese; the
// PIN then opens staff mode at a kiosk of their station, and setting it
// again unlocks a locked PIN.
func TestOfficePIN(t *testing.T) {
	e := newEnv(t)
	e.mustStaff("gao", store.RoleStationStaff, "", "QS-S01")
	e.mustStaff("li", store.RoleDepartmentOfficer, "civil_affairs", "")
	k := e.newKiosk("kiosk-pin")
	b := officeLogin(t, e, "gao")
	resp, body := b.do("GET", "/office", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `href="/office/pin"`) {
		t.Fatalf("station staff's office page has no link to the PIN page: %d", resp.StatusCode)
	}
	b.do("GET", "/office/pin", nil)
	post := func(pw, pin, pin2 string) (int, string) {
		t.Helper()
		resp, body := b.do("POST", "/office/pin", url.Values{"csrf": {b.csrf}, "password": {pw}, "pin": {pin}, "pin2": {pin2}})
		return resp.StatusCode, body
	}
	for _, tc := range []struct {
		name, pw, pin, pin2 string
		status              int
		want                string
	}{
		{"wrong password", "not it", "246813", "246813", 401, "登录密码不对"},
		{"mismatch", testPassword, "246813", "246814", 400, "两次输入的 PIN 码不一样"},
		{"a run", testPassword, "123456", "123456", 422, "不能是同一个数字或连续的数字"},
		{"not digits", testPassword, "24681a", "24681a", 422, "须为 6 位数字"},
	} {
		if code, body := post(tc.pw, tc.pin, tc.pin2); code != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d, want %d with %q", tc.name, code, tc.status, tc.want)
		}
	}
	if _, err := k.KioskStaffLogin(context.Background(), "gao", "246813"); apiv1.ErrorCode(err) != apiv1.CodeBadCredentials {
		t.Fatalf("a refused PIN was set: %v", err)
	}
	if code, body := post(testPassword, "246813", "246813"); code != 200 || !strings.Contains(body, "PIN 码已设置") {
		t.Fatalf("setting the PIN: %d", code)
	}
	s, err := k.KioskStaffLogin(context.Background(), "gao", "246813")
	if err != nil || s.Role != string(store.RoleStationStaff) {
		t.Fatalf("kiosk login with the PIN set in the office: %+v %v", s, err)
	}
	// A forged form (no CSRF token) is refused; officers have no PIN page.
	if resp, _ := b.do("POST", "/office/pin", url.Values{"password": {testPassword}, "pin": {"975318"}, "pin2": {"975318"}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("PIN form without CSRF: %d", resp.StatusCode)
	}
	if resp, _ := officeLogin(t, e, "li").do("GET", "/office/pin", nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("officer on the PIN page: %d", resp.StatusCode)
	}
}
