package api

import (
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/password"
	"github.com/qingshan-gov/veinkiosk/server/store"
	"github.com/qingshan-gov/veinkiosk/server/store/postgres"
	"github.com/qingshan-gov/veinkiosk/server/store/storetest"
)

// faultyLog is a replica's view of the change log with a fault switch: the
// database connection its follower reads through is cut (every read
// fails) or hangs (a read does not return until the fault ends), as a
// network partition or a stuck connection would. Notifications still
// arrive: they only prompt a read, which the fault defeats.
type faultyLog struct {
	store.ChangeLog
	mu    sync.Mutex
	mode  string        // "", "fail" or "hang"
	clear chan struct{} // closed when the fault ends
}

var errCut = errors.New("fault: the connection to the database is cut")

func (f *faultyLog) set(mode string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if mode == "" && f.clear != nil {
		close(f.clear)
		f.clear = nil
	}
	if mode != "" && f.clear == nil {
		f.clear = make(chan struct{})
	}
	f.mode = mode
}

func (f *faultyLog) ChangesAfter(ctx context.Context, after int64, limit int) ([]store.Change, error) {
	f.mu.Lock()
	mode, clear := f.mode, f.clear
	f.mu.Unlock()
	switch mode {
	case "fail":
		return nil, errCut
	case "hang":
		select {
		case <-clear:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return f.ChangeLog.ChangesAfter(ctx, after, limit)
}

// TestStaleReplicaRefuses attacks the staleness rule (follow.go): two
// replicas on one PostgreSQL; the change log is cut off from replica B
// (reads fail, or hang), a resident is enrolled through A, and B, whose
// gallery does not hold that enrolment, must not deduplicate or identify
// from it: an enrolment of the same fingers under another ID number is
// refused with gallery_stale before anything is consumed (so the same
// request, failed over to A, opens a duplicate case there), identification
// too, /readyz says not ready and the lag is on /metrics; a 1:1
// verification of the new resident on B succeeds, against the templates
// read from the database. When the fault ends B catches up by itself:
// ready again, and the duplicate is caught on B.
func TestStaleReplicaRefuses(t *testing.T) {
	for _, mode := range []string{"fail", "hang"} {
		t.Run(mode, func(t *testing.T) { testStaleReplica(t, mode) })
	}
}

func testStaleReplica(t *testing.T, mode string) {
	dsn := storetest.PostgresURL(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	open := func() store.Store {
		st, err := postgres.Open(ctx, dsn, replicaStoreOptions())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	stA, stB := open(), open()
	_, maker, _ := ed25519.GenerateKey(nil)
	e := &env{t: t, st: stA, maker: maker, rng: rand.New(rand.NewPCG(9, 10)), params: matcher.DefaultParams}
	if _, err := stA.CreateStation(ctx, audit.System("test"), store.Station{ID: "QS-S01", Name: "青山一站"}); err != nil {
		t.Fatal(err)
	}
	e.mustStaff("zhang", store.RoleStationStaff, "", "QS-S01")
	fault := &faultyLog{ChangeLog: stB}
	const poll, maxLag = 100 * time.Millisecond, 600 * time.Millisecond
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	server := func(st store.Store, log store.ChangeLog) *Server {
		s, err := New(Config{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			VerifyThreshold: testThreshold, DedupThreshold: testThreshold, IdentifyThreshold: testThreshold, MinQuality: 40, IdentifyEnabled: true,
			KioskRate: 1000, KioskBurst: 1000, RequestTimeout: time.Minute,
			ChangePoll: poll, GalleryMaxLag: maxLag})
		if err != nil {
			t.Fatal(err)
		}
		s.faultLog = log
		if _, err := s.makers.Add("test-maker", "Test Maker", maker.Public().(ed25519.PublicKey), time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := s.LoadGallery(ctx); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.FollowChanges(ctx); err != nil && ctx.Err() == nil {
				t.Errorf("FollowChanges: %v", err)
			}
		}()
		return s
	}
	a, b := server(stA, nil), server(stB, fault)
	client := func(s *Server) *apiv1.Client {
		return &apiv1.Client{BaseURL: "http://centrald.test", HTTP: &http.Client{Transport: appTransport{s.App()}}}
	}
	scanner := e.newScanner("SN-K-1", maker)
	pub, priv, _ := ed25519.GenerateKey(nil)
	if _, err := stA.CreateKiosk(ctx, audit.System("test"), store.Kiosk{ID: "K-1", StationID: "QS-S01", PublicKey: pub, Status: store.DeviceActive}); err != nil {
		t.Fatal(err)
	}
	// Staff log in at K-1 with their PIN (on A): a session of K-1.
	pinHash, err := password.HashWith(testPIN, cheapHash)
	if err != nil {
		t.Fatal(err)
	}
	zhang, err := stA.GetStaffByUsername(ctx, "zhang")
	if err != nil {
		t.Fatal(err)
	}
	if err := stA.SetStaffPIN(ctx, audit.System("test"), zhang.ID, pinHash); err != nil {
		t.Fatal(err)
	}
	kc := client(a)
	kc.KioskID, kc.KioskKey = "K-1", priv
	sess, err := kc.KioskStaffLogin(ctx, "zhang", testPIN)
	if err != nil {
		t.Fatal(err)
	}
	kioskAt := func(s *Server, staff bool) *kiosk {
		c := client(s)
		c.KioskID, c.KioskKey = "K-1", priv
		if staff {
			c = c.WithStaff(sess.Token)
		}
		return &kiosk{Client: c, e: e, scanner: scanner}
	}
	ready := func(s *Server) error { return client(s).Do(ctx, "GET", "/readyz", nil, nil) }
	metric := func(s *Server, name string) string {
		resp, err := client(s).HTTP.Get("http://centrald.test/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		for _, line := range strings.Split(string(body), "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[0] == name {
				return f[1]
			}
		}
		t.Fatalf("metric %s not on /metrics", name)
		return ""
	}
	if err := ready(b); err != nil {
		t.Fatalf("B before the fault: %v", err)
	}
	if v := metric(b, "veinkiosk_gallery_stale"); v != "0" {
		t.Fatalf("veinkiosk_gallery_stale %s before the fault", v)
	}

	// The fault: B's follower loses the change log. Then q is enrolled
	// through A.
	fault.set(mode)
	q := e.newPerson("赵桂兰", time.Date(1947, 5, 6, 0, 0, 0, 0, time.UTC))
	must[*apiv1.EnrolResponse](t)(kioskAt(a, true).Enrol(ctx, e.enrolRequest(kioskAt(a, true), q)))
	qRes, err := stA.GetResident(ctx, q.card.IDNumber)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "B reports not ready", func() bool { return apiv1.ErrorCode(ready(b)) == apiv1.CodeUnavailable })
	if v := metric(b, "veinkiosk_gallery_stale"); v != "1" {
		t.Errorf("veinkiosk_gallery_stale %s while stale; want 1", v)
	}
	if v := metric(b, "veinkiosk_gallery_lag_seconds"); v == "0" {
		t.Errorf("veinkiosk_gallery_lag_seconds %s while stale", v)
	}
	// B's gallery indeed lacks q: without the rule its search would pass
	// the duplicate.
	probe, err := matcher.ParseTemplate(e.template(q.fingers[apiv1.RightIndex], apiv1.RightIndex, 80).Tmpl)
	if err != nil {
		t.Fatal(err)
	}
	if hits, err := b.gallery.Search(ctx, probe, 5, testThreshold); err != nil || len(hits) != 0 {
		t.Fatalf("B's stale gallery: hits %v, %v; want none (the test needs a gallery that misses q)", hits, err)
	}

	// A duplicate enrolment (q's fingers, another ID number) on B: refused
	// as stale, nothing enrolled, nothing consumed.
	dup := e.newPerson("钱伟", time.Date(1960, 2, 3, 0, 0, 0, 0, time.UTC))
	dup.fingers = q.fingers
	req := e.enrolRequest(kioskAt(b, true), dup)
	_, err = kioskAt(b, true).Enrol(ctx, req)
	wantCode(t, err, apiv1.CodeGalleryStale)
	if es, err := stA.ResidentEnrolments(ctx, dup.card.IDNumber); err != nil || len(es) != 0 {
		t.Fatalf("after the refusal on B: enrolments of the duplicate %v, %v", es, err)
	}
	// The kiosk's client, listing B then A, fails over to A with the same
	// captures, and A catches the duplicate.
	both := kioskAt(b, true)
	both.BaseURL = "http://b.test,http://a.test"
	both.HTTP = &http.Client{Transport: hostRouter{"b.test": b.App(), "a.test": a.App()}}
	_, err = both.Enrol(ctx, req)
	wantCode(t, err, apiv1.CodeDuplicateSuspected)

	// Identification on B: refused as stale, never candidate_not_found.
	capt := kioskAt(b, true).capture(apiv1.RightIndex, e.template(q.fingers[apiv1.RightIndex], apiv1.RightIndex, 80))
	_, err = kioskAt(b, true).Identify(ctx, &apiv1.IdentifyRequest{Capture: capt})
	wantCode(t, err, apiv1.CodeGalleryStale)

	// 1:1 on B: q verifies, against the templates read from the database.
	if _, err := kioskAt(b, false).Verify(ctx, e.verifyRequest(kioskAt(b, false), q, q.fingers[apiv1.RightIndex])); err != nil {
		t.Fatalf("1:1 verification of q on the stale B: %v", err)
	}
	if v := metric(b, "veinkiosk_gallery_stale_verifications_total"); v == "0" {
		t.Errorf("veinkiosk_gallery_stale_verifications_total %s; want the verification counted", v)
	}
	if v := metric(b, "veinkiosk_gallery_stale_refusals_total"); v == "0" {
		t.Errorf("veinkiosk_gallery_stale_refusals_total %s; want the refusals counted", v)
	}

	// The fault ends: B catches up by itself.
	healed := time.Now()
	fault.set("")
	eventually(t, "B ready again", func() bool { return ready(b) == nil })
	t.Logf("STALE mode=%s: B ready again %v after the fault ended", mode, time.Since(healed).Round(time.Millisecond))
	if _, ok, _ := b.gallery.Verify(qRes.ID, probe); !ok {
		t.Fatal("B ready but its gallery lacks q")
	}
	dup2 := e.newPerson("孙丽", time.Date(1962, 8, 9, 0, 0, 0, 0, time.UTC))
	dup2.fingers = q.fingers
	_, err = kioskAt(b, true).Enrol(ctx, e.enrolRequest(kioskAt(b, true), dup2))
	wantCode(t, err, apiv1.CodeDuplicateSuspected)
	capt = kioskAt(b, true).capture(apiv1.RightIndex, e.template(q.fingers[apiv1.RightIndex], apiv1.RightIndex, 80))
	cand, err := kioskAt(b, true).Identify(ctx, &apiv1.IdentifyRequest{Capture: capt})
	if err != nil {
		t.Fatalf("identification of q on B after it caught up: %v", err)
	}
	if cand.CandidateID == "" {
		t.Fatalf("identification of q on B: %+v", cand)
	}
	if v := metric(b, "veinkiosk_gallery_stale"); v != "0" {
		t.Errorf("veinkiosk_gallery_stale %s after catching up", v)
	}
}

// hostRouter sends each request to the app of its host (several servers
// in one process, for the client's failover).
type hostRouter map[string]interface {
	Test(*http.Request, ...int) (*http.Response, error)
}

func (h hostRouter) RoundTrip(r *http.Request) (*http.Response, error) {
	app, ok := h[r.URL.Host]
	if !ok {
		return nil, errors.New("no such host " + r.URL.Host)
	}
	return app.Test(r, -1)
}
