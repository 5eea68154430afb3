package main

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/chromedp/chromedp"

	"github.com/qingshan-gov/veinkiosk/kiosk"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/simulators/deck"
)

// TestBrowserReportReplyAndRating: a resident reports a problem from the
// touchscreen (反映问题: the kind by touch, the words from the common
// answers), against the real server, drivers and simulators; the heating
// office answers it; back at the kiosk, "my filings" lists the report with
// its due and answer dates in the office's words, and the resident rates it
// (好差评): once, recorded, counted in the efficiency review.
func TestBrowserReportReplyAndRating(t *testing.T) {
	d := startDemo(t, "--residents", "1000", "--enrol-now", "20")
	ctx, w, k, o := d.ctx, d.w, d.k, d.o
	s := d.openScreen(5 * time.Minute)
	s.wait("ready", func(v kiosk.View) bool { return v.Phase == "idle" && v.ServerUp })
	var who *deck.Resident
	for _, r := range w.enrol[:o.enrolNow] {
		if validCard(r, time.Now()) && w.enrolled(r.IDNumber) {
			who = r
			break
		}
	}
	if who == nil {
		t.Fatal("no enrolled resident with a valid card")
	}
	if err := verify(ctx, w, k, who); err != nil {
		t.Fatal(err)
	}

	// 反映问题: the last entry of the menu.
	s.wait("menu", func(v kiosk.View) bool {
		return v.Phase == "menu" && len(v.Services) > 0 && v.Services[len(v.Services)-1].Code == "report"
	})
	s.shot("kiosk-menu-report")
	s.click(`button[data-act="choose"][data-arg="report"]`)
	v := s.wait("report form", func(v kiosk.View) bool { return v.Phase == "form" })
	if v.Form.Service.Code != "report" || len(v.Form.Fields) != 3 || len(v.Form.Fields[0].Choices) != 27 {
		t.Fatalf("report form %+v", v.Form)
	}
	s.click(`button[data-act="confirm"]`)
	v = s.wait("missing named", func(v kiosk.View) bool { return v.Problem == "missing" })
	if strings.Join(v.Missing, "、") != "问题类别、问题描述" {
		t.Fatalf("missing %v", v.Missing)
	}
	s.click(`button[data-act="edit"][data-arg="kind"]:nth-child(5)`) // 暖气不热, the fifth kind
	s.wait("kind", func(v kiosk.View) bool { return v.Form.Fields[0].Value == "暖气不热" })
	s.click(`button[data-act="keyboard"][data-arg="description"]`)
	s.click(`#kbcommon button.kbanswer`)
	s.click("#kbok")
	s.wait("description", func(v kiosk.View) bool { return v.Form.Fields[1].Value != "" })
	s.shot("kiosk-report-form")
	s.click(`button[data-act="confirm"]`)
	v = s.wait("receipt", func(v kiosk.View) bool { return v.Phase == "receipt" || v.Problem != "" && v.Problem != "missing" })
	if v.Phase != "receipt" || !strings.HasPrefix(v.Receipt.Reference, "QS-R-") || !strings.Contains(v.Receipt.Service.Name, "暖气不热") {
		t.Fatalf("not filed: %s %+v", v.Problem, v.Receipt)
	}
	ref := v.Receipt.Reference
	s.shot("kiosk-report-receipt")

	// The heating office answers it.
	oc := &apiv1.Client{BaseURL: w.serverURL, HTTP: &http.Client{Timeout: 30 * time.Second}}
	sess, err := oc.Login(ctx, "gongre", unitOfficerPass)
	if err != nil {
		t.Fatal(err)
	}
	oc = oc.WithStaff(sess.Token)
	var list apiv1.ReportList
	if err := oc.Do(ctx, "GET", apiv1.PathReports, nil, &list); err != nil || len(list.Reports) != 1 || list.Reports[0].Reference != ref {
		t.Fatalf("heating office's list %+v %v", list, err)
	}
	if err := oc.Do(ctx, "POST", apiv1.PathReports+"/"+strconv.FormatInt(list.Reports[0].ID, 10)+"/action",
		apiv1.ReportAction{Action: apiv1.ReportReply, Reply: "已派维修人员上门排气，暖气恢复正常。"}, nil); err != nil {
		t.Fatal(err)
	}

	// The resident takes the card and comes back (issue 14): the menu
	// says a reply has arrived; its button opens my filings, the report
	// marked 新.
	s.click(`button[data-act="finish"]`)
	s.wait("idle", phaseIs("idle"))
	w.id.Remove()
	if err := verify(ctx, w, k, who); err != nil {
		t.Fatal(err)
	}
	v = s.wait("the notice", func(v kiosk.View) bool { return v.Phase == "menu" && len(v.Services) > 0 })
	if v.NewReplies != 1 || v.Hint != "new_replies" || s.count(`button.new-replies`) != 1 {
		t.Fatalf("menu: new replies %d, hint %q, %d notices", v.NewReplies, v.Hint, s.count(`button.new-replies`))
	}
	s.shot("kiosk-new-replies-menu")
	// English complete: the notice has no Chinese left.
	s.click("#lang")
	s.wait("english", func(v kiosk.View) bool { return v.Lang == "en" })
	en, err := chromedp.Run(s.ctx, chromedp.Evaluate[string](`document.querySelector("button.new-replies").textContent`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(en, "You have 1 new reply") || strings.ContainsFunc(en, func(r rune) bool { return unicode.Is(unicode.Han, r) }) {
		t.Errorf("English notice %q", en)
	}
	s.click("#lang")
	s.wait("chinese", func(v kiosk.View) bool { return v.Lang == "zh" })
	s.click(`button.new-replies`)
	v = s.wait("the report listed", func(v kiosk.View) bool { return len(v.Filings) > 0 && v.RatingChoices != nil })
	if v.NewReplies != 0 || s.count(`div.card.new[data-ref="`+ref+`"] .new-badge`) != 1 || s.count(`div.card.new`) != 1 {
		t.Fatalf("my filings: new replies %d, %d new cards", v.NewReplies, s.count(`div.card.new`))
	}
	s.shot("kiosk-new-replies-filings")
	var item *kiosk.FilingView
	for i := range v.Filings {
		if v.Filings[i].Reference == ref {
			item = &v.Filings[i]
		}
	}
	if item == nil || item.Item != "report" || item.StatusZH != "已答复" || item.Decided == "" || item.Due == "" || !item.Rateable || !item.New ||
		!strings.Contains(item.Reply, "暖气恢复正常") {
		t.Fatalf("my filings: %+v", item)
	}
	card := `div.card[data-ref="` + ref + `"]`
	s.click(card + ` button[data-act="ratescore"]:nth-child(2)`) // 满意
	s.click(card + ` button[data-act="ratereason"][data-arg="fast"]`)
	s.shot("kiosk-rating")
	s.click(card + ` button[data-act="rate"]`)
	v = s.wait("rated", func(v kiosk.View) bool { return v.Hint == "rated" || v.Problem != "" })
	if v.Problem != "" {
		t.Fatalf("rating: %s", v.Problem)
	}
	if s.count(card+` .rated`) != 1 || s.count(card+` button[data-act="rate"]`) != 0 {
		t.Fatal("the rated report still offers a rating")
	}
	s.shot("kiosk-my-filings-rated")

	// Recorded once, for the heating office's review.
	var rv apiv1.Review
	if err := oc.Do(ctx, "GET", apiv1.PathReview, nil, &rv); err != nil || len(rv.Units) != 1 || rv.Units[0].Year.Rated != 1 || rv.Units[0].Year.Satisfied != 1 {
		t.Fatalf("review %+v %v", rv, err)
	}

	// The next visit: the reply was shown, no notice.
	s.click(`button[data-act="back"]`)
	s.wait("menu", phaseIs("menu"))
	s.click(`button[data-act="finish"]`)
	s.wait("idle again", phaseIs("idle"))
	w.id.Remove()
	if err := verify(ctx, w, k, who); err != nil {
		t.Fatal(err)
	}
	v = s.wait("menu without notice", func(v kiosk.View) bool { return v.Phase == "menu" && len(v.Services) > 0 })
	if v.NewReplies != 0 || s.count(`button.new-replies`) != 0 {
		t.Fatalf("visit 3: new replies %d, %d notices", v.NewReplies, s.count(`button.new-replies`))
	}
}
