package review

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"time"
)

func at(month, day, hour int) time.Time {
	return time.Date(2026, time.Month(month), day, hour, 0, 0, 0, China)
}

func ptr(t time.Time) *time.Time { return &t }

// year builds a year of records with known timings: in month m unit
// "heating" finishes m items, the k-th (1..m) after k hours, due after 2 days
// except in March, where every item is finished 3 days late; unit "noise"
// has one item a month still open, due on the 10th.
func year() []Record {
	var recs []Record
	for m := 1; m <= 12; m++ {
		for k := 1; k <= m; k++ {
			c := at(m, 5, 8)
			due := c.Add(48 * time.Hour)
			done := c.Add(time.Duration(k) * time.Hour)
			if m == 3 {
				done = due.Add(72 * time.Hour)
			}
			kind := "filing"
			if k%2 == 0 {
				kind = "report"
			}
			recs = append(recs, Record{Kind: kind, Unit: "heating", CreatedAt: c, DueAt: due, DoneAt: ptr(done)})
		}
		recs = append(recs, Record{Kind: "report", Unit: "ecology", CreatedAt: at(m, 3, 9), DueAt: at(m, 10, 9)})
	}
	// Outside the year: ignored.
	recs = append(recs, Record{Unit: "heating", CreatedAt: at(1, 1, 0).AddDate(-1, 0, 0), DueAt: at(1, 2, 0).AddDate(-1, 0, 0), DoneAt: ptr(at(1, 2, 0).AddDate(-1, 0, 0))})
	return recs
}

func TestComputeYear(t *testing.T) {
	asOf := at(12, 31, 23)
	r := Compute(year(), 2026, asOf, []string{"heating", "ecology", "police"})
	if len(r.Units) != 3 || r.Units[0].Unit != "heating" || r.Units[1].Unit != "ecology" || r.Units[2].Unit != "police" {
		t.Fatalf("units %+v", r.Units)
	}
	h := r.Units[0]
	// Month m: m done; median rank ceil(m/2) hours, p90 rank ceil(0.9 m) hours.
	wantMedian := []int64{1, 1, 0, 2, 3, 3, 4, 4, 5, 5, 6, 6}
	wantP90 := []int64{1, 2, 0, 4, 5, 6, 7, 8, 9, 9, 10, 11}
	for m := 0; m < 12; m++ {
		s := h.Months[m]
		if s.Done != m+1 {
			t.Errorf("month %d done %d", m+1, s.Done)
		}
		if m == 2 {
			// March: 3 items, each 48 h + 72 h after creation, all late.
			if s.OnTime != 0 || s.Late != 3 || s.Overdue != 3 || *s.OnTimeRate != 0 || s.MedianSeconds != 120*3600 || s.P90Seconds != 120*3600 {
				t.Errorf("March %+v", s)
			}
			continue
		}
		if s.OnTime != m+1 || s.Late != 0 || s.Overdue != 0 || *s.OnTimeRate != 1 {
			t.Errorf("month %d %+v", m+1, s)
		}
		if s.MedianSeconds != wantMedian[m]*3600 || s.P90Seconds != wantP90[m]*3600 {
			t.Errorf("month %d median %d p90 %d, want %d h %d h", m+1, s.MedianSeconds, s.P90Seconds, wantMedian[m], wantP90[m])
		}
	}
	// Year: 78 done, 75 on time; durations 1..12 h (counts 12,11,..; March's
	// 1..3 replaced by three 120 h): k hours occur 13-k times (less one for
	// k <= 3), so the cumulative counts are 11, 21, 30, 39, 47, 54, 60, 65, 69,
	// 72: rank 39 (median) is 4 h, rank 71 (ceil(0.9*78)) is 10 h.
	y := h.Year
	if y.Done != 78 || y.OnTime != 75 || y.Late != 3 || y.OpenOverdue != 0 || y.Overdue != 3 {
		t.Errorf("year %+v", y)
	}
	if *y.OnTimeRate != 75.0/78 || y.MedianSeconds != 4*3600 || y.P90Seconds != 10*3600 {
		t.Errorf("year rate %v median %d p90 %d", *y.OnTimeRate, y.MedianSeconds, y.P90Seconds)
	}
	e := r.Units[1]
	for m := 0; m < 12; m++ {
		s := e.Months[m]
		if s.Done != 0 || s.OpenOverdue != 1 || s.Overdue != 1 || *s.OnTimeRate != 0 || s.MedianSeconds != 0 {
			t.Errorf("ecology month %d %+v", m+1, s)
		}
	}
	if p := r.Units[2]; p.Year.OnTimeRate != nil || p.Year.Done != 0 {
		t.Errorf("police %+v", p.Year)
	}
}

func TestComputeAsOf(t *testing.T) {
	// Mid-June: an item done in July is still open; an item due after the
	// review's time is not overdue yet.
	recs := []Record{
		{Unit: "u", CreatedAt: at(6, 1, 0), DueAt: at(6, 10, 0), DoneAt: ptr(at(7, 1, 0))},
		{Unit: "u", CreatedAt: at(6, 1, 0), DueAt: at(6, 20, 0)},
		{Unit: "u", CreatedAt: at(6, 1, 0), DueAt: at(6, 2, 0), DoneAt: ptr(at(6, 2, 0))}, // exactly at the due time: on time
	}
	r := Compute(recs, 2026, at(6, 15, 0), nil)
	s := r.Units[0].Months[5]
	if s.Done != 1 || s.OnTime != 1 || s.OpenOverdue != 1 || s.Overdue != 1 || *s.OnTimeRate != 0.5 || s.MedianSeconds != 24*3600 {
		t.Fatalf("June %+v", s)
	}
}

// ratings of "heating": in March 5, 4 and 2; in July 1; one of 2025, one
// after the review's time and one out of range, all ignored.
func ratings() []Rating {
	return []Rating{
		{Unit: "heating", At: at(3, 10, 9), Score: 5},
		{Unit: "heating", At: at(3, 11, 9), Score: 4},
		{Unit: "heating", At: at(3, 31, 23), Score: 2},
		{Unit: "heating", At: at(7, 1, 0), Score: 1},
		{Unit: "heating", At: time.Date(2025, 12, 31, 23, 0, 0, 0, China), Score: 5},
		{Unit: "heating", At: at(12, 31, 23).Add(time.Minute), Score: 5},
		{Unit: "heating", At: at(8, 1, 0), Score: 6},
	}
}

func TestRatings(t *testing.T) {
	r := ComputeWithRatings(year(), ratings(), 2026, at(12, 31, 23), []string{"heating"})
	u := r.Units[0]
	mar, jul, y := u.Months[2], u.Months[6], u.Year
	if mar.Rated != 3 || mar.Satisfied != 2 || mar.Dissatisfied != 1 || *mar.SatisfactionRate != 2.0/3 || *mar.MeanScore != 11.0/3 {
		t.Errorf("March %+v", mar)
	}
	if jul.Rated != 1 || jul.Satisfied != 0 || jul.Dissatisfied != 1 || *jul.SatisfactionRate != 0 || *jul.MeanScore != 1 {
		t.Errorf("July %+v", jul)
	}
	if y.Rated != 4 || y.Satisfied != 2 || y.Dissatisfied != 2 || *y.SatisfactionRate != 0.5 || *y.MeanScore != 3 {
		t.Errorf("year %+v", y)
	}
	if u.Months[0].Rated != 0 || u.Months[0].SatisfactionRate != nil || u.Months[0].MeanScore != nil {
		t.Errorf("January %+v", u.Months[0])
	}
	// A unit rated but with no records appears, after the units named.
	r = ComputeWithRatings(nil, []Rating{{Unit: "market", At: at(5, 1, 0), Score: 3}}, 2026, at(12, 31, 23), []string{"heating"})
	if len(r.Units) != 2 || r.Units[1].Unit != "market" || r.Units[1].Year.Rated != 1 || r.Units[1].Year.Satisfied != 0 || r.Units[1].Year.Dissatisfied != 0 {
		t.Errorf("units %+v", r.Units)
	}
}

func TestWriteCSV(t *testing.T) {
	r := ComputeWithRatings(year(), ratings(), 2026, at(12, 31, 23), []string{"heating"})
	var b bytes.Buffer
	if err := WriteCSV(&b, r, map[string]string{"heating": "供热办"}); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(b.String(), "\ufeff"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+2*13 {
		t.Fatalf("%d rows", len(rows))
	}
	want := map[int]string{
		0:  strings.Join(CSVHeader, ","),
		1:  "heating,供热办,2026-01,1,1,0,0,0,1.0000,1.00,1.00,0,0,0,,",
		3:  "heating,供热办,2026-03,3,0,3,0,3,0.0000,120.00,120.00,3,2,1,0.6667,3.6667",
		13: "heating,供热办,2026,78,75,3,0,3,0.9615,4.00,10.00,4,2,2,0.5000,3.0000",
		14: "ecology,,2026-01,0,0,0,1,1,0.0000,0.00,0.00,0,0,0,,",
	}
	for i, w := range want {
		if got := strings.Join(rows[i], ","); got != w {
			t.Errorf("row %d = %s, want %s", i, got, w)
		}
	}
}

func TestSVG(t *testing.T) {
	r := Compute(year(), 2026, at(12, 31, 23), []string{"heating"})
	svg := SVG(r.Units[0], 2026, `供热办 <script>`)
	if !strings.HasPrefix(svg, "<svg") || strings.Contains(svg, "<script>") || strings.Count(svg, "<rect") != 12 {
		t.Fatalf("svg %s", svg)
	}
	if !strings.Contains(svg, `fill="#c62828"><title>2026-03 0.0%</title>`) {
		t.Error("March's late bar is missing")
	}
}

func TestSatisfactionSVG(t *testing.T) {
	r := ComputeWithRatings(year(), ratings(), 2026, at(12, 31, 23), []string{"heating"})
	svg := SatisfactionSVG(r.Units[0], 2026, `供热办 <b>满意率</b>`)
	if !strings.HasPrefix(svg, "<svg") || strings.Contains(svg, "<b>") || strings.Count(svg, "<rect") != 2 {
		t.Fatalf("svg %s", svg)
	}
	for _, want := range []string{`<title>2026-03 66.7%</title>`, `<title>2026-07 0.0%</title>`} {
		if !strings.Contains(svg, want) {
			t.Errorf("missing %s", want)
		}
	}
}
