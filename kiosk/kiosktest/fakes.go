// Package kiosktest has in-memory fakes of the kiosk's devices and of the
// central server, for the daemon's tests and the browser tests. They keep
// the real behaviour that matters to the kiosk: card presence, fingers that
// arrive late or badly, unplugging, a server that goes away and comes back,
// idempotent filings and duplicate cases.
package kiosktest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/kiosk"
	"github.com/qingshan-gov/veinkiosk/kiosk/session"
)

// Reader is a fake ID-card reader.
type Reader struct {
	mu     sync.Mutex
	card   *identity.Card
	broken bool
	Unplug bool // when set, ReadCard and Open fail with ErrDeviceDown
	// OpenErr, when set, is what Open of an unplugged reader returns (as
	// kiosk/hwdev wraps a failed open), instead of ErrDeviceDown alone.
	OpenErr error
}

// Insert places a card on the reader.
func (r *Reader) Insert(c identity.Card) { r.mu.Lock(); r.card = &c; r.mu.Unlock() }

// Remove takes the card away.
func (r *Reader) Remove() { r.mu.Lock(); r.card = nil; r.mu.Unlock() }

// SetUnplugged unplugs (true) or replugs the reader.
func (r *Reader) SetUnplugged(v bool) { r.mu.Lock(); r.broken = v; r.mu.Unlock() }

// Open returns the reader if plugged in.
func (r *Reader) Open(ctx context.Context) (kiosk.CardReader, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.broken {
		if r.OpenErr != nil {
			return nil, r.OpenErr
		}
		return nil, kiosk.ErrDeviceDown
	}
	return r, nil
}

// ReadCard implements kiosk.CardReader.
func (r *Reader) ReadCard(ctx context.Context) (identity.Card, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.broken {
		return identity.Card{}, kiosk.ErrDeviceDown
	}
	if r.card == nil {
		return identity.Card{}, kiosk.ErrNoCard
	}
	return *r.card, nil
}

// Close implements kiosk.CardReader.
func (r *Reader) Close() error { return nil }

// Describe implements kiosk.Describer.
func (r *Reader) Describe() string { return "fake SAM reader" }

// Finger is what the fake scanner sees on its window.
type Finger struct {
	Quality int    // the extractor's verdict for this finger
	Person  string // whose finger (the fake server matches on it)
	Bad     bool   // placed so badly the scanner refuses it
}

// Scanner is a fake finger-vein scanner: Capture waits until a finger is
// placed (Place) or ctx ends.
type Scanner struct {
	mu      sync.Mutex
	finger  *Finger
	placed  chan struct{}
	broken  bool
	counter uint64
	// Lift, when set, removes the finger after each capture (a resident
	// lifting it), so the next capture waits for a new placement.
	Lift bool
	// Cert, when set, is the device certificate the scanner knows before
	// it captures (kiosk.Certified); its captures carry "fake-cert"
	// regardless.
	Cert []byte
}

// SetCert sets Cert.
func (s *Scanner) SetCert(c []byte) { s.mu.Lock(); s.Cert = c; s.mu.Unlock() }

// DeviceCertificate implements kiosk.Certified.
func (s *Scanner) DeviceCertificate() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Cert
}

// NewScanner returns a scanner with no finger on it.
func NewScanner() *Scanner { return &Scanner{placed: make(chan struct{}), Lift: true} }

// Place puts a finger on the window.
func (s *Scanner) Place(f Finger) {
	s.mu.Lock()
	s.finger = &f
	close(s.placed)
	s.placed = make(chan struct{})
	s.mu.Unlock()
}

// SetUnplugged unplugs (true) or replugs the scanner.
func (s *Scanner) SetUnplugged(v bool) { s.mu.Lock(); s.broken = v; s.mu.Unlock() }

// Open returns the scanner if plugged in.
func (s *Scanner) Open(ctx context.Context) (kiosk.Scanner, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken {
		return nil, kiosk.ErrDeviceDown
	}
	return s, nil
}

// Capture implements kiosk.Scanner. The "image" encodes the finger so the
// fake extractor can recover it.
func (s *Scanner) Capture(ctx context.Context, nonce [32]byte) (*kiosk.ScanImage, error) {
	for {
		s.mu.Lock()
		if s.broken {
			s.mu.Unlock()
			return nil, errors.New("fake scanner: unplugged")
		}
		f := s.finger
		wait := s.placed
		if f != nil && s.Lift {
			s.finger = nil
		}
		s.counter++
		n := s.counter
		s.mu.Unlock()
		if f != nil {
			if f.Bad {
				return nil, kiosk.ErrBadPlacement
			}
			pix := []byte(fmt.Sprintf("%s|%d", f.Person, f.Quality))
			sum := sha256.Sum256(pix)
			return &kiosk.ScanImage{Width: len(pix), Height: 1, Pixels: pix, Attestation: append(sum[:], byte(n)), Certificate: []byte("fake-cert")}, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %v", kiosk.ErrNoFinger, ctx.Err())
		case <-wait:
		}
	}
}

// Close implements kiosk.Scanner.
func (s *Scanner) Close() error { return nil }

// Check implements kiosk.Checker.
func (s *Scanner) Check(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken {
		return errors.New("fake scanner: unplugged")
	}
	return nil
}

// Describe implements kiosk.Describer.
func (s *Scanner) Describe() string { return "fake vein scanner" }

// Extractor decodes the fake scanner's images.
type Extractor struct{}

// Extract implements kiosk.Extractor.
func (Extractor) Extract(img *kiosk.ScanImage, finger string) ([]byte, int, error) {
	var person string
	var q int
	s := string(img.Pixels)
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '|' {
			person = s[:i]
			fmt.Sscan(s[i+1:], &q)
			break
		}
	}
	if person == "" {
		return nil, 0, errors.New("fake extractor: unusable image")
	}
	return []byte(person), q, nil
}

// Server is an in-memory central server.
type Server struct {
	mu        sync.Mutex
	Down      bool
	Calls     []string             // calls for staff (CallStaff), by reason
	Residents map[string]*Resident // by ID number
	Catalogue []session.Service
	Staff     map[string]StaffAccount
	filings   []*filing
	byKey     map[string]*filing
	tokens    map[string]string    // token -> ID number
	certs     map[string]time.Time // "ID number/year" -> first certification
	sessions  map[string]StaffAccount
	// LoggedOut are the staff sessions the kiosk ended (StaffLogout).
	LoggedOut   []string
	pinFailures map[string]int // wrong PINs in a row, by username
	// Consents are the consents sent with enrolments.
	Consents []Consent
	cases    map[string]string // case -> state
	seq      int
	// Gates are the quality gates said with every nonce (nil: none, as
	// an older server); NonceCerts the scanner certificates the nonces
	// were asked for, in order.
	Gates      *session.Gates
	NonceCerts [][]byte
	Now        func() time.Time
	// DuplicateOf makes an enrolment of this person (fake template) look
	// like a duplicate.
	DuplicateOf map[string]bool
	// LoseAnswers: the next n submissions are filed but their answers are
	// lost on the way back (a network drop shorter than the health probe
	// sees). FailSubmits: the next n submissions never arrive.
	LoseAnswers, FailSubmits int
	// LockAfter > 0: the server's lockout: after LockAfter failed finger
	// checks of one ID number (across sessions) it is locked for LockFor;
	// no_match answers say how many attempts are left.
	LockAfter int
	LockFor   time.Duration
	failures  map[string]int
	locked    map[string]time.Time
	// ThrottleFor > 0: the next verification is refused with rate_limited
	// and this wait (the per-kiosk backoff).
	ThrottleFor time.Duration
}

// Resident is a fake population record.
type Resident struct {
	ID        string
	IDNumber  string
	Name      string
	Address   string
	Household int
	Enrolled  string   // the person whose finger matches (fake template)
	Fingers   []string // the enrolled fingers (default right and left index)
	Dibao     bool
}

// StaffAccount is a fake staff account.
type StaffAccount struct {
	PIN        string
	Name       string
	Supervisor bool
	// OtherStation: the account is of another station (refused).
	OtherStation bool
}

// PINMaxFailures is how many wrong PINs in a row lock an account's PIN
// in the fake, as at centrald.
const PINMaxFailures = 5

// Consent is a consent to enrolment the fake received.
type Consent struct {
	IDNumber string
	At       time.Time
}

type filing struct {
	session.Filing
	idNumber string
	key      string
	values   map[string]string
}

// FiledValues returns the form values filed under a reference.
func (s *Server) FiledValues(ref string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.filings {
		if f.Reference == ref {
			return f.values
		}
	}
	return nil
}

// NewServer returns a server with a small catalogue.
func NewServer() *Server {
	return &Server{
		Residents: map[string]*Resident{}, Staff: map[string]StaffAccount{},
		byKey: map[string]*filing{}, tokens: map[string]string{}, sessions: map[string]StaffAccount{}, certs: map[string]time.Time{},
		cases: map[string]string{}, DuplicateOf: map[string]bool{}, Now: time.Now,
		failures: map[string]int{}, locked: map[string]time.Time{},
		Catalogue: []session.Service{
			{Code: "dibao_renewal", NameZH: "低保年审（续办）", NameEN: "Minimum living allowance: yearly renewal", DueDays: 15},
			{Code: "dibao_new", NameZH: "低保新申请", NameEN: "Minimum living allowance: new application", DueDays: 30},
			{Code: "elderly_subsidy", NameZH: "高龄津贴申领", NameEN: "Old-age allowance", DueDays: 20},
			{Code: "heating_complaint", NameZH: "供暖问题反映", NameEN: "Heating problem report", DueDays: 7},
		},
	}
}

// SetDown takes the server away (true) or brings it back.
func (s *Server) SetDown(v bool) { s.mu.Lock(); s.Down = v; s.mu.Unlock() }

// Filings returns every filing (for assertions).
func (s *Server) AllFilings() []session.Filing {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []session.Filing
	for _, f := range s.filings {
		out = append(out, f.Filing)
	}
	return out
}

// Decide sets a filing's status and reply (the back office).
func (s *Server) Decide(ref, status, reply string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.filings {
		if f.Reference == ref {
			f.Status, f.Reply = status, reply
			return nil
		}
	}
	return session.ErrNotFound
}

func (s *Server) check() error {
	if s.Down {
		return fmt.Errorf("fake server: %w", session.ErrUnavailable)
	}
	return nil
}

// SetGates sets the quality gates said with every nonce (nil: none).
func (s *Server) SetGates(g *session.Gates) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Gates = g
}

// NonceCertsSeen returns the scanner certificates the nonces were asked
// for, in order.
func (s *Server) NonceCertsSeen() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.NonceCerts)
}

// Nonce implements kiosk.Server: it says Gates (nil: none) and records the
// scanner certificate each nonce was asked for (NonceCerts).
func (s *Server) Nonce(ctx context.Context, scannerCert []byte) (n kiosk.Nonce, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	n.Value[0] = byte(s.seq)
	s.NonceCerts = append(s.NonceCerts, append([]byte(nil), scannerCert...))
	if s.Gates != nil {
		g := *s.Gates
		n.Gates = &g
	}
	return n, s.check()
}

// Verify implements kiosk.Server.
func (s *Server) Verify(ctx context.Context, c identity.Card, smp session.Sample) (session.Resident, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(); err != nil {
		return session.Resident{}, "", err
	}
	if s.ThrottleFor > 0 {
		d := s.ThrottleFor
		s.ThrottleFor = 0
		return session.Resident{}, "", &kiosk.APIError{Kind: session.ErrThrottled, Code: "rate_limited", Details: session.Details{RetryAfter: d, AttemptsLeft: -1}}
	}
	now := s.Now()
	if until, ok := s.locked[c.IDNumber]; ok && now.Before(until) {
		return session.Resident{}, "", &kiosk.APIError{Kind: session.ErrLocked, Code: "locked",
			Details: session.Details{RetryAfter: until.Sub(now), LockedUntil: until, AttemptsLeft: 0}}
	}
	r, ok := s.Residents[c.IDNumber]
	switch {
	case !ok:
		return session.Resident{}, "", session.ErrNotFound
	case r.Enrolled == "":
		return session.Resident{}, "", session.ErrNotEnrolled
	case r.Enrolled != string(smp.Template):
		if s.LockAfter == 0 {
			return session.Resident{}, "", session.ErrNoMatch
		}
		s.failures[c.IDNumber]++
		left := s.LockAfter - s.failures[c.IDNumber]
		d := session.Details{AttemptsLeft: max(left, 0)}
		if left <= 0 {
			d.LockedUntil = now.Add(s.LockFor)
			s.locked[c.IDNumber] = d.LockedUntil
			s.failures[c.IDNumber] = 0
		}
		return session.Resident{}, "", &kiosk.APIError{Kind: session.ErrNoMatch, Code: "no_match", Details: d}
	}
	delete(s.failures, c.IDNumber)
	s.seq++
	tok := fmt.Sprintf("tok-%d", s.seq)
	s.tokens[tok] = c.IDNumber
	return session.Resident{ID: r.ID, Name: r.Name, MaskedID: identity.MaskIDNumber(r.IDNumber)}, tok, nil
}

// EnrolmentCheck implements kiosk.Server.
func (s *Server) EnrolmentCheck(ctx context.Context, c identity.Card) (session.EnrolmentInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(); err != nil {
		return session.EnrolmentInfo{}, err
	}
	r, ok := s.Residents[c.IDNumber]
	if !ok {
		return session.EnrolmentInfo{}, session.ErrNotFound
	}
	in := session.EnrolmentInfo{Checked: true, Enrolled: r.Enrolled != "", AttemptsLeft: -1}
	if in.Enrolled {
		in.Fingers = r.Fingers
		if in.Fingers == nil {
			in.Fingers = []string{"right_index", "left_index"}
		}
	}
	if s.LockAfter > 0 {
		in.AttemptsLeft = s.LockAfter - s.failures[c.IDNumber]
		if until, ok := s.locked[c.IDNumber]; ok && s.Now().Before(until) {
			in.LockedUntil, in.AttemptsLeft = until, 0
		}
	}
	return in, nil
}

// Services implements kiosk.Server.
func (s *Server) Services(ctx context.Context, token string) ([]session.Service, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Catalogue, s.check()
}

// Form implements kiosk.Server.
func (s *Server) Form(ctx context.Context, token string, svc session.Service) (session.Form, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(); err != nil {
		return session.Form{}, err
	}
	r := s.Residents[s.tokens[token]]
	if r == nil {
		return session.Form{}, session.ErrTokenSpent
	}
	fields := []session.Field{
		{Key: "name", LabelZH: "姓名", LabelEN: "Name", Value: r.Name},
		{Key: "id_number", LabelZH: "身份证号", LabelEN: "ID number", Value: identity.MaskIDNumber(r.IDNumber)},
		{Key: "address", LabelZH: "住址", LabelEN: "Address", Value: r.Address},
		{Key: "household_size", LabelZH: "家庭人口", LabelEN: "Household size", Value: fmt.Sprint(r.Household), Editable: true, Choices: []string{"1", "2", "3", "4", "5"}},
		{Key: "income_changed", LabelZH: "收入有无变化", LabelEN: "Income changed", Value: "无", Editable: true, Choices: []string{"无", "有"}},
	}
	if svc.Code == "dibao_new" {
		// A new application asks what the kiosk has no keyboard for:
		// an account number (keypad) and free text (pinyin keyboard).
		fields = append(fields,
			session.Field{Key: "bank_account", LabelZH: "收款银行账号", LabelEN: "Bank account", Editable: true, Required: true, Kind: "digits", MaxLen: 30},
			session.Field{Key: "reason", LabelZH: "申请理由", LabelEN: "Reason for applying", Editable: true, Required: true, Kind: "text", MaxLen: 200,
				Suggestions: []string{"因病致贫", "失业，家庭生活困难"}},
			session.Field{Key: "phone", LabelZH: "联系电话", LabelEN: "Phone", Editable: true, Required: true, Kind: "phone"})
	}
	return session.Form{Service: svc, Fields: fields}, nil
}

// Certify implements kiosk.Server: once a year per resident, the token
// kept (as at the real server).
func (s *Server) Certify(ctx context.Context, token string, svc session.Service) (session.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(); err != nil {
		return session.Certificate{}, err
	}
	id, ok := s.tokens[token]
	if !ok {
		return session.Certificate{}, session.ErrTokenSpent
	}
	if !svc.Certification {
		return session.Certificate{}, fmt.Errorf("fake server: %s is not a certification: %w", svc.Code, session.ErrRejected)
	}
	now := s.Now()
	key := fmt.Sprintf("%s/%d", id, now.Year())
	at, already := s.certs[key]
	if !already {
		at = now
		s.certs[key] = at
	}
	return session.Certificate{Service: svc, Year: now.Year(), At: at, Already: already}, nil
}

// Submit implements kiosk.Server (idempotent by key).
func (s *Server) Submit(ctx context.Context, token, key string, f session.Form) (session.Receipt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(); err != nil {
		return session.Receipt{}, err
	}
	if s.FailSubmits > 0 {
		s.FailSubmits--
		return session.Receipt{}, fmt.Errorf("fake server: connection reset: %w", session.ErrUnavailable)
	}
	lose := s.LoseAnswers > 0
	if lose {
		s.LoseAnswers--
	}
	if old, ok := s.byKey[key]; ok {
		if lose {
			return session.Receipt{}, fmt.Errorf("fake server: answer lost: %w", session.ErrUnavailable)
		}
		return session.Receipt{Reference: old.Reference, Service: old.Service, FiledAt: old.FiledAt, Due: old.Due}, nil
	}
	id, ok := s.tokens[token]
	if !ok {
		return session.Receipt{}, session.ErrTokenSpent
	}
	delete(s.tokens, token) // a token is good for one filing, as at the real server
	now := s.Now()
	s.seq++
	fl := &filing{Filing: session.Filing{Reference: fmt.Sprintf("QS-%s-%04d", now.Format("20060102"), s.seq), Service: f.Service,
		FiledAt: now, Due: now.AddDate(0, 0, f.Service.DueDays), Status: "submitted"}, idNumber: id, key: key, values: map[string]string{}}
	for _, fd := range f.Fields {
		fl.values[fd.Key] = fd.Value
	}
	s.filings = append(s.filings, fl)
	s.byKey[key] = fl
	if lose {
		return session.Receipt{}, fmt.Errorf("fake server: answer lost: %w", session.ErrUnavailable)
	}
	return session.Receipt{Reference: fl.Reference, Service: fl.Service, FiledAt: fl.FiledAt, Due: fl.Due}, nil
}

// Filings implements kiosk.Server.
func (s *Server) Filings(ctx context.Context, token string) ([]session.Filing, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(); err != nil {
		return nil, err
	}
	id, ok := s.tokens[token]
	if !ok {
		return nil, session.ErrTokenSpent
	}
	var out []session.Filing
	for _, f := range s.filings {
		if f.idNumber == id {
			out = append(out, f.Filing)
		}
	}
	return out, nil
}

// StaffLogin implements kiosk.Server: as centrald, another station's
// staff are refused before the PIN, and PINMaxFailures wrong PINs in a
// row lock it.
func (s *Server) StaffLogin(ctx context.Context, user, pin string) (session.StaffSession, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(); err != nil {
		return session.StaffSession{}, err
	}
	a, ok := s.Staff[user]
	if ok && a.OtherStation {
		return session.StaffSession{}, &kiosk.APIError{Kind: session.ErrOtherStation, Code: "station_mismatch", Details: session.Details{AttemptsLeft: -1}}
	}
	if ok && s.pinFailures[user] >= PINMaxFailures {
		return session.StaffSession{}, &kiosk.APIError{Kind: session.ErrPINLocked, Code: "pin_locked", Details: session.Details{AttemptsLeft: -1}}
	}
	if !ok || a.PIN != pin {
		d := session.Details{AttemptsLeft: -1}
		if ok {
			if s.pinFailures == nil {
				s.pinFailures = map[string]int{}
			}
			s.pinFailures[user]++
			if s.pinFailures[user] >= PINMaxFailures {
				return session.StaffSession{}, &kiosk.APIError{Kind: session.ErrPINLocked, Code: "pin_locked", Details: d}
			}
			d.AttemptsLeft = PINMaxFailures - s.pinFailures[user]
		}
		return session.StaffSession{}, &kiosk.APIError{Kind: session.ErrDenied, Code: "bad_credentials", Details: d}
	}
	delete(s.pinFailures, user)
	s.seq++
	tok := fmt.Sprintf("staff-%d", s.seq)
	s.sessions[tok] = a
	return session.StaffSession{Token: tok, Name: a.Name, Supervisor: a.Supervisor}, nil
}

// Enrol implements kiosk.Server.
func (s *Server) Enrol(ctx context.Context, staffToken string, c identity.Card, fingers []session.EnrolFinger, overrideCase string, consentAt time.Time) (session.EnrolOutcome, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(); err != nil {
		return session.EnrolOutcome{}, err
	}
	if consentAt.IsZero() {
		return session.EnrolOutcome{}, &kiosk.APIError{Kind: session.ErrRejected, Code: "consent_required", Details: session.Details{AttemptsLeft: -1}}
	}
	s.Consents = append(s.Consents, Consent{IDNumber: c.IDNumber, At: consentAt})
	if _, ok := s.sessions[staffToken]; !ok {
		return session.EnrolOutcome{}, session.ErrDenied
	}
	r, ok := s.Residents[c.IDNumber]
	if !ok {
		return session.EnrolOutcome{}, session.ErrNotFound
	}
	if len(fingers) < 2 || len(fingers[0].Accepted) < 3 || len(fingers[1].Accepted) < 3 {
		return session.EnrolOutcome{}, session.ErrRejected
	}
	person := string(fingers[0].Accepted[0].Template)
	if s.DuplicateOf[person] && s.cases[overrideCase] != "overridden" {
		s.seq++
		id := fmt.Sprintf("case-%d", s.seq)
		s.cases[id] = "open"
		return session.EnrolOutcome{NeedsSupervisor: true, CaseID: id}, nil
	}
	if r.Enrolled != "" {
		// As centrald: an enrolled resident's new fingers only await a
		// supervisor's approval; the enrolment in force stays.
		s.seq++
		return session.EnrolOutcome{ResidentID: r.ID, PendingApproval: true, ReplacementID: fmt.Sprint(s.seq)}, nil
	}
	r.Enrolled = person
	return session.EnrolOutcome{ResidentID: r.ID}, nil
}

// StaffLogout implements kiosk.StaffLogouter: the session ends, and its
// token is remembered in LoggedOut.
func (s *Server) StaffLogout(ctx context.Context, tok string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(); err != nil {
		return err
	}
	if _, ok := s.sessions[tok]; !ok {
		return session.ErrDenied
	}
	delete(s.sessions, tok)
	s.LoggedOut = append(s.LoggedOut, tok)
	return nil
}

// LoggedOutTokens returns the staff sessions ended by StaffLogout.
func (s *Server) LoggedOutTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.LoggedOut)
}

// OverrideCase implements kiosk.Server.
func (s *Server) OverrideCase(ctx context.Context, tok, caseID, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(); err != nil {
		return err
	}
	if a, ok := s.sessions[tok]; !ok || !a.Supervisor {
		return session.ErrDenied
	}
	if s.cases[caseID] != "open" {
		return session.ErrRejected
	}
	s.cases[caseID] = "overridden"
	return nil
}

// CallStaff implements kiosk.StaffCaller: the reasons are recorded in
// Calls; it fails like every call while the server is down.
func (s *Server) CallStaff(ctx context.Context, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(); err != nil {
		return err
	}
	s.Calls = append(s.Calls, reason)
	return nil
}

// StaffCalls returns the reasons of the calls for staff so far.
func (s *Server) StaffCalls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.Calls...)
}

// Ping implements kiosk.Server.
func (s *Server) Ping(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.check()
}

var (
	_ kiosk.Server      = (*Server)(nil)
	_ kiosk.StaffCaller = (*Server)(nil)
	_ kiosk.Scanner     = (*Scanner)(nil)
	_ kiosk.CardReader  = (*Reader)(nil)
	_ kiosk.Extractor   = Extractor{}
)
