-- 0004: personal data sealed at rest (docs/storage.md, "Personal data at rest").
-- Columns that held a plaintext ID number now hold its blind index, id_key:
-- base64url(HMAC-SHA-256(index key, canonical ID number)), 43 characters (an ID
-- number has at most 32, so a row not yet converted is told apart by length).
-- Residents' ID number, name, address, birth date and household number move
-- into one sealed blob, pii; the old columns stay, always empty. spent_tokens
-- and pending_identifications keep the ID number sealed ("s1:" + base64) in
-- id_sealed; filings.form, filings.reply and enrolment_replacements.reason
-- (0003; it may name people) are sealed the same way.
-- SQL cannot encrypt: the migration marks the database (store_state
-- 'legacy_pii') and the store seals what an older database holds in plaintext
-- at the next open, in one transaction, then removes the mark.

ALTER TABLE residents RENAME COLUMN id_number TO id_key;
ALTER TABLE residents ADD COLUMN pii BLOB;
ALTER TABLE verification_attempts RENAME COLUMN id_number TO id_key;
ALTER TABLE lockouts RENAME COLUMN id_number TO id_key;
ALTER TABLE id_locks RENAME COLUMN id_number TO id_key;
ALTER TABLE spent_tokens RENAME COLUMN id_number TO id_sealed;
ALTER TABLE pending_identifications RENAME COLUMN id_number TO id_sealed;

-- Keys the store keeps sealed under the key ring (the blind-index key).
CREATE TABLE store_keys (
    name    TEXT PRIMARY KEY,
    sealed  BLOB NOT NULL
) STRICT;

-- Work the store still has to do at open.
CREATE TABLE store_state (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
) STRICT;
INSERT INTO store_state (name, value) VALUES ('legacy_pii', 'seal at next open');
