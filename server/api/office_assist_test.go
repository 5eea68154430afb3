package api

import (
	"context"
	"encoding/binary"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// TestOfficeAssist: a kiosk's call appears on its station's staff screen
// (reason, time in Asia/Shanghai, flagged as new, counted in the
// navigation) and not on another station's; the page may play its chime
// (and only this page: media-src 'self'); a forged form is refused;
// 已处理 removes the call and is audited like the API's ack; another
// station's staff cannot answer it; officers have no such screen.
func TestOfficeAssist(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.st.CreateStation(ctx, audit.System("test"), store.Station{ID: "QS-S02", Name: "青山二站"}); err != nil {
		t.Fatal(err)
	}
	k := e.newKiosk("K1")
	e.mustStaff("liu", store.RoleStationStaff, "", "QS-S01")
	e.mustStaff("wu", store.RoleStationStaff, "", "QS-S02")
	e.mustStaff("sun", store.RoleSupervisor, "", "QS-S01")
	e.mustStaff("officer", store.RoleDepartmentOfficer, "civil", "")
	liu, wu, sun := officeLogin(t, e, "liu"), officeLogin(t, e, "wu"), officeLogin(t, e, "sun")

	resp, body := liu.do("GET", "/office/assist", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "目前没有待处理的呼叫") || strings.Contains(body, `class="nav-count"`) ||
		!strings.Contains(body, `http-equiv="refresh" content="5; url=/office/assist?seen=0"`) {
		t.Fatalf("empty screen %d: %s", resp.StatusCode, body)
	}
	at := e.clock.Now()
	var call apiv1.AssistCall
	if err := k.Do(ctx, "POST", apiv1.PathKioskAssist, apiv1.AssistRequest{Reason: apiv1.AssistPrinter}, &call); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(3 * time.Minute)
	seq := fmtInt(call.Seq)
	resp, body = liu.do("GET", "/office/assist?seen=0", nil)
	for _, want := range []string{`id="call-` + seq + `" class="new"`, "K1", "打印机故障", at.In(identity.ChinaTime).Format("2006-01-02 15:04:05"), "3 分钟前", `id="assist-alert"`,
		`<span class="nav-count">1</span>`, "（1）呼叫工作人员", "seen=" + seq} {
		if !strings.Contains(body, want) {
			t.Fatalf("station 1's screen lacks %q: %s", want, body)
		}
	}
	if !strings.Contains(body, `<audio id="assist-chime" src="/office/assist/chime.wav" autoplay>`) {
		t.Fatalf("no chime for a new call: %s", body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); csp != officeCSP+"; media-src 'self'" {
		t.Fatalf("screen's CSP %q", csp)
	}
	resp, chime := liu.do("GET", "/office/assist/chime.wav", nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "audio/wav" || !strings.HasPrefix(chime, "RIFF") || chime[8:16] != "WAVEfmt " ||
		int(binary.LittleEndian.Uint32([]byte(chime[4:8]))) != len(chime)-8 || int(binary.LittleEndian.Uint32([]byte(chime[40:44]))) != len(chime)-44 {
		t.Fatalf("chime: %d %q, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(chime))
	}
	// Other office pages keep the script- and media-free policy.
	if resp, _ = liu.do("GET", "/office/pin", nil); resp.Header.Get("Content-Security-Policy") != officeCSP {
		t.Fatalf("PIN page's CSP %q", resp.Header.Get("Content-Security-Policy"))
	}
	// Seen before: still listed and counted, no longer flagged.
	if _, body = liu.do("GET", "/office/assist?seen="+seq, nil); !strings.Contains(body, `id="call-`+seq+`"`) || strings.Contains(body, `class="new"`) || strings.Contains(body, "assist-alert") || strings.Contains(body, "<audio") || !strings.Contains(body, "有 1 个呼叫待处理") {
		t.Fatalf("seen call flagged again: %s", body)
	}
	// The supervisor of the station sees it too, and the count on another page.
	if _, body = sun.do("GET", "/office", nil); !strings.Contains(body, `href="/office/assist">呼叫工作人员<span class="nav-count">1</span>`) {
		t.Fatalf("supervisor's navigation: %s", body)
	}
	// Another station: nothing, and cannot answer.
	if _, body = wu.do("GET", "/office/assist", nil); strings.Contains(body, "call-"+seq) || !strings.Contains(body, "目前没有待处理的呼叫") {
		t.Fatalf("station 2 sees station 1's call: %s", body)
	}
	if resp, _ = wu.do("POST", "/office/assist/"+seq+"/ack", url.Values{"csrf": {wu.csrf}}); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("another station's ack: %d", resp.StatusCode)
	}
	// CSRF required.
	if resp, body = liu.do("POST", "/office/assist/"+seq+"/ack", url.Values{"csrf": {"forged"}}); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "表单已过期") {
		t.Fatalf("forged ack: %d %s", resp.StatusCode, body)
	}
	if resp, _ = liu.do("POST", "/office/assist/"+seq+"/ack", url.Values{}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("ack without a token: %d", resp.StatusCode)
	}
	// Officers have no station and no such screen.
	officer := officeLogin(t, e, "officer")
	for _, path := range []string{"/office/assist", "/office/assist/chime.wav"} {
		if resp, _ = officer.do("GET", path, nil); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("officer %s: %d", path, resp.StatusCode)
		}
	}
	resp, _ = liu.do("POST", "/office/assist/"+seq+"/ack", url.Values{"csrf": {liu.csrf}, "seen": {seq}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/office/assist?seen="+seq {
		t.Fatalf("ack: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, body = liu.do("GET", "/office/assist?seen="+seq, nil); strings.Contains(body, "call-"+seq) || strings.Contains(body, `class="nav-count"`) {
		t.Fatalf("answered call still listed: %s", body)
	}
	// The API says the same, and the answer is audited once.
	var l apiv1.AssistList
	if err := e.login("liu").Do(ctx, "GET", apiv1.PathAssist, nil, &l); err != nil || len(l.Calls) != 1 || !l.Calls[0].Acked {
		t.Fatalf("API after the office ack: %+v %v", l, err)
	}
	liu.do("POST", "/office/assist/"+seq+"/ack", url.Values{"csrf": {liu.csrf}})
	recs, err := e.st.ListAudit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	acks := 0
	for _, r := range recs {
		if r.Action == "assist.ack" && r.Target == "assist:"+seq {
			acks++
			if r.Actor.Type != audit.ActorStaff {
				t.Fatalf("ack by %+v", r.Actor)
			}
		}
	}
	if acks != 1 {
		t.Fatalf("%d ack records", acks)
	}
	if resp, _ = liu.do("GET", "/office/assist?seen=x", nil); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad seen: %d", resp.StatusCode)
	}
}
