-- 0006: residents' issue reports (docs/reports.md) and the supervisor's
-- escalations (docs/supervision.md). A report's details (the resident's words,
-- the place) and the unit's reply are sealed like a filing's form and reply;
-- its photo is sealed in report_photos, apart so that lists never load it.
-- escalations records, once, that an open filing or report passed its due
-- time unanswered (one row per item; the audit log has the event).

CREATE TABLE reports (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    reference       TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL,
    unit            TEXT NOT NULL,
    resident_id     BIGINT NOT NULL REFERENCES residents (id),
    kiosk_id        TEXT REFERENCES kiosks (id),
    station_id      TEXT REFERENCES stations (id),
    grid_cell       TEXT NOT NULL,
    details         TEXT NOT NULL,
    photo_type      TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL CHECK (status IN ('submitted', 'accepted', 'replied', 'closed')),
    reply           TEXT NOT NULL DEFAULT '',
    due_at          TIMESTAMPTZ NOT NULL,
    idem_scope      TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    replied_at      TIMESTAMPTZ,
    closed_at       TIMESTAMPTZ,
    UNIQUE (idem_scope, idempotency_key)
);
CREATE INDEX reports_unit_status ON reports (unit, status, id);
CREATE INDEX reports_resident ON reports (resident_id, id);
CREATE INDEX reports_created ON reports (created_at);

CREATE TABLE report_photos (
    report_id BIGINT PRIMARY KEY REFERENCES reports (id),
    photo     BYTEA NOT NULL
);

CREATE TABLE escalations (
    item         TEXT NOT NULL CHECK (item IN ('filing', 'report')),
    item_id      BIGINT NOT NULL,
    unit         TEXT NOT NULL,
    due_at       TIMESTAMPTZ NOT NULL,
    escalated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (item, item_id)
);

CREATE INDEX filings_created ON filings (created_at);
