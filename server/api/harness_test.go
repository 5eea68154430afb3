package api

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan/wire"
	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/keyring"
	"github.com/qingshan-gov/veinkiosk/server/password"
	"github.com/qingshan-gov/veinkiosk/server/store"
	"github.com/qingshan-gov/veinkiosk/server/store/postgres"
	"github.com/qingshan-gov/veinkiosk/server/store/sqlite"
	"github.com/qingshan-gov/veinkiosk/server/store/storetest"
)

// The end-to-end tests drive the real fiber app (through app.Test, no
// network) on the real embedded store, with the real apiv1 client, and a
// fake scanner built on the real attestation codec.

// appTransport sends the client's requests through app.Test.
type appTransport struct{ app *fiber.App }

func (t appTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return t.app.Test(r, -1)
}

var cheapHash = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

type env struct {
	t      testing.TB
	st     store.Store
	dir    string // the SQLite store's directory
	srv    *Server
	http   *http.Client
	clock  *fakeClock
	maker  ed25519.PrivateKey
	rng    *rand.Rand
	admin  *apiv1.Client
	params matcher.Params
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type option func(*Config)

func newEnv(tb testing.TB, opts ...option) *env {
	tb.Helper()
	return newEnvOn(tb, "sqlite", opts...)
}

// backends are the stores newEnvOn can run the server on.
var backends = []string{"sqlite", "postgres"}

// newEnvOn is newEnv on the given store: "sqlite" (a fresh directory) or
// "postgres" (a fresh schema of TEST_DATABASE_URL; skipped when unset,
// unless VEINKIOSK_REQUIRE_POSTGRES=1).
func newEnvOn(tb testing.TB, backend string, opts ...option) *env {
	tb.Helper()
	t := tb
	ring, err := keyring.New("k1", map[string][]byte{"k1": make([]byte, 32)})
	if err != nil {
		tb.Fatal(err)
	}
	clock := &fakeClock{t: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}
	ctx := context.Background()
	dir := tb.TempDir()
	so := store.Options{Keyring: ring, Now: clock.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	var st store.Store
	switch backend {
	case "sqlite":
		st, err = sqlite.OpenDir(ctx, dir, so)
	case "postgres":
		st, err = postgres.Open(ctx, storetest.PostgresURL(tb), so)
	default:
		tb.Fatalf("unknown backend %q", backend)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	cfg := Config{
		Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: clock.Now,
		VerifyThreshold: testThreshold, DedupThreshold: testThreshold, IdentifyThreshold: testThreshold, MinQuality: 40,
		KioskRate: 1000, KioskBurst: 1000,
		// The server extracts every capture: an enrolment of six under -race
		// on a busy machine took over the default 10 s.
		RequestTimeout: time.Minute,
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.SetReady()
	_, maker, _ := ed25519.GenerateKey(nil)
	e := &env{t: t, st: st, dir: dir, srv: srv, clock: clock, maker: maker, rng: rand.New(rand.NewPCG(1, 2)),
		http: &http.Client{Transport: appTransport{srv.App()}}, params: matcher.DefaultParams}
	if _, err := srv.makers.Add("test-maker", "Test Maker", maker.Public().(ed25519.PublicKey), clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.mustStaff("admin", store.RoleAdmin, "", "")
	e.admin = e.login("admin")
	if _, err := st.CreateStation(ctx, audit.System("test"), store.Station{ID: "QS-S01", Name: "青山一站"}); err != nil {
		t.Fatal(err)
	}
	return e
}

const testPassword = "correct horse battery"

func (e *env) mustStaff(username string, role store.Role, dept, station string) store.Staff {
	e.t.Helper()
	h, err := password.HashWith(testPassword, cheapHash)
	if err != nil {
		e.t.Fatal(err)
	}
	s, err := e.st.CreateStaff(context.Background(), audit.System("test"), store.Staff{Username: username, Role: role, Department: dept, StationID: station, PasswordHash: h})
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func (e *env) client() *apiv1.Client {
	return &apiv1.Client{BaseURL: "http://centrald.test", HTTP: e.http, Now: e.clock.Now}
}

func (e *env) login(username string) *apiv1.Client {
	e.t.Helper()
	sess, err := e.client().Login(context.Background(), username, testPassword)
	if err != nil {
		e.t.Fatalf("login %s: %v", username, err)
	}
	return e.client().WithStaff(sess.Token)
}

// testPIN is the kiosk PIN atKiosk sets for staff.
const testPIN = "318642"

// loginAtKiosk sets username's PIN (a cheap hash) and logs them in with it
// at kiosk k, as staff do at the kiosk: the only session the kiosk staff
// endpoints take. It returns the kiosk's client with the session.
func (e *env) loginAtKiosk(k *kiosk, username string) *apiv1.Client {
	e.t.Helper()
	ctx := context.Background()
	st, err := e.st.GetStaffByUsername(ctx, username)
	if err != nil {
		e.t.Fatalf("staff %s: %v", username, err)
	}
	h, err := password.HashWith(testPIN, cheapHash)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.st.SetStaffPIN(ctx, audit.System("test"), st.ID, h); err != nil {
		e.t.Fatalf("PIN of %s: %v", username, err)
	}
	sess, err := k.KioskStaffLogin(ctx, username, testPIN)
	if err != nil {
		e.t.Fatalf("PIN login of %s at %s: %v", username, k.KioskID, err)
	}
	return k.WithStaff(sess.Token)
}

// atKiosk is kiosk k with username logged in on it with their PIN.
func (e *env) atKiosk(k *kiosk, username string) *kiosk {
	e.t.Helper()
	return &kiosk{Client: e.loginAtKiosk(k, username), e: e, scanner: k.scanner}
}

// kiosk is a registered kiosk with its own fake scanner.
type kiosk struct {
	*apiv1.Client
	e       *env
	scanner *fakeScanner
}

type fakeScanner struct {
	cert    wire.DeviceCertificate
	key     ed25519.PrivateKey
	counter uint64
}

func (e *env) newScanner(serial string, maker ed25519.PrivateKey) *fakeScanner {
	e.t.Helper()
	_, dk, _ := ed25519.GenerateKey(nil)
	cert := wire.DeviceCertificate{Serial: serial, Model: "VS-1", PublicKey: dk.Public().(ed25519.PublicKey), MakerID: "test-maker"}
	if err := cert.Sign(maker); err != nil {
		e.t.Fatal(err)
	}
	return &fakeScanner{cert: cert, key: dk}
}

func (e *env) newKiosk(id string) *kiosk {
	e.t.Helper()
	return e.newKioskAt(id, "QS-S01")
}

// newKioskAt registers a kiosk of the given station.
func (e *env) newKioskAt(id, station string) *kiosk {
	e.t.Helper()
	pub, priv, _ := ed25519.GenerateKey(nil)
	var k apiv1.Kiosk
	if err := e.admin.Do(context.Background(), "POST", apiv1.PathAdminKiosks, apiv1.KioskRegistration{ID: id, Station: station, PublicKey: pub}, &k); err != nil {
		e.t.Fatalf("register kiosk: %v", err)
	}
	c := e.client()
	c.KioskID, c.KioskKey = id, priv
	return &kiosk{Client: c, e: e, scanner: e.newScanner("SN-"+id, e.maker)}
}

// capture makes a signed capture of sh over a fresh server nonce.
func (k *kiosk) capture(finger apiv1.Finger, sh shot) apiv1.Capture {
	k.e.t.Helper()
	n, err := k.Nonce(context.Background())
	if err != nil {
		k.e.t.Fatalf("nonce: %v", err)
	}
	return k.scanner.sign(k.e.t, n.Nonce, finger, sh)
}

// sign is the scanner's attestation of sh's image over nonce, sent as a
// kiosk sends it: the image, and the template the kiosk extracted from it.
func (s *fakeScanner) sign(t testing.TB, nonce []byte, finger apiv1.Finger, sh shot) apiv1.Capture {
	t.Helper()
	s.counter++
	att := wire.Attestation{Serial: s.cert.Serial, Counter: s.counter, TimestampMs: 1, ImageSHA256: sha256.Sum256(sh.Img.Pixels)}
	copy(att.Nonce[:], nonce)
	if err := att.Sign(s.key); err != nil {
		t.Fatal(err)
	}
	ab, _ := att.MarshalBinary()
	cb, _ := s.cert.MarshalBinary()
	return apiv1.Capture{Finger: finger, Template: sh.Tmpl, Quality: sh.Quality, Attestation: ab, Certificate: cb, Image: sh.Img}
}

// person is a synthetic resident with two synthetic fingers.
type person struct {
	card    apiv1.Card
	fingers map[apiv1.Finger]*finger
}

var seq = 0

func (e *env) newPerson(name string, birth time.Time) *person {
	e.t.Helper()
	seq++
	n, err := identity.MakeIDNumber("150204", identity.DateOf(birth), seq*2+1)
	if err != nil {
		e.t.Fatal(err)
	}
	id := string(n)
	p := &person{
		card: apiv1.Card{IDNumber: id, Name: name, Gender: identity.GenderMale, Birth: identity.DateOf(birth), Validity: identity.Validity{From: 20200101, Until: 20400101}, Address: "内蒙古自治区包头市青山区幸福路1号"},
		fingers: map[apiv1.Finger]*finger{
			apiv1.RightIndex:  newFinger(),
			apiv1.RightMiddle: newFinger(),
		},
	}
	if _, err := e.st.ImportResidents(context.Background(), audit.System("test"), []store.Resident{{
		IDNumber: id, Name: name, Gender: "M", BirthDate: birth, Address: p.card.Address, GridCell: "G-017", Household: "H-0001", Status: store.ResidentActive,
	}}); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// template is a capture of one of the person's fingers: a good one, or
// with quality below 40 one that fails the quality gate.
func (e *env) template(f *finger, fg apiv1.Finger, quality uint8) shot {
	e.t.Helper()
	return f.Shot(e.t, fg, quality >= 40)
}

// enrolRequest builds a complete enrolment of p at kiosk k.
func (e *env) enrolRequest(k *kiosk, p *person) *apiv1.EnrolRequest {
	at := time.Now() // the replicas' servers run on the real clock
	if e.clock != nil {
		at = e.clock.Now()
	}
	req := &apiv1.EnrolRequest{Card: p.card, Consent: &apiv1.EnrolConsent{TextVersion: apiv1.ConsentTextVersion, ConfirmedAt: at}}
	for _, f := range []apiv1.Finger{apiv1.RightIndex, apiv1.RightMiddle} {
		fc := apiv1.FingerCaptures{Finger: f}
		for i := 0; i < 3; i++ {
			fc.Captures = append(fc.Captures, k.capture(f, e.template(p.fingers[f], f, 80)))
		}
		req.Fingers = append(req.Fingers, fc)
	}
	return req
}

func (e *env) enrol(k *kiosk, p *person) *apiv1.EnrolResponse {
	e.t.Helper()
	r, err := k.Enrol(context.Background(), e.enrolRequest(k, p))
	if err != nil {
		e.t.Fatalf("enrol: %v", err)
	}
	return r
}

func (e *env) verifyRequest(k *kiosk, p *person, f *finger) *apiv1.VerifyRequest {
	return &apiv1.VerifyRequest{Card: p.card, Capture: k.capture(apiv1.RightIndex, e.template(f, apiv1.RightIndex, 80))}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := apiv1.ErrorCode(err); got != code {
		t.Fatalf("got error %v (code %q), want code %q", err, got, code)
	}
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			var ae *apiv1.Error
			if errors.As(err, &ae) {
				t.Fatalf("%d %s: %s", ae.Status, ae.Code, ae.Message)
			}
			t.Fatal(err)
		}
		return v
	}
}

func fmtInt(n int64) string { return fmt.Sprint(n) }
