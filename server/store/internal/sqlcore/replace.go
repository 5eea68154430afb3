package sqlcore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// adForPending binds a sealed blob of a pending replacement to its place:
// which field, of which sample (replacement, finger, index), of which
// resident. It differs from adFor, so a pending blob copied into samples (or
// back) fails to open.
func adForPending(field string, replacementID int64, finger, idx int, residentID int64) []byte {
	return fmt.Appendf(nil, "veinkiosk/pending-%s/v1|replacement:%d|finger:%d|sample:%d|resident:%d", field, replacementID, finger, idx, residentID)
}

func fingerList(fs []store.ReplacementFinger) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = strconv.Itoa(f.Finger)
	}
	return strings.Join(parts, ",")
}

func parseFingerList(v string) ([]store.ReplacementFinger, error) {
	var out []store.ReplacementFinger
	for _, p := range strings.Split(v, ",") {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("replacement fingers %q: %w", v, err)
		}
		out = append(out, store.ReplacementFinger{Finger: n})
	}
	return out, nil
}

// RequestReplacement stores a pending replacement with its sealed samples.
func (s *Store) RequestReplacement(ctx context.Context, actor audit.Actor, nr store.NewReplacement) (store.Replacement, error) {
	if err := checkActor(actor); err != nil {
		return store.Replacement{}, err
	}
	switch {
	case nr.ResidentID == 0:
		return store.Replacement{}, invalid("a replacement needs the resident")
	case nr.RequestedBy == 0:
		return store.Replacement{}, invalid("a replacement needs the requesting staff member")
	case nr.KioskID == "" || nr.StationID == "":
		return store.Replacement{}, invalid("a replacement needs the kiosk and its station")
	case len(nr.Fingers) == 0 || len(nr.Fingers) > 10:
		return store.Replacement{}, invalid("a replacement needs 1..10 fingers, got %d", len(nr.Fingers))
	}
	seen := map[int]bool{}
	for _, f := range nr.Fingers {
		if f.Finger < 1 || f.Finger > 10 || seen[f.Finger] {
			return store.Replacement{}, invalid("finger position %d: want distinct positions 1..10", f.Finger)
		}
		seen[f.Finger] = true
		if err := checkSamples(f.Samples); err != nil {
			return store.Replacement{}, err
		}
	}
	at := s.at(nr.CreatedAt)
	r := store.Replacement{
		ResidentID: nr.ResidentID, Status: store.ReplacementPending, RequestedBy: nr.RequestedBy,
		KioskID: nr.KioskID, StationID: nr.StationID, ScannerSerial: nr.ScannerSerial,
		PreviousScore: nr.PreviousScore, PreviousMatch: nr.PreviousMatch, CreatedAt: at,
	}
	for _, f := range nr.Fingers {
		r.Fingers = append(r.Fingers, store.ReplacementFinger{Finger: f.Finger})
	}
	err := s.tx(ctx, WriteTx, func(q Q) error {
		var status string
		if err := q.QueryRow(ctx, `SELECT status FROM residents WHERE id = $1`+s.d.ForUpdate, r.ResidentID).Scan(&status); err != nil {
			return notFound(err, "resident", r.ResidentID)
		}
		if status != string(store.ResidentActive) {
			return fmt.Errorf("%w: resident %d is %s", store.ErrInactive, r.ResidentID, status)
		}
		var pending int64
		err := q.QueryRow(ctx, `SELECT id FROM enrolment_replacements WHERE resident_id = $1 AND status = 'pending'`, r.ResidentID).Scan(&pending)
		if err == nil {
			return fmt.Errorf("%w: replacement %d of resident %d is already pending", store.ErrConflict, pending, r.ResidentID)
		} else if !isNotFound(err) {
			return err
		}
		if err := q.QueryRow(ctx, `INSERT INTO enrolment_replacements (resident_id, status, requested_by, kiosk_id, station_id, scanner_serial, previous_score, previous_match, fingers, created_at)
			VALUES ($1, 'pending', $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
			r.ResidentID, r.RequestedBy, r.KioskID, r.StationID, r.ScannerSerial, r.PreviousScore, r.PreviousMatch, fingerList(r.Fingers), s.t(at)).Scan(&r.ID); err != nil {
			return err
		}
		n := 0
		for _, f := range nr.Fingers {
			for i, sm := range f.Samples {
				tpl, err := s.ring.Seal(sm.Template, adForPending("template", r.ID, f.Finger, i, r.ResidentID))
				if err != nil {
					return err
				}
				var img any
				if len(sm.Image) > 0 {
					if img, err = s.ring.Seal(sm.Image, adForPending("image", r.ID, f.Finger, i, r.ResidentID)); err != nil {
						return err
					}
				}
				if _, err := q.Exec(ctx, `INSERT INTO replacement_samples (replacement_id, finger, idx, algorithm_version, quality, key_id, template, image)
					VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
					r.ID, f.Finger, i, sm.AlgorithmVersion, sm.Quality, s.ring.Primary(), tpl, img); err != nil {
					return err
				}
				n++
			}
		}
		_, err = s.appendAudit(ctx, q, ev(actor, at, "enrolment.replacement.request", "replacement:"+itoa(r.ID),
			"resident", itoa(r.ResidentID), "status", string(r.Status), "requested_by", itoa(r.RequestedBy),
			"kiosk", r.KioskID, "station", r.StationID, "scanner", r.ScannerSerial, "fingers", fingerList(r.Fingers),
			"samples", itoa(int64(n)), "previous_score", strconv.FormatFloat(r.PreviousScore, 'f', 4, 64), "previous_match", strconv.FormatBool(r.PreviousMatch)))
		return err
	})
	if err != nil {
		return store.Replacement{}, err
	}
	return r, nil
}

const replacementCols = `id, resident_id, status, requested_by, kiosk_id, station_id, scanner_serial, previous_score, previous_match, fingers, created_at, decided_by, decided_at, basis, reason`

// scanReplacement reads a replacementCols row and opens the sealed reason.
func (s *Store) scanReplacement(row interface{ Scan(...any) error }) (store.Replacement, error) {
	var r store.Replacement
	var status, basis, fingers, reason string
	if err := row.Scan(&r.ID, &r.ResidentID, &status, &r.RequestedBy, &r.KioskID, &r.StationID, &r.ScannerSerial, &r.PreviousScore,
		&r.PreviousMatch, &fingers, tm{&r.CreatedAt}, nint{&r.DecidedBy}, ntm{&r.DecidedAt}, &basis, &reason); err != nil {
		return r, err
	}
	r.Status, r.Basis = store.ReplacementStatus(status), store.ReplacementBasis(basis)
	var err error
	if r.Fingers, err = parseFingerList(fingers); err != nil {
		return r, err
	}
	r.Reason, err = s.openText(reason, adReplacementReason(r.ID))
	return r, err
}

// replacementDetail fills what a replacement row does not hold: the
// enrolments an approval created and, if asked, the pending samples.
func (s *Store) replacementDetail(ctx context.Context, q Q, r *store.Replacement, samples bool) error {
	rows, err := q.Query(ctx, `SELECT id FROM enrolments WHERE replacement_id = $1 ORDER BY id`, r.ID)
	if err != nil {
		return err
	}
	r.Enrolments = nil
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		r.Enrolments = append(r.Enrolments, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if !samples {
		return nil
	}
	rows, err = q.Query(ctx, `SELECT finger, idx, algorithm_version, quality, template, image FROM replacement_samples
		WHERE replacement_id = $1 ORDER BY finger, idx`, r.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var finger, idx int
		var sm store.Sample
		var tpl, img []byte
		if err := rows.Scan(&finger, &idx, &sm.AlgorithmVersion, &sm.Quality, &tpl, &img); err != nil {
			return err
		}
		if sm.Template, err = s.openPending(tpl, "template", r.ID, finger, idx, r.ResidentID); err != nil {
			return err
		}
		if len(img) > 0 {
			if sm.Image, err = s.openPending(img, "image", r.ID, finger, idx, r.ResidentID); err != nil {
				return err
			}
		}
		i := slices.IndexFunc(r.Fingers, func(f store.ReplacementFinger) bool { return f.Finger == finger })
		if i < 0 {
			return fmt.Errorf("replacement %d: sample of finger %d, which is not in the request", r.ID, finger)
		}
		r.Fingers[i].Samples = append(r.Fingers[i].Samples, sm)
	}
	return rows.Err()
}

func (s *Store) openPending(blob []byte, field string, rid int64, finger, idx int, resident int64) ([]byte, error) {
	pt, err := s.ring.Open(blob, adForPending(field, rid, finger, idx, resident))
	if err != nil {
		return nil, fmt.Errorf("%w: %s of replacement %d finger %d sample %d: %w", store.ErrDecrypt, field, rid, finger, idx, err)
	}
	return pt, nil
}

// GetReplacement returns a replacement, with its pending samples if asked.
func (s *Store) GetReplacement(ctx context.Context, id int64, samples bool) (store.Replacement, error) {
	var r store.Replacement
	err := s.tx(ctx, ReadTx, func(q Q) error {
		var err error
		if r, err = s.scanReplacement(q.QueryRow(ctx, `SELECT `+replacementCols+` FROM enrolment_replacements WHERE id = $1`, id)); err != nil {
			return notFound(err, "replacement", id)
		}
		return s.replacementDetail(ctx, q, &r, samples)
	})
	return r, err
}

// ListReplacements lists replacements, newest first.
func (s *Store) ListReplacements(ctx context.Context, f store.ReplacementFilter) ([]store.Replacement, error) {
	var out []store.Replacement
	err := s.tx(ctx, ReadTx, func(q Q) error {
		out = nil
		where, args := []string{"1 = 1"}, []any{}
		add := func(cond string, v any) {
			args = append(args, v)
			where = append(where, fmt.Sprintf(cond, len(args)))
		}
		if f.Status != "" {
			add("status = $%d", string(f.Status))
		}
		if f.StationID != "" {
			add("station_id = $%d", f.StationID)
		}
		if f.ResidentID != 0 {
			add("resident_id = $%d", f.ResidentID)
		}
		n := f.Limit
		if n <= 0 {
			n = 200
		}
		args = append(args, limit(n))
		rows, err := q.Query(ctx, `SELECT `+replacementCols+` FROM enrolment_replacements WHERE `+strings.Join(where, " AND ")+
			fmt.Sprintf(` ORDER BY id DESC LIMIT $%d`, len(args)), args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			r, err := s.scanReplacement(rows)
			if err != nil {
				rows.Close()
				return err
			}
			out = append(out, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i := range out {
			if err := s.replacementDetail(ctx, q, &out[i], false); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// DecideReplacement approves or rejects a pending replacement.
func (s *Store) DecideReplacement(ctx context.Context, actor audit.Actor, id int64, d store.ReplacementDecision) (store.Replacement, error) {
	if err := checkActor(actor); err != nil {
		return store.Replacement{}, err
	}
	if d.Supervisor == 0 {
		return store.Replacement{}, invalid("a replacement decision needs the supervisor")
	}
	if strings.TrimSpace(d.Reason) == "" {
		return store.Replacement{}, invalid("a replacement decision needs a reason")
	}
	if d.Approve {
		if d.Basis != store.BasisMatch && d.Basis != store.BasisInPerson {
			return store.Replacement{}, invalid("replacement basis %q: want match or in_person", d.Basis)
		}
	} else if d.Basis != "" {
		return store.Replacement{}, invalid("a rejection has no basis")
	}
	at := s.at(d.At)
	var r store.Replacement
	err := s.tx(ctx, WriteTx, func(q Q) error {
		var err error
		if r, err = s.scanReplacement(q.QueryRow(ctx, `SELECT `+replacementCols+` FROM enrolment_replacements WHERE id = $1`+s.d.ForUpdate, id)); err != nil {
			return notFound(err, "replacement", id)
		}
		if r.Status != store.ReplacementPending {
			return fmt.Errorf("%w: replacement %d is already %s", store.ErrConflict, id, r.Status)
		}
		if d.Supervisor == r.RequestedBy {
			return fmt.Errorf("%w: staff %d requested replacement %d", store.ErrSelfApproval, d.Supervisor, id)
		}
		var role, station string
		var disabled bool
		if err := q.QueryRow(ctx, `SELECT role, COALESCE(station_id, ''), disabled FROM staff WHERE id = $1`, d.Supervisor).Scan(&role, &station, &disabled); err != nil {
			return notFound(err, "staff", d.Supervisor)
		}
		if disabled {
			return fmt.Errorf("%w: staff %d is disabled", store.ErrInactive, d.Supervisor)
		}
		if role != string(store.RoleSupervisor) || station != r.StationID {
			return fmt.Errorf("%w: staff %d is %s of station %q; replacement %d belongs to station %q",
				store.ErrNotApprover, d.Supervisor, role, station, id, r.StationID)
		}
		if d.Approve && d.Basis == store.BasisMatch && !r.PreviousMatch {
			return fmt.Errorf("%w: replacement %d", store.ErrNoPreviousMatch, id)
		}
		status := store.ReplacementRejected
		if d.Approve {
			status = store.ReplacementApproved
		}
		kv := []string{"resident", itoa(r.ResidentID), "status", string(status), "supervisor", itoa(d.Supervisor),
			"requested_by", itoa(r.RequestedBy), "reason_sha256", reasonDigest(d.Reason)}
		if d.Approve {
			if err := s.replacementDetail(ctx, q, &r, true); err != nil {
				return err
			}
			superseded, created, err := s.applyReplacement(ctx, q, actor, at, &r)
			if err != nil {
				return err
			}
			kv = append(kv, "basis", string(d.Basis), "superseded", joinIDs(superseded), "enrolments", joinIDs(created))
			r.Enrolments = created
			if err := s.logChange(ctx, q, store.ChangeResident, itoa(r.ResidentID), at); err != nil {
				return err
			}
		}
		// The pending samples go either way: approved, they now live (re-sealed)
		// as the enrolment's samples; rejected, they are not kept.
		if _, err := q.Exec(ctx, `DELETE FROM replacement_samples WHERE replacement_id = $1`, id); err != nil {
			return err
		}
		// The reason may name people: it is sealed like a filing's reply.
		reason, err := s.sealText(d.Reason, adReplacementReason(id))
		if err != nil {
			return err
		}
		if _, err := q.Exec(ctx, `UPDATE enrolment_replacements SET status = $2, decided_by = $3, decided_at = $4, basis = $5, reason = $6 WHERE id = $1`,
			id, string(status), d.Supervisor, s.t(at), string(d.Basis), reason); err != nil {
			return err
		}
		r.Status, r.DecidedBy, r.DecidedAt, r.Basis, r.Reason = status, d.Supervisor, &at, d.Basis, d.Reason
		for i := range r.Fingers {
			r.Fingers[i].Samples = nil
		}
		action := "enrolment.replacement.reject"
		if d.Approve {
			action = "enrolment.replacement.approve"
		}
		_, err = s.appendAudit(ctx, q, ev(actor, at, action, "replacement:"+itoa(id), kv...))
		return err
	})
	if err != nil {
		return store.Replacement{}, err
	}
	return r, nil
}

// applyReplacement supersedes every active enrolment of r's resident and
// enrols r's fingers (samples loaded), each with its own enrolment.replace
// audit event carrying the new state.
func (s *Store) applyReplacement(ctx context.Context, q Q, actor audit.Actor, at time.Time, r *store.Replacement) (superseded, created []int64, err error) {
	var status string
	if err := q.QueryRow(ctx, `SELECT status FROM residents WHERE id = $1`, r.ResidentID).Scan(&status); err != nil {
		return nil, nil, notFound(err, "resident", r.ResidentID)
	}
	if status != string(store.ResidentActive) {
		return nil, nil, fmt.Errorf("%w: resident %d is %s", store.ErrInactive, r.ResidentID, status)
	}
	rows, err := q.Query(ctx, `SELECT id FROM enrolments WHERE resident_id = $1 AND superseded_at IS NULL ORDER BY id`+s.d.ForUpdate, r.ResidentID)
	if err != nil {
		return nil, nil, err
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, nil, err
		}
		superseded = append(superseded, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	for _, id := range superseded {
		if _, err := q.Exec(ctx, `UPDATE enrolments SET superseded_at = $2 WHERE id = $1`, id, s.t(at)); err != nil {
			return nil, nil, err
		}
		if _, err := q.Exec(ctx, `DELETE FROM samples WHERE enrolment_id = $1`, id); err != nil {
			return nil, nil, err
		}
	}
	for _, f := range r.Fingers {
		if len(f.Samples) == 0 {
			return nil, nil, fmt.Errorf("%w: replacement %d has no samples of finger %d", store.ErrConflict, r.ID, f.Finger)
		}
		e := store.Enrolment{ResidentID: r.ResidentID, Finger: f.Finger, EnrolledBy: r.RequestedBy, KioskID: r.KioskID, ScannerSerial: r.ScannerSerial, CreatedAt: at}
		if err := s.insertEnrolment(ctx, q, &e, f.Samples, r.ID); err != nil {
			return nil, nil, err
		}
		created = append(created, e.ID)
		if _, err := s.appendAudit(ctx, q, ev(actor, at, "enrolment.replace", "enrolment:"+itoa(e.ID),
			"finger", itoa(int64(e.Finger)), "samples", itoa(int64(len(e.Samples))), "kiosk", e.KioskID, "scanner", e.ScannerSerial,
			"resident", itoa(e.ResidentID), "replacement", itoa(r.ID), "enrolled_by", itoa(e.EnrolledBy), "superseded", joinIDs(superseded))); err != nil {
			return nil, nil, err
		}
	}
	return superseded, created, nil
}

// reasonDigest stands for a decision's free-text reason in the audit: the
// text stays, sealed, in the replacement row (it may name people), the
// chain binds it.
func reasonDigest(reason string) string {
	sum := sha256.Sum256([]byte(reason))
	return hex.EncodeToString(sum[:])
}

func joinIDs(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = itoa(id)
	}
	return strings.Join(parts, ",")
}

// EnrolmentHistory returns every enrolment of a resident, oldest first.
func (s *Store) EnrolmentHistory(ctx context.Context, residentID int64) ([]store.Enrolment, error) {
	var out []store.Enrolment
	err := s.tx(ctx, ReadTx, func(q Q) error {
		out = nil
		rows, err := q.Query(ctx, `SELECT `+enrolmentCols+` FROM enrolments e JOIN residents r ON r.id = e.resident_id
			WHERE e.resident_id = $1 ORDER BY e.id`, residentID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e, err := s.scanEnrolment(rows)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return rows.Err()
	})
	return out, err
}

// reencryptPending re-seals the samples of pending replacements that are
// not under the primary key, in batches, as Reencrypt does for enrolments.
func (s *Store) reencryptPending(ctx context.Context, primary string, batch int) (samples, blobs int, err error) {
	var after int64
	for {
		var n, b int
		var last int64
		err := s.tx(ctx, WriteTx, func(q Q) error {
			n, b, last = 0, 0, after
			rows, err := q.Query(ctx, `SELECT rs.id, rs.replacement_id, rs.finger, rs.idx, r.resident_id, rs.template, rs.image
				FROM replacement_samples rs JOIN enrolment_replacements r ON r.id = rs.replacement_id
				WHERE rs.id > $1 AND rs.key_id <> $2 ORDER BY rs.id LIMIT $3`+s.d.ForUpdate, after, primary, batch)
			if err != nil {
				return err
			}
			type row struct {
				id, rid, resident int64
				finger, idx       int
				tpl, img          []byte
			}
			var todo []row
			for rows.Next() {
				var x row
				if err := rows.Scan(&x.id, &x.rid, &x.finger, &x.idx, &x.resident, &x.tpl, &x.img); err != nil {
					rows.Close()
					return err
				}
				todo = append(todo, x)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, x := range todo {
				tpl, err := s.ring.Reseal(x.tpl, adForPending("template", x.rid, x.finger, x.idx, x.resident))
				if err != nil {
					return fmt.Errorf("%w: template of pending sample %d: %w", store.ErrDecrypt, x.id, err)
				}
				var img any
				if len(x.img) > 0 {
					if img, err = s.ring.Reseal(x.img, adForPending("image", x.rid, x.finger, x.idx, x.resident)); err != nil {
						return fmt.Errorf("%w: image of pending sample %d: %w", store.ErrDecrypt, x.id, err)
					}
					b++
				}
				b++
				if _, err := q.Exec(ctx, `UPDATE replacement_samples SET template = $2, image = $3, key_id = $4 WHERE id = $1`, x.id, tpl, img, primary); err != nil {
					return err
				}
				last = x.id
			}
			n = len(todo)
			return nil
		})
		if err != nil {
			return samples, blobs, err
		}
		samples += n
		blobs += b
		after = last
		if n < batch {
			return samples, blobs, nil
		}
	}
}
