package review

import (
	"encoding/csv"
	"fmt"
	"html"
	"io"
	"strconv"
	"strings"
)

// CSVHeader is the first row of WriteCSV.
var CSVHeader = []string{"unit", "unit_name", "period", "done", "on_time", "late", "open_overdue", "overdue", "on_time_rate", "median_hours", "p90_hours",
	"rated", "satisfied", "dissatisfied", "satisfaction_rate", "mean_score"}

// WriteCSV writes one row per unit and month, then the unit's year
// ("2026"), in UTF-8 with a byte-order mark so spreadsheet programs read the
// Chinese unit names. names maps unit codes to names (may be nil).
func WriteCSV(w io.Writer, r Review, names map[string]string) error {
	if _, err := io.WriteString(w, "\ufeff"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	row := func(u UnitReview, period string, s Stats) []string {
		return []string{u.Unit, names[u.Unit], period, itoa(s.Done), itoa(s.OnTime), itoa(s.Late), itoa(s.OpenOverdue), itoa(s.Overdue),
			ratio(s.OnTimeRate), hours(s.MedianSeconds), hours(s.P90Seconds),
			itoa(s.Rated), itoa(s.Satisfied), itoa(s.Dissatisfied), ratio(s.SatisfactionRate), ratio(s.MeanScore)}
	}
	for _, u := range r.Units {
		for m, s := range u.Months {
			if err := cw.Write(row(u, fmt.Sprintf("%d-%02d", r.Year, m+1), s)); err != nil {
				return err
			}
		}
		if err := cw.Write(row(u, strconv.Itoa(r.Year), u.Year)); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func itoa(n int) string { return strconv.Itoa(n) }

// ratio writes an optional figure with four decimals ("" for none).
func ratio(v *float64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatFloat(*v, 'f', 4, 64)
}

func hours(s int64) string { return strconv.FormatFloat(float64(s)/3600, 'f', 2, 64) }

// SVG returns an inline SVG chart of one unit's year: a bar per month for
// the on-time rate (0..100 %), the overdue count written above each bar
// when there is one. Text is escaped.
func SVG(u UnitReview, year int, title string) string {
	bars := make([]bar, 12)
	for m, s := range u.Months {
		bars[m] = bar{rate: s.OnTimeRate, count: s.Overdue}
	}
	return barChart(bars, year, title, "#c62828")
}

// SatisfactionSVG returns an inline SVG chart of one unit's residents'
// ratings: a bar per month for the share satisfied (0..100 %; green at
// 90 % or more, red below), the number of dissatisfied ratings written
// above each bar when there is one. Text is escaped.
func SatisfactionSVG(u UnitReview, year int, title string) string {
	bars := make([]bar, 12)
	for m, s := range u.Months {
		bars[m] = bar{rate: s.SatisfactionRate, count: s.Dissatisfied}
	}
	return barChart(bars, year, title, "#c62828")
}

type bar struct {
	rate  *float64
	count int // written above the bar when > 0
}

func barChart(bars []bar, year int, title, countColor string) string {
	const w, h, left, bottom, top = 520, 220, 40, 30, 30
	plotH := h - bottom - top
	barW := (w - left - 10) / 12
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">`, w, h, w, h, html.EscapeString(title))
	fmt.Fprintf(&b, `<text x="%d" y="18" font-size="14">%s</text>`, left, html.EscapeString(title))
	for _, pct := range []int{0, 50, 100} {
		y := top + plotH - plotH*pct/100
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#ccc"/><text x="2" y="%d" font-size="10">%d%%</text>`, left, y, w-10, y, y+4, pct)
	}
	for m, s := range bars {
		x := left + m*barW + 4
		if s.rate != nil {
			bh := int(float64(plotH)**s.rate + 0.5)
			color := "#2e7d32"
			if *s.rate < 0.9 {
				color = "#c62828"
			}
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"><title>%d-%02d %.1f%%</title></rect>`,
				x, top+plotH-bh, barW-8, bh, color, year, m+1, *s.rate*100)
		}
		if s.count > 0 {
			fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="10" fill="%s">%d</text>`, x, top-2, countColor, s.count)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="10">%d月</text>`, x, h-bottom+14, m+1)
	}
	b.WriteString(`</svg>`)
	return b.String()
}
