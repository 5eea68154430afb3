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
ALTER TABLE staff_sessions ADD COLUMN kiosk_id TEXT NOT NULL DEFAULT '';
ALTER TABLE staff_sessions ADD CONSTRAINT staff_sessions_kiosk_pin
    CHECK ((method = 'kiosk_pin') = (kiosk_id <> ''));
