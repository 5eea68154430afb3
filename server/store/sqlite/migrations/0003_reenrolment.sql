-- 0003: re-enrolment under four eyes. Replacing a resident's enrolment is a
-- request (enrolment_replacements) whose new samples wait, sealed, in
-- replacement_samples until a supervisor of the station approves it; the
-- enrolment in force stays untouched until then. Approval creates the new
-- enrolments (enrolments.replacement_id) and supersedes the old ones;
-- rejection deletes the pending samples. Times are Unix microseconds (UTC).

CREATE TABLE enrolment_replacements (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    resident_id    INTEGER NOT NULL REFERENCES residents (id),
    status         TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    requested_by   INTEGER NOT NULL REFERENCES staff (id),
    kiosk_id       TEXT NOT NULL REFERENCES kiosks (id),
    station_id     TEXT NOT NULL REFERENCES stations (id),
    scanner_serial TEXT NOT NULL DEFAULT '',
    previous_score REAL NOT NULL,
    previous_match INTEGER NOT NULL CHECK (previous_match IN (0, 1)),
    fingers        TEXT NOT NULL,  -- comma-separated finger positions
    created_at     INTEGER NOT NULL,
    decided_by     INTEGER REFERENCES staff (id),
    decided_at     INTEGER,
    basis          TEXT NOT NULL DEFAULT '' CHECK (basis IN ('', 'match', 'in_person')),
    reason         TEXT NOT NULL DEFAULT '',
    CHECK ((status = 'pending') = (decided_by IS NULL)),
    CHECK (status <> 'approved' OR basis <> '')
) STRICT;
-- At most one pending replacement per resident.
CREATE UNIQUE INDEX enrolment_replacements_pending ON enrolment_replacements (resident_id) WHERE status = 'pending';
CREATE INDEX enrolment_replacements_station ON enrolment_replacements (station_id, status, id);
CREATE INDEX enrolment_replacements_resident ON enrolment_replacements (resident_id, id);

CREATE TABLE replacement_samples (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    replacement_id    INTEGER NOT NULL REFERENCES enrolment_replacements (id) ON DELETE CASCADE,
    finger            INTEGER NOT NULL CHECK (finger BETWEEN 1 AND 10),
    idx               INTEGER NOT NULL,
    algorithm_version TEXT NOT NULL,
    quality           INTEGER NOT NULL CHECK (quality BETWEEN 0 AND 100),
    key_id            TEXT NOT NULL,   -- key ring id the blobs are sealed under
    template          BLOB NOT NULL,   -- sealed
    image             BLOB,            -- sealed, optional
    UNIQUE (replacement_id, finger, idx)
) STRICT;

ALTER TABLE enrolments ADD COLUMN replacement_id INTEGER REFERENCES enrolment_replacements (id);
