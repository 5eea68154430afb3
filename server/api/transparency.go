package api

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/catalogue"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// 低保 transparency (docs/transparency.md): the quarterly deliberation
// meetings' records, attached to the filings they decided, are required
// before a deliberation service's filing is approved; the approved filings
// of a station's quarter are publicly noticed with the applicants' ID
// numbers masked by identity.MaskIDNumber, the one masking rule.

var quarterPattern = regexp.MustCompile(`^\d{4}Q[1-4]$`)

// quarterOf is the quarter ("2026Q3") of t in China time.
func quarterOf(t time.Time) string {
	c := t.In(identity.ChinaTime)
	return strconv.Itoa(c.Year()) + "Q" + strconv.Itoa((int(c.Month())+2)/3)
}

// deliberationUnit reports whether unit processes a deliberation service
// in cat: its officers keep the meetings' records.
func deliberationUnit(cat *catalogue.Catalogue, unit string) bool {
	for _, svc := range cat.Services() {
		if svc.Deliberation && svc.Department == unit {
			return true
		}
	}
	return false
}

// meetingKeeper refuses anyone but an officer of a unit that processes a
// deliberation service (民政: civil-affairs officers).
func (s *Server) meetingKeeper(c *fiber.Ctx) error {
	sess := sessionOf(c)
	cat, err := s.catalogue(c)
	if err != nil {
		return err
	}
	if sess.role != store.RoleDepartmentOfficer || !deliberationUnit(cat, sess.department) {
		return errf(apiv1.CodeForbidden, "only officers of a unit that decides deliberation services keep the meetings' records")
	}
	return nil
}

// meetingReader refuses an officer of a unit that decides no deliberation
// service: the minutes and members are personal data of the households
// discussed, read by the records' keepers, supervisors and administrators
// only (the routes admit no other role).
func (s *Server) meetingReader(c *fiber.Ctx) error {
	sess := sessionOf(c)
	if sess.role != store.RoleDepartmentOfficer {
		return nil
	}
	cat, err := s.catalogue(c)
	if err != nil {
		return err
	}
	if !deliberationUnit(cat, sess.department) {
		return errf(apiv1.CodeForbidden, "only officers of a unit that decides deliberation services, supervisors and administrators read the meetings' records")
	}
	return nil
}

func (s *Server) meetingView(ctx context.Context, m store.Meeting) (apiv1.Meeting, error) {
	out := apiv1.Meeting{ID: m.ID, StationID: m.StationID, Quarter: m.Quarter, HeldOn: m.HeldOn, Members: m.Members, Minutes: m.Minutes,
		Filings: make([]string, 0, len(m.FilingIDs)), CreatedBy: m.CreatedBy.String(), CreatedAt: m.CreatedAt}
	for _, id := range m.FilingIDs {
		f, err := s.st.GetFiling(ctx, id)
		if err != nil {
			return out, storeErr(err, "filing")
		}
		out.Filings = append(out.Filings, f.Reference)
	}
	return out, nil
}

// meetingFilings resolves references to filings a meeting may decide: of a
// deliberation service, at the meeting's station; an officer's own unit's.
func (s *Server) meetingFilings(c *fiber.Ctx, station string, refs []string) ([]int64, error) {
	if len(refs) == 0 || len(refs) > 500 {
		return nil, badRequest("filings: 1..500 references")
	}
	ctx, sess := c.UserContext(), sessionOf(c)
	var ids []int64
	for _, ref := range refs {
		fs, err := s.st.ListFilings(ctx, store.FilingFilter{Reference: ref, Limit: 1})
		if err != nil {
			return nil, storeErr(err, "filing")
		}
		if len(fs) == 0 || (sess.role == store.RoleDepartmentOfficer && fs[0].Department != sess.department) {
			return nil, errf(apiv1.CodeFilingNotFound, "no filing %q", ref)
		}
		f := fs[0]
		if !s.deliberationService(ctx, f) {
			return nil, badRequest("filing %s is not of a service decided by a deliberation meeting", ref)
		}
		if f.StationID != station {
			return nil, badRequest("filing %s was filed at another station than the meeting's", ref)
		}
		ids = append(ids, f.ID)
	}
	return ids, nil
}

func attachErr(err error) error {
	switch {
	case errors.Is(err, store.ErrConflict):
		return errf(apiv1.CodeMeetingConflict, "a filing is attached to another meeting already")
	case errors.Is(err, store.ErrNotFound):
		return errf(apiv1.CodeMeetingNotFound, "no such meeting")
	}
	return storeErr(err, "meeting")
}

// createMeeting records a meeting and attaches its filings (both audited).
func (s *Server) createMeeting(c *fiber.Ctx, req apiv1.MeetingCreate) (store.Meeting, error) {
	if err := s.meetingKeeper(c); err != nil {
		return store.Meeting{}, err
	}
	if !quarterPattern.MatchString(req.Quarter) {
		return store.Meeting{}, badRequest("quarter must be YYYYQn, e.g. 2026Q3")
	}
	var ids []int64
	if len(req.Filings) > 0 {
		var err error
		if ids, err = s.meetingFilings(c, req.StationID, req.Filings); err != nil {
			return store.Meeting{}, err
		}
	}
	m, err := s.st.CreateMeeting(c.UserContext(), staffActor(c), store.NewMeeting{StationID: req.StationID, Quarter: req.Quarter,
		HeldOn: req.HeldOn, Members: req.Members, Minutes: req.Minutes})
	if errors.Is(err, store.ErrNotFound) {
		return m, badRequest("no station %q", req.StationID)
	} else if err != nil {
		return m, storeErr(err, "meeting")
	}
	if len(ids) > 0 {
		m, err = s.st.AttachFilings(c.UserContext(), staffActor(c), m.ID, ids)
		if err != nil {
			return m, attachErr(err)
		}
	}
	return m, nil
}

func (s *Server) handleCreateMeeting(c *fiber.Ctx) error {
	var req apiv1.MeetingCreate
	if err := decode(c, &req); err != nil {
		return err
	}
	m, err := s.createMeeting(c, req)
	if err != nil {
		return err
	}
	out, err := s.meetingView(c.UserContext(), m)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(out)
}

func (s *Server) handleListMeetings(c *fiber.Ctx) error {
	if err := s.meetingReader(c); err != nil {
		return err
	}
	q := c.Query("quarter")
	if q != "" && !quarterPattern.MatchString(q) {
		return badRequest("quarter must be YYYYQn")
	}
	ms, err := s.st.ListMeetings(c.UserContext(), store.MeetingFilter{StationID: c.Query("station"), Quarter: q, Limit: 200})
	if err != nil {
		return storeErr(err, "meetings")
	}
	out := apiv1.MeetingList{Meetings: make([]apiv1.Meeting, 0, len(ms))}
	for _, m := range ms {
		v, err := s.meetingView(c.UserContext(), m)
		if err != nil {
			return err
		}
		out.Meetings = append(out.Meetings, v)
	}
	return c.JSON(out)
}

// meetingParam is the meeting the route names, for a reader of the
// records (meetingReader).
func (s *Server) meetingParam(c *fiber.Ctx) (store.Meeting, error) {
	if err := s.meetingReader(c); err != nil {
		return store.Meeting{}, err
	}
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || id <= 0 {
		return store.Meeting{}, badRequest("meeting id must be a positive integer")
	}
	m, err := s.st.GetMeeting(c.UserContext(), id)
	if errors.Is(err, store.ErrNotFound) {
		return m, errf(apiv1.CodeMeetingNotFound, "no meeting %d", id)
	}
	return m, storeErr(err, "meeting")
}

func (s *Server) handleGetMeeting(c *fiber.Ctx) error {
	m, err := s.meetingParam(c)
	if err != nil {
		return err
	}
	out, err := s.meetingView(c.UserContext(), m)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (s *Server) attachMeeting(c *fiber.Ctx, m store.Meeting, refs []string) (store.Meeting, error) {
	if err := s.meetingKeeper(c); err != nil {
		return m, err
	}
	ids, err := s.meetingFilings(c, m.StationID, refs)
	if err != nil {
		return m, err
	}
	m, err = s.st.AttachFilings(c.UserContext(), staffActor(c), m.ID, ids)
	if err != nil {
		return m, attachErr(err)
	}
	return m, nil
}

func (s *Server) handleAttachMeeting(c *fiber.Ctx) error {
	m, err := s.meetingParam(c)
	if err != nil {
		return err
	}
	var req apiv1.MeetingAttach
	if err := decode(c, &req); err != nil {
		return err
	}
	if m, err = s.attachMeeting(c, m, req.Filings); err != nil {
		return err
	}
	out, err := s.meetingView(c.UserContext(), m)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

// deliberationService reports whether f's service is decided by a
// deliberation meeting: under the catalogue it was filed under or under the
// one in force (a flag added later applies to filings still undecided).
func (s *Server) deliberationService(ctx context.Context, f store.Filing) bool {
	if svc, _ := s.serviceAt(ctx, f); svc.Deliberation {
		return true
	}
	if cat, err := s.cats.current(ctx, s.now()); err == nil {
		if svc, ok := cat.Service(f.ServiceCode); ok && svc.Deliberation {
			return true
		}
	}
	return false
}

// checkDeliberation refuses to approve a deliberation service's filing that
// no meeting's record is attached to.
func (s *Server) checkDeliberation(ctx context.Context, f store.Filing, to store.FilingStatus) error {
	if to != store.FilingAccepted {
		return nil
	}
	if !s.deliberationService(ctx, f) {
		return nil
	}
	_, err := s.st.FilingMeeting(ctx, f.ID)
	if errors.Is(err, store.ErrNotFound) {
		return errf(apiv1.CodeDeliberationRequired, "filing %s is approved only with the record of the deliberation meeting that decided it attached", f.Reference)
	}
	return storeErr(err, "meeting")
}

// ---- the public notice (公示) ----

// notice builds the public notice of a station's quarter: every approved
// filing of a deliberation service attached to one of its meetings.
func (s *Server) notice(ctx context.Context, station, quarter string) (apiv1.DibaoNotice, error) {
	out := apiv1.DibaoNotice{StationID: station, Quarter: quarter, Meetings: []string{}, Entries: []apiv1.NoticeEntry{}}
	if !quarterPattern.MatchString(quarter) || station == "" {
		return out, badRequest("station and quarter (YYYYQn) are required")
	}
	sts, err := s.st.ListStations(ctx)
	if err != nil {
		return out, storeErr(err, "stations")
	}
	i := slices.IndexFunc(sts, func(st store.Station) bool { return st.ID == station })
	if i < 0 {
		return out, errf(apiv1.CodeNotFound, "no station %q", station)
	}
	out.StationName = sts[i].Name
	ms, err := s.st.ListMeetings(ctx, store.MeetingFilter{StationID: station, Quarter: quarter, Limit: 1000})
	if err != nil {
		return out, storeErr(err, "meetings")
	}
	slices.Reverse(ms) // oldest meeting first
	for _, m := range ms {
		out.Meetings = append(out.Meetings, m.HeldOn)
		for _, id := range m.FilingIDs {
			f, err := s.st.GetFiling(ctx, id)
			if err != nil {
				return out, storeErr(err, "filing")
			}
			svc, _ := s.serviceAt(ctx, f)
			if f.Status != store.FilingAccepted || f.ClosedAt == nil || !s.deliberationService(ctx, f) {
				continue
			}
			var values map[string]any
			_ = json.Unmarshal(f.Form, &values)
			e := apiv1.NoticeEntry{Reference: f.Reference, Service: svc.Code, ServiceName: svc.Name,
				MaskedID:   identity.MaskIDNumber(identity.CanonicalIDNumber(f.IDNumber)),
				ApprovedOn: f.ClosedAt.In(identity.ChinaTime).Format(time.DateOnly), MeetingOn: m.HeldOn}
			if v, ok := values["household_size"]; ok {
				switch v := v.(type) {
				case string:
					e.HouseholdSize = v
				case float64:
					e.HouseholdSize = strconv.FormatFloat(v, 'f', -1, 64)
				}
			}
			out.Entries = append(out.Entries, e)
		}
	}
	return out, nil
}

func (s *Server) handleNotice(c *fiber.Ctx) error {
	n, err := s.notice(c.UserContext(), c.Query("station"), c.Query("quarter"))
	if err != nil {
		return err
	}
	return c.JSON(n)
}

// ---- residents' ratings (好差评) ----

// handleKioskRate records the token's resident's rating of one of their
// answered filings or reports (the token is not consumed).
func (s *Server) handleKioskRate(c *fiber.Ctx) error {
	var req apiv1.RatingRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	if req.Score < apiv1.RatingVeryDissatisfied || req.Score > apiv1.RatingVerySatisfied {
		return badRequest("score must be 1..5")
	}
	if len(req.Reasons) > len(apiv1.RatingReasons) {
		return badRequest("too many reasons")
	}
	for _, r := range req.Reasons {
		if !apiv1.ValidRatingReason(r) {
			return badRequest("unknown reason %q", r)
		}
	}
	res, err := s.tokenResident(c, req.Token)
	if err != nil {
		return err
	}
	k := kioskOf(c)
	g, err := s.st.Rate(c.UserContext(), audit.Kiosk(k.ID), store.NewRating{IDNumber: res.IDNumber, Reference: req.Reference,
		Score: req.Score, Reasons: req.Reasons, KioskID: k.ID})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errf(apiv1.CodeRatingNotFound, "no filing or report %q of this resident", req.Reference)
	case errors.Is(err, store.ErrConflict):
		return errf(apiv1.CodeNotAnswered, "%s has no answer to rate yet", req.Reference)
	case errors.Is(err, store.ErrAlreadyExists):
		return errf(apiv1.CodeAlreadyRated, "%s was rated already", req.Reference)
	case err != nil:
		return storeErr(err, "rating")
	}
	return c.Status(fiber.StatusCreated).JSON(apiv1.Rating{Reference: g.Reference, Item: g.Item, Score: g.Score, Reasons: g.Reasons, CreatedAt: g.CreatedAt})
}

// residentRatings maps the resident's rated references to their scores.
func (s *Server) residentRatings(ctx context.Context, idNumber string) (map[string]int, error) {
	gs, err := s.st.ResidentRatings(ctx, idNumber)
	if err != nil {
		return nil, storeErr(err, "ratings")
	}
	out := make(map[string]int, len(gs))
	for _, g := range gs {
		out[g.Reference] = g.Score
	}
	return out, nil
}
