package storetest

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// Busy is a store populated by PopulateBusy.
type Busy struct {
	// Secrets are personal data written through the store that must never
	// appear in plaintext at rest: ID numbers, names, addresses, household
	// numbers, phone and bank account numbers in forms, reply texts.
	Secrets []string
	// ResidentIDs are the internal ids of the residents; FilingIDs of the
	// filings.
	ResidentIDs []int64
	FilingIDs   []int64
	// IDNumbers of the residents (the first one is locked out).
	IDNumbers []string
	// Scanner is the serial of the registered scanner, Kiosk the id of
	// the kiosk it is on, StaffIDs the staff members.
	Scanner  string
	Kiosk    string
	StaffIDs []int64
	// MeetingID is the 低保 deliberation meeting the first filing (dibao_new)
	// is attached to.
	MeetingID int64
}

// Marker values of PopulateBusy: distinctive so a byte scan cannot match
// by chance.
const (
	BusyName      = "欧阳密文测试"
	BusyAddress   = "青山区保密路七百七十七号"
	BusyHousehold = "HH-SECRET-0777"
	// BusyRelationship is the marked resident's relation to the household
	// head (sealed since migration 0009, with the guardian's ID number).
	BusyRelationship = "保密亲属关系测试"
	BusyBank         = "6222020200112233445"
	BusyPhone        = "13912345678"
	// BusyGridPhone is the phone a grid worker keeps in the marked
	// resident's record; BusyVisitNote the note of their visit.
	BusyGridPhone = "13700777077"
	BusyVisitNote = "欧阳密文测试独居需每周关照"
	BusyReply     = "请于周三携带户口簿到欧阳密文测试窗口"
	// BusyReason is a replacement decision's reason naming a person.
	BusyReason = "柜台核验本人欧阳密文测试身份证原件"
)

// PopulateBusy writes, through the store only, every kind of record the
// central server keeps: residents, staff, a station, kiosks, a scanner, an
// enrolment, verification outcomes (attempts, a lockout, a token), a
// lockout reset, ID locks, spent tokens, a pending identification, a dedup
// case with its decision, an approved enrolment replacement (its reason names
// a person) and a pending one with sealed samples, filings with sensitive form fields, status
// changes with a reply, staff changes, device status changes. Tests use it
// as "an untampered busy database".
func PopulateBusy(t *testing.T, s store.Store) Busy {
	t.Helper()
	c := ctx(t)
	f := newFixture(t, s, 3)
	marked := store.Resident{IDNumber: idNumber(777), Name: BusyName, Gender: "F", BirthDate: time.Date(1951, 7, 7, 0, 0, 0, 0, time.UTC),
		Address: BusyAddress, GridCell: "G777", Household: BusyHousehold, Relationship: BusyRelationship, GuardianIDNumber: f.residents[0].IDNumber}
	if _, err := s.ImportResidents(c, admin, []store.Resident{marked}); err != nil {
		t.Fatalf("ImportResidents: %v", err)
	}
	m, err := s.GetResident(c, marked.IDNumber)
	if err != nil {
		t.Fatal(err)
	}
	if m.Relationship != BusyRelationship || m.GuardianIDNumber != f.residents[0].IDNumber {
		t.Fatalf("the marked resident's relationship and guardian did not round-trip: %+v", m)
	}
	f.residents = append(f.residents, m)
	b := Busy{Secrets: []string{BusyName, BusyAddress, BusyHousehold, BusyRelationship, BusyBank, BusyPhone, BusyReply, BusyReason}, Kiosk: f.kiosk.ID, Scanner: "VS-0777"}
	for _, r := range f.residents {
		b.Secrets = append(b.Secrets, r.IDNumber, r.Name, r.Address, r.Household)
		b.ResidentIDs = append(b.ResidentIDs, r.ID)
		b.IDNumbers = append(b.IDNumbers, r.IDNumber)
	}
	b.StaffIDs = []int64{f.clerk.ID, f.supervisor.ID, f.officer.ID}
	clerk, super := audit.Staff(f.clerk.ID), audit.Staff(f.supervisor.ID)

	if _, err := s.CreateScanner(c, admin, store.Scanner{Serial: b.Scanner, Model: "FV-300", MakerID: "qsdev", PublicKey: pubKey(77), KioskID: f.kiosk.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enrol(c, clerk, newEnrolment(f, 3, 2, 2, true)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enrol(c, clerk, newEnrolment(f, 0, 1, 1, false)); err != nil {
		t.Fatal(err)
	}
	// Re-enrolment supersedes.
	if _, err := s.Enrol(c, clerk, newEnrolment(f, 0, 1, 1, false)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteEnrolments(c, super, f.residents[1].IDNumber, "consent_withdrawn"); err != nil {
		t.Fatal(err)
	}

	t0 := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	p := store.LockoutPolicy{MaxFailures: 2, LockFor: time.Hour}
	counter := uint64(0)
	outcome := func(id string, result store.VerificationResult, tok string) {
		t.Helper()
		counter++
		nonce := "busy-n-" + itoa(int64(counter))
		if err := s.IssueNonce(c, store.Nonce{Value: nonce, KioskID: f.kiosk.ID, Purpose: "capture", ExpiresAt: t0.Add(time.Hour), CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		o := store.VerificationOutcome{NonceValue: nonce, NoncePurpose: "capture", ScannerSerial: b.Scanner, Counter: counter,
			Attempt: store.VerificationAttempt{IDNumber: id, KioskID: f.kiosk.ID, Result: result, Score: 0.2, At: t0.Add(time.Duration(counter) * time.Second)},
			Policy:  p}
		if tok != "" {
			o.Token = &store.FilingToken{Token: tok, IDNumber: id, KioskID: f.kiosk.ID, ExpiresAt: t0.Add(time.Hour), CreatedAt: t0}
			o.MatchEvent = &audit.Event{Time: t0, Actor: audit.Kiosk(f.kiosk.ID), Action: "verification.match", Target: "resident"}
		}
		if _, err := s.RecordVerificationOutcome(c, o); err != nil {
			t.Fatalf("RecordVerificationOutcome: %v", err)
		}
	}
	// The marked resident: a failure, then a match with a token.
	outcome(m.IDNumber, store.VerifyNoMatch, "")
	outcome(m.IDNumber, store.VerifyMatch, "busy-token-0123456789abcdef")
	// Resident 0: locked out by two failures.
	outcome(f.residents[0].IDNumber, store.VerifyNoMatch, "")
	outcome(f.residents[0].IDNumber, store.VerifyNoMatch, "")
	// Resident 1: locked, then reset by a supervisor.
	outcome(f.residents[1].IDNumber, store.VerifyNoMatch, "")
	outcome(f.residents[1].IDNumber, store.VerifyNoMatch, "")
	if _, err := s.ResetLockout(c, super, store.LockoutUnlock{IDNumber: f.residents[1].IDNumber, Reason: "card checked in person"}); err != nil {
		t.Fatal(err)
	}
	// An ID number not in the population database.
	outcome(idNumber(99999), store.VerifyNoMatch, "")
	if err := Inspect(s).RecordIDLock(c, m.IDNumber, t0, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.RememberSpentToken(c, store.SpentToken{Token: "busy-spent-token", IDNumber: m.IDNumber, KioskID: f.kiosk.ID, ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutPendingIdentification(c, store.PendingIdentification{ID: "busy-candidate", IDNumber: m.IDNumber, KioskID: f.kiosk.ID, StaffID: f.clerk.ID, Score: 0.5, ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	dc, err := s.CreateDedupCase(c, clerk, store.DedupCase{IDNumber: f.residents[2].IDNumber, MatchedIDNumber: m.IDNumber, Finger: 2, Score: 0.9, KioskID: f.kiosk.ID, StaffID: f.clerk.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DecideDedupCase(c, super, dc.ID, store.DedupDecision{Status: store.DedupRejected, Supervisor: f.supervisor.ID, Reason: "different_person"}); err != nil {
		t.Fatal(err)
	}

	form, _ := json.Marshal(map[string]string{"name": BusyName, "id_number": m.IDNumber, "address": BusyAddress,
		"bank_account": BusyBank, "phone": BusyPhone, "household": BusyHousehold})
	fl, _, err := s.CreateFiling(c, audit.Kiosk(f.kiosk.ID), store.NewFiling{ServiceCode: "dibao_new", IDNumber: m.IDNumber, KioskID: f.kiosk.ID,
		StationID: f.station.ID, Department: "civil-affairs", Form: form, DueAt: t0.Add(30 * 24 * time.Hour), IdempotencyKey: "busy-1",
		Token: "busy-token-0123456789abcdef"})
	if err != nil {
		t.Fatalf("CreateFiling: %v", err)
	}
	officer := audit.Staff(f.officer.ID)
	if _, err := s.TransitionFiling(c, officer, store.FilingTransition{FilingID: fl.ID, To: store.FilingInReview}); err != nil {
		t.Fatal(err)
	}
	reply := BusyReply
	if _, err := s.TransitionFiling(c, officer, store.FilingTransition{FilingID: fl.ID, To: store.FilingNeedInfo, Reply: &reply}); err != nil {
		t.Fatal(err)
	}
	fl2, _, err := s.CreateFiling(c, clerk, store.NewFiling{ServiceCode: "elderly_card", IDNumber: f.residents[2].IDNumber, StationID: f.station.ID,
		Department: "ageing", Form: json.RawMessage(`{"phone":"13800000002"}`), DueAt: t0.Add(10 * 24 * time.Hour), IdempotencyKey: "busy-2"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.TransitionFiling(c, officer, store.FilingTransition{FilingID: fl2.ID, To: store.FilingAccepted}); err != nil {
		t.Fatal(err)
	}
	b.FilingIDs = []int64{fl.ID, fl2.ID}

	// Enrolment replacements: resident 0's enrolment replaced on an
	// in-person check; the marked resident's replacement left pending.
	rep, err := s.RequestReplacement(c, clerk, newReplacement(f, 0, 0, 1, 3))
	if err != nil {
		t.Fatalf("RequestReplacement: %v", err)
	}
	if _, err := s.DecideReplacement(c, super, rep.ID, store.ReplacementDecision{Approve: true, Supervisor: f.supervisor.ID,
		Basis: store.BasisInPerson, Reason: BusyReason}); err != nil {
		t.Fatalf("DecideReplacement: %v", err)
	}
	if _, err := s.RequestReplacement(c, clerk, newReplacement(f, 3, 3, 2, 4)); err != nil {
		t.Fatalf("RequestReplacement (pending): %v", err)
	}

	// Staff and device changes.
	st := f.clerk
	st.Role = store.RoleSupervisor
	if _, err := s.UpdateStaff(c, admin, st); err != nil {
		t.Fatal(err)
	}
	if err := s.SetKioskStatus(c, admin, f.kiosk2.ID, store.DeviceRevoked); err != nil {
		t.Fatal(err)
	}
	if err := s.SetResidentStatus(c, super, f.residents[2].IDNumber, store.ResidentSuspended, "moved"); err != nil {
		t.Fatal(err)
	}
	// A grid worker keeps the marked resident's phone and visits them.
	phone := BusyGridPhone
	if _, _, err := s.UpdateResident(c, audit.Staff(f.officer.ID), store.ResidentUpdate{ResidentID: m.ID, GridCell: "G777", Phone: &phone}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordVisit(c, audit.Staff(f.officer.ID), store.NewVisit{ResidentID: m.ID, GridCell: "G777", StaffID: f.officer.ID, Note: BusyVisitNote}); err != nil {
		t.Fatal(err)
	}
	b.Secrets = append(b.Secrets, BusyGridPhone, BusyVisitNote)

	// The 低保 filing attached to the deliberation meeting that decided it.
	mt, err := s.CreateMeeting(c, officer, store.NewMeeting{StationID: f.station.ID, Quarter: "2026Q1", HeldOn: "2026-03-20",
		Members: []string{"赵敏", "钱立", "孙红"}, Minutes: "审议低保新申请一户，同意。", CreatedAt: t0})
	if err != nil {
		t.Fatalf("CreateMeeting: %v", err)
	}
	if _, err := s.AttachFilings(c, officer, mt.ID, []int64{fl.ID}); err != nil {
		t.Fatalf("AttachFilings: %v", err)
	}
	b.MeetingID = mt.ID
	// The clerk's kiosk PIN, one wrong entry; the marked resident's consent
	// to enrolment; a proof of life.
	if err := s.SetStaffPIN(c, admin, f.clerk.ID, hashPW(t, "246813")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordPINAttempt(c, audit.Kiosk(f.kiosk.ID), f.clerk.ID, false, 5, f.kiosk.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordConsent(c, clerk, store.EnrolmentConsent{ResidentID: m.ID, TextVersion: "2026-01", StaffID: f.clerk.ID, KioskID: f.kiosk.ID}); err != nil {
		t.Fatal(err)
	}
	if err := s.IssueFilingToken(c, store.FilingToken{Token: "busy-certify-0123456789", IDNumber: f.residents[0].IDNumber, KioskID: f.kiosk.ID,
		ExpiresAt: t0.Add(time.Hour), CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Certify(c, audit.Kiosk(f.kiosk.ID), store.NewCertification{Token: "busy-certify-0123456789", KioskID: f.kiosk.ID,
		StationID: f.station.ID, Year: 2026, At: t0}); err != nil {
		t.Fatalf("Certify: %v", err)
	}
	// An issue report answered and rated; the overdue items escalated.
	nr := newReport(f, 0, "busy-report")
	pr, _, err := s.CreateReport(c, audit.Kiosk(f.kiosk.ID), nr)
	if err != nil {
		t.Fatalf("CreateReport: %v", err)
	}
	answer := BusyReply
	if _, err := s.TransitionReport(c, officer, store.ReportTransition{ReportID: pr.ID, To: store.ReportReplied, Reply: &answer, At: t0.Add(time.Hour)}); err != nil {
		t.Fatalf("TransitionReport: %v", err)
	}
	if _, err := s.Rate(c, audit.Kiosk(f.kiosk.ID), store.NewRating{IDNumber: f.residents[0].IDNumber, Reference: pr.Reference, Score: 4,
		KioskID: f.kiosk.ID, CreatedAt: t0.Add(2 * time.Hour)}); err != nil {
		t.Fatalf("Rate: %v", err)
	}
	if _, err := s.EscalateOverdue(c, audit.System("escalator"), t0.Add(365*24*time.Hour)); err != nil {
		t.Fatalf("EscalateOverdue: %v", err)
	}
	// The service catalogue and the report kinds, saved once each.
	if err := s.SaveCatalogue(c, admin, store.CatalogueVersion{Version: 1, Document: []byte(`{"format": "veinkiosk-catalogue/1"}`), CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveReportKinds(c, admin, store.CatalogueVersion{Version: 1, Document: []byte(`{"kinds": []}`), CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	return b
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// testReencryptBusy: key rotation re-seals every sealed personal value of
// a busy database (the blind-index key, residents, filing forms and
// replies, a replacement reason, the ID numbers of spent tokens and of a
// pending identification, a visit note), a second run finds nothing to do,
// and the database then reads back under the new key alone.
func testReencryptBusy(t *testing.T, newDB NewDatabase) {
	opener := newDB(t)
	s, err := opener(Options("old"))
	if err != nil {
		t.Fatal(err)
	}
	c := ctx(t)
	busy := PopulateBusy(t, s)
	s.Close()

	both, err := opener(Options("old", "new"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := both.Reencrypt(c, admin)
	// 1 index key, 4 residents, 3 filing values (two forms, one reply),
	// 1 reason, 1 spent token, 1 pending identification, 1 visit note,
	// 1 低保 meeting record, 2 report values (the words and the answer).
	if err != nil || st.Personal != 15 {
		t.Errorf("Reencrypt = %+v, %v; want 15 personal values", st, err)
	}
	if st, err := both.Reencrypt(c, admin); err != nil || st.Personal != 0 {
		t.Errorf("second Reencrypt = %+v, %v; want nothing to do", st, err)
	}
	both.Close()

	onlyNew, err := opener(Options("new"))
	if err != nil {
		t.Fatalf("open with the new key alone: %v", err)
	}
	defer onlyNew.Close()
	var marked store.Resident
	for _, id := range busy.IDNumbers {
		if marked, err = onlyNew.GetResident(c, id); err != nil {
			t.Fatalf("GetResident after rotation: %v", err)
		}
	}
	if marked.Name != BusyName || marked.Relationship != BusyRelationship {
		t.Errorf("marked resident after rotation = %+v", marked)
	}
	if f, err := onlyNew.GetFiling(c, busy.FilingIDs[0]); err != nil || f.Reply != BusyReply {
		t.Errorf("GetFiling after rotation = %+v, %v", f, err)
	}
	if vs, err := onlyNew.ListVisits(c, marked.ID, 10); err != nil || len(vs) != 1 || vs[0].Note != BusyVisitNote {
		t.Errorf("ListVisits after rotation = %+v, %v", vs, err)
	}
}
