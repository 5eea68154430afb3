package api

import (
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/review"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// The back office's supervision pages: the open items of every unit with
// the time left (supervisors), and the year-end efficiency review with a
// chart per unit (officers: their unit's).

type officeStats struct {
	Period, Rate, Median, P90 string
	Done, OnTime, Overdue     int
	Rated, Dissatisfied       int
	Satisfaction, MeanScore   string
}

type officeUnitReview struct {
	Name   string
	Year   officeStats
	Months []officeStats
	Chart  template.HTML
	// Satisfaction is the chart of the residents' ratings by month.
	Satisfaction template.HTML
}

type officeOpenItem struct {
	Item, Reference, Name, Unit, Station, Due, Left string
	Overdue, Escalated                              bool
}

func officeStatsOf(period string, st review.Stats) officeStats {
	o := officeStats{Period: period, Done: st.Done, OnTime: st.OnTime, Overdue: st.Overdue, Rate: "—",
		Median: fmt.Sprintf("%.1f", float64(st.MedianSeconds)/3600), P90: fmt.Sprintf("%.1f", float64(st.P90Seconds)/3600)}
	if st.OnTimeRate != nil {
		o.Rate = fmt.Sprintf("%.1f%%", *st.OnTimeRate*100)
	}
	o.Rated, o.Dissatisfied, o.Satisfaction, o.MeanScore = st.Rated, st.Dissatisfied, "—", "—"
	if st.SatisfactionRate != nil {
		o.Satisfaction = fmt.Sprintf("%.1f%%", *st.SatisfactionRate*100)
		o.MeanScore = fmt.Sprintf("%.2f", *st.MeanScore)
	}
	return o
}

// officeReview shows the review of ?year= (default this year).
func (s *Server) officeReview(c *fiber.Ctx) error {
	sess := sessionOf(c)
	year, unit, err := s.reviewParams(c)
	if err != nil {
		return err
	}
	r, err := s.computeReview(c.UserContext(), year, unit)
	if err != nil {
		return err
	}
	var units []officeUnitReview
	for _, u := range r.Units {
		ou := officeUnitReview{Name: s.unitName(u.Unit), Year: officeStatsOf(strconv.Itoa(year)+"年", u.Year),
			// SVG is built with every text escaped (review.SVG).
			Chart:        template.HTML(review.SVG(u, year, s.unitName(u.Unit)+" "+strconv.Itoa(year)+" 按期办结率")),
			Satisfaction: template.HTML(review.SatisfactionSVG(u, year, s.unitName(u.Unit)+" "+strconv.Itoa(year)+" 群众满意率（好差评）"))}
		for m, st := range u.Months {
			ou.Months = append(ou.Months, officeStatsOf(strconv.Itoa(m+1)+"月", st))
		}
		units = append(units, ou)
	}
	return s.render(c, http.StatusOK, "review.html", map[string]any{
		"Title": "年终效能考核", "Session": officeSess(sess), "Year": year, "PrevYear": year - 1, "NextYear": year + 1,
		"AsOf": r.AsOf.In(identity.ChinaTime).Format("2006-01-02 15:04"), "Units": units,
	})
}

// officeReviewCSV downloads the review shown (audited).
func (s *Server) officeReviewCSV(c *fiber.Ctx) error {
	year, unit, err := s.reviewParams(c)
	if err != nil {
		return err
	}
	r, err := s.computeReview(c.UserContext(), year, unit)
	if err != nil {
		return err
	}
	return s.sendReviewCSV(c, r, unit)
}

func leftText(d time.Duration) string {
	neg := d < 0
	if neg {
		d = -d
	}
	days, hours := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
	t := fmt.Sprintf("%d天%d小时", days, hours)
	if neg {
		return "超期" + t
	}
	return "剩余" + t
}

// officeOpen lists every open filing and report with the time left,
// escalating the overdue first (supervisors).
func (s *Server) officeOpen(c *fiber.Ctx) error {
	ctx := c.UserContext()
	if _, err := s.escalate(ctx); err != nil {
		return storeErr(err, "escalation")
	}
	items, err := s.st.OpenItems(ctx, store.OpenItemFilter{Unit: c.Query("unit")})
	if err != nil {
		return storeErr(err, "open items")
	}
	now := s.now()
	var rows []officeOpenItem
	for _, it := range items {
		kind := "办件"
		if it.Item == "report" {
			kind = "诉求"
		}
		rows = append(rows, officeOpenItem{Item: kind, Reference: it.Reference, Name: s.itemName(ctx, it.Item, it.Code), Unit: s.unitName(it.Unit),
			Station: it.StationID, Due: it.DueAt.In(identity.ChinaTime).Format("2006-01-02 15:04"), Left: leftText(it.DueAt.Sub(now)),
			Overdue: now.After(it.DueAt), Escalated: it.EscalatedAt != nil})
	}
	return s.render(c, http.StatusOK, "open.html", map[string]any{"Title": "督办 · 在办事项", "Session": officeSess(sessionOf(c)), "Items": rows})
}
