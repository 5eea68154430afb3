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

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// handleNonce issues a capture nonce bound to the kiosk, with the quality
// gates of the scanner model when the request names its scanner by a
// certificate that verifies (scannerGates).
func (s *Server) handleNonce(c *fiber.Ctx) error {
	var req apiv1.NonceRequest
	if len(c.Body()) > 0 {
		if err := decode(c, &req); err != nil {
			return err
		}
	}
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
	return c.JSON(apiv1.NonceResponse{Nonce: n[:], ExpiresAt: exp, QualityGates: s.scannerGates(req.ScannerCertificate)})
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
	resp := tokenResponse(out.token, out.resident)
	resp.NewReplies = s.newRepliesOrNone(c.UserContext(), out.resident)
	return c.JSON(resp)
}

// checkToken checks a filing token for this kiosk (without consuming it)
// and returns it with the resident it was issued to, who must be active.
func (s *Server) checkToken(c *fiber.Ctx, token string) (store.FilingToken, store.Resident, error) {
	if token == "" || len(token) > 128 {
		return store.FilingToken{}, store.Resident{}, errf(apiv1.CodeTokenInvalid, "filing token missing")
	}
	k := kioskOf(c)
	ft, err := s.st.CheckFilingToken(c.UserContext(), token, k.ID, s.now())
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExpired) {
		return ft, store.Resident{}, errf(apiv1.CodeTokenInvalid, "the filing token is unknown, expired, used or belongs to another kiosk; verify again")
	} else if err != nil {
		return ft, store.Resident{}, storeErr(err, "filing token")
	}
	res, err := s.activeResident(c, ft.IDNumber)
	return ft, res, err
}

// tokenResident checks a filing token that files for its own resident (an
// issue report) and returns that resident; a token bound to a principal
// (代办) files only the principal's services.
func (s *Server) tokenResident(c *fiber.Ctx, token string) (store.Resident, error) {
	ft, res, err := s.checkToken(c, token)
	if err == nil && ft.PrincipalIDNumber != "" {
		return store.Resident{}, errf(apiv1.CodeAgentTokenBound, "this filing token files for a family member (代办)")
	}
	return res, err
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
	ts, err := s.tokenFor(c, req.Token)
	if err != nil {
		return err
	}
	if err := checkAgentService(ts, svc.AgentAllowed, svc.Code); err != nil {
		return err
	}
	if err := checkEligible(cat, svc.Code, ts.resident, s.now()); err != nil {
		return err
	}
	return c.JSON(apiv1.Form{Service: svc, Values: cat.Prefill(svc.Code, personOf(ts.resident))})
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
	ts, err := s.tokenFor(c, req.Token)
	if err != nil {
		// The retry of a filing whose answer was lost: CreateFiling answers
		// it with the filing of the idempotency key (agent or not).
		ts = tokenSubject{}
		if ts.resident, err = s.retryResident(ctx, k.ID, req.Token, now, err); err != nil {
			return err
		}
		if req.PrincipalID != 0 && req.PrincipalID != ts.resident.ID {
			return errf(apiv1.CodeAgentTokenBound, "the filing token did not file for this resident")
		}
	} else {
		// The kiosk says whom it files for; it must be whom the token
		// files for, so a form shown for one person is never filed for
		// another (a fresh unbound token with a principal's form).
		want := int64(0)
		if ts.agent != nil {
			want = ts.resident.ID
		}
		if req.PrincipalID != want {
			return errf(apiv1.CodeAgentTokenBound, "principal_id is not the resident this filing token files for")
		}
		if err := checkAgentService(ts, svc.AgentAllowed, svc.Code); err != nil {
			return err
		}
	}
	res := ts.resident
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
	nf := store.NewFiling{
		ServiceCode: svc.Code, IDNumber: res.IDNumber, KioskID: k.ID, StationID: k.StationID, Department: svc.Department,
		Form: form, DueAt: now.AddDate(0, 0, svc.DeadlineDays), IdempotencyKey: req.IdempotencyKey, Token: req.Token, CreatedAt: now,
		CatalogueVersion: cat.Version(),
	}
	if ts.agent != nil {
		nf.AgentIDNumber, nf.AgentRelation = ts.agent.IDNumber, ts.relation
	}
	f, created, err := s.st.CreateFiling(ctx, audit.Kiosk(k.ID), nf)
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
	if f.AgentResidentID != 0 {
		out.Agent = &apiv1.AgentSummary{Relation: f.AgentRelation, RelationLabel: apiv1.AgentRelationLabel(f.AgentRelation)}
	}
	if office {
		out.ResidentID = f.ResidentID
		out.ResidentName = residentName
		if len(f.Form) > 0 {
			_ = json.Unmarshal(f.Form, &out.Values)
		}
		if out.Agent != nil {
			// The office sees who filed it: the agent's name, masked ID
			// number, and the principal's recorded relationship.
			out.Agent.ResidentID = f.AgentResidentID
			if a, err := s.st.GetResidentByID(ctx, f.AgentResidentID); err == nil {
				out.Agent.Name, out.Agent.IDNumberMasked = a.Name, identity.MaskIDNumber(a.IDNumber)
			}
			if p, err := s.st.GetResidentByID(ctx, f.ResidentID); err == nil {
				out.Agent.Relationship = p.Relationship
			}
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
	ts, err := s.tokenFor(c, req.Token)
	if err != nil {
		return err
	}
	res := ts.resident
	// The seen time moves on to before the list is read (notice.go).
	readAt := s.now()
	seen, err := s.repliesSeen(c.UserContext(), res.ID)
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
		v.New = seen.isNew(filingAnswered(fs[i]))
		out.Filings = append(out.Filings, v)
	}
	if out.Reports, err = s.residentReports(c.UserContext(), res.IDNumber); err != nil {
		return err
	}
	for i := range out.Reports {
		r := &out.Reports[i]
		r.Rating = rated[r.Reference]
		r.Rateable = r.Rating == 0 && r.RepliedAt != nil
		r.New = seen.isNew(reportAnswered(r.RepliedAt, r.ClosedAt))
	}
	if err := c.JSON(out); err != nil {
		return err
	}
	// Shown: the replies are no longer new at the next visit.
	if err := s.st.MarkRepliesSeen(c.UserContext(), res.ID, readAt); err != nil {
		return storeErr(err, "replies seen")
	}
	return nil
}
