package kiosk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/kiosk/session"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
)

// ServerClient is the Server the daemon uses in production: the central
// server's API v1 through apiv1.Client, every kiosk request signed with the
// kiosk's Ed25519 key.
type ServerClient struct {
	C *apiv1.Client
}

// NewServerClient returns a client of the server at base.
func NewServerClient(base, kioskID string, key []byte, hc *http.Client) *ServerClient {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &ServerClient{C: &apiv1.Client{BaseURL: base, HTTP: hc, KioskID: kioskID, KioskKey: key}}
}

// WithFailover prepares the client for a list of servers (a ServerURL with
// several, comma-separated): each attempt gets at most attempt (so that a
// server that hangs leaves time for the next within the call's deadline),
// and every move to the next server is logged (addresses only). A filing
// moved to another server keeps its idempotency key, so it is filed once.
func (a *ServerClient) WithFailover(attempt time.Duration, log *slog.Logger) *ServerClient {
	if len(apiv1.BaseURLs(a.C.BaseURL)) < 2 {
		return a
	}
	a.C.AttemptTimeout = attempt
	a.C.OnFailover = func(from, to string, err error) {
		log.Warn("central server did not answer; trying the next", "from", from, "to", to, "err", err)
	}
	return a
}

// mapErr turns API errors into the session's sentinels: an outage (no
// answer, 5xx, rate limiting) is ErrUnavailable; answers keep their meaning.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var ae *apiv1.Error
	if !errors.As(err, &ae) {
		return fmt.Errorf("%w: %v", session.ErrUnavailable, err)
	}
	var s error
	switch ae.Code {
	case apiv1.CodeNoMatch:
		s = session.ErrNoMatch
	case apiv1.CodeNotEnrolled:
		s = session.ErrNotEnrolled
	case apiv1.CodeResidentUnknown, apiv1.CodeNotFound, apiv1.CodeCaseNotFound, apiv1.CodeFilingNotFound:
		s = session.ErrNotFound
	case apiv1.CodeCardExpired:
		s = session.ErrCardExpired
	case apiv1.CodeLocked:
		s = session.ErrLocked
	case apiv1.CodeResidentSuspended:
		s = session.ErrSuspended
	case apiv1.CodeFormInvalid:
		s = session.ErrInvalid
	case apiv1.CodeTokenInvalid:
		s = session.ErrTokenSpent
	case apiv1.CodeReplacementPending:
		s = session.ErrReplacementWaiting
	case apiv1.CodeStationMismatch:
		s = session.ErrOtherStation
	case apiv1.CodePINLocked:
		s = session.ErrPINLocked
	case apiv1.CodeEnrolmentInconsistent:
		s = session.ErrInconsistent
	case apiv1.CodeBadCredentials, apiv1.CodeUnauthenticated, apiv1.CodeForbidden, apiv1.CodeStaffDisabled, apiv1.CodeSessionKioskBound, apiv1.CodeKioskSessionRequired:
		s = session.ErrDenied
	case apiv1.CodeRateLimited:
		s = session.ErrThrottled
	case apiv1.CodeNotHousehold:
		s = session.ErrNotHousehold
	case apiv1.CodePrincipalNotEligible:
		s = session.ErrPrincipalNotEligible
	case apiv1.CodeCardMismatch, apiv1.CodeCardInvalid, apiv1.CodeCardNotYetValid:
		s = session.ErrCardMismatch
	case apiv1.CodeAgentNotAllowed:
		s = session.ErrAgentNotAllowed
	case apiv1.CodeAgentTokenBound:
		s = session.ErrAgentTokenBound
	case apiv1.CodeUnavailable, apiv1.CodeTimeout, apiv1.CodeInternal:
		s = session.ErrUnavailable
	default:
		if ae.Status >= 500 {
			s = session.ErrUnavailable
		} else {
			s = session.ErrRejected
		}
	}
	d := session.Details{RetryAfter: time.Duration(ae.RetryAfterSeconds) * time.Second, AttemptsLeft: -1}
	if ae.AttemptsLeft != nil {
		d.AttemptsLeft = max(*ae.AttemptsLeft, 0)
	}
	if ae.LockedUntil != nil {
		d.LockedUntil = *ae.LockedUntil
	}
	for k := range ae.Fields {
		d.Fields = append(d.Fields, k)
	}
	slices.Sort(d.Fields)
	if ae.Code == apiv1.CodeEnrolmentInconsistent {
		for k := range ae.Fields {
			if f, i, ok := apiv1.ParseCaptureField(k); ok {
				if d.Recapture == nil {
					d.Recapture = map[string][]int{}
				}
				d.Recapture[string(f)] = append(d.Recapture[string(f)], i)
			}
		}
		for _, is := range d.Recapture {
			slices.Sort(is)
		}
	}
	// The code and the details only: messages may name people.
	return &APIError{Kind: s, Code: ae.Code, Details: d}
}

// APIError is a server answer as the kiosk keeps it: the session sentinel
// it maps to, the API's stable code and its details (waits, attempts left,
// the form fields refused), never the message (which may name people).
type APIError struct {
	Kind    error
	Code    string
	Details session.Details
}

// ServerDetails implements the session's details interface.
func (e *APIError) ServerDetails() session.Details { return e.Details }

func (e *APIError) Error() string { return e.Kind.Error() + ": " + e.Code }
func (e *APIError) Unwrap() error { return e.Kind }

// Ping implements Server (the signed catalogue call proves both the
// network and this kiosk's registration).
func (a *ServerClient) Ping(ctx context.Context) error {
	_, err := a.C.Services(ctx)
	return mapErr(err)
}

// Nonce implements Server: with the scanner's certificate the server says
// the quality gates of its model. Gates outside 0..100 are not taken (the
// kiosk keeps the ones it has).
func (a *ServerClient) Nonce(ctx context.Context, scannerCert []byte) (Nonce, error) {
	var n Nonce
	r, err := a.C.NonceFor(ctx, scannerCert)
	if err != nil {
		return n, mapErr(err)
	}
	if len(r.Nonce) != 32 {
		return n, fmt.Errorf("%w: nonce of %d bytes", session.ErrRejected, len(r.Nonce))
	}
	copy(n.Value[:], r.Nonce)
	if g := r.QualityGates; g != nil && g.EnrolMinQuality >= 0 && g.EnrolMinQuality <= 100 && g.VerifyMinQuality >= 0 && g.VerifyMinQuality <= 100 {
		n.Gates = &session.Gates{Enrol: g.EnrolMinQuality, Verify: g.VerifyMinQuality, From: "server"}
	}
	return n, nil
}

// EnrolmentCheck implements Server. A server without the endpoint (an
// older one: a 404 not_found for the route) gives an unchecked answer, so
// the kiosk asks for "the enrolled finger" as before.
func (a *ServerClient) EnrolmentCheck(ctx context.Context, c identity.Card) (session.EnrolmentInfo, error) {
	r, err := a.C.EnrolmentCheck(ctx, c)
	if apiv1.ErrorCode(err) == apiv1.CodeNotFound {
		return session.EnrolmentInfo{AttemptsLeft: -1}, nil
	}
	if err != nil {
		return session.EnrolmentInfo{}, mapErr(err)
	}
	in := session.EnrolmentInfo{Checked: true, Enrolled: r.Enrolled, AttemptsLeft: r.AttemptsLeft}
	for _, f := range r.Fingers {
		in.Fingers = append(in.Fingers, string(f))
	}
	if r.LockedUntil != nil {
		in.LockedUntil = *r.LockedUntil
	}
	return in, nil
}

// captureToAPI is a capture as the server takes it: the image the scanner
// attested, which the server extracts the template from itself. The
// kiosk's own template (its quality feedback) stays on the kiosk: the
// server extracts with the pipeline of the calibration in force for the
// scanner's model, which need not be the kiosk's.
func captureToAPI(s session.Sample, finger string) apiv1.Capture {
	if finger == "" {
		finger = string(apiv1.RightIndex)
	}
	c := apiv1.Capture{Finger: apiv1.Finger(finger), Quality: s.Quality, Attestation: s.Attestation, Certificate: s.Certificate}
	if s.Image != nil {
		c.Image = &apiv1.Image{Width: s.Width, Height: s.Height, Pixels: s.Image}
	}
	return c
}

// Verify implements Server.
func (a *ServerClient) Verify(ctx context.Context, c identity.Card, s session.Sample) (session.Resident, string, error) {
	r, err := a.C.Verify(ctx, &apiv1.VerifyRequest{Card: c, Capture: captureToAPI(s, s.Finger)})
	if err != nil {
		return session.Resident{}, "", mapErr(err)
	}
	return session.Resident{ID: strconv.FormatInt(r.Resident.ResidentID, 10), Name: r.Resident.Name, MaskedID: r.Resident.IDNumberMasked, NewReplies: r.NewReplies}, r.Token, nil
}

func svcFromAPI(s apiv1.Service) session.Service {
	en := s.NameEN
	if en == "" {
		en = serviceEN[s.Code]
	}
	return session.Service{Code: s.Code, NameZH: s.Name, NameEN: en, DueDays: s.DeadlineDays, Certification: s.Kind == "certification"}
}

// Services implements Server: with the verified resident's token, only the
// services they may file (the catalogue's eligibility rules).
func (a *ServerClient) Services(ctx context.Context, token string) ([]session.Service, error) {
	var l *apiv1.ServiceList
	var err error
	if token != "" {
		l, err = a.C.EligibleServices(ctx, token)
	} else {
		l, err = a.C.Services(ctx)
	}
	if err != nil {
		return nil, mapErr(err)
	}
	var out []session.Service
	for _, s := range l.Services {
		if s.Code == ReportService.Code || s.Kind != "" && s.Kind != "certification" {
			continue // the kiosk's own report entry, or a kind of service this kiosk has no screen for
		}
		out = append(out, svcFromAPI(s))
	}
	if token != "" {
		// A verified resident may also report a problem (反映问题).
		out = append(out, ReportService)
	}
	return out, nil
}

// Certify implements Server.
func (a *ServerClient) Certify(ctx context.Context, token string, svc session.Service) (session.Certificate, error) {
	c, err := a.C.Certify(ctx, token, svc.Code)
	if err != nil {
		return session.Certificate{Service: svc}, mapErr(err)
	}
	at, err := time.Parse(time.RFC3339, c.CertifiedAt)
	if err != nil {
		return session.Certificate{Service: svc}, fmt.Errorf("%w: certified_at %q", session.ErrRejected, c.CertifiedAt)
	}
	return session.Certificate{Service: svc, Year: c.Year, At: at, Already: c.Already}, nil
}

// Form implements Server.
func (a *ServerClient) Form(ctx context.Context, token string, svc session.Service) (session.Form, error) {
	if svc.Code == ReportService.Code {
		return a.reportForm(ctx)
	}
	f, err := a.C.Form(ctx, token, svc.Code)
	if err != nil {
		return session.Form{Service: svc}, mapErr(err)
	}
	out := session.Form{Service: svcFromAPI(f.Service)}
	for _, fd := range f.Service.Fields {
		en := fd.LabelEN
		if en == "" {
			en = fieldEN[fd.Name]
		}
		out.Fields = append(out.Fields, session.Field{
			Key: fd.Name, LabelZH: fd.Label, LabelEN: en, Value: f.Values[fd.Name],
			// Prefilled fields come from the population record and are not
			// edited at the kiosk; the resident states the others.
			Editable:      fd.Prefill == "" && slices.Contains(editableKinds, fd.Type),
			Choices:       choicesOf(fd),
			ChoicesEN:     fd.ChoicesEN,
			Kind:          string(fd.Type),
			Required:      fd.Required,
			Suggestions:   fd.Answers,
			SuggestionsEN: fd.AnswersEN,
			MaxLen:        fd.MaxLen,
		})
	}
	return out, nil
}

// editableKinds are the field kinds the resident fills at the kiosk
// (docs/catalogue.md).
var editableKinds = []apiv1.FieldType{apiv1.FieldChoice, apiv1.FieldBool, apiv1.FieldNumber, apiv1.FieldInteger, apiv1.FieldDigits,
	apiv1.FieldText, apiv1.FieldPhone, apiv1.FieldIDNumber, apiv1.FieldDate}

func choicesOf(fd apiv1.FormField) []string {
	switch fd.Type {
	case apiv1.FieldChoice:
		return fd.Choices
	case apiv1.FieldBool:
		return []string{"true", "false"}
	}
	return nil
}

// Submit implements Server.
func (a *ServerClient) Submit(ctx context.Context, token, key string, f session.Form) (session.Receipt, error) {
	if f.Service.Code == ReportService.Code {
		return a.submitReport(ctx, token, key, f)
	}
	vals := map[string]string{}
	for _, fd := range f.Fields {
		vals[fd.Key] = fd.Value
	}
	req := &apiv1.SubmitFilingRequest{Token: token, Service: f.Service.Code, IdempotencyKey: key, Values: vals}
	if f.Principal != "" {
		id, err := strconv.ParseInt(f.Principal, 10, 64)
		if err != nil {
			return session.Receipt{}, fmt.Errorf("%w: principal id %q", session.ErrRejected, f.Principal)
		}
		req.PrincipalID = id
	}
	fl, err := a.C.SubmitFiling(ctx, req)
	if err != nil {
		return session.Receipt{}, mapErr(err)
	}
	nameEN := f.Service.NameEN // the catalogue's
	if nameEN == "" {
		nameEN = serviceEN[fl.Service]
	}
	return session.Receipt{Reference: filingRef(fl), Service: session.Service{Code: fl.Service, NameZH: fl.ServiceName, NameEN: nameEN, DueDays: f.Service.DueDays},
		FiledAt: fl.SubmittedAt, Due: fl.DueAt}, nil
}

func filingRef(f *apiv1.Filing) string {
	if f.Reference != "" {
		return f.Reference
	}
	return strconv.FormatInt(f.ID, 10)
}

// Filings implements Server.
func (a *ServerClient) Filings(ctx context.Context, token string) ([]session.Filing, error) {
	l, err := a.C.Status(ctx, token)
	if err != nil {
		return nil, mapErr(err)
	}
	var out []session.Filing
	for i := range l.Filings {
		f := &l.Filings[i]
		sf := session.Filing{Item: "filing", Reference: filingRef(f), Service: session.Service{Code: f.Service, NameZH: f.ServiceName, NameEN: serviceEN[f.Service]},
			FiledAt: f.SubmittedAt, Due: f.DueAt, Status: f.Status, Reply: f.Reply, Rating: f.Rating, Rateable: f.Rateable, New: f.New}
		if f.DecidedAt != nil {
			sf.Decided = *f.DecidedAt
		}
		out = append(out, sf)
	}
	if len(l.Reports) > 0 {
		// The kinds' English names (the status names the kind in Chinese).
		en := map[string]string{}
		if kl, err := a.reportKinds(ctx); err == nil {
			for _, k := range kl.Kinds {
				en[k.Code] = k.NameEn
			}
		}
		for _, r := range l.Reports {
			out = append(out, reportFiling(r, en[r.Kind]))
		}
	}
	// Newest first, filings and reports together.
	slices.SortStableFunc(out, func(a, b session.Filing) int { return b.FiledAt.Compare(a.FiledAt) })
	return out, nil
}

// StaffLogin implements Server: the kiosk-signed username and PIN login
// (the kiosk never sends a staff member's password).
func (a *ServerClient) StaffLogin(ctx context.Context, user, pin string) (session.StaffSession, error) {
	s, err := a.C.KioskStaffLogin(ctx, user, pin)
	if err != nil {
		return session.StaffSession{}, mapErr(err)
	}
	name := s.Name
	if name == "" {
		name = s.Username
	}
	return session.StaffSession{Token: s.Token, Name: name, Supervisor: s.Role == apiv1.RoleSupervisor || s.Role == apiv1.RoleAdmin}, nil
}

// Enrol implements Server.
func (a *ServerClient) Enrol(ctx context.Context, staffToken string, c identity.Card, fingers []session.EnrolFinger, overrideCase string, consentAt time.Time) (session.EnrolOutcome, error) {
	req := &apiv1.EnrolRequest{Card: c}
	if !consentAt.IsZero() {
		req.Consent = &apiv1.EnrolConsent{TextVersion: apiv1.ConsentTextVersion, ConfirmedAt: consentAt.UTC()}
	}
	if overrideCase != "" {
		id, err := strconv.ParseInt(overrideCase, 10, 64)
		if err != nil {
			return session.EnrolOutcome{}, fmt.Errorf("%w: case id %q", session.ErrRejected, overrideCase)
		}
		req.OverrideCaseID = id
	}
	for _, f := range fingers {
		fc := apiv1.FingerCaptures{Finger: apiv1.Finger(f.Finger)}
		for _, s := range f.Accepted {
			fc.Captures = append(fc.Captures, captureToAPI(s, f.Finger))
		}
		req.Fingers = append(req.Fingers, fc)
	}
	r, err := a.C.WithStaff(staffToken).Enrol(ctx, req)
	if err != nil {
		var ae *apiv1.Error
		if errors.As(err, &ae) && ae.Code == apiv1.CodeDuplicateSuspected {
			return session.EnrolOutcome{NeedsSupervisor: true, CaseID: strconv.FormatInt(ae.CaseID, 10)}, nil
		}
		return session.EnrolOutcome{}, mapErr(err)
	}
	o := session.EnrolOutcome{ResidentID: strconv.FormatInt(r.ResidentID, 10), PendingApproval: r.Pending}
	if r.Pending {
		o.ReplacementID = strconv.FormatInt(r.ReplacementID, 10)
	}
	return o, nil
}

// OverrideCase implements Server: the kiosk route, with the supervisor's
// PIN session of this kiosk (the only place that session is valid).
func (a *ServerClient) OverrideCase(ctx context.Context, supervisorToken, caseID, reason string) error {
	id, err := strconv.ParseInt(caseID, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: case id %q", session.ErrRejected, caseID)
	}
	_, err = a.C.WithStaff(supervisorToken).OverrideCaseAtKiosk(ctx, id, reason)
	return mapErr(err)
}

// StaffLogout implements StaffLogouter.
func (a *ServerClient) StaffLogout(ctx context.Context, staffToken string) error {
	return mapErr(a.C.WithStaff(staffToken).KioskStaffLogout(ctx))
}

// Agent implements AgentBinder: the agent's token now files for the
// family member whose card was read (代办).
func (a *ServerClient) Agent(ctx context.Context, token string, card identity.Card) (session.AgentInfo, error) {
	r, err := a.C.Agent(ctx, token, card)
	if err != nil {
		return session.AgentInfo{}, mapErr(err)
	}
	return session.AgentInfo{
		Principal: session.Resident{ID: strconv.FormatInt(r.Principal.ResidentID, 10), Name: r.Principal.Name, MaskedID: r.Principal.IDNumberMasked},
		Relation:  r.Relation, RelationLabel: r.RelationLabel,
	}, nil
}

// CallStaff implements StaffCaller.
func (a *ServerClient) CallStaff(ctx context.Context, reason string) error {
	return mapErr(a.C.Do(ctx, http.MethodPost, apiv1.PathKioskAssist, apiv1.AssistRequest{Reason: reason}, nil))
}

var (
	_ Server        = (*ServerClient)(nil)
	_ StaffCaller   = (*ServerClient)(nil)
	_ AgentBinder   = (*ServerClient)(nil)
	_ StaffLogouter = (*ServerClient)(nil)
)
