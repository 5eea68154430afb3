-- 0014: how and where a staff session was opened (docs/security.md,
-- threat 1). method is 'password' (the office, the API) or 'kiosk_pin'
-- (username and PIN in a request signed by a kiosk); kiosk_id names the
-- kiosk of a PIN session, which is valid only in that kiosk's signed
-- requests to the kiosk staff endpoints. Sessions stored before this
-- migration were opened with a password or a PIN alike and are taken as
-- office sessions: a PIN session of before lasts at most the 8 h session
-- time and is then refused at the kiosk (kiosk_session_required) until
-- the staff member logs in there again.

ALTER TABLE staff_sessions ADD COLUMN method TEXT NOT NULL DEFAULT 'password'
    CHECK (method IN ('password', 'kiosk_pin'));
-- SQLite has no ADD CONSTRAINT: the column's check names both columns.
ALTER TABLE staff_sessions ADD COLUMN kiosk_id TEXT NOT NULL DEFAULT ''
    CHECK ((method = 'kiosk_pin') = (kiosk_id <> ''));

-- The enrolment-check budget (docs/security.md, threat 1): a kiosk's
-- enrolment checks (POST /api/v1/kiosk/enrolment-check) that no
-- verification or enrolment of the same resident at the kiosk answered
-- yet, kept for the budget's window so every replica counts the same.
-- resident_id is 0 for an ID number nobody has. No personal data beyond
-- the resident's id (the audit chain has the same).
CREATE TABLE enrolment_checks (
    id          INTEGER PRIMARY KEY,
    kiosk_id    TEXT NOT NULL,
    resident_id INTEGER NOT NULL,
    checked_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX enrolment_checks_kiosk ON enrolment_checks (kiosk_id, checked_at);
CREATE INDEX enrolment_checks_expires_at ON enrolment_checks (expires_at);
