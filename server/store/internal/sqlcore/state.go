package sqlcore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/audit"
)

// BusinessState reads the reconciled tables (filings, enrolments,
// enrolment replacements, lockouts, staff, kiosks, scanners) in one read transaction as
// audit.StateRows, with the kinds and fields audit.Reconcile replays the
// chain into.
func (s *Store) BusinessState(ctx context.Context, fn func(audit.StateRow) error) error {
	type table struct {
		kind  string
		query string
		row   func(rows Rows) (audit.StateRow, error)
	}
	tables := []table{
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
		{audit.KindStaff, `SELECT id, role, station_id, department, disabled FROM staff ORDER BY id`, func(rows Rows) (audit.StateRow, error) {
			var id int64
			var role, station, dept string
			var disabled bool
			err := rows.Scan(&id, &role, nstr{&station}, &dept, &disabled)
			return audit.StateRow{Kind: audit.KindStaff, ID: itoa(id), Fields: map[string]string{
				"role": role, "station": station, "department": dept, "disabled": fmt.Sprint(disabled)}}, err
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
