package api

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/password"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

func (s *Server) handleCreateStation(c *fiber.Ctx) error {
	var req apiv1.Station
	if err := decode(c, &req); err != nil {
		return err
	}
	if !apiv1.ValidKioskID(req.ID) || req.Name == "" {
		return badRequest("station id (letters, digits, . - _) and name are required")
	}
	st, err := s.st.CreateStation(c.UserContext(), staffActor(c), store.Station{ID: req.ID, Name: req.Name, Address: req.Address})
	if err != nil {
		return storeErr(err, "station")
	}
	return c.Status(http.StatusCreated).JSON(apiv1.Station{ID: st.ID, Name: st.Name, Address: st.Address})
}

func (s *Server) handleListStations(c *fiber.Ctx) error {
	sts, err := s.st.ListStations(c.UserContext())
	if err != nil {
		return storeErr(err, "stations")
	}
	out := apiv1.StationList{Stations: []apiv1.Station{}}
	for _, st := range sts {
		out.Stations = append(out.Stations, apiv1.Station{ID: st.ID, Name: st.Name, Address: st.Address})
	}
	return c.JSON(out)
}

func kioskView(k store.Kiosk) apiv1.Kiosk {
	return apiv1.Kiosk{ID: k.ID, Station: k.StationID, Name: k.Name, PublicKey: k.PublicKey, Status: string(k.Status), RegisteredAt: k.CreatedAt}
}

func (s *Server) handleCreateKiosk(c *fiber.Ctx) error {
	var req apiv1.KioskRegistration
	if err := decode(c, &req); err != nil {
		return err
	}
	if !apiv1.ValidKioskID(req.ID) {
		return badRequest("kiosk id must be 1..64 of letters, digits, . - _")
	}
	if len(req.PublicKey) != ed25519.PublicKeySize {
		return badRequest("public_key must be a 32-byte Ed25519 key (base64)")
	}
	if req.Station == "" {
		return badRequest("station is required")
	}
	k, err := s.st.CreateKiosk(c.UserContext(), staffActor(c), store.Kiosk{
		ID: req.ID, StationID: req.Station, Name: req.Name, PublicKey: ed25519.PublicKey(req.PublicKey), Status: store.DeviceActive,
	})
	if err != nil {
		return storeErr(err, "kiosk")
	}
	return c.Status(http.StatusCreated).JSON(kioskView(k))
}

func (s *Server) handleListKiosks(c *fiber.Ctx) error {
	ks, err := s.st.ListKiosks(c.UserContext(), c.Query("station"))
	if err != nil {
		return storeErr(err, "kiosks")
	}
	out := apiv1.KioskList{Kiosks: []apiv1.Kiosk{}}
	for _, k := range ks {
		out.Kiosks = append(out.Kiosks, kioskView(k))
	}
	return c.JSON(out)
}

func deviceStatus(c *fiber.Ctx) (store.DeviceStatus, error) {
	var req apiv1.StatusChange
	if err := decode(c, &req); err != nil {
		return "", err
	}
	switch st := store.DeviceStatus(req.Status); st {
	case store.DeviceActive, store.DeviceRevoked:
		return st, nil
	}
	return "", badRequest("status must be active or revoked")
}

func (s *Server) handleKioskStatus(c *fiber.Ctx) error {
	st, err := deviceStatus(c)
	if err != nil {
		return err
	}
	id := c.Params("id")
	if err := s.st.SetKioskStatus(c.UserContext(), staffActor(c), id, st); err != nil {
		return storeErr(err, "kiosk")
	}
	s.kiosks.drop(id)
	k, err := s.st.GetKiosk(c.UserContext(), id)
	if err != nil {
		return storeErr(err, "kiosk")
	}
	return c.JSON(kioskView(k))
}

func (s *Server) handleAddMaker(c *fiber.Ctx) error {
	var req apiv1.Maker
	if err := decode(c, &req); err != nil {
		return err
	}
	now := s.now()
	created, err := s.makers.Add(req.ID, req.Name, ed25519.PublicKey(req.PublicKey), now)
	if errors.Is(err, errMakerKeyChange) {
		return errf(apiv1.CodeConflict, "%v", err)
	} else if err != nil {
		return badRequest("%v", err)
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		if err := s.audit(c.UserContext(), staffActor(c), "maker.trust", "maker:"+req.ID, nil); err != nil {
			return err
		}
	}
	return c.Status(status).JSON(apiv1.Maker{ID: req.ID, Name: req.Name, PublicKey: req.PublicKey, AddedAt: now})
}

func (s *Server) handleListMakers(c *fiber.Ctx) error {
	out := apiv1.MakerList{Makers: []apiv1.Maker{}}
	for _, m := range s.makers.list() {
		out.Makers = append(out.Makers, apiv1.Maker{ID: m.id, Name: m.name, PublicKey: m.pub, AddedAt: m.added})
	}
	return c.JSON(out)
}

func scannerView(sc store.Scanner) apiv1.Scanner {
	return apiv1.Scanner{Serial: sc.Serial, Model: sc.Model, MakerID: sc.MakerID, KioskID: sc.KioskID, Status: string(sc.Status), Counter: sc.Counter, PublicKey: sc.PublicKey}
}

func (s *Server) handleListScanners(c *fiber.Ctx) error {
	scs, err := s.st.ListScanners(c.UserContext())
	if err != nil {
		return storeErr(err, "scanners")
	}
	out := apiv1.ScannerList{Scanners: []apiv1.Scanner{}}
	for _, sc := range scs {
		v := scannerView(sc)
		v.Calibration = s.calibrationOf(sc.Model)
		out.Scanners = append(out.Scanners, v)
	}
	return c.JSON(out)
}

func (s *Server) handleScannerStatus(c *fiber.Ctx) error {
	st, err := deviceStatus(c)
	if err != nil {
		return err
	}
	serial := c.Params("serial")
	if err := s.st.SetScannerStatus(c.UserContext(), staffActor(c), serial, st); err != nil {
		return storeErr(err, "scanner")
	}
	sc, err := s.st.GetScanner(c.UserContext(), serial)
	if err != nil {
		return storeErr(err, "scanner")
	}
	return c.JSON(scannerView(sc))
}

func staffView(st store.Staff) apiv1.Staff {
	return apiv1.Staff{ID: st.ID, Username: st.Username, DisplayName: st.DisplayName, Role: string(st.Role), Department: st.Department, Station: st.StationID, GridCell: st.GridCell, Disabled: st.Disabled}
}

func (s *Server) handleCreateStaff(c *fiber.Ctx) error {
	var req apiv1.StaffCreate
	if err := decode(c, &req); err != nil {
		return err
	}
	role := store.Role(req.Role)
	req.Username = identity.CanonicalUsername(req.Username)
	switch {
	case !role.Valid():
		return badRequest("role must be station_staff, supervisor, department_officer, admin or grid_worker")
	case (role == store.RoleGridWorker) != (req.GridCell != "") || len(req.GridCell) > 32:
		return badRequest("a grid_worker needs a grid_cell (1..32 characters), and only a grid_worker has one")
	case !apiv1.ValidKioskID(req.Username):
		return badRequest("username must be 1..64 of letters, digits, . - _")
	case utf8.RuneCountInString(req.Password) < 12:
		return badRequest("password of at least 12 characters")
	case role == store.RoleDepartmentOfficer && !s.knownUnit(c, req.Department) && !s.isReportUnit(req.Department):
		return badRequest("a department_officer needs a department: a unit of the catalogue in force (civil_affairs, ageing, disability, hrss, health, housing, justice, community) or of the issue reports (urban_management, heating, ecology, police, market)")
	}
	hash, err := password.Hash(req.Password)
	if err != nil {
		return badRequest("%v", err)
	}
	st, err := s.st.CreateStaff(c.UserContext(), staffActor(c), store.Staff{
		Username: req.Username, DisplayName: req.DisplayName, Role: role, Department: req.Department, StationID: req.Station, GridCell: req.GridCell, PasswordHash: hash,
	})
	if errors.Is(err, store.ErrAlreadyExists) {
		return errf(apiv1.CodeConflict, "username %q is taken", req.Username)
	} else if err != nil {
		return storeErr(err, "staff")
	}
	return c.Status(http.StatusCreated).JSON(staffView(st))
}

func (s *Server) handleListStaff(c *fiber.Ctx) error {
	sts, err := s.st.ListStaff(c.UserContext())
	if err != nil {
		return storeErr(err, "staff")
	}
	out := apiv1.StaffList{Staff: []apiv1.Staff{}}
	for _, st := range sts {
		out.Staff = append(out.Staff, staffView(st))
	}
	return c.JSON(out)
}

func (s *Server) handleDisableStaff(c *fiber.Ctx) error {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil {
		return badRequest("staff id must be an integer")
	}
	var req struct {
		Disabled bool `json:"disabled"`
	}
	if err := decode(c, &req); err != nil {
		return err
	}
	st, err := s.st.GetStaff(c.UserContext(), id)
	if err != nil {
		return storeErr(err, "staff")
	}
	st.Disabled = req.Disabled
	st, err = s.st.UpdateStaff(c.UserContext(), staffActor(c), st)
	if err != nil {
		return storeErr(err, "staff")
	}
	if st.Disabled {
		if err := s.sessions.closeStaff(c.UserContext(), id); err != nil {
			return storeErr(err, "sessions")
		}
	}
	return c.JSON(staffView(st))
}

// residentFromWire converts and validates an imported resident.
func residentFromWire(r apiv1.Resident) (store.Resident, error) {
	idn, err := identity.ParseIDNumber(r.IDNumber)
	if err != nil {
		return store.Resident{}, fmt.Errorf("ID number not valid (%s)", idProblem(err))
	}
	if r.Name == "" {
		return store.Resident{}, errors.New("name is required")
	}
	out := store.Resident{IDNumber: string(idn), Name: r.Name, Gender: r.Gender, Address: r.Address, GridCell: r.GridCell, Household: r.Household, Categories: r.Categories, Status: store.ResidentStatus(r.Status), BirthDate: idn.Birth().Time(),
		Relationship: r.Relationship}
	if r.GuardianIDNumber != "" {
		g, err := identity.ParseIDNumber(r.GuardianIDNumber)
		if err != nil {
			return store.Resident{}, fmt.Errorf("guardian_id_number not valid (%s)", idProblem(err))
		}
		if g == idn {
			return store.Resident{}, errors.New("guardian_id_number is the resident's own")
		}
		out.GuardianIDNumber = string(g)
	}
	if out.Gender == "" {
		out.Gender = idn.Gender().Letter()
	}
	if r.BirthDate != "" {
		if b, err := identity.ParseDate(r.BirthDate); err != nil || b != idn.Birth() {
			return store.Resident{}, errors.New("birth_date does not match the ID number")
		}
	}
	return out, nil
}

func (s *Server) handleImportResidents(c *fiber.Ctx) error {
	var req apiv1.ResidentImport
	if err := decode(c, &req); err != nil {
		return err
	}
	if len(req.Residents) == 0 || len(req.Residents) > 5000 {
		return badRequest("import 1..5000 residents per request")
	}
	rs := make([]store.Resident, 0, len(req.Residents))
	bad := map[string]string{}
	for i, r := range req.Residents {
		sr, err := residentFromWire(r)
		if err != nil {
			bad[fmt.Sprintf("residents[%d]", i)] = err.Error()
			continue
		}
		rs = append(rs, sr)
	}
	if len(bad) > 0 {
		e := badRequest("%d residents are not valid", len(bad))
		e.detail.Fields = bad
		return e
	}
	stats, err := s.st.ImportResidents(c.UserContext(), staffActor(c), rs)
	if err != nil {
		return storeErr(err, "residents")
	}
	return c.JSON(apiv1.ImportResult{Inserted: stats.Inserted, Updated: stats.Updated, Unchanged: stats.Unchanged})
}

func (s *Server) handleResidentStatus(c *fiber.Ctx) error {
	var req apiv1.ResidentStatusChange
	if err := decode(c, &req); err != nil {
		return err
	}
	st := store.ResidentStatus(req.Status)
	if st != store.ResidentActive && st != store.ResidentSuspended {
		return badRequest("status must be active or suspended")
	}
	if err := s.st.SetResidentStatus(c.UserContext(), staffActor(c), req.IDNumber, st, req.Reason); err != nil {
		return storeErr(err, "resident")
	}
	return c.SendStatus(http.StatusNoContent)
}

func (s *Server) handleDeleteEnrolment(c *fiber.Ctx) error {
	var req apiv1.EnrolmentDeletion
	if err := decode(c, &req); err != nil {
		return err
	}
	if req.Reason == "" {
		return badRequest("a reason is required")
	}
	res, err := s.st.GetResident(c.UserContext(), req.IDNumber)
	if err != nil {
		return storeErr(err, "resident")
	}
	if _, err := s.st.DeleteEnrolments(c.UserContext(), staffActor(c), req.IDNumber, req.Reason); err != nil {
		return storeErr(err, "enrolments")
	}
	s.gallery.Remove(res.ID)
	return c.SendStatus(http.StatusNoContent)
}

// handleAuditVerify checks the audit chain (audit.Verify: every link and
// the head) and, when it is intact, reconciles the business tables with it
// (audit.Reconcile).
//
// With anchoring on (Config.AuditAnchorer), the chain is also checked
// against this server's anchor file: a line that does not verify, or a
// chain that contradicts an anchor (rewritten or truncated), is reported.
func (s *Server) handleAuditVerify(c *fiber.Ctx) error {
	ctx := c.UserContext()
	anchors, err := s.anchors()
	if err != nil {
		if errors.Is(err, audit.ErrAnchor) {
			return c.JSON(apiv1.AuditVerifyResult{OK: false, Error: err.Error()})
		}
		return storeErr(err, "audit anchors")
	}
	var last string
	if len(anchors) > 0 {
		last = anchors[len(anchors)-1].String()
	}
	rep, err := audit.Verify(ctx, s.st, audit.VerifyOptions{PageSize: 1000, Signed: anchors})
	var ce *audit.ChainError
	switch {
	case errors.As(err, &ce):
		return c.JSON(apiv1.AuditVerifyResult{OK: false, Records: rep.Records, Error: ce.Error(), Anchors: len(anchors), LastAnchor: last})
	case err != nil:
		return storeErr(err, "audit")
	}
	rec, err := audit.Reconcile(ctx, s.st, s.st)
	if err != nil {
		return storeErr(err, "audit reconciliation")
	}
	out := apiv1.AuditVerifyResult{OK: len(rec.Findings) == 0, Records: rep.Records, Anchors: len(anchors), LastAnchor: last}
	for _, f := range rec.Findings {
		out.Unexplained = append(out.Unexplained, f.String())
	}
	if !out.OK {
		out.Error = fmt.Sprintf("%d rows of the business tables are not explained by the audit chain", len(rec.Findings))
	}
	return c.JSON(out)
}
