package api

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
)

// BenchmarkVerify measures the server side of one card + vein verification
// (nonce, then verify) through the fiber app on the embedded store: request
// signing checks, attestation, nonce, counter, lockout, 1:1 comparison,
// verification record, token and audit. No network.
//
//	go test -run XXX -bench BenchmarkVerify -benchtime 2000x ./server/api
func BenchmarkVerify(b *testing.B) {
	e := newEnv(b, func(c *Config) { c.KioskRate, c.KioskBurst = 1e9, 1<<30 })
	ctx := context.Background()
	e.mustStaff("zhang", "station_staff", "", "QS-S01")
	k := e.newKiosk("kiosk-01")
	p := e.newPerson("基准", time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC))
	e.enrol(e.atKiosk(k, "zhang"), p)
	probes := make([]shot, 16)
	for i := range probes {
		probes[i] = e.template(p.fingers[apiv1.RightIndex], apiv1.RightIndex, 80)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.clock.Add(time.Millisecond)
		if _, err := k.Verify(ctx, &apiv1.VerifyRequest{Card: p.card, Capture: k.capture(apiv1.RightIndex, probes[i%len(probes)])}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDedupSearch measures the 1:N enrolment search over a gallery of
// synthetic residents (6 templates each), as the enrolment handler runs it.
//
//	go test -run XXX -bench BenchmarkDedupSearch/residents=100000 -benchtime 20x ./server/api
func BenchmarkDedupSearch(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("residents=%d", n), func(b *testing.B) {
			g := NewGallery()
			rng := rand.New(rand.NewPCG(1, uint64(n)))
			p := matcher.DefaultParams
			var probe *matcher.Template
			for r := 0; r < n; r++ {
				var fingers []int
				var ts []*matcher.Template
				for f := 2; f <= 3; f++ {
					sf := matcher.NewSynthFinger(rng, p.Width, p.Height)
					for j := 0; j < 3; j++ {
						t, err := matcher.NewTemplate(p, sf.Sample(rng, 3, 6, 0.05), nil, 80, uint8(f))
						if err != nil {
							b.Fatal(err)
						}
						ts, fingers = append(ts, t), append(fingers, f)
					}
					if r == n/2 && f == 2 {
						probe, _ = matcher.NewTemplate(p, sf.Sample(rng, 3, 6, 0.05), nil, 80, 2)
					}
				}
				if err := g.set(int64(r+1), fingers, ts); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				hits, err := g.Search(context.Background(), probe, 5, 0.2)
				if err != nil || len(hits) == 0 || hits[0].ResidentID != int64(n/2+1) {
					b.Fatalf("hits %v, %v", hits, err)
				}
			}
		})
	}
}
