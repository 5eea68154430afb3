package attacks

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// Attacks by staff (a dishonest staff member) and on staff sessions (a
// hostile client, a network attacker in the browser's path).

// officeReply is a back-office page.
type officeReply struct {
	status int
	body   string
	resp   *http.Response
}

// office sends a back-office request (form-encoded when form is not nil)
// without following redirects.
func (tg *target) office(method, path string, form url.Values, cookie string) officeReply {
	tg.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, tg.base+path, body)
	if err != nil {
		tg.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie != "" {
		req.Header.Set("Cookie", "vk_session="+cookie)
	}
	hc := &http.Client{Transport: tg.hc.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		tg.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return officeReply{status: resp.StatusCode, body: string(b), resp: resp}
}

// officeLogin logs in on the back-office page and returns the session
// cookie.
func (tg *target) officeLogin(username string) (*http.Cookie, officeReply) {
	tg.t.Helper()
	r := tg.office("POST", "/office/login", url.Values{"username": {username}, "password": {pw}}, "")
	for _, c := range r.resp.Cookies() {
		if c.Name == "vk_session" {
			return c, r
		}
	}
	tg.t.Fatalf("office login %s: %d, no session cookie", username, r.status)
	return nil, r
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// filing makes a filing of service with values for p at s.
func (tg *target) filing(s *station, p *person, service string, values map[string]string) *apiv1.Filing {
	tg.t.Helper()
	vr := mustV[*apiv1.VerifyResponse](tg.t)(s.k.Verify(tg.ctx(), tg.verifyRequest(s.k, p, p.fingers[apiv1.RightIndex])))
	return mustV[*apiv1.Filing](tg.t)(s.k.SubmitFiling(tg.ctx(), &apiv1.SubmitFilingRequest{Token: vr.Token, Service: service,
		IdempotencyKey: fmt.Sprintf("attack-%020d", time.Now().UnixNano()), Values: values}))
}

var assistance = map[string]string{"emergency": "重大疾病", "amount": "3000", "description": "住院", "phone": "13900001111"}

func TestAttackRoleEscalation(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		tg.staffInStore("zhang", store.RoleStationStaff, "", tg.station)
		tg.staffInStore("boss", store.RoleSupervisor, "", "")
		tg.staffInStore("li", store.RoleDepartmentOfficer, "civil_affairs", "")
		staff, boss, li := tg.login("zhang"), tg.login("boss"), tg.login("li")
		ctx := tg.ctx()
		tests := []struct {
			name   string
			c      *apiv1.Client
			method string
			path   string
			body   any
			status int
			code   string
		}{
			{"station staff makes itself admin", staff, "POST", apiv1.PathAdminStaff, apiv1.StaffCreate{Username: "evil", Password: "long enough password", Role: "admin"}, 403, apiv1.CodeForbidden},
			{"supervisor creates an admin", boss, "POST", apiv1.PathAdminStaff, apiv1.StaffCreate{Username: "evil", Password: "long enough password", Role: "admin"}, 403, apiv1.CodeForbidden},
			{"officer registers a kiosk", li, "POST", apiv1.PathAdminKiosks, apiv1.KioskRegistration{ID: "evil", Station: tg.station, PublicKey: make([]byte, 32)}, 403, apiv1.CodeForbidden},
			{"officer trusts a maker key", li, "POST", apiv1.PathAdminMakers, apiv1.Maker{ID: "evil", PublicKey: make([]byte, 32)}, 403, apiv1.CodeForbidden},
			{"station staff reads filings", staff, "GET", apiv1.PathFilings, nil, 403, apiv1.CodeForbidden},
			{"station staff unlocks from outside a kiosk", staff, "POST", apiv1.PathLockoutUnlock, apiv1.LockoutUnlock{IDNumber: "150204195001010011", Reason: "x"}, 403, apiv1.CodeForbidden},
			{"officer unlocks", li, "POST", apiv1.PathLockoutUnlock, apiv1.LockoutUnlock{IDNumber: "150204195001010011", Reason: "x"}, 403, apiv1.CodeForbidden},
			{"officer overrides a duplicate case", li, "POST", apiv1.PathCases + "/1/override", apiv1.CaseDecision{Reason: "x"}, 403, apiv1.CodeForbidden},
			{"supervisor bulk-enrols templates", boss, "POST", apiv1.PathAdminBulkEnrol, apiv1.BulkEnrolRequest{}, 403, apiv1.CodeForbidden},
			{"officer reads the audit", li, "GET", apiv1.PathAdminAuditVerify, nil, 403, apiv1.CodeForbidden},
			{"anonymous lists staff", tg.client(), "GET", apiv1.PathAdminStaff, nil, 401, apiv1.CodeUnauthenticated},
			{"forged bearer", tg.client().WithStaff(strings.Repeat("A", 43)), "GET", apiv1.PathSessionCurrent, nil, 401, apiv1.CodeUnauthenticated},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				refused(t, tt.c.Do(ctx, tt.method, tt.path, tt.body, nil), tt.status, tt.code)
			})
		}
		// Enrolment is for station staff at a kiosk: a staff session alone
		// (no kiosk signature) does not reach it.
		t.Run("enrolment without a kiosk", func(t *testing.T) {
			refused(t, staff.Do(ctx, "POST", apiv1.PathKioskEnrolments, apiv1.EnrolRequest{}, nil), 401, apiv1.CodeSignatureMissing)
		})
		// A disabled account's open session stops at once.
		t.Run("disabled account keeps its session", func(t *testing.T) {
			var list apiv1.StaffList
			must(t, tg.admin.Do(ctx, "GET", apiv1.PathAdminStaff, nil, &list))
			var id int64
			for _, s := range list.Staff {
				if s.Username == "boss" {
					id = s.ID
				}
			}
			must(t, tg.admin.Do(ctx, "POST", fmt.Sprintf("%s/%d/disabled", apiv1.PathAdminStaff, id), map[string]bool{"disabled": true}, nil))
			refused(t, boss.Do(ctx, "GET", apiv1.PathFilingsOverdue, nil, nil), 401, apiv1.CodeUnauthenticated)
			_, err := tg.client().Login(ctx, "boss", pw)
			refused(t, err, 401, apiv1.CodeBadCredentials)
		})
	})
}

func TestAttackCrossDepartmentRead(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		s := tg.enrolledStation("kiosk-01")
		f := tg.filing(s, s.p, "temporary_assistance", assistance) // civil_affairs
		tg.staffInStore("wang", store.RoleDepartmentOfficer, "ageing", "")
		wang := tg.login("wang")
		ctx := tg.ctx()
		refused(t, wang.Do(ctx, "GET", fmt.Sprintf("%s/%d", apiv1.PathFilings, f.ID), nil, nil), 404, apiv1.CodeFilingNotFound)
		refused(t, wang.Do(ctx, "POST", fmt.Sprintf("%s/%d/decision", apiv1.PathFilings, f.ID), apiv1.Decision{Action: "accept", Reply: "ok"}, nil), 404, apiv1.CodeFilingNotFound)
		var fl apiv1.FilingList
		must(t, wang.Do(ctx, "GET", apiv1.PathFilings+"?department=civil_affairs", nil, &fl))
		if len(fl.Filings) != 0 {
			t.Fatalf("ATTACK SUCCEEDED: the ageing officer lists %d civil_affairs filings", len(fl.Filings))
		}
		// And on the back-office page.
		c, _ := tg.officeLogin("wang")
		r := tg.office("GET", fmt.Sprintf("/office/filings/%d", f.ID), nil, c.Value)
		if r.status != 403 || strings.Contains(r.body, "住院") || strings.Contains(r.body, s.p.card.Name) || !strings.Contains(r.body, "其他部门") {
			t.Fatalf("ATTACK SUCCEEDED: office page of another department's filing: %d %.300s", r.status, r.body)
		}
		r = tg.office("POST", fmt.Sprintf("/office/filings/%d", f.ID), url.Values{"action": {"accept"}, "reply": {"x"}, "csrf": {""}}, c.Value)
		if r.status != 403 {
			t.Fatalf("ATTACK NOT REFUSED AS EXPECTED: office decision on another department's filing: %d", r.status)
		}
	})
}

func TestAttackCSRF(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		s := tg.enrolledStation("kiosk-01")
		f := tg.filing(s, s.p, "temporary_assistance", assistance)
		tg.staffInStore("li", store.RoleDepartmentOfficer, "civil_affairs", "")
		c, _ := tg.officeLogin("li")
		if c.SameSite != http.SameSiteStrictMode || !c.HttpOnly {
			t.Fatalf("session cookie without SameSite=Strict and HttpOnly: %+v", c)
		}
		path := fmt.Sprintf("/office/filings/%d", f.ID)
		page := tg.office("GET", path, nil, c.Value)
		m := csrfField.FindStringSubmatch(page.body)
		if page.status != 200 || m == nil {
			t.Fatalf("filing page: %d, csrf field %v", page.status, m)
		}
		// A page on another site posts the decision form with the
		// officer's cookie (a browser without SameSite support) but cannot
		// read the token.
		for _, token := range []string{"", "guess", strings.Repeat("0", len(m[1]))} {
			r := tg.office("POST", path, url.Values{"action": {"accept"}, "reply": {"已批准"}, "csrf": {token}}, c.Value)
			if r.status != 403 || !strings.Contains(r.body, "表单已过期") {
				t.Fatalf("ATTACK NOT REFUSED AS EXPECTED: decision with csrf %q: %d", token, r.status)
			}
		}
		var got apiv1.Filing
		must(t, tg.login("li").Do(tg.ctx(), "GET", fmt.Sprintf("%s/%d", apiv1.PathFilings, f.ID), nil, &got))
		if got.Status != apiv1.FilingSubmitted {
			t.Fatalf("ATTACK SUCCEEDED: the filing is %s", got.Status)
		}
		// Logout is a POST with the token too.
		if r := tg.office("POST", "/office/logout", url.Values{}, c.Value); r.status != 403 {
			t.Fatalf("ATTACK NOT REFUSED AS EXPECTED: logout without csrf: %d", r.status)
		}
	})
}

func TestAttackSessionFixation(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		tg.staffInStore("li", store.RoleDepartmentOfficer, "civil_affairs", "")
		fixed := strings.Repeat("f", 43)
		// The attacker plants a cookie; the victim logs in with it set.
		r := tg.office("POST", "/office/login", url.Values{"username": {"li"}, "password": {pw}}, fixed)
		var issued string
		for _, c := range r.resp.Cookies() {
			if c.Name == "vk_session" {
				issued = c.Value
			}
		}
		if issued == "" || issued == fixed {
			t.Fatalf("ATTACK SUCCEEDED: login kept the planted session id (%q)", issued)
		}
		// The planted id is no session, on the page or the API.
		if p := tg.office("GET", "/office", nil, fixed); p.status != 200 || !strings.Contains(p.body, "工作人员登录") {
			t.Fatalf("ATTACK SUCCEEDED: the planted cookie opens the office (%d)", p.status)
		}
		refused(t, tg.client().WithStaff(fixed).Do(tg.ctx(), "GET", apiv1.PathSessionCurrent, nil, nil), 401, apiv1.CodeUnauthenticated)
		// Logging out ends the session for good.
		page := tg.office("GET", "/office", nil, issued)
		m := csrfField.FindStringSubmatch(page.body)
		if m == nil {
			t.Fatalf("no csrf field on the office page")
		}
		tg.office("POST", "/office/logout", url.Values{"csrf": {m[1]}}, issued)
		refused(t, tg.client().WithStaff(issued).Do(tg.ctx(), "GET", apiv1.PathSessionCurrent, nil, nil), 401, apiv1.CodeUnauthenticated)
	})
}

func TestAttackXSSThroughResidentData(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		const evil = `<script>alert(1)</script><img src=x onerror=alert(2)>`
		tg.staffInStore("zhang", store.RoleStationStaff, "", tg.station)
		k := tg.newKiosk("kiosk-01")
		sk := k.staffAt("zhang")
		p := tg.newPerson(evil, false) // the population database carries the name
		tg.enrol(sk, p)
		s := &station{k: k, staff: sk, p: p}
		v := map[string]string{"emergency": "其他", "amount": "1", "description": evil + `"'><svg onload=alert(3)>`, "phone": "13900001111"}
		f := tg.filing(s, p, "temporary_assistance", v)
		tg.staffInStore("li", store.RoleDepartmentOfficer, "civil_affairs", "")
		c, _ := tg.officeLogin("li")
		for _, path := range []string{"/office", fmt.Sprintf("/office/filings/%d", f.ID)} {
			r := tg.office("GET", path, nil, c.Value)
			if r.status != 200 {
				t.Fatalf("%s: %d", path, r.status)
			}
			for _, raw := range []string{"<script>alert", "<img src=x", "<svg onload"} {
				if strings.Contains(r.body, raw) {
					t.Fatalf("ATTACK SUCCEEDED: %s renders %q unescaped", path, raw)
				}
			}
			if csp := r.resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
				t.Fatalf("%s: no restrictive CSP (%q)", path, csp)
			}
		}
		if r := tg.office("GET", fmt.Sprintf("/office/filings/%d", f.ID), nil, c.Value); !strings.Contains(r.body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Fatal("the resident's name is not shown escaped on the filing page")
		}
	})
}

func TestAttackSQLInjection(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		ctx := tg.ctx()
		k := tg.newKiosk("kiosk-01")
		// (An unknown username costs a full password hash, by design: one.)
		_, err := tg.client().Login(ctx, `admin' OR '1'='1' --`, pw)
		refused(t, err, 401, apiv1.CodeBadCredentials)
		for _, pw := range []string{`' OR '1'='1`, `x' OR password_hash IS NOT NULL --`} {
			_, err = tg.client().Login(ctx, "admin", pw)
			refused(t, err, 401, apiv1.CodeBadCredentials)
		}
		card := apiv1.Card{IDNumber: `' OR 1=1 --`, Name: "x", Validity: identity.Validity{From: 20200101, Until: 20400101}}
		_, err = k.Verify(ctx, &apiv1.VerifyRequest{Card: card, Capture: apiv1.Capture{Finger: apiv1.RightIndex}})
		refused(t, err, 422, apiv1.CodeCardInvalid)
		refused(t, tg.admin.Do(ctx, "GET", apiv1.PathFilings+"?status="+url.QueryEscape(`submitted' OR '1'='1`), nil, nil), 400, apiv1.CodeBadRequest)
		refused(t, tg.admin.Do(ctx, "GET", apiv1.PathFilings+"?after="+url.QueryEscape(`0 OR 1=1`), nil, nil), 400, apiv1.CodeBadRequest)
		var fl apiv1.FilingList
		must(t, tg.admin.Do(ctx, "GET", apiv1.PathFilings+"?department="+url.QueryEscape(`x' OR '1'='1`)+"&service="+url.QueryEscape(`'; DELETE FROM filings; --`), nil, &fl))
		// A name that is SQL is stored as a name; the tables are intact.
		p := tg.newPerson(`Robert'); DROP TABLE residents;--`, false)
		s := tg.enrolledStation("kiosk-02")
		tg.enrol(s.staff, p)
		vr := mustV[*apiv1.VerifyResponse](t)(s.k.Verify(ctx, tg.verifyRequest(s.k, p, p.fingers[apiv1.RightIndex])))
		if vr.Resident.Name != p.card.Name {
			t.Fatalf("name came back as %q", vr.Resident.Name)
		}
		var st apiv1.StaffList
		must(t, tg.admin.Do(ctx, "GET", apiv1.PathAdminStaff, nil, &st))
		if len(st.Staff) < 2 {
			t.Fatalf("staff table damaged: %d accounts", len(st.Staff))
		}
	})
}

// rawRequest sends bytes exactly as written (no client path cleaning).
func (tg *target) rawRequest(t *testing.T, head string) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", tg.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprint(conn, head)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%q: %v", head, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b)
}

func TestAttackPathTraversal(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		c, _ := tg.officeLogin("admin")
		tests := []struct {
			path   string
			status int
			code   string
		}{
			{"/api/v1/../../../../etc/passwd", 404, apiv1.CodeNotFound},
			{"/api/v1/%2e%2e/%2e%2e/etc/passwd", 404, apiv1.CodeNotFound},
			{"/office/../../etc/passwd", 404, apiv1.CodeNotFound},
			{"/office/filings/..%2f..%2f..%2fetc%2fpasswd", 404, apiv1.CodeFilingNotFound},
			{"/office/filings/../../../../etc/shadow", 404, apiv1.CodeNotFound},
			{"/api/v1/openapi.json/../../../../proc/self/environ", 404, apiv1.CodeNotFound},
		}
		for _, tt := range tests {
			st, body := tg.rawRequest(t, "GET "+tt.path+" HTTP/1.1\r\nHost: x\r\nCookie: vk_session="+c.Value+"\r\nConnection: close\r\n\r\n")
			want := `"` + tt.code + `"` // the JSON error body; the back office answers with a page naming the code
			if strings.HasPrefix(tt.path, "/office") {
				want = `<code id="error-code">` + tt.code + `</code>`
			}
			if st != tt.status || !strings.Contains(body, want) || strings.Contains(body, "root:") {
				t.Errorf("ATTACK NOT REFUSED AS EXPECTED: GET %s: %d %.200s, want %d %s", tt.path, st, body, tt.status, tt.code)
			}
		}
		// A scanner serial with a traversal in an admin path.
		refused(t, tg.admin.Do(tg.ctx(), "POST", apiv1.PathAdminScanners+"/..%2F..%2Fetc%2Fpasswd/status", apiv1.StatusChange{Status: "revoked"}, nil), 404, apiv1.CodeNotFound)
	})
}

func TestAttackHostileJSON(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		k := tg.newKiosk("kiosk-01")
		now := tg.clock.Now()
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(bytes.Repeat([]byte(" "), 4<<20)) // 4 MiB in ~4 KiB: inflated, 16 times the limit
		zw.Close()
		deep := strings.Repeat(`[`, 12000) + strings.Repeat("]", 12000) // past encoding/json's depth limit
		tests := []struct {
			name   string
			req    *http.Request
			status int
			code   string
		}{
			{"truncated", k.signed("POST", apiv1.PathKioskVerify, []byte(`{"card":`), now), 400, apiv1.CodeBadRequest},
			{"trailing value", k.signed("POST", apiv1.PathKioskVerify, []byte(`{} {"card":{}}`), now), 400, apiv1.CodeBadRequest},
			{"unknown field", k.signed("POST", apiv1.PathKioskVerify, []byte(`{"card":{},"is_admin":true}`), now), 400, apiv1.CodeBadRequest},
			{"wrong type", k.signed("POST", apiv1.PathKioskVerify, []byte(`{"card":[1,2,3]}`), now), 400, apiv1.CodeBadRequest},
			{"deep nesting", k.signed("POST", apiv1.PathKioskVerify, []byte(`{"card":`+deep+`}`), now), 400, apiv1.CodeBadRequest},
			{"huge number", k.signed("POST", apiv1.PathKioskFilings, []byte(`{"token":"x","service":"x","idempotency_key":1e999999}`), now), 400, apiv1.CodeBadRequest},
			{"invalid UTF-8", k.signed("POST", apiv1.PathKioskVerify, []byte("{\"card\":{\"name\":\"\xff\xfe\"}}"), now), 422, apiv1.CodeCardInvalid},
			{"null body", k.signed("POST", apiv1.PathKioskVerify, []byte(`null`), now), 422, apiv1.CodeCardInvalid},
			{"not JSON", func() *http.Request {
				r := k.signed("POST", apiv1.PathKioskVerify, []byte(`{}`), now)
				r.Header.Set("Content-Type", "text/xml")
				return r
			}(), 415, apiv1.CodeUnsupportedMedia},
			{"decompression bomb", func() *http.Request {
				r := k.signed("POST", apiv1.PathKioskVerify, gz.Bytes(), now)
				r.Header.Set("Content-Encoding", "gzip")
				return r
			}(), 415, apiv1.CodeUnsupportedMedia},
			{"login username of 1 MB", tg.request("POST", apiv1.PathSessions, []byte(`{"username":"`+strings.Repeat("a", 200<<10)+`","password":"x"}`)), 401, apiv1.CodeBadCredentials},
			{"login duplicate keys", tg.request("POST", apiv1.PathSessions, []byte(`{"username":"admin","password":"wrong","password":"`+pw+`x"}`)), 401, apiv1.CodeBadCredentials},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tg.do(tt.req).want(t, tt.status, tt.code)
			})
		}
	})
}
