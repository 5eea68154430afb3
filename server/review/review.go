// Package review computes the year-end efficiency review of the units that
// process filings and residents' reports (docs/supervision.md): per unit and
// month, how many items were done, how many on time, the median and
// 90th-percentile processing time, and the overdue count. It is pure: the
// records come from the store, the output goes to JSON, CSV and an SVG chart.
package review

import (
	"slices"
	"sort"
	"time"
)

// China is the time zone months are counted in.
var China = time.FixedZone("CST", 8*3600)

// Record is one filing or report as the review sees it.
type Record struct {
	Kind      string // "filing" or "report"
	Unit      string
	CreatedAt time.Time
	DueAt     time.Time
	DoneAt    *time.Time // the decision (filing) or the reply (report); nil while open
}

// Stats are the figures of one unit in one month (or the whole year).
type Stats struct {
	Done        int `json:"done"`         // items finished in the period
	OnTime      int `json:"on_time"`      // of those, finished by their due time
	Late        int `json:"late"`         // finished after their due time
	OpenOverdue int `json:"open_overdue"` // still open at the review's time, due in the period
	// Overdue is Late + OpenOverdue.
	Overdue int `json:"overdue"`
	// OnTimeRate is OnTime / (Done + OpenOverdue); nil when both are 0.
	OnTimeRate *float64 `json:"on_time_rate"`
	// Processing time (creation to done) of the items done in the period,
	// nearest-rank percentiles, in seconds; 0 when nothing was done.
	MedianSeconds int64 `json:"median_s"`
	P90Seconds    int64 `json:"p90_s"`

	// Residents' ratings (好差评) given in the period, counted in the
	// month they were given: how many, how many satisfied (4 or 5 of 5),
	// how many dissatisfied (1 or 2). SatisfactionRate is Satisfied /
	// Rated and MeanScore the mean of the scores; nil without ratings.
	Rated            int      `json:"rated"`
	Satisfied        int      `json:"satisfied"`
	Dissatisfied     int      `json:"dissatisfied"`
	SatisfactionRate *float64 `json:"satisfaction_rate"`
	MeanScore        *float64 `json:"mean_score"`

	durations []time.Duration
	scoreSum  int
}

// Rating is one resident's rating of a filing or report (1..5), counted
// for the unit that answered it.
type Rating struct {
	Unit  string
	At    time.Time
	Score int
}

// UnitReview is one unit's year.
type UnitReview struct {
	Unit   string    `json:"unit"`
	Months [12]Stats `json:"months"`
	Year   Stats     `json:"year"`
}

// Review is the year's review of every unit with records.
type Review struct {
	Year  int          `json:"year"`
	AsOf  time.Time    `json:"as_of"`
	Units []UnitReview `json:"units"`
}

// Compute reviews year (China time) as of asOf. An item counts in the month
// it was done; an item still open at asOf (or done after it) counts as open
// overdue in the month of its due time if that is before asOf. Units appear
// in the order of units, then any other unit with records, sorted.
func Compute(recs []Record, year int, asOf time.Time, units []string) Review {
	return ComputeWithRatings(recs, nil, year, asOf, units)
}

// ComputeWithRatings is Compute with the residents' ratings: each rating
// given in year (China time) up to asOf counts in its unit's month.
func ComputeWithRatings(recs []Record, ratings []Rating, year int, asOf time.Time, units []string) Review {
	byUnit := map[string]*UnitReview{}
	get := func(u string) *UnitReview {
		if r := byUnit[u]; r != nil {
			return r
		}
		r := &UnitReview{Unit: u}
		byUnit[u] = r
		return r
	}
	for _, u := range units {
		get(u)
	}
	for _, rc := range recs {
		done := rc.DoneAt != nil && !rc.DoneAt.After(asOf)
		if done {
			d := rc.DoneAt.In(China)
			if d.Year() != year {
				continue
			}
			u := get(rc.Unit)
			m := &u.Months[d.Month()-1]
			dur := rc.DoneAt.Sub(rc.CreatedAt)
			m.Done++
			m.durations = append(m.durations, dur)
			u.Year.Done++
			u.Year.durations = append(u.Year.durations, dur)
			if rc.DoneAt.After(rc.DueAt) {
				m.Late++
				u.Year.Late++
			} else {
				m.OnTime++
				u.Year.OnTime++
			}
			continue
		}
		due := rc.DueAt.In(China)
		if due.Year() != year || !rc.DueAt.Before(asOf) {
			continue
		}
		u := get(rc.Unit)
		u.Months[due.Month()-1].OpenOverdue++
		u.Year.OpenOverdue++
	}
	for _, rt := range ratings {
		at := rt.At.In(China)
		if at.Year() != year || rt.At.After(asOf) || rt.Score < 1 || rt.Score > 5 {
			continue
		}
		u := get(rt.Unit)
		u.Months[at.Month()-1].rate(rt.Score)
		u.Year.rate(rt.Score)
	}
	out := Review{Year: year, AsOf: asOf}
	seen := map[string]bool{}
	for _, u := range units {
		if !seen[u] {
			seen[u] = true
			out.Units = append(out.Units, *byUnit[u])
		}
	}
	var rest []string
	for u := range byUnit {
		if !seen[u] {
			rest = append(rest, u)
		}
	}
	sort.Strings(rest)
	for _, u := range rest {
		out.Units = append(out.Units, *byUnit[u])
	}
	for i := range out.Units {
		u := &out.Units[i]
		for m := range u.Months {
			u.Months[m].finish()
		}
		u.Year.finish()
	}
	return out
}

func (s *Stats) rate(score int) {
	s.Rated++
	s.scoreSum += score
	switch {
	case score >= 4:
		s.Satisfied++
	case score <= 2:
		s.Dissatisfied++
	}
}

func (s *Stats) finish() {
	if s.Rated > 0 {
		r := float64(s.Satisfied) / float64(s.Rated)
		m := float64(s.scoreSum) / float64(s.Rated)
		s.SatisfactionRate, s.MeanScore = &r, &m
	}
	s.Overdue = s.Late + s.OpenOverdue
	if n := s.Done + s.OpenOverdue; n > 0 {
		r := float64(s.OnTime) / float64(n)
		s.OnTimeRate = &r
	}
	slices.Sort(s.durations)
	s.MedianSeconds = int64(Percentile(s.durations, 50) / time.Second)
	s.P90Seconds = int64(Percentile(s.durations, 90) / time.Second)
	s.durations = nil
}

// Percentile is the nearest-rank percentile pct (1..100) of sorted: the
// value at rank ceil(pct*n/100), in integers so no rounding moves it. 0 for
// no values.
func Percentile(sorted []time.Duration, pct int) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := (pct*n + 99) / 100
	rank = max(1, min(rank, n))
	return sorted[rank-1]
}
