package api

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// handleNonce issues a capture nonce bound to the kiosk.
func (s *Server) handleNonce(c *fiber.Ctx) error {
	k := kioskOf(c)
	var n [32]byte
	if _, err := rand.Read(n[:]); err != nil {
		return err
	}
	now := s.now()
	exp := now.Add(s.cfg.NonceTTL)
	err := s.st.IssueNonce(c.UserContext(), store.Nonce{
		Value: base64.StdEncoding.EncodeToString(n[:]), KioskID: k.ID, Purpose: NoncePurposeCapture, ExpiresAt: exp, CreatedAt: now,
	})
	if err != nil {
		return storeErr(err, "nonce")
	}
	return c.JSON(apiv1.NonceResponse{Nonce: n[:], ExpiresAt: exp})
}

func retrySeconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }

// handleVerify is the card + vein check that opens a filing (the steps are
// verification's).
func (s *Server) handleVerify(c *fiber.Ctx) error {
	var req apiv1.VerifyRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	k := kioskOf(c)
	actor := audit.Kiosk(k.ID)
	if sess := sessionOf(c); sess != nil {
		actor = audit.Staff(sess.staffID)
	}
	out, err := s.newVerification(k, actor).run(c.UserContext(), req)
	if err != nil {
		return s.apiErr(err)
	}
	return c.JSON(tokenResponse(out.token, out.resident))
}

// tokenResident checks a filing token for this kiosk (without consuming it)
// and returns the resident it is bound to.
func (s *Server) tokenResident(c *fiber.Ctx, token string) (store.Resident, error) {
	if token == "" || len(token) > 128 {
		return store.Resident{}, errf(apiv1.CodeTokenInvalid, "filing token missing")
	}
	k := kioskOf(c)
	ft, err := s.st.CheckFilingToken(c.UserContext(), token, k.ID, s.now())
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExpired) {
		return store.Resident{}, errf(apiv1.CodeTokenInvalid, "the filing token is unknown, expired, used or belongs to another kiosk; verify again")
	} else if err != nil {
		return store.Resident{}, storeErr(err, "filing token")
	}
	res, err := s.st.GetResident(c.UserContext(), ft.IDNumber)
	if err != nil {
		return store.Resident{}, storeErr(err, "resident")
	}
	if res.Status == store.ResidentSuspended {
		return store.Resident{}, errf(apiv1.CodeResidentSuspended, "the resident's record is suspended")
	}
	return res, nil
}

func (s *Server) handleForm(c *fiber.Ctx) error {
	var req apiv1.FormRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	cat, err := s.catalogue(c)
	if err != nil {
		return err
	}
	svc, ok := cat.Service(req.Service)
	if !ok {
		return errf(apiv1.CodeServiceUnknown, "no service %q", req.Service)
	}
	if svc.Kind != "" {
		return badRequest("%s has no form: its whole transaction is the card and vein check (POST %s)", svc.Code, apiv1.PathKioskCertify)
	}
	res, err := s.tokenResident(c, req.Token)
	if err != nil {
		return err
	}
	if err := checkEligible(cat, svc.Code, res, s.now()); err != nil {
		return err
	}
	return c.JSON(apiv1.Form{Service: svc, Values: cat.Prefill(svc.Code, personOf(res))})
}

// validIdemKey accepts 16..64 characters of [A-Za-z0-9-_].
func validIdemKey(k string) bool {
	if len(k) < 16 || len(k) > 64 {
		return false
	}
	for i := 0; i < len(k); i++ {
		ch := k[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_') {
			return false
		}
	}
	return true
}

// handleSubmitFiling creates a filing, consuming the token. A retry with the
// same idempotency key returns the first filing (200 instead of 201).
func (s *Server) handleSubmitFiling(c *fiber.Ctx) error {
	k := kioskOf(c)
	ctx := c.UserContext()
	var req apiv1.SubmitFilingRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	if !validIdemKey(req.IdempotencyKey) {
		return badRequest("idempotency_key must be 16..64 characters of A-Z a-z 0-9 - _ (a UUID will do)")
	}
	cat, err := s.catalogue(c)
	if err != nil {
		return err
	}
	svc, ok := cat.Service(req.Service)
	if !ok {
		return errf(apiv1.CodeServiceUnknown, "no service %q", req.Service)
	}
	if svc.Kind != "" {
		return badRequest("%s has no form: its whole transaction is the card and vein check (POST %s)", svc.Code, apiv1.PathKioskCertify)
	}
	now := s.now()
	res, err := s.tokenResident(c, req.Token)
	if err != nil {
		// The retry of a filing whose answer was lost: the token is spent,
		// but we know whose it was.
		sp, ok, serr := s.spent.get(ctx, req.Token, now)
		if serr != nil {
			return storeErr(serr, "spent token")
		}
		if !ok || sp.kioskID != k.ID {
			return err
		}
		res, err = s.st.GetResident(ctx, sp.idNumber)
		if err != nil {
			return storeErr(err, "resident")
		}
	}
	if err := checkEligible(cat, svc.Code, res, now); err != nil {
		return err
	}
	values, bad := cat.ValidateForm(svc.Code, personOf(res), req.Values)
	if bad != nil {
		e := errf(apiv1.CodeFormInvalid, "%d fields need attention", len(bad))
		e.detail.Fields = bad
		return e
	}
	form, err := json.Marshal(values)
	if err != nil {
		return err
	}
	// Remember whose the token is before consuming it: if this process
	// dies after the filing commits and before it answers, the kiosk's
	// retry (on another replica) finds the resident here and CreateFiling
	// returns the filing of the idempotency key, instead of the kiosk
	// being told to verify again and filing twice. A record left by a
	// filing that then fails lets a retry reach CreateFiling only, which
	// checks the token itself.
	if err := s.spent.put(ctx, req.Token, spent{idNumber: res.IDNumber, kioskID: k.ID, exp: now.Add(s.cfg.TokenTTL + time.Hour)}); err != nil {
		return storeErr(err, "spent token")
	}
	f, created, err := s.st.CreateFiling(ctx, audit.Kiosk(k.ID), store.NewFiling{
		ServiceCode: svc.Code, IDNumber: res.IDNumber, KioskID: k.ID, StationID: k.StationID, Department: svc.Department,
		Form: form, DueAt: now.AddDate(0, 0, svc.DeadlineDays), IdempotencyKey: req.IdempotencyKey, Token: req.Token, CreatedAt: now,
		CatalogueVersion: cat.Version(),
	})
	switch {
	case errors.Is(err, store.ErrConflict):
		return errf(apiv1.CodeIdempotencyReuse, "this idempotency key was used for another filing")
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrExpired):
		return errf(apiv1.CodeTokenInvalid, "the filing token is unknown, expired, used or belongs to another kiosk; verify again")
	case err != nil:
		return storeErr(err, "filing")
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		s.metrics.filings.WithLabelValues(svc.Code).Inc()
	}
	return c.Status(status).JSON(s.filingView(ctx, f, false, ""))
}

// filingView converts a store filing for the wire, with its service as it
// was filed and its status in the words of the one status table; back office
// views carry the form values and the resident's name.
func (s *Server) filingView(ctx context.Context, f store.Filing, office bool, residentName string) apiv1.Filing {
	now := s.now()
	svc, _ := s.serviceAt(ctx, f)
	label := apiv1.FilingStatusLabel(string(f.Status))
	out := apiv1.Filing{
		ID: f.ID, Reference: f.Reference, Service: f.ServiceCode, ServiceName: svc.Name, Department: f.Department,
		Status: string(f.Status), StatusLabel: label.ZH, StatusLabelEN: label.EN, CatalogueVersion: f.CatalogueVersion,
		SubmittedAt: f.CreatedAt, DueAt: f.DueAt, DecidedAt: f.ClosedAt, Reply: f.Reply,
		KioskID: f.KioskID, Overdue: !f.Status.Closed() && now.After(f.DueAt),
	}
	if office {
		out.ResidentID = f.ResidentID
		out.ResidentName = residentName
		if len(f.Form) > 0 {
			_ = json.Unmarshal(f.Form, &out.Values)
		}
	}
	return out
}

// handleStatus lists the resident's filings with status and reply.
func (s *Server) handleStatus(c *fiber.Ctx) error {
	var req apiv1.StatusRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	res, err := s.tokenResident(c, req.Token)
	if err != nil {
		return err
	}
	fs, err := s.st.ListFilings(c.UserContext(), store.FilingFilter{IDNumber: res.IDNumber, Limit: 100})
	if err != nil {
		return storeErr(err, "filings")
	}
	rated, err := s.residentRatings(c.UserContext(), res.IDNumber)
	if err != nil {
		return err
	}
	out := apiv1.FilingList{Filings: make([]apiv1.Filing, 0, len(fs))}
	for i := len(fs) - 1; i >= 0; i-- { // newest first
		v := s.filingView(c.UserContext(), fs[i], false, "")
		v.Rating = rated[v.Reference]
		v.Rateable = v.Rating == 0 && fs[i].Status.Closed()
		out.Filings = append(out.Filings, v)
	}
	if out.Reports, err = s.residentReports(c.UserContext(), res.IDNumber); err != nil {
		return err
	}
	for i := range out.Reports {
		r := &out.Reports[i]
		r.Rating = rated[r.Reference]
		r.Rateable = r.Rating == 0 && r.RepliedAt != nil
	}
	return c.JSON(out)
}
