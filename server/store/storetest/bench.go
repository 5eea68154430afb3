package storetest

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// EnvBenchTemplates sets the gallery size of BenchScanTemplates (default
// 20000; docs/storage.md records 100000).
const EnvBenchTemplates = "VEINKIOSK_BENCH_TEMPLATES"

// BenchTemplateSize is the size of a benchmark template: an encoded 192x64
// matcher template with its mask is about 1.6 kB.
const BenchTemplateSize = 1568

// BenchScanTemplates measures loading the whole matcher gallery at start:
// ScanTemplates over every active template, decrypting each. The gallery is
// built once (16 samples per enrolment, to keep set-up short; the reading
// cost is per sample row).
func BenchScanTemplates(b *testing.B, open func(b *testing.B) (store.Store, error)) {
	n := 20000
	if v := os.Getenv(EnvBenchTemplates); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 16 {
			b.Fatalf("%s=%q", EnvBenchTemplates, v)
		}
	}
	s, err := open(b)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	c := context.Background()
	actor := audit.System("bench")
	const perEnrolment = 16
	nRes := (n + perEnrolment - 1) / perEnrolment
	setup := time.Now()
	for start := 0; start < nRes; start += 1000 {
		batch := []store.Resident{}
		for i := start; i < min(start+1000, nRes); i++ {
			batch = append(batch, store.Resident{IDNumber: idNumber(i), Name: fmt.Sprint("r", i), Gender: "F"})
		}
		if _, err := s.ImportResidents(c, actor, batch); err != nil {
			b.Fatal(err)
		}
	}
	tpl := make([]byte, BenchTemplateSize)
	for i := range tpl {
		tpl[i] = byte(i * 7)
	}
	made := 0
	for r := 0; r < nRes; r++ {
		e := store.NewEnrolment{IDNumber: idNumber(r), Finger: 2}
		for k := 0; k < perEnrolment && made < n; k++ {
			e.Samples = append(e.Samples, store.Sample{Template: tpl, AlgorithmVersion: "mc-1", Quality: 70})
			made++
		}
		if _, err := s.Enrol(c, actor, e); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("gallery of %d templates built in %v", n, time.Since(setup).Round(time.Millisecond))
	b.SetBytes(int64(n * BenchTemplateSize))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		got := 0
		if err := s.ScanTemplates(c, 0, func(r store.TemplateRecord) error {
			got++
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		if got != n {
			b.Fatalf("loaded %d templates, want %d", got, n)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "templates/s")
}

// BenchCreateFiling measures acknowledged (durably committed) filings per
// second from one client, including the audit append.
func BenchCreateFiling(b *testing.B, open func(b *testing.B) (store.Store, error)) {
	s, err := open(b)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	c := context.Background()
	actor := audit.System("bench")
	if _, err := s.CreateStation(c, actor, store.Station{ID: "S", Name: "站"}); err != nil {
		b.Fatal(err)
	}
	if _, err := s.ImportResidents(c, actor, []store.Resident{{IDNumber: idNumber(1), Name: "r"}}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := s.CreateFiling(c, actor, store.NewFiling{ServiceCode: "dibao-apply", IDNumber: idNumber(1), Department: "civil-affairs",
			Form: []byte(`{"a":1}`), DueAt: time.Now().Add(time.Hour), IdempotencyKey: fmt.Sprint("b", i)}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchEnrol measures storing a two-finger first enrolment (6 samples of
// BenchTemplateSize) with EnrolFirst: without a dedup fence, and behind one
// with 0 and 20 other residents enrolled after the fence's position (their
// templates read and opened for the check, which here compares nothing:
// the matcher's cost is server/api's BenchmarkDedupFence).
//
//	go test -run XXX -bench BenchmarkEnrol -benchtime 300x ./server/store/sqlite ./server/store/postgres
func BenchEnrol(b *testing.B, open func(b *testing.B) (store.Store, error)) {
	tpl := make([]byte, BenchTemplateSize)
	for i := range tpl {
		tpl[i] = byte(i * 7)
	}
	nf := func(idn string, fence *store.DedupFence) store.NewFirstEnrolment {
		e := store.NewFirstEnrolment{IDNumber: idn, Fence: fence}
		for _, pos := range []int{2, 3} {
			rf := store.ReplacementFinger{Finger: pos}
			for range 3 {
				rf.Samples = append(rf.Samples, store.Sample{Template: tpl, AlgorithmVersion: "bench", Quality: 80})
			}
			e.Fingers = append(e.Fingers, rf)
		}
		return e
	}
	noCheck := func(context.Context, []store.Enrolment) error { return nil }
	for _, tc := range []struct {
		name  string
		newer int // residents enrolled after the fence's position
		fence bool
	}{{"nofence", 0, false}, {"fence/newer=0", 0, true}, {"fence/newer=20", 20, true}} {
		b.Run(tc.name, func(b *testing.B) {
			s, err := open(b)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			c := context.Background()
			actor := audit.System("bench")
			n := b.N + tc.newer
			var rs []store.Resident
			for i := range n {
				rs = append(rs, store.Resident{IDNumber: idNumber(i), Name: fmt.Sprint("r", i), Gender: "F"})
			}
			if _, err := s.ImportResidents(c, actor, rs); err != nil {
				b.Fatal(err)
			}
			for i := b.N; i < n; i++ {
				if _, err := s.EnrolFirst(c, actor, nf(idNumber(i), nil)); err != nil {
					b.Fatal(err)
				}
			}
			// The fence's position: tc.newer enrolments (one change each)
			// before the head, and each enrolment of the loop one more.
			after, err := s.LastChange(c)
			if err != nil {
				b.Fatal(err)
			}
			after -= int64(tc.newer)
			b.ResetTimer()
			for i := range b.N {
				var fence *store.DedupFence
				if tc.fence {
					fence = &store.DedupFence{After: after + int64(i), Check: noCheck}
				}
				if _, err := s.EnrolFirst(c, actor, nf(idNumber(i), fence)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
