package api

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/store"
)

// postMultipart sends the desk form as a browser does.
func (b *officeBrowser) postMultipart(path string, fields map[string]string, photo []byte) (*http.Response, string) {
	b.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, v := range fields {
		_ = w.WriteField(k, v)
	}
	if photo != nil {
		fw, _ := w.CreateFormFile("photo", "photo.png")
		_, _ = fw.Write(photo)
	}
	w.Close()
	r, _ := http.NewRequest("POST", "http://centrald.test"+path, &body)
	r.Header.Set("Content-Type", w.FormDataContentType())
	r.Header.Set("Cookie", sessionCookie+"="+b.cookie)
	resp, err := b.e.srv.App().Test(r, -1)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp, readAll(b.t, resp)
}

// TestOfficeDeskReport: station staff file a report at the desk for a
// resident, with a photo; problems are said in Chinese with the form kept;
// a second submission of the same form files nothing new; other roles and
// forged forms are refused.
func TestOfficeDeskReport(t *testing.T) {
	e := newEnv(t)
	e.mustStaff("zhang", store.RoleStationStaff, "", "QS-S01")
	e.mustStaff("heat", store.RoleDepartmentOfficer, "heating", "")
	p := e.newPerson("吴玉兰", time.Date(1950, 8, 9, 0, 0, 0, 0, time.UTC))
	b := officeLogin(t, e, "zhang")
	resp, body := b.do("GET", "/office/reports/new", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `value="cold_radiator"`) || !strings.Contains(body, "供热办") {
		t.Fatalf("form: %d %s", resp.StatusCode, body)
	}
	key := regexp.MustCompile(`name="key" value="([^"]+)"`).FindStringSubmatch(body)[1]
	form := map[string]string{"csrf": b.csrf, "key": key, "id_number": p.card.IDNumber, "kind": "cold_radiator",
		"description": "老人家里暖气不热，室温十四度", "location": "6号楼1单元301"}
	for _, tc := range []struct {
		name  string
		mod   func(map[string]string)
		photo []byte
		want  string
	}{
		{"bad ID number", func(f map[string]string) { f["id_number"] = "150204195008090001" }, nil, "校验位不对"},
		{"unknown resident", func(f map[string]string) { f["id_number"] = "11010519491231002X" }, nil, "没有找到这个身份证号的居民"},
		{"no kind", func(f map[string]string) { f["kind"] = "" }, nil, "请选择问题类别"},
		{"unknown kind", func(f map[string]string) { f["kind"] = "ufo" }, nil, "请选择问题类别"},
		{"no words", func(f map[string]string) { f["description"] = "  " }, nil, "请填写居民反映的问题"},
		{"html as a photo", nil, []byte("<html><script>alert(1)</script></html>"), "照片须是JPEG或PNG图片"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := map[string]string{}
			for k, v := range form {
				f[k] = v
			}
			if tc.mod != nil {
				tc.mod(f)
			}
			resp, body := b.postMultipart("/office/reports/new", f, tc.photo)
			if resp.StatusCode != 422 || !strings.Contains(body, tc.want) || !strings.Contains(body, "6号楼1单元301") {
				t.Fatalf("%d, want 422 with %q and the form kept: %s", resp.StatusCode, tc.want, body)
			}
		})
	}
	if n := countAudit(t, e, "report.create"); n != 0 {
		t.Fatalf("%d reports filed by refused forms", n)
	}
	resp, body = b.postMultipart("/office/reports/new", form, testPNG(t, 64, 48))
	m := regexp.MustCompile(`id="reference">(QS-R-\d+-\d+)<`).FindStringSubmatch(body)
	if resp.StatusCode != 201 || m == nil || !strings.Contains(body, "由供热办承办") {
		t.Fatalf("filed: %d %s", resp.StatusCode, body)
	}
	// The same form again (a double click, a reload): the same report.
	_, body = b.postMultipart("/office/reports/new", form, testPNG(t, 64, 48))
	if !strings.Contains(body, `id="reference">`+m[1]+`<`) || countAudit(t, e, "report.create") != 1 {
		t.Fatalf("second submission filed another report: %s", body)
	}
	// The heating office sees it, with the photo.
	heat := e.login("heat")
	code, _, list := e.rawGet(heat, "/api/v1/reports")
	if code != 200 || !strings.Contains(string(list), m[1]) || !strings.Contains(string(list), `"has_photo":true`) || !strings.Contains(string(list), `"station_id":"QS-S01"`) {
		t.Fatalf("heating office's list: %d %s", code, list)
	}
	// A forged form, and an officer, are refused.
	f := map[string]string{}
	for k, v := range form {
		f[k] = v
	}
	f["csrf"], f["key"] = "forged", "desk-00000000000000000000000000000000"
	if resp, _ := b.postMultipart("/office/reports/new", f, nil); resp.StatusCode != 403 {
		t.Fatalf("forged CSRF: %d", resp.StatusCode)
	}
	hb := officeLogin(t, e, "heat")
	if resp, _ := hb.do("GET", "/office/reports/new", nil); resp.StatusCode != 403 {
		t.Fatalf("an officer opens the desk form: %d", resp.StatusCode)
	}
}

// TestOfficeReports: a unit's officer lists the unit's reports, opens one
// (the resident's words, the photo), and accepts and answers it from the
// page; problems are said in Chinese; another unit's report is not found.
func TestOfficeReports(t *testing.T) {
	e := newEnv(t)
	e.mustStaff("zhang", store.RoleStationStaff, "", "QS-S01")
	e.mustStaff("heat", store.RoleDepartmentOfficer, "heating", "")
	e.mustStaff("eco", store.RoleDepartmentOfficer, "ecology", "")
	p := e.newPerson("吴玉兰", time.Date(1950, 8, 9, 0, 0, 0, 0, time.UTC))
	desk := officeLogin(t, e, "zhang")
	_, body := desk.do("GET", "/office/reports/new", nil)
	key := regexp.MustCompile(`name="key" value="([^"]+)"`).FindStringSubmatch(body)[1]
	resp, body := desk.postMultipart("/office/reports/new", map[string]string{"csrf": desk.csrf, "key": key, "id_number": p.card.IDNumber,
		"kind": "cold_radiator", "description": "暖气不热，老人怕冷"}, testPNG(t, 32, 32))
	if resp.StatusCode != 201 {
		t.Fatalf("desk report: %d %s", resp.StatusCode, body)
	}
	b := officeLogin(t, e, "heat")
	resp, body = b.do("GET", "/office/reports", nil)
	m := regexp.MustCompile(`<a href="/office/reports/(\d+)">QS-R-`).FindStringSubmatch(body)
	if resp.StatusCode != 200 || m == nil || !strings.Contains(body, "暖气不热") {
		t.Fatalf("list: %d %s", resp.StatusCode, body)
	}
	path := "/office/reports/" + m[1]
	resp, body = b.do("GET", path, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "暖气不热，老人怕冷") || !strings.Contains(body, "吴玉兰") || !strings.Contains(body, path+"/photo") {
		t.Fatalf("report page: %d %s", resp.StatusCode, body)
	}
	if resp, _ := b.do("GET", path+"/photo", nil); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("photo: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, body = b.do("POST", path, url.Values{"action": {"reply"}, "csrf": {b.csrf}})
	if resp.StatusCode != 422 || !strings.Contains(body, "必须填写给居民的答复") {
		t.Fatalf("reply without words: %d %s", resp.StatusCode, body)
	}
	for _, a := range []string{"accept", "reply"} {
		resp, _ = b.do("POST", path, url.Values{"action": {a}, "reply": {"已派人上门排气"}, "csrf": {b.csrf}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s: %d", a, resp.StatusCode)
		}
	}
	resp, body = b.do("GET", path+"?done=reply", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "已答复") || !strings.Contains(body, "已派人上门排气") {
		t.Fatalf("answered: %s", body)
	}
	resp, body = b.do("POST", path, url.Values{"action": {"accept"}, "csrf": {b.csrf}})
	if resp.StatusCode != 422 || !strings.Contains(body, "不能受理") {
		t.Fatalf("accept after the answer: %d %s", resp.StatusCode, body)
	}
	if countAudit(t, e, "report.transition") != 2 {
		t.Error("the actions are not audited")
	}
	// Another unit's officer: no such report.
	eb := officeLogin(t, e, "eco")
	if resp, _ := eb.do("GET", path, nil); resp.StatusCode != 404 {
		t.Fatalf("another unit's report: %d", resp.StatusCode)
	}
	if resp, _ := eb.do("GET", path+"/photo", nil); resp.StatusCode != 404 {
		t.Fatalf("another unit's photo: %d", resp.StatusCode)
	}
}
