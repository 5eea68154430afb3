package identity

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestDate(t *testing.T) {
	for _, tc := range []struct {
		y       int
		m       time.Month
		day     int
		want    Date
		wantErr bool
	}{
		{2024, 2, 29, 20240229, false},
		{2023, 2, 29, 0, true},
		{1900, 2, 29, 0, true},
		{2000, 2, 29, 20000229, false},
		{2024, 13, 1, 0, true},
		{2024, 4, 31, 0, true},
		{0, 1, 1, 0, true},
		{9999, 12, 31, 0, true}, // that is LongTerm
		{1, 1, 1, 10101, false},
	} {
		got, err := NewDate(tc.y, tc.m, tc.day)
		if got != tc.want || (err != nil) != tc.wantErr || (err != nil && !errors.Is(err, ErrCardData)) {
			t.Errorf("NewDate(%d, %d, %d) = %d, %v", tc.y, tc.m, tc.day, got, err)
		}
	}
	v := d(2024, 1, 31)
	if v.String() != "2024-01-31" || v.Compact() != "20240131" || v.Year() != 2024 || v.Month() != time.January || v.Day() != 31 ||
		!v.Time().Equal(time.Date(2024, 1, 31, 0, 0, 0, 0, time.UTC)) || v.AddDays(1) != d(2024, 2, 1) || v.AddDays(-31) != d(2023, 12, 31) {
		t.Errorf("date parts of %d wrong", v)
	}
	if LongTerm.String() != LongTermText || LongTerm.Compact() != LongTermText || !LongTerm.Valid() || Date(0).String() != "" || Date(20241301).Valid() || Date(20241301).String() != "Date(20241301)" {
		t.Error("special dates wrong")
	}
	if !(d(2024, 1, 31) < d(2024, 2, 1) && d(2099, 12, 31) < LongTerm) {
		t.Error("dates do not order")
	}
}

func TestParseDates(t *testing.T) {
	for s, want := range map[string]Date{"2024-02-29": 20240229, "1949-10-01": 19491001} {
		if got, err := ParseDate(s); got != want || err != nil {
			t.Errorf("ParseDate(%q) = %d, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "2024-2-29", "2023-02-29", "2024/02/29", "20240229", "２０２４-０２-２９", "+024-02-01", "2024-0a-01", LongTermText} {
		if _, err := ParseDate(s); !errors.Is(err, ErrCardData) {
			t.Errorf("ParseDate(%q) = %v", s, err)
		}
	}
	if got, err := ParseCompactDate("19900307"); got != 19900307 || err != nil {
		t.Errorf("ParseCompactDate = %d, %v", got, err)
	}
	for _, s := range []string{"", "1990037", "19901307", "1990-3-7", "-1900307"} {
		if _, err := ParseCompactDate(s); !errors.Is(err, ErrCardData) {
			t.Errorf("ParseCompactDate(%q) = %v", s, err)
		}
	}
}

func TestChinaDate(t *testing.T) {
	for at, want := range map[time.Time]Date{
		time.Date(2024, 1, 31, 15, 59, 59, 0, time.UTC): 20240131,
		time.Date(2024, 1, 31, 16, 0, 0, 0, time.UTC):   20240201,
		time.Date(2024, 2, 1, 1, 0, 0, 0, ChinaTime):    20240201,
	} {
		if got := ChinaDate(at); got != want {
			t.Errorf("ChinaDate(%v) = %d, want %d", at, got, want)
		}
	}
	if DateOf(time.Time{}) != 0 {
		t.Error("DateOf(zero time) is not the zero date")
	}
}

func TestAgeOn(t *testing.T) {
	for _, tc := range []struct {
		birth, on Date
		want      int
	}{
		{d(1990, 3, 7), d(2025, 3, 6), 34},
		{d(1990, 3, 7), d(2025, 3, 7), 35},
		{d(2000, 2, 29), d(2023, 2, 28), 22},
		{d(2000, 2, 29), d(2023, 3, 1), 23},
		{d(2000, 2, 29), d(2024, 2, 29), 24},
		{d(2025, 1, 1), d(2025, 1, 1), 0},
		{d(2025, 1, 2), d(2025, 1, 1), -1},
	} {
		if got := tc.birth.AgeOn(tc.on); got != tc.want {
			t.Errorf("%v.AgeOn(%v) = %d, want %d", tc.birth, tc.on, got, tc.want)
		}
	}
}

func TestDateText(t *testing.T) {
	for _, v := range []Date{0, LongTerm, 20240229} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var back Date
		if err := json.Unmarshal(b, &back); err != nil || back != v {
			t.Errorf("%d -> %s -> %d, %v", v, b, back, err)
		}
	}
	if _, err := json.Marshal(Date(20241301)); !errors.Is(err, ErrCardData) {
		t.Errorf("marshal of a non-date: %v", err)
	}
	var v Date
	if err := json.Unmarshal([]byte(`"soon"`), &v); !errors.Is(err, ErrCardData) {
		t.Errorf("unmarshal of soon: %v", err)
	}
}
