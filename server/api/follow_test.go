package api

import (
	"context"
	"crypto/ed25519"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
	"github.com/qingshan-gov/veinkiosk/server/store/postgres"
	"github.com/qingshan-gov/veinkiosk/server/store/storetest"
)

// followPair is two servers of one PostgreSQL schema in this process, each
// with its own store handle and gallery, as two replicas are: writes go
// through a's store, and b must follow them.
type followPair struct {
	e     *env
	dsn   string
	a, b  *Server
	staff store.Staff
}

func newFollowPair(tb testing.TB, listen bool) *followPair {
	tb.Helper()
	dsn := storetest.PostgresURL(tb)
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	open := func() store.Store {
		st, err := postgres.Open(ctx, dsn, replicaStoreOptions())
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { st.Close() })
		return st
	}
	stA, stB := open(), open()
	_, maker, _ := ed25519.GenerateKey(nil)
	e := &env{t: tb, st: stA, maker: maker, rng: rand.New(rand.NewPCG(5, 6)), params: matcher.DefaultParams}
	if _, err := stA.CreateStation(ctx, audit.System("test"), store.Station{ID: "QS-S01", Name: "青山一站"}); err != nil {
		tb.Fatal(err)
	}
	p := &followPair{e: e, dsn: dsn, staff: e.mustStaff("zhang", store.RoleStationStaff, "", "QS-S01")}
	server := func(st store.Store) *Server {
		s, err := New(Config{Store: st, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
			VerifyThreshold: 0.2, DedupThreshold: 0.2, IdentifyThreshold: 0.25})
		if err != nil {
			tb.Fatal(err)
		}
		s.noListen = !listen
		if err := s.LoadGallery(ctx); err != nil {
			tb.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := s.FollowChanges(ctx); err != nil && ctx.Err() == nil {
				tb.Errorf("FollowChanges: %v", err)
			}
		}()
		tb.Cleanup(func() { cancel(); <-done })
		return s
	}
	p.a, p.b = server(stA), server(stB)
	return p
}

// enrol stores an enrolment of one finger of p through a's store (as the
// enrolment handler does after its checks) and returns the templates.
func (fp *followPair) enrol(p *person, finger apiv1.Finger, f *finger) [][]byte {
	fp.e.t.Helper()
	ne := store.NewEnrolment{IDNumber: p.card.IDNumber, Finger: finger.Position(), EnrolledBy: fp.staff.ID}
	var ts [][]byte
	for i := 0; i < 3; i++ {
		tb := fp.e.template(f, finger, 80).Tmpl
		ts = append(ts, tb)
		ne.Samples = append(ne.Samples, store.Sample{Template: tb, AlgorithmVersion: algorithmVersion, Quality: 80})
	}
	if _, err := fp.a.st.Enrol(context.Background(), audit.Staff(fp.staff.ID), ne); err != nil {
		fp.e.t.Fatalf("enrol: %v", err)
	}
	return ts
}

func (fp *followPair) residentID(p *person) int64 {
	fp.e.t.Helper()
	r, err := fp.a.st.GetResident(context.Background(), p.card.IDNumber)
	if err != nil {
		fp.e.t.Fatal(err)
	}
	return r.ID
}

// verifies reports whether the gallery of s matches tmpl to the resident's
// templates (an exact copy of an enrolled template scores 0.5, the maximum).
func verifies(t testing.TB, s *Server, residentID int64, tmpl []byte) bool {
	t.Helper()
	probe, err := matcher.ParseTemplate(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	score, ok, err := s.gallery.Verify(residentID, probe)
	if err != nil {
		t.Fatal(err)
	}
	return ok && score > 0.3
}

// eventually waits up to 30 s for cond (the replica follows within
// milliseconds with notifications, within ChangePoll without; 30 s only
// bounds a broken follower's test).
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30 s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestFollowChanges: what is committed through one replica reaches the
// memory of another: enrolment, re-enrolment of a finger, deletion (1:1
// and 1:N), and a kiosk's revocation (its cache entry is dropped). Run
// with notifications and with the poll alone (a lost listener).
func TestFollowChanges(t *testing.T) {
	for _, listen := range []bool{true, false} {
		name := "notify"
		if !listen {
			name = "poll"
		}
		t.Run(name, func(t *testing.T) {
			fp := newFollowPair(t, listen)
			e, ctx := fp.e, context.Background()
			p1 := e.newPerson("王秀英", time.Date(1950, 3, 4, 0, 0, 0, 0, time.UTC))
			p2 := e.newPerson("李建国", time.Date(1948, 7, 9, 0, 0, 0, 0, time.UTC))
			id1, id2 := fp.residentID(p1), fp.residentID(p2)

			first := fp.enrol(p1, apiv1.RightIndex, p1.fingers[apiv1.RightIndex])
			eventually(t, "the enrolment on A verifies on B", func() bool { return verifies(t, fp.b, id1, first[0]) })

			// 1:N on B finds p2 once A enrolled it.
			second := fp.enrol(p2, apiv1.RightMiddle, p2.fingers[apiv1.RightMiddle])
			probe, err := matcher.ParseTemplate(second[1])
			if err != nil {
				t.Fatal(err)
			}
			eventually(t, "the enrolment on A is found by a search on B", func() bool {
				hits, err := fp.b.gallery.Search(ctx, probe, 3, 0.3)
				return err == nil && slices.ContainsFunc(hits, func(h Hit) bool { return h.ResidentID == id2 })
			})

			// Re-enrolling the finger with another finger's pattern replaces
			// the old templates on B.
			other := newFinger()
			again := fp.enrol(p1, apiv1.RightIndex, other)
			eventually(t, "the re-enrolment on A replaces the templates on B", func() bool {
				return verifies(t, fp.b, id1, again[0]) && !verifies(t, fp.b, id1, first[0])
			})

			// Deletion empties the resident on B.
			if _, err := fp.a.st.DeleteEnrolments(ctx, audit.Staff(fp.staff.ID), p1.card.IDNumber, "consent_withdrawn"); err != nil {
				t.Fatal(err)
			}
			eventually(t, "the deletion on A reaches B", func() bool {
				_, ok, _ := fp.b.gallery.Verify(id1, probe)
				return !ok
			})
			// (A follows its own store too: these writes bypassed its handlers.)
			eventually(t, "both galleries hold p2 alone", func() bool { return fp.b.gallery.Residents() == 1 && fp.a.gallery.Residents() == 1 })

			// A kiosk revoked through A is no longer cached as active on B.
			pub, _, _ := ed25519.GenerateKey(nil)
			k, err := fp.a.st.CreateKiosk(ctx, audit.System("test"), store.Kiosk{ID: "K-9", StationID: "QS-S01", PublicKey: pub, Status: store.DeviceActive})
			if err != nil {
				t.Fatal(err)
			}
			cachedAt := time.Now()
			fp.b.kiosks.put(k, cachedAt)
			if err := fp.a.st.SetKioskStatus(ctx, audit.System("test"), "K-9", store.DeviceRevoked); err != nil {
				t.Fatal(err)
			}
			eventually(t, "the revocation on A drops B's cached kiosk", func() bool {
				// (at the time it was cached: not the entry's expiry)
				_, cached := fp.b.kiosks.get("K-9", cachedAt)
				return !cached
			})
		})
	}
}

// TestFollowGap: a sequence number missing from the log (a transaction
// still running, or rolled back) holds the cursor for ChangeGapWait while
// the changes after it are applied at once, and is then skipped.
func TestFollowGap(t *testing.T) {
	fp := newFollowPair(t, true)
	e, ctx := fp.e, context.Background()
	f := store.NewChangeCursor(fp.b.followFrom.Load(), time.Hour)
	applied := map[int64]bool{}
	poll := func() error {
		return f.Poll(ctx, fp.b.st, func(c store.Change) error {
			applied[c.Seq] = true
			return fp.b.applyLogged(ctx, c)
		})
	}
	p1 := e.newPerson("王秀英", time.Date(1950, 3, 4, 0, 0, 0, 0, time.UTC))
	p2 := e.newPerson("李建国", time.Date(1948, 7, 9, 0, 0, 0, 0, time.UTC))
	fp.enrol(p1, apiv1.RightIndex, p1.fingers[apiv1.RightIndex])
	// A transaction that took a number and rolled back (or has not
	// committed yet) leaves a gap.
	conn, err := pgx.Connect(ctx, fp.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SELECT nextval(pg_get_serial_sequence('changes', 'seq'))`); err != nil {
		t.Fatal(err)
	}
	fp.enrol(p2, apiv1.RightIndex, p2.fingers[apiv1.RightIndex])
	cs, err := fp.a.st.ChangesAfter(ctx, f.Cursor(), 10)
	if err != nil || len(cs) != 2 {
		t.Fatalf("changes: %+v, %v", cs, err)
	}
	if err := poll(); err != nil {
		t.Fatal(err)
	}
	if !applied[cs[1].Seq] || cs[1].Seq != cs[0].Seq+2 {
		t.Errorf("changes %+v: want the one after the gap applied (applied %v)", cs, applied)
	}
	if f.Cursor() != cs[0].Seq {
		t.Errorf("cursor %d; want it held at %d, before the gap", f.Cursor(), cs[0].Seq)
	}
	f.GapWait = 0
	clear(applied)
	if err := poll(); err != nil {
		t.Fatal(err)
	}
	if f.Cursor() != cs[1].Seq || len(applied) != 0 {
		t.Errorf("after the gap wait: cursor %d, applied again %v; want cursor %d and nothing applied twice", f.Cursor(), applied, cs[1].Seq)
	}
}

// BenchmarkChangePropagation measures the delay from the acknowledgement of
// an enrolment committed through one replica's store to its templates
// verifying in another replica's gallery (p50 and p99 over b.N
// enrolments), with notifications and with the poll alone:
//
//	go test ./server/api -run '^$' -bench ChangePropagation -benchtime 300x
func BenchmarkChangePropagation(b *testing.B) {
	for _, listen := range []bool{true, false} {
		name := "notify"
		if !listen {
			name = "poll-2s"
		}
		b.Run(name, func(b *testing.B) {
			fp := newFollowPair(b, listen)
			e := fp.e
			if !listen && b.N > 20 {
				b.Skip("the poll alone is measured over at most 20 enrolments (-benchtime 20x)")
			}
			people := make([]*person, b.N)
			ids := make([]int64, b.N)
			for i := range people {
				people[i] = e.newPerson("测试", time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i))
				ids[i] = fp.residentID(people[i])
			}
			delays := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i, p := range people {
				ts := fp.enrol(p, apiv1.RightIndex, p.fingers[apiv1.RightIndex])
				acked := time.Now()
				probe, _ := matcher.ParseTemplate(ts[0])
				for {
					if s, ok, _ := fp.b.gallery.Verify(ids[i], probe); ok && s > 0.3 {
						break
					}
					time.Sleep(100 * time.Microsecond)
				}
				delays = append(delays, time.Since(acked))
			}
			b.StopTimer()
			slices.Sort(delays)
			q := func(p float64) float64 { return float64(delays[int(p*float64(len(delays)-1))].Microseconds()) / 1000 }
			b.ReportMetric(q(0.5), "p50-ms")
			b.ReportMetric(q(0.99), "p99-ms")
			b.ReportMetric(float64(delays[len(delays)-1].Microseconds())/1000, "max-ms")
		})
	}
}

// TestReadyWhileFollowing: a replica whose gallery has not followed the
// change log within GalleryMaxLag reports not ready, so a load balancer
// drains it; one that does not follow a log is never stale.
func TestReadyWhileFollowing(t *testing.T) {
	e := newEnv(t)
	ready := func() error { return e.client().Do(context.Background(), "GET", "/readyz", nil, nil) }
	if err := ready(); err != nil {
		t.Fatalf("not following: %v", err)
	}
	e.srv.following.Store(true)
	e.srv.freshAt.Store(time.Now().UnixNano())
	if err := ready(); err != nil {
		t.Fatalf("following: %v", err)
	}
	e.srv.freshAt.Store(time.Now().Add(-e.srv.cfg.GalleryMaxLag - time.Second).UnixNano())
	wantCode(t, ready(), apiv1.CodeUnavailable)
}
