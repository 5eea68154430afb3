package sqlcore

import (
	"context"
	"fmt"

	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// Limits on an enrolment.
const (
	maxSamples      = 16
	maxTemplateSize = 1 << 20
	maxImageSize    = 16 << 20
)

// adFor returns the associated data that binds a sealed blob to its place:
// which field, of which sample (enrolment and index), of which resident and
// finger. A blob copied to any other place fails to open.
func adFor(field string, enrolmentID int64, idx int, residentID int64, finger int) []byte {
	return fmt.Appendf(nil, "veinkiosk/%s/v1|enrolment:%d|sample:%d|resident:%d|finger:%d", field, enrolmentID, idx, residentID, finger)
}

func (s *Store) open(blob []byte, field string, eid int64, idx int, rid int64, finger int) ([]byte, error) {
	pt, err := s.ring.Open(blob, adFor(field, eid, idx, rid, finger))
	if err != nil {
		return nil, fmt.Errorf("%w: %s of enrolment %d sample %d: %w", store.ErrDecrypt, field, eid, idx, err)
	}
	return pt, nil
}

// Enrol stores a finger's samples, replacing an earlier enrolment.
func (s *Store) Enrol(ctx context.Context, actor audit.Actor, ne store.NewEnrolment) (store.Enrolment, error) {
	if err := checkActor(actor); err != nil {
		return store.Enrolment{}, err
	}
	if ne.Finger < 1 || ne.Finger > 10 {
		return store.Enrolment{}, invalid("finger position %d: want 1..10 (ISO/IEC 19794)", ne.Finger)
	}
	if err := checkSamples(ne.Samples); err != nil {
		return store.Enrolment{}, err
	}
	at := s.at(ne.CreatedAt)
	e := store.Enrolment{
		IDNumber: canonID(ne.IDNumber), Finger: ne.Finger, EnrolledBy: ne.EnrolledBy,
		KioskID: ne.KioskID, ScannerSerial: ne.ScannerSerial, CreatedAt: at,
	}
	err := s.tx(ctx, WriteTx, func(q Q) error {
		var status string
		if err := q.QueryRow(ctx, `SELECT id, status FROM residents WHERE id_key = $1`, s.idKey(e.IDNumber)).Scan(&e.ResidentID, &status); err != nil {
			return notFound(err, "resident", "")
		}
		if status != string(store.ResidentActive) {
			return fmt.Errorf("%w: resident %d is %s", store.ErrInactive, e.ResidentID, status)
		}
		// Supersede the finger's current enrolment and drop its samples.
		var replaced []int64
		rows, err := q.Query(ctx, `SELECT id FROM enrolments WHERE resident_id = $1 AND finger = $2 AND superseded_at IS NULL`+s.d.ForUpdate, e.ResidentID, e.Finger)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			replaced = append(replaced, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range replaced {
			if _, err := q.Exec(ctx, `UPDATE enrolments SET superseded_at = $2 WHERE id = $1`, id, s.t(at)); err != nil {
				return err
			}
			if _, err := q.Exec(ctx, `DELETE FROM samples WHERE enrolment_id = $1`, id); err != nil {
				return err
			}
		}
		if err := s.insertEnrolment(ctx, q, &e, ne.Samples, 0); err != nil {
			return err
		}
		action := "enrolment.create"
		kv := []string{"finger", itoa(int64(e.Finger)), "samples", itoa(int64(len(e.Samples))), "kiosk", e.KioskID, "scanner", e.ScannerSerial}
		if len(replaced) > 0 {
			action = "enrolment.replace"
			kv = append(kv, "replaced", itoa(replaced[0]))
		}
		if err := s.logChange(ctx, q, store.ChangeResident, itoa(e.ResidentID), at); err != nil {
			return err
		}
		_, err = s.appendAudit(ctx, q, ev(actor, at, action, "enrolment:"+itoa(e.ID), append(kv, "resident", itoa(e.ResidentID))...))
		return err
	})
	if err != nil {
		return store.Enrolment{}, err
	}
	return e, nil
}

// EnrolFirst stores a resident's first enrolment, all fingers at once. The
// resident's row is locked first (PostgreSQL: FOR UPDATE; SQLite: the
// single writer of BEGIN IMMEDIATE), as RequestReplacement and
// DecideReplacement lock it, so the check that the resident was never
// enrolled and the insert cannot be split by another first enrolment.
func (s *Store) EnrolFirst(ctx context.Context, actor audit.Actor, nf store.NewFirstEnrolment) ([]store.Enrolment, error) {
	if err := checkActor(actor); err != nil {
		return nil, err
	}
	if len(nf.Fingers) == 0 || len(nf.Fingers) > 10 {
		return nil, invalid("a first enrolment needs 1..10 fingers, got %d", len(nf.Fingers))
	}
	seen := map[int]bool{}
	for _, f := range nf.Fingers {
		if f.Finger < 1 || f.Finger > 10 || seen[f.Finger] {
			return nil, invalid("finger position %d: want distinct positions 1..10 (ISO/IEC 19794)", f.Finger)
		}
		seen[f.Finger] = true
		if err := checkSamples(f.Samples); err != nil {
			return nil, err
		}
	}
	at := s.at(nf.CreatedAt)
	idn := canonID(nf.IDNumber)
	var out []store.Enrolment
	err := s.tx(ctx, WriteTx, func(q Q) error {
		out = nil
		var rid int64
		var status string
		if err := q.QueryRow(ctx, `SELECT id, status FROM residents WHERE id_key = $1`+s.d.ForUpdate, s.idKey(idn)).Scan(&rid, &status); err != nil {
			return notFound(err, "resident", "")
		}
		if status != string(store.ResidentActive) {
			return fmt.Errorf("%w: resident %d is %s", store.ErrInactive, rid, status)
		}
		var n int64
		if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM enrolments WHERE resident_id = $1`, rid).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%w: resident %d has %d enrolments on record", store.ErrAlreadyEnrolled, rid, n)
		}
		if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM enrolment_replacements WHERE resident_id = $1 AND status = 'pending'`, rid).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%w: a replacement of resident %d is pending", store.ErrAlreadyEnrolled, rid)
		}
		for _, f := range nf.Fingers {
			e := store.Enrolment{
				ResidentID: rid, IDNumber: idn, Finger: f.Finger, EnrolledBy: nf.EnrolledBy,
				KioskID: nf.KioskID, ScannerSerial: nf.ScannerSerial, CreatedAt: at,
			}
			if err := s.insertEnrolment(ctx, q, &e, f.Samples, 0); err != nil {
				return err
			}
			if _, err := s.appendAudit(ctx, q, ev(actor, at, "enrolment.create", "enrolment:"+itoa(e.ID),
				"finger", itoa(int64(e.Finger)), "samples", itoa(int64(len(e.Samples))), "kiosk", e.KioskID, "scanner", e.ScannerSerial,
				"resident", itoa(rid), "first", "true")); err != nil {
				return err
			}
			out = append(out, e)
		}
		return s.logChange(ctx, q, store.ChangeResident, itoa(rid), at)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// checkSamples validates the samples of one finger.
func checkSamples(samples []store.Sample) error {
	if len(samples) == 0 || len(samples) > maxSamples {
		return invalid("an enrolment needs 1..%d samples, got %d", maxSamples, len(samples))
	}
	for i, sm := range samples {
		switch {
		case len(sm.Template) == 0 || len(sm.Template) > maxTemplateSize:
			return invalid("sample %d: template must have 1..%d bytes", i, maxTemplateSize)
		case len(sm.Image) > maxImageSize:
			return invalid("sample %d: image larger than %d bytes", i, maxImageSize)
		case sm.AlgorithmVersion == "":
			return invalid("sample %d: algorithm version is empty", i)
		case sm.Quality < 0 || sm.Quality > 100:
			return invalid("sample %d: quality %d out of 0..100", i, sm.Quality)
		}
	}
	return nil
}

// insertEnrolment inserts e (ResidentID, Finger, EnrolledBy, KioskID,
// ScannerSerial, CreatedAt set) and its samples, sealed, and sets e.ID and
// e.Samples (ids, no blobs). replacementID links an enrolment made by an
// approved replacement (0: none).
func (s *Store) insertEnrolment(ctx context.Context, q Q, e *store.Enrolment, samples []store.Sample, replacementID int64) error {
	if err := q.QueryRow(ctx, `INSERT INTO enrolments (resident_id, finger, enrolled_by, kiosk_id, scanner_serial, created_at, replacement_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		e.ResidentID, e.Finger, nullIfZero(e.EnrolledBy), nullIfEmpty(e.KioskID), e.ScannerSerial, s.t(e.CreatedAt), nullIfZero(replacementID)).Scan(&e.ID); err != nil {
		return err
	}
	e.Samples = make([]store.Sample, len(samples))
	for i, sm := range samples {
		tpl, err := s.ring.Seal(sm.Template, adFor("template", e.ID, i, e.ResidentID, e.Finger))
		if err != nil {
			return err
		}
		var img any
		if len(sm.Image) > 0 {
			if img, err = s.ring.Seal(sm.Image, adFor("image", e.ID, i, e.ResidentID, e.Finger)); err != nil {
				return err
			}
		}
		var id int64
		if err := q.QueryRow(ctx, `INSERT INTO samples (enrolment_id, idx, algorithm_version, quality, key_id, template, image)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
			e.ID, i, sm.AlgorithmVersion, sm.Quality, s.ring.Primary(), tpl, img).Scan(&id); err != nil {
			return err
		}
		e.Samples[i] = store.Sample{ID: id, AlgorithmVersion: sm.AlgorithmVersion, Quality: sm.Quality}
	}
	return nil
}

const enrolmentCols = `e.id, e.resident_id, r.id_key, r.pii, e.finger, e.enrolled_by, e.kiosk_id, e.scanner_serial, e.created_at, e.superseded_at`

func (s *Store) scanEnrolment(row interface{ Scan(...any) error }) (store.Enrolment, error) {
	var e store.Enrolment
	var ref residentRef
	err := row.Scan(&e.ID, &e.ResidentID, &ref.key, &ref.sealed, &e.Finger, nint{&e.EnrolledBy}, nstr{&e.KioskID}, &e.ScannerSerial, tm{&e.CreatedAt}, ntm{&e.SupersededAt})
	if err != nil {
		return e, err
	}
	e.IDNumber, err = s.residentIDNumber(e.ResidentID, ref.key, ref.sealed)
	return e, err
}

func (s *Store) samples(ctx context.Context, q Q, e *store.Enrolment, images bool) error {
	imgCol := `NULL`
	if images {
		imgCol = `image`
	}
	rows, err := q.Query(ctx, `SELECT id, idx, algorithm_version, quality, template, `+imgCol+` FROM samples WHERE enrolment_id = $1 ORDER BY idx`, e.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	e.Samples = nil
	for rows.Next() {
		var sm store.Sample
		var idx int
		var tpl, img []byte
		if err := rows.Scan(&sm.ID, &idx, &sm.AlgorithmVersion, &sm.Quality, &tpl, &img); err != nil {
			return err
		}
		if sm.Template, err = s.open(tpl, "template", e.ID, idx, e.ResidentID, e.Finger); err != nil {
			return err
		}
		if len(img) > 0 {
			if sm.Image, err = s.open(img, "image", e.ID, idx, e.ResidentID, e.Finger); err != nil {
				return err
			}
		}
		e.Samples = append(e.Samples, sm)
	}
	return rows.Err()
}

// GetEnrolment returns an enrolment with templates and images.
func (s *Store) GetEnrolment(ctx context.Context, id int64) (store.Enrolment, error) {
	var e store.Enrolment
	err := s.tx(ctx, ReadTx, func(q Q) error {
		var err error
		e, err = s.scanEnrolment(q.QueryRow(ctx, `SELECT `+enrolmentCols+` FROM enrolments e JOIN residents r ON r.id = e.resident_id WHERE e.id = $1`, id))
		if err != nil {
			return notFound(err, "enrolment", id)
		}
		return s.samples(ctx, q, &e, true)
	})
	return e, err
}

// ResidentEnrolments returns the active enrolments of a resident.
func (s *Store) ResidentEnrolments(ctx context.Context, idNumber string) ([]store.Enrolment, error) {
	var out []store.Enrolment
	err := s.tx(ctx, ReadTx, func(q Q) error {
		out = nil
		rows, err := q.Query(ctx, `SELECT `+enrolmentCols+` FROM enrolments e JOIN residents r ON r.id = e.resident_id
			WHERE r.id_key = $1 AND e.superseded_at IS NULL ORDER BY e.finger`, s.idKey(idNumber))
		if err != nil {
			return err
		}
		for rows.Next() {
			e, err := s.scanEnrolment(rows)
			if err != nil {
				rows.Close()
				return err
			}
			out = append(out, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i := range out {
			if err := s.samples(ctx, q, &out[i], false); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// DeleteEnrolments removes a resident's active enrolments.
func (s *Store) DeleteEnrolments(ctx context.Context, actor audit.Actor, idNumber, reason string) (int, error) {
	if err := checkActor(actor); err != nil {
		return 0, err
	}
	now := s.now()
	n := 0
	err := s.tx(ctx, WriteTx, func(q Q) error {
		n = 0
		var rid int64
		if err := q.QueryRow(ctx, `SELECT id FROM residents WHERE id_key = $1`, s.idKey(idNumber)).Scan(&rid); err != nil {
			return notFound(err, "resident", "")
		}
		rows, err := q.Query(ctx, `SELECT id FROM enrolments WHERE resident_id = $1 AND superseded_at IS NULL`+s.d.ForUpdate, rid)
		if err != nil {
			return err
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := q.Exec(ctx, `DELETE FROM samples WHERE enrolment_id = $1`, id); err != nil {
				return err
			}
			if _, err := q.Exec(ctx, `UPDATE enrolments SET superseded_at = $2 WHERE id = $1`, id, s.t(now)); err != nil {
				return err
			}
		}
		n = len(ids)
		if n > 0 {
			if err := s.logChange(ctx, q, store.ChangeResident, itoa(rid), now); err != nil {
				return err
			}
		}
		_, err = s.appendAudit(ctx, q, ev(actor, now, "enrolment.delete", "resident:"+itoa(rid), "count", itoa(int64(n)), "reason", reason))
		return err
	})
	return n, err
}

// ScanTemplates streams active templates in sample-id order.
func (s *Store) ScanTemplates(ctx context.Context, after int64, fn func(store.TemplateRecord) error) error {
	type raw struct {
		rec store.TemplateRecord
		idx int
		tpl []byte
		ref residentRef
	}
	page := make([]raw, 0, s.pageSize)
	var lastRID int64
	var lastID string
	for {
		q, err := s.q()
		if err != nil {
			return err
		}
		page = page[:0]
		// Samples exist only for active enrolments (superseding deletes
		// them), so the page is cut from samples alone, by its primary key,
		// before the joins: the database reads each template once instead
		// of joining (and sorting) the whole gallery for every page.
		rows, err := q.Query(ctx, `SELECT sm.id, sm.idx, e.id, r.id, r.id_key, r.pii, r.status, e.finger, sm.algorithm_version, sm.quality, sm.template
			FROM (SELECT id, idx, enrolment_id, algorithm_version, quality, template FROM samples WHERE id > $1 ORDER BY id LIMIT $2) sm
			JOIN enrolments e ON e.id = sm.enrolment_id JOIN residents r ON r.id = e.resident_id
			ORDER BY sm.id`, after, s.pageSize)
		if err != nil {
			return err
		}
		for rows.Next() {
			var x raw
			var status string
			if err := rows.Scan(&x.rec.SampleID, &x.idx, &x.rec.EnrolmentID, &x.rec.ResidentID, &x.ref.key, &x.ref.sealed, &status, &x.rec.Finger,
				&x.rec.AlgorithmVersion, &x.rec.Quality, &x.tpl); err != nil {
				rows.Close()
				return err
			}
			x.rec.ResidentStatus = store.ResidentStatus(status)
			page = append(page, x)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, x := range page {
			r := x.rec
			// A resident's samples come together: open the sealed record
			// once per resident, not once per template.
			if r.ResidentID == lastRID {
				r.IDNumber = lastID
			} else if r.IDNumber, err = s.residentIDNumber(r.ResidentID, x.ref.key, x.ref.sealed); err != nil {
				return err
			}
			lastRID, lastID = r.ResidentID, r.IDNumber
			if r.Template, err = s.open(x.tpl, "template", r.EnrolmentID, x.idx, r.ResidentID, r.Finger); err != nil {
				return err
			}
			if err := fn(r); err != nil {
				return err
			}
			after = r.SampleID
		}
		if len(page) < s.pageSize {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// Reencrypt re-seals blobs not under the primary key.
func (s *Store) Reencrypt(ctx context.Context, actor audit.Actor) (store.ReencryptStats, error) {
	var st store.ReencryptStats
	if err := checkActor(actor); err != nil {
		return st, err
	}
	primary := s.ring.Primary()
	batch := s.pageSize / 4
	var after int64
	for {
		// The transaction may be retried: count into locals and apply them
		// only once it has committed.
		var n, blobs int
		var last int64
		err := s.tx(ctx, WriteTx, func(q Q) error {
			n, blobs, last = 0, 0, after
			rows, err := q.Query(ctx, `SELECT sm.id, sm.idx, e.id, e.resident_id, e.finger, sm.template, sm.image
				FROM samples sm JOIN enrolments e ON e.id = sm.enrolment_id
				WHERE sm.id > $1 AND sm.key_id <> $2 ORDER BY sm.id LIMIT $3`+s.d.ForUpdate, after, primary, batch)
			if err != nil {
				return err
			}
			type row struct {
				id, eid, rid int64
				idx, finger  int
				tpl, img     []byte
			}
			var todo []row
			for rows.Next() {
				var r row
				if err := rows.Scan(&r.id, &r.idx, &r.eid, &r.rid, &r.finger, &r.tpl, &r.img); err != nil {
					rows.Close()
					return err
				}
				todo = append(todo, r)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, r := range todo {
				tpl, err := s.ring.Reseal(r.tpl, adFor("template", r.eid, r.idx, r.rid, r.finger))
				if err != nil {
					return fmt.Errorf("%w: template of sample %d: %w", store.ErrDecrypt, r.id, err)
				}
				var img any
				if len(r.img) > 0 {
					if img, err = s.ring.Reseal(r.img, adFor("image", r.eid, r.idx, r.rid, r.finger)); err != nil {
						return fmt.Errorf("%w: image of sample %d: %w", store.ErrDecrypt, r.id, err)
					}
					blobs++
				}
				blobs++
				if _, err := q.Exec(ctx, `UPDATE samples SET template = $2, image = $3, key_id = $4 WHERE id = $1`, r.id, tpl, img, primary); err != nil {
					return err
				}
				last = r.id
			}
			n = len(todo)
			return nil
		})
		if err != nil {
			return st, err
		}
		st.Samples += n
		st.Reencrypted += blobs
		after = last
		if n > 0 {
			s.opts.Logger.Info("store: re-encrypting biometric data", "samples", st.Samples, "primary", primary)
		}
		if n < batch {
			break
		}
	}
	pending, pendingBlobs, err := s.reencryptPending(ctx, primary, batch)
	if err != nil {
		return st, err
	}
	st.Samples += pending
	st.Reencrypted += pendingBlobs
	n, err := s.reencryptPersonal(ctx)
	st.Personal = n
	if err != nil {
		return st, err
	}
	err = s.tx(ctx, WriteTx, func(q Q) error {
		_, err := s.appendAudit(ctx, q, ev(actor, s.now(), "keys.reencrypt", "", "primary", primary,
			"samples", itoa(int64(st.Samples)), "blobs", itoa(int64(st.Reencrypted)), "personal", itoa(int64(st.Personal))))
		return err
	})
	return st, err
}
