-- 0001: the initial schema of the central server (SQLite).
-- Times are INTEGER Unix microseconds (UTC), dates TEXT YYYY-MM-DD; biometric blobs are sealed by
-- server/keyring before they reach these tables.

CREATE TABLE residents (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    id_number   TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    gender      TEXT NOT NULL CHECK (gender IN ('M', 'F', '')),
    birth_date  TEXT,
    address     TEXT NOT NULL DEFAULT '',
    grid_cell   TEXT NOT NULL DEFAULT '',
    household   TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX residents_grid_cell ON residents (grid_cell, id);

CREATE TABLE resident_categories (
    resident_id INTEGER NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    category    TEXT NOT NULL,
    PRIMARY KEY (resident_id, category)
) STRICT;
CREATE INDEX resident_categories_category ON resident_categories (category, resident_id);

CREATE TABLE stations (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    address     TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE staff (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL DEFAULT '',
    role          TEXT NOT NULL CHECK (role IN ('station_staff', 'supervisor', 'department_officer', 'admin')),
    department    TEXT NOT NULL DEFAULT '',
    station_id    TEXT REFERENCES stations (id),
    password_hash TEXT NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE kiosks (
    id          TEXT PRIMARY KEY,
    station_id  TEXT NOT NULL REFERENCES stations (id),
    name        TEXT NOT NULL DEFAULT '',
    public_key  BLOB NOT NULL CHECK (length(public_key) = 32),
    status      TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE scanners (
    serial      TEXT PRIMARY KEY,
    model       TEXT NOT NULL DEFAULT '',
    maker_id    TEXT NOT NULL DEFAULT '',
    public_key  BLOB NOT NULL CHECK (length(public_key) = 32),
    certificate BLOB NOT NULL,
    kiosk_id    TEXT REFERENCES kiosks (id),
    status      TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    counter     INTEGER NOT NULL DEFAULT 0 CHECK (counter >= 0),
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE enrolments (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    resident_id    INTEGER NOT NULL REFERENCES residents (id),
    finger         INTEGER NOT NULL CHECK (finger BETWEEN 1 AND 10),
    enrolled_by    INTEGER REFERENCES staff (id),
    kiosk_id       TEXT REFERENCES kiosks (id),
    scanner_serial TEXT NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    superseded_at  INTEGER
) STRICT;
-- At most one active enrolment per finger: re-enrolment supersedes.
CREATE UNIQUE INDEX enrolments_active ON enrolments (resident_id, finger) WHERE superseded_at IS NULL;

CREATE TABLE samples (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    enrolment_id      INTEGER NOT NULL REFERENCES enrolments (id) ON DELETE CASCADE,
    idx               INTEGER NOT NULL,
    algorithm_version TEXT NOT NULL,
    quality           INTEGER NOT NULL CHECK (quality BETWEEN 0 AND 100),
    key_id            TEXT NOT NULL,   -- key ring id the blobs are sealed under
    template          BLOB NOT NULL,  -- sealed
    image             BLOB,           -- sealed, optional
    UNIQUE (enrolment_id, idx)
) STRICT;
CREATE INDEX samples_key_id ON samples (key_id, id);

CREATE TABLE dedup_cases (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    resident_id         INTEGER NOT NULL REFERENCES residents (id),
    matched_resident_id INTEGER NOT NULL REFERENCES residents (id),
    finger              INTEGER NOT NULL,
    score               REAL NOT NULL,
    kiosk_id            TEXT REFERENCES kiosks (id),
    staff_id            INTEGER REFERENCES staff (id),
    status              TEXT NOT NULL CHECK (status IN ('open', 'overridden', 'rejected')),
    decided_by          INTEGER REFERENCES staff (id),
    reason              TEXT NOT NULL DEFAULT '',
    created_at          INTEGER NOT NULL,
    decided_at          INTEGER
) STRICT;
CREATE INDEX dedup_cases_status ON dedup_cases (status, id);

CREATE TABLE verification_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    id_number   TEXT NOT NULL,
    resident_id INTEGER REFERENCES residents (id),
    kiosk_id    TEXT NOT NULL,
    result      TEXT NOT NULL CHECK (result IN ('match', 'no_match', 'error', 'locked_out')),
    score       REAL NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    at          INTEGER NOT NULL
) STRICT;
CREATE INDEX verification_attempts_id_number ON verification_attempts (id_number, id);

CREATE TABLE lockouts (
    id_number    TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    locked_until INTEGER,
    updated_at   INTEGER NOT NULL
) STRICT;

CREATE TABLE nonces (
    value       TEXT PRIMARY KEY,
    kiosk_id    TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    consumed_at INTEGER
) STRICT;
CREATE INDEX nonces_expires_at ON nonces (expires_at);

CREATE TABLE filing_tokens (
    token_hash  BLOB PRIMARY KEY,  -- SHA-256 of the token; the token itself is never stored
    resident_id INTEGER NOT NULL REFERENCES residents (id),
    kiosk_id    TEXT NOT NULL REFERENCES kiosks (id),
    expires_at  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    used_at     INTEGER
) STRICT;
CREATE INDEX filing_tokens_expires_at ON filing_tokens (expires_at);

CREATE TABLE filing_counters (
    prefix TEXT NOT NULL,
    year   INTEGER NOT NULL,
    last   INTEGER NOT NULL,
    PRIMARY KEY (prefix, year)
) STRICT;

CREATE TABLE filings (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    reference       TEXT NOT NULL UNIQUE,
    service_code    TEXT NOT NULL,
    resident_id     INTEGER NOT NULL REFERENCES residents (id),
    kiosk_id        TEXT REFERENCES kiosks (id),
    station_id      TEXT REFERENCES stations (id),
    department      TEXT NOT NULL,
    form            TEXT NOT NULL,  -- JSON object, kept byte for byte
    status          TEXT NOT NULL CHECK (status IN ('submitted', 'in_review', 'need_info', 'accepted', 'rejected')),
    reply           TEXT NOT NULL DEFAULT '',
    due_at          INTEGER NOT NULL,
    idem_scope      TEXT NOT NULL,  -- "kiosk:<id>" or the staff actor
    idempotency_key TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    closed_at       INTEGER,
    UNIQUE (idem_scope, idempotency_key)
) STRICT;
CREATE INDEX filings_department_status ON filings (department, status, id);
CREATE INDEX filings_resident ON filings (resident_id, id);
CREATE INDEX filings_open_due ON filings (department, due_at) WHERE closed_at IS NULL;

CREATE TABLE filing_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    filing_id   INTEGER NOT NULL REFERENCES filings (id),
    from_status TEXT,
    to_status   TEXT NOT NULL,
    actor_type  TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    note        TEXT NOT NULL DEFAULT '',
    at          INTEGER NOT NULL
) STRICT;
CREATE INDEX filing_events_filing ON filing_events (filing_id, id);

CREATE TABLE audit_events (
    seq        INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    actor_type TEXT NOT NULL,
    actor_id   TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    details    TEXT NOT NULL,   -- JSON object of strings
    prev_hash  BLOB NOT NULL,
    hash       BLOB NOT NULL
) STRICT;

-- The head of the chain, updated in the same transaction as every append;
-- its row lock serialises appends.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash BLOB NOT NULL
) STRICT;
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, zeroblob(32));
