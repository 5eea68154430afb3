package api

import (
	"bytes"
	"encoding/binary"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
)

// The station's staff screen for calls from its kiosks (呼叫工作人员):
// the open calls, newest first, refreshed by the page itself. The office
// pages' CSP allows no script, so the page refreshes with a meta refresh
// every assistRefresh, carrying in its URL the newest call it has shown;
// a call newer than that is flagged and the page shows an alert banner.

// assistRefresh is how often the staff screen reloads itself.
const assistRefresh = 5 * time.Second

// assistReasons are the calls' reasons as the staff read them.
var assistReasons = map[string]string{
	apiv1.AssistResident: "居民求助",
	apiv1.AssistPrinter:  "打印机故障（回执未能打印）",
}

type officeAssistCall struct {
	Seq                    int64
	Kiosk, Reason, At, Ago string
	New                    bool
}

// countAssistNav fills the navigation's count of open calls for staff with
// a station (the link is there only for them); data's OpenCalls, when set,
// is the count already read. A count that cannot be read is left out: the
// page itself (an error page, perhaps) still shows.
func (s *Server) countAssistNav(c *fiber.Ctx, data map[string]any) {
	nav, _ := data["Nav"].([]navLink)
	i := slices.IndexFunc(nav, func(l navLink) bool { return l.Href == assistNav })
	sess := sessionOf(c)
	if i < 0 || sess == nil || sess.station == "" {
		return
	}
	n, ok := data["OpenCalls"].(int)
	if !ok {
		calls, err := s.assistCalls(c, sess.station)
		if err != nil {
			s.log.Warn("office navigation: open calls not counted", "err", err)
			return
		}
		n = len(openCalls(calls))
	}
	nav = slices.Clone(nav)
	nav[i].Count = n
	data["Nav"] = nav
}

// openCalls are the calls not yet acknowledged, newest first.
func openCalls(calls []apiv1.AssistCall) []apiv1.AssistCall {
	var open []apiv1.AssistCall
	for i := len(calls) - 1; i >= 0; i-- {
		if !calls[i].Acked {
			open = append(open, calls[i])
		}
	}
	return open
}

// ago says how long ago in Chinese, to the minute.
func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "刚刚"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + " 分钟前"
	case d < 24*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + " 小时前"
	default:
		return strconv.Itoa(int(d/(24*time.Hour))) + " 天前"
	}
}

// officeAssist shows the station's open calls. Query seen: the newest call
// the page has shown before (calls after it are new).
func (s *Server) officeAssist(c *fiber.Ctx) error {
	sess := sessionOf(c)
	if sess.station == "" {
		return officeForbidden("只有服务站的工作人员能看到本站的呼叫。")
	}
	seen, err := strconv.ParseInt(c.Query("seen", "0"), 10, 64)
	if err != nil || seen < 0 {
		return badRequest("bad seen")
	}
	calls, err := s.assistCalls(c, sess.station)
	if err != nil {
		return err
	}
	now := s.now()
	newest := seen
	var rows []officeAssistCall
	newCalls := 0
	for _, call := range calls {
		newest = max(newest, call.Seq)
	}
	for _, call := range openCalls(calls) {
		reason := assistReasons[call.Reason]
		if reason == "" {
			reason = call.Reason
		}
		row := officeAssistCall{Seq: call.Seq, Kiosk: call.Kiosk, Reason: reason,
			At: call.At.In(identity.ChinaTime).Format("2006-01-02 15:04:05"), Ago: ago(now.Sub(call.At)), New: call.Seq > seen}
		if row.New {
			newCalls++
		}
		rows = append(rows, row)
	}
	title := "呼叫工作人员"
	if len(rows) > 0 {
		title = "（" + strconv.Itoa(len(rows)) + "）" + title
	}
	return s.render(c, http.StatusOK, "assist.html", map[string]any{
		"Title": title, "Session": officeSess(sess), "Nav": officeNav(sess), "Calls": rows, "NewCalls": newCalls,
		"Refresh": int(assistRefresh / time.Second), "Seen": newest, "MediaSelf": true, "OpenCalls": len(rows),
	})
}

// officeAckAssist answers a call from the staff screen (the API's rule:
// ackAssist), then shows the screen again.
func (s *Server) officeAckAssist(c *fiber.Ctx) error {
	seq, err := strconv.ParseInt(c.Params("seq"), 10, 64)
	if err != nil || seq <= 0 {
		return badRequest("bad call number")
	}
	if _, err := s.ackAssist(c, seq); err != nil {
		return err
	}
	seen, err := strconv.ParseInt(c.FormValue("seen", "0"), 10, 64)
	if err != nil || seen < 0 {
		seen = 0
	}
	return c.Redirect(assistNav+"?seen="+strconv.FormatInt(seen, 10), http.StatusSeeOther)
}

// assistChime is the staff screen's alert sound (a WAV made once: two
// short tones, 880 Hz then 660 Hz, faded in and out).
var assistChime = makeChime()

func makeChime() []byte {
	const rate = 16000
	var pcm []int16
	for _, f := range []float64{880, 660} {
		n := rate * 18 / 100
		for i := range n {
			env := math.Min(1, math.Min(float64(i), float64(n-i))/(rate/100))
			pcm = append(pcm, int16(12000*env*math.Sin(2*math.Pi*f*float64(i)/rate)))
		}
	}
	var b bytes.Buffer
	w := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	data := uint32(2 * len(pcm))
	b.WriteString("RIFF")
	w(36 + data)
	b.WriteString("WAVEfmt ")
	w(uint32(16))
	w(uint16(1)) // PCM
	w(uint16(1)) // mono
	w(uint32(rate))
	w(uint32(2 * rate))
	w(uint16(2))
	w(uint16(16))
	b.WriteString("data")
	w(data)
	w(pcm)
	return b.Bytes()
}

// officeAssistChime serves the chime the staff screen plays for a new call.
func (s *Server) officeAssistChime(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "audio/wav")
	c.Set(fiber.HeaderCacheControl, "private, max-age=86400")
	return c.Send(assistChime)
}
