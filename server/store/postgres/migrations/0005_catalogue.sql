-- 0005: the service catalogue as data (docs/catalogue.md). Each version an
-- administrator saves is kept whole (the JSON document, not personal data);
-- every filing records the version it was filed under (0: filed before the
-- catalogue was versioned, i.e. under the built-in catalogue).

CREATE TABLE catalogue_versions (
    version    INTEGER PRIMARY KEY,
    document   TEXT NOT NULL,
    actor_type TEXT NOT NULL,
    actor_id   TEXT NOT NULL,
    note       TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL
);

ALTER TABLE filings ADD COLUMN catalogue_version INTEGER NOT NULL DEFAULT 0;
CREATE INDEX filings_closed ON filings (department, closed_at) WHERE closed_at IS NOT NULL;
