-- 0011: 低保 transparency and residents' ratings (docs/transparency.md).
-- dibao_meetings is the record of a quarterly deliberation meeting of one
-- station (its members present and minutes sealed together in record);
-- dibao_meeting_filings attaches the filings a meeting decided, each to one
-- meeting. ratings holds one resident's rating (好差评) of one answered
-- filing or report; unit is copied so the efficiency review reads it alone.

CREATE TABLE dibao_meetings (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    station_id  TEXT NOT NULL REFERENCES stations (id),
    quarter     TEXT NOT NULL,
    held_on     TEXT NOT NULL,
    record      TEXT NOT NULL,
    actor_type  TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX dibao_meetings_station_quarter ON dibao_meetings (station_id, quarter, id);

CREATE TABLE dibao_meeting_filings (
    filing_id   BIGINT PRIMARY KEY REFERENCES filings (id),
    meeting_id  BIGINT NOT NULL REFERENCES dibao_meetings (id),
    attached_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX dibao_meeting_filings_meeting ON dibao_meeting_filings (meeting_id, filing_id);

CREATE TABLE ratings (
    item        TEXT NOT NULL CHECK (item IN ('filing', 'report')),
    item_id     BIGINT NOT NULL,
    unit        TEXT NOT NULL,
    resident_id BIGINT NOT NULL REFERENCES residents (id),
    score       INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    reasons     TEXT NOT NULL DEFAULT '',
    kiosk_id    TEXT REFERENCES kiosks (id),
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (item, item_id)
);
CREATE INDEX ratings_created ON ratings (created_at);

-- The kinds of residents' issue reports as an administrator saved them
-- (docs/reports.md), as catalogue_versions keeps the service catalogue.
CREATE TABLE report_kinds_versions (
    version    INTEGER PRIMARY KEY,
    document   TEXT NOT NULL,
    actor_type TEXT NOT NULL,
    actor_id   TEXT NOT NULL,
    note       TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL
);
