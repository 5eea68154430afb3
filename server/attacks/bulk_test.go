package attacks

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/api"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// Bulk enrolment and deleted enrolments (issue 11 items 1 and 3): an
// administrator, or whoever holds an administrator's session, must not
// be able to take over an enrolled resident's identity with templates no
// scanner attested, nor by deleting the enrolment and enrolling again.

func bulkMode(mode string) func(*api.Config) {
	return func(c *api.Config) { c.BulkEnrolment = mode }
}

// bulkItem is p's record with n templates of each of fingers' two fingers
// (p's own when fingers is nil), as a migration would send them.
func (tg *target) bulkItem(p *person, n int, fingers map[apiv1.Finger]*finger) apiv1.BulkEnrolItem {
	tg.t.Helper()
	if fingers == nil {
		fingers = p.fingers
	}
	it := apiv1.BulkEnrolItem{Resident: apiv1.Resident{
		IDNumber: p.card.IDNumber, Name: p.card.Name, Gender: "M", BirthDate: p.card.Birth.Time().Format(time.DateOnly),
		Address: p.card.Address, GridCell: "G-017", Household: "H-0001", Status: "active",
	}}
	for _, fg := range []apiv1.Finger{apiv1.RightIndex, apiv1.RightMiddle} {
		ft := apiv1.FingerTemplates{Finger: fg}
		for range n {
			ft.Templates = append(ft.Templates, tg.template(fingers[fg], fg).Tmpl)
		}
		it.Fingers = append(it.Fingers, ft)
	}
	return it
}

func (tg *target) bulk(req apiv1.BulkEnrolRequest) (apiv1.BulkEnrolResult, error) {
	var out apiv1.BulkEnrolResult
	err := tg.admin.Do(tg.ctx(), http.MethodPost, apiv1.PathAdminBulkEnrol, req, &out)
	return out, err
}

// wantRefusedItems asserts that the batch enrolled nothing and refused
// each item with the code given, by index.
func wantRefusedItems(t *testing.T, out apiv1.BulkEnrolResult, err error, codes ...string) {
	t.Helper()
	if err != nil {
		t.Fatalf("ATTACK NOT REFUSED AS EXPECTED: the batch failed: %v; want items refused %v", err, codes)
	}
	if out.Enrolled != 0 || len(out.Duplicates) != 0 || len(out.Refused) != len(codes) {
		t.Fatalf("ATTACK NOT REFUSED AS EXPECTED: %+v; want items refused %v", out, codes)
	}
	for i, r := range out.Refused {
		if r.Index != i || r.Code != codes[i] {
			t.Fatalf("ATTACK NOT REFUSED AS EXPECTED: item %d refused as %q, want %d %q", r.Index, r.Code, i, codes[i])
		}
	}
}

// holds asserts that p's own finger verifies as p and the attacker's
// does not.
func (tg *target) holds(t *testing.T, k *kiosk, p, attacker *person) {
	t.Helper()
	_, err := k.Verify(tg.ctx(), tg.verifyRequest(k, p, attacker.fingers[apiv1.RightIndex]))
	refused(t, err, http.StatusUnauthorized, apiv1.CodeNoMatch)
	mustV[*apiv1.VerifyResponse](t)(k.Verify(tg.ctx(), tg.verifyRequest(k, p, p.fingers[apiv1.RightIndex])))
}

// TestAttackBulkEnrolmentOff: with the default --bulk-enrolment=off, an
// administrator's bulk enrolment is refused whole, of an enrolled resident
// and of one never enrolled alike, and stores nothing.
func TestAttackBulkEnrolmentOff(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		s := tg.enrolledStation("kiosk-01")
		attacker := tg.newPerson("管理员", false)
		_, err := tg.bulk(apiv1.BulkEnrolRequest{Items: []apiv1.BulkEnrolItem{tg.bulkItem(s.p, 3, attacker.fingers), tg.bulkItem(attacker, 3, nil)}})
		refused(t, err, http.StatusForbidden, apiv1.CodeBulkEnrolmentOff)
		tg.holds(t, s.k, s.p, attacker)
		_, err = s.k.Verify(tg.ctx(), tg.verifyRequest(s.k, attacker, attacker.fingers[apiv1.RightIndex]))
		refused(t, err, http.StatusNotFound, apiv1.CodeNotEnrolled)
	})
}

// TestAttackBulkSkipDedupInMigrate: in migrate mode deduplication always
// runs: skip_dedup is refused whole.
func TestAttackBulkSkipDedupInMigrate(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		p := tg.newPerson("迁移", false)
		_, err := tg.bulk(apiv1.BulkEnrolRequest{Items: []apiv1.BulkEnrolItem{tg.bulkItem(p, 3, nil)}, SkipDedup: true})
		refused(t, err, http.StatusForbidden, apiv1.CodeSkipDedupRefused)
		k := tg.newKiosk("kiosk-01")
		_, err = k.Verify(tg.ctx(), tg.verifyRequest(k, p, p.fingers[apiv1.RightIndex]))
		refused(t, err, http.StatusNotFound, apiv1.CodeNotEnrolled)
	}, bulkMode(apiv1.BulkMigrate))
}

// TestAttackBulkEnrolmentTakeover: a dishonest administrator, with bulk
// enrolment switched on for a migration, bulk-enrols their own fingers as
// an enrolled resident, then deletes the resident's enrolment (consent
// withdrawn) and tries again: each item is refused already_enrolled and
// the attacker's finger never verifies as the resident; the enrolment in
// force keeps verifying until it is deleted.
func TestAttackBulkEnrolmentTakeover(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		s := tg.enrolledStation("kiosk-01")
		attacker := tg.newPerson("管理员", false)
		out, err := tg.bulk(apiv1.BulkEnrolRequest{Items: []apiv1.BulkEnrolItem{tg.bulkItem(s.p, 3, attacker.fingers)}})
		wantRefusedItems(t, out, err, apiv1.CodeAlreadyEnrolled)
		tg.holds(t, s.k, s.p, attacker)

		must(t, tg.admin.Do(tg.ctx(), http.MethodPost, apiv1.PathAdminResidents+"/enrolment/delete", apiv1.EnrolmentDeletion{IDNumber: s.p.card.IDNumber, Reason: "consent withdrawn"}, nil))
		out, err = tg.bulk(apiv1.BulkEnrolRequest{Items: []apiv1.BulkEnrolItem{tg.bulkItem(s.p, 3, attacker.fingers)}})
		wantRefusedItems(t, out, err, apiv1.CodeAlreadyEnrolled)
		_, err = s.k.Verify(tg.ctx(), tg.verifyRequest(s.k, s.p, attacker.fingers[apiv1.RightIndex]))
		refused(t, err, http.StatusNotFound, apiv1.CodeNotEnrolled)
	}, bulkMode(apiv1.BulkMigrate))
}

// TestAttackDeleteThenFirstEnrolment: an administrator deletes an enrolled
// resident's enrolment (consent withdrawn) so that a kiosk enrolment would
// be a first one, needing no approval; the station staff member then
// enrols the attacker's fingers. It is only a pending replacement: nothing
// verifies, the requester cannot approve it, and a supervisor cannot
// approve it on a "match" (there is nothing left to match).
func TestAttackDeleteThenFirstEnrolment(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		s := tg.enrolledStation("kiosk-01")
		attacker := tg.newPerson("攻击者", false)
		tg.staffInStore("boss", store.RoleSupervisor, "", tg.station)
		must(t, tg.admin.Do(tg.ctx(), http.MethodPost, apiv1.PathAdminResidents+"/enrolment/delete", apiv1.EnrolmentDeletion{IDNumber: s.p.card.IDNumber, Reason: "consent withdrawn"}, nil))
		r, err := s.staff.Enrol(tg.ctx(), tg.enrolRequest(s.staff, s.p, attacker.fingers))
		if err != nil || !r.Pending || r.ReplacementID == 0 {
			t.Fatalf("ATTACK SUCCEEDED: an enrolment after a deletion = %+v, %v; want a pending replacement", r, err)
		}
		_, err = s.k.Verify(tg.ctx(), tg.verifyRequest(s.k, s.p, attacker.fingers[apiv1.RightIndex]))
		refused(t, err, http.StatusNotFound, apiv1.CodeNotEnrolled)
		approve := func(c *apiv1.Client, basis string) error {
			return c.Do(tg.ctx(), http.MethodPost, fmt.Sprintf("%s/%d/approve", apiv1.PathReplacements, r.ReplacementID),
				apiv1.ReplacementDecision{Basis: basis, Reason: "approved, trust me"}, nil)
		}
		// The requester's kiosk session is valid only at the kiosk; their
		// office session is refused as the requester.
		refused(t, approve(s.staff.Client, apiv1.BasisInPerson), http.StatusForbidden, apiv1.CodeSessionKioskBound)
		refused(t, approve(tg.login("staff-kiosk-01"), apiv1.BasisInPerson), http.StatusForbidden, apiv1.CodeSelfApproval)
		refused(t, approve(tg.admin, apiv1.BasisInPerson), http.StatusForbidden, apiv1.CodeNotApprover)
		refused(t, approve(tg.login("boss"), apiv1.BasisMatch), http.StatusUnprocessableEntity, apiv1.CodePreviousNoMatch)
		_, err = s.k.Verify(tg.ctx(), tg.verifyRequest(s.k, s.p, attacker.fingers[apiv1.RightIndex]))
		refused(t, err, http.StatusNotFound, apiv1.CodeNotEnrolled)
	})
}

// TestAttackBulkTemplates: even in unchecked mode (skip_dedup allowed), a
// bulk item with more or fewer than 3 templates of a finger, or with
// another person's template among a finger's 3, is refused alone
// (template_count, enrolment_inconsistent) and stores nothing.
func TestAttackBulkTemplates(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		other := tg.newPerson("他人", false)
		four, two, mixed := tg.newPerson("四", false), tg.newPerson("二", false), tg.newPerson("混", false)
		mixedItem := tg.bulkItem(mixed, 3, nil)
		mixedItem.Fingers[0].Templates[1] = tg.template(other.fingers[apiv1.RightIndex], apiv1.RightIndex).Tmpl
		out, err := tg.bulk(apiv1.BulkEnrolRequest{SkipDedup: true, Items: []apiv1.BulkEnrolItem{
			tg.bulkItem(four, 4, nil), tg.bulkItem(two, 2, nil), mixedItem,
		}})
		wantRefusedItems(t, out, err, apiv1.CodeTemplateCount, apiv1.CodeTemplateCount, apiv1.CodeEnrolmentInconsistent)
		if f := out.Refused[2].Fields[apiv1.CaptureField(apiv1.RightIndex, 1)]; f == "" {
			t.Errorf("the inconsistent item does not name the odd template: %+v", out.Refused[2])
		}
		k := tg.newKiosk("kiosk-01")
		for _, p := range []*person{four, two, mixed} {
			_, err := k.Verify(tg.ctx(), tg.verifyRequest(k, p, p.fingers[apiv1.RightIndex]))
			refused(t, err, http.StatusNotFound, apiv1.CodeNotEnrolled)
		}
		_, err = k.Verify(tg.ctx(), tg.verifyRequest(k, mixed, other.fingers[apiv1.RightIndex]))
		refused(t, err, http.StatusNotFound, apiv1.CodeNotEnrolled)
	}, bulkMode(apiv1.BulkUnchecked))
}

// TestAttackBulkRacesKiosk: a dishonest administrator bulk-enrols their own
// fingers as a resident at the moment station staff enrol the resident at
// a kiosk. Exactly one enrolment is in force: if the bulk item landed, the
// kiosk's enrolment is a pending replacement; if the kiosk's landed, the
// bulk item is refused already_enrolled.
func TestAttackBulkRacesKiosk(t *testing.T) {
	forEach(t, func(t *testing.T, tg *target) {
		tg.staffInStore("zhang", store.RoleStationStaff, "", tg.station)
		k := tg.newKiosk("kiosk-01")
		sk := k.staffAt("zhang")
		p := tg.newPerson("居民", false)
		attacker := tg.newPerson("管理员", false)
		enrolReq := tg.enrolRequest(sk, p, nil)
		item := tg.bulkItem(p, 3, attacker.fingers)
		var wg sync.WaitGroup
		var kioskResp *apiv1.EnrolResponse
		var kioskErr, bulkErr error
		var bulkOut apiv1.BulkEnrolResult
		start := make(chan struct{})
		wg.Add(2)
		go func() { defer wg.Done(); <-start; kioskResp, kioskErr = sk.Enrol(tg.ctx(), enrolReq) }()
		go func() {
			defer wg.Done()
			<-start
			bulkOut, bulkErr = tg.bulk(apiv1.BulkEnrolRequest{Items: []apiv1.BulkEnrolItem{item}})
		}()
		close(start)
		wg.Wait()
		if kioskErr != nil || bulkErr != nil {
			t.Fatalf("kiosk %v, bulk %v", kioskErr, bulkErr)
		}
		switch {
		case bulkOut.Enrolled == 1 && kioskResp.Pending:
			// The administrator's fingers landed first: the resident's own
			// enrolment waits for a supervisor (who sees no match).
			_, err := k.Verify(tg.ctx(), tg.verifyRequest(k, p, p.fingers[apiv1.RightIndex]))
			refused(t, err, http.StatusUnauthorized, apiv1.CodeNoMatch)
		case bulkOut.Enrolled == 0 && !kioskResp.Pending:
			wantRefusedItems(t, bulkOut, nil, apiv1.CodeAlreadyEnrolled)
			tg.holds(t, k, p, attacker)
		default:
			t.Fatalf("ATTACK SUCCEEDED: kiosk %+v and bulk %+v both landed or neither", kioskResp, bulkOut)
		}
	}, bulkMode(apiv1.BulkMigrate))
}
