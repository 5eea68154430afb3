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
	"strings"
	"time"
)

// MaxResponseBytes bounds the size of a response the client reads.
const MaxResponseBytes = 16 << 20

// Client calls the API. The kiosk daemon sets KioskID and KioskKey, so every
// request is signed; staff tools (and the kiosk in staff mode) set
// StaffToken, sent as "Authorization: Bearer". A Client is safe for
// concurrent use once configured.
type Client struct {
	BaseURL    string       // e.g. "https://centrald.example:8443"
	HTTP       *http.Client // nil: http.DefaultClient
	KioskID    string
	KioskKey   ed25519.PrivateKey
	StaffToken string
	Now        func() time.Time // nil: time.Now
}

// WithStaff returns a copy of c that sends the staff session token.
func (c *Client) WithStaff(token string) *Client {
	cc := *c
	cc.StaffToken = token
	return &cc
}

// Do sends one request: in (if not nil) is encoded as the JSON body, and a
// 2xx response is decoded into out (if not nil). A non-2xx response comes
// back as *Error.
func (c *Client) Do(ctx context.Context, method, uri string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("apiv1: encoding request: %w", err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.BaseURL, "/")+uri, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if in != nil {
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
			return err
		}
		h.Apply(req.Header)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes))
	if err != nil {
		return fmt.Errorf("apiv1: reading response: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var eb ErrorBody
		if json.Unmarshal(data, &eb) != nil || eb.Error.Code == "" {
			eb.Error = ErrorDetail{Code: CodeInternal, Message: fmt.Sprintf("unexpected response %s", resp.Status)}
		}
		return &Error{Status: resp.StatusCode, ErrorDetail: eb.Error}
	}
	if out == nil || len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("apiv1: decoding response: %w", err)
	}
	return nil
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

// Verify checks card + vein and returns a filing token.
func (c *Client) Verify(ctx context.Context, req *VerifyRequest) (*VerifyResponse, error) {
	if err := c.kiosk(); err != nil {
		return nil, err
	}
	var r VerifyResponse
	return &r, c.Do(ctx, http.MethodPost, PathKioskVerify, req, &r)
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

// SubmitFiling files a form. Retrying with the same idempotency key is safe.
func (c *Client) SubmitFiling(ctx context.Context, req *SubmitFilingRequest) (*Filing, error) {
	if err := c.kiosk(); err != nil {
		return nil, err
	}
	var r Filing
	return &r, c.Do(ctx, http.MethodPost, PathKioskFilings, req, &r)
}

// Status lists the token's resident's filings with status and reply.
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

// Login opens a staff session. Use the returned token with WithStaff.
func (c *Client) Login(ctx context.Context, username, password string) (*Session, error) {
	var r Session
	return &r, c.Do(ctx, http.MethodPost, PathSessions, &LoginRequest{Username: username, Password: password}, &r)
}
