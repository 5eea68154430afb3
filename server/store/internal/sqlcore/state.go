package sqlcore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/audit"
)

// stateTable is one reconciled table: its query and how a row of it
// becomes an audit.StateRow.
type stateTable struct {
	kind  string
	query string
	row   func(rows Rows) (audit.StateRow, error)
}

// documentTable reads the saved versions of a versioned document (the
// service catalogue, the report kinds): what names it as the events'
// targets do.
func documentTable(what, table string) stateTable {
	return stateTable{audit.KindDocument, `SELECT version, document FROM ` + table + ` ORDER BY version`, func(rows Rows) (audit.StateRow, error) {
		var v int64
		var doc string
		err := rows.Scan(&v, &doc)
		return audit.StateRow{Kind: audit.KindDocument, ID: what + "/" + itoa(v), Fields: map[string]string{
			"bytes": itoa(int64(len(doc))), "digest": audit.DocumentDigest([]byte(doc))}}, err
	}}
}

// BusinessState reads the reconciled tables in one read transaction as
// audit.StateRows, with the kinds and fields audit.Reconcile replays the
// chain into (the kinds' list is in server/audit/reconcile.go).
func (s *Store) BusinessState(ctx context.Context, fn func(audit.StateRow) error) error {
	tables := []stateTable{
		{audit.KindFiling, `SELECT id, status, agent_resident_id FROM filings ORDER BY id`, func(rows Rows) (audit.StateRow, error) {
			var id, agent int64
			var status string
			err := rows.Scan(&id, &status, nint{&agent})
			a := ""
			if agent != 0 {
				a = itoa(agent)
			}
			return audit.StateRow{Kind: audit.KindFiling, ID: itoa(id), Fields: map[string]string{"status": status, "agent": a}}, err
		}},
		{audit.KindEnrolment, `SELECT id, resident_id, finger, superseded_at IS NULL FROM enrolments ORDER BY id`, func(rows Rows) (audit.StateRow, error) {
			var id, rid, finger int64
			var active bool
			err := rows.Scan(&id, &rid, &finger, &active)
			return audit.StateRow{Kind: audit.KindEnrolment, ID: itoa(id), Fields: map[string]string{
				"resident": itoa(rid), "finger": itoa(finger), "active": strconv.FormatBool(active)}}, err
		}},
		{audit.KindReplacement, `SELECT id, resident_id, status FROM enrolment_replacements ORDER BY id`, func(rows Rows) (audit.StateRow, error) {
			var id, rid int64
			var status string
			err := rows.Scan(&id, &rid, &status)
			return audit.StateRow{Kind: audit.KindReplacement, ID: itoa(id), Fields: map[string]string{"resident": itoa(rid), "status": status}}, err
		}},
		{audit.KindLockout, `SELECT id_key, failures, locked_until FROM lockouts ORDER BY id_key`, func(rows Rows) (audit.StateRow, error) {
			var key string
			var failures int64
			var until *time.Time
			err := rows.Scan(&key, &failures, ntm{&until})
			lu := ""
			if until != nil {
				lu = until.UTC().Format(time.RFC3339)
			}
			return audit.StateRow{Kind: audit.KindLockout, ID: key, Fields: map[string]string{"failures": itoa(failures), "locked_until": lu}}, err
		}},
		{audit.KindStaff, `SELECT id, role, station_id, department, disabled, grid_cell, password_hash FROM staff ORDER BY id`, func(rows Rows) (audit.StateRow, error) {
			var id int64
			var role, station, dept, cell, hash string
			var disabled bool
			err := rows.Scan(&id, &role, nstr{&station}, &dept, &disabled, &cell, &hash)
			return audit.StateRow{Kind: audit.KindStaff, ID: itoa(id), Fields: map[string]string{
				"role": role, "station": station, "department": dept, "disabled": fmt.Sprint(disabled),
				"grid_cell": cell, "password": audit.PasswordDigest(hash)}}, err
		}},
		{audit.KindKiosk, `SELECT id, station_id, status FROM kiosks ORDER BY id`, func(rows Rows) (audit.StateRow, error) {
			var id, station, status string
			err := rows.Scan(&id, &station, &status)
			return audit.StateRow{Kind: audit.KindKiosk, ID: id, Fields: map[string]string{"station": station, "status": status}}, err
		}},
		{audit.KindScanner, `SELECT serial, kiosk_id, status FROM scanners ORDER BY serial`, func(rows Rows) (audit.StateRow, error) {
			var serial, kiosk, status string
			err := rows.Scan(&serial, nstr{&kiosk}, &status)
			return audit.StateRow{Kind: audit.KindScanner, ID: serial, Fields: map[string]string{"kiosk": kiosk, "status": status}}, err
		}},
		{audit.KindDedup, `SELECT id, resident_id, matched_resident_id, finger, status FROM dedup_cases ORDER BY id`, func(rows Rows) (audit.StateRow, error) {
			var id, rid, mid, finger int64
			var status string
			err := rows.Scan(&id, &rid, &mid, &finger, &status)
			return audit.StateRow{Kind: audit.KindDedup, ID: itoa(id), Fields: map[string]string{
				"resident": itoa(rid), "matched": itoa(mid), "finger": itoa(finger), "status": status}}, err
		}},
		{audit.KindMeeting, `SELECT id, station_id, quarter, held_on FROM dibao_meetings ORDER BY id`, func(rows Rows) (audit.StateRow, error) {
			var id int64
			var station, quarter, held string
			err := rows.Scan(&id, &station, &quarter, &held)
			return audit.StateRow{Kind: audit.KindMeeting, ID: itoa(id), Fields: map[string]string{"station": station, "quarter": quarter, "held_on": held}}, err
		}},
		{audit.KindMeetingFiling, `SELECT filing_id, meeting_id FROM dibao_meeting_filings ORDER BY filing_id`, func(rows Rows) (audit.StateRow, error) {
			var fid, mid int64
			err := rows.Scan(&fid, &mid)
			return audit.StateRow{Kind: audit.KindMeetingFiling, ID: itoa(fid), Fields: map[string]string{"meeting": itoa(mid)}}, err
		}},
		{audit.KindCertification, `SELECT resident_id, year, kiosk_id, station_id FROM certifications ORDER BY resident_id, year`, func(rows Rows) (audit.StateRow, error) {
			var rid, year int64
			var kiosk, station string
			err := rows.Scan(&rid, &year, &kiosk, &station)
			return audit.StateRow{Kind: audit.KindCertification, ID: itoa(rid) + "/" + itoa(year), Fields: map[string]string{"kiosk": kiosk, "station": station}}, err
		}},
		{audit.KindStaffPIN, `SELECT staff_id, pin_hash, failures, locked_at IS NOT NULL FROM staff_pins ORDER BY staff_id`, func(rows Rows) (audit.StateRow, error) {
			var id, failures int64
			var hash string
			var locked bool
			err := rows.Scan(&id, &hash, &failures, &locked)
			return audit.StateRow{Kind: audit.KindStaffPIN, ID: itoa(id), Fields: map[string]string{
				"failures": itoa(failures), "locked": strconv.FormatBool(locked), "pin": audit.PINDigest(hash)}}, err
		}},
		{audit.KindConsent, `SELECT id, resident_id, text_version, staff_id, kiosk_id FROM enrolment_consents ORDER BY id`, func(rows Rows) (audit.StateRow, error) {
			var id, rid, staff int64
			var version, kiosk string
			err := rows.Scan(&id, &rid, &version, &staff, &kiosk)
			return audit.StateRow{Kind: audit.KindConsent, ID: itoa(id), Fields: map[string]string{
				"resident": itoa(rid), "text_version": version, "staff": itoa(staff), "kiosk": kiosk}}, err
		}},
		{audit.KindReport, `SELECT id, resident_id, kind, unit, status, reply <> '' FROM reports ORDER BY id`, func(rows Rows) (audit.StateRow, error) {
			var id, rid int64
			var kind, unit, status string
			var replied bool
			err := rows.Scan(&id, &rid, &kind, &unit, &status, &replied)
			return audit.StateRow{Kind: audit.KindReport, ID: itoa(id), Fields: map[string]string{
				"resident": itoa(rid), "kind": kind, "unit": unit, "status": status, "replied": strconv.FormatBool(replied)}}, err
		}},
		{audit.KindRating, `SELECT item, item_id, resident_id, unit, score, reasons FROM ratings ORDER BY item, item_id`, func(rows Rows) (audit.StateRow, error) {
			var item, unit, reasons string
			var id, rid, score int64
			err := rows.Scan(&item, &id, &rid, &unit, &score, &reasons)
			return audit.StateRow{Kind: audit.KindRating, ID: item + "/" + itoa(id), Fields: map[string]string{
				"resident": itoa(rid), "unit": unit, "score": itoa(score), "reasons": reasons}}, err
		}},
		{audit.KindEscalation, `SELECT item, item_id, unit FROM escalations ORDER BY item, item_id`, func(rows Rows) (audit.StateRow, error) {
			var item, unit string
			var id int64
			err := rows.Scan(&item, &id, &unit)
			return audit.StateRow{Kind: audit.KindEscalation, ID: item + "/" + itoa(id), Fields: map[string]string{"unit": unit}}, err
		}},
		{audit.KindVisit, `SELECT id, resident_id, grid_cell, staff_id, visited_at FROM visits ORDER BY id`, func(rows Rows) (audit.StateRow, error) {
			var id, rid, staff int64
			var cell string
			var at time.Time
			err := rows.Scan(&id, &rid, &cell, &staff, tm{&at})
			return audit.StateRow{Kind: audit.KindVisit, ID: itoa(id), Fields: map[string]string{
				"resident": itoa(rid), "grid_cell": cell, "staff": itoa(staff), "visited_at": at.UTC().Format(time.RFC3339)}}, err
		}},
		documentTable("catalogue", "catalogue_versions"),
		documentTable("report_kinds", "report_kinds_versions"),
	}
	return s.tx(ctx, ReadTx, func(q Q) error {
		for _, t := range tables {
			rows, err := q.Query(ctx, t.query)
			if err != nil {
				return fmt.Errorf("%s: %w", t.kind, err)
			}
			for rows.Next() {
				r, err := t.row(rows)
				if err == nil {
					err = fn(r)
				}
				if err != nil {
					rows.Close()
					return fmt.Errorf("%s: %w", t.kind, err)
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		return nil
	})
}
