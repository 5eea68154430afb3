package api

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
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

// TestReplicas runs two centrald processes on one PostgreSQL database and
// drives the enrolment, verification, filing and identification flows
// across both, as a load balancer would: everything that decides a
// security outcome must be the same whichever replica a request reaches.
//
// The test binary re-executes itself (only this test, selected with -run)
// as each replica: the child opens the store, serves the API on a free
// port, prints it and serves until it is killed. Each replica's gallery
// follows the enrolments made through the other (FollowChanges): a
// resident enrolled on B verifies on A without a restart. The replicas are
// then restarted once: the staff session opened before the restart must
// still be valid after it.
func TestReplicas(t *testing.T) {
	if dsn := os.Getenv(envReplicaDSN); dsn != "" {
		replicaChild(t, dsn)
		return
	}
	if testing.Short() {
		t.Skip("replica test skipped in -short mode")
	}
	dsn := storetest.PostgresURL(t)
	ctx := context.Background()
	st, err := postgres.Open(ctx, dsn, replicaStoreOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, maker, _ := ed25519.GenerateKey(nil)
	e := &env{t: t, st: st, maker: maker, rng: rand.New(rand.NewPCG(3, 4)), params: matcher.DefaultParams}
	if _, err := st.CreateStation(ctx, audit.System("test"), store.Station{ID: "QS-S01", Name: "青山一站"}); err != nil {
		t.Fatal(err)
	}
	e.mustStaff("zhang", store.RoleStationStaff, "", "QS-S01")
	e.mustStaff("wu", store.RoleStationStaff, "", "QS-S01")
	p1 := e.newPerson("王秀英", time.Date(1950, 3, 4, 0, 0, 0, 0, time.UTC))
	p2 := e.newPerson("李建国", time.Date(1948, 7, 9, 0, 0, 0, 0, time.UTC))
	kioskKeys := map[string]ed25519.PrivateKey{}
	scanners := map[string]*fakeScanner{}
	for _, id := range []string{"K-1", "K-2", "K-3"} {
		pub, priv, _ := ed25519.GenerateKey(nil)
		if _, err := st.CreateKiosk(ctx, audit.System("test"), store.Kiosk{ID: id, StationID: "QS-S01", PublicKey: pub, Status: store.DeviceActive}); err != nil {
			t.Fatal(err)
		}
		kioskKeys[id], scanners[id] = priv, e.newScanner("SN-"+id, maker)
	}
	makerPub := hex.EncodeToString(maker.Public().(ed25519.PublicKey))
	a, b := startReplica(t, dsn, makerPub), startReplica(t, dsn, makerPub)
	// kioskAt is kiosk id speaking to replica r (the same scanner, so its
	// capture counter keeps rising whichever replica it reaches).
	kioskAt := func(r *replica, id string) *kiosk {
		c := r.client()
		c.KioskID, c.KioskKey = id, kioskKeys[id]
		return &kiosk{Client: c, e: e, scanner: scanners[id]}
	}

	// A staff member logs in on A and enrols on B with that session.
	sess, err := a.client().Login(ctx, "zhang", testPassword)
	if err != nil {
		t.Fatalf("login on A: %v", err)
	}
	var cur apiv1.Session
	if err := b.client().WithStaff(sess.Token).Do(ctx, "GET", apiv1.PathSessionCurrent, nil, &cur); err != nil || cur.Username != "zhang" {
		t.Fatalf("the session opened on A, on B: %+v, %v", cur, err)
	}
	// At the kiosk staff log in with their PIN (on A): a session of K-1,
	// which B takes at K-1 and at no other kiosk.
	h, err := password.HashWith(testPIN, cheapHash)
	if err != nil {
		t.Fatal(err)
	}
	zhang, err := st.GetStaffByUsername(ctx, "zhang")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetStaffPIN(ctx, audit.System("test"), zhang.ID, h); err != nil {
		t.Fatal(err)
	}
	ksess, err := kioskAt(a, "K-1").KioskStaffLogin(ctx, "zhang", testPIN)
	if err != nil {
		t.Fatalf("PIN login at K-1 on A: %v", err)
	}
	staffAt := func(r *replica, id string) *kiosk {
		k := kioskAt(r, id)
		k.Client = k.WithStaff(ksess.Token)
		return k
	}
	_, err = staffAt(b, "K-2").Enrol(ctx, &apiv1.EnrolRequest{Card: p1.card})
	wantCode(t, err, apiv1.CodeSessionKioskBound)
	err = b.client().WithStaff(ksess.Token).Do(ctx, "GET", apiv1.PathSessionCurrent, nil, nil)
	wantCode(t, err, apiv1.CodeSessionKioskBound)
	if _, err := staffAt(b, "K-1").Enrol(ctx, e.enrolRequest(staffAt(b, "K-1"), p1)); err != nil {
		t.Fatalf("enrolment on B with A's session: %v", err)
	}
	if _, err := staffAt(a, "K-1").Enrol(ctx, e.enrolRequest(staffAt(a, "K-1"), p2)); err != nil {
		t.Fatalf("enrolment on A: %v", err)
	}

	// A signed kiosk request accepted by A is refused when replayed to B.
	rec := &recorder{}
	k1a := kioskAt(a, "K-1")
	k1a.HTTP = &http.Client{Transport: rec}
	if _, err := k1a.Nonce(ctx); err != nil {
		t.Fatalf("nonce on A: %v", err)
	}
	if code := rec.replay(t, b.url); code != apiv1.CodeReplay {
		t.Fatalf("a signed request of A replayed to B: got %q, want %q", code, apiv1.CodeReplay)
	}

	// Each gallery follows the other replica's enrolment: p1, enrolled on
	// B, verifies on A, and p2, enrolled on A, on B.
	a.waitResidents(2)
	b.waitResidents(2)
	if _, err := kioskAt(a, "K-3").Verify(ctx, e.verifyRequest(kioskAt(a, "K-3"), p1, p1.fingers[apiv1.RightIndex])); err != nil {
		t.Fatalf("verification on A of the enrolment made on B: %v", err)
	}
	if _, err := kioskAt(b, "K-3").Verify(ctx, e.verifyRequest(kioskAt(b, "K-3"), p2, p2.fingers[apiv1.RightIndex])); err != nil {
		t.Fatalf("verification on B of the enrolment made on A: %v", err)
	}

	// Restart both: their galleries load every enrolment from the
	// database. The session survives.
	a.stop()
	b.stop()
	a, b = startReplica(t, dsn, makerPub), startReplica(t, dsn, makerPub)
	if err := a.client().WithStaff(sess.Token).Do(ctx, "GET", apiv1.PathSessionCurrent, nil, &cur); err != nil {
		t.Fatalf("the session after the restart: %v", err)
	}

	// A filing token issued on A is spent on B; the retry of that filing
	// on A finds it; a second use of the token on A is refused.
	vr, err := kioskAt(a, "K-1").Verify(ctx, e.verifyRequest(kioskAt(a, "K-1"), p1, p1.fingers[apiv1.RightIndex]))
	if err != nil {
		t.Fatalf("verification on A: %v", err)
	}
	values := map[string]string{
		"household_size": "2", "monthly_income": "800", "income_source": "养老金", "housing": "自有住房",
		"bank_account": "6222020200112233", "phone": "13800138000", "reason": "老伴去世，收入减少", "vehicle": "false", "bank_name": "中国建设银行",
	}
	sub := &apiv1.SubmitFilingRequest{Token: vr.Token, Service: "dibao_new", IdempotencyKey: "replica-0000-4000-8000-000000000001", Values: values}
	f1, err := kioskAt(b, "K-1").SubmitFiling(ctx, sub)
	if err != nil {
		t.Fatalf("filing on B with A's token: %v", err)
	}
	f2, err := kioskAt(a, "K-1").SubmitFiling(ctx, sub)
	if err != nil || f2.ID != f1.ID {
		t.Fatalf("the retry on A of B's acknowledged filing: %+v, %v; want filing %d", f2, err, f1.ID)
	}
	sub2 := *sub
	sub2.IdempotencyKey = "replica-0000-4000-8000-000000000002"
	_, err = kioskAt(a, "K-1").SubmitFiling(ctx, &sub2)
	wantCode(t, err, apiv1.CodeTokenInvalid)

	// Failures on both replicas lock the ID number (3 failures, replicaLockFor).
	stranger := newFinger()
	failAt := func(r *replica, kid string, p *person) error {
		k := kioskAt(r, kid)
		_, err := k.Verify(ctx, e.verifyRequest(k, p, stranger))
		return err
	}
	wantCode(t, failAt(a, "K-2", p2), apiv1.CodeNoMatch)
	wantCode(t, failAt(b, "K-2", p2), apiv1.CodeNoMatch)
	err = failAt(a, "K-2", p2)
	wantCode(t, err, apiv1.CodeLocked)
	firstLock := retryAfter(err)
	lockedAt := time.Now()
	wantCode(t, failAt(b, "K-3", p2), apiv1.CodeLocked)

	// The kiosk backoff is shared: K-2's fourth consecutive failure (on B)
	// makes it wait on A too.
	wantCode(t, failAt(b, "K-2", p1), apiv1.CodeNoMatch)
	err = failAt(a, "K-2", p1)
	wantCode(t, err, apiv1.CodeRateLimited)

	// Lock escalation is shared: after the lock recorded by A expires, the
	// next lock, decided on B, lasts twice as long.
	time.Sleep(time.Until(lockedAt.Add(replicaLockFor + 200*time.Millisecond)))
	wantCode(t, failAt(a, "K-3", p2), apiv1.CodeNoMatch)
	wantCode(t, failAt(a, "K-3", p2), apiv1.CodeNoMatch)
	err = failAt(b, "K-3", p2)
	wantCode(t, err, apiv1.CodeLocked)
	if second := retryAfter(err); firstLock > int(replicaLockFor/time.Second) || second <= int(replicaLockFor/time.Second) {
		t.Errorf("lock escalation across replicas: first lock %d s, second %d s; want the second longer than %v", firstLock, second, replicaLockFor)
	}

	// A pending identification started on A completes on B, once.
	cand, err := staffAt(a, "K-1").Identify(ctx, &apiv1.IdentifyRequest{Capture: staffAt(a, "K-1").capture(apiv1.RightIndex, e.template(p1.fingers[apiv1.RightIndex], apiv1.RightIndex, 80))})
	if err != nil {
		t.Fatalf("identification on A: %v", err)
	}
	if vr, err := staffAt(b, "K-1").IdentifyConfirm(ctx, cand.CandidateID); err != nil || vr.Token == "" {
		t.Fatalf("confirmation on B of A's candidate: %+v, %v", vr, err)
	}
	_, err = staffAt(a, "K-1").IdentifyConfirm(ctx, cand.CandidateID)
	wantCode(t, err, apiv1.CodeCandidateExpired)

	// The login limit per username is shared: failed attempts spread over
	// both replicas use up one burst of ten. The bucket refills one attempt
	// per 5 s, and the attempts are slow under -race, so the refusal must
	// come within ten attempts plus the refills of the time taken (two
	// separate limits would allow twenty).
	began, refusedAt := time.Now(), 0
	for i := 0; i < 40 && refusedAt == 0; i++ {
		r := a
		if i%2 == 1 {
			r = b
		}
		_, err := r.client().Login(ctx, "wu", "wrong password")
		switch apiv1.ErrorCode(err) {
		case apiv1.CodeRateLimited:
			refusedAt = i + 1
		case apiv1.CodeBadCredentials:
		default:
			t.Fatalf("login attempt %d: %v", i+1, err)
		}
	}
	if allowed := 10 + 1 + int(time.Since(began)/(5*time.Second)); refusedAt == 0 || refusedAt > allowed {
		t.Errorf("login limit across replicas: refused at attempt %d (0: never), want by attempt %d", refusedAt, allowed)
	}

	// Logging out on B ends the session on A.
	if err := b.client().WithStaff(sess.Token).Do(ctx, "DELETE", apiv1.PathSessionCurrent, nil, nil); err != nil {
		t.Fatalf("logout on B: %v", err)
	}
	err = a.client().WithStaff(sess.Token).Do(ctx, "GET", apiv1.PathSessionCurrent, nil, &cur)
	wantCode(t, err, apiv1.CodeUnauthenticated)
}

// Environment of the replica child process.
const (
	envReplicaDSN   = "VEINKIOSK_REPLICA_DSN"
	envReplicaMaker = "VEINKIOSK_REPLICA_MAKER" // hex Ed25519 public key of the test maker
)

// replicaLockFor is the replicas' lockout time: short, so the test can wait
// for a lock to expire, and long enough that it does not expire between two
// verifications under -race on a busy machine (2 s did).
const replicaLockFor = 8 * time.Second

func replicaStoreOptions() store.Options {
	o := storetest.Options()
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return o
}

// replicaChild is one centrald replica: the API on the database at dsn,
// on a free port printed to stdout, until the parent kills it.
func replicaChild(t *testing.T, dsn string) {
	ctx := context.Background()
	st, err := postgres.Open(ctx, dsn, replicaStoreOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv, err := New(Config{
		Store: st, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
		VerifyThreshold: testThreshold, DedupThreshold: testThreshold, IdentifyThreshold: testThreshold, MinQuality: 40, IdentifyEnabled: true,
		KioskRate: 1000, KioskBurst: 1000,
		Lockout:       store.LockoutPolicy{MaxFailures: 3, LockFor: replicaLockFor},
		KioskFailures: 4,
		// Every capture is extracted here: an enrolment of six under -race
		// on a busy machine can take longer than the default 10 s.
		RequestTimeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	if url := os.Getenv(envReplicaNATS); url != "" {
		// With matcher shards (TestClusterFault): 1:N goes to them.
		useShards(t, srv, url)
	}
	pub, err := hex.DecodeString(os.Getenv(envReplicaMaker))
	if err != nil || len(pub) != ed25519.PublicKeySize {
		t.Fatalf("%s: %v", envReplicaMaker, err)
	}
	if _, err := srv.makers.Add("test-maker", "Test Maker", pub, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := srv.LoadGallery(ctx); err != nil {
		t.Fatal(err)
	}
	go func() {
		if err := srv.FollowChanges(ctx); err != nil {
			t.Errorf("following the change log: %v", err)
		}
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("REPLICA LISTEN %s\n", ln.Addr())
	if err := srv.App().Listener(ln); err != nil {
		t.Fatal(err)
	}
}

type replica struct {
	t   *testing.T
	url string
	cmd *exec.Cmd
}

// startReplica starts a replica process and waits until it listens;
// extraEnv (NAME=value) is added to its environment.
func startReplica(t *testing.T, dsn, makerPub string, extraEnv ...string) *replica {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+strings.Split(t.Name(), "/")[0]+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), envReplicaDSN+"="+dsn, envReplicaMaker+"="+makerPub)
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &replica{t: t, cmd: cmd}
	t.Cleanup(r.stop)
	addr := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(out)
		for lines.Scan() {
			if f := strings.Fields(lines.Text()); len(f) == 3 && f[0] == "REPLICA" && f[1] == "LISTEN" {
				addr <- f[2]
			}
		}
		close(addr)
	}()
	select {
	case a, ok := <-addr:
		if !ok {
			t.Fatal("the replica ended before it listened")
		}
		r.url = "http://" + a
	case <-time.After(2 * time.Minute):
		t.Fatal("the replica did not start listening within 2 minutes")
	}
	return r
}

// stop kills the replica (it keeps nothing in memory worth a graceful end).
func (r *replica) stop() {
	if r.cmd.ProcessState != nil {
		return
	}
	r.cmd.Process.Kill()
	r.cmd.Wait()
}

// waitResidents waits up to 30 s until the replica's gallery holds n
// residents (its /readyz says how many).
func (r *replica) waitResidents(n int) {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var ready struct {
			Residents int `json:"gallery_residents"`
		}
		err := r.client().Do(context.Background(), "GET", "/readyz", nil, &ready)
		if err == nil && ready.Residents == n {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("replica %s: gallery residents %d (%v); want %d within 30 s", r.url, ready.Residents, err, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *replica) client() *apiv1.Client {
	return &apiv1.Client{BaseURL: r.url, HTTP: &http.Client{Timeout: time.Minute}}
}

// recorder is a transport that keeps a copy of the last request it sent.
type recorder struct {
	method, uri string
	header      http.Header
	body        []byte
}

func (rc *recorder) RoundTrip(r *http.Request) (*http.Response, error) {
	rc.method, rc.uri, rc.header = r.Method, r.URL.RequestURI(), r.Header.Clone()
	rc.body = nil
	if r.Body != nil {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		rc.body = b
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	return http.DefaultTransport.RoundTrip(r)
}

// replay sends the recorded request, byte for byte, to base and returns the
// error code of the answer ("" for a success).
func (rc *recorder) replay(t *testing.T, base string) string {
	t.Helper()
	req, err := http.NewRequest(rc.method, base+rc.uri, bytes.NewReader(rc.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = rc.header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 300 {
		return ""
	}
	var eb apiv1.ErrorBody
	if err := json.NewDecoder(resp.Body).Decode(&eb); err != nil {
		t.Fatalf("replayed request: %d, undecodable answer: %v", resp.StatusCode, err)
	}
	return eb.Error.Code
}

func retryAfter(err error) int {
	var e *apiv1.Error
	if errors.As(err, &e) {
		return e.RetryAfterSeconds
	}
	return -1
}
