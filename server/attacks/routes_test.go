package attacks

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/password"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// The route table is the one place that says who may use a route
// (server/api routes.go); the OpenAPI document is generated from it and
// states it (security, x-roles). TestAttackRouteTableRoles takes the
// document as the claim and walks every route over HTTP with no
// credentials and with a session of every role, and checks the refusal is
// the one the claim implies: nothing answers more than it says.

// openAPIOp is what the walk reads of an operation.
type openAPIOp struct {
	Security []map[string][]string `json:"security"`
	Roles    []string              `json:"x-roles"`
}

// publicRoutes are the routes meant to be used without any credential.
var publicRoutes = []string{
	"GET /healthz", "GET /readyz", "GET /metrics", "GET " + apiv1.PathOpenAPI,
	"POST " + apiv1.PathSessions, "GET " + apiv1.PathDibaoNotice, "GET /notice/dibao",
	"GET /office", "POST /office/login",
}

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// gridWorkerInStore creates a grid worker of cell with a cheap password.
func (tg *target) gridWorkerInStore(username, cell string) {
	tg.t.Helper()
	h, err := password.HashWith(pw, cheap())
	if err != nil {
		tg.t.Fatal(err)
	}
	if _, err := tg.st.CreateStaff(tg.ctx(), audit.System("console"), store.Staff{Username: username, Role: store.RoleGridWorker, GridCell: cell, PasswordHash: h}); err != nil {
		tg.t.Fatal(err)
	}
}

func TestAttackRouteTableRoles(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		ctx := tg.ctx()
		doc := tg.do(tg.request("GET", apiv1.PathOpenAPI, nil))
		var spec struct {
			Paths map[string]map[string]openAPIOp `json:"paths"`
		}
		if doc.status != 200 || json.Unmarshal(doc.body, &spec) != nil || len(spec.Paths) == 0 {
			t.Fatalf("openapi: %d", doc.status)
		}
		// One account of every role; an API session and an office cookie each.
		roles := []store.Role{store.RoleStationStaff, store.RoleDepartmentOfficer, store.RoleSupervisor, store.RoleGridWorker, store.RoleAdmin}
		tg.staffInStore("r-station", store.RoleStationStaff, "", tg.station)
		tg.staffInStore("r-officer", store.RoleDepartmentOfficer, "civil_affairs", "")
		tg.staffInStore("r-supervisor", store.RoleSupervisor, "", tg.station)
		tg.gridWorkerInStore("r-grid", "G-017")
		tg.staffInStore("r-admin", store.RoleAdmin, "", "")
		bearer, cookie, csrf := map[store.Role]string{}, map[store.Role]string{}, map[store.Role]string{}
		for _, r := range roles {
			u := "r-" + map[store.Role]string{store.RoleStationStaff: "station", store.RoleDepartmentOfficer: "officer",
				store.RoleSupervisor: "supervisor", store.RoleGridWorker: "grid", store.RoleAdmin: "admin"}[r]
			bearer[r] = tg.login(u).StaffToken
			c, _ := tg.officeLogin(u)
			cookie[r] = c.Value
			home := tg.office("GET", "/office", nil, c.Value)
			if home.status == http.StatusSeeOther { // the grid worker lands on the grid page
				home = tg.office("GET", home.resp.Header.Get("Location"), nil, c.Value)
			}
			m := csrfField.FindStringSubmatch(home.body)
			if m == nil {
				t.Fatalf("%s: no csrf token on the office home (%d)", r, home.status)
			}
			csrf[r] = m[1]
		}
		k := tg.newKiosk("kiosk-walk")
		// The staff of the kiosk's station also log in at it with a PIN:
		// the only sessions its staff endpoints take.
		pinBearer := map[store.Role]string{}
		for r, u := range map[store.Role]string{store.RoleStationStaff: "r-station", store.RoleSupervisor: "r-supervisor"} {
			tg.pinInStore(u, staffPIN)
			s, err := k.KioskStaffLogin(ctx, u, staffPIN)
			if err != nil {
				t.Fatalf("PIN login of %s: %v", u, err)
			}
			pinBearer[r] = s.Token
		}

		var ops []string
		for p, item := range spec.Paths {
			for m := range item {
				ops = append(ops, strings.ToUpper(m)+" "+p)
			}
		}
		sort.Strings(ops)
		var public []string
		checked := 0
		for _, op := range ops {
			method, path, _ := strings.Cut(op, " ")
			o := spec.Paths[path][strings.ToLower(method)]
			uri := pathParam.ReplaceAllString(path, "999999")
			body := []byte("{}")
			if method == "GET" {
				body = nil
			}
			allowed := func(r store.Role) bool { return len(o.Roles) == 0 || slices.Contains(o.Roles, string(r)) }
			call := func(tok string, signed bool) reply {
				var req *http.Request
				if signed {
					req = k.signed(method, uri, body, tg.clock.Now())
				} else {
					req = tg.request(method, uri, body)
				}
				if tok != "" {
					req.Header.Set("Authorization", "Bearer "+tok)
				}
				got := tg.do(req)
				if cc := got.header.Get("Cache-Control"); cc != "no-store" {
					t.Errorf("%s (signed %v): Cache-Control %q, want no-store", op, signed, cc)
				}
				return got
			}
			api := func(r store.Role, signed bool) reply { return call(bearer[r], signed) }
			var schemes []string
			for _, s := range o.Security {
				for name := range s {
					schemes = append(schemes, name)
				}
			}
			sort.Strings(schemes)
			switch strings.Join(schemes, "+") {
			case "":
				public = append(public, op)
			case "kioskSignature":
				api("", false).want(t, http.StatusUnauthorized, apiv1.CodeSignatureMissing)
			case "kioskSignature+staffBearer":
				api("", false).want(t, http.StatusUnauthorized, apiv1.CodeSignatureMissing)
				api("", true).want(t, http.StatusUnauthorized, apiv1.CodeUnauthenticated)
				for _, r := range roles {
					// An office (password) session is refused before its role.
					api(r, true).want(t, http.StatusForbidden, apiv1.CodeKioskSessionRequired)
				}
				for r, tok := range pinBearer {
					if op == "DELETE "+apiv1.PathKioskStaffLogout {
						continue // logging out at the kiosk is walked last
					}
					got := call(tok, true)
					if !allowed(r) {
						got.want(t, http.StatusForbidden, apiv1.CodeForbidden)
					} else if got.code == apiv1.CodeUnauthenticated || got.code == apiv1.CodeForbidden {
						t.Errorf("%s as %s (allowed): %d %s", op, r, got.status, got.code)
					}
				}
			case "staffBearer":
				api("", false).want(t, http.StatusUnauthorized, apiv1.CodeUnauthenticated)
				for _, tok := range pinBearer {
					// A kiosk's PIN session is valid only in its kiosk's
					// signed staff requests.
					call(tok, false).want(t, http.StatusForbidden, apiv1.CodeSessionKioskBound)
					call(tok, true).want(t, http.StatusForbidden, apiv1.CodeSessionKioskBound)
				}
				for _, r := range roles {
					if allowed(r) && op == "DELETE "+apiv1.PathSessionCurrent {
						continue // logging out is walked last
					}
					got := api(r, false)
					if !allowed(r) {
						if got.status != http.StatusForbidden || got.code != apiv1.CodeForbidden {
							t.Errorf("ATTACK NOT REFUSED AS EXPECTED: %s as %s: %d %q (%.200s), want 403 forbidden", op, r, got.status, got.code, got.body)
						}
					} else if got.code == apiv1.CodeUnauthenticated || got.code == apiv1.CodeForbidden {
						t.Errorf("%s as %s (allowed): %d %s", op, r, got.status, got.code)
					}
				}
			case "officeCookie":
				var form url.Values
				if method == "POST" {
					form = url.Values{}
				}
				if got := tg.office(method, uri, form, ""); got.status != http.StatusSeeOther || got.resp.Header.Get("Location") != "/office" {
					t.Errorf("ATTACK NOT REFUSED AS EXPECTED: %s without a session: %d", op, got.status)
				}
				for _, r := range roles {
					got := tg.office(method, uri, form, cookie[r])
					// The call screen's chime is the one asset a browser may keep.
					if cc := got.resp.Header.Get("Cache-Control"); cc != "no-store" && op != "GET /office/assist/chime.wav" {
						t.Errorf("%s as %s: Cache-Control %q, want no-store", op, r, cc)
					}
					switch {
					case !allowed(r):
						if got.status != http.StatusForbidden {
							t.Errorf("ATTACK NOT REFUSED AS EXPECTED: %s as %s: %d, want 403", op, r, got.status)
						}
						if method == "POST" {
							// Not even with the session's own CSRF token.
							if got := tg.office(method, uri, url.Values{"csrf": {csrf[r]}}, cookie[r]); got.status != http.StatusForbidden {
								t.Errorf("ATTACK NOT REFUSED AS EXPECTED: %s as %s with csrf: %d, want 403", op, r, got.status)
							}
						}
					case method == "POST":
						// Every form of the back office needs the session's CSRF token.
						if got.status != http.StatusForbidden || !strings.Contains(got.body, "表单已过期") {
							t.Errorf("ATTACK NOT REFUSED AS EXPECTED: %s as %s without csrf: %d", op, r, got.status)
						}
						if op == "POST /office/logout" {
							break // would end the session the walk goes on with
						}
						if got := tg.office(method, uri, url.Values{"csrf": {csrf[r]}}, cookie[r]); got.status == http.StatusForbidden || got.status == http.StatusSeeOther && got.resp.Header.Get("Location") == "/office" {
							t.Errorf("%s as %s (allowed) with csrf: %d", op, r, got.status)
						}
					default:
						if got.status == http.StatusForbidden || got.status == http.StatusSeeOther && got.resp.Header.Get("Location") == "/office" {
							t.Errorf("%s as %s (allowed): %d", op, r, got.status)
						}
					}
				}
			default:
				t.Errorf("%s: unknown security %v", op, schemes)
			}
			checked++
		}
		// Only the routes meant to be public are.
		sort.Strings(public)
		want := slices.Clone(publicRoutes)
		sort.Strings(want)
		if !slices.Equal(public, want) {
			t.Errorf("public routes = %v, want %v", public, want)
		}
		for _, op := range public {
			method, path, _ := strings.Cut(op, " ")
			var body []byte
			if method == "POST" && path == apiv1.PathSessions {
				body = []byte(`{"username":"nobody","password":"nothing"}`)
			}
			if path == "/office/login" || path == "/office" {
				continue // pages, walked by the office attacks
			}
			got := tg.do(tg.request(method, path, body))
			if got.header.Get("Cache-Control") != "no-store" {
				t.Errorf("%s: Cache-Control %q", op, got.header.Get("Cache-Control"))
			}
		}
		if checked < 100 {
			t.Fatalf("walked %d operations: the document lists fewer than expected", checked)
		}
		// Last: logging out at the kiosk ends a PIN session.
		for _, tok := range pinBearer {
			atK := k.WithStaff(tok)
			must(t, atK.Do(ctx, "DELETE", apiv1.PathKioskStaffLogout, nil, nil))
			refused(t, atK.Do(ctx, "DELETE", apiv1.PathKioskStaffLogout, nil, nil), http.StatusUnauthorized, apiv1.CodeUnauthenticated)
		}
		// Last: logging out, every role, ends the session.
		for _, r := range roles {
			api := tg.client().WithStaff(bearer[r])
			must(t, api.Do(ctx, "DELETE", apiv1.PathSessionCurrent, nil, nil))
			refused(t, api.Do(ctx, "GET", apiv1.PathSessionCurrent, nil, nil), http.StatusUnauthorized, apiv1.CodeUnauthenticated)
		}
	})
}
