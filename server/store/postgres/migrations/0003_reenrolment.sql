-- 0003: re-enrolment under four eyes. Replacing a resident's enrolment is a
-- request (enrolment_replacements) whose new samples wait, sealed, in
-- replacement_samples until a supervisor of the station approves it; the
-- enrolment in force stays untouched until then. Approval creates the new
-- enrolments (enrolments.replacement_id) and supersedes the old ones;
-- rejection deletes the pending samples. Times are TIMESTAMPTZ.

CREATE TABLE enrolment_replacements (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resident_id    BIGINT NOT NULL REFERENCES residents (id),
    status         TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    requested_by   BIGINT NOT NULL REFERENCES staff (id),
    kiosk_id       TEXT NOT NULL REFERENCES kiosks (id),
    station_id     TEXT NOT NULL REFERENCES stations (id),
    scanner_serial TEXT NOT NULL DEFAULT '',
    previous_score DOUBLE PRECISION NOT NULL,
    previous_match BOOLEAN NOT NULL,
    fingers        TEXT NOT NULL,  -- comma-separated finger positions
    created_at     TIMESTAMPTZ NOT NULL,
    decided_by     BIGINT REFERENCES staff (id),
    decided_at     TIMESTAMPTZ,
    basis          TEXT NOT NULL DEFAULT '' CHECK (basis IN ('', 'match', 'in_person')),
    reason         TEXT NOT NULL DEFAULT '',
    CHECK ((status = 'pending') = (decided_by IS NULL)),
    CHECK (status <> 'approved' OR basis <> '')
);
-- At most one pending replacement per resident.
CREATE UNIQUE INDEX enrolment_replacements_pending ON enrolment_replacements (resident_id) WHERE status = 'pending';
CREATE INDEX enrolment_replacements_station ON enrolment_replacements (station_id, status, id);
CREATE INDEX enrolment_replacements_resident ON enrolment_replacements (resident_id, id);

CREATE TABLE replacement_samples (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    replacement_id    BIGINT NOT NULL REFERENCES enrolment_replacements (id) ON DELETE CASCADE,
    finger            SMALLINT NOT NULL CHECK (finger BETWEEN 1 AND 10),
    idx               INTEGER NOT NULL,
    algorithm_version TEXT NOT NULL,
    quality           INTEGER NOT NULL CHECK (quality BETWEEN 0 AND 100),
    key_id            TEXT NOT NULL,   -- key ring id the blobs are sealed under
    template          BYTEA NOT NULL,   -- sealed
    image             BYTEA,            -- sealed, optional
    UNIQUE (replacement_id, finger, idx)
);

ALTER TABLE enrolments ADD COLUMN replacement_id BIGINT REFERENCES enrolment_replacements (id);
