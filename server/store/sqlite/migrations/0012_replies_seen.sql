-- 0012: the kiosk's notice of new replies (docs/kiosk.md "New replies").
-- replies_seen holds, per resident, when the kiosk last showed them their
-- filings and reports ("my filings"): a reply decided or given after it is
-- new. Only a time per resident id, no content: not sealed.

CREATE TABLE replies_seen (
    resident_id INTEGER PRIMARY KEY REFERENCES residents (id),
    seen_at     INTEGER NOT NULL
) STRICT;
