package apiv1

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// MaxResponseBytes bounds the size of a response the client reads.
const MaxResponseBytes = 16 << 20

// Client calls the API. The kiosk daemon sets KioskID and KioskKey, so every
// request is signed; staff tools (and the kiosk in staff mode) set
// StaffToken, sent as "Authorization: Bearer". A Client is safe for
// concurrent use once configured.
//
// BaseURL may list several servers (replicas of one service, or load
// balancers in front of them), separated by commas. A request goes to the
// server that answered last (at first, the first listed); when it gets no
// answer (refused or reset connection, a timeout of the attempt) or a 5xx
// answer, it is sent to the next server, each at most once. This is safe
// for every request of the API: a request is signed afresh for each
// attempt, and a request that changes state is either single-use (a
// capture nonce: a second attempt after a first that was processed is
// refused with nonce_invalid, never applied twice) or idempotent (a filing
// carries its idempotency key: the second attempt returns the filing the
// first created). 4xx answers are final, and so is search_incomplete (503):
// every replica asks the same matcher shards, and the server that answered
// it has consumed the captures, so another attempt could only answer
// nonce_unknown; the caller retries with a new capture after
// retry_after_s. gallery_stale (503) moves on: a stale replica refuses
// before it consumes anything.
type Client struct {
	BaseURL    string       // e.g. "https://centrald.example:8443", or "https://a:8443,https://b:8443"
	HTTP       *http.Client // nil: http.DefaultClient
	KioskID    string
	KioskKey   ed25519.PrivateKey
	StaffToken string
	Now        func() time.Time // nil: time.Now

	// AttemptTimeout bounds each attempt when BaseURL lists several
	// servers, so that a server that hangs leaves time to try the next
	// within the caller's deadline; 0: only the caller's context and
	// HTTP.Timeout bound it.
	AttemptTimeout time.Duration
	// OnFailover, if set, is called when a request moves from one server
	// to the next, with the error of the attempt that failed.
	OnFailover func(from, to string, err error)
}

// BaseURLs splits a BaseURL into its servers, without trailing slashes.
func BaseURLs(base string) []string {
	var out []string
	for _, b := range strings.Split(base, ",") {
		if b = strings.TrimSuffix(strings.TrimSpace(b), "/"); b != "" {
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		return []string{""}
	}
	return out
}

// current remembers, per BaseURL list, the server that answered last, so
// that the clients of one list (a kiosk's, and its staff-mode copies from
// WithStaff) stay on a server that works instead of trying a dead one
// first on every request.
var current sync.Map // BaseURL -> *atomic.Int32

func currentOf(base string) *atomic.Int32 {
	if v, ok := current.Load(base); ok {
		return v.(*atomic.Int32)
	}
	v, _ := current.LoadOrStore(base, new(atomic.Int32))
	return v.(*atomic.Int32)
}

// WithStaff returns a copy of c that sends the staff session token.
func (c *Client) WithStaff(token string) *Client {
	cc := *c
	cc.StaffToken = token
	return &cc
}

// Do sends one request: in (if not nil) is encoded as the JSON body, and a
// 2xx response is decoded into out (if not nil). A non-2xx response comes
// back as *Error. With several servers in BaseURL, a request that gets no
// answer or a 5xx goes to the next (see Client).
func (c *Client) Do(ctx context.Context, method, uri string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("apiv1: encoding request: %w", err)
		}
	}
	bases := BaseURLs(c.BaseURL)
	if len(bases) == 1 {
		_, err := c.attempt(ctx, bases[0], method, uri, body, in != nil, out)
		return err
	}
	cur := currentOf(c.BaseURL)
	first := int(cur.Load()) % len(bases)
	var err error
	for i := range bases {
		k := (first + i) % len(bases)
		actx, cancel := ctx, context.CancelFunc(func() {})
		if c.AttemptTimeout > 0 {
			actx, cancel = context.WithTimeout(ctx, c.AttemptTimeout)
		}
		var next bool
		next, err = c.attempt(actx, bases[k], method, uri, body, in != nil, out)
		cancel()
		if !next || ctx.Err() != nil {
			if next {
				return err // the caller's deadline: no time for another server
			}
			cur.Store(int32(k)) // this server answered
			return err
		}
		if i+1 < len(bases) && c.OnFailover != nil {
			c.OnFailover(bases[k], bases[(k+1)%len(bases)], err)
		}
	}
	return err
}

// attempt sends the request to one server. next reports a failure that
// another server may not have: no answer, or a 5xx answer other than
// search_incomplete.
func (c *Client) attempt(ctx context.Context, base, method, uri string, body []byte, hasBody bool, out any) (next bool, err error) {
	req, err := http.NewRequestWithContext(ctx, method, base+uri, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	if hasBody {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.StaffToken != "" {
		req.Header.Set("Authorization", "Bearer "+c.StaffToken)
	}
	if c.KioskKey != nil {
		now := time.Now
		if c.Now != nil {
			now = c.Now
		}
		h, err := SignRequest(c.KioskKey, c.KioskID, method, req.URL.RequestURI(), body, now())
		if err != nil {
			return false, err
		}
		h.Apply(req.Header)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return true, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes))
	if err != nil {
		return true, fmt.Errorf("apiv1: reading response: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var eb ErrorBody
		if json.Unmarshal(data, &eb) != nil || eb.Error.Code == "" {
			eb.Error = ErrorDetail{Code: CodeInternal, Message: fmt.Sprintf("unexpected response %s", resp.Status)}
		}
		return resp.StatusCode >= 500 && eb.Error.Code != CodeSearchIncomplete, &Error{Status: resp.StatusCode, ErrorDetail: eb.Error}
	}
	if out == nil || len(data) == 0 {
		return false, nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return false, fmt.Errorf("apiv1: decoding response: %w", err)
	}
	return false, nil
}

// ErrNoKioskKey is returned by kiosk calls on a client without a kiosk key.
var ErrNoKioskKey = errors.New("apiv1: client has no kiosk id and key")

func (c *Client) kiosk() error {
	if c.KioskKey == nil || c.KioskID == "" {
		return ErrNoKioskKey
	}
	return nil
}

// Nonce asks for a fresh capture nonce for the scanner.
func (c *Client) Nonce(ctx context.Context) (*NonceResponse, error) {
	if err := c.kiosk(); err != nil {
		return nil, err
	}
	var r NonceResponse
	return &r, c.Do(ctx, http.MethodPost, PathKioskNonce, struct{}{}, &r)
}

// NonceFor asks for a fresh capture nonce for the scanner whose device
// certificate is cert, and the quality gates of its model
// (NonceResponse.QualityGates).
func (c *Client) NonceFor(ctx context.Context, cert []byte) (*NonceResponse, error) {
	if err := c.kiosk(); err != nil {
		return nil, err
	}
	var r NonceResponse
	return &r, c.Do(ctx, http.MethodPost, PathKioskNonce, NonceRequest{ScannerCertificate: cert}, &r)
}

// Verify checks card + vein and returns a filing token.
func (c *Client) Verify(ctx context.Context, req *VerifyRequest) (*VerifyResponse, error) {
	if err := c.kiosk(); err != nil {
		return nil, err
	}
	var r VerifyResponse
	return &r, c.Do(ctx, http.MethodPost, PathKioskVerify, req, &r)
}

// EnrolmentCheck asks whether the card's holder is enrolled and with which
// fingers, before any capture.
func (c *Client) EnrolmentCheck(ctx context.Context, card Card) (*EnrolmentCheck, error) {
	if err := c.kiosk(); err != nil {
		return nil, err
	}
	var r EnrolmentCheck
	return &r, c.Do(ctx, http.MethodPost, PathKioskEnrolmentCheck, &EnrolmentCheckRequest{Card: card}, &r)
}

// Services returns the catalogue of services.
func (c *Client) Services(ctx context.Context) (*ServiceList, error) {
	if err := c.kiosk(); err != nil {
		return nil, err
	}
	var r ServiceList
	return &r, c.Do(ctx, http.MethodGet, PathKioskServices, nil, &r)
}

// EligibleServices returns the services the token's resident may file
// (the catalogue's eligibility rules); a kiosk offers only these.
func (c *Client) EligibleServices(ctx context.Context, token string) (*ServiceList, error) {
	if err := c.kiosk(); err != nil {
		return nil, err
	}
	var r ServiceList
	return &r, c.Do(ctx, http.MethodPost, PathKioskEligible, &EligibleRequest{Token: token}, &r)
}

// Form returns a service's form pre-filled for the token's resident.
func (c *Client) Form(ctx context.Context, token, service string) (*Form, error) {
	if err := c.kiosk(); err != nil {
		return nil, err
	}
	var r Form
	return &r, c.Do(ctx, http.MethodPost, PathKioskForm, &FormRequest{Token: token, Service: service}, &r)
}

// Agent binds the agent's token to the family member whose card the kiosk
// read (代办): from then on the token files for them.
func (c *Client) Agent(ctx context.Context, token string, card Card) (*AgentResponse, error) {
	if err := c.kiosk(); err != nil {
		return nil, err
	}
	var r AgentResponse
	return &r, c.Do(ctx, http.MethodPost, PathKioskAgent, &AgentRequest{Token: token, Card: card}, &r)
}

// SubmitFiling files a form. Retrying with the same idempotency key is safe.
func (c *Client) SubmitFiling(ctx context.Context, req *SubmitFilingRequest) (*Filing, error) {
	if err := c.kiosk(); err != nil {
		return nil, err
	}
	var r Filing
	return &r, c.Do(ctx, http.MethodPost, PathKioskFilings, req, &r)
}

// Status lists the token's resident's filings with status and reply.
// Certify records the token's resident's proof of life for a
// certification service (POST /api/v1/kiosk/certify).
func (c *Client) Certify(ctx context.Context, token, service string) (*Certification, error) {
	if err := c.kiosk(); err != nil {
		return nil, err
	}
	var r Certification
	return &r, c.Do(ctx, http.MethodPost, PathKioskCertify, &CertifyRequest{Token: token, Service: service}, &r)
}

func (c *Client) Status(ctx context.Context, token string) (*FilingList, error) {
	if err := c.kiosk(); err != nil {
		return nil, err
	}
	var r FilingList
	return &r, c.Do(ctx, http.MethodPost, PathKioskStatus, &StatusRequest{Token: token}, &r)
}

// Enrol enrols (or re-enrols) a resident; needs a station_staff session.
func (c *Client) Enrol(ctx context.Context, req *EnrolRequest) (*EnrolResponse, error) {
	if err := c.kiosk(); err != nil {
		return nil, err
	}
	var r EnrolResponse
	return &r, c.Do(ctx, http.MethodPost, PathKioskEnrolments, req, &r)
}

// UnlockAtKiosk clears an ID number's lockout from a kiosk in staff mode
// (a station_staff session of the kiosk's station); reason is required.
func (c *Client) UnlockAtKiosk(ctx context.Context, idNumber, reason string) (*LockoutUnlocked, error) {
	if err := c.kiosk(); err != nil {
		return nil, err
	}
	var r LockoutUnlocked
	return &r, c.Do(ctx, http.MethodPost, PathKioskLockoutUnlock, LockoutUnlock{IDNumber: idNumber, Reason: reason}, &r)
}

// Identify runs a card-less identification; needs a station_staff session.
func (c *Client) Identify(ctx context.Context, req *IdentifyRequest) (*IdentifyCandidate, error) {
	if err := c.kiosk(); err != nil {
		return nil, err
	}
	var r IdentifyCandidate
	return &r, c.Do(ctx, http.MethodPost, PathKioskIdentify, req, &r)
}

// IdentifyConfirm confirms a card-less identification's candidate and
// returns a filing token; needs a station_staff session.
func (c *Client) IdentifyConfirm(ctx context.Context, candidateID string) (*VerifyResponse, error) {
	if err := c.kiosk(); err != nil {
		return nil, err
	}
	var r VerifyResponse
	return &r, c.Do(ctx, http.MethodPost, PathKioskIdentifyConfirm, &IdentifyConfirmRequest{CandidateID: candidateID}, &r)
}

// KioskStaffLogin opens a staff session at this kiosk with a station
// staff member's username and PIN (a signed kiosk request).
func (c *Client) KioskStaffLogin(ctx context.Context, username, pin string) (*Session, error) {
	if err := c.kiosk(); err != nil {
		return nil, err
	}
	var r Session
	return &r, c.Do(ctx, http.MethodPost, PathKioskStaffLogin, &KioskStaffLogin{Username: username, PIN: pin}, &r)
}

// KioskStaffLogout ends the staff session (StaffToken) opened at this
// kiosk.
func (c *Client) KioskStaffLogout(ctx context.Context) error {
	if err := c.kiosk(); err != nil {
		return err
	}
	return c.Do(ctx, http.MethodDelete, PathKioskStaffLogout, nil, nil)
}

// OverrideCaseAtKiosk lets a supervisor logged in at this kiosk with their
// PIN (StaffToken) allow an enrolment stopped at this kiosk on a suspected
// duplicate; reason is required.
func (c *Client) OverrideCaseAtKiosk(ctx context.Context, caseID int64, reason string) (*Case, error) {
	if err := c.kiosk(); err != nil {
		return nil, err
	}
	var r Case
	return &r, c.Do(ctx, http.MethodPost, PathKioskCases+"/"+strconv.FormatInt(caseID, 10)+"/override", CaseDecision{Reason: reason}, &r)
}

// Login opens a staff session. Use the returned token with WithStaff.
func (c *Client) Login(ctx context.Context, username, password string) (*Session, error) {
	var r Session
	return &r, c.Do(ctx, http.MethodPost, PathSessions, &LoginRequest{Username: username, Password: password}, &r)
}
