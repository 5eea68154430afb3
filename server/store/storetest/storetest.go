// Package storetest is the conformance suite of store.Store: RunTests runs
// every behaviour test against a backend, as dex's storage/conformance does,
// so PostgreSQL and SQLite are held to the same semantics. A backend's test
// file only says how to make a fresh database.
package storetest

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/keyring"
	"github.com/qingshan-gov/veinkiosk/server/password"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// Opener opens a store over one database. Calling it again opens the same
// database again (for example with another key ring, or after Close).
type Opener func(opts store.Options) (store.Store, error)

// NewDatabase returns an Opener for a fresh, empty database that is removed
// when the test ends.
type NewDatabase func(t *testing.T) Opener

// RunTests runs the conformance suite.
func RunTests(t *testing.T, newDB NewDatabase) {
	tests := []struct {
		name string
		fn   func(t *testing.T, newDB NewDatabase)
	}{
		{"Residents", testResidents},
		{"ResidentValidation", testResidentValidation},
		{"ResidentCSV", testResidentCSV},
		{"Staff", testStaff},
		{"StaffPIN", testStaffPIN},
		{"StaffPINConcurrent", testStaffPINConcurrent},
		{"Consents", testConsents},
		{"StationsKiosks", testStationsKiosks},
		{"Scanners", testScanners},
		{"ScannerCounterConcurrent", testScannerCounterConcurrent},
		{"Enrolment", testEnrolment},
		{"EnrolmentValidation", testEnrolmentValidation},
		{"EnrolFenced", testEnrolFenced},
		{"EnrolFencedConcurrent", testEnrolFencedConcurrent},
		{"ReEnrolmentReplaces", testReEnrolment},
		{"EnrolFirst", testEnrolFirst},
		{"EnrolFirstRaced", testEnrolFirstRaced},
		{"Replacements", testReplacements},
		{"ReplacementSealed", testReplacementSealed},
		{"ReplacementConcurrent", testReplacementConcurrent},
		{"EncryptionBinding", testEncryptionBinding},
		{"ScanTemplatesPages", testScanTemplatesPages},
		{"KeyRotation", testKeyRotation},
		{"ReencryptBusy", testReencryptBusy},
		{"DedupCases", testDedup},
		{"Lockout", testLockout},
		{"LockoutConcurrent", testLockoutConcurrent},
		{"LockoutRaced", testLockoutRaced},
		{"Nonces", testNonces},
		{"NonceConcurrent", testNonceConcurrent},
		{"VerificationOutcome", testVerificationOutcome},
		{"ConcurrentWriters", testConcurrentWriters},
		{"FilingTokens", testFilingTokens},
		{"Filings", testFilings},
		{"FilingIdempotency", testFilingIdempotency},
		{"FilingIdempotencyConcurrent", testFilingIdempotencyConcurrent},
		{"FilingReferencesConcurrent", testFilingReferencesConcurrent},
		{"FilingTransitions", testFilingTransitions},
		{"FilingTransitionConcurrent", testFilingTransitionConcurrent},
		{"FilingLists", testFilingLists},
		{"AgentResidentFields", testAgentResidentFields},
		{"AgentFiling", testAgentFiling},
		{"Catalogue", testCatalogue},
		{"Reports", testReports},
		{"ReportsSealed", testReportsSealed},
		{"Escalation", testEscalation},
		{"ReviewRecords", testReviewRecords},
		{"Meetings", testMeetings},
		{"MeetingsSealed", testMeetingsSealed},
		{"Ratings", testRatings},
		{"RepliesSeen", testRepliesSeen},
		{"ReportKindsVersions", testReportKindsVersions},
		{"GridWorker", testGridWorker},
		{"ResidentUpdate", testResidentUpdate},
		{"Visits", testVisits},
		{"Certification", testCertification},
		{"AuditChain", testAuditChain},
		{"AuditConcurrent", testAuditConcurrent},
		{"AuditNoPersonalData", testAuditNoPersonalData},
		{"ReconcileClean", testReconcileClean},
		{"Sessions", testSessions},
		{"SessionOrigin", testSessionOrigin},
		{"SessionsConcurrent", testSessionsConcurrent},
		{"RequestNonces", testRequestNonces},
		{"IDLocks", testIDLocks},
		{"SpentTokens", testSpentTokens},
		{"PendingIdentifications", testPendingIdentifications},
		{"KioskBackoff", testKioskBackoff},
		{"EnrolmentCheckBudget", testEnrolmentCheckBudget},
		{"RateTokens", testRateTokens},
		{"ChangeLog", testChangeLog},
		{"Reopen", testReopen},
		{"ConcurrentFirstOpen", testConcurrentFirstOpen},
		{"Closed", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newDB) })
	}
}

// Keyring returns a deterministic test key ring holding the given key ids;
// the last is the primary. Never use it outside tests.
func Keyring(ids ...string) *keyring.Ring {
	keys := map[string][]byte{}
	for _, id := range ids {
		k := sha256.Sum256([]byte("veinkiosk test key " + id))
		keys[id] = k[:]
	}
	r, err := keyring.New(ids[len(ids)-1], keys)
	if err != nil {
		panic(err)
	}
	return r
}

// Options returns store options for tests with the key ring of ids (default
// "k1").
func Options(ids ...string) store.Options {
	if len(ids) == 0 {
		ids = []string{"k1"}
	}
	return store.Options{Keyring: Keyring(ids...), ReferencePrefix: "QS"}
}

// open opens a fresh database with the default test options.
func open(t *testing.T, newDB NewDatabase) store.Store {
	t.Helper()
	s, err := newDB(t)(Options())
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

var admin = audit.System("storetest")

// fixture is a small world: a station, a kiosk, staff and residents.
type fixture struct {
	station    store.Station
	kiosk      store.Kiosk
	kiosk2     store.Kiosk
	clerk      store.Staff
	supervisor store.Staff
	officer    store.Staff
	residents  []store.Resident
}

// cheap argon2id parameters for tests.
var testPW = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func hashPW(t *testing.T, pw string) string {
	t.Helper()
	h, err := password.HashWith(pw, testPW)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func pubKey(seed byte) ed25519.PublicKey {
	s := make([]byte, ed25519.SeedSize)
	s[0] = seed
	return ed25519.NewKeyFromSeed(s).Public().(ed25519.PublicKey)
}

// idNumber returns a synthetic 18-character resident ID number with a
// valid GB 11643 check digit.
func idNumber(n int) string {
	base := fmt.Sprintf("11%015d", n)
	c, err := identity.CheckDigit(base)
	if err != nil {
		panic(err)
	}
	return base + string(c)
}

func resident(n int) store.Resident {
	cats := []string{}
	switch n % 3 {
	case 0:
		cats = []string{store.CategoryDibao, store.CategoryElderly}
	case 1:
		cats = []string{store.CategoryDisabled}
	}
	g := "M"
	if n%2 == 1 {
		g = "F"
	}
	return store.Resident{
		IDNumber:   idNumber(n),
		Name:       fmt.Sprintf("居民%d", n),
		Gender:     g,
		BirthDate:  time.Date(1940+n%60, time.Month(1+n%12), 1+n%28, 0, 0, 0, 0, time.UTC),
		Address:    fmt.Sprintf("青山区幸福路%d号", n),
		GridCell:   fmt.Sprintf("G%03d", n%5),
		Household:  fmt.Sprintf("H%05d", n/2),
		Categories: cats,
	}
}

func newFixture(t *testing.T, s store.Store, nResidents int) *fixture {
	t.Helper()
	c := ctx(t)
	f := &fixture{}
	var err error
	if f.station, err = s.CreateStation(c, admin, store.Station{ID: "QS-S01", Name: "幸福社区服务站", Address: "幸福路1号"}); err != nil {
		t.Fatalf("CreateStation: %v", err)
	}
	if f.kiosk, err = s.CreateKiosk(c, admin, store.Kiosk{ID: "K-0001", StationID: f.station.ID, Name: "front", PublicKey: pubKey(1)}); err != nil {
		t.Fatalf("CreateKiosk: %v", err)
	}
	if f.kiosk2, err = s.CreateKiosk(c, admin, store.Kiosk{ID: "K-0002", StationID: f.station.ID, Name: "back", PublicKey: pubKey(2)}); err != nil {
		t.Fatalf("CreateKiosk: %v", err)
	}
	if f.clerk, err = s.CreateStaff(c, admin, store.Staff{Username: "clerk", DisplayName: "王芳", Role: store.RoleStationStaff, StationID: f.station.ID, PasswordHash: hashPW(t, "clerk-pw")}); err != nil {
		t.Fatalf("CreateStaff: %v", err)
	}
	if f.supervisor, err = s.CreateStaff(c, admin, store.Staff{Username: "super", DisplayName: "李强", Role: store.RoleSupervisor, StationID: f.station.ID, PasswordHash: hashPW(t, "super-pw")}); err != nil {
		t.Fatalf("CreateStaff: %v", err)
	}
	if f.officer, err = s.CreateStaff(c, admin, store.Staff{Username: "civil", DisplayName: "张伟", Role: store.RoleDepartmentOfficer, Department: "civil-affairs", PasswordHash: hashPW(t, "civil-pw")}); err != nil {
		t.Fatalf("CreateStaff: %v", err)
	}
	rs := make([]store.Resident, nResidents)
	for i := range rs {
		rs[i] = resident(i)
	}
	if nResidents > 0 {
		if _, err := s.ImportResidents(c, admin, rs); err != nil {
			t.Fatalf("ImportResidents: %v", err)
		}
	}
	for _, r := range rs {
		got, err := s.GetResident(c, r.IDNumber)
		if err != nil {
			t.Fatalf("GetResident: %v", err)
		}
		f.residents = append(f.residents, got)
	}
	return f
}

// verifyChain checks the audit chain of s.
func verifyChain(t *testing.T, s store.Store) audit.Report {
	t.Helper()
	rep, err := audit.Verify(ctx(t), s, audit.VerifyOptions{PageSize: 7})
	if err != nil {
		t.Fatalf("audit chain: %v", err)
	}
	return rep
}

// auditActions returns the actions of all audit records.
func auditActions(t *testing.T, s store.Store) []string {
	t.Helper()
	recs, err := s.ListAudit(ctx(t), 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Action
	}
	return out
}

func lastAudit(t *testing.T, s store.Store) audit.Record {
	t.Helper()
	seq, _, err := s.AuditHead(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := s.ListAudit(ctx(t), seq-1, 1)
	if err != nil || len(recs) != 1 {
		t.Fatalf("ListAudit(%d): %v %v", seq-1, recs, err)
	}
	return recs[0]
}

// attempter records verification attempts the way the server does: one
// RecordVerificationOutcome each, with a fresh capture nonce and the next
// counter of the attempter's own scanner. Use one attempter per goroutine
// (its counter must rise in commit order).
type attempter struct {
	s       store.Store
	kiosk   string
	serial  string
	counter uint64
}

// newAttempter registers the attempter's scanner at the fixture's kiosk.
func newAttempter(t testing.TB, s store.Store, f *fixture, serial string) *attempter {
	t.Helper()
	if _, err := s.CreateScanner(context.Background(), admin, store.Scanner{Serial: serial, Model: "FV-300", MakerID: "qsdev",
		PublicKey: pubKey(byte(len(serial))), KioskID: f.kiosk.ID}); err != nil {
		t.Fatal(err)
	}
	return &attempter{s: s, kiosk: f.kiosk.ID, serial: serial}
}

// record stores the attempt (nothing else: no token, no extra events) and
// returns the lockout after it.
func (a *attempter) record(c context.Context, at store.VerificationAttempt, p store.LockoutPolicy) (store.Lockout, error) {
	st, err := a.outcome(c, store.VerificationOutcome{Attempt: at, Policy: p})
	return st.Lockout, err
}

// outcome records o with a fresh capture nonce and the attempter's next
// counter filled in.
func (a *attempter) outcome(c context.Context, o store.VerificationOutcome) (store.VerificationResultState, error) {
	a.counter++
	v := fmt.Sprintf("attempt-%s-%d", a.serial, a.counter)
	if err := a.s.IssueNonce(c, store.Nonce{Value: v, KioskID: a.kiosk, Purpose: "capture",
		ExpiresAt: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), CreatedAt: o.Attempt.At}); err != nil {
		return store.VerificationResultState{}, err
	}
	o.NonceValue, o.NoncePurpose, o.ScannerSerial, o.Counter = v, "capture", a.serial, a.counter
	return a.s.RecordVerificationOutcome(c, o)
}

// Inspector is the read-back queries the conformance suite checks the
// writes with. The server does not call them, so they are not part of
// store.Store; every backend implements them (test with Inspect).
type Inspector interface {
	// ListResidents pages through residents ordered by internal id.
	ListResidents(ctx context.Context, f store.ResidentFilter) ([]store.Resident, error)
	GetStation(ctx context.Context, id string) (store.Station, error)
	// GetEnrolment returns an enrolment with its decrypted samples
	// (templates and images); superseded enrolments have no samples.
	GetEnrolment(ctx context.Context, id int64) (store.Enrolment, error)
	// ListVerifications returns the latest attempts for an ID number,
	// newest first.
	ListVerifications(ctx context.Context, idNumber string, limit int) ([]store.VerificationAttempt, error)
	GetFilingByReference(ctx context.Context, ref string) (store.Filing, error)
	// FilingHistory returns the status changes of a filing, oldest first.
	FilingHistory(ctx context.Context, filingID int64) ([]store.FilingEvent, error)
	// CountIDLocks counts the remembered locks of an ID number (lock
	// escalation) not expired at now; RecordIDLock remembers one directly.
	// The server's locks are remembered by RecordVerificationOutcome, in
	// the transaction that locks.
	CountIDLocks(ctx context.Context, idNumber string, now time.Time) (int, error)
	RecordIDLock(ctx context.Context, idNumber string, at, expiresAt time.Time) error
	// GetReplacement returns a replacement; with samples, the pending
	// samples are decrypted (a decided replacement has none).
	GetReplacement(ctx context.Context, id int64, samples bool) (store.Replacement, error)
}

// Inspect returns s's Inspector; a backend without one fails the suite.
func Inspect(s store.Store) Inspector {
	i, ok := s.(Inspector)
	if !ok {
		panic(fmt.Sprintf("storetest: %T does not implement storetest.Inspector", s))
	}
	return i
}
