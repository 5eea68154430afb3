-- 0008: staff PINs for the kiosk's staff login and residents' consent to
-- biometric enrolment (docs/security.md, "Staff at the kiosk" and
-- "Consent to enrolment").
--
-- staff_pins holds a staff member's kiosk PIN as an argon2id PHC string
-- (server/password, like passwords) with the count of consecutive wrong
-- PINs; at the server's limit the PIN is locked until it is set again in the
-- office (locked_at), so a PIN can be guessed at most that many times.
--
-- enrolment_consents records the resident's consent, given on the kiosk's
-- screen after the staff member explained it: which consent text (by
-- version), when, before which staff member and at which kiosk. The server
-- refuses an enrolment without one; the enrolment's audit record names it.

CREATE TABLE staff_pins (
    staff_id   INTEGER PRIMARY KEY REFERENCES staff (id),
    pin_hash   TEXT NOT NULL,
    failures   INTEGER NOT NULL DEFAULT 0,
    locked_at  INTEGER,
    set_at     INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE enrolment_consents (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    resident_id  INTEGER NOT NULL REFERENCES residents (id),
    text_version TEXT NOT NULL,
    consented_at INTEGER NOT NULL,
    staff_id     INTEGER NOT NULL REFERENCES staff (id),
    kiosk_id     TEXT NOT NULL REFERENCES kiosks (id),
    created_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX enrolment_consents_resident ON enrolment_consents (resident_id, id);
