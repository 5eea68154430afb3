package attacks

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/tls"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan/wire"
	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/server/api"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/keyring"
	"github.com/qingshan-gov/veinkiosk/server/password"
	"github.com/qingshan-gov/veinkiosk/server/store"
	"github.com/qingshan-gov/veinkiosk/server/store/postgres"
	"github.com/qingshan-gov/veinkiosk/server/store/sqlite"
	"github.com/qingshan-gov/veinkiosk/server/store/storetest"
)

// target is a running centrald: the real server on a loopback listener,
// over one of the two stores. The only thing the suite takes from inside is
// the setup an operator does at the console (the first administrator) and
// the raw database an attacker who stole it would hold.
type target struct {
	t       *testing.T
	backend string // "sqlite" or "postgres"
	st      store.Store
	srv     *api.Server
	base    string // http://127.0.0.1:port
	addr    string
	clock   *clock
	hc      *http.Client
	maker   ed25519.PrivateKey
	admin   *apiv1.Client
	rng     *rand.Rand
	params  matcher.Params
	dbPath  string // SQLite file
	dbURL   string // PostgreSQL URL (with its test schema)
	station string
	pki     *pki // with TLS: the CA and files
}

// clock is the server's and the kiosks' clock: real time plus an offset the
// attacks may move forward, or, once frozen, a fixed instant (for attacks
// that must not race a refilling rate limit).
type clock struct{ off, frozen atomic.Int64 }

func (c *clock) Now() time.Time {
	if f := c.frozen.Load(); f != 0 {
		return time.Unix(0, f).Add(time.Duration(c.off.Load()))
	}
	return time.Now().Add(time.Duration(c.off.Load()))
}
func (c *clock) Add(d time.Duration) { c.off.Add(int64(d)) }

// Freeze stops the clock at now.
func (c *clock) Freeze() { c.frozen.Store(time.Now().UnixNano()) }

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
func cheap() password.Params {
	return password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
}
func backends() []string                { return []string{"sqlite", "postgres"} }
func (tg *target) ctx() context.Context { return context.Background() }
func (tg *target) client() *apiv1.Client {
	return &apiv1.Client{BaseURL: tg.base, HTTP: tg.hc, Now: tg.clock.Now}
}

// password of every staff account the suite creates.
const pw = "correct horse battery"

// forEach runs attack on a fresh target per store, in parallel with the
// other attacks (each has its own server and database). A withTLS option
// starts it with TLS under a fresh test CA.
func forEach(t *testing.T, attack func(t *testing.T, tg *target), opts ...func(*api.Config)) {
	t.Parallel()
	forEachSerial(t, attack, opts...)
}

// forEachSerial is forEach for the attacks that measure the process (the
// heap): they run alone.
func forEachSerial(t *testing.T, attack func(t *testing.T, tg *target), opts ...func(*api.Config)) {
	for _, b := range backends() {
		t.Run(b, func(t *testing.T) {
			var probe api.Config
			for _, o := range opts {
				o(&probe)
			}
			if probe.TLSCertFile != tlsMarker {
				attack(t, start(t, b, opts...))
				return
			}
			p := newPKI(t, "127.0.0.1")
			su := setup{cfg: append(opts, tlsConfig(p, probe.KioskClientCAFile == tlsMarker)), clientTLS: &tls.Config{RootCAs: p.pool}}
			tg := startWith(t, b, su)
			tg.pki = p
			attack(t, tg)
		})
	}
}

// storeKeys is the key ring of every target's store.
func storeKeys(t *testing.T) *keyring.Ring {
	ring, err := keyring.New("k1", map[string][]byte{"k1": bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	return ring
}

func start(t *testing.T, backend string, opts ...func(*api.Config)) *target {
	t.Helper()
	return startWith(t, backend, setup{cfg: opts})
}

// setup varies how a target starts.
type setup struct {
	cfg       []func(*api.Config)
	clientTLS *tls.Config                  // the clients' TLS configuration (roots, client certificate)
	listen    func() (net.Listener, error) // default: TCP on 127.0.0.1, a free port
}

func startWith(t *testing.T, backend string, su setup) *target {
	t.Helper()
	opts := su.cfg
	ctx := context.Background()
	ring := storeKeys(t)
	tg := &target{t: t, backend: backend, clock: &clock{}, rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11)), params: matcher.DefaultParams, station: "QS-S01"}
	var err error
	sopts := store.Options{Keyring: ring, Now: tg.clock.Now, Logger: quiet()}
	switch backend {
	case "sqlite":
		dir := t.TempDir()
		tg.dbPath = filepath.Join(dir, sqlite.FileName)
		tg.st, err = sqlite.OpenDir(ctx, dir, sopts)
	case "postgres":
		tg.dbURL = storetest.PostgresURL(t)
		tg.st, err = postgres.Open(ctx, tg.dbURL, sopts)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.st.Close() })
	cfg := api.Config{
		Store: tg.st, Logger: quiet(), Now: tg.clock.Now,
		VerifyThreshold: testThreshold, DedupThreshold: testThreshold, IdentifyThreshold: testThreshold, MinQuality: 40,
		KioskRate: 1000, KioskBurst: 1000,
		// The server extracts every capture: an enrolment of six under -race
		// on a busy machine took over the default 10 s.
		RequestTimeout: time.Minute,
	}
	for _, o := range opts {
		o(&cfg)
	}
	tg.srv, err = api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.srv.LoadGallery(ctx); err != nil {
		t.Fatal(err)
	}
	if su.listen == nil {
		su.listen = func() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
	}
	ln, err := su.listen()
	if err != nil {
		t.Fatal(err)
	}
	tg.addr = ln.Addr().String()
	scheme := "http"
	if tg.srv.TLS() {
		scheme = "https"
	}
	tg.base = scheme + "://" + tg.addr
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- tg.srv.Serve(sctx, ln, time.Second) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	tg.hc = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8, TLSClientConfig: su.clientTLS}}
	t.Cleanup(tg.hc.CloseIdleConnections)

	// The console setup: the first administrator (as centrald's bootstrap
	// does); everything else goes through the API.
	tg.staffInStore("admin", store.RoleAdmin, "", "")
	tg.admin = tg.login("admin")
	must(t, tg.admin.Do(ctx, "POST", apiv1.PathAdminStations, apiv1.Station{ID: tg.station, Name: "青山一站"}, nil))
	_, tg.maker, _ = ed25519.GenerateKey(nil)
	must(t, tg.admin.Do(ctx, "POST", apiv1.PathAdminMakers, apiv1.Maker{ID: "test-maker", Name: "Test Maker", PublicKey: tg.maker.Public().(ed25519.PublicKey)}, nil))
	return tg
}

// staffInStore creates a staff account with a cheap password hash (the
// API's would take 64 MiB and a second per account).
func (tg *target) staffInStore(username string, role store.Role, dept, station string) {
	tg.t.Helper()
	h, err := password.HashWith(pw, cheap())
	if err != nil {
		tg.t.Fatal(err)
	}
	if _, err := tg.st.CreateStaff(tg.ctx(), audit.System("console"), store.Staff{Username: username, Role: role, Department: dept, StationID: station, PasswordHash: h}); err != nil {
		tg.t.Fatal(err)
	}
}

func (tg *target) login(username string) *apiv1.Client {
	tg.t.Helper()
	s, err := tg.client().Login(tg.ctx(), username, pw)
	if err != nil {
		tg.t.Fatalf("login %s: %v", username, err)
	}
	return tg.client().WithStaff(s.Token)
}

func (tg *target) station2(id string) {
	tg.t.Helper()
	must(tg.t, tg.admin.Do(tg.ctx(), "POST", apiv1.PathAdminStations, apiv1.Station{ID: id, Name: id}, nil))
}

// kiosk is a registered kiosk with its own scanner.
type kiosk struct {
	*apiv1.Client
	tg      *target
	scanner *scanner
}

type scanner struct {
	mu      sync.Mutex
	cert    wire.DeviceCertificate
	key     ed25519.PrivateKey
	counter uint64
}

func (tg *target) newScanner(serial, makerID string, maker ed25519.PrivateKey) *scanner {
	tg.t.Helper()
	_, dk, _ := ed25519.GenerateKey(nil)
	cert := wire.DeviceCertificate{Serial: serial, Model: "VS-1", PublicKey: dk.Public().(ed25519.PublicKey), MakerID: makerID}
	if err := cert.Sign(maker); err != nil {
		tg.t.Fatal(err)
	}
	return &scanner{cert: cert, key: dk}
}

func (tg *target) newKioskAt(id, station string) *kiosk {
	tg.t.Helper()
	pub, priv, _ := ed25519.GenerateKey(nil)
	must(tg.t, tg.admin.Do(tg.ctx(), "POST", apiv1.PathAdminKiosks, apiv1.KioskRegistration{ID: id, Station: station, PublicKey: pub}, nil))
	c := tg.client()
	c.KioskID, c.KioskKey = id, priv
	return &kiosk{Client: c, tg: tg, scanner: tg.newScanner("SN-"+id, "test-maker", tg.maker)}
}

func (tg *target) newKiosk(id string) *kiosk { return tg.newKioskAt(id, tg.station) }

// staffPIN is the PIN staffAt sets.
const staffPIN = "318642"

// staffAt is the kiosk with username logged in on it with their PIN (set
// in the store), as staff log in at a kiosk: the only session its staff
// endpoints take.
func (k *kiosk) staffAt(username string) *kiosk {
	k.tg.t.Helper()
	k.tg.pinInStore(username, staffPIN)
	s, err := k.KioskStaffLogin(k.tg.ctx(), username, staffPIN)
	if err != nil {
		k.tg.t.Fatalf("PIN login of %s at %s: %v", username, k.KioskID, err)
	}
	return &kiosk{Client: k.WithStaff(s.Token), tg: k.tg, scanner: k.scanner}
}

// sign makes the scanner's capture of sh over nonce: the attestation of
// sh's image, sent with the image and the template the kiosk extracted.
func (s *scanner) sign(t *testing.T, nonce []byte, finger apiv1.Finger, sh shot) apiv1.Capture {
	t.Helper()
	return s.signImage(t, nonce, finger, sh.Img, sh)
}

// signImage attests the image attested but sends the capture sent (its
// image and template): what a kiosk that holds a scanner and the kiosk key
// can do.
func (s *scanner) signImage(t *testing.T, nonce []byte, finger apiv1.Finger, attested *apiv1.Image, sent shot) apiv1.Capture {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counter++
	att := wire.Attestation{Serial: s.cert.Serial, Counter: s.counter, TimestampMs: time.Now().UnixMilli(), ImageSHA256: sha256.Sum256(attested.Pixels)}
	copy(att.Nonce[:], nonce)
	if err := att.Sign(s.key); err != nil {
		t.Fatal(err)
	}
	ab, _ := att.MarshalBinary()
	cb, _ := s.cert.MarshalBinary()
	return apiv1.Capture{Finger: finger, Template: sent.Tmpl, Quality: sent.Quality, Attestation: ab, Certificate: cb, Image: sent.Img}
}

// capture asks for a nonce and signs a capture of tmpl over it.
func (k *kiosk) capture(finger apiv1.Finger, sh shot) apiv1.Capture {
	k.tg.t.Helper()
	n, err := k.Nonce(k.tg.ctx())
	if err != nil {
		k.tg.t.Fatalf("nonce: %v", err)
	}
	return k.scanner.sign(k.tg.t, n.Nonce, finger, sh)
}

// person is a synthetic resident with two synthetic fingers.
type person struct {
	card    apiv1.Card
	fingers map[apiv1.Finger]*finger
}

var personSeq atomic.Int64

// idNumber makes a valid 18-character ID number (GB 11643 check digit).
func idNumber(region string, birth time.Time, seq int) string {
	s := fmt.Sprintf("%s%s%03d", region, birth.Format("20060102"), (2*seq+1)%1000) // odd: a man's
	weights := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, w := range weights {
		sum += int(s[i]-'0') * w
	}
	return s + string("10X98765432"[sum%11])
}

// newPerson imports a resident through the admin API. wantX asks for an ID
// number whose check character is X.
func (tg *target) newPerson(name string, wantX bool) *person {
	tg.t.Helper()
	birth := time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(personSeq.Add(1))*37)
	var id string
	for seq := int(personSeq.Add(1)); ; seq++ {
		id = idNumber("150204", birth, seq)
		if !wantX || id[17] == 'X' {
			break
		}
	}
	p := &person{
		card: apiv1.Card{IDNumber: id, Name: name, Gender: identity.GenderMale, Birth: identity.DateOf(birth), Validity: identity.Validity{From: 20200101, Until: 20400101}, Address: "青山区幸福路1号"},
		fingers: map[apiv1.Finger]*finger{
			apiv1.RightIndex:  newFinger(),
			apiv1.RightMiddle: newFinger(),
		},
	}
	must(tg.t, tg.admin.Do(tg.ctx(), "POST", apiv1.PathAdminResidents, apiv1.ResidentImport{Residents: []apiv1.Resident{{
		IDNumber: id, Name: name, Gender: "M", BirthDate: birth.Format(time.DateOnly), Address: p.card.Address, GridCell: "G-017", Household: "H-0001", Status: "active",
	}}}, nil))
	return p
}

// template is a fresh capture of a finger, as the kiosk sends it.
func (tg *target) template(f *finger, fg apiv1.Finger) shot {
	tg.t.Helper()
	return f.Shot(tg.t, fg, true)
}

// enrolRequest enrols p's fingers (or the fingers given) at k.
func (tg *target) enrolRequest(k *kiosk, p *person, fingers map[apiv1.Finger]*finger) *apiv1.EnrolRequest {
	if fingers == nil {
		fingers = p.fingers
	}
	req := &apiv1.EnrolRequest{Card: p.card, Consent: &apiv1.EnrolConsent{TextVersion: apiv1.ConsentTextVersion, ConfirmedAt: tg.clock.Now()}}
	for _, f := range []apiv1.Finger{apiv1.RightIndex, apiv1.RightMiddle} {
		fc := apiv1.FingerCaptures{Finger: f}
		for i := 0; i < 3; i++ {
			fc.Captures = append(fc.Captures, k.capture(f, tg.template(fingers[f], f)))
		}
		req.Fingers = append(req.Fingers, fc)
	}
	return req
}

func (tg *target) enrol(k *kiosk, p *person) {
	tg.t.Helper()
	if _, err := k.Enrol(tg.ctx(), tg.enrolRequest(k, p, nil)); err != nil {
		tg.t.Fatalf("enrol: %v", err)
	}
}

func (tg *target) verifyRequest(k *kiosk, p *person, f *finger) *apiv1.VerifyRequest {
	return &apiv1.VerifyRequest{Card: p.card, Capture: k.capture(apiv1.RightIndex, tg.template(f, apiv1.RightIndex))}
}

// station is a station with staff and a kiosk, and an enrolled resident.
type station struct {
	k     *kiosk // the kiosk alone (resident's use)
	staff *kiosk // the kiosk with station staff logged in
	p     *person
}

func (tg *target) enrolledStation(kioskID string) *station {
	tg.t.Helper()
	tg.staffInStore("staff-"+kioskID, store.RoleStationStaff, "", tg.station)
	k := tg.newKiosk(kioskID)
	sk := k.staffAt("staff-" + kioskID)
	p := tg.newPerson("李明", false)
	tg.enrol(sk, p)
	return &station{k: k, staff: sk, p: p}
}

// ---- raw HTTP ----

// reply is a decoded answer.
type reply struct {
	status int
	code   string
	body   []byte
	header http.Header
}

func (tg *target) do(req *http.Request) reply {
	tg.t.Helper()
	resp, err := tg.hc.Do(req)
	if err != nil {
		tg.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var eb apiv1.ErrorBody
	_ = json.Unmarshal(b, &eb)
	return reply{status: resp.StatusCode, code: eb.Error.Code, body: b, header: resp.Header}
}

func (tg *target) request(method, uri string, body []byte) *http.Request {
	tg.t.Helper()
	req, err := http.NewRequest(method, tg.base+uri, bytes.NewReader(body))
	if err != nil {
		tg.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// signed is a kiosk request signed at time now.
func (k *kiosk) signed(method, uri string, body []byte, now time.Time) *http.Request {
	k.tg.t.Helper()
	h, err := apiv1.SignRequest(k.KioskKey, k.KioskID, method, uri, body, now)
	if err != nil {
		k.tg.t.Fatal(err)
	}
	req := k.tg.request(method, uri, body)
	h.Apply(req.Header)
	return req
}

func (r reply) want(t *testing.T, status int, code string) {
	t.Helper()
	if r.status != status || r.code != code {
		t.Fatalf("ATTACK NOT REFUSED AS EXPECTED: got %d %q (%.300s), want %d %q", r.status, r.code, r.body, status, code)
	}
}

// refused asserts that err is the API error status/code.
func refused(t *testing.T, err error, status int, code string) {
	t.Helper()
	var ae *apiv1.Error
	if !errors.As(err, &ae) {
		t.Fatalf("ATTACK SUCCEEDED or failed oddly: err = %v, want %d %q", err, status, code)
	}
	if ae.Status != status || ae.Code != code {
		t.Fatalf("ATTACK NOT REFUSED AS EXPECTED: got %d %q (%s), want %d %q", ae.Status, ae.Code, ae.Message, status, code)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		var ae *apiv1.Error
		if errors.As(err, &ae) {
			t.Fatalf("%d %s: %s", ae.Status, ae.Code, ae.Message)
		}
		t.Fatal(err)
	}
}

func mustV[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		must(t, err)
		return v
	}
}

// ---- the raw database (what a thief of the database or a dishonest DBA holds) ----

// exec runs SQL directly on the target's database, bypassing the server.
func (tg *target) exec(query string, args ...any) int64 {
	tg.t.Helper()
	ctx := tg.ctx()
	switch tg.backend {
	case "sqlite":
		db, err := sql.Open("sqlite", tg.dbPath)
		if err != nil {
			tg.t.Fatal(err)
		}
		defer db.Close()
		res, err := db.ExecContext(ctx, query, args...)
		if err != nil {
			tg.t.Fatalf("sqlite %q: %v", query, err)
		}
		n, _ := res.RowsAffected()
		return n
	default:
		conn, err := pgx.Connect(ctx, tg.dbURL)
		if err != nil {
			tg.t.Fatal(err)
		}
		defer conn.Close(ctx)
		tag, err := conn.Exec(ctx, pgQuery(query), args...)
		if err != nil {
			tg.t.Fatalf("postgres %q: %v", query, err)
		}
		return tag.RowsAffected()
	}
}

// count runs a SELECT count(*) query directly on the target's database.
func (tg *target) count(query string, args ...any) int64 {
	tg.t.Helper()
	ctx := tg.ctx()
	var n int64
	var err error
	if tg.backend == "sqlite" {
		var db *sql.DB
		if db, err = sql.Open("sqlite", tg.dbPath); err != nil {
			tg.t.Fatal(err)
		}
		defer db.Close()
		err = db.QueryRowContext(ctx, query, args...).Scan(&n)
	} else {
		var conn *pgx.Conn
		if conn, err = pgx.Connect(ctx, tg.dbURL); err != nil {
			tg.t.Fatal(err)
		}
		defer conn.Close(ctx)
		err = conn.QueryRow(ctx, pgQuery(query), args...).Scan(&n)
	}
	if err != nil {
		tg.t.Fatalf("%s %q: %v", tg.backend, query, err)
	}
	return n
}

// pgQuery turns ? placeholders into $n.
func pgQuery(q string) string {
	var b bytes.Buffer
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// dump is every byte of the database a thief would carry away: the SQLite
// files, or every row of every table of the schema as text.
func (tg *target) dump() []byte {
	tg.t.Helper()
	ctx := tg.ctx()
	if tg.backend == "sqlite" {
		var all []byte
		for _, suffix := range []string{"", "-wal", "-shm"} {
			b, err := os.ReadFile(tg.dbPath + suffix)
			if err == nil {
				all = append(all, b...)
			}
		}
		return all
	}
	conn, err := pgx.Connect(ctx, tg.dbURL)
	if err != nil {
		tg.t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
	if err != nil {
		tg.t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		tg.t.Fatal(err)
	}
	var all bytes.Buffer
	for _, tb := range tables {
		rows, err := conn.Query(ctx, fmt.Sprintf("SELECT t::text FROM %s t", pgx.Identifier{tb}.Sanitize()))
		if err != nil {
			tg.t.Fatal(err)
		}
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			tg.t.Fatal(err)
		}
		for _, s := range texts {
			all.WriteString(s)
			all.WriteByte('\n')
		}
	}
	return all.Bytes()
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
