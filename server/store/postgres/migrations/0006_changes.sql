-- 0006: the change log the server replicas follow (store.ChangeLog). Every
-- transaction that changes what a replica keeps in memory (a resident's
-- active templates; a kiosk's status) appends a row here, in the same
-- transaction. Replicas read the rows after the last sequence number they
-- applied; the trigger pokes them with NOTIFY at commit (the payload is the
-- schema, so replicas of other schemas of the database ignore it). Rows are
-- purged after a day (PurgeExpired).

CREATE TABLE changes (
    seq        BIGSERIAL PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('resident', 'kiosk')),
    subject    TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX changes_created_at ON changes (created_at);

CREATE FUNCTION changes_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('veinkiosk_changes', current_schema());
    RETURN NULL;
END;
$$;

CREATE TRIGGER changes_notify AFTER INSERT ON changes
    FOR EACH STATEMENT EXECUTE FUNCTION changes_notify();
