-- 0006: the change log the server replicas follow (store.ChangeLog). Every
-- transaction that changes what a replica keeps in memory (a resident's
-- active templates; a kiosk's status) appends a row here, in the same
-- transaction. The embedded store serves one process, which updates its
-- memory itself; the rows keep both backends' semantics the same. Rows are
-- purged after a day (PurgeExpired). Times are Unix microseconds (UTC).

CREATE TABLE changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL CHECK (kind IN ('resident', 'kiosk')),
    subject    TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX changes_created_at ON changes (created_at);
