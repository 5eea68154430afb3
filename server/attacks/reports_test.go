package attacks

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"net/http"
	"testing"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// Attacks on residents' issue reports (docs/reports.md): the photo upload,
// another unit's or station's reports, and the database in hand.

// noisePNG is a PNG of random pixels: its bytes occur nowhere else.
func noisePNG(t *testing.T, seed uint64) []byte {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	img := image.NewGray(image.Rect(0, 0, 64, 64))
	for i := range img.Pix {
		img.Pix[i] = uint8(r.Uint32())
	}
	img.Set(0, 0, color.Gray{Y: 1})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func (tg *target) kioskReport(k *kiosk, req apiv1.SubmitReportRequest) reply {
	tg.t.Helper()
	body, err := json.Marshal(req)
	if err != nil {
		tg.t.Fatal(err)
	}
	return tg.do(k.signed("POST", apiv1.PathKioskReports, body, tg.clock.Now()))
}

// TestAttackReportPhotoUpload: an oversized photo, a file that is not an
// image, an image that lies about its size are refused (held), before the
// token is spent and without a row stored.
func TestAttackReportPhotoUpload(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		s := tg.enrolledStation("kiosk-01")
		vr := mustV[*apiv1.VerifyResponse](t)(s.k.Verify(tg.ctx(), tg.verifyRequest(s.k, s.p, s.p.fingers[apiv1.RightIndex])))
		good := apiv1.SubmitReportRequest{Token: vr.Token, Kind: "illegal_building", Description: "院内私搭乱建", Photo: noisePNG(t, 1), IdempotencyKey: "attack-report-00000001"}
		bomb := noisePNG(t, 2)
		bomb[16], bomb[17] = 0x7f, 0xff // width 2^31-ish; the CRC no longer matches
		for _, a := range []struct {
			name   string
			photo  []byte
			status int
			code   string
		}{
			{"2 MiB + 1 of PNG", append(noisePNG(t, 3), make([]byte, 2<<20)...), 413, apiv1.CodePhotoTooLarge},
			{"HTML with script", []byte("<!doctype html><script>fetch('/api/v1/admin/staff')</script>"), 415, apiv1.CodePhotoInvalid},
			{"SVG with script", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`), 415, apiv1.CodePhotoInvalid},
			{"PNG signature then a script", append([]byte("\x89PNG\r\n\x1a\n"), []byte("<script>alert(1)</script>")...), 415, apiv1.CodePhotoInvalid},
			{"JPEG signature then a PNG", append([]byte("\xff\xd8\xff"), noisePNG(t, 4)...), 415, apiv1.CodePhotoInvalid},
			{"header claiming a huge image", bomb, 415, apiv1.CodePhotoInvalid},
		} {
			r := good
			r.Photo = a.photo
			got := tg.kioskReport(s.k, r)
			if got.status != a.status || got.code != a.code {
				t.Errorf("ATTACK NOT REFUSED AS EXPECTED (%s): got %d %q, want %d %q", a.name, got.status, got.code, a.status, a.code)
			}
		}
		if n := tg.count("SELECT COUNT(*) FROM reports"); n != 0 {
			t.Fatalf("ATTACK SUCCEEDED: %d reports stored from refused uploads", n)
		}
		// The token was not spent: the honest report goes through.
		if got := tg.kioskReport(s.k, good); got.status != 201 {
			t.Fatalf("the honest report after the attacks: %d %s", got.status, got.body)
		}
	})
}

// TestAttackReportOtherUnitOrStation: an officer of another unit and the
// staff of another station cannot read, download the photo of or process
// a report; to them it does not exist (held).
func TestAttackReportOtherUnitOrStation(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		s := tg.enrolledStation("kiosk-01")
		vr := mustV[*apiv1.VerifyResponse](t)(s.k.Verify(tg.ctx(), tg.verifyRequest(s.k, s.p, s.p.fingers[apiv1.RightIndex])))
		var rep apiv1.Report
		got := tg.kioskReport(s.k, apiv1.SubmitReportRequest{Token: vr.Token, Kind: "noise", Description: "广场舞音响太大", Photo: noisePNG(t, 5), IdempotencyKey: "attack-report-00000002"})
		if got.status != 201 || json.Unmarshal(got.body, &rep) != nil {
			t.Fatalf("report: %d %s", got.status, got.body)
		}
		tg.station2("QS-S99")
		tg.staffInStore("other-officer", store.RoleDepartmentOfficer, "heating", "")
		tg.staffInStore("other-staff", store.RoleStationStaff, "", "QS-S99")
		tg.staffInStore("own-officer", store.RoleDepartmentOfficer, "ecology", "")
		id := apiv1.PathReports + "/" + itoaAttack(rep.ID)
		for _, who := range []string{"other-officer", "other-staff"} {
			c := tg.login(who)
			refused(t, c.Do(tg.ctx(), "GET", id, nil, nil), 404, apiv1.CodeReportNotFound)
			req := tg.request("GET", id+"/photo", nil)
			req.Header.Set("Authorization", "Bearer "+c.StaffToken)
			if r := tg.do(req); r.status != 404 || bytes.Contains(r.body, []byte("PNG")) {
				t.Errorf("ATTACK SUCCEEDED: %s fetched the photo: %d", who, r.status)
			}
			var l apiv1.ReportList
			if err := c.Do(tg.ctx(), "GET", apiv1.PathReports+"?unit=ecology", nil, &l); err != nil || len(l.Reports) != 0 {
				t.Errorf("ATTACK SUCCEEDED: %s listed %d reports (%v)", who, len(l.Reports), err)
			}
		}
		refused(t, tg.login("other-officer").Do(tg.ctx(), "POST", id+"/action", apiv1.ReportAction{Action: "close", Reply: "不归我们管"}, nil), 404, apiv1.CodeReportNotFound)
		refused(t, tg.login("other-staff").Do(tg.ctx(), "POST", id+"/action", apiv1.ReportAction{Action: "accept"}, nil), 403, apiv1.CodeForbidden)
		// The own unit's officer gets the image, served so that a browser
		// cannot run it.
		req := tg.request("GET", id+"/photo", nil)
		req.Header.Set("Authorization", "Bearer "+tg.login("own-officer").StaffToken)
		r := tg.do(req)
		if r.status != http.StatusOK || r.header.Get("Content-Type") != "image/png" || r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("own unit's photo: %d %v", r.status, r.header)
		}
	})
}

// TestAttackReportPlaintext: a stolen database holds neither a report's
// words nor its photo nor the answer in clear (held).
func TestAttackReportPlaintext(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		s := tg.enrolledStation("kiosk-01")
		vr := mustV[*apiv1.VerifyResponse](t)(s.k.Verify(tg.ctx(), tg.verifyRequest(s.k, s.p, s.p.fingers[apiv1.RightIndex])))
		photo := noisePNG(t, 6)
		words, place, answer := "邻居张某某每晚酗酒吵闹", "幸福路17号3单元", "已约谈当事人张某某"
		var rep apiv1.Report
		got := tg.kioskReport(s.k, apiv1.SubmitReportRequest{Token: vr.Token, Kind: "neighbour_dispute", Description: words, Location: place, Photo: photo, IdempotencyKey: "attack-report-00000003"})
		if got.status != 201 || json.Unmarshal(got.body, &rep) != nil {
			t.Fatalf("report: %d %s", got.status, got.body)
		}
		tg.staffInStore("justice", store.RoleDepartmentOfficer, "justice", "")
		must(t, tg.login("justice").Do(tg.ctx(), "POST", apiv1.PathReports+"/"+itoaAttack(rep.ID)+"/action", apiv1.ReportAction{Action: "reply", Reply: answer}, nil))
		dump := tg.dump()
		for what, v := range map[string][]byte{"words": []byte(words), "place": []byte(place), "answer": []byte(answer), "photo": photo[len(photo)/2 : len(photo)/2+32]} {
			if bytes.Contains(dump, v) || bytes.Contains(dump, []byte(hexOf(v))) {
				t.Errorf("ATTACK SUCCEEDED: the report's %s is in the database in clear", what)
			}
		}
	})
}

func itoaAttack(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
