package api

import (
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/catalogue"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// auth is how a route authenticates.
type auth int

const (
	authNone       auth = iota // public (health, metrics, OpenAPI, login)
	authKiosk                  // Ed25519-signed kiosk request
	authKioskStaff             // signed kiosk request + staff bearer session
	authStaff                  // staff bearer session
	authOffice                 // back-office page: session cookie
)

// route is one endpoint: the single table the app is built from and the
// OpenAPI document is generated from.
type route struct {
	method, path string
	auth         auth
	roles        []store.Role
	limit        int // body limit; 0: the group's default
	summary      string
	req, resp    any // JSON types for the document (nil: none)
	status       int // success status; 0: 200
	html         bool
	produces     []string // media types of a non-JSON success body (beside JSON when resp is set)
	h            fiber.Handler
}

var (
	anyStaff   []store.Role
	supervisor = []store.Role{store.RoleSupervisor, store.RoleAdmin}
	admin      = []store.Role{store.RoleAdmin}
	officers   = []store.Role{store.RoleDepartmentOfficer, store.RoleSupervisor, store.RoleAdmin}
	station    = []store.Role{store.RoleStationStaff}
	// eligibilityRoles see residents' eligibility (the grid worker's lists
	// are handed out by the station).
	eligibilityRoles = []store.Role{store.RoleStationStaff, store.RoleSupervisor, store.RoleAdmin}
	// reportReaders read residents' issue reports, each in its scope
	// (reportScope, scopedReport); a grid worker's account is for the
	// residents of one cell and reads none.
	reportReaders = []store.Role{store.RoleStationStaff, store.RoleDepartmentOfficer, store.RoleSupervisor, store.RoleAdmin}
)

func (s *Server) routeTable() []route {
	return []route{
		{method: "GET", path: "/healthz", summary: "Liveness: the process answers.", h: s.handleHealth},
		{method: "GET", path: "/readyz", summary: "Readiness: the gallery is loaded and not stale (it follows the change log within its bound), and the database answers.", h: s.handleReady},
		{method: "GET", path: "/metrics", summary: "Prometheus metrics.", h: adaptor.HTTPHandler(promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))},
		{method: "GET", path: apiv1.PathOpenAPI, summary: "This OpenAPI 3 document.", h: s.handleOpenAPI},

		{method: "POST", path: apiv1.PathSessions, summary: "Staff login (username, password); returns a bearer token.", req: apiv1.LoginRequest{}, resp: apiv1.Session{}, status: 201, h: s.handleLogin},
		{method: "GET", path: apiv1.PathSessionCurrent, auth: authStaff, roles: anyStaff, summary: "The current staff session.", resp: apiv1.Session{}, h: s.handleSessionCurrent},
		{method: "PUT", path: apiv1.PathSessionPIN, auth: authStaff, roles: []store.Role{store.RoleStationStaff, store.RoleSupervisor}, summary: "Set one's own kiosk PIN (6 digits, not one digit repeated nor a run), confirmed with one's password; audited.", req: apiv1.PINChange{}, status: 204, h: s.handleSetOwnPIN},
		{method: "DELETE", path: apiv1.PathSessionCurrent, auth: authStaff, roles: anyStaff, summary: "Log out.", status: 204, h: s.handleLogout},

		{method: "POST", path: apiv1.PathKioskNonce, auth: authKiosk, summary: "A fresh 32-byte capture nonce for the scanner to sign; with the scanner's device certificate (optional), the quality gates of its model, for the kiosk's retake prompts.", req: apiv1.NonceRequest{}, resp: apiv1.NonceResponse{}, h: s.handleNonce},
		{method: "POST", path: apiv1.PathKioskVerify, auth: authKiosk, summary: "Card + vein verification; returns a single-use filing token.", req: apiv1.VerifyRequest{}, resp: apiv1.VerifyResponse{}, h: s.handleVerify},
		{method: "POST", path: apiv1.PathKioskEnrolmentCheck, auth: authKiosk, summary: "Before the finger: whether the card's holder is enrolled, with which fingers, and the ID number's lock state (audited).", req: apiv1.EnrolmentCheckRequest{}, resp: apiv1.EnrolmentCheck{}, h: s.handleEnrolmentCheck},
		{method: "GET", path: apiv1.PathKioskServices, auth: authKiosk, summary: "The catalogue of services.", resp: apiv1.ServiceList{}, h: s.handleServices},
		{method: "POST", path: apiv1.PathKioskAgent, auth: authKiosk, summary: "Filing for a family member (代办): bind the agent's filing token to the principal whose card the kiosk read, when the population data has them in one household (or the agent as guardian) and the principal is old enough or disabled (audited).", req: apiv1.AgentRequest{}, resp: apiv1.AgentResponse{}, h: s.handleAgent},
		{method: "POST", path: apiv1.PathKioskEligible, auth: authKiosk, summary: "The services the token's resident may file (the catalogue's eligibility rules); the kiosk offers only these.", req: apiv1.EligibleRequest{}, resp: apiv1.ServiceList{}, h: s.handleEligibleServices},
		{method: "POST", path: apiv1.PathKioskForm, auth: authKiosk, summary: "A service's form pre-filled from the token's resident.", req: apiv1.FormRequest{}, resp: apiv1.Form{}, h: s.handleForm},
		{method: "POST", path: apiv1.PathKioskFilings, auth: authKiosk, summary: "Submit a filing (idempotent by key; consumes the token).", req: apiv1.SubmitFilingRequest{}, resp: apiv1.Filing{}, status: 201, h: s.handleSubmitFiling},
		{method: "POST", path: apiv1.PathKioskStatus, auth: authKiosk, summary: "The token's resident's filings with status and reply.", req: apiv1.StatusRequest{}, resp: apiv1.FilingList{}, h: s.handleStatus},
		{method: "POST", path: apiv1.PathKioskAssist, auth: authKiosk, summary: "Call the station's staff to this kiosk (呼叫工作人员; audited; one call per kiosk per 30 s, 202 when already called).", req: apiv1.AssistRequest{}, resp: apiv1.AssistCall{}, status: 201, h: s.handleKioskAssist},
		{method: "GET", path: apiv1.PathKioskReportKinds, auth: authKiosk, summary: "The kinds of residents' issue reports and the units they go to.", resp: apiv1.ReportKindList{}, h: s.handleReportKinds},
		{method: "POST", path: apiv1.PathKioskReports, auth: authKiosk, limit: reportBodyLimit, summary: "File an issue report after card + vein (idempotent by key; consumes the token); optional JPEG/PNG photo.", req: apiv1.SubmitReportRequest{}, resp: apiv1.Report{}, status: 201, h: s.handleKioskReport},
		{method: "POST", path: apiv1.PathKioskRatings, auth: authKiosk, summary: "The token's resident rates one of their answered filings or reports (好差评, 1..5 with optional reasons; once per item; the token is not consumed; audited).", req: apiv1.RatingRequest{}, resp: apiv1.Rating{}, status: 201, h: s.handleKioskRate},
		{method: "POST", path: apiv1.PathKioskCertify, auth: authKiosk, summary: "Pensioner's proof of life (养老金领取资格认证) after card + vein: recorded once a year (201; 200 with already when the year is certified); the token is checked, not spent.", req: apiv1.CertifyRequest{}, resp: apiv1.Certification{}, status: 201, h: s.handleKioskCertify},
		{method: "POST", path: apiv1.PathKioskStaffLogin, auth: authKiosk, summary: "Staff log in at the kiosk with their username and PIN (station staff and supervisors of the kiosk's station; 5 wrong PINs in a row lock the PIN until it is set again; audited).", req: apiv1.KioskStaffLogin{}, resp: apiv1.Session{}, status: 201, h: s.handleKioskStaffLogin},
		{method: "POST", path: apiv1.PathKioskEnrolments, auth: authKioskStaff, roles: station, summary: "Enrol the card's holder (station staff of the kiosk's station); an enrolled resident's new fingers become a pending replacement (202).", req: apiv1.EnrolRequest{}, resp: apiv1.EnrolResponse{}, status: 201, h: s.handleEnrol},
		{method: "POST", path: apiv1.PathKioskIdentify, auth: authKioskStaff, roles: station, summary: "Card-less 1:N identification (station policy).", req: apiv1.IdentifyRequest{}, resp: apiv1.IdentifyCandidate{}, h: s.handleIdentify},
		{method: "POST", path: apiv1.PathKioskLockoutUnlock, auth: authKioskStaff, roles: station, summary: "Unlock an ID number's verification lockout at this kiosk after an in-person check (station staff of the kiosk's station; reason required, audited).", req: apiv1.LockoutUnlock{}, resp: apiv1.LockoutUnlocked{}, h: s.handleKioskUnlock},
		{method: "POST", path: apiv1.PathKioskCases + "/:id/override", auth: authKioskStaff, roles: []store.Role{store.RoleSupervisor}, summary: "A supervisor of the kiosk's station, logged in with their PIN at this kiosk, allows an enrolment suspected a duplicate at this kiosk (reason required, audited; another kiosk's case is case_not_found).", req: apiv1.CaseDecision{}, resp: apiv1.Case{}, h: s.handleKioskOverride},
		{method: "DELETE", path: apiv1.PathKioskStaffLogout, auth: authKioskStaff, roles: anyStaff, summary: "Log out at the kiosk: ends the kiosk's staff session (audited).", status: 204, h: s.handleLogout},
		{method: "POST", path: apiv1.PathKioskIdentifyConfirm, auth: authKioskStaff, roles: station, summary: "Staff confirm a card-less identification; returns a filing token.", req: apiv1.IdentifyConfirmRequest{}, resp: apiv1.VerifyResponse{}, h: s.handleIdentifyConfirm},

		{method: "GET", path: apiv1.PathServices, auth: authStaff, roles: anyStaff, summary: "The catalogue of services.", resp: apiv1.ServiceList{}, h: s.handleCatalogue},
		{method: "POST", path: apiv1.PathEligibility, auth: authStaff, roles: eligibilityRoles, summary: "What a resident may file, and the hidden services with the reasons (audited).", req: apiv1.EligibilityRequest{}, resp: apiv1.ServiceList{}, h: s.handleEligibility},
		{method: "GET", path: apiv1.PathEligibilityUpcoming, auth: authStaff, roles: eligibilityRoles, summary: "Residents of a grid cell who become eligible for a service in a period (turning 60 or 80, ...), earliest first (audited). Query: grid_cell, from, to (YYYY-MM-DD; default the next 30 days).", resp: apiv1.UpcomingList{}, h: s.handleUpcoming},
		{method: "GET", path: apiv1.PathGridWorklist, auth: authStaff, roles: gridWorkers, summary: "The grid worker's lists for their cell: due a visit this week, month, half year (the visit rules), eligibility flags, pensioners not certified this year (audited).", resp: apiv1.GridWorklist{}, h: s.handleGridWorklist},
		{method: "GET", path: apiv1.PathGridResidents + "/:id", auth: authStaff, roles: gridWorkers, summary: "A resident of the grid worker's cell with phone, household, categories and visits (audited; other cells: not found).", resp: apiv1.GridResident{}, h: s.handleGridResident},
		{method: "POST", path: apiv1.PathGridResidents + "/:id", auth: authStaff, roles: gridWorkers, summary: "Change a resident's household, categories or phone (the grid worker's own cell only; audited).", req: apiv1.GridResidentUpdate{}, resp: apiv1.GridResident{}, h: s.handleGridUpdate},
		{method: "POST", path: apiv1.PathGridResidents + "/:id/visits", auth: authStaff, roles: gridWorkers, summary: "Record a visit to a resident of the grid worker's cell (note sealed; audited).", req: apiv1.GridVisitRequest{}, resp: apiv1.GridVisit{}, status: 201, h: s.handleGridVisit},
		{method: "GET", path: apiv1.PathFilings, auth: authStaff, roles: officers, summary: "List filings (officers: their department). Query: status, department, service, overdue, after, limit.", resp: apiv1.FilingList{}, h: s.handleListFilings},
		{method: "GET", path: apiv1.PathFilingsOverdue, auth: authStaff, roles: supervisor, summary: "Overdue filings per department.", resp: apiv1.OverdueReport{}, h: s.handleOverdue},
		{method: "GET", path: apiv1.PathFilings + "/:id", auth: authStaff, roles: officers, summary: "One filing with its form.", resp: apiv1.Filing{}, h: s.handleGetFiling},
		{method: "POST", path: apiv1.PathFilings + "/:id/decision", auth: authStaff, roles: []store.Role{store.RoleDepartmentOfficer}, summary: "Review, accept, reject or ask for more information, with a reply.", req: apiv1.Decision{}, resp: apiv1.Filing{}, h: s.handleDecision},
		{method: "GET", path: apiv1.PathReportKinds, auth: authStaff, roles: anyStaff, summary: "The kinds of residents' issue reports and the units they go to.", resp: apiv1.ReportKindList{}, h: s.handleReportKinds},
		{method: "POST", path: apiv1.PathReports, auth: authStaff, roles: station, limit: reportBodyLimit, summary: "File an issue report at the desk for a resident (station staff, at their own station; idempotent by key).", req: apiv1.SubmitReportRequest{}, resp: apiv1.Report{}, status: 201, h: s.handleDeskReport},
		{method: "GET", path: apiv1.PathReports, auth: authStaff, roles: reportReaders, summary: "List issue reports (officers: their unit's; station staff: their station's). Query: status, unit, after, limit.", resp: apiv1.ReportList{}, h: s.handleListReports},
		{method: "GET", path: apiv1.PathReports + "/:id", auth: authStaff, roles: reportReaders, summary: "One issue report with the resident's words (same scope as the list).", resp: apiv1.Report{}, h: s.handleGetReport},
		{method: "GET", path: apiv1.PathReports + "/:id/photo", auth: authStaff, roles: reportReaders, summary: "A report's photo (image/jpeg or image/png; same scope as the list).", produces: []string{"image/jpeg", "image/png"}, h: s.handleReportPhoto},
		{method: "POST", path: apiv1.PathReports + "/:id/action", auth: authStaff, roles: []store.Role{store.RoleDepartmentOfficer}, summary: "Accept, reply to or close a report of one's unit (reply required to answer).", req: apiv1.ReportAction{}, resp: apiv1.Report{}, h: s.handleReportAction},
		{method: "POST", path: apiv1.PathMeetings, auth: authStaff, roles: []store.Role{store.RoleDepartmentOfficer}, summary: "Record a quarterly 低保 deliberation meeting of a station (officers of a unit deciding deliberation services; members and minutes sealed; audited), optionally with the filings it decided.", req: apiv1.MeetingCreate{}, resp: apiv1.Meeting{}, status: 201, h: s.handleCreateMeeting},
		{method: "GET", path: apiv1.PathMeetings, auth: authStaff, roles: officers, summary: "Deliberation meetings, newest first. Query: station, quarter.", resp: apiv1.MeetingList{}, h: s.handleListMeetings},
		{method: "GET", path: apiv1.PathMeetings + "/:id", auth: authStaff, roles: officers, summary: "One deliberation meeting with the filings it decided.", resp: apiv1.Meeting{}, h: s.handleGetMeeting},
		{method: "POST", path: apiv1.PathMeetings + "/:id/filings", auth: authStaff, roles: []store.Role{store.RoleDepartmentOfficer}, summary: "Attach the filings a meeting decided (deliberation services of the meeting's station; all or none; audited).", req: apiv1.MeetingAttach{}, resp: apiv1.Meeting{}, h: s.handleAttachMeeting},
		{method: "GET", path: apiv1.PathDibaoNotice, summary: "The public notice (公示) of a station's approved 低保 households of a quarter, ID numbers masked. Query: station, quarter.", resp: apiv1.DibaoNotice{}, h: s.handleNotice},
		{method: "GET", path: apiv1.PathSupervisionOpen, auth: authStaff, roles: supervisor, summary: "Every open filing and report with the time left; escalates the overdue ones first. Query: unit.", resp: apiv1.OpenItemList{}, h: s.handleSupervisionOpen},
		{method: "GET", path: apiv1.PathReview, auth: authStaff, roles: officers, summary: "The year-end efficiency review per unit and month (officers: their unit). Query: year, unit, format=json|csv.", resp: apiv1.Review{}, produces: []string{"text/csv"}, h: s.handleReview},
		{method: "GET", path: apiv1.PathReviewChart, auth: authStaff, roles: officers, summary: "One unit's on-time rate by month as an SVG chart. Query: year, unit.", produces: []string{"image/svg+xml"}, h: s.handleReviewChart},
		{method: "GET", path: apiv1.PathCases, auth: authStaff, roles: supervisor, summary: "Suspected duplicate enrolments. Query: status.", resp: apiv1.CaseList{}, h: s.handleListCases},
		{method: "POST", path: apiv1.PathCases + "/:id/override", auth: authStaff, roles: supervisor, summary: "Allow the enrolment despite the match (reason required).", req: apiv1.CaseDecision{}, resp: apiv1.Case{}, h: s.decideCase(store.DedupOverridden)},
		{method: "POST", path: apiv1.PathCases + "/:id/reject", auth: authStaff, roles: supervisor, summary: "Confirm the duplicate; the enrolment stays refused.", req: apiv1.CaseDecision{}, resp: apiv1.Case{}, h: s.decideCase(store.DedupRejected)},
		{method: "GET", path: apiv1.PathReplacements, auth: authStaff, roles: supervisor, summary: "Enrolment replacements (a supervisor: their station's). Query: status.", resp: apiv1.ReplacementList{}, h: s.handleListReplacements},
		{method: "POST", path: apiv1.PathReplacements + "/:id/approve", auth: authStaff, roles: anyStaff, summary: "Approve a replacement (a supervisor of its station, not the requester; basis match or in_person, reason).", req: apiv1.ReplacementDecision{}, resp: apiv1.Replacement{}, h: s.handleDecideReplacement(true)},
		{method: "POST", path: apiv1.PathReplacements + "/:id/reject", auth: authStaff, roles: anyStaff, summary: "Reject a replacement (a supervisor of its station, not the requester; reason).", req: apiv1.ReplacementDecision{}, resp: apiv1.Replacement{}, h: s.handleDecideReplacement(false)},
		{method: "POST", path: apiv1.PathEnrolmentHistory, auth: authStaff, roles: supervisor, summary: "A resident's enrolments and replacement requests.", req: apiv1.EnrolmentHistoryRequest{}, resp: apiv1.EnrolmentHistory{}, h: s.handleEnrolmentHistory},
		{method: "GET", path: apiv1.PathAssist, auth: authStaff, roles: []store.Role{store.RoleStationStaff, store.RoleSupervisor}, summary: "Calls for staff from the kiosks of the staff member's station (newest audit records).", resp: apiv1.AssistList{}, h: s.handleListAssist},
		{method: "POST", path: apiv1.PathAssist + "/:seq/ack", auth: authStaff, roles: []store.Role{store.RoleStationStaff, store.RoleSupervisor}, summary: "Acknowledge a call of the staff member's station (audited).", resp: apiv1.AssistCall{}, h: s.handleAckAssist},
		{method: "POST", path: apiv1.PathLockoutUnlock, auth: authStaff, roles: supervisor, summary: "Unlock an ID number's verification lockout after an in-person check (supervisors, administrators; reason required, audited).", req: apiv1.LockoutUnlock{}, resp: apiv1.LockoutUnlocked{}, h: s.handleUnlock},

		{method: "POST", path: apiv1.PathAdminStations, auth: authStaff, roles: admin, summary: "Create a station.", req: apiv1.Station{}, resp: apiv1.Station{}, status: 201, h: s.handleCreateStation},
		{method: "GET", path: apiv1.PathAdminStations, auth: authStaff, roles: admin, summary: "List stations.", resp: apiv1.StationList{}, h: s.handleListStations},
		{method: "POST", path: apiv1.PathAdminKiosks, auth: authStaff, roles: admin, summary: "Register a kiosk and its Ed25519 public key.", req: apiv1.KioskRegistration{}, resp: apiv1.Kiosk{}, status: 201, h: s.handleCreateKiosk},
		{method: "GET", path: apiv1.PathAdminKiosks, auth: authStaff, roles: admin, summary: "List kiosks. Query: station.", resp: apiv1.KioskList{}, h: s.handleListKiosks},
		{method: "POST", path: apiv1.PathAdminKiosks + "/:id/status", auth: authStaff, roles: admin, summary: "Revoke or reactivate a kiosk.", req: apiv1.StatusChange{}, resp: apiv1.Kiosk{}, h: s.handleKioskStatus},
		{method: "POST", path: apiv1.PathAdminMakers, auth: authStaff, roles: admin, summary: "Trust a scanner maker's certificate key.", req: apiv1.Maker{}, resp: apiv1.Maker{}, status: 201, h: s.handleAddMaker},
		{method: "GET", path: apiv1.PathAdminMakers, auth: authStaff, roles: admin, summary: "List trusted maker keys.", resp: apiv1.MakerList{}, h: s.handleListMakers},
		{method: "GET", path: apiv1.PathAdminScanners, auth: authStaff, roles: admin, summary: "List scanners seen.", resp: apiv1.ScannerList{}, h: s.handleListScanners},
		{method: "GET", path: apiv1.PathAdminCalibrations, auth: authStaff, roles: admin, summary: "The score calibrations in force, per scanner model.", resp: apiv1.CalibrationList{}, h: s.handleListCalibrations},
		{method: "POST", path: apiv1.PathAdminScanners + "/:serial/status", auth: authStaff, roles: admin, summary: "Revoke or reactivate a scanner.", req: apiv1.StatusChange{}, resp: apiv1.Scanner{}, h: s.handleScannerStatus},
		{method: "POST", path: apiv1.PathAdminStaff, auth: authStaff, roles: admin, summary: "Create a staff account.", req: apiv1.StaffCreate{}, resp: apiv1.Staff{}, status: 201, h: s.handleCreateStaff},
		{method: "PUT", path: apiv1.PathAdminStaff + "/:id/pin", auth: authStaff, roles: admin, summary: "Set or reset a staff member's kiosk PIN (also unlocks a locked PIN); audited.", req: apiv1.PINChange{}, status: 204, h: s.handleSetStaffPIN},
		{method: "GET", path: apiv1.PathAdminStaff, auth: authStaff, roles: admin, summary: "List staff.", resp: apiv1.StaffList{}, h: s.handleListStaff},
		{method: "POST", path: apiv1.PathAdminStaff + "/:id/disabled", auth: authStaff, roles: admin, summary: "Disable or enable a staff account (ends its sessions).", req: struct {
			Disabled bool `json:"disabled"`
		}{}, resp: apiv1.Staff{}, h: s.handleDisableStaff},
		{method: "POST", path: apiv1.PathAdminResidents, auth: authStaff, roles: admin, limit: 8 << 20, summary: "Import residents from the population database (upsert).", req: apiv1.ResidentImport{}, resp: apiv1.ImportResult{}, h: s.handleImportResidents},
		{method: "POST", path: apiv1.PathAdminResidents + "/status", auth: authStaff, roles: supervisor, summary: "Suspend or reactivate a resident.", req: apiv1.ResidentStatusChange{}, status: 204, h: s.handleResidentStatus},
		{method: "POST", path: apiv1.PathAdminResidents + "/enrolment/delete", auth: authStaff, roles: admin, summary: "Delete a resident's enrolment (consent withdrawn).", req: apiv1.EnrolmentDeletion{}, status: 204, h: s.handleDeleteEnrolment},
		{method: "POST", path: apiv1.PathAdminBulkEnrol, auth: authStaff, roles: admin, limit: s.cfg.BodyLimit.Bulk, summary: "Bulk enrolment of extracted templates of residents never enrolled (a migration tool: off unless centrald runs with --bulk-enrolment=migrate or unchecked); never replaces an enrolment.", req: apiv1.BulkEnrolRequest{}, resp: apiv1.BulkEnrolResult{}, h: s.handleBulkEnrol},
		{method: "GET", path: apiv1.PathAdminCatalogue, auth: authStaff, roles: admin, summary: "The service catalogue document in force (docs/catalogue.md).", resp: catalogue.Doc{}, h: s.handleGetCatalogue},
		{method: "PUT", path: apiv1.PathAdminCatalogue, auth: authStaff, roles: admin, limit: catalogue.MaxSize, req: catalogue.Doc{}, summary: "Save a new catalogue version (the whole document, version = in force + 1; query: note); validated, audited, in force at once.", resp: apiv1.ServiceList{}, h: s.handlePutCatalogue},
		{method: "GET", path: apiv1.PathAdminCatalogueVersions, auth: authStaff, roles: admin, summary: "The saved catalogue versions, newest first, and the version in force.", resp: apiv1.CatalogueVersionList{}, h: s.handleListCatalogues},
		{method: "GET", path: apiv1.PathAdminReportKinds, auth: authStaff, roles: admin, summary: "The kinds of issue reports in force (docs/reports.md): the document.", h: s.handleGetReportKinds},
		{method: "PUT", path: apiv1.PathAdminReportKinds, auth: authStaff, roles: admin, limit: 1 << 20, summary: "Save a new version of the kinds of issue reports (the whole document, version = in force + 1, every unit kept; query: note); validated, audited, in force at once.", resp: apiv1.ReportKindList{}, h: s.handlePutReportKinds},
		{method: "GET", path: apiv1.PathAdminAuditVerify, auth: authStaff, roles: admin, summary: "Verify the audit hash chain.", resp: apiv1.AuditVerifyResult{}, h: s.handleAuditVerify},

		{method: "GET", path: "/office", html: true, summary: "Back office: login page or the filing list.", h: s.officeHome},
		{method: "POST", path: "/office/login", html: true, summary: "Back office: log in (form).", h: s.officeLogin},
		{method: "GET", path: "/office/lockouts", auth: authOffice, roles: supervisor, html: true, summary: "Back office: the unlock form.", h: s.officeUnlock},
		{method: "POST", path: "/office/lockouts", auth: authOffice, roles: supervisor, html: true, summary: "Back office: unlock an ID number (form; reason required, audited).", h: s.officeUnlock},
		{method: "GET", path: "/office/pin", auth: authOffice, roles: []store.Role{store.RoleStationStaff, store.RoleSupervisor}, html: true, summary: "Back office: set one's own kiosk PIN (form).", h: s.officePIN},
		{method: "POST", path: "/office/pin", auth: authOffice, roles: []store.Role{store.RoleStationStaff, store.RoleSupervisor}, html: true, summary: "Back office: set one's own kiosk PIN, confirmed with one's password (form; audited).", h: s.officePIN},
		{method: "GET", path: "/office/assist", auth: authOffice, roles: []store.Role{store.RoleStationStaff, store.RoleSupervisor}, html: true, summary: "Back office: the open calls for staff from the kiosks of one's station, newest first; refreshes itself every 5 s and flags calls newer than the query's seen.", h: s.officeAssist},
		{method: "GET", path: "/office/assist/chime.wav", auth: authOffice, roles: []store.Role{store.RoleStationStaff, store.RoleSupervisor}, produces: []string{"audio/wav"}, summary: "Back office: the staff screen's alert sound (WAV).", h: s.officeAssistChime},
		{method: "POST", path: "/office/assist/:seq/ack", auth: authOffice, roles: []store.Role{store.RoleStationStaff, store.RoleSupervisor}, html: true, summary: "Back office: mark a call of one's station handled (form; audited as the API's ack).", h: s.officeAckAssist},
		{method: "POST", path: "/office/logout", auth: authOffice, roles: anyStaff, html: true, summary: "Back office: log out.", h: s.officeLogout},
		{method: "GET", path: "/office/filings/:id", auth: authOffice, roles: officers, html: true, summary: "Back office: one filing and the decision form.", h: s.officeFiling},
		{method: "POST", path: "/office/filings/:id", auth: authOffice, roles: []store.Role{store.RoleDepartmentOfficer}, html: true, summary: "Back office: record a decision (form); then the filing with a confirmation.", h: s.officeDecide},
		{method: "GET", path: "/office/decided", auth: authOffice, roles: officers, html: true, summary: "Back office: decided filings, newest first; search by reference or ID number, result, service.", h: s.officeDecided},
		{method: "GET", path: "/office/catalogue", auth: authOffice, roles: admin, html: true, summary: "Back office: the service catalogue and its editor (administrator).", h: s.officeCatalogue},
		{method: "POST", path: "/office/catalogue", auth: authOffice, roles: admin, html: true, summary: "Back office: save the edited catalogue as a new version (form).", h: s.officeSaveCatalogue},
		{method: "GET", path: "/office/reports", auth: authOffice, roles: officers, html: true, summary: "Back office: residents' issue reports (officers: their unit's), open ones due first, then the answered.", h: s.officeReports},
		{method: "GET", path: "/office/reports/new", auth: authOffice, roles: station, html: true, summary: "Back office: the form to file an issue report at the desk for the resident in front of the staff member, and the station's latest reports.", h: s.officeDeskReport},
		{method: "POST", path: "/office/reports/new", auth: authOffice, roles: station, limit: reportBodyLimit, html: true, summary: "Back office: file an issue report at the desk (multipart form, optional JPEG/PNG photo; idempotent by the form's key; audited).", h: s.officeFileDeskReport},
		{method: "GET", path: "/office/reports/:id", auth: authOffice, roles: officers, html: true, summary: "Back office: one issue report with the resident's words and photo, and the officer's actions.", h: s.officeReport},
		{method: "POST", path: "/office/reports/:id", auth: authOffice, roles: []store.Role{store.RoleDepartmentOfficer}, html: true, summary: "Back office: accept, answer or close a report of one's unit (form; audited).", h: s.officeReportAct},
		{method: "GET", path: "/office/reports/:id/photo", auth: authOffice, roles: officers, produces: []string{"image/jpeg", "image/png"}, summary: "Back office: a report's photo (same scope as the report).", h: s.handleReportPhoto},
		{method: "GET", path: "/office/dibao", auth: authOffice, roles: officers, html: true, summary: "Back office: the quarter's 低保 deliberation meetings and the form to record one. Query: quarter.", h: s.officeDibao},
		{method: "POST", path: "/office/dibao", auth: authOffice, roles: []store.Role{store.RoleDepartmentOfficer}, html: true, summary: "Back office: record a deliberation meeting (form; audited).", h: s.officeCreateMeeting},
		{method: "GET", path: "/office/dibao/:id", auth: authOffice, roles: officers, html: true, summary: "Back office: a deliberation meeting's record, the filings it decided and the form to attach more.", h: s.officeMeeting},
		{method: "POST", path: "/office/dibao/:id", auth: authOffice, roles: []store.Role{store.RoleDepartmentOfficer}, html: true, summary: "Back office: attach filings to a meeting (form; audited).", h: s.officeAttachMeeting},
		{method: "GET", path: "/notice/dibao", html: true, summary: "Public page: the printable notice (公示) of a station's approved 低保 households of a quarter, ID numbers masked. Query: station, quarter.", h: s.publicNotice},
		{method: "GET", path: "/office/report-kinds", auth: authOffice, roles: admin, html: true, summary: "Back office: the kinds of issue reports and their editor (administrator).", h: s.officeReportKinds},
		{method: "POST", path: "/office/report-kinds", auth: authOffice, roles: admin, limit: 1 << 20, html: true, summary: "Back office: save the edited kinds as a new version (form; audited).", h: s.officeSaveReportKinds},
		{method: "GET", path: "/office/open", auth: authOffice, roles: supervisor, html: true, summary: "Back office: every open filing and report with the time left (escalates the overdue first).", h: s.officeOpen},
		{method: "GET", path: "/office/review", auth: authOffice, roles: officers, html: true, summary: "Back office: the year-end efficiency review with a chart per unit (officers: their unit). Query: year.", h: s.officeReview},
		{method: "GET", path: "/office/grid", auth: authOffice, roles: gridWorkers, html: true, summary: "Back office (phone): the grid worker's lists (audited).", h: s.officeGrid},
		{method: "GET", path: "/office/grid/residents/:id", auth: authOffice, roles: gridWorkers, html: true, summary: "Back office (phone): a resident of the grid worker's cell, the change form and the visit form (audited).", h: s.officeGridResident},
		{method: "POST", path: "/office/grid/residents/:id", auth: authOffice, roles: gridWorkers, html: true, summary: "Back office (phone): change a resident's household, categories, phone (form; audited).", h: s.officeGridUpdate},
		{method: "POST", path: "/office/grid/residents/:id/visits", auth: authOffice, roles: gridWorkers, html: true, summary: "Back office (phone): record a visit (form; audited).", h: s.officeGridVisit},
		{method: "GET", path: "/office/review.csv", auth: authOffice, roles: officers, produces: []string{"text/csv"}, summary: "Back office: the review as CSV (audited). Query: year.", h: s.officeReviewCSV},
	}
}

func (s *Server) register() {
	s.app.Use(s.requestContext)
	s.routes = s.routeTable()
	for _, r := range s.routes {
		var hs []fiber.Handler
		limit := r.limit
		switch r.auth {
		case authKiosk, authKioskStaff:
			if limit == 0 {
				limit = s.cfg.BodyLimit.Kiosk
			}
			hs = append(hs, bodyLimit(limit), s.kioskClientCert, s.kioskAuth)
			if r.auth == authKioskStaff {
				hs = append(hs, s.staff(authKioskStaff, r.roles...))
			}
		case authStaff:
			hs = append(hs, bodyLimit(max(limit, s.cfg.BodyLimit.Default)), s.staff(authStaff, r.roles...))
		case authOffice:
			hs = append(hs, bodyLimit(max(limit, s.cfg.BodyLimit.Default)), s.officeAuth(r.roles...))
		default:
			hs = append(hs, bodyLimit(s.cfg.BodyLimit.Default))
		}
		if r.html {
			hs = append([]fiber.Handler{s.officeTransport}, hs...)
		}
		s.app.Add(r.method, r.path, append(hs, r.h)...)
	}
}

func (s *Server) handleHealth(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

func (s *Server) handleReady(c *fiber.Ctx) error {
	if !s.ready.Load() {
		return errf(apiv1.CodeUnavailable, "starting: the gallery is loading")
	}
	if _, _, err := s.st.AuditHead(c.UserContext()); err != nil {
		return errf(apiv1.CodeUnavailable, "the database does not answer")
	}
	if s.galleryStale() {
		return errf(apiv1.CodeUnavailable, "the gallery has not followed the database for %v (bound %v)", s.galleryLag().Round(time.Second), s.cfg.GalleryMaxLag)
	}
	return c.JSON(fiber.Map{"status": "ready", "gallery_templates": s.gallery.Len(), "gallery_residents": s.gallery.Residents()})
}
