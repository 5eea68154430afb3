package sqlcore

import (
	"context"
	"errors"
	"fmt"

	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// ---- the service catalogue ----

// SaveCatalogue keeps a new catalogue version and audits it.
func (s *Store) SaveCatalogue(ctx context.Context, actor audit.Actor, v store.CatalogueVersion) error {
	return s.saveVersion(ctx, actor, v, "catalogue_versions", "catalogue")
}

// SaveReportKinds keeps a new version of the kinds of issue reports and
// audits it (report_kinds.save).
func (s *Store) SaveReportKinds(ctx context.Context, actor audit.Actor, v store.CatalogueVersion) error {
	return s.saveVersion(ctx, actor, v, "report_kinds_versions", "report_kinds")
}

// saveVersion keeps a new version of a versioned document in table; what
// names it in the audit event (what.save) and the errors.
func (s *Store) saveVersion(ctx context.Context, actor audit.Actor, v store.CatalogueVersion, table, what string) error {
	if err := checkActor(actor); err != nil {
		return err
	}
	switch {
	case v.Version < 1:
		return invalid("%s version must be positive", what)
	case len(v.Document) == 0 || len(v.Document) > 1<<20:
		return invalid("%s document must have 1 byte..1 MiB", what)
	case len(v.Note) > 500:
		return invalid("%s note longer than 500 bytes", what)
	}
	at := s.at(v.CreatedAt)
	err := s.tx(ctx, WriteTx, func(q Q) error {
		var latest int64
		if err := q.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM `+table).Scan(&latest); err != nil {
			return err
		}
		if int64(v.Version) <= latest {
			return fmt.Errorf("%w: %s version %d is not after the latest saved, %d", store.ErrConflict, what, v.Version, latest)
		}
		if _, err := q.Exec(ctx, `INSERT INTO `+table+` (version, document, actor_type, actor_id, note, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			int64(v.Version), string(v.Document), string(actor.Type), actor.ID, v.Note, s.t(at)); err != nil {
			return err
		}
		_, err := s.appendAudit(ctx, q, ev(actor, at, what+".save", what+":"+itoa(int64(v.Version)),
			"version", itoa(int64(v.Version)), "bytes", itoa(int64(len(v.Document))), "digest", audit.DocumentDigest(v.Document)))
		return err
	})
	if errors.Is(err, store.ErrAlreadyExists) {
		// A concurrent save of the same version.
		return fmt.Errorf("%w: %s version %d saved concurrently", store.ErrConflict, what, v.Version)
	}
	return err
}

func scanCatalogue(row interface{ Scan(...any) error }, withDoc bool) (store.CatalogueVersion, error) {
	var v store.CatalogueVersion
	var n int64
	var doc, typ string
	dest := []any{&n, &typ, &v.Actor.ID, &v.Note, tm{&v.CreatedAt}}
	if withDoc {
		dest = append(dest, &doc)
	}
	if err := row.Scan(dest...); err != nil {
		return v, err
	}
	v.Version, v.Actor.Type = int(n), audit.ActorType(typ)
	if withDoc {
		v.Document = []byte(doc)
	}
	return v, nil
}

const catalogueCols = `version, actor_type, actor_id, note, created_at`

// LatestCatalogue returns the latest saved version.
func (s *Store) LatestCatalogue(ctx context.Context) (store.CatalogueVersion, error) {
	q, err := s.q()
	if err != nil {
		return store.CatalogueVersion{}, err
	}
	v, err := scanCatalogue(q.QueryRow(ctx, `SELECT `+catalogueCols+`, document FROM catalogue_versions ORDER BY version DESC LIMIT 1`), true)
	return v, notFound(err, "catalogue", "")
}

// LatestReportKinds returns the latest saved kinds of issue reports.
func (s *Store) LatestReportKinds(ctx context.Context) (store.CatalogueVersion, error) {
	q, err := s.q()
	if err != nil {
		return store.CatalogueVersion{}, err
	}
	v, err := scanCatalogue(q.QueryRow(ctx, `SELECT `+catalogueCols+`, document FROM report_kinds_versions ORDER BY version DESC LIMIT 1`), true)
	return v, notFound(err, "report kinds", "")
}

// GetCatalogue returns one saved version.
func (s *Store) GetCatalogue(ctx context.Context, version int) (store.CatalogueVersion, error) {
	q, err := s.q()
	if err != nil {
		return store.CatalogueVersion{}, err
	}
	v, err := scanCatalogue(q.QueryRow(ctx, `SELECT `+catalogueCols+`, document FROM catalogue_versions WHERE version = $1`, int64(version)), true)
	return v, notFound(err, "catalogue version", version)
}

// ListCatalogues returns the saved versions without documents, newest first.
func (s *Store) ListCatalogues(ctx context.Context) ([]store.CatalogueVersion, error) {
	q, err := s.q()
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, `SELECT `+catalogueCols+` FROM catalogue_versions ORDER BY version DESC LIMIT 1000`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.CatalogueVersion
	for rows.Next() {
		v, err := scanCatalogue(rows, false)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
