-- 0006: residents' issue reports (docs/reports.md) and the supervisor's
-- escalations (docs/supervision.md). A report's details (the resident's words,
-- the place) and the unit's reply are sealed like a filing's form and reply;
-- its photo is sealed in report_photos, apart so that lists never load it.
-- escalations records, once, that an open filing or report passed its due
-- time unanswered (one row per item; the audit log has the event).

CREATE TABLE reports (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    reference       TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL,
    unit            TEXT NOT NULL,
    resident_id     INTEGER NOT NULL REFERENCES residents (id),
    kiosk_id        TEXT REFERENCES kiosks (id),
    station_id      TEXT REFERENCES stations (id),
    grid_cell       TEXT NOT NULL,
    details         TEXT NOT NULL,
    photo_type      TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL CHECK (status IN ('submitted', 'accepted', 'replied', 'closed')),
    reply           TEXT NOT NULL DEFAULT '',
    due_at          INTEGER NOT NULL,
    idem_scope      TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    replied_at      INTEGER,
    closed_at       INTEGER,
    UNIQUE (idem_scope, idempotency_key)
) STRICT;
CREATE INDEX reports_unit_status ON reports (unit, status, id);
CREATE INDEX reports_resident ON reports (resident_id, id);
CREATE INDEX reports_created ON reports (created_at);

CREATE TABLE report_photos (
    report_id INTEGER PRIMARY KEY REFERENCES reports (id),
    photo     BLOB NOT NULL
) STRICT;

CREATE TABLE escalations (
    item         TEXT NOT NULL CHECK (item IN ('filing', 'report')),
    item_id      INTEGER NOT NULL,
    unit         TEXT NOT NULL,
    due_at       INTEGER NOT NULL,
    escalated_at INTEGER NOT NULL,
    PRIMARY KEY (item, item_id)
) STRICT;

CREATE INDEX filings_created ON filings (created_at);
