package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan/wire"
	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/matcher/extract"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/simulators/deck"
	"github.com/qingshan-gov/veinkiosk/simulators/fingerimg"
	"github.com/qingshan-gov/veinkiosk/simulators/veinsim"
)

func init() {
	register(command{name: "load", summary: "load-test a running centrald (enrol synthetic residents, verify from simulated kiosks)", run: runLoad})
}

// loadFlags are the options of veinctl load.
type loadFlags struct {
	server      string
	adminUser   string
	adminPass   string
	kiosks      int
	residents   int
	extracted   int
	probes      int
	duration    time.Duration
	impostor    float64
	enrolments  int
	seed        int64
	jsonOut     bool
	batch       int
	shiftRows   int
	shiftCols   int
	workers     int
	httpTimeout time.Duration
	reuse       bool
}

// loadResult is what veinctl load prints.
type loadResult struct {
	Server                 string  `json:"server"`
	Kiosks                 int     `json:"kiosks"`
	Residents              int     `json:"residents"`
	ExtractedResidents     int     `json:"extracted_residents"`
	GalleryTemplates       int     `json:"gallery_templates"`
	BulkEnrolSeconds       float64 `json:"bulk_enrol_seconds"`
	BulkRefused            int     `json:"bulk_refused"` // residents the bulk enrolment refused (see the log)
	ExtractSeconds         float64 `json:"extract_seconds"`
	EnrolmentsViaKiosk     int     `json:"enrolments_via_kiosk"`
	EnrolP50Ms             float64 `json:"enrol_p50_ms"`
	EnrolP99Ms             float64 `json:"enrol_p99_ms"`
	DedupMeanMs            float64 `json:"dedup_mean_ms"`
	DurationSeconds        float64 `json:"duration_s"`
	Verifications          int64   `json:"verifications"`
	VerificationsPerSecond float64 `json:"verifications_per_second"`
	P50Ms                  float64 `json:"p50_ms"`
	P90Ms                  float64 `json:"p90_ms"`
	P99Ms                  float64 `json:"p99_ms"`
	MaxMs                  float64 `json:"max_ms"`
	FlowP50Ms              float64 `json:"flow_p50_ms"` // nonce + verify
	FlowP99Ms              float64 `json:"flow_p99_ms"`
	Genuine                int64   `json:"genuine_attempts"`
	Impostor               int64   `json:"impostor_attempts"`
	FalseAccepts           int64   `json:"false_accepts"`
	FalseRejects           int64   `json:"false_rejects"`
	Locked                 int64   `json:"locked"`
	Throttled              int64   `json:"throttled"`
	Recaptures             int64   `json:"recaptures"` // probes refused by the quality gate (a kiosk captures again)
	Errors                 int64   `json:"errors"`
	Extractions            int64   `json:"server_extractions"`     // during the verification phase (/metrics)
	ExtractMeanMs          float64 `json:"server_extract_mean_ms"` // their mean wall time in the server (not counting the wait for a slot)
	// CPU per verification in the phase: the server's (process_cpu_seconds_total)
	// and this load generator's (both ends of nonce + verify).
	ServerCPUMsPerVerification float64  `json:"server_cpu_ms_per_verification"`
	LoadCPUMsPerVerification   float64  `json:"load_cpu_ms_per_verification"`
	ErrorSamples               []string `json:"error_samples,omitempty"`
}

func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f loadFlags
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.server, "server", "http://127.0.0.1:8080", "centrald base URL")
	fs.StringVar(&f.adminUser, "admin-user", "admin", "administrator username")
	fs.StringVar(&f.adminPass, "admin-password", "", "administrator password (default $VEINKIOSK_ADMIN_PASSWORD; '@FILE' reads it from FILE)")
	fs.IntVar(&f.kiosks, "kiosks", 16, "simulated kiosks verifying concurrently")
	fs.IntVar(&f.residents, "residents", 1000, "synthetic residents to enrol (bulk admin endpoint)")
	fs.IntVar(&f.extracted, "extracted", 100, "residents whose templates are extracted from synthetic NIR images (fingerimg + extract); they are the ones verified. The others get matcher.SynthFinger templates (extraction costs ~70 ms per image)")
	fs.IntVar(&f.probes, "probes", 2, "probe captures extracted per verified resident")
	fs.DurationVar(&f.duration, "duration", 30*time.Second, "length of the verification phase")
	fs.Float64Var(&f.impostor, "impostor", 0.1, "fraction of impostor attempts (another resident's finger on the card)")
	fs.IntVar(&f.enrolments, "enrolments", 10, "kiosk enrolments (with 1:N dedup over the whole gallery) to time after the bulk load")
	fs.Int64Var(&f.seed, "seed", 42, "deck and key seed")
	fs.BoolVar(&f.jsonOut, "json", false, "print the result as JSON")
	fs.IntVar(&f.batch, "batch", 500, "residents per bulk-enrolment request")
	fs.IntVar(&f.shiftRows, "shift-rows", matcher.DefaultParams.ShiftRows, "template alignment search, rows (must match the kiosks')")
	fs.IntVar(&f.shiftCols, "shift-cols", matcher.DefaultParams.ShiftCols, "template alignment search, columns")
	fs.IntVar(&f.workers, "workers", runtime.GOMAXPROCS(0), "extraction goroutines")
	fs.DurationVar(&f.httpTimeout, "http-timeout", 30*time.Second, "timeout of one HTTP request")
	fs.BoolVar(&f.reuse, "reuse", false, "skip the bulk enrolment when the server's gallery already holds the residents' templates (a data directory prepared by an earlier run with the same --seed and --residents; templates are deterministic per seed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %v", errUsage, fs.Args())
	}
	switch {
	case f.kiosks < 1 || f.kiosks > 1000:
		return fmt.Errorf("%w: --kiosks must be 1..1000", errUsage)
	case f.residents < 2:
		return fmt.Errorf("%w: --residents must be at least 2", errUsage)
	case f.extracted < 2 || f.extracted > f.residents:
		return fmt.Errorf("%w: --extracted must be 2..--residents", errUsage)
	case f.impostor < 0 || f.impostor > 1:
		return fmt.Errorf("%w: --impostor must be 0..1", errUsage)
	case f.duration <= 0:
		return fmt.Errorf("%w: --duration must be positive", errUsage)
	}
	if f.adminPass == "" {
		f.adminPass = os.Getenv("VEINKIOSK_ADMIN_PASSWORD")
	}
	if strings.HasPrefix(f.adminPass, "@") {
		b, err := os.ReadFile(f.adminPass[1:])
		if err != nil {
			return err
		}
		f.adminPass = strings.TrimSpace(string(b))
	}
	if f.adminPass == "" {
		return fmt.Errorf("%w: give --admin-password (or VEINKIOSK_ADMIN_PASSWORD)", errUsage)
	}
	lt, err := newLoadTest(f, stderr)
	if err != nil {
		return err
	}
	res, err := lt.run(ctx)
	if err != nil {
		return err
	}
	if f.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Fprintf(stdout, "%d verifications in %.1f s: %.0f/s, p50 %.1f ms, p99 %.1f ms; %d errors, %d false accepts, %d false rejects (%d genuine, %d impostor)\n",
		res.Verifications, res.DurationSeconds, res.VerificationsPerSecond, res.P50Ms, res.P99Ms, res.Errors, res.FalseAccepts, res.FalseRejects, res.Genuine, res.Impostor)
	fmt.Fprintf(stdout, "enrolment via kiosk (dedup over %d templates): p50 %.1f ms, p99 %.1f ms, dedup mean %.1f ms\n", res.GalleryTemplates, res.EnrolP50Ms, res.EnrolP99Ms, res.DedupMeanMs)
	return nil
}

type loadTest struct {
	f       loadFlags
	log     io.Writer
	http    *http.Client
	admin   *apiv1.Client
	params  matcher.Params
	maker   ed25519.PrivateKey
	makerID string
	run_    string
	// staffUser and staffPIN log the station staff in at a kiosk: the
	// kiosk's enrolment endpoint takes only a PIN session of that kiosk.
	staffUser, staffPIN string
}

func newLoadTest(f loadFlags, log io.Writer) (*loadTest, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = f.kiosks * 2
	tr.MaxConnsPerHost = f.kiosks * 4
	hc := &http.Client{Transport: tr, Timeout: f.httpTimeout}
	var rb [4]byte
	if _, err := rand.Read(rb[:]); err != nil {
		return nil, err
	}
	opt := extract.DefaultOptions()
	lt := &loadTest{
		f: f, log: log, http: hc,
		params: opt.Params(f.shiftRows, f.shiftCols),
		run_:   hex.EncodeToString(rb[:]),
	}
	seed := sha256.Sum256([]byte(fmt.Sprintf("veinctl load maker %d", f.seed)))
	lt.maker = ed25519.NewKeyFromSeed(seed[:])
	lt.makerID = fmt.Sprintf("veinctl-load-%d", f.seed)
	if err := lt.params.Validate(); err != nil {
		return nil, err
	}
	return lt, nil
}

func (lt *loadTest) logf(format string, args ...any) {
	fmt.Fprintf(lt.log, "veinctl load: "+format+"\n", args...)
}

// readyz reads the server's readiness into out, waiting (up to 10 min) while
// it answers unavailable: a server that has just started is still loading
// its gallery, and a load run against it should wait, not fail.
func (lt *loadTest) readyz(ctx context.Context, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	for logged := false; ; {
		err := lt.client().Do(ctx, "GET", "/readyz", nil, out)
		if apiv1.ErrorCode(err) != apiv1.CodeUnavailable {
			return err
		}
		if !logged {
			lt.logf("server not ready (%v); waiting", err)
			logged = true
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("server not ready: %w", err)
		case <-time.After(time.Second):
		}
	}
}

func (lt *loadTest) client() *apiv1.Client {
	return &apiv1.Client{BaseURL: lt.f.server, HTTP: lt.http}
}

// simKiosk is a simulated kiosk: its key, and a simulated scanner whose
// certificate the load test's maker key signed.
type simKiosk struct {
	c       *apiv1.Client
	cert    []byte
	serial  string
	devKey  ed25519.PrivateKey
	counter uint64
}

// capture is the simulated scanner's capture of img over a fresh nonce, as
// a kiosk sends it: the attested image, which the server extracts the
// template from.
func (k *simKiosk) capture(ctx context.Context, finger apiv1.Finger, img *apiv1.Image) (apiv1.Capture, error) {
	n, err := k.c.Nonce(ctx)
	if err != nil {
		return apiv1.Capture{}, err
	}
	k.counter++
	att := wire.Attestation{Serial: k.serial, Counter: k.counter, TimestampMs: time.Now().UnixMilli(), ImageSHA256: sha256.Sum256(img.Pixels)}
	copy(att.Nonce[:], n.Nonce)
	if err := att.Sign(k.devKey); err != nil {
		return apiv1.Capture{}, err
	}
	ab, err := att.MarshalBinary()
	if err != nil {
		return apiv1.Capture{}, err
	}
	return apiv1.Capture{Finger: finger, Quality: 80, Attestation: ab, Certificate: k.cert, Image: img}, nil
}

// person is a resident of the load test with templates.
type person struct {
	r     *deck.Resident
	enrol map[apiv1.Finger][][]byte
	// images are the enrolment captures' images (extracted residents
	// only): kiosk enrolments send them.
	images map[apiv1.Finger][]*apiv1.Image
	probes []*apiv1.Image // right index probe images (extracted residents only)
}

var loadFingers = []apiv1.Finger{apiv1.RightIndex, apiv1.RightMiddle}

func (lt *loadTest) run(ctx context.Context) (*loadResult, error) {
	res := &loadResult{Server: lt.f.server, Kiosks: lt.f.kiosks}
	// 0. A server just started is loading its gallery: wait for it.
	var ready struct {
		Templates int `json:"gallery_templates"`
	}
	if err := lt.readyz(ctx, &ready); err != nil {
		return nil, err
	}
	// 1. Administration through the real admin endpoints.
	sess, err := lt.client().Login(ctx, lt.f.adminUser, lt.f.adminPass)
	if err != nil {
		return nil, fmt.Errorf("admin login: %w", err)
	}
	lt.admin = lt.client().WithStaff(sess.Token)
	station := "LOAD-" + lt.run_
	if err := lt.admin.Do(ctx, "POST", apiv1.PathAdminStations, apiv1.Station{ID: station, Name: "负载测试站 " + lt.run_}, nil); err != nil {
		return nil, fmt.Errorf("creating the station: %w", err)
	}
	if err := lt.admin.Do(ctx, "POST", apiv1.PathAdminMakers, apiv1.Maker{ID: lt.makerID, Name: "veinctl load simulated maker", PublicKey: lt.maker.Public().(ed25519.PublicKey)}, nil); err != nil {
		return nil, fmt.Errorf("trusting the simulated maker key: %w", err)
	}
	kiosks := make([]*simKiosk, lt.f.kiosks)
	for i := range kiosks {
		k, err := lt.newKiosk(ctx, station, i)
		if err != nil {
			return nil, err
		}
		kiosks[i] = k
	}
	staffPass := randomHex(12)
	staffUser := "load-" + lt.run_
	var staff apiv1.Staff
	if err := lt.admin.Do(ctx, "POST", apiv1.PathAdminStaff, apiv1.StaffCreate{Username: staffUser, Password: staffPass, Role: apiv1.RoleStationStaff, Station: station}, &staff); err != nil {
		return nil, fmt.Errorf("creating the station staff account: %w", err)
	}
	lt.staffUser, lt.staffPIN = staffUser, randomPIN()
	if err := lt.admin.Do(ctx, "PUT", fmt.Sprintf("%s/%d/pin", apiv1.PathAdminStaff, staff.ID), apiv1.PINChange{PIN: lt.staffPIN}, nil); err != nil {
		return nil, fmt.Errorf("setting the station staff's PIN: %w", err)
	}
	lt.logf("registered station %s, maker %s, %d kiosks, staff %s", station, lt.makerID, len(kiosks), staffUser)

	// 2. Residents: the deck, valid resident cards only.
	asOf := time.Now()
	d := deck.Generate(lt.f.seed, lt.f.residents+lt.f.residents/4+lt.f.enrolments+16)
	var people []*person
	for _, r := range d.Residents {
		if cardOK(r, asOf) {
			people = append(people, &person{r: r})
		}
	}
	need := lt.f.residents + lt.f.enrolments
	if len(people) < need {
		return nil, fmt.Errorf("the deck has only %d valid resident cards, need %d", len(people), need)
	}
	fresh := people[lt.f.residents:need]
	people = people[:lt.f.residents]
	res.Residents, res.ExtractedResidents = len(people), lt.f.extracted

	// --reuse: is the bulk enrolment already in the gallery?
	skip := false
	if lt.f.reuse {
		if err := lt.readyz(ctx, &ready); err != nil {
			return nil, err
		}
		want := len(people) * len(loadFingers) * apiv1.EnrolCapturesPerFinger
		skip = ready.Templates >= want
		lt.logf("--reuse: the gallery holds %d templates, %d wanted: bulk enrolment %s", ready.Templates, want, map[bool]string{true: "skipped", false: "runs"}[skip])
	}

	// 3. Captures: synthetic NIR images for the verified residents' probes
	// and the kiosk enrolments; templates for the bulk enrolment (unless it
	// is skipped), extracted from images for the verified residents,
	// synthetic patterns for the rest.
	start := time.Now()
	if err := lt.extractAll(ctx, append(slices.Clone(people[:lt.f.extracted]), fresh...), lt.f.probes, !skip); err != nil {
		return nil, err
	}
	res.ExtractSeconds = time.Since(start).Seconds()
	rng := mrand.New(mrand.NewPCG(uint64(lt.f.seed), 7))
	for _, p := range people[lt.f.extracted:] {
		if skip {
			break
		}
		p.enrol = map[apiv1.Finger][][]byte{}
		for _, fg := range loadFingers {
			sf := matcher.NewSynthFinger(rng, lt.params.Width, lt.params.Height)
			for j := 0; j < apiv1.EnrolCapturesPerFinger; j++ {
				t, err := matcher.NewTemplate(lt.params, sf.Sample(rng, lt.params.ShiftRows/2, lt.params.ShiftCols/2, 0.05), nil, 80, uint8(fg.Position()))
				if err != nil {
					return nil, err
				}
				b, err := t.MarshalBinary()
				if err != nil {
					return nil, err
				}
				p.enrol[fg] = append(p.enrol[fg], b)
			}
		}
	}
	lt.logf("templates ready in %.1f s (%d residents extracted from images)", time.Since(start).Seconds(), lt.f.extracted+len(fresh))

	// 4. Bulk enrolment through the admin endpoint (audited), without
	// deduplication: the server must run with --bulk-enrolment=unchecked
	// (load-test seeding on throwaway data).
	start = time.Now()
	refused := map[*person]apiv1.BulkRefusal{}
	for i := 0; i < len(people) && !skip; i += lt.f.batch {
		batch := people[i:min(i+lt.f.batch, len(people))]
		if err := lt.bulkEnrol(ctx, batch, refused); err != nil {
			return nil, fmt.Errorf("bulk enrolment at resident %d: %w", i, err)
		}
		if (i/lt.f.batch)%20 == 0 {
			lt.logf("enrolled %d/%d residents (%.0f/s)", i+len(batch), len(people), float64(i+len(batch))/time.Since(start).Seconds())
		}
	}
	// Residents whose captures the server found inconsistent are captured
	// again (the disagreeing captures only), as a station would, up to 3
	// times; synthetic-pattern residents have no images to take again.
	for retake := 1; retake <= 3; retake++ {
		var again []*person
		for p, r := range refused {
			if r.Code != apiv1.CodeEnrolmentInconsistent || len(p.images) == 0 {
				continue
			}
			if err := lt.retakeBulk(p, r.Fields, retake); err != nil {
				return nil, err
			}
			delete(refused, p)
			again = append(again, p)
		}
		if len(again) == 0 {
			break
		}
		if err := lt.bulkEnrol(ctx, again, refused); err != nil {
			return nil, fmt.Errorf("bulk enrolment of %d residents captured again: %w", len(again), err)
		}
	}
	res.BulkEnrolSeconds = time.Since(start).Seconds()
	res.BulkRefused = len(refused)
	if len(refused) > 0 {
		codes := map[string]int{}
		for _, r := range refused {
			codes[r.Code]++
		}
		lt.logf("bulk enrolment refused %d residents %v (already_enrolled: a data directory or database used before; run with --reuse); those not enrolled are not verified", len(refused), codes)
	}
	if err := lt.readyz(ctx, &ready); err != nil {
		return nil, err
	}
	res.GalleryTemplates = ready.Templates
	lt.logf("bulk enrolment done in %.1f s; gallery holds %d templates", res.BulkEnrolSeconds, ready.Templates)

	// 5. Kiosk enrolments, each with the 1:N dedup over the whole gallery.
	if err := lt.kioskEnrolments(ctx, kiosks[0], fresh, res); err != nil {
		return nil, err
	}

	// 6. Verification from every kiosk at once; the server's extraction of
	// the probe images, from its histogram.
	// The CPU the server and this process spent in the phase say what the
	// verifications cost whatever else the machine runs.
	x0 := lt.histogram(ctx, "veinkiosk_extraction_duration_seconds", "")
	c0, u0 := lt.gauge(ctx, "process_cpu_seconds_total"), selfCPU()
	verified := slices.DeleteFunc(slices.Clone(people[:lt.f.extracted]), func(p *person) bool {
		r, ok := refused[p]
		return ok && r.Code != apiv1.CodeAlreadyEnrolled
	})
	if len(verified) < 2 {
		return nil, fmt.Errorf("only %d of the %d extracted residents were enrolled (the bulk enrolment refused the others: see the log): too few to verify; raise --extracted", len(verified), lt.f.extracted)
	}
	lt.verify(ctx, kiosks, verified, res)
	x1 := lt.histogram(context.Background(), "veinkiosk_extraction_duration_seconds", "")
	c1, u1 := lt.gauge(context.Background(), "process_cpu_seconds_total"), selfCPU()
	if n := x1[1] - x0[1]; n > 0 {
		res.Extractions, res.ExtractMeanMs = int64(n), (x1[0]-x0[0])/n*1000
	}
	if res.Verifications > 0 {
		res.ServerCPUMsPerVerification = (c1 - c0) / float64(res.Verifications) * 1000
		res.LoadCPUMsPerVerification = (u1 - u0).Seconds() / float64(res.Verifications) * 1000
	}
	return res, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// randomPIN is a random kiosk PIN the server accepts: its second digit is
// two from the first, so it is neither one digit repeated nor a run.
func randomPIN() string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	b[1] = '0' + (b[0]-'0'+2)%10
	return string(b)
}

func (lt *loadTest) newKiosk(ctx context.Context, station string, i int) (*simKiosk, error) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, err
	}
	id := fmt.Sprintf("load-%s-k%03d", lt.run_, i)
	if err := lt.admin.Do(ctx, "POST", apiv1.PathAdminKiosks, apiv1.KioskRegistration{ID: id, Station: station, Name: "负载测试终端", PublicKey: pub}, nil); err != nil {
		return nil, fmt.Errorf("registering kiosk %s: %w", id, err)
	}
	_, dev, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, err
	}
	// The simulator's model: centrald ships its (synthetic) calibration and
	// refuses captures of models it has none for.
	cert := wire.DeviceCertificate{Serial: "SIM-" + id, Model: veinsim.DefaultModel, PublicKey: dev.Public().(ed25519.PublicKey), MakerID: lt.makerID}
	if err := cert.Sign(lt.maker); err != nil {
		return nil, err
	}
	cb, err := cert.MarshalBinary()
	if err != nil {
		return nil, err
	}
	c := lt.client()
	c.KioskID, c.KioskKey = id, priv
	return &simKiosk{c: c, cert: cb, serial: cert.Serial, devKey: dev}, nil
}

// cardOK keeps resident cards that pass the identity rules at t.
func cardOK(r *deck.Resident, t time.Time) bool {
	c, err := r.Card()
	return err == nil && c.Type == identity.CardResident && c.Validate(t) == nil
}

// card is the resident's card as the kiosk sends it (text only).
func card(r *deck.Resident) apiv1.Card {
	c, err := r.Card()
	if err != nil {
		// Load checked every card of the deck.
		panic(err)
	}
	c.Photo, c.Fingerprint = nil, nil
	return *c
}

func residentRecord(r *deck.Resident) apiv1.Resident {
	return apiv1.Resident{IDNumber: r.IDNumber, Name: r.Name, Gender: identity.Gender(r.Gender).Letter(), BirthDate: r.BirthDate.String(), Address: r.Address, GridCell: r.GridCell, Household: r.Household, Categories: r.Categories}
}

// bulkEnrol enrols batch through the admin endpoint without deduplication
// and records the items the server refused in refused.
func (lt *loadTest) bulkEnrol(ctx context.Context, batch []*person, refused map[*person]apiv1.BulkRefusal) error {
	req := apiv1.BulkEnrolRequest{SkipDedup: true}
	for _, p := range batch {
		it := apiv1.BulkEnrolItem{Resident: residentRecord(p.r)}
		for _, fg := range loadFingers {
			it.Fingers = append(it.Fingers, apiv1.FingerTemplates{Finger: fg, Templates: p.enrol[fg]})
		}
		req.Items = append(req.Items, it)
	}
	var out apiv1.BulkEnrolResult
	if err := lt.admin.Do(ctx, "POST", apiv1.PathAdminBulkEnrol, &req, &out); err != nil {
		switch apiv1.ErrorCode(err) {
		case apiv1.CodeBulkEnrolmentOff, apiv1.CodeSkipDedupRefused:
			return fmt.Errorf("the server refuses the load test's bulk enrolment without deduplication: start centrald with --bulk-enrolment=unchecked (throwaway data only; docs/benchmarks-server.md), or load a prepared server with --reuse: %w", err)
		}
		return err
	}
	for _, r := range out.Refused {
		refused[batch[r.Index]] = r
	}
	return nil
}

// retakeBulk renders and extracts again the enrolment captures of p that a
// refusal's fields name (apiv1.CaptureField), with seeds of this retake.
func (lt *loadTest) retakeBulk(p *person, fields map[string]string, retake int) error {
	opt := extract.DefaultOptions()
	for key := range fields {
		fg, i, ok := apiv1.ParseCaptureField(key)
		if !ok || i >= len(p.enrol[fg]) {
			continue
		}
		img := render(p.r, fg, uint64(100*retake+10+i))
		b, err := lt.extractOne(img, fg, opt)
		if err != nil {
			return err
		}
		p.enrol[fg][i], p.images[fg][i] = b, img
	}
	return nil
}

// extractAll renders enrolment captures (3 per finger) and probes (right
// index) for people, in parallel, and with templates extracts the
// enrolment captures' templates (for the bulk enrolment).
func (lt *loadTest) extractAll(ctx context.Context, people []*person, probes int, templates bool) error {
	type job struct {
		p      *person
		finger apiv1.Finger
		seed   uint64
		probe  bool
	}
	jobs := make(chan job)
	var mu sync.Mutex
	var firstErr error
	var done atomic.Int64
	total := len(people) * (len(loadFingers)*apiv1.EnrolCapturesPerFinger + probes)
	for _, p := range people {
		p.enrol = map[apiv1.Finger][][]byte{}
		p.images = map[apiv1.Finger][]*apiv1.Image{}
	}
	var wg sync.WaitGroup
	for w := 0; w < max(1, lt.f.workers); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			opt := extract.DefaultOptions()
			for j := range jobs {
				img := render(j.p.r, j.finger, j.seed)
				var b []byte
				var err error
				if !j.probe && templates { // probes are extracted by the server
					b, err = lt.extractOne(img, j.finger, opt)
				}
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if err == nil {
					if j.probe {
						j.p.probes = append(j.p.probes, img)
					} else {
						j.p.enrol[j.finger] = append(j.p.enrol[j.finger], b)
						j.p.images[j.finger] = append(j.p.images[j.finger], img)
					}
				}
				mu.Unlock()
				if n := done.Add(1); n%500 == 0 {
					lt.logf("extracted %d/%d templates", n, total)
				}
			}
		}()
	}
	for _, p := range people {
		for _, fg := range loadFingers {
			for s := 1; s <= apiv1.EnrolCapturesPerFinger; s++ {
				jobs <- job{p, fg, uint64(s), false}
			}
		}
		for s := 0; s < probes; s++ {
			jobs <- job{p, apiv1.RightIndex, uint64(100 + s), true}
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// retake replaces the captures of an enrolment request that fields names
// (apiv1.CaptureField keys of enrolment_inconsistent) with new captures of
// the same finger at another placement.
func (lt *loadTest) retake(ctx context.Context, sk *simKiosk, p *person, req *apiv1.EnrolRequest, fields map[string]string, round int) error {
	for key := range fields {
		fg, i, ok := apiv1.ParseCaptureField(key)
		if !ok {
			return fmt.Errorf("kiosk enrolment: the server named capture %q", key)
		}
		for fi := range req.Fingers {
			if req.Fingers[fi].Finger != fg || i >= len(req.Fingers[fi].Captures) {
				continue
			}
			c, err := sk.capture(ctx, fg, render(p.r, fg, uint64(200+10*round+i)))
			if err != nil {
				return err
			}
			req.Fingers[fi].Captures[i] = c
		}
	}
	return nil
}

// render is the simulated scanner's image of one capture of a resident's
// finger (placement seed), 8-bit grey, row-major.
func render(r *deck.Resident, finger apiv1.Finger, seed uint64) *apiv1.Image {
	c := fingerimg.DefaultConditions()
	c.Seed = seed
	g := fingerimg.NewFinger(r.FingerSeed(finger.Position())).Capture(c)
	w, h := g.Rect.Dx(), g.Rect.Dy()
	px := make([]byte, 0, w*h)
	for y := 0; y < h; y++ {
		px = append(px, g.Pix[y*g.Stride:y*g.Stride+w]...)
	}
	return &apiv1.Image{Width: w, Height: h, Pixels: px}
}

// extractOne extracts an enrolment template from img (for the bulk
// enrolment, which takes templates).
func (lt *loadTest) extractOne(img *apiv1.Image, finger apiv1.Finger, opt extract.Options) ([]byte, error) {
	x, err := extract.Extract(&image.Gray{Pix: img.Pixels, Stride: img.Width, Rect: image.Rect(0, 0, img.Width, img.Height)}, opt)
	if err != nil {
		return nil, fmt.Errorf("extracting a capture: %w", err)
	}
	t, err := x.Template(lt.params, uint8(finger.Position()))
	if err != nil {
		return nil, err
	}
	return t.MarshalBinary()
}

// kioskEnrolments enrols fresh residents through the kiosk endpoint (station
// staff session, signed captures), timing each: the 1:N dedup over the
// whole gallery runs in every one.
func (lt *loadTest) kioskEnrolments(ctx context.Context, k *simKiosk, fresh []*person, res *loadResult) error {
	if len(fresh) == 0 {
		return nil
	}
	var recs []apiv1.Resident
	for _, p := range fresh {
		recs = append(recs, residentRecord(p.r))
	}
	if err := lt.admin.Do(ctx, "POST", apiv1.PathAdminResidents, apiv1.ResidentImport{Residents: recs}, nil); err != nil {
		return fmt.Errorf("importing residents: %w", err)
	}
	ss, err := k.c.KioskStaffLogin(ctx, lt.staffUser, lt.staffPIN)
	if err != nil {
		return fmt.Errorf("staff login at kiosk %s: %w", k.c.KioskID, err)
	}
	sk := &simKiosk{c: k.c.WithStaff(ss.Token), cert: k.cert, serial: k.serial, devKey: k.devKey, counter: k.counter}
	before := lt.dedupMetric(ctx)
	var lat []float64
	for _, p := range fresh {
		// The load test stands in for staff who explained the consent text.
		req := apiv1.EnrolRequest{Card: card(p.r), Consent: &apiv1.EnrolConsent{TextVersion: apiv1.ConsentTextVersion, ConfirmedAt: time.Now()}}
		for _, fg := range loadFingers {
			fc := apiv1.FingerCaptures{Finger: fg}
			for _, img := range p.images[fg] {
				c, err := sk.capture(ctx, fg, img)
				if err != nil {
					return err
				}
				fc.Captures = append(fc.Captures, c)
			}
			req.Fingers = append(req.Fingers, fc)
		}
		var err error
		for retake := 0; ; retake++ {
			start := time.Now()
			_, err = sk.c.Enrol(ctx, &req)
			lat = append(lat, float64(time.Since(start).Microseconds())/1000)
			var ae *apiv1.Error
			if retake == 3 || !errors.As(err, &ae) || ae.Code != apiv1.CodeEnrolmentInconsistent {
				break
			}
			// The server found captures of a finger that match none of
			// the others (the synthetic captures vary as a real finger's
			// do) and spent no nonce: as the kiosk does, take those again
			// (another placement) and send the rest as they were.
			if err := lt.retake(ctx, sk, p, &req, ae.Fields, retake); err != nil {
				return err
			}
		}
		if err != nil {
			switch apiv1.ErrorCode(err) {
			case apiv1.CodeDuplicateSuspected, apiv1.CodeEnrolmentIncomplete, apiv1.CodeEnrolmentInconsistent, apiv1.CodeReplacementPending:
				// replacement_pending: a reused data directory enrolled
				// this resident in an earlier run. enrolment_inconsistent:
				// the synthetic captures of a finger now and then disagree
				// (as a real finger's do; the kiosk would retake them).
				lt.logf("kiosk enrolment: %v", err)
				continue
			}
			return fmt.Errorf("kiosk enrolment: %w", err)
		}
		res.EnrolmentsViaKiosk++
	}
	k.counter = sk.counter
	after := lt.dedupMetric(ctx)
	if n := after[1] - before[1]; n > 0 {
		res.DedupMeanMs = (after[0] - before[0]) / n * 1000
	}
	slices.Sort(lat)
	res.EnrolP50Ms, res.EnrolP99Ms = pct(lat, 0.50), pct(lat, 0.99)
	return nil
}

// dedupMetric reads the server's dedup match histogram: sum (s) and count.
func (lt *loadTest) dedupMetric(ctx context.Context) [3]float64 {
	return lt.histogram(ctx, `veinkiosk_match_duration_seconds`, `{op="dedup"}`)
}

// gauge reads one unlabelled sample of the server's /metrics (0 if absent).
func (lt *loadTest) gauge(ctx context.Context, name string) float64 {
	h := lt.histogram(ctx, name, "")
	return h[2]
}

// selfCPU is the CPU time (user + system) this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// histogram reads one of the server's histograms from /metrics: sum (s)
// and count (and, in [2], the plain sample name+labels if there is one).
func (lt *loadTest) histogram(ctx context.Context, name, labels string) [3]float64 {
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimSuffix(lt.f.server, "/")+"/metrics", nil)
	if err != nil {
		return [3]float64{}
	}
	resp, err := lt.http.Do(req)
	if err != nil {
		return [3]float64{}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	var out [3]float64
	for _, line := range strings.Split(string(b), "\n") {
		for i, name := range []string{name + "_sum" + labels, name + "_count" + labels, name + labels} {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				fmt.Sscan(v, &out[i])
			}
		}
	}
	return out
}

func pct(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)-1))
	return sorted[i]
}

// verify runs the verification phase: every kiosk verifies in a loop,
// genuine attempts and a fraction of impostors.
func (lt *loadTest) verify(ctx context.Context, kiosks []*simKiosk, pool []*person, res *loadResult) {
	ctx, cancel := context.WithTimeout(ctx, lt.f.duration)
	defer cancel()
	type stats struct {
		lat, flow                                               []float64
		n, genuine, impostor, fa, fr, locked, throttled, errors int64
		recaptures                                              int64
		samples                                                 []string
	}
	all := make([]stats, len(kiosks))
	start := time.Now()
	var wg sync.WaitGroup
	for i, k := range kiosks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := &all[i]
			rng := mrand.New(mrand.NewPCG(uint64(lt.f.seed), uint64(i)+1000))
			for ctx.Err() == nil {
				claimed := pool[rng.IntN(len(pool))]
				presenter := claimed
				impostor := rng.Float64() < lt.f.impostor
				if impostor {
					for presenter == claimed {
						presenter = pool[rng.IntN(len(pool))]
					}
				}
				if len(presenter.probes) == 0 {
					continue
				}
				probe := presenter.probes[rng.IntN(len(presenter.probes))]
				t0 := time.Now()
				capt, err := k.capture(ctx, apiv1.RightIndex, probe)
				var t1 time.Time
				if err == nil {
					t1 = time.Now()
					_, err = k.c.Verify(ctx, &apiv1.VerifyRequest{Card: card(claimed.r), Capture: capt})
				}
				if ctx.Err() != nil {
					break // the phase ended mid-request: not counted
				}
				code := apiv1.ErrorCode(err)
				switch {
				case err == nil || code == apiv1.CodeNoMatch:
					st.n++
					st.lat = append(st.lat, float64(time.Since(t1).Microseconds())/1000)
					st.flow = append(st.flow, float64(time.Since(t0).Microseconds())/1000)
					if impostor {
						st.impostor++
						if err == nil {
							st.fa++
						}
					} else {
						st.genuine++
						if err != nil {
							st.fr++
						}
					}
				case code == apiv1.CodeLocked:
					st.locked++
				case code == apiv1.CodeQualityTooLow:
					st.recaptures++
				case code == apiv1.CodeRateLimited:
					st.throttled++
					var ae *apiv1.Error
					if errors.As(err, &ae) {
						time.Sleep(time.Duration(ae.RetryAfterSeconds) * time.Second)
					}
				default:
					st.errors++
					if len(st.samples) < 3 {
						st.samples = append(st.samples, err.Error())
					}
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	var lat, flow []float64
	for _, st := range all {
		lat = append(lat, st.lat...)
		flow = append(flow, st.flow...)
		res.Verifications += st.n
		res.Genuine += st.genuine
		res.Impostor += st.impostor
		res.FalseAccepts += st.fa
		res.FalseRejects += st.fr
		res.Locked += st.locked
		res.Throttled += st.throttled
		res.Recaptures += st.recaptures
		res.Errors += st.errors
		res.ErrorSamples = append(res.ErrorSamples, st.samples...)
	}
	if len(res.ErrorSamples) > 5 {
		res.ErrorSamples = res.ErrorSamples[:5]
	}
	slices.Sort(lat)
	slices.Sort(flow)
	res.DurationSeconds = el
	res.VerificationsPerSecond = float64(res.Verifications) / el
	res.P50Ms, res.P90Ms, res.P99Ms = pct(lat, 0.5), pct(lat, 0.9), pct(lat, 0.99)
	if len(lat) > 0 {
		res.MaxMs = lat[len(lat)-1]
	}
	res.FlowP50Ms, res.FlowP99Ms = pct(flow, 0.5), pct(flow, 0.99)
}
