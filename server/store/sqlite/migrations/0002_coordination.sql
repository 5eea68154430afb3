-- 0002: coordination state shared by the server processes (store.Coordination):
-- staff sessions, the replay cache of signed kiosk requests, remembered ID
-- locks (lock escalation), spent filing tokens, pending card-less
-- identifications, per-kiosk verification backoff and rate-limit buckets.
-- Every row has an expiry; PurgeExpired deletes expired rows. Secrets are
-- kept only as SHA-256 hashes. Times are Unix microseconds (UTC).

CREATE TABLE staff_sessions (
    token_hash  BLOB PRIMARY KEY CHECK (length(token_hash) = 32),
    staff_id    INTEGER NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    username    TEXT NOT NULL,
    role        TEXT NOT NULL,
    department  TEXT NOT NULL DEFAULT '',
    station_id  TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    idle_us     INTEGER NOT NULL CHECK (idle_us > 0),
    expires_at  INTEGER NOT NULL,
    -- min(last_seen + idle, expires_at): the session is alive until then
    idle_until  INTEGER NOT NULL
) STRICT;
CREATE INDEX staff_sessions_staff ON staff_sessions (staff_id);
CREATE INDEX staff_sessions_idle_until ON staff_sessions (idle_until);

CREATE TABLE request_nonces (
    kiosk_id    TEXT NOT NULL,
    nonce       TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (kiosk_id, nonce)
) STRICT, WITHOUT ROWID;
CREATE INDEX request_nonces_expires_at ON request_nonces (expires_at);

CREATE TABLE id_locks (
    id          INTEGER PRIMARY KEY,
    id_number   TEXT NOT NULL,
    locked_at   INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX id_locks_id_number ON id_locks (id_number, expires_at);
CREATE INDEX id_locks_expires_at ON id_locks (expires_at);

CREATE TABLE spent_tokens (
    token_hash  BLOB PRIMARY KEY CHECK (length(token_hash) = 32),
    id_number   TEXT NOT NULL,
    kiosk_id    TEXT NOT NULL,
    expires_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX spent_tokens_expires_at ON spent_tokens (expires_at);

CREATE TABLE pending_identifications (
    id_hash     BLOB PRIMARY KEY CHECK (length(id_hash) = 32),
    id_number   TEXT NOT NULL,
    kiosk_id    TEXT NOT NULL,
    staff_id    INTEGER NOT NULL,
    score       REAL NOT NULL,
    expires_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX pending_identifications_expires_at ON pending_identifications (expires_at);

CREATE TABLE kiosk_backoff (
    kiosk_id      TEXT PRIMARY KEY,
    failures      INTEGER NOT NULL CHECK (failures >= 0),
    blocked_until INTEGER,
    expires_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX kiosk_backoff_expires_at ON kiosk_backoff (expires_at);

CREATE TABLE rate_buckets (
    key_hash    BLOB PRIMARY KEY CHECK (length(key_hash) = 32),
    tokens      REAL NOT NULL,
    updated_at  INTEGER NOT NULL,
    -- when the bucket is full again (and the row can go)
    expires_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX rate_buckets_expires_at ON rate_buckets (expires_at);
